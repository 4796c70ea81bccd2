"""Signal receivers, connected in FeedbackConfig.ready(): they only call services."""

from .services import (
    feedback_customer_merged,
    feedback_request_schedule,
    feedback_requests_schedule_for_purchases,
)


def purchase_saved(sender, instance, created, raw=False, **kwargs) -> None:
    # Only a purchase created one by one (admin, till, API) asks for feedback; bulk imports
    # send no post_save, deliberately: old imported sales must not trigger requests.
    if created and not raw:
        feedback_request_schedule(purchase=instance)


def customer_merged(sender, source, target, **kwargs) -> None:
    feedback_customer_merged(source=source, target=target)


def purchases_recorded(sender, business, purchase_ids, sales=None, **kwargs) -> None:
    # Sales pushed in bulk by a till through the API (sent after commit).
    feedback_requests_schedule_for_purchases(
        business=business, purchase_ids=purchase_ids, sales=sales
    )
