"""No overdraft, ever: concurrent spends through the service (threads, one connection each)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from membership.models import LedgerEntry, MemberAccount, VisitPackage, VisitProduct
from membership.services import (
    InsufficientBalance,
    checkout,
    ledger_adjust,
    ledger_reconcile,
    visit_package_sell,
)
from tests.conftest import make_tenant
from tests.membership.conftest import open_card

THREADS = 16


def race(call) -> tuple[list, list]:
    """Run `call(i)` in 16 threads released together; (results, refusals)."""
    barrier = threading.Barrier(THREADS)
    accepted, refused, crashed = [], [], []

    def run(i: int) -> None:
        try:
            barrier.wait()
            accepted.append(call(i))
        except InsufficientBalance as exc:
            refused.append(exc.messages[0])
        except Exception as exc:
            crashed.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not crashed, crashed
    return accepted, refused


@pytest.fixture
def tenant(transactional_db):
    return make_tenant("race", "并发茶馆")


def test_16_concurrent_spends_of_30_against_100_accept_exactly_3(tenant):
    account = open_card(tenant, stored="100")
    accepted, refused = race(
        lambda i: checkout(
            account=MemberAccount.objects.get(pk=account.pk), amount=Decimal("30"),
            stored_value=Decimal("30"), key=f"spend-{i}", earn_points=False,
        )
    )  # fmt: skip
    assert len(accepted) == 3
    assert len(refused) == 13
    assert all("Not enough stored value" in message for message in refused)
    account.refresh_from_db()
    assert account.principal + account.bonus == Decimal("10.00")
    assert LedgerEntry.objects.filter(account=account, kind="spend").count() == 3
    assert ledger_reconcile(business=tenant.business)[0].difference_count == 0


def test_16_concurrent_uses_of_the_last_visit_accept_exactly_1(tenant):
    product = VisitProduct.objects.create(
        business=tenant.business, name="洗车", visits=3, price=Decimal("90")
    )
    account = open_card(tenant)
    package = VisitPackage.objects.get(
        pk=visit_package_sell(account=account, product=product)["visit_package"]
    )
    for _ in range(2):
        checkout(account=account, amount=Decimal("0"), visit_package=package)
    accepted, refused = race(
        lambda i: checkout(
            account=MemberAccount.objects.get(pk=account.pk), amount=Decimal("0"),
            visit_package=package, key=f"visit-{i}",
        )
    )  # fmt: skip
    assert len(accepted) == 1
    assert len(refused) == 15
    assert all("No visits left" in message for message in refused)
    package.refresh_from_db()
    assert package.visits_left == 0


def test_16_concurrent_point_redemptions_of_300_against_1000_accept_exactly_3(tenant):
    account = open_card(tenant)
    ledger_adjust(account=account, points=1000, reason="gift", actor=tenant.owner)
    accepted, refused = race(
        lambda i: checkout(
            account=MemberAccount.objects.get(pk=account.pk), amount=Decimal("10"),
            points=300, key=f"points-{i}", earn_points=False,
        )
    )  # fmt: skip
    assert len(accepted) == 3
    assert len(refused) == 13
    assert all("Not enough points" in message for message in refused)
    account.refresh_from_db()
    assert account.points == 100


def test_16_concurrent_resends_of_one_key_write_once(tenant):
    account = open_card(tenant, stored="100")
    accepted, refused = race(
        lambda i: checkout(
            account=MemberAccount.objects.get(pk=account.pk), amount=Decimal("30"),
            stored_value=Decimal("30"), key="same-key",
        )
    )  # fmt: skip
    assert len(accepted) == THREADS
    assert not refused
    assert len({r["operation"] for r in accepted}) == 1
    assert sum(1 for r in accepted if not r["replayed"]) == 1
    account.refresh_from_db()
    assert account.principal == Decimal("70.00")
    assert connection.vendor in ("sqlite", "postgresql")
