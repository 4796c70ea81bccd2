"""The ledger: balances are sums of append-only entries; commands are exact and idempotent."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from customers.models import Purchase
from membership.models import LedgerEntry, MemberAccount, Programme, VisitPackage
from membership.money import points_for, split_spend
from membership.services import (
    IdempotencyConflict,
    InsufficientBalance,
    LedgerRefused,
    checkout,
    coupon_issue,
    ledger_adjust,
    ledger_reconcile,
    operation_reverse,
    points_expire,
    stored_value_refund,
    top_up,
    visit_package_sell,
)
from tests.membership.conftest import open_card


def ledger_sums(account):
    rows = LedgerEntry.objects.filter(account=account)
    return (
        sum((e.principal for e in rows), Decimal("0")),
        sum((e.bonus for e in rows), Decimal("0")),
        sum(e.points for e in rows),
    )


def test_top_up_with_package_keeps_paid_and_bonus_apart(tea, products):
    account = open_card(tea)
    result = top_up(account=account, package=products["topup"], actor=tea.staff)
    account.refresh_from_db()
    assert (account.principal, account.bonus) == (Decimal("500.00"), Decimal("50.00"))
    assert result["balance"]["stored_value"] == "550.00"
    kinds = sorted(LedgerEntry.objects.filter(account=account).values_list("kind", flat=True))
    assert kinds == ["bonus", "top_up"]
    entry = LedgerEntry.objects.filter(account=account).first()
    assert entry.actor == tea.staff
    assert entry.idempotency_key == result["key"]
    assert ledger_sums(account)[:2] == (account.principal, account.bonus)


def test_checkout_pays_from_card_earns_points_and_records_the_sale(tea):
    account = open_card(tea, stored="500", bonus="100")
    result = checkout(
        account=account, amount=Decimal("60.00"), stored_value=Decimal("60.00"),
        key="till-1", actor=tea.staff, items="龙井",
    )  # fmt: skip
    account.refresh_from_db()
    # 60 split 500:100 → bonus 10.00, paid 50.00
    assert (account.principal, account.bonus) == (Decimal("450.00"), Decimal("90.00"))
    assert account.points == 60
    assert result["points_earned"] == 60
    purchase = Purchase.objects.get(pk=result["purchase"])
    assert purchase.amount == Decimal("60.00")
    assert purchase.customer == account.customer
    spend = LedgerEntry.objects.get(account=account, kind="spend")
    assert spend.purchase == purchase
    assert spend.idempotency_key == "till-1"
    assert ledger_sums(account) == (account.principal, account.bonus, account.points)


def test_checkout_replay_returns_first_result_and_conflict_on_other_body(tea, card):
    first = checkout(account=card, amount=Decimal("30"), stored_value=Decimal("30"), key="k1")
    again = checkout(account=card, amount=Decimal("30"), stored_value=Decimal("30"), key="k1")
    assert again["replayed"]
    assert {**again, "replayed": False} == first
    card.refresh_from_db()
    assert card.principal == Decimal("70.00")
    assert Purchase.objects.filter(customer=card.customer).count() == 1
    with pytest.raises(IdempotencyConflict):
        checkout(account=card, amount=Decimal("31"), stored_value=Decimal("31"), key="k1")
    card.refresh_from_db()
    assert card.principal == Decimal("70.00")


def test_overdraft_is_refused_with_a_message_and_nothing_written(tea, card):
    entries = LedgerEntry.objects.count()
    purchases = Purchase.objects.count()
    with pytest.raises(InsufficientBalance, match="Not enough stored value"):
        checkout(account=card, amount=Decimal("130"), stored_value=Decimal("130"))
    assert LedgerEntry.objects.count() == entries
    assert Purchase.objects.count() == purchases
    card.refresh_from_db()
    assert card.principal == Decimal("100.00")


def test_amounts_below_a_cent_or_negative_are_refused(tea, card):
    with pytest.raises(ValidationError):
        checkout(account=card, amount=Decimal("1.005"), stored_value=Decimal("1"))
    with pytest.raises(ValidationError):
        top_up(account=card, pay=Decimal("-5"))
    with pytest.raises(ValidationError):
        top_up(account=card, pay=Decimal("10000000"))


def test_level_discount_coupon_and_points_come_off_in_order(tea, products):
    from membership.models import MemberLevel

    gold = MemberLevel.objects.create(
        business=tea.business, name="金卡", discount_pct=Decimal("10"), reach="manual"
    )
    account = open_card(tea, stored="1000")
    MemberAccount.objects.filter(pk=account.pk).update(level=gold)
    account.refresh_from_db()
    ledger_adjust(account=account, points=500, reason="welcome gift", actor=tea.owner)
    coupon_id = coupon_issue(account=account, template=products["coupon"])["coupon"]
    coupon = account.coupons.get(pk=coupon_id)
    result = checkout(
        account=account, amount=Decimal("200.00"), coupon=coupon, points=300,
        stored_value=Decimal("157.00"),
    )  # fmt: skip
    # 200 − 10% = 180; − coupon 20 = 160; − 300 points × 0.01 = 157 due
    assert result["due"] == "157.00"
    assert result["level_discount"] == "20.00"
    assert result["points_earned"] == 157
    account.refresh_from_db()
    assert account.points == 500 - 300 + 157
    coupon.refresh_from_db()
    assert coupon.uses_left == 0
    assert coupon.state == "redeemed"
    with pytest.raises(LedgerRefused, match="already been used"):
        checkout(account=account, amount=Decimal("200"), coupon=coupon)


def test_visit_package_last_visit_takes_the_rounding_remainder(tea):
    from membership.models import VisitProduct

    product = VisitProduct.objects.create(
        business=tea.business, name="三次", visits=3, price=Decimal("100.00")
    )
    account = open_card(tea)
    package = VisitPackage.objects.get(
        pk=visit_package_sell(account=account, product=product)["visit_package"]
    )
    values = [
        checkout(account=account, amount=Decimal("0"), visit_package=package)["visit_value"]
        for _ in range(3)
    ]
    assert values == ["33.33", "33.33", "33.34"]
    package.refresh_from_db()
    assert package.visits_left == 0
    with pytest.raises(InsufficientBalance, match="No visits left"):
        checkout(account=account, amount=Decimal("0"), visit_package=package)


def test_refund_returns_paid_value_only(tea):
    account = open_card(tea, stored="100", bonus="20")
    with pytest.raises(InsufficientBalance, match="Only the paid value"):
        stored_value_refund(account=account, amount=Decimal("110"))
    stored_value_refund(account=account, amount=Decimal("100"), reason="moving away")
    account.refresh_from_db()
    assert (account.principal, account.bonus) == (Decimal("0.00"), Decimal("20.00"))


def test_reversal_names_the_entries_and_cannot_be_done_twice(tea, card):
    result = checkout(account=card, amount=Decimal("40"), stored_value=Decimal("40"))
    from membership.models import LedgerOperation

    op = LedgerOperation.objects.get(pk=result["operation"])
    operation_reverse(operation=op, reason="wrong customer", actor=tea.owner)
    card.refresh_from_db()
    assert card.principal == Decimal("100.00")
    assert card.points == 0
    reversal = LedgerEntry.objects.filter(kind="reversal").first()
    assert reversal.reverses.operation_id == op.pk
    with pytest.raises(LedgerRefused, match="already been reversed"):
        operation_reverse(operation=op, reason="again")


def test_reversing_a_spent_top_up_is_refused(tea, card):
    from membership.models import LedgerOperation

    top = LedgerOperation.objects.get(command="top_up", entries__account=card)
    checkout(account=card, amount=Decimal("50"), stored_value=Decimal("50"))
    with pytest.raises(InsufficientBalance):
        operation_reverse(operation=top, reason="mistake")
    card.refresh_from_db()
    assert card.principal == Decimal("50.00")


def test_only_the_owner_may_adjust_and_must_give_a_reason(tea, card):
    with pytest.raises(LedgerRefused, match="Only the owner"):
        ledger_adjust(account=card, principal=Decimal("5"), reason="x", actor=tea.staff)
    with pytest.raises(ValidationError):
        ledger_adjust(account=card, principal=Decimal("5"), reason=" ", actor=tea.owner)


def test_entries_cannot_be_edited_or_deleted(tea, card):
    entry = LedgerEntry.objects.filter(account=card).first()
    with pytest.raises(ValidationError):
        entry.delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(principal=Decimal("999"))
    entry.refresh_from_db()
    assert entry.principal == Decimal("100.00")


def test_points_expire_oldest_first_and_once(tea):
    from datetime import timedelta

    from django.utils import timezone

    account = open_card(tea, stored="500")
    checkout(account=account, amount=Decimal("100"), stored_value=Decimal("100"))  # +100
    checkout(account=account, amount=Decimal("40"), points=30)  # uses 30 of the oldest
    later = timezone.now() + timedelta(days=400)
    assert points_expire(business=tea.business, now=later) == 1
    assert points_expire(business=tea.business, now=later) == 0  # same day: once
    account.refresh_from_db()
    # 100 earned − 30 redeemed, and the 39 earned on the 39.70 due also expire by then
    assert account.points == 0
    assert LedgerEntry.objects.get(kind="points_expired").points == -(100 - 30 + 39)


def test_reconciliation_finds_a_tampered_balance_and_changes_nothing(tea, card):
    runs = ledger_reconcile(business=tea.business)
    assert runs[0].difference_count == 0
    assert runs[0].accounts_checked == 1
    MemberAccount.objects.filter(pk=card.pk).update(principal=Decimal("1000"))
    run = ledger_reconcile(business=tea.business)[0]
    assert run.difference_count == 1
    assert run.differences[0]["cached"][0] == "1000.00"
    assert run.differences[0]["ledger"][0] == "100.00"
    card.refresh_from_db()
    assert card.principal == Decimal("1000.00")  # reported, never "fixed"


def test_money_rules():
    assert split_spend(Decimal("60"), Decimal("500"), Decimal("100")) == (
        Decimal("50.00"), Decimal("10.00"),
    )  # fmt: skip
    assert split_spend(Decimal("0.01"), Decimal("0.01"), Decimal("0.02")) == (
        Decimal("0.00"), Decimal("0.01"),
    )  # fmt: skip
    assert points_for(Decimal("99.99"), Decimal("1")) == 99
    assert points_for(Decimal("10"), Decimal("0.5")) == 5


def test_programme_is_per_business(tea, salon):
    from membership.services import programme_for

    assert programme_for(tea.business).pk != programme_for(salon.business).pk
    assert Programme.objects.count() == 2


def test_a_business_with_a_ledger_cannot_be_deleted_only_deactivated(tea, card):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        tea.business.delete()
    assert LedgerEntry.objects.filter(account=card).exists()


def test_customer_with_a_card_merges_into_one_without_and_not_into_another_card(tea):
    from customers.services import customer_merge
    from tests.factories import CustomerFactory

    account = open_card(tea, stored="10")
    kept = CustomerFactory(business=tea.business)
    customer_merge(source=account.customer, target=kept, actor=tea.owner)
    account.refresh_from_db()
    assert account.customer == kept
    other = open_card(tea, stored="5", name="李四")
    with pytest.raises(ValidationError, match="Both customers have a member card"):
        customer_merge(source=other.customer, target=kept, actor=tea.owner)
    other.refresh_from_db()
    assert other.principal == Decimal("5.00")


def test_reconciliation_sees_a_one_cent_difference_and_visit_and_coupon_caches(tea, products):
    from membership.models import Coupon

    account = open_card(tea, stored="100.10")
    visit_package_sell(account=account, product=products["visits"])
    coupon_issue(account=account, template=products["coupon"])
    assert ledger_reconcile(business=tea.business)[0].difference_count == 0
    MemberAccount.objects.filter(pk=account.pk).update(principal=Decimal("100.11"))
    VisitPackage.objects.filter(account=account).update(visits_left=9)
    Coupon.objects.filter(account=account).update(uses_left=0)
    run = ledger_reconcile(business=tea.business)[0]
    assert sorted(d["what"] for d in run.differences) == ["account", "coupon", "visit_package"]
