"""Bulk reads for scoring: arrays straight from SQL, no model instances on the hot path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Business
from customers.models import Customer, Interaction, Purchase


@dataclass
class ScoringInputs:
    customer_ids: np.ndarray  # sorted ids; a customer's index is its position here
    customer_idx: np.ndarray  # per purchase
    day: np.ndarray  # per purchase: local day number (days since 1970-01-01)
    amount: np.ndarray
    margin: np.ndarray  # per purchase, NaN where no cost was recorded
    cost_to_serve: np.ndarray  # per customer, money
    as_of_day: float


def cutoff(business: Business, as_of: date) -> datetime:
    """The first instant after `as_of` in the business's time zone."""
    tz = business.zone
    return datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=tz)


def _epoch_seconds_expr(column: str) -> str:
    # Whole UTC seconds since the epoch: integers, so the day a purchase falls on is exact
    # (julianday() arithmetic in floats can land a midnight sale on the day before).
    if connection.vendor == "postgresql":
        return f"floor(extract(epoch from {column}))::bigint"
    # '%%s' is strftime's epoch-seconds format, escaped from the parameter style.
    return f"CAST(strftime('%%s', {column}) AS INTEGER)"


def local_day_numbers(epoch_seconds: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """Local calendar day (days since 1970-01-01) of each UTC instant, each with its OWN
    UTC offset: a 23:30 January sale in London stays on its day when scored in July.

    Vectorised: the zone's offset changes between the first and last instant are found
    day by day (then to the second by bisection), and each instant looks its offset up."""
    secs = np.asarray(epoch_seconds, dtype=np.int64)
    if secs.size == 0:
        return np.zeros(0)

    def offset(t: int) -> int:
        moment = datetime.fromtimestamp(t, tz=UTC).astimezone(tz)
        return int(moment.utcoffset().total_seconds())

    lo, hi = int(secs.min()), int(secs.max())
    starts, offsets = [lo], [offset(lo)]
    step = 86400
    t = lo
    while t < hi:
        nxt = min(t + step, hi)
        if offset(nxt) != offsets[-1]:
            a, b = t, nxt  # offset(a) == offsets[-1] != offset(b): bisect to the second
            while b - a > 1:
                mid = (a + b) // 2
                if offset(mid) == offsets[-1]:
                    a = mid
                else:
                    b = mid
            starts.append(b)
            offsets.append(offset(b))
        t = nxt
    which = np.searchsorted(np.array(starts, dtype=np.int64), secs, side="right") - 1
    local = secs + np.array(offsets, dtype=np.int64)[which]
    return np.floor_divide(local, 86400).astype(np.float64)


def _money(column: str) -> str:
    return f"CAST({column} AS DOUBLE PRECISION)" if connection.vendor == "postgresql" else column


def scoring_inputs(business: Business, as_of: date) -> ScoringInputs:
    end = cutoff(business, as_of)
    ids = np.fromiter(
        Customer.objects.for_business(business).order_by("pk").values_list("pk", flat=True),
        dtype=np.int64,
    )
    p = Purchase._meta.db_table
    end_param = connection.ops.adapt_datetimefield_value(end)
    # Table names and expressions are ours; values are parameters. A missing cost is -1
    # (costs are never negative), so every column arrives as a plain number.
    sql = (
        f"SELECT customer_id, {_epoch_seconds_expr('occurred_at')}, {_money('amount')}, "  # noqa: S608
        f"COALESCE({_money('cost')}, -1) FROM {p} WHERE business_id = %s AND occurred_at < %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [business.pk, end_param])
        data = np.array(cursor.fetchall(), dtype=np.float64).reshape(-1, 4)
    cust = data[:, 0].astype(np.int64)
    day = local_day_numbers(data[:, 1].astype(np.int64), business.zone)
    amount = data[:, 2]
    cost = np.where(data[:, 3] < 0, np.nan, data[:, 3])
    idx = np.searchsorted(ids, cust)
    margin = amount - cost  # NaN where cost unknown: the engine applies the default margin

    # Cost to serve: money and staff time recorded on interactions, plus a flat cost for
    # each complaint (handling it costs more than the minutes someone wrote down).
    cost_to_serve = np.zeros(ids.size)
    rate = float(settings.XW_STAFF_COST_PER_HOUR) / 60.0
    complaint_cost = float(settings.XW_COMPLAINT_COST)
    per_customer = (
        Interaction.objects.for_business(business)
        .filter(occurred_at__lt=end)
        .values("customer_id")
        .annotate(
            money=Sum(Coalesce("cost_amount", Value(0), output_field=DecimalField())),
            minutes=Sum(Coalesce("cost_minutes", Value(0))),
            complaints=Count("id", filter=Q(kind=Interaction.Kind.COMPLAINT)),
        )
        .values_list("customer_id", "money", "minutes", "complaints")
    )
    for customer_id, money, minutes, complaints in per_customer:
        pos = np.searchsorted(ids, customer_id)
        if pos < ids.size and ids[pos] == customer_id:
            cost_to_serve[pos] += (
                float(money or 0) + float(minutes or 0) * rate + complaints * complaint_cost
            )
    as_of_day = float((as_of - date(1970, 1, 1)).days)
    return ScoringInputs(ids, idx, day, amount, margin, cost_to_serve, as_of_day)


def segment_tier_counts(business: Business) -> list[dict]:
    """Customers per segment and value tier, in segment order, for the dashboard chart."""
    from .models import CustomerScore, Segment, Tier

    counts: dict[tuple[str, str], int] = {}
    rows = (
        CustomerScore.objects.for_business(business)
        .values_list("rfm_segment", "value_tier")
        .annotate(n=Count("id"))
    )
    for segment, tier, n in rows:
        counts[(segment, tier)] = n
    table = []
    for segment in Segment:
        per_tier = {tier.value: counts.get((segment.value, tier.value), 0) for tier in Tier}
        total = sum(per_tier.values())
        if total:
            table.append(
                {"code": segment.value, "label": segment.label, "tiers": per_tier, "total": total}
            )
    return table


# The shop app (phone) -------------------------------------------------------------------

AT_RISK_CHURN = 0.5  # "at risk" in lists: more likely than not to buy nothing in 90 days


def customers_worth_calling(business: Business, limit: int = 5):
    """Valuable customers who are slipping away (recommended action "win back"), ranked by
    the stored value at stake (predicted value × churn risk), with their customer: the
    Today screen's "worth a call now". Read in order from the (business, value at stake)
    index."""
    from .models import Action

    return (
        _ranked_by_stake(business)
        .filter(action=Action.WIN_BACK)
        .exclude(customer__status__in=[Customer.Status.BLOCKED, Customer.Status.LOST])[:limit]
    )


def customer_list_page(
    business: Business,
    *,
    offset: int = 0,
    limit: int = 30,
    segment: str = "",
    tier: str = "",
    status: str = "",
    tag: int | None = None,
    at_risk: bool = False,
    birthday_month: int | None = None,
) -> list[Customer]:
    """One page of customers, most valuable first (net value), then those not scored yet
    (added since the last scoring run, newest first), with their score.

    The scored part is read in order from the (business, net value) index of the scores, so
    no page sorts the table; the unscored ones are looked up only past the scored ones."""

    def narrowed(qs):
        if status:
            qs = qs.filter(status=status)
        if tag:
            qs = qs.filter(tags=tag)
        if birthday_month:
            qs = qs.filter(birthday__month=birthday_month)
        return qs

    scored = narrowed(
        Customer.objects.for_business(business).filter(score__business=business)
    ).select_related("score")
    if segment:
        scored = scored.filter(score__rfm_segment=segment)
    if tier:
        scored = scored.filter(score__value_tier=tier)
    if at_risk:
        scored = scored.filter(score__churn_risk__gte=AT_RISK_CHURN)
    rows = list(scored.order_by("-score__net_value", "score__id")[offset : offset + limit])
    if len(rows) == limit or segment or tier or at_risk:
        return rows
    # The end of the scored customers: continue with the ones not scored yet.
    scored_total = offset + len(rows) if rows else scored.count()
    unscored = narrowed(Customer.objects.for_business(business)).filter(score__isnull=True)
    start = max(0, offset - scored_total)
    return rows + list(unscored.order_by("-id")[start : start + limit - len(rows)])


def _ranked_by_stake(business: Business):
    from .models import CustomerScore

    return (
        CustomerScore.objects.for_business(business)
        .filter(frequency__gt=0, value_at_stake__gt=0)
        .select_related("customer", "run")
        .order_by("-value_at_stake", "customer_id")
    )


def customers_to_call(business: Business, limit: int = 20):
    """Who to call first: scored buyers ranked by what the shop stands to lose (predicted
    value × chance not to come back), not by risk alone. For the Today screen and admin."""
    return _ranked_by_stake(business)[: max(0, min(int(limit), 500))]


def latest_backtest(business: Business) -> dict | None:
    """The latest stored backtest's ranking figures beside their baseline (days since the last
    visit alone): {"as_of", "days", "customers", "auc", "baseline_auc"}, or None."""
    from .models import ScoringRun

    figures = (
        ScoringRun.objects.for_business(business)
        .filter(status=ScoringRun.Status.SUCCEEDED)
        .exclude(backtest={})
        .order_by("-started_at", "-id")
        .values_list("backtest", flat=True)
        .first()
    )
    if not figures or "churn" not in figures or "recency_baseline" not in figures:
        return None
    return {
        "as_of": figures.get("as_of"),
        "days": figures.get("days"),
        "customers": figures.get("customers"),
        "auc": figures["churn"].get("auc"),
        "baseline_auc": figures["recency_baseline"].get("auc"),
    }
