from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from customers.signals import demo_seeded

        from .receivers import demo_report

        # The demo businesses get last week's report (customers never imports reports).
        demo_seeded.connect(demo_report, dispatch_uid="reports.demo_report")
