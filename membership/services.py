"""Every write of the member programme: accounts, top-ups, checkout, reversals, expiry and
the nightly reconciliation. The ledger is written here and nowhere else.

Each command is keyword-only, runs in ONE transaction, locks the member account first (row lock
on PostgreSQL; SQLite's IMMEDIATE transactions serialise writers) and is idempotent: the same
`key` with the same arguments returns the first result and writes nothing; the same key with
other arguments raises `IdempotencyConflict`. Results are plain JSON-able dicts (money as
strings with two decimals), identical on the first call and on every replay.

    result = checkout(account=acct, amount=Decimal("88.00"), stored_value=Decimal("88.00"),
                      key="till-42-7781", actor=request.user)
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Business
from accounts.tenancy import is_owner
from customers.models import Customer, Purchase
from customers.money import AMOUNT_MAX, format_money
from customers.services import IngestRejected, purchases_ingest

from .models import (
    Coupon,
    CouponTemplate,
    LedgerEntry,
    LedgerOperation,
    MemberAccount,
    MemberLevel,
    Programme,
    ReconciliationRun,
    TopUpPackage,
    VisitPackage,
    VisitProduct,
)
from .money import ZERO, cents, points_for, split_spend

log = logging.getLogger("membership")
Kind = LedgerEntry.Kind
KEY_MAX = 80
POINTS_MAX = 10**9


class LedgerRefused(ValidationError):
    """A command the ledger cannot carry out (not enough balance, expired coupon…): nothing
    was written. `code` names the reason for API clients."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message, code=code)
        self.refusal = code


class InsufficientBalance(LedgerRefused):
    def __init__(self, message: str):
        super().__init__(message, code="insufficient_balance")


