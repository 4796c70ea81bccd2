"""Thin Celery tasks: ids in, service call. Safe to run twice (the services are idempotent)."""

from __future__ import annotations

from functools import partial

from celery import shared_task
from django.db import transaction

from . import services


@shared_task(
    name="feedback.tasks.feedback_requests_dispatch",
    acks_late=True,
    time_limit=5 * 60,
    soft_time_limit=4 * 60,
)
def feedback_requests_dispatch() -> int:
    """Every 5 minutes (beat): queue one send task per due request. Due time + dispatcher,
    not a long countdown: Redis redelivers long countdowns after its visibility timeout."""
    ids = services.feedback_requests_claim_due()
    for request_id in ids:
        transaction.on_commit(partial(feedback_request_send.delay, request_id))
    return len(ids)


@shared_task(
    name="feedback.tasks.feedback_request_send",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=2 * 60,
    soft_time_limit=100,
)
def feedback_request_send(request_id: int) -> bool:
    """Send one request; True if this run sent it (a duplicate or retried run sends nothing)."""
    _request, sent = services.feedback_request_send(request_id=request_id)
    return sent
