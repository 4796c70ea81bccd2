"""Thin Celery tasks: ids in, service call. Safe to run twice (the services are idempotent)."""

from __future__ import annotations

from datetime import date
from functools import partial

from celery import shared_task
from django.db import transaction

from accounts.models import Business

from . import services


@shared_task(
    name="reports.tasks.weekly_reports_dispatch",
    acks_late=True,
    time_limit=5 * 60,
    soft_time_limit=4 * 60,
)
def weekly_reports_dispatch() -> int:
    """Every 15 minutes (beat): one build task per business whose report is due."""
    due = services.weekly_reports_claim_due()
    for business_id, week in due:
        transaction.on_commit(partial(weekly_report_build.delay, business_id, week))
    return len(due)


@shared_task(
    name="reports.tasks.weekly_report_build",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=15 * 60,
    soft_time_limit=14 * 60,
)
def weekly_report_build(business_id: int, week: str, send: bool = True) -> int:
    """Build (once) and e-mail (once per recipient) one business's report for one week."""
    business = Business.objects.get(pk=business_id, is_active=True)
    report = services.weekly_report_build(business=business, week_start=date.fromisoformat(week))
    if send:
        services.weekly_report_send(report=report)
    return report.pk
