"""Reads of the member programme: a card's view, and the owner's reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Business

from .models import Coupon, LedgerEntry, MemberAccount, VisitPackage
from .money import ZERO

Kind = LedgerEntry.Kind


def accounts_for(business: Business) -> QuerySet[MemberAccount]:
    return MemberAccount.objects.for_business(business).select_related("customer", "level")


def account_by_card_no(business: Business, card_no: str) -> MemberAccount | None:
    card_no = (card_no or "").strip()[:20]
    if not card_no or "\x00" in card_no:  # PostgreSQL text cannot hold NUL: no such card
        return None
    return accounts_for(business).filter(card_no=card_no).first()


def open_visit_packages(account: MemberAccount) -> QuerySet[VisitPackage]:
    now = timezone.now()
    return account.visit_packages.filter(visits_left__gt=0).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def open_coupons(account: MemberAccount) -> QuerySet[Coupon]:
    return account.coupons.filter(uses_left__gt=0, expires_at__gt=timezone.now()).select_related(
        "template"
    )


def recent_entries(account: MemberAccount, limit: int = 20) -> QuerySet[LedgerEntry]:
    return account.entries.order_by("-id")[:limit]


def business_zone(business: Business) -> ZoneInfo:
    return business.zone


def month_start(business: Business, now: datetime | None = None) -> datetime:
    local = (now or timezone.now()).astimezone(business_zone(business))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass
class ProgrammeReport:
    outstanding_principal: Decimal
    outstanding_bonus: Decimal
    change_this_month: Decimal
    topped_up_this_month: Decimal
    bonus_this_month: Decimal
    spent_this_month: Decimal
    refunded_this_month: Decimal
    visits_sold: int
    visits_used: int
    visits_outstanding: int
    points_outstanding: int
    points_liability: Decimal
    coupons_issued: int
    coupons_redeemed: int
    coupons_expired: int
    per_staff: list[dict[str, Any]]

    @property
    def outstanding(self) -> Decimal:
        return self.outstanding_principal + self.outstanding_bonus


def programme_report(business: Business, *, point_value: Decimal) -> ProgrammeReport:
    """The programme's figures: the shop's liability to its members and this month's flows.

    Months are the business's own calendar months (its time zone)."""
    start = month_start(business)
    entries = LedgerEntry.objects.for_business(business)
    balance = MemberAccount.objects.for_business(business).aggregate(
        p=Sum("principal"), b=Sum("bonus"), pt=Sum("points")
    )
    month = entries.filter(created_at__gte=start)
    flows = month.aggregate(
        change=Sum("principal") + Sum("bonus"),
        top=Sum("principal", filter=Q(kind__in=(Kind.TOP_UP, Kind.OPENING))),
        bonus=Sum("bonus", filter=Q(kind__in=(Kind.BONUS, Kind.OPENING))),
        spent=Sum("value", filter=Q(kind=Kind.SPEND)),
        refunded=Sum("value", filter=Q(kind=Kind.REFUND)),
    )
    visits = entries.aggregate(
        sold=Sum("visits", filter=Q(kind__in=(Kind.VISITS_SOLD, Kind.OPENING))),
        used=Sum("visits", filter=Q(kind=Kind.VISIT_USED)),
        reversed=Sum("visits", filter=Q(kind=Kind.REVERSAL)),
    )
    coupons = Coupon.objects.for_business(business).aggregate(
        issued=Count("id"),
        redeemed=Count("id", filter=Q(uses_left=0)),
        expired=Count("id", filter=Q(uses_left=1, expires_at__lte=timezone.now())),
    )
    outstanding_visits = VisitPackage.objects.for_business(business).aggregate(
        v=Sum("visits_left")
    )["v"]
    per_staff = list(
        month.values("actor_label")
        .annotate(
            topped_up=Sum("principal", filter=Q(kind=Kind.TOP_UP)),
            spent=Sum("value", filter=Q(kind=Kind.SPEND)),
            visits_used=Count("id", filter=Q(kind=Kind.VISIT_USED)),
            operations=Count("operation", distinct=True),
        )
        .order_by("actor_label")
    )
    points = balance["pt"] or 0
    return ProgrammeReport(
        outstanding_principal=balance["p"] or ZERO,
        outstanding_bonus=balance["b"] or ZERO,
        change_this_month=flows["change"] or ZERO,
        topped_up_this_month=flows["top"] or ZERO,
        bonus_this_month=flows["bonus"] or ZERO,
        spent_this_month=flows["spent"] or ZERO,
        refunded_this_month=flows["refunded"] or ZERO,
        visits_sold=visits["sold"] or 0,
        visits_used=-(visits["used"] or 0),
        visits_outstanding=outstanding_visits or 0,
        points_outstanding=points,
        points_liability=(Decimal(points) * point_value).quantize(Decimal("0.01")),
        coupons_issued=coupons["issued"],
        coupons_redeemed=coupons["redeemed"],
        coupons_expired=coupons["expired"],
        per_staff=per_staff,
    )


