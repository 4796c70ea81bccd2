"""Nothing half-done: a process killed with SIGKILL in the middle of a checkout (after the sale
row, before the ledger entries) leaves neither the sale nor any entry, and the card as it was."""

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from customers.models import Purchase
from membership.models import LedgerEntry, LedgerOperation
from membership.services import checkout
from tests.conftest import _worker_database_url, make_tenant, wait_until
from tests.membership.conftest import open_card

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import django
django.setup()
from decimal import Decimal
from membership.models import MemberAccount
from membership.services import checkout
checkout(account=MemberAccount.objects.get(pk={pk}), amount=Decimal("30"),
         stored_value=Decimal("30"), key="killed-1")
"""


def test_a_checkout_killed_midway_leaves_nothing_and_can_be_sent_again(transactional_db):
    tenant = make_tenant("kill", "断电茶馆")
    account = open_card(tenant, stored="100")
    before = (Purchase.objects.count(), LedgerEntry.objects.count())
    log_path = ROOT / "var" / "killed-checkout.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_project.settings.test",
        "DATABASE_URL": _worker_database_url(),
        "XW_TEST_PAUSE_IN_CHECKOUT": "30",
    }
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT.format(pk=account.pk)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until(
            lambda: "checkout paused for a test" in log_path.read_text(),
            timeout=60,
            what="the checkout to reach its pause",
        )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(0.2)
    assert (Purchase.objects.count(), LedgerEntry.objects.count()) == before
    assert not LedgerOperation.objects.filter(key="killed-1").exists()
    account.refresh_from_db()
    assert account.principal == Decimal("100.00")
    # The till resends the same key: it goes through once, whole.
    result = checkout(
        account=account, amount=Decimal("30"), stored_value=Decimal("30"), key="killed-1"
    )
    assert not result["replayed"]
    account.refresh_from_db()
    assert account.principal == Decimal("70.00")
    assert Purchase.objects.count() == before[0] + 1
