from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentationConfig(AppConfig):
    name = "segmentation"
    verbose_name = _("Customer value")

    def ready(self) -> None:
        from customers.signals import demo_seeded

        from . import receivers

        demo_seeded.connect(receivers.demo_seeded, dispatch_uid="segmentation.demo_seeded")