def with_card_summary(customers: QuerySet) -> QuerySet:
    """Customers annotated with their member card's open visits and coupons, in the same
    query (a screen's query budget): `card_visits_left`, `card_packages`, `card_coupons`
    (None / 0 without a card). Open means what `open_visit_packages` / `open_coupons` mean."""
    from django.db.models import IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    now = timezone.now()
    packages = (
        VisitPackage.objects.filter(account__customer=OuterRef("pk"), visits_left__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by()
        .values("account")
    )
    coupons = (
        Coupon.objects.filter(account__customer=OuterRef("pk"), uses_left__gt=0, expires_at__gt=now)
        .order_by()
        .values("account")
    )

    def one(qs, aggregate):
        return Coalesce(
            Subquery(qs.annotate(n=aggregate).values("n")[:1], output_field=IntegerField()),
            Value(0),
        )

    return customers.annotate(
        card_visits_left=one(packages, Sum("visits_left")),
        card_packages=one(packages, Count("id")),
        card_coupons=one(coupons, Count("id")),
    )


def stored_value_weeks(
    business: Business, weeks: list[tuple[datetime, datetime]]
) -> list[dict[str, Decimal]]:
    """Stored value per [start, end) period, in one query over the ledger: what the cards
    held at the period's end (`outstanding`, paid + bonus), its `change` over the period,
    paid value `topped_up` (top-ups and opening balances), `bonus_given`, and `spent` from
    cards. The same definitions as `programme_report`, over any periods (the weekly report)."""
    from django.db.models import F

    money = F("principal") + F("bonus")
    aggregates: dict[str, Any] = {}
    for i, (start, end) in enumerate(weeks):
        period = Q(created_at__gte=start, created_at__lt=end)
        aggregates[f"out{i}"] = Sum(money, filter=Q(created_at__lt=end))
        aggregates[f"chg{i}"] = Sum(money, filter=period)
        aggregates[f"top{i}"] = Sum(
            "principal", filter=period & Q(kind__in=(Kind.TOP_UP, Kind.OPENING))
        )
        aggregates[f"bon{i}"] = Sum("bonus", filter=period & Q(kind__in=(Kind.BONUS, Kind.OPENING)))
        aggregates[f"spe{i}"] = Sum("value", filter=period & Q(kind=Kind.SPEND))
    sums = LedgerEntry.objects.for_business(business).aggregate(**aggregates) if weeks else {}
    return [
        {
            "outstanding": sums[f"out{i}"] or ZERO,
            "change": sums[f"chg{i}"] or ZERO,
            "topped_up": sums[f"top{i}"] or ZERO,
            "bonus_given": sums[f"bon{i}"] or ZERO,
            "spent": sums[f"spe{i}"] or ZERO,
        }
        for i in range(len(weeks))
    ]
