"""Every figure of a week built from known sales, visits, feedback, follow-ups and scores."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import translation

from reports import selectors
from reports.presenting import present
from reports.services import weekly_report_build
from tests.factories import CustomerFactory, PurchaseFactory

from .conftest import NOW, WEEK, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(known_week):
    return weekly_report_build(business=known_week.business, week_start=WEEK, now=NOW)


def test_sales_and_customer_figures(report):
    sales = report.data["sales"]
    # This week: A 100 (Mon) + A 50 (Sun 23:30 local) + B 200; A's Monday-00:30 sale is next week
    assert sales["sales"] == ["350.00", "80.00", "0.00", "0.00", "0.00"]
    assert sales["purchases"] == [3, 1, 0, 0, 0]
    assert sales["avg_ticket"] == ["116.67", "80.00", None, None, None]
    assert sales["customers"][:2] == [2, 1]
    assert sales["new_customers"][:2] == [1, 1]
    assert sales["returning_customers"][:2] == [1, 0]
    assert sales["repeat_rate"][:3] == [0.5, 0.0, None]
    assert sales["repeat_sales_share"][:3] == [0.4286, 0.0, None]
    assert report.data["daily_sales"] == [
        "100.00", "0.00", "200.00", "0.00", "0.00", "0.00", "50.00"
    ]  # fmt: skip


def test_feedback_and_follow_up_figures(report):
    fb = report.data["feedback"]
    assert fb["responses"][:2] == [3, 0]
    assert fb["nps"][0] == 33  # (2 promoters - 1 detractor) / 3, as the feedback pages round it
    assert fb["stars"][0] == 4.5
    assert fb["complaints"][:2] == [1, 0]
    assert fb["unanswered"][0] == 2
    fu = report.data["follow_ups"]
    assert fu["done"][:2] == [1, 0]
    assert fu["overdue"][:2] == [1, 1]  # last week: the Feb 25 one; now: the Mar 6 one
    assert fu["staff"] == [
        {"user_id": report.business.memberships.get(role="staff").user_id,
         "name": "tea_staff", "done": 1, "overdue": 1}
    ]  # fmt: skip


def test_value_at_stake_and_moves(report, known_week):
    kw = known_week
    top = report.data["at_stake"]
    # predicted value × churn risk: B 300, A 100, C 90; D has no churn risk
    assert [(r["customer_id"], r["at_stake"]) for r in top] == [
        (kw.b.pk, "300.00"), (kw.a.pk, "100.00"), (kw.c.pk, "90.00")
    ]  # fmt: skip
    assert top[0]["phone"] == "+8613800000002"
    moves = report.data["moves"]
    assert moves["available"] is True
    assert moves["compared_to"] == "2026-02-23"
    assert (moves["tier_up"], moves["tier_down"]) == (1, 1)  # A B→A, C B→C
    assert (moves["segment_up"], moves["segment_down"]) == (0, 1)  # D champions→hibernating
    assert [m["customer_id"] for m in moves["up"]] == [kw.a.pk]
    assert sorted(m["customer_id"] for m in moves["down"]) == sorted([kw.c.pk, kw.d.pk])


def test_where_good_customers_come_from(report, known_week, monkeypatch):
    acq = report.data["acquisition"]
    rows = {r["source"]: r for r in acq["sources"]}
    assert rows["referral"] == {
        "source": "referral", "customers": 2, "avg_predicted": "550.00",
        "avg_net_so_far": "270.00", "survival_eligible": 1, "survival_12m": 1.0,
    }  # fmt: skip  # A (2025-01, still buying) and C (new last week)
    assert rows["walk_in"] == {
        "source": "walk_in", "customers": 2, "avg_predicted": "265.00",
        "avg_net_so_far": "42.50", "survival_eligible": 1, "survival_12m": 0.0,
    }  # fmt: skip
    assert acq["best"] is None  # fewer than 5 customers per source: nobody named
    assert [(m["month"], m["customers"]) for m in acq["months"]] == [
        ("2026-02", 1), ("2026-03", 1)
    ]  # fmt: skip
    monkeypatch.setattr(selectors, "MIN_SOURCE_CUSTOMERS", 1)
    acq = selectors.weekly_figures(known_week.business, WEEK)[0]["acquisition"]
    assert (acq["best"], acq["worst"]) == ("referral", "walk_in")


def test_who_costs_more_than_they_bring(report, known_week):
    prune = report.data["prune"]
    assert prune["count"] == 2
    assert prune["median_spend"] == "140.00"  # median of 1150, 200, 80, 20
    c, d = prune["rows"]
    assert (c["customer_id"], c["reasons"], c["net_value"]) == (
        known_week.c.pk, ["negative_net"], "-20.00"
    )  # fmt: skip
    assert (d["customer_id"], d["reasons"], d["complaints_12m"]) == (
        known_week.d.pk, ["complaints_little_spend"], 2
    )  # fmt: skip
    # A complained twice too, but spends well above the median: not listed
    assert known_week.a.pk not in [r["customer_id"] for r in prune["rows"]]


def test_reading_in_plain_words_in_english_and_chinese(report):
    with translation.override("en"):
        shown = present(report)
    sales = shown["figures"][0]
    assert (sales["this"], sales["last"], sales["avg"]) == ("¥350.00", "¥80.00", "¥20.00")
    assert sales["reading"] == "Up 338 % on last week. Better than the 4-week average."
    assert shown["headline"][1] == "Repeat customers brought 43 % of sales, up from 0 %."
    with translation.override("zh-hans"):
        shown = present(report)
    assert "比上周增长 338 %" in shown["figures"][0]["reading"]
    assert "回头客贡献了 43 % 的销售额" in shown["headline"][1]


def test_money_in_the_business_currency(known_week):
    known_week.business.currency = "USD"
    known_week.business.save()
    report = weekly_report_build(business=known_week.business, week_start=WEEK, now=NOW)
    with translation.override("en"):
        assert present(report)["figures"][0]["this"] == "$350.00"


def test_another_business_never_counts(known_week, salon):
    other = CustomerFactory(business=salon.business, name="沙龙秘密客户")
    PurchaseFactory(customer=other, occurred_at=local(2026, 3, 3), amount=Decimal("5000.00"))
    report = weekly_report_build(business=known_week.business, week_start=WEEK, now=NOW)
    assert report.data["sales"]["sales"][0] == "350.00"
    assert "沙龙秘密客户" not in str(report.data)
    salon_report = weekly_report_build(business=salon.business, week_start=WEEK, now=NOW)
    assert salon_report.data["sales"]["sales"][0] == "5000.00"
    assert salon_report.data["at_stake"] == []


def test_week_edges_to_the_second_in_local_time(tea):
    customer = CustomerFactory(business=tea.business)
    sunday_last = local(2026, 3, 8, 23, 59).replace(second=59, microsecond=900_000)
    monday_first = local(2026, 3, 2, 0, 0)
    next_monday = local(2026, 3, 9, 0, 0)
    for when, amount in [(monday_first, "1.00"), (sunday_last, "2.00"), (next_monday, "4.00")]:
        PurchaseFactory(customer=customer, occurred_at=when, amount=Decimal(amount))
    just_before = monday_first - timedelta(microseconds=1)  # last week's Sunday 23:59:59.999999
    PurchaseFactory(customer=customer, occurred_at=just_before, amount=Decimal("8.00"))
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    assert report.data["sales"]["sales"][:2] == ["3.00", "8.00"]
    assert report.data["daily_sales"][0] == "1.00"
    assert report.data["daily_sales"][6] == "2.00"
