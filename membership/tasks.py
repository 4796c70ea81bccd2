"""Thin Celery tasks calling services. Safe to run twice: reconciliation only reads and
records, and points expiry is keyed per account and day."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Business

from . import services
from .models import Programme


@shared_task(
    name="membership.tasks.ledger_reconcile_nightly",
    acks_late=True,
    time_limit=30 * 60,
    soft_time_limit=25 * 60,
)
def ledger_reconcile_nightly() -> int:
    """Recompute every balance from the ledger; differences go to the owner and the log.
    Returns the number of differences found."""
    runs = services.ledger_reconcile()
    return sum(run.difference_count for run in runs)


@shared_task(
    name="membership.tasks.points_expire_nightly",
    acks_late=True,
    time_limit=30 * 60,
    soft_time_limit=25 * 60,
)
def points_expire_nightly() -> int:
    """Expire points past their date, business by business; returns accounts touched."""
    ids = Programme.objects.filter(points_expiry_months__gt=0).values_list("business_id", flat=True)
    total = 0
    for business in Business.objects.filter(pk__in=list(ids), is_active=True):
        total += services.points_expire(business=business)
    return total
