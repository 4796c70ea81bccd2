from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentationConfig(AppConfig):
    name = "segmentation"
    verbose_name = _("Customer value")

    def ready(self) -> None:
        from customers.admin import register_customer_admin_extension
        from customers.signals import demo_seeded

        from . import receivers
        from .admin import CUSTOMER_EXTENSION

        demo_seeded.connect(receivers.demo_seeded, dispatch_uid="segmentation.demo_seeded")
        register_customer_admin_extension(CUSTOMER_EXTENSION)
