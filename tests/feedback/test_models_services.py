"""Feedback models, services and selectors (no HTTP)."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.services import customer_merge
from feedback.links import LinkNotFound, ResolvedLink, resolve_token
from feedback.models import CustomerFeedbackLink, Feedback, FeedbackSettings
from feedback.selectors import (
    customer_feedback_events,
    feedback_months,
    nps_value,
    satisfaction_by_customer,
)
from feedback.services import (
    LinkUnusable,
    customer_feedback_link_create,
    feedback_link_renew,
    feedback_reply,
    feedback_settings_for,
    feedback_submit,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def make_feedback(business, nps, stars=None, customer=None, when=None, **extra) -> Feedback:
    return Feedback.objects.create(
        business=business,
        customer=customer,
        nps=nps,
        stars=stars,
        created_at=when or timezone.now(),
        **extra,
    )


@pytest.mark.parametrize(
    ("nps", "group"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter")],
)
def test_nps_group(tea, nps, group):
    assert Feedback(business=tea.business, nps=nps).nps_group == group


@pytest.mark.parametrize(("nps", "stars"), [(11, None), (5, 0), (5, 6)])
def test_database_refuses_out_of_range_scores(tea, nps, stars):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_feedback(tea.business, nps, stars)


def test_settings_are_created_lazily_with_defaults(tea):
    assert not FeedbackSettings.objects.filter(business=tea.business).exists()
    fs = feedback_settings_for(tea.business)
    assert (fs.enabled, fs.link_version, fs.request_delay_hours) == (True, 1, 24)
    assert feedback_settings_for(tea.business).pk == fs.pk


def test_business_token_is_deterministic_and_versioned(tea, salon, monkeypatch):
    import time

    from feedback.services import business_link_url

    # The signature carries a timestamp: within one second the link is the same.
    now = time.time()
    monkeypatch.setattr("django.core.signing.time.time", lambda: now)
    first = business_link_url(business=tea.business)
    assert business_link_url(business=tea.business) == first
    assert business_link_url(business=salon.business) != first
    assert first.startswith("http://127.0.0.1:8000/f/")
    feedback_link_renew(business=tea.business)
    assert feedback_settings_for(tea.business).link_version == 2
    assert business_link_url(business=tea.business) != first


def test_customer_link_expires_after_the_configured_days(tea, settings):
    settings.XW_FEEDBACK_LINK_DAYS = 7
    customer = CustomerFactory(business=tea.business)
    link, token = customer_feedback_link_create(business=tea.business, customer=customer)
    assert abs(link.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(seconds=5)
    resolved = resolve_token(token)
    assert resolved.customer_link == link
    assert resolved.problem == ""


def test_customer_link_for_another_business_is_refused(tea, salon):
    salon_customer = CustomerFactory(business=salon.business)
    with pytest.raises(ValidationError):
        customer_feedback_link_create(business=tea.business, customer=salon_customer)
    assert CustomerFeedbackLink.objects.count() == 0


def test_unknown_customer_token_is_not_found(tea):
    with pytest.raises(LinkNotFound):
        resolve_token("A" * 32)


def test_submit_twice_through_one_customer_link_is_refused(tea):
    customer = CustomerFactory(business=tea.business)
    _link, token = customer_feedback_link_create(business=tea.business, customer=customer)
    resolved = resolve_token(token)
    feedback_submit(link=resolved, nps=8)
    with pytest.raises(LinkUnusable):
        feedback_submit(link=resolved, nps=9)  # the page was loaded before the first post
    assert Feedback.objects.count() == 1


def test_submit_checks_the_model_rules(tea):
    link = ResolvedLink("business", tea.business, None)
    with pytest.raises(ValidationError):
        feedback_submit(link=link, nps=12)
    with pytest.raises(ValidationError):
        feedback_submit(link=link, nps=5, topic="weather")
    assert Feedback.objects.count() == 0


def test_reply_records_who_and_when(tea):
    feedback = make_feedback(tea.business, 3, comment="太慢")
    updated = feedback_reply(feedback=feedback, status="new", reply="抱歉，已改进", actor=tea.owner)
    assert updated.reply == "抱歉，已改进"
    assert updated.replied_by == tea.owner
    assert updated.replied_at is not None
    assert updated.status == "in_progress"  # answered: no longer new

    first_at = updated.replied_at
    same = feedback_reply(
        feedback=updated, status="resolved", reply="抱歉，已改进", actor=tea.staff
    )
    assert same.replied_by == tea.owner  # the reply did not change: still the owner's
    assert same.replied_at == first_at
    assert same.status == "resolved"

    with pytest.raises(ValidationError):
        feedback_reply(feedback=same, status="done", reply="", actor=tea.owner)


def test_merge_moves_feedback_to_the_kept_customer(tea):
    older = CustomerFactory(business=tea.business, name="王")
    newer = CustomerFactory(business=tea.business, name="王")
    entry = make_feedback(tea.business, 9, customer=newer)
    customer_feedback_link_create(business=tea.business, customer=newer)
    customer_merge(source=newer, target=older, actor=tea.owner)
    entry.refresh_from_db()
    assert entry.customer == older
    assert CustomerFeedbackLink.objects.get().customer == older


def test_satisfaction_by_customer(tea, salon):
    a = CustomerFactory(business=tea.business)
    b = CustomerFactory(business=tea.business)
    s = CustomerFactory(business=salon.business)
    cut = timezone.now()
    make_feedback(tea.business, 10, customer=a, when=cut - timedelta(days=3))  # 1.0
    make_feedback(tea.business, 6, stars=3, customer=a, when=cut - timedelta(days=2))  # 0.55
    make_feedback(tea.business, 0, customer=a, when=cut + timedelta(days=1))  # after: ignored
    make_feedback(tea.business, 8, stars=5, customer=b, when=cut - timedelta(days=1))  # 0.9
    make_feedback(tea.business, 9, when=cut - timedelta(days=1))  # unlinked: ignored
    make_feedback(salon.business, 0, customer=s, when=cut - timedelta(days=1))

    result = satisfaction_by_customer(tea.business, cut)
    assert set(result) == {a.pk, b.pk}
    assert result[a.pk] == pytest.approx((1.0 + 0.55) / 2)
    assert result[b.pk] == pytest.approx(0.9)
    assert satisfaction_by_customer(salon.business, cut) == {s.pk: 0.0}


def test_nps_value_rounds_half_up():
    assert nps_value(0, 0, 0) is None
    assert nps_value(3, 1, 4) == 50
    assert nps_value(1, 2, 8) == -13  # -12.5 → -13 (half away from zero, symmetric)
    assert nps_value(2, 1, 8) == 13  # 12.5 → 13


def test_feedback_months_on_a_known_set(tea, salon):
    now = datetime(2025, 6, 15, 12, 0, tzinfo=SHANGHAI)
    june = datetime(2025, 6, 1, 0, 30, tzinfo=SHANGHAI)  # 2025-05-31 16:30 UTC: June locally
    for nps, stars in [(10, 5), (9, 4), (7, None), (3, 2)]:
        make_feedback(tea.business, nps, stars, when=june)
    may = datetime(2025, 5, 20, 10, 0, tzinfo=SHANGHAI)
    for nps, stars in [(2, 1), (6, None)]:
        make_feedback(tea.business, nps, stars, when=may)
    make_feedback(tea.business, 10, 5, when=datetime(2024, 6, 30, tzinfo=SHANGHAI))  # >12 months
    make_feedback(salon.business, 0, 1, when=june)  # another business

    months, total = feedback_months(tea.business, now=now)
    assert [m.month.isoformat() for m in months[:2]] == ["2025-06-01", "2025-05-01"]
    assert len(months) == 12
    assert months[-1].month.isoformat() == "2024-07-01"
    jun, may_ = months[0], months[1]
    assert (jun.responses, jun.promoters, jun.passives, jun.detractors) == (4, 2, 1, 1)
    assert jun.nps == 25  # 50 % − 25 %
    assert jun.avg_stars == Decimal("3.7")  # (5 + 4 + 2) / 3
    assert (may_.responses, may_.nps, may_.avg_stars) == (2, -100, Decimal("1.0"))
    assert months[2].responses == 0
    assert months[2].nps is None
    assert (total.responses, total.nps, total.avg_stars) == (6, -17, Decimal("3.0"))


def test_timeline_events_of_a_customer(tea, salon):
    customer = CustomerFactory(business=tea.business)
    make_feedback(tea.business, 4, 2, customer=customer, comment="水太烫", topic="product")
    events = customer_feedback_events(customer, 10)
    assert len(events) == 1
    assert events[0].kind == "feedback"
    assert "NPS 4" in events[0].label
    assert "★★" in events[0].label
    assert "水太烫" in events[0].detail
    assert events[0].url.startswith("/admin/feedback/feedback/")


def test_feedback_link_command_prints_the_absolute_link(tea, settings, capsys, tmp_path):
    settings.XW_PUBLIC_BASE_URL = "https://crm.example.cn/"
    call_command("feedback_link", "tea", "--qr", str(tmp_path / "tea.svg"))
    out = capsys.readouterr().out.strip()
    assert out.startswith("https://crm.example.cn/f/")
    assert out.endswith("/")
    token = out.split("/f/")[1].rstrip("/")
    assert resolve_token(token).business == tea.business
    assert (tmp_path / "tea.svg").read_bytes().startswith(b"<svg")
