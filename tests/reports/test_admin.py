"""The report in the admin: owners only, own business only, PDF, decisions recorded."""

from datetime import timedelta

import pytest
from django.urls import reverse

from reports.models import CostReviewDecision, ReportRecipient
from reports.services import weekly_report_build

from .conftest import NOW, WEEK

pytestmark = pytest.mark.django_db


@pytest.fixture
def tea_report(known_week):
    return weekly_report_build(business=known_week.business, week_start=WEEK, now=NOW)


@pytest.fixture
def salon_report(salon):
    from tests.factories import CustomerFactory, PurchaseFactory

    from .conftest import local

    secret = CustomerFactory(business=salon.business, name="沙龙秘密客户")
    PurchaseFactory(customer=secret, occurred_at=local(2026, 3, 3), amount="4321.00")
    return weekly_report_build(business=salon.business, week_start=WEEK, now=NOW)


def test_owner_reads_the_report_and_browses_weeks(tea, tea_report, client_for):
    client = client_for(tea.owner)
    listing = client.get(reverse("admin:reports_weeklyreport_changelist"))
    assert listing.status_code == 200
    assert "2026-W10" in listing.content.decode()
    page = client.get(reverse("admin:reports_weeklyreport_change", args=[tea_report.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    for text in ("¥350.00", "<svg", "tel:+8613800000002", "客C", "Record a decision"):
        assert text in body
    earlier = weekly_report_build(
        business=tea.business, week_start=WEEK - timedelta(days=7), now=NOW
    )
    page = client.get(reverse("admin:reports_weeklyreport_change", args=[tea_report.pk]))
    assert reverse("admin:reports_weeklyreport_change", args=[earlier.pk]) in page.content.decode()


def test_pdf_download(tea, tea_report, client_for):
    response = client_for(tea.owner).get(
        reverse("admin:reports_weeklyreport_pdf", args=[tea_report.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_staff_do_not_see_reports(tea, tea_report, client_for):
    client = client_for(tea.staff)
    for url in (
        reverse("admin:reports_weeklyreport_changelist"),
        reverse("admin:reports_weeklyreport_change", args=[tea_report.pk]),
        reverse("admin:reports_weeklyreport_pdf", args=[tea_report.pk]),
        reverse("admin:reports_costreviewdecision_add"),
    ):
        response = client.get(url)
        assert response.status_code in (403, 404), url
        assert "¥350.00" not in response.content.decode()


def test_another_business_report_is_404(tea, tea_report, salon_report, client_for):
    client = client_for(tea.owner)
    for name in ("admin:reports_weeklyreport_change", "admin:reports_weeklyreport_pdf"):
        response = client.get(reverse(name, args=[salon_report.pk]))
        assert response.status_code == 404
        assert "沙龙秘密客户" not in response.content.decode()
    listing = client.get(reverse("admin:reports_weeklyreport_changelist")).content.decode()
    assert reverse("admin:reports_weeklyreport_change", args=[salon_report.pk]) not in listing
    assert client.get("/admin/reports/weeklyreport/99999999999999999999/change/").status_code == 404
    assert client.get("/admin/reports/weeklyreport/abc/pdf/").status_code == 404


def test_operator_does_not_read_business_reports(tea_report, admin_client):
    url = reverse("admin:reports_weeklyreport_change", args=[tea_report.pk])
    assert admin_client.get(url).status_code in (403, 404)


def test_owner_records_a_decision_from_the_report(tea, known_week, tea_report, client_for):
    client = client_for(tea.owner)
    add = reverse("admin:reports_costreviewdecision_add")
    form = client.get(
        add, {"customer": known_week.c.pk, "report": tea_report.pk, "decision": "regular"}
    )
    assert form.status_code == 200
    response = client.post(
        add,
        {
            "customer": known_week.c.pk,
            "report": tea_report.pk,
            "decision": "regular",
            "note": "按普通顾客",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:reports_weeklyreport_change", args=[tea_report.pk]
    )
    decision = CostReviewDecision.objects.get()
    assert (decision.customer, decision.decided_by, decision.business) == (
        known_week.c, tea.owner, tea.business
    )  # fmt: skip
    page = client.get(response["Location"]).content.decode()
    assert "Serve as a regular customer, no extra visits" in page
    known_week.c.refresh_from_db()  # nothing else changed
    assert known_week.c.status == "active"


def test_decision_about_another_business_customer_is_refused(tea, salon, client_for):
    from tests.factories import CustomerFactory

    secret = CustomerFactory(business=salon.business, name="沙龙秘密客户")
    response = client_for(tea.owner).post(
        reverse("admin:reports_costreviewdecision_add"),
        {"customer": secret.pk, "decision": "stop"},
    )
    assert response.status_code == 200  # the form, with an error
    assert not CostReviewDecision.objects.exists()


def test_owner_opts_in_to_the_email(tea, client_for):
    tea.owner.email = "owner@tea.test"
    tea.owner.save()
    client = client_for(tea.owner)
    add = reverse("admin:reports_reportrecipient_add")
    assert client.post(add, {"user": tea.staff.pk, "active": "on"}).status_code == 200  # refused
    response = client.post(add, {"user": tea.owner.pk, "active": "on"})
    assert response.status_code == 302
    assert ReportRecipient.objects.get().address == "owner@tea.test"


def test_changelists_show_only_own_rows(tea, salon, salon_report, client_for):
    from tests.factories import CustomerFactory

    salon.owner.email = "secret-owner@salon.test"
    salon.owner.save()
    ReportRecipient.objects.create(business=salon.business, user=salon.owner)
    secret = CustomerFactory(business=salon.business, name="沙龙待审客户")
    CostReviewDecision.objects.create(
        business=salon.business, customer=secret, decision="stop", note="沙龙决定"
    )
    client = client_for(tea.owner)
    for model in ("weeklyreport", "reportrecipient", "costreviewdecision"):
        response = client.get(reverse(f"admin:reports_{model}_changelist"))
        assert response.status_code == 200
        body = response.content.decode()
        for secret_text in ("secret-owner@salon.test", "沙龙待审客户", "沙龙决定", "2026-W10"):
            assert secret_text not in body, (model, secret_text)
