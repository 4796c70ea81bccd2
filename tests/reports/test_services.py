"""Build once per business and week, catch up when late, refuse weeks not yet over."""

from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from reports import services
from reports.models import CostReviewDecision, WeeklyReport, WeeklyScoreSnapshot
from reports.tasks import weekly_reports_dispatch
from reports.weeks import parse_week, report_due_week
from tests.factories import CustomerFactory, PurchaseFactory

from .conftest import NOW, WEEK, local

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")


def test_one_report_per_business_and_week_and_a_rerun_changes_nothing(known_week):
    first = services.weekly_report_build(business=known_week.business, week_start=WEEK, now=NOW)
    built_at = first.built_at
    # A late sale arrives; a plain rerun keeps the stored report as it was.
    PurchaseFactory(customer=known_week.b, occurred_at=local(2026, 3, 5), amount="10.00")
    again = services.weekly_report_build(business=known_week.business, week_start=WEEK, now=NOW)
    assert again.pk == first.pk
    assert again.built_at == built_at
    assert again.data["sales"]["sales"][0] == "350.00"
    assert WeeklyReport.objects.filter(business=known_week.business).count() == 1
    assert (
        WeeklyScoreSnapshot.objects.filter(business=known_week.business, week_start=WEEK).count()
        == 1
    )
    rebuilt = services.weekly_report_build(
        business=known_week.business, week_start=WEEK, now=NOW, rebuild=True
    )
    assert rebuilt.pk == first.pk
    assert rebuilt.data["sales"]["sales"][0] == "360.00"


def test_a_week_not_yet_over_or_not_a_monday_is_refused(tea):
    with pytest.raises(services.ReportError, match="has not ended"):
        services.weekly_report_build(
            business=tea.business, week_start=WEEK, now=local(2026, 3, 8, 23, 59)
        )
    with pytest.raises(services.ReportError, match="not a Monday"):
        services.weekly_report_build(business=tea.business, week_start=date(2026, 3, 3), now=NOW)
    assert not WeeklyReport.objects.exists()


def test_due_from_monday_0700_in_the_business_zone(tea, salon):
    salon.business.time_zone = "America/Los_Angeles"
    salon.business.save()
    # Monday 06:59 Shanghai: last week's report is not due yet; 07:00 it is.
    assert report_due_week(tea.business, local(2026, 3, 9, 6, 59)) == date(2026, 2, 23)
    assert report_due_week(tea.business, local(2026, 3, 9, 7, 0)) == WEEK
    # The same instant is still Sunday afternoon in Los Angeles.
    assert report_due_week(salon.business, local(2026, 3, 9, 7, 0)) == date(2026, 2, 23)
    la = ZoneInfo("America/Los_Angeles")
    assert report_due_week(salon.business, datetime(2026, 3, 9, 7, 0, tzinfo=la)) == WEEK


def test_dispatch_builds_each_due_business_once_and_catches_up(
    tea, salon, django_capture_on_commit_callbacks, monkeypatch
):
    CustomerFactory(business=tea.business)
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW.astimezone(UTC))
    with django_capture_on_commit_callbacks(execute=True):
        assert weekly_reports_dispatch.delay().get() == 2
    assert set(WeeklyReport.objects.values_list("business__slug", "week_start", "status")) == {
        ("tea", WEEK, "ready"), ("salon", WEEK, "ready")
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert weekly_reports_dispatch.delay().get() == 0  # nothing due twice
    # A failed build is retried on a later run (after the requeue delay), then succeeds.
    WeeklyReport.objects.filter(business=tea.business).update(status="failed")
    later = NOW + timedelta(minutes=45)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later.astimezone(UTC))
    with django_capture_on_commit_callbacks(execute=True):
        assert weekly_reports_dispatch.delay().get() == 1
    assert WeeklyReport.objects.get(business=tea.business).status == "ready"


def test_decision_is_recorded_and_changes_nothing_else(known_week):
    c = known_week.c
    before = (c.name, c.status, c.purchases.count())
    decision = services.cost_review_decide(
        customer=c, decision="regular", actor=None, note="  只按普通顾客服务 "
    )
    c.refresh_from_db()
    assert (c.name, c.status, c.purchases.count()) == before
    assert decision.note == "只按普通顾客服务"
    assert CostReviewDecision.objects.get().decision == "regular"


def test_command_builds_writes_pdf_and_refuses_bad_input(known_week, tmp_path, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW.astimezone(UTC))
    out = StringIO()
    pdf = tmp_path / "w10.pdf"
    call_command("weekly_report", business="tea", week="2026-W10", pdf=str(pdf), stdout=out)
    assert "2026-W10" in out.getvalue()
    assert pdf.read_bytes().startswith(b"%PDF")
    for week, message in [
        ("2026-10", "not a week like"),
        ("2026-W54", "has no week 54"),
        ("2026-W11", "has not ended"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("weekly_report", business="tea", week=week, stdout=StringIO())
    with pytest.raises(CommandError, match="No active business"):
        call_command("weekly_report", business="nope", stdout=StringIO())
    with pytest.raises(CommandError, match=r"\.pdf"):
        call_command("weekly_report", business="tea", week="2026-W10", pdf=str(tmp_path / "x.txt"))
    assert WeeklyReport.objects.count() == 1


def test_parse_week():
    assert parse_week("2026-W01") == date(2025, 12, 29)
    with pytest.raises(ValueError, match="not a week"):
        parse_week("W01")


def test_demo_businesses_get_last_weeks_report_once(db):
    call_command("seed_demo", customers=40, stdout=StringIO())
    reports = list(WeeklyReport.objects.values_list("business__slug", "status"))
    assert sorted(reports) == [("salon", "ready"), ("tea", "ready")]
    call_command("seed_demo", customers=40, stdout=StringIO())
    assert WeeklyReport.objects.count() == 2
    tea = WeeklyReport.objects.get(business__slug="tea")
    assert tea.data["customers_scored"] == 40
    assert tea.data["at_stake"]