class IdempotencyConflict(LedgerRefused):
    def __init__(self, key: str):
        super().__init__(
            _(
                "The idempotency key %(key)s was already used for a different request. "
                "Use a new key for a new request."
            )
            % {"key": key},
            code="idempotency_conflict",
        )


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _fingerprint(command: str, payload: dict[str, Any]) -> str:
    text = json.dumps({"command": command, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _actor_label(actor: Any, label: str) -> str:
    if label:
        return label[:80]
    if actor is None:
        return ""
    return str(getattr(actor, "username", "") or actor)[:80]


def programme_for(business: Business | int) -> Programme:
    """The business's programme, created with the defaults on first use."""
    business_id = getattr(business, "pk", business)
    programme = Programme.objects.for_business(business_id).first()
    if programme is None:
        try:
            with transaction.atomic():
                programme = Programme.objects.create(business_id=business_id)
        except IntegrityError:
            programme = Programme.objects.get(business_id=business_id)
    return programme


def balances(account: MemberAccount) -> dict[str, Any]:
    return {
        "principal": _money(account.principal),
        "bonus": _money(account.bonus),
        "stored_value": _money(account.principal + account.bonus),
        "points": account.points,
    }


# --- the one writer of the ledger ----------------------------------------------------------


@dataclass
class _Posting:
    """The entries of one operation, collected, then written with their cached balances."""

    op: LedgerOperation
    account: MemberAccount
    actor: User | None
    actor_label: str
    now: datetime
    entries: list[LedgerEntry] = field(default_factory=list)

    def add(self, kind: str, **values: Any) -> LedgerEntry:
        entry = LedgerEntry(
            business_id=self.account.business_id,
            account=self.account,
            operation=self.op,
            kind=kind,
            actor=self.actor if getattr(self.actor, "pk", None) else None,
            actor_label=self.actor_label,
            idempotency_key=self.op.key,
            created_at=self.now,
            **values,
        )
        self.entries.append(entry)
        return entry

    def write(self) -> list[LedgerEntry]:
        d_principal = sum((e.principal for e in self.entries), ZERO)
        d_bonus = sum((e.bonus for e in self.entries), ZERO)
        d_points = sum(e.points for e in self.entries)
        account = self.account
        new_principal = account.principal + d_principal
        new_bonus = account.bonus + d_bonus
        new_points = account.points + d_points
        if new_principal < 0 or new_bonus < 0:
            raise InsufficientBalance(
                _("Not enough stored value: the card holds %(have)s.")
                % {"have": format_money(account.principal + account.bonus)}
            )
        if new_points < 0:
            raise InsufficientBalance(
                _("Not enough points: the card holds %(have)d points.") % {"have": account.points}
            )
        per_package: dict[int, int] = defaultdict(int)
        per_coupon: dict[int, int] = defaultdict(int)
        for e in self.entries:
            if e.visits:
                per_package[e.visit_package.pk] += e.visits
            if e.coupons:
                per_coupon[e.coupon.pk] += e.coupons
        for pk, delta in per_package.items():
            # The account lock serialises this; the condition is the belt to those braces.
            updated = VisitPackage.objects.filter(pk=pk, visits_left__gte=-delta).update(
                visits_left=F("visits_left") + delta
            )
            if not updated:
                raise InsufficientBalance(_("No visits left on this package."))
        for pk, delta in per_coupon.items():
            updated = Coupon.objects.filter(pk=pk, uses_left__gte=-delta).update(
                uses_left=F("uses_left") + delta
            )
            if not updated:
                raise LedgerRefused(_("This coupon has already been used."), "coupon_used")
        if d_principal or d_bonus or d_points:
            MemberAccount.objects.filter(pk=account.pk).update(
                principal=F("principal") + d_principal,
                bonus=F("bonus") + d_bonus,
                points=F("points") + d_points,
            )
        account.principal, account.bonus, account.points = new_principal, new_bonus, new_points
        return LedgerEntry.objects.bulk_create(self.entries)


def _operation(
    *,
    account: MemberAccount,
    command: str,
    key: str,
    payload: dict[str, Any],
    actor: Any,
    actor_label: str,
    work: Callable[[_Posting], dict[str, Any]],
) -> dict[str, Any]:
    """Run `work` as one idempotent operation on the locked account; see the module doc."""
    key = (key or "").strip() or f"xw-{uuid.uuid4().hex}"
    if len(key) > KEY_MAX:
        raise LedgerRefused(
            _("The idempotency key is longer than %(max)d characters.") % {"max": KEY_MAX},
            "invalid_key",
        )
    fingerprint = _fingerprint(command, {"account": account.pk, **payload})
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _operation_once(
                    account=account, command=command, key=key, fingerprint=fingerprint,
                    actor=actor, actor_label=actor_label, work=work,
                )  # fmt: skip
        except IntegrityError:
            # A concurrent request with the same key won the race: the retry replays it.
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _operation_once(*, account, command, key, fingerprint, actor, actor_label, work):
    business_id = account.business_id
    done = LedgerOperation.objects.for_business(business_id).filter(key=key).first()
    if done is not None:
        if done.request_hash != fingerprint:
            raise IdempotencyConflict(key)
        return {**done.result, "replayed": True}
    locked = (
        MemberAccount.objects.select_for_update(of=("self",))
        .select_related("customer__business", "level")
        .filter(pk=account.pk)
        .first()
    )
    if locked is None:
        raise LedgerRefused(_("This member account does not exist."), "not_found")
    now = timezone.now()
    op = LedgerOperation.objects.create(
        business_id=business_id, key=key, request_hash=fingerprint, command=command, created_at=now
    )
    posting = _Posting(op, locked, actor, _actor_label(actor, actor_label), now)
    result = work(posting)
    entries = posting.write()
    result = {
        "operation": op.pk,
        "key": key,
        "command": command,
        "account": locked.pk,
        "card_no": locked.card_no,
        **result,
        "entries": [e.pk for e in entries],
        "balance": balances(locked),
        "created_at": now.isoformat(),
    }
    LedgerOperation.objects.filter(pk=op.pk).update(result=result)
    for attr in ("principal", "bonus", "points"):
        setattr(account, attr, getattr(locked, attr))
    return {**result, "replayed": False}


# --- accounts ------------------------------------------------------------------------------


def _new_card_no(business_id: int) -> str:
    for _attempt in range(20):
        card_no = f"{secrets.randbelow(9 * 10**9) + 10**9}"
        if not MemberAccount.objects.for_business(business_id).filter(card_no=card_no).exists():
            return card_no
    raise LedgerRefused(_("Could not find a free card number; please try again."))


@transaction.atomic
def account_open(
    *, customer: Customer, card_no: str = "", level: MemberLevel | None = None
) -> MemberAccount:
    """The customer's member card, opened if they have none (opening twice returns it)."""
    existing = MemberAccount.objects.filter(customer=customer).first()
    if existing is not None:
        return existing
    card_no = (card_no or "").strip() or _new_card_no(customer.business_id)
    if level is not None and level.business_id != customer.business_id:
        raise ValidationError({"level": _("This level belongs to another business.")})
    account = MemberAccount(
        business_id=customer.business_id, customer=customer, card_no=card_no, level=level
    )
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def card_link_renew(*, account: MemberAccount) -> MemberAccount:
    """A new card link: the old link and printed QR code stop working."""
    MemberAccount.objects.filter(pk=account.pk).update(card_version=F("card_version") + 1)
    account.refresh_from_db(fields=["card_version"])
    return account


def _positive_money(value: Decimal | None, name: str, *, allow_zero: bool = False) -> Decimal:
    if value is None:
        return ZERO
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    if value != cents(value):
        raise ValidationError({name: _("Give amounts to the cent (two decimals at most).")})
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError({name: _("The amount must be more than zero.")})
    if value > AMOUNT_MAX:
        raise ValidationError(
            {name: _("The amount is larger than %(max)s.") % {"max": format_money(AMOUNT_MAX)}}
        )
    return value


def _maybe_upgrade(account: MemberAccount) -> None:
    """Move the account up to the best automatic level it has reached (never down)."""
    levels = list(
        MemberLevel.objects.for_business(account.business_id).exclude(
            reach=MemberLevel.Reach.MANUAL
        )
    )
    if not levels:
        return
    totals: dict[str, Decimal] = {}
    if any(lv.reach == MemberLevel.Reach.SPEND for lv in levels):
        totals[MemberLevel.Reach.SPEND] = (
            Purchase.objects.filter(customer_id=account.customer_id).aggregate(s=Sum("amount"))["s"]
            or ZERO
        )
    if any(lv.reach == MemberLevel.Reach.TOP_UP for lv in levels):
        totals[MemberLevel.Reach.TOP_UP] = (
            LedgerEntry.objects.filter(
                account=account, kind__in=(Kind.TOP_UP, Kind.OPENING)
            ).aggregate(s=Sum("principal"))["s"]
            or ZERO
        )
    reached = [lv for lv in levels if totals.get(lv.reach, ZERO) >= lv.threshold]
    if not reached:
        return
    best = max(reached, key=lambda lv: (lv.discount_pct, lv.threshold))
    current = account.level
    if current is None or best.discount_pct > current.discount_pct:
        MemberAccount.objects.filter(pk=account.pk).update(level=best)
        account.level = best


# --- commands ------------------------------------------------------------------------------


def top_up(
    *,
    account: MemberAccount,
    pay: Decimal | None = None,
    bonus: Decimal | None = None,
    package: TopUpPackage | None = None,
    key: str = "",
    actor: Any = None,
    actor_label: str = "",
) -> dict[str, Any]:
    """The customer pays `pay` (outside the card: cash, WeChat Pay…) and the card gets `pay`
    as paid value plus `bonus` as bonus value. With `package`, its pay and bonus are used."""
    if package is not None:
        if package.business_id != account.business_id:
            raise ValidationError({"package": _("This package belongs to another business.")})
        if not package.active:
            raise ValidationError({"package": _("This top-up package is no longer on sale.")})
        pay, bonus = package.pay, package.bonus
    pay = _positive_money(pay, "pay")
    bonus = _positive_money(bonus, "bonus", allow_zero=True)

    def work(p: _Posting) -> dict[str, Any]:
        p.add(Kind.TOP_UP, principal=pay, value=pay)
        if bonus:
            p.add(Kind.BONUS, bonus=bonus, value=bonus)
        return {"paid": _money(pay), "bonus": _money(bonus)}

    result = _operation(
        account=account, command="top_up", key=key,
        payload={"pay": pay, "bonus": bonus, "package": getattr(package, "pk", None)},
        actor=actor, actor_label=actor_label, work=work,
    )  # fmt: skip
    if not result["replayed"]:
        _maybe_upgrade(account)
    return result


def visit_package_sell(
    *,
    account: MemberAccount,
    product: VisitProduct,
    key: str = "",
    actor: Any = None,
    actor_label: str = "",
) -> dict[str, Any]:
    """Sell a visit package (paid outside the card); its visits go on the card."""
    if product.business_id != account.business_id:
        raise ValidationError({"product": _("This product belongs to another business.")})
    if not product.active:
        raise ValidationError({"product": _("This visit package is no longer on sale.")})

    def work(p: _Posting) -> dict[str, Any]:
        package = VisitPackage.objects.create(
            business_id=account.business_id,
            account=p.account,
            product=product,
            name=product.name,
            visits_total=product.visits,
            price=product.price,
            expires_at=(p.now + timedelta(days=product.validity_days))
            if product.validity_days
            else None,
            created_at=p.now,
        )
        p.add(Kind.VISITS_SOLD, visits=product.visits, visit_package=package, value=product.price)
        return {"visit_package": package.pk, "visits": product.visits}

    return _operation(
        account=account, command="visits_sell", key=key, payload={"product": product.pk},
        actor=actor, actor_label=actor_label, work=work,
    )  # fmt: skip


def coupon_issue(
    *,
    account: MemberAccount,
    template: CouponTemplate,
    key: str = "",
    actor: Any = None,
    actor_label: str = "",
) -> dict[str, Any]:
    if template.business_id != account.business_id:
        raise ValidationError({"template": _("This coupon belongs to another business.")})

    def work(p: _Posting) -> dict[str, Any]:
        coupon = Coupon.objects.create(
            business_id=account.business_id,
            account=p.account,
            template=template,
            code=secrets.token_hex(5).upper(),
            issued_at=p.now,
            expires_at=p.now + timedelta(days=template.validity_days),
        )
        p.add(Kind.COUPON_ISSUED, coupons=1, coupon=coupon)
        return {"coupon": coupon.pk, "code": coupon.code}

    return _operation(
        account=account, command="coupon_issue", key=key, payload={"template": template.pk},
        actor=actor, actor_label=actor_label, work=work,
    )  # fmt: skip


def stored_value_refund(
    *,
    account: MemberAccount,
    amount: Decimal,
    reason: str = "",
    key: str = "",
    actor: Any = None,
    actor_label: str = "",
) -> dict[str, Any]:
    """Give paid value back to the customer (in cash): refunds return paid value only; the
    bonus stays on the card (or is removed by an owner's adjustment)."""
    amount = _positive_money(amount, "amount")

    def work(p: _Posting) -> dict[str, Any]:
        if amount > p.account.principal:
            raise InsufficientBalance(
                _("Only the paid value can be refunded: %(have)s is on the card.")
                % {"have": format_money(p.account.principal)}
            )
        p.add(Kind.REFUND, principal=-amount, value=amount, reason=reason[:200])
        return {"refunded": _money(amount)}

    return _operation(
        account=account, command="refund", key=key, payload={"amount": amount, "reason": reason},
        actor=actor, actor_label=actor_label, work=work,
    )  # fmt: skip


def ledger_adjust(
    *,
    account: MemberAccount,
    reason: str,
    actor: User,
    principal: Decimal = ZERO,
    bonus: Decimal = ZERO,
    points: int = 0,
    key: str = "",
) -> dict[str, Any]:
    """A correction by the owner, with a reason: the only free-form change of a balance."""
    if not is_owner(actor):
        raise LedgerRefused(_("Only the owner may adjust a balance."), "forbidden")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the balance is adjusted.")})
    for name, value in (("principal", principal), ("bonus", bonus)):
        if value != cents(value) or abs(value) > AMOUNT_MAX:
            raise ValidationError({name: _("Give amounts to the cent, at most 1,000,000.")})
    if abs(points) > POINTS_MAX:
        raise ValidationError({"points": _("Too many points.")})
    if not (principal or bonus or points):
        raise ValidationError(_("Nothing to adjust: every change is zero."))

    def work(p: _Posting) -> dict[str, Any]:
        p.add(Kind.ADJUSTMENT, principal=principal, bonus=bonus, points=points, reason=reason[:200])
        return {}

    return _operation(
        account=account, command="adjust", key=key,
        payload={"principal": principal, "bonus": bonus, "points": points, "reason": reason},
        actor=actor, actor_label="", work=work,
    )  # fmt: skip


def operation_reverse(
    *,
    operation: LedgerOperation,
    reason: str,
    key: str = "",
    actor: Any = None,
    actor_label: str = "",
) -> dict[str, Any]:
    """Reverse every entry of `operation` with new entries that name them. Refused when the
    money, visits or points it put on the card have been used since (nothing is written)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why this is reversed.")})
    entries = list(operation.entries.select_related("account"))
    if not entries:
        raise LedgerRefused(_("This operation has no entries to reverse."))
    account = entries[0].account

    def work(p: _Posting) -> dict[str, Any]:
        reversed_ids = set(
            LedgerEntry.objects.filter(reverses__in=entries).values_list("reverses_id", flat=True)
        )
        if reversed_ids:
            raise LedgerRefused(_("This operation has already been reversed."), "reversed")
        for e in entries:
            p.add(
                Kind.REVERSAL, principal=-e.principal, bonus=-e.bonus, points=-e.points,
                visits=-e.visits, coupons=-e.coupons, visit_package=e.visit_package,
                coupon=e.coupon, value=e.value, reverses=e, purchase=e.purchase,
                reason=reason[:200],
            )  # fmt: skip
        return {"reverses": operation.pk}

    return _operation(
        account=account, command="reverse", key=key,
        payload={"operation": operation.pk, "reason": reason},
        actor=actor, actor_label=actor_label, work=work,
    )  # fmt: skip


@dataclass(frozen=True)
class _Due:
    amount: Decimal
    level_discount: Decimal
    coupon_discount: Decimal
    points_discount: Decimal

    @property
    def due(self) -> Decimal:
        return self.amount - self.level_discount - self.coupon_discount - self.points_discount


def _coupon_discount(coupon: Coupon, base: Decimal, now: datetime) -> Decimal:
    template = coupon.template
    if coupon.uses_left < 1:
        raise LedgerRefused(_("This coupon has already been used."), "coupon_used")
    if coupon.expires_at <= now:
        raise LedgerRefused(_("This coupon has expired."), "coupon_expired")
    if base < template.min_spend:
        raise LedgerRefused(
            _("This coupon needs a spend of at least %(min)s.")
            % {"min": format_money(template.min_spend)},
            "coupon_min_spend",
        )
    if template.kind == CouponTemplate.Kind.PERCENT_OFF:
        return min(cents(base * template.value / 100), base)
    return min(template.value, base)


def checkout(
    *,
    account: MemberAccount,
    amount: Decimal,
    key: str = "",
    actor: Any = None,
    actor_label: str = "",
    stored_value: Decimal = ZERO,
    visit_package: VisitPackage | None = None,
    points: int = 0,
    coupon: Coupon | None = None,
    earn_points: bool = True,
    occurred_at: datetime | None = None,
    items: str = "",
    channel: str = "",
    external_id: str = "",
) -> dict[str, Any]:
    """Record a sale to a member and take payment from the card, in ONE transaction.

    `amount` is the price of what is sold (0 when only a visit is used). The level's discount,
    then the `coupon`, then `points` (worth `Programme.point_value` each) come off it; of
    what is left (the amount due) `stored_value` is paid from the card (paid and bonus value
    in proportion) and the rest outside it. `visit_package` uses one visit. Points are earned
    on the amount due. The sale goes to the customer's purchases (amount due plus the used
    visit's share of its package price) through `customers.services.purchases_ingest`.

    Raises ValidationError / LedgerRefused (InsufficientBalance, IdempotencyConflict) with a
    message for the customer; then nothing at all was written."""
    amount = _positive_money(amount, "amount", allow_zero=True)
    stored_value = _positive_money(stored_value, "stored_value", allow_zero=True)
    if not isinstance(points, int) or not 0 <= points <= POINTS_MAX:
        raise ValidationError({"points": _("Give a whole number of points.")})
    for obj, name in ((visit_package, "visit_package"), (coupon, "coupon")):
        if obj is not None and obj.account_id != account.pk:
            raise ValidationError({name: _("This belongs to another member's card.")})
    if amount == 0 and visit_package is None:
        raise ValidationError({"amount": _("Give the amount of the sale, or use a visit.")})
    items, channel, external_id = items[:5000], channel[:40], external_id.strip()[:64]
    programme = programme_for(account.business_id)

    def work(p: _Posting) -> dict[str, Any]:
        locked = p.account
        now = p.now
        level = locked.level
        level_discount = cents(amount * level.discount_pct / 100) if level else ZERO
        base = amount - level_discount
        coupon_discount = ZERO
        if coupon is not None:
            fresh = Coupon.objects.select_related("template").get(pk=coupon.pk)
            coupon_discount = _coupon_discount(fresh, base, now)
        points_discount = cents(points * programme.point_value) if points else ZERO
        if points_discount > base - coupon_discount:
            raise LedgerRefused(
                _("%(points)d points are worth more than the amount due.") % {"points": points},
                "points_exceed_due",
            )
        due = _Due(amount, level_discount, coupon_discount, points_discount).due
        if stored_value > due:
            raise LedgerRefused(
                _("The card payment %(pay)s is more than the amount due %(due)s.")
                % {"pay": format_money(stored_value), "due": format_money(due)},
                "overpayment",
            )
        if points > locked.points:
            raise InsufficientBalance(
                _("Not enough points: the card holds %(have)d points.") % {"have": locked.points}
            )
        if stored_value > locked.principal + locked.bonus:
            raise InsufficientBalance(
                _("Not enough stored value: the card holds %(have)s, the payment is %(pay)s.")
                % {
                    "have": format_money(locked.principal + locked.bonus),
                    "pay": format_money(stored_value),
                }
            )
        visit_value = ZERO
        if visit_package is not None:
            package = VisitPackage.objects.get(pk=visit_package.pk)
            if package.visits_left < 1:
                raise InsufficientBalance(_("No visits left on this package."))
            if package.expires_at is not None and package.expires_at <= now:
                raise LedgerRefused(_("This visit package has expired."), "package_expired")
            visit_value = package.unit_value
            if package.visits_left == 1:  # the last visit takes the rounding remainder
                visit_value = package.price - package.unit_value * (package.visits_total - 1)
                visit_value = max(visit_value, ZERO)
        earns = earn_points and programme.enabled
        earned = points_for(due, programme.points_per_yuan) if earns else 0
        purchase_id = _record_sale(
            account=locked, amount=due + visit_value, occurred_at=occurred_at or now,
            items=items, channel=channel, external_id=external_id or f"xw-m-{p.op.key}"[:64],
        )  # fmt: skip
        sale = {"purchase_id": purchase_id}
        _test_pause()
        if coupon is not None:
            p.add(Kind.COUPON_REDEEMED, coupons=-1, coupon=coupon, value=coupon_discount, **sale)
        if points:
            p.add(Kind.POINTS_REDEEMED, points=-points, value=points_discount, **sale)
        if stored_value:
            from_principal, from_bonus = split_spend(stored_value, locked.principal, locked.bonus)
            p.add(Kind.SPEND, principal=-from_principal, bonus=-from_bonus, value=stored_value,
                  **sale)  # fmt: skip
        if visit_package is not None:
            p.add(Kind.VISIT_USED, visits=-1, visit_package=visit_package, value=visit_value,
                  **sale)  # fmt: skip
        if earned:
            months = programme.points_expiry_months
            expires = _add_months(now, months) if months else None
            p.add(Kind.POINTS_EARNED, points=earned, points_expire_at=expires, value=due, **sale)
        return {
            "purchase": purchase_id,
            "amount": _money(amount),
            "level_discount": _money(level_discount),
            "coupon_discount": _money(coupon_discount),
            "points_discount": _money(points_discount),
            "due": _money(due),
            "paid_stored_value": _money(stored_value),
            "paid_other": _money(due - stored_value),
            "visit_value": _money(visit_value),
            "points_redeemed": points,
            "points_earned": earned,
        }

    result = _operation(
        account=account, command="checkout", key=key,
        payload={
            "amount": amount, "stored_value": stored_value, "points": points,
            "visit_package": getattr(visit_package, "pk", None),
            "coupon": getattr(coupon, "pk", None), "earn_points": earn_points,
            "occurred_at": occurred_at, "items": items, "channel": channel,
            "external_id": external_id,
        },
        actor=actor, actor_label=actor_label, work=work,
    )  # fmt: skip
    if not result["replayed"]:
        _maybe_upgrade(account)
    return result


def _test_pause() -> None:
    # Tests only: a pause between the sale and its entries, so a test can kill the process.
    pause = settings.XW_TEST_PAUSE_IN_CHECKOUT
    if pause:
        log.warning("checkout paused for a test")
        time.sleep(pause)


def _record_sale(
    *, account: MemberAccount, amount: Decimal, occurred_at: datetime, items: str,
    channel: str, external_id: str,
) -> int:  # fmt: skip
    item = {
        "customer": account.customer_id,
        "customer_no": "",
        "phone": "",
        "occurred_at": occurred_at,
        "amount": amount,
        "items": items,
        "channel": channel,
        "external_id": external_id,
    }
    try:
        rows = purchases_ingest(business=account.customer.business, items=[item])
    except IngestRejected as exc:  # pragma: no cover - the customer is given
        raise LedgerRefused(str(exc.errors)) from exc
    if rows[0]["status"] != "created":
        raise LedgerRefused(
            _("A sale with the external id %(id)s is already recorded.") % {"id": external_id},
            "duplicate_sale",
        )
    return rows[0]["id"]


def _add_months(when: datetime, months: int) -> datetime:
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    for day in (when.day, 30, 29, 28):
        try:
            return when.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


# --- opening balances (migration from another system) --------------------------------------


def account_opening(
    *,
    customer: Customer,
    card_no: str = "",
    principal: Decimal = ZERO,
    bonus: Decimal = ZERO,
    points: int = 0,
    visits: int = 0,
    visits_name: str = "",
    visits_expire_at: datetime | None = None,
    key: str = "",
    actor: Any = None,
    actor_label: str = "",
) -> dict[str, Any]:
    """Carry a card over from the shop's old system as opening entries."""
    account = account_open(customer=customer, card_no=card_no)
    principal = _positive_money(principal, "principal", allow_zero=True)
    bonus = _positive_money(bonus, "bonus", allow_zero=True)

    def work(p: _Posting) -> dict[str, Any]:
        if principal or bonus or points:
            p.add(Kind.OPENING, principal=principal, bonus=bonus, points=points,
                  reason="opening balance")  # fmt: skip
        if visits:
            package = VisitPackage.objects.create(
                business_id=account.business_id, account=p.account,
                name=visits_name or str(_("Visits carried over")), visits_total=visits,
                expires_at=visits_expire_at, created_at=p.now,
            )  # fmt: skip
            p.add(Kind.OPENING, visits=visits, visit_package=package, reason="opening visits")
        return {}

    return _operation(
        account=account, command="opening", key=key,
        payload={"principal": principal, "bonus": bonus, "points": points, "visits": visits,
                 "visits_name": visits_name, "visits_expire_at": visits_expire_at},
        actor=actor, actor_label=actor_label, work=work,
    )  # fmt: skip


# --- nightly jobs --------------------------------------------------------------------------


def points_expire(*, business: Business, now: datetime | None = None) -> int:
    """Expire points whose date has passed, oldest first (redemptions use the oldest points
    first). Idempotent per account and day. Returns how many accounts lost points."""
    now = now or timezone.now()
    earned = dict(
        LedgerEntry.objects.for_business(business)
        .filter(points__gt=0, points_expire_at__lte=now, reverses__isnull=True)
        .values("account_id")
        .annotate(s=Sum("points"))
        .values_list("account_id", "s")
    )
    if not earned:
        return 0
    used = dict(
        LedgerEntry.objects.for_business(business)
        .filter(account_id__in=earned, points__lt=0)
        .values("account_id")
        .annotate(s=Sum("points"))
        .values_list("account_id", "s")
    )
    count = 0
    day = timezone.localdate(now).isoformat()
    for account in MemberAccount.objects.filter(pk__in=earned):
        lapse = min(earned[account.pk] + (used.get(account.pk) or 0), account.points)
        if lapse <= 0:
            continue

        def work(p: _Posting, lapse: int = lapse) -> dict[str, Any]:
            p.add(Kind.POINTS_EXPIRED, points=-lapse, reason="expired")
            return {"points_expired": lapse}

        _operation(
            account=account, command="points_expire", key=f"expire:{account.pk}:{day}",
            payload={"day": day}, actor=None, actor_label="nightly", work=work,
        )  # fmt: skip
        count += 1
    return count


def ledger_reconcile(*, business: Business | None = None) -> list[ReconciliationRun]:
    """Recompute every balance from its entries and compare with the cached balances.

    Differences are recorded (one ReconciliationRun per business, shown to the owner in the
    admin) and logged; nothing is "fixed": a difference is a bug or tampering to look into."""
    started = timezone.now()
    e, a = LedgerEntry._meta.db_table, MemberAccount._meta.db_table
    p, c = VisitPackage._meta.db_table, Coupon._meta.db_table
    only = "AND business_id = %s" if business is not None else ""
    params = [business.pk, business.pk] if business is not None else []
    # One GROUP BY pass over the entries per pocket, LEFT JOINed from the cached side (a
    # pocket without entries sums to zero). Table names come from the models, not input.
    queries = {
        "account": (
            "SELECT a.business_id, a.id, a.principal, a.bonus, a.points, COALESCE(s.p, 0), "
            "COALESCE(s.b, 0), COALESCE(s.pt, 0) FROM {a} a LEFT JOIN (SELECT account_id, "
            "SUM(principal) p, SUM(bonus) b, SUM(points) pt FROM {e} WHERE 1=1 {only} "
            "GROUP BY account_id) s ON s.account_id = a.id WHERE 1=1 {only} "
            # Compared in the database, so only differing rows travel. Half a cent of
            # tolerance: SQLite may sum its decimals as floating point.
            "AND (ABS(a.principal - COALESCE(s.p, 0)) >= 0.005 "
            "OR ABS(a.bonus - COALESCE(s.b, 0)) >= 0.005 OR a.points <> COALESCE(s.pt, 0))"
        ),
        "visit_package": (
            "SELECT a.business_id, a.id, a.visits_left, COALESCE(s.v, 0) FROM {p} a LEFT JOIN "
            "(SELECT visit_package_id, SUM(visits) v FROM {e} WHERE visit_package_id IS NOT "
            "NULL {only} GROUP BY visit_package_id) s ON s.visit_package_id = a.id "
            "WHERE 1=1 {only} AND a.visits_left <> COALESCE(s.v, 0)"
        ),
        "coupon": (
            "SELECT a.business_id, a.id, a.uses_left, COALESCE(s.v, 0) FROM {c} a LEFT JOIN "
            "(SELECT coupon_id, SUM(coupons) v FROM {e} WHERE coupon_id IS NOT NULL {only} "
            "GROUP BY coupon_id) s ON s.coupon_id = a.id WHERE 1=1 {only} "
            "AND a.uses_left <> COALESCE(s.v, 0)"
        ),
        "checked": "SELECT business_id, COUNT(*) FROM {a} WHERE 1=1 {only} GROUP BY business_id",
    }
    queries = {k: q.format(a=a, e=e, p=p, c=c, only=only) for k, q in queries.items()}
    checked: dict[int, int] = defaultdict(int)
    differences: dict[int, list[dict]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(queries["checked"], params[:1])
        for biz, count in cursor.fetchall():
            checked[biz] = count
        cursor.execute(queries["account"], params)
        for biz, pk, cp, cb, cpt, sp, sb, spt in cursor.fetchall():
            sp, sb = cents(sp), cents(sb)
            if cents(cp) != sp or cents(cb) != sb or int(cpt) != int(spt):
                differences[biz].append({
                    "what": "account", "id": pk,
                    "cached": [_money(cents(cp)), _money(cents(cb)), int(cpt)],
                    "ledger": [_money(sp), _money(sb), int(spt)],
                })  # fmt: skip
        for what in ("visit_package", "coupon"):
            cursor.execute(queries[what], params)
            for biz, pk, cached, summed in cursor.fetchall():
                if int(cached) != int(summed):
                    differences[biz].append(
                        {"what": what, "id": pk, "cached": int(cached), "ledger": int(summed)}
                    )
    finished = timezone.now()
    businesses = set(checked) | set(differences)
    if business is not None:
        businesses.add(business.pk)
    runs = [
        ReconciliationRun(
            business_id=biz,
            started_at=started,
            finished_at=finished,
            accounts_checked=checked.get(biz, 0),
            differences=differences.get(biz, [])[:1000],
            difference_count=len(differences.get(biz, [])),
        )
        for biz in sorted(businesses)
    ]
    ReconciliationRun.objects.bulk_create(runs)
    for run in runs:
        if run.difference_count:
            log.error(
                "membership reconciliation: business %s has %d balance(s) that differ from "
                "the ledger: %s",
                run.business_id, run.difference_count, run.differences[:20],
            )  # fmt: skip
    return runs


def account_customer_merged(*, source: Customer, target: Customer) -> None:
    """Inside a customer merge: the merged customer's card moves to the kept customer. Two
    cards cannot become one without rewriting the ledger, so that merge is refused."""
    moving = MemberAccount.objects.filter(customer=source).first()
    if moving is None:
        return
    if MemberAccount.objects.filter(customer=target).exists():
        raise ValidationError(
            _(
                "Both customers have a member card. Move the balance of card %(card)s with a "
                "refund and a top-up first, then merge."
            )
            % {"card": moving.card_no}
        )
    MemberAccount.objects.filter(pk=moving.pk).update(customer=target)
