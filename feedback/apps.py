from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = _("Feedback")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from customers.models import Purchase
        from customers.selectors import register_timeline_source
        from customers.signals import customer_merged, purchases_recorded

        from . import receivers
        from .selectors import customer_feedback_events

        post_save.connect(
            receivers.purchase_saved, sender=Purchase, dispatch_uid="feedback.purchase_saved"
        )
        customer_merged.connect(receivers.customer_merged, dispatch_uid="feedback.customer_merged")
        purchases_recorded.connect(
            receivers.purchases_recorded, dispatch_uid="feedback.purchases_recorded"
        )
        register_timeline_source(customer_feedback_events)
