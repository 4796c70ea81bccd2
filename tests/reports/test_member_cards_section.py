"""Member-card figures in the weekly report (issue 14 §2): stored value outstanding and its
change over the week, top-ups vs spend, from membership's ledger, in the business's weeks."""

from decimal import Decimal

import pytest
from django.utils import timezone, translation

from membership.services import account_open, checkout, top_up
from reports.presenting import present
from reports.services import weekly_report_build

from .conftest import NOW, WEEK, local

pytestmark = pytest.mark.django_db


def at(monkeypatch, when, call, **kwargs):
    """Run a ledger command as if at `when` (the ledger stamps entries with the time)."""
    with monkeypatch.context() as m:
        m.setattr(timezone, "now", lambda: when)
        return call(**kwargs)


@pytest.fixture
def cards_week(tea, known_week, monkeypatch):
    account = account_open(customer=known_week.a)
    # The week before: ¥300 paid + ¥30 bonus.
    at(monkeypatch, local(2026, 2, 24), top_up, account=account, pay=Decimal("300"),
       bonus=Decimal("30"), key="t1", actor=tea.owner)  # fmt: skip
    # The report week: ¥500 paid + ¥50 bonus on Monday, ¥110 spent on Sunday 23:30 local.
    at(monkeypatch, local(2026, 3, 2, 9), top_up, account=account, pay=Decimal("500"),
       bonus=Decimal("50"), key="t2", actor=tea.owner)  # fmt: skip
    at(monkeypatch, local(2026, 3, 8, 23, 30), checkout, account=account,
       amount=Decimal("110"), stored_value=Decimal("110"), key="c1", actor=tea.staff,
       occurred_at=local(2026, 3, 8, 23, 30))  # fmt: skip
    # Next week (Monday 00:30 local): not in this report.
    at(monkeypatch, local(2026, 3, 9, 0, 30), checkout, account=account,
       amount=Decimal("20"), stored_value=Decimal("20"), key="c2", actor=tea.staff,
       occurred_at=local(2026, 3, 9, 0, 30))  # fmt: skip
    return account


def test_member_card_figures_are_right_in_the_business_weeks(tea, cards_week):
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    section = next(s for s in report.data["sections"] if s["key"] == "member_cards")
    rows = {r["label"]: r["values"][:2] for r in section["rows"]}
    assert rows == {
        "Stored value outstanding": ["770.00", "330.00"],
        "Change in stored value": ["440.00", "330.00"],
        "Topped up (paid)": ["500.00", "300.00"],
        "Top-up bonus given": ["50.00", "30.00"],
        "Spent from member cards": ["110.00", "0.00"],
    }


def test_the_section_reads_in_the_reader_language(tea, cards_week):
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    with translation.override("en"):
        section = next(s for s in present(report)["sections"] if s["title"] == "Member cards")
    row = section["rows"][0]
    assert (row["this"], row["last"]) == ("¥770.00", "¥330.00")
    assert row["reading"].startswith("Up 133 % on last week.")
    with translation.override("zh-hans"):
        titles = [s["title"] for s in present(report)["sections"]]
        labels = [r["label"] for s in present(report)["sections"] for r in s["rows"]]
    assert "会员卡" in titles
    assert "未用储值余额" in labels


def test_no_member_cards_no_section(tea, known_week):
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    assert all(s["key"] != "member_cards" for s in report.data.get("sections", []))


def test_another_business_cards_never_count(tea, salon, known_week, cards_week, monkeypatch):
    from tests.factories import CustomerFactory

    other = account_open(customer=CustomerFactory(business=salon.business, name="沙龙会员"))
    at(monkeypatch, local(2026, 3, 3), top_up, account=other, pay=Decimal("9000"),
       key="s1", actor=salon.owner)  # fmt: skip
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    section = next(s for s in report.data["sections"] if s["key"] == "member_cards")
    assert section["rows"][0]["values"][0] == "770.00"
