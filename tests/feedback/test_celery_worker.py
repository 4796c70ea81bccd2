"""Automatic requests through real Celery workers (separate processes) on Redis.

The workers write to the test database; sends are observed through FeedbackRequest rows
(send_count, sent_at) and task results (a Redis result backend), not through mail.outbox.
"""

import pytest

from feedback.models import CustomerFeedbackLink, FeedbackRequest
from feedback.services import feedback_settings_for
from tests.conftest import wait_until
from tests.factories import CustomerFactory, PurchaseFactory

pytestmark = pytest.mark.celery_worker

DISPATCH = "feedback.tasks.feedback_requests_dispatch"
SEND = "feedback.tasks.feedback_request_send"
TIMEOUT = 60


@pytest.fixture
def run_task(task_runner):
    """run_task(name, *args) -> the task's return value, computed by a real worker."""
    return task_runner()


@pytest.fixture
def tea_now(tea):
    fs = feedback_settings_for(tea.business)
    fs.request_delay_hours = 0  # due at once: the dispatcher sends immediately
    fs.save()
    return tea


def test_one_purchase_gives_one_request_sent_once(tea_now, run_task):
    customer = CustomerFactory(business=tea_now.business, marketing_consent=True)
    PurchaseFactory(customer=customer)
    assert FeedbackRequest.objects.count() == 1

    assert run_task(DISPATCH) == 1
    request = wait_until(
        lambda: FeedbackRequest.objects.filter(status="sent").first(), what="the request sent"
    )
    assert request.customer == customer
    assert request.send_count == 1
    assert request.channel == "log"
    first_sent_at = request.sent_at

    # Retried and duplicated tasks send nothing more.
    assert [run_task(SEND, request.pk) for _ in range(3)] == [False, False, False]
    assert run_task(DISPATCH) == 0
    request.refresh_from_db()
    assert (request.send_count, request.sent_at) == (1, first_sent_at)
    assert CustomerFeedbackLink.objects.count() == 1


def test_concurrent_duplicate_tasks_send_exactly_once(tea_now, run_task):
    customer = CustomerFactory(business=tea_now.business, marketing_consent=True)
    PurchaseFactory(customer=customer)
    request = FeedbackRequest.objects.get()

    # Four copies at once on two worker processes, as after a redelivery.
    pending = [run_task.app.send_task(SEND, args=[request.pk]) for _ in range(4)]
    outcomes = [result.get(timeout=TIMEOUT) for result in pending]
    assert sorted(outcomes) == [False, False, False, True]
    request.refresh_from_db()
    assert (request.status, request.send_count) == ("sent", 1)
    assert CustomerFeedbackLink.objects.count() == 1


def test_no_request_without_consent(tea_now, run_task):
    customer = CustomerFactory(business=tea_now.business, marketing_consent=False)
    PurchaseFactory(customer=customer)
    assert run_task(DISPATCH) == 0
    assert FeedbackRequest.objects.count() == 0
    assert CustomerFeedbackLink.objects.count() == 0


def test_no_second_request_within_30_days(tea_now, run_task):
    customer = CustomerFactory(business=tea_now.business, marketing_consent=True)
    PurchaseFactory(customer=customer)
    assert run_task(DISPATCH) == 1
    wait_until(
        lambda: FeedbackRequest.objects.filter(status="sent").exists(), what="the first send"
    )

    PurchaseFactory(customer=customer)  # a week later in real life; the same rule applies
    assert run_task(DISPATCH) == 0
    assert FeedbackRequest.objects.count() == 1
    assert FeedbackRequest.objects.get().send_count == 1
    assert CustomerFeedbackLink.objects.count() == 1
