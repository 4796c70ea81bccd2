"""The campaigns section of the weekly report (issue 15 §5): campaigns that ran in the week
with their results in the owner's words, in the reader's language, in the app/admin page,
the e-mail and the PDF's HTML."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from campaigns.selectors import campaign_results
from campaigns.services import (
    campaign_enrol_due,
    campaign_finish,
    campaign_start,
    member_send_by_staff,
)
from reports.presenting import present
from reports.services import report_email, weekly_report_build
from tests.factories import PurchaseFactory, give_score

from .conftest import campaign, customers

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
WEEK = date(2026, 3, 2)  # Monday 2 to Sunday 8 March 2026
END = datetime(2026, 3, 9, 0, 0, tzinfo=SH)
NOW = datetime(2026, 3, 9, 7, 30, tzinfo=SH)


def local(d, hh=12) -> datetime:
    return datetime(2026, 3, d, hh, 0, tzinfo=SH)


def campaigns_section(report) -> dict | None:
    return next((s for s in report.data["sections"] if s["key"] == "campaigns"), None)


def test_no_campaign_no_section(tea):
    campaign(tea.business)  # a draft never ran
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    assert campaigns_section(report) is None


@pytest.fixture
def campaign_week(tea, salon):
    b = tea.business
    people = customers(b, 60)
    running = campaign(b, name="回店有礼", control_pct=30)
    campaign_start(campaign=running, now=local(3))
    sent = list(running.members.filter(group="treatment")[:5])
    for m in sent:
        member_send_by_staff(business=b, member_id=m.pk, user=tea.staff, channel="sms",
                             now=local(3))  # fmt: skip
    for p in people[:20]:
        PurchaseFactory(customer=p, occurred_at=local(5), amount=Decimal("60"))
    ended = campaign(b, name="三月新客", seed=3)
    campaign_start(campaign=ended, now=local(2, 10))
    campaign_finish(campaign=ended, now=local(4))
    before = campaign(b, name="二月旧活动", seed=4)
    campaign_start(campaign=before, now=local(2, 10) - timedelta(days=20))
    campaign_finish(campaign=before, now=local(2, 10) - timedelta(days=6))
    campaign(b, name="草稿", seed=5)
    customers(salon.business, 12, start=500)
    campaign_start(campaign=campaign(salon.business, name="沙龙秘密活动"), now=local(3))
    return running, ended, sent


def test_section_lists_campaigns_of_the_week_with_their_results(tea, campaign_week):
    running, _ended, sent = campaign_week
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    section = campaigns_section(report)
    assert [c["name"] for c in section["campaigns"]] == ["回店有礼", "三月新客"]
    states = {c["name"]: c["state"] for c in section["campaigns"]}
    assert states == {"回店有礼": "running", "三月新客": "finished"}
    assert section["rows"][0]["values"][:2] == [len(sent), 0]
    with translation.override("en"):
        shown = next(s for s in present(report)["sections"] if s["title"] == "Campaigns")
        expected = campaign_results(running, now=END)
        assert shown["entries"][0]["text"] == expected.summary
        assert shown["entries"][0]["detail"] == expected.came_back_words
        assert shown["entries"][0]["heading"].startswith("回店有礼 · One-off · running since")
        assert "finished" in shown["entries"][1]["heading"]
        assert shown["rows"][0]["this"] == str(len(sent))


def test_section_is_worded_in_the_readers_language(tea, campaign_week):
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    with translation.override("en"):
        english = next(s for s in present(report)["sections"] if s["title"] == "Campaigns")
    with translation.override("zh-hans"):
        chinese = next(s for s in present(report)["sections"] if s["title"] == "营销活动")
    assert chinese["entries"][0]["text"] != english["entries"][0]["text"]
    assert "对照" in chinese["entries"][0]["text"] or "额外" in chinese["entries"][0]["text"]


def test_section_appears_in_the_email_and_the_pdf_html(tea, campaign_week):
    running, _ended, _sent = campaign_week
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    message = report_email(report=report, language="en", to=["owner@example.cn"])
    with translation.override("en"):
        summary = campaign_results(running, now=END).summary
        pdf_html = render_to_string("reports/pdf.html", {**present(report), "for_pdf": True})
    assert "回店有礼" in message.body
    assert summary in message.body
    html = message.alternatives[0][0]
    assert "回店有礼" in html
    assert "回店有礼" in pdf_html
    assert "沙龙秘密活动" not in message.body
    assert "沙龙秘密活动" not in pdf_html


def test_results_as_of_the_week_end_leave_out_later_entrants(tea):
    b = tea.business
    for p in customers(b, 30):
        give_score(p, churn_risk=0.8)
    c = campaign(b, kind="win_back")
    campaign_start(campaign=c, now=local(4))
    early = c.members.count()
    assert early == 30
    later = customers(b, 12, start=100)
    for p in later:
        give_score(p, churn_risk=0.9)
    c.refresh_from_db()
    enrol = campaign_enrol_due(campaign=c, now=END + timedelta(hours=3))
    assert enrol == 12
    assert campaign_results(c, now=END).entered == early
    assert campaign_results(c, now=END + timedelta(hours=4)).entered == early + 12
