"""The weekly report e-mail through Django's SMTP backend to a real local SMTP server."""

import pytest
from django.core.exceptions import ValidationError

from reports.models import ReportDelivery, ReportRecipient
from reports.services import weekly_report_build, weekly_report_send

from .conftest import NOW, WEEK


@pytest.mark.django_db
def test_opted_in_owner_gets_html_and_text_once(known_week, tea, salon, mailbox):
    tea.owner.email = "owner@tea.test"
    tea.owner.save()
    tea.owner.membership.language = "zh-hans"
    tea.owner.membership.save()
    ReportRecipient.objects.create(business=tea.business, user=tea.owner)
    salon.owner.email = "owner@salon.test"
    salon.owner.save()
    ReportRecipient.objects.create(business=salon.business, user=salon.owner)
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)

    assert weekly_report_send(report=report) == 1  # tea's owner only, never salon's
    assert weekly_report_send(report=report) == 0  # a rerun sends nothing twice
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert mailbox.envelopes[0].rcpt_tos == ["owner@tea.test"]
    assert message["Subject"] == "清风茶馆：周报 2026-W10"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    # Chinese punctuation in the Chinese text: full-width colon and brackets, no ASCII ones.
    assert "销售额：¥350.00（上周 ¥80.00，前 4 周平均" in text
    assert "净价值 ¥5.00 — 多次投诉" in text
    assert "比上周增长 338 %" in text
    assert "tel:+8613800000002" in text
    assert '<meta name="viewport"' in html
    assert f"/admin/reports/weeklyreport/{report.pk}/change/" in html
    assert "¥350.00" in html
    assert "<svg" not in html  # mail clients drop SVG: the charts are HTML bars there
    assert "周一" in html
    assert "每日销售额" in html
    assert ReportDelivery.objects.get().address == "owner@tea.test"


@pytest.mark.django_db
def test_staff_cannot_subscribe_and_nobody_opted_in_gets_nothing(known_week, tea, mailbox):
    tea.staff.email = "staff@tea.test"
    tea.staff.save()
    with pytest.raises(ValidationError, match="owner"):
        ReportRecipient(business=tea.business, user=tea.staff).full_clean()
    report = weekly_report_build(business=tea.business, week_start=WEEK, now=NOW)
    assert weekly_report_send(report=report) == 0
    # an opted-in owner who switched it off gets nothing either
    ReportRecipient.objects.create(
        business=tea.business, user=tea.owner, email="o@tea.test", active=False
    )
    assert weekly_report_send(report=report) == 0
    assert mailbox.messages == []
