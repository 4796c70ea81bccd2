"""The weekly dispatch through a real Celery worker on Redis, e-mailing through a real local
SMTP server: one report per business, each owner mailed once however often it runs."""

import pytest

from reports.models import ReportRecipient, WeeklyReport
from reports.weeks import last_completed_week
from tests.conftest import wait_until
from tests.factories import CustomerFactory, PurchaseFactory

pytestmark = pytest.mark.celery_worker


def test_dispatch_fans_out_one_build_per_business_and_mails_once(
    tea, salon, celery_worker, send_task, mailbox, settings
):
    for tenant in (tea, salon):
        customer = CustomerFactory(business=tenant.business)
        PurchaseFactory(customer=customer)
    tea.owner.email = "owner@tea.test"
    tea.owner.save()
    ReportRecipient.objects.create(business=tea.business, user=tea.owner)
    celery_worker(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(settings.EMAIL_PORT),
    )
    send_task("reports.tasks.weekly_reports_dispatch")
    wait_until(
        lambda: WeeklyReport.objects.filter(status="ready").count() == 2 and mailbox.messages,
        what="two ready reports and one e-mail",
    )
    week = last_completed_week(tea.business)
    assert set(WeeklyReport.objects.values_list("business_id", "week_start")) == {
        (tea.business.pk, week), (salon.business.pk, week)
    }  # fmt: skip
    # Redelivered or repeated: the same build task again, and another dispatch.
    send_task("reports.tasks.weekly_report_build", tea.business.pk, week.isoformat())
    send_task("reports.tasks.weekly_reports_dispatch")
    import time

    time.sleep(4)
    assert WeeklyReport.objects.count() == 2
    assert len(mailbox.messages) == 1
    assert mailbox.envelopes[0].rcpt_tos == ["owner@tea.test"]
