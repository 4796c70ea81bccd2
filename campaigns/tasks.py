"""Thin Celery tasks: ids in, service call. Safe to run twice (the services are idempotent)."""

from __future__ import annotations

from functools import partial

from celery import shared_task
from django.db import transaction

from accounts.models import Business

from . import services
from .models import Campaign


@shared_task(
    name="campaigns.tasks.campaigns_dispatch",
    acks_late=True,
    time_limit=5 * 60,
    soft_time_limit=4 * 60,
)
def campaigns_dispatch() -> dict[str, int]:
    """Every 5 minutes (beat): one planning task per business with a running campaign, and one
    send task per due e-mail / SMS message. A killed worker loses nothing: planning is
    re-run next time, and claimed messages are claimed again after a while."""
    business_ids = list(
        Campaign.objects.filter(status=Campaign.Status.RUNNING, business__is_active=True)
        .values_list("business_id", flat=True)
        .distinct()
        .order_by("business_id")
    )
    with transaction.atomic():
        for business_id in business_ids:
            transaction.on_commit(partial(campaigns_plan_business.delay, business_id))
        ids = services.members_claim_due()
        for member_id in ids:
            transaction.on_commit(partial(campaign_member_send.delay, member_id))
    return {"businesses": len(business_ids), "messages": len(ids)}


@shared_task(
    name="campaigns.tasks.campaigns_plan_business",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=10 * 60,
    soft_time_limit=9 * 60,
)
def campaigns_plan_business(business_id: int) -> int:
    business = Business.objects.filter(pk=business_id, is_active=True).first()
    if business is None:
        return 0
    return services.campaigns_plan_business(business=business)


@shared_task(
    name="campaigns.tasks.campaign_member_send",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=2 * 60,
    soft_time_limit=100,
)
def campaign_member_send(member_id: int) -> bool:
    """Send one message; True if this run sent it (a duplicate or retried run sends nothing)."""
    _member, sent = services.member_send(member_id=member_id)
    return sent
