from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from customers.signals import demo_seeded

        from .campaigns import campaign_section
        from .member_cards import member_card_section
        from .receivers import demo_report
        from .sections import register_report_section

        # The demo businesses get last week's report (customers never imports reports).
        demo_seeded.connect(demo_report, dispatch_uid="reports.demo_report")
        # Member-card figures: reports may import membership, which sits below it.
        register_report_section(member_card_section)
        # Campaigns and what they earned: reports may import campaigns, which sits below it.
        register_report_section(campaign_section)
