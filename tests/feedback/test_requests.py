"""Automatic feedback requests after a purchase (in-process; the real worker is in
test_celery_worker.py)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from customers.models import Customer, Purchase
from feedback.links import resolve_token
from feedback.models import CustomerFeedbackLink, FeedbackRequest
from feedback.senders import BaseSender
from feedback.services import (
    MAX_SEND_ATTEMPTS,
    feedback_request_send,
    feedback_requests_schedule_for_purchases,
    feedback_settings_for,
)
from feedback.tasks import feedback_requests_dispatch
from tests.factories import CustomerFactory, PurchaseFactory

pytestmark = pytest.mark.django_db


class BrokenSender(BaseSender):
    def send(self, *, customer, business, url):
        raise ConnectionError("gateway down")


@pytest.fixture
def consenting(tea):
    return CustomerFactory(
        business=tea.business, name="常客", marketing_consent=True, email="regular@example.cn"
    )


@pytest.fixture
def due_now(tea):
    fs = feedback_settings_for(tea.business)
    fs.request_delay_hours = 0
    fs.save()
    return fs


def test_purchase_schedules_one_request_after_the_delay(tea, consenting):
    purchase = PurchaseFactory(customer=consenting)
    request = FeedbackRequest.objects.get()
    assert (request.business, request.customer, request.purchase) == (
        tea.business,
        consenting,
        purchase,
    )
    assert request.status == "scheduled"
    assert request.due_at == purchase.occurred_at + timedelta(hours=24)


def test_no_request_without_marketing_consent(tea):
    PurchaseFactory(customer=CustomerFactory(business=tea.business, marketing_consent=False))
    assert FeedbackRequest.objects.count() == 0


def test_no_request_for_an_old_or_far_future_purchase(tea, consenting):
    PurchaseFactory(customer=consenting, occurred_at=timezone.now() - timedelta(days=3))
    PurchaseFactory(customer=consenting, occurred_at=timezone.now() + timedelta(days=2))
    PurchaseFactory(
        customer=consenting, occurred_at=timezone.now().replace(year=9999, month=12, day=31)
    )
    assert FeedbackRequest.objects.count() == 0


def test_bulk_created_purchases_ask_nothing(tea, consenting):
    Purchase.objects.bulk_create(
        [Purchase(business=tea.business, customer=consenting, amount=10) for _ in range(3)]
    )
    assert FeedbackRequest.objects.count() == 0


def test_no_request_when_feedback_is_off_or_customer_blocked(tea, consenting):
    fs = feedback_settings_for(tea.business)
    fs.enabled = False
    fs.save()
    PurchaseFactory(customer=consenting)
    fs.enabled = True
    fs.save()
    Customer.objects.filter(pk=consenting.pk).update(status="blocked")
    consenting.refresh_from_db()
    PurchaseFactory(customer=consenting)
    assert FeedbackRequest.objects.count() == 0


def test_at_most_one_request_per_customer_in_30_days(tea, consenting, due_now):
    PurchaseFactory(customer=consenting)
    PurchaseFactory(customer=consenting)  # still scheduled: no second
    assert FeedbackRequest.objects.count() == 1
    request = FeedbackRequest.objects.get()
    feedback_request_send(request_id=request.pk)
    PurchaseFactory(customer=consenting)  # sent just now: no second
    assert FeedbackRequest.objects.count() == 1

    FeedbackRequest.objects.update(sent_at=timezone.now() - timedelta(days=31))
    PurchaseFactory(customer=consenting)
    assert FeedbackRequest.objects.count() == 2


def test_schedule_for_purchases_is_scoped_and_asks_once(tea, salon, consenting):
    other = CustomerFactory(business=tea.business, marketing_consent=True)
    salon_customer = CustomerFactory(business=salon.business, marketing_consent=True)
    now = timezone.now()
    rows = Purchase.objects.bulk_create(
        [
            Purchase(business=tea.business, customer=consenting, amount=10, occurred_at=now),
            Purchase(business=tea.business, customer=consenting, amount=20, occurred_at=now),
            Purchase(business=tea.business, customer=other, amount=5, occurred_at=now),
            Purchase(
                business=tea.business,
                customer=other,
                amount=5,
                occurred_at=now - timedelta(days=5),
            ),
            Purchase(business=salon.business, customer=salon_customer, amount=9, occurred_at=now),
        ]
    )
    created = feedback_requests_schedule_for_purchases(
        business=tea.business, purchase_ids=[p.pk for p in rows]
    )
    assert sorted(r.customer_id for r in created) == sorted([consenting.pk, other.pk])
    assert FeedbackRequest.objects.filter(customer=salon_customer).count() == 0
    assert FeedbackRequest.objects.count() == 2


def test_dispatch_sends_due_requests_once(
    tea, consenting, due_now, django_capture_on_commit_callbacks, caplog
):
    PurchaseFactory(customer=consenting)
    with (
        caplog.at_level("INFO", logger="feedback.senders"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert feedback_requests_dispatch() == 1
    request = FeedbackRequest.objects.get()
    assert (request.status, request.send_count, request.channel) == ("sent", 1, "log")
    assert request.sent_at is not None
    link = CustomerFeedbackLink.objects.get()
    assert request.link == link
    assert link.customer == consenting
    url = next(r.getMessage() for r in caplog.records if "feedback request" in r.getMessage())
    token = url.rsplit("/f/", 1)[1].split("/")[0]
    assert resolve_token(token).customer_link == link

    with django_capture_on_commit_callbacks(execute=True):
        assert feedback_requests_dispatch() == 0
    _req, sent = feedback_request_send(request_id=request.pk)  # a duplicated task
    assert sent is False
    request.refresh_from_db()
    assert request.send_count == 1
    assert CustomerFeedbackLink.objects.count() == 1


def test_request_not_due_is_not_dispatched_or_sent(tea, consenting):
    PurchaseFactory(customer=consenting)  # due in 24 h
    assert feedback_requests_dispatch() == 0
    request = FeedbackRequest.objects.get()
    _req, sent = feedback_request_send(request_id=request.pk)
    assert sent is False
    assert FeedbackRequest.objects.get().status == "scheduled"


def test_withdrawn_consent_skips_at_send_time(tea, consenting, due_now):
    PurchaseFactory(customer=consenting)
    Customer.objects.filter(pk=consenting.pk).update(marketing_consent=False)
    request = FeedbackRequest.objects.get()
    feedback_request_send(request_id=request.pk)
    request.refresh_from_db()
    assert (request.status, request.reason, request.send_count) == ("skipped", "no_consent", 0)
    assert CustomerFeedbackLink.objects.count() == 0


def test_email_sender_sends_the_personal_link(tea, consenting, due_now, settings):
    settings.XW_FEEDBACK_SENDER = "feedback.senders.EmailSender"
    tea.business.language = "en"
    tea.business.save()
    PurchaseFactory(customer=consenting)
    request = FeedbackRequest.objects.get()
    feedback_request_send(request_id=request.pk)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["regular@example.cn"]
    assert "清风茶馆" in message.subject
    token = message.body.rsplit("/f/", 1)[1].split("/")[0]
    assert resolve_token(token).customer_link.customer == consenting
    request.refresh_from_db()
    assert (request.status, request.channel) == ("sent", "email")


def test_email_sender_skips_customers_without_email(tea, due_now, settings):
    settings.XW_FEEDBACK_SENDER = "feedback.senders.EmailSender"
    customer = CustomerFactory(business=tea.business, marketing_consent=True, email="")
    PurchaseFactory(customer=customer)
    request = FeedbackRequest.objects.get()
    feedback_request_send(request_id=request.pk)
    request.refresh_from_db()
    assert (request.status, request.reason) == ("skipped", "unreachable")
    assert mail.outbox == []
    assert CustomerFeedbackLink.objects.count() == 0


def test_failing_sender_retries_then_gives_up(tea, consenting, due_now, settings):
    settings.XW_FEEDBACK_SENDER = "tests.feedback.test_requests.BrokenSender"
    PurchaseFactory(customer=consenting)
    request = FeedbackRequest.objects.get()
    for attempt in range(1, MAX_SEND_ATTEMPTS + 1):
        _req, sent = feedback_request_send(request_id=request.pk)
        assert sent is False
        request.refresh_from_db()
        assert request.attempts == attempt
        assert request.queued_at is None  # the dispatcher picks it up again
    assert request.status == "skipped"
    assert request.reason.startswith("send_failed: gateway down")
    assert CustomerFeedbackLink.objects.count() == 0
    assert request.send_count == 0


def test_schedule_for_purchases_given_the_sales_asks_the_same(tea, salon, consenting):
    other = CustomerFactory(business=tea.business, marketing_consent=True)
    quiet = CustomerFactory(business=tea.business, marketing_consent=False)
    salon_customer = CustomerFactory(business=salon.business, marketing_consent=True)
    now = timezone.now()
    rows = Purchase.objects.bulk_create(
        [
            Purchase(business=tea.business, customer=consenting, amount=10, occurred_at=now),
            Purchase(
                business=tea.business,
                customer=consenting,
                amount=20,
                occurred_at=now - timedelta(hours=1),
            ),
            Purchase(business=tea.business, customer=quiet, amount=5, occurred_at=now),
            Purchase(
                business=tea.business,
                customer=other,
                amount=5,
                occurred_at=now - timedelta(days=5),
            ),
        ]
    )
    sales = [(p.pk, p.customer_id, p.occurred_at) for p in rows]
    # A customer of another business named in `sales` is never asked.
    sales.append((rows[0].pk, salon_customer.pk, now))
    created = feedback_requests_schedule_for_purchases(
        business=tea.business, purchase_ids=[p.pk for p in rows], sales=sales
    )
    assert [(r.customer_id, r.purchase_id) for r in created] == [(consenting.pk, rows[0].pk)]
    assert FeedbackRequest.objects.count() == 1
