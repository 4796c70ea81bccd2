"""Thin Celery tasks: ids in, service call. Safe to run twice (the service is idempotent)."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.db import transaction

from accounts.models import Business

from .models import ScoringRun
from .services import scoring_run_execute, scoring_run_queue


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=30 * 60,
    soft_time_limit=28 * 60,
)
def score_business(
    business_id: int,
    as_of: str | None = None,
    trigger: str = "nightly",
    queued_run_id: int | None = None,
) -> int:
    business = Business.objects.get(pk=business_id, is_active=True)
    run = scoring_run_execute(
        business=business,
        as_of=date.fromisoformat(as_of) if as_of else None,
        trigger=trigger,
        queued_run_id=queued_run_id,
    )
    return run.pk


def score_business_after_commit(business: Business, trigger: str) -> tuple[ScoringRun, bool]:
    """Queue a rescore of `business` once the current transaction commits: (the queued run,
    whether this call queued it). A run already waiting is returned, not queued twice."""
    run, created = scoring_run_queue(business=business, trigger=trigger)
    if created:
        transaction.on_commit(lambda: score_business.delay(business.pk, None, trigger, run.pk))
    return run, created


@shared_task(acks_late=True, time_limit=5 * 60)
def score_all_businesses(as_of: str | None = None) -> int:
    """Nightly fan-out: one task per active business, so businesses score in parallel."""
    ids = list(Business.objects.filter(is_active=True).values_list("pk", flat=True))
    for business_id in ids:
        score_business.delay(business_id, as_of, ScoringRun.Trigger.NIGHTLY)
    return len(ids)
