"""Signal receivers, connected in FeedbackConfig.ready(): they only call services."""

from .services import feedback_customer_merged, feedback_request_schedule


def purchase_saved(sender, instance, created, raw=False, **kwargs) -> None:
    # Only a purchase created one by one (admin, till, API) asks for feedback; bulk imports
    # send no post_save, deliberately: old imported sales must not trigger requests.
    if created and not raw:
        feedback_request_schedule(purchase=instance)


def customer_merged(sender, source, target, **kwargs) -> None:
    feedback_customer_merged(source=source, target=target)
