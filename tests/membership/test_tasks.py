"""The nightly tasks: reconciliation reports (never fixes), points expire; a real worker too."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from membership.models import LedgerEntry, MemberAccount, ReconciliationRun
from membership.services import checkout
from membership.tasks import ledger_reconcile_nightly, points_expire_nightly
from tests.conftest import REDIS_TEST_URL, make_tenant, wait_until
from tests.membership.conftest import open_card


def test_nightly_reconciliation_reports_every_business_and_logs_differences(tea, salon, caplog):
    mine = open_card(tea, stored="100")
    open_card(salon, stored="50")
    assert ledger_reconcile_nightly.delay().get() == 0
    MemberAccount.objects.filter(pk=mine.pk).update(bonus=Decimal("5"))
    with caplog.at_level("ERROR", logger="membership"):
        assert ledger_reconcile_nightly.delay().get() == 1
    assert "differ from the ledger" in caplog.text
    runs = ReconciliationRun.objects.order_by("-id")[:2]
    by_business = {r.business_id: r.difference_count for r in runs}
    assert by_business == {tea.business.pk: 1, salon.business.pk: 0}
    mine.refresh_from_db()
    assert mine.bonus == Decimal("5.00")  # never silently fixed


def test_nightly_points_expiry(tea, monkeypatch):
    account = open_card(tea, stored="100")
    checkout(account=account, amount=Decimal("50"), stored_value=Decimal("50"))
    later = timezone.now() + timedelta(days=800)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    assert points_expire_nightly.delay().get() == 1
    account.refresh_from_db()
    assert account.points == 0
    assert LedgerEntry.objects.filter(kind="points_expired").count() == 1


@pytest.mark.celery_worker
def test_reconciliation_runs_in_a_real_worker(celery_worker, send_task):
    tenant = make_tenant("recon", "核对茶馆")
    open_card(tenant, stored="30")
    celery_worker()
    send_task("membership.tasks.ledger_reconcile_nightly")
    run = wait_until(
        lambda: ReconciliationRun.objects.filter(business=tenant.business).first(),
        what="a reconciliation run from the worker",
    )
    assert run.accounts_checked == 1
    assert run.difference_count == 0
    assert REDIS_TEST_URL


def test_reconcile_command_exits_1_on_a_difference(tea, capsys):
    from django.core.management import call_command

    card = open_card(tea, stored="10")
    call_command("reconcile_member_balances")
    assert "0 differences" in capsys.readouterr().out
    MemberAccount.objects.filter(pk=card.pk).update(points=3)
    with pytest.raises(SystemExit):
        call_command("reconcile_member_balances")
