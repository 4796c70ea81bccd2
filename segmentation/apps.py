from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentationConfig(AppConfig):
    name = "segmentation"
    verbose_name = _("Customer value")

    def ready(self):
        from customers.admin import register_customer_admin_extension

        from .admin import CUSTOMER_EXTENSION

        register_customer_admin_extension(CUSTOMER_EXTENSION)
