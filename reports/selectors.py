"""Reads behind the weekly report. Every query is scoped with `for_business`.

`weekly_figures()` returns the figures of one week as plain JSON-able data (money as decimal
strings); `reports.presenting` turns them into words in the reader's language.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import BigIntegerField, Count, FloatField, Func, Max, Min, Q
from django.db.models.functions import Cast

from accounts.models import Business
from customers.models import Customer, FollowUp, Interaction, Purchase
from feedback.models import Feedback
from feedback.selectors import nps_value
from segmentation.models import CustomerScore

from .models import WeeklyReport, WeeklyScoreSnapshot
from .sections import extra_sections
from .weeks import business_zone, week_bounds

WEEKS_BACK = 4  # comparisons: last week and the average of the 4 weeks before this one
TOP_AT_STAKE = 10
PRUNE_LIMIT = 20
PRUNE_COMPLAINTS = 2  # "repeated complaints": at least this many in the last 12 months
SURVIVAL_DAYS = 365
COHORT_MONTHS = 12
MIN_SOURCE_CUSTOMERS = 5  # a source is named best or worst only with at least this many

SEGMENT_GROUP = {  # for "moved up / down": good > watch > gone
    "champions": 2, "loyal": 2, "potential_loyalist": 2, "new": 2, "promising": 2,
    "need_attention": 1, "about_to_sleep": 1, "at_risk": 1, "cant_lose": 1,
    "hibernating": 0, "lost": 0, "no_purchase": 0,
}  # fmt: skip
TIER_RANK = {"A": 2, "B": 1, "C": 0}
CENT = Decimal("0.01")


class Epoch(Func):
    """Seconds since 1970 (UTC) of a datetime, computed by the database: reading 100k+
    timestamps as integers instead of aware datetimes is ~20x faster."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        # Whole seconds, truncated: the fraction is cut off first (SQLite would round
        # 23:59:59.9995 up to the next day). "%%%%s" becomes "%s", strftime's seconds.
        template = "CAST(strftime('%%%%s', substr(%(expressions)s, 1, 19)) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"
        return self.as_sql(compiler, connection, template=template, **extra)


def _ts(when: datetime) -> int:
    return int(when.timestamp())


def _money(value: Decimal | float | int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    return str(Decimal(value).quantize(CENT))


def _avg(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return sum(float(v) for v in values) / len(values) if values else None


def report_weeks(business: Business, week_start: date) -> list[tuple[datetime, datetime]]:
    """[start, end) of the report week, then each of the 4 weeks before it."""
    return [
        week_bounds(business, week_start - timedelta(days=7 * i)) for i in range(WEEKS_BACK + 1)
    ]


# ---------------------------------------------------------------- sales and customers


def _customer_spans(business: Business, end: datetime) -> dict[int, tuple[int, int]]:
    """First and last purchase (epoch seconds) of every customer before `end`."""
    rows = (
        Purchase.objects.for_business(business)
        .filter(occurred_at__lt=end)
        .order_by()
        .values_list("customer_id")
        .annotate(first=Epoch(Min("occurred_at")), last=Epoch(Max("occurred_at")))
    )
    return {cid: (first, last) for cid, first, last in rows}


def _sales_figures(business, weeks, spans) -> tuple[dict, list]:
    rows = list(
        Purchase.objects.for_business(business)
        .filter(occurred_at__gte=weeks[-1][0], occurred_at__lt=weeks[0][1])
        .order_by()
        .values_list("customer_id", Epoch("occurred_at"), "amount")
    )
    per_week = []
    for start_dt, end_dt in weeks:
        start, end = _ts(start_dt), _ts(end_dt)
        sales = Decimal(0)
        count = 0
        buyers: set[int] = set()
        new: set[int] = set()
        returning_sales = Decimal(0)
        for cid, when, amount in rows:
            if not (start <= when < end):
                continue
            sales += amount
            count += 1
            buyers.add(cid)
            if start <= spans[cid][0] < end:
                new.add(cid)
            else:
                returning_sales += amount
        returning = len(buyers) - len(new)
        per_week.append(
            {
                "sales": sales,
                "purchases": count,
                "avg_ticket": (sales / count) if count else None,
                "customers": len(buyers),
                "new_customers": len(new),
                "returning_customers": returning,
                "repeat_rate": (returning / len(buyers)) if buyers else None,
                "repeat_sales_share": float(returning_sales / sales) if sales else None,
            }
        )
    # Sales per local day: the 8 local midnights of the week (a DST day is 23 or 25 hours).
    zone = business_zone(business)
    first_day = weeks[0][0].date()
    midnights = [
        _ts(datetime.combine(first_day + timedelta(days=i), time.min, tzinfo=zone))
        for i in range(8)
    ]
    daily = [Decimal(0)] * 7
    for _cid, when, amount in rows:
        if midnights[0] <= when < midnights[7]:
            daily[bisect_right(midnights, when) - 1] += amount
    return _series(per_week, money=("sales", "avg_ticket")), [_money(v) for v in daily]


def _series(per_week: list[dict], money=()) -> dict:
    """{figure: [this week, last week, …, 4 weeks ago]} with money as strings."""
    out = {}
    for key in per_week[0]:
        values = [week[key] for week in per_week]
        if key in money:
            values = [_money(v) for v in values]
        elif isinstance(values[0], float) or any(isinstance(v, float) for v in values):
            values = [None if v is None else round(float(v), 4) for v in values]
        out[key] = values
    return out


# ---------------------------------------------------------------- feedback and follow-ups


def _feedback_figures(business, weeks) -> dict:
    rows = list(
        Feedback.objects.for_business(business)
        .filter(created_at__gte=weeks[-1][0], created_at__lt=weeks[0][1])
        .order_by()
        .values_list("created_at", "nps", "stars", "status", "reply")
    )
    complaints = list(
        Interaction.objects.for_business(business)
        .filter(
            kind=Interaction.Kind.COMPLAINT,
            occurred_at__gte=weeks[-1][0],
            occurred_at__lt=weeks[0][1],
        )
        .values_list("occurred_at", flat=True)
    )
    per_week = []
    for start, end in weeks:
        week = [r for r in rows if start <= r[0] < end]
        scores = [r[1] for r in week if r[1] is not None]
        stars = [r[2] for r in week if r[2] is not None]
        groups = [Feedback.group_of(s) for s in scores]
        promoters = groups.count(Feedback.NpsGroup.PROMOTER)
        detractors = groups.count(Feedback.NpsGroup.DETRACTOR)
        # The same NPS, bands and rounding as the feedback pages.
        nps = nps_value(promoters, detractors, len(scores))
        per_week.append(
            {
                "responses": len(week),
                "nps": nps,
                "stars": round(sum(stars) / len(stars), 2) if stars else None,
                "complaints": sum(1 for when in complaints if start <= when < end),
                "unanswered": sum(
                    1 for r in week if r[3] != Feedback.Status.RESOLVED and not (r[4] or "").strip()
                ),
            }
        )
    return _series(per_week)


def _follow_up_figures(business, weeks) -> dict:
    """Done in each week, and overdue (due before the week ended, not done by then)."""
    local_end_dates = [end.date() for _start, end in weeks]  # the Monday after, local
    rows = list(
        FollowUp.objects.for_business(business)
        .filter(due_on__lt=local_end_dates[0])
        .filter(Q(done_at__isnull=True) | Q(done_at__gte=weeks[-1][0]))
        .order_by()
        .values_list("assigned_to_id", "due_on", Epoch("done_at"))
    )
    per_week = []
    for (start_dt, end_dt), end_date in zip(weeks, local_end_dates, strict=True):
        start, end = _ts(start_dt), _ts(end_dt)
        per_week.append(
            {
                "done": sum(1 for _a, _d, done in rows if done is not None and start <= done < end),
                "overdue": sum(
                    1 for _a, due, done in rows if due < end_date and (done is None or done >= end)
                ),
            }
        )
    start, end = _ts(weeks[0][0]), _ts(weeks[0][1])
    by_staff: dict[int | None, dict[str, int]] = defaultdict(lambda: {"done": 0, "overdue": 0})
    for assignee, due, done in rows:
        if done is not None and start <= done < end:
            by_staff[assignee]["done"] += 1
        if due < local_end_dates[0] and (done is None or done >= end):
            by_staff[assignee]["overdue"] += 1
    users = {
        u.pk: (u.get_full_name() or u.get_username())
        for u in get_user_model().objects.filter(pk__in=[k for k in by_staff if k])
    }
    staff = [
        {"user_id": uid, "name": users.get(uid, ""), **counts} for uid, counts in by_staff.items()
    ]
    staff.sort(key=lambda row: (-row["overdue"], -row["done"], row["name"]))
    return {**_series(per_week), "staff": staff}


# ---------------------------------------------------------------- scores


def value_at_stake_top(business: Business, limit: int = TOP_AT_STAKE) -> list[dict]:
    """The customers with the most value at stake (predicted value × churn risk, stored with
    each score), highest first."""
    rows = (
        CustomerScore.objects.for_business(business)
        .exclude(customer__status__in=[Customer.Status.BLOCKED, Customer.Status.LOST])
        .filter(value_at_stake__gt=0)
        .order_by("-value_at_stake", "customer_id")
        .values(
            "customer_id", "customer__name", "customer__phone", "value_tier", "rfm_segment",
            "churn_risk", "predicted_clv", "recency_days", "value_at_stake",
        )[:limit]
    )  # fmt: skip
    return [
        {
            "customer_id": r["customer_id"],
            "name": r["customer__name"],
            "phone": r["customer__phone"],
            "tier": r["value_tier"],
            "segment": r["rfm_segment"],
            "churn_risk": round(r["churn_risk"], 4),
            "predicted_value": _money(r["predicted_clv"]),
            "recency_days": r["recency_days"],
            "at_stake": _money(r["value_at_stake"]),
        }
        for r in rows
    ]


def _scores(business) -> tuple[dict[int, tuple], date | None]:
    """Every score's tier, segment and money (as floats: 100k Decimals are slow to read; the
    rows a report shows are read again as Decimals, averages are rounded to the cent)."""

    def f(name):
        return Cast(name, FloatField())

    rows = (
        CustomerScore.objects.for_business(business)
        .order_by("customer_id")
        .values_list(
            "customer_id", "value_tier", "rfm_segment", f("predicted_clv"), f("margin_so_far"),
            f("cost_to_serve"), f("net_value"), f("total_spent"), "frequency",
        )
    )  # fmt: skip
    scores = {r[0]: r[1:] for r in rows}
    as_of = (
        CustomerScore.objects.for_business(business).aggregate(d=Max("as_of"))["d"]
        if scores
        else None
    )
    return scores, as_of


def snapshot_data(scores: dict[int, tuple]) -> dict:
    ids = sorted(scores)
    return {
        "ids": ids,
        "tiers": "".join(scores[i][0] for i in ids),
        "segments": [scores[i][1] for i in ids],
    }


def previous_snapshot(business, week_start: date) -> WeeklyScoreSnapshot | None:
    return (
        WeeklyScoreSnapshot.objects.for_business(business)
        .filter(week_start__lt=week_start)
        .order_by("-week_start")
        .first()
    )


def _moves(business, week_start, scores) -> dict:
    before = previous_snapshot(business, week_start)
    if before is None:
        return {"available": False}
    data = before.data
    old = dict(zip(data["ids"], zip(data["tiers"], data["segments"], strict=True), strict=True))
    up, down = [], []
    counts = {"tier_up": 0, "tier_down": 0, "segment_up": 0, "segment_down": 0}
    for cid, row in scores.items():
        if cid not in old:
            continue
        (old_tier, old_seg), tier, seg = old[cid], row[0], row[1]
        tier_step = TIER_RANK[tier] - TIER_RANK[old_tier]
        seg_step = SEGMENT_GROUP.get(seg, 0) - SEGMENT_GROUP.get(old_seg, 0)
        counts["tier_up"] += tier_step > 0
        counts["tier_down"] += tier_step < 0
        counts["segment_up"] += seg_step > 0
        counts["segment_down"] += seg_step < 0
        if tier_step or seg_step:
            move = (cid, old_tier, tier, old_seg, seg, row[2])
            (up if (tier_step, seg_step) > (0, 0) else down).append(move)
    picked = [sorted(moves, key=lambda m: (-m[5], m[0]))[:TOP_AT_STAKE] for moves in (up, down)]
    ids = [m[0] for moves in picked for m in moves]
    names = dict(
        Customer.objects.for_business(business).filter(pk__in=ids).values_list("pk", "name")
    )

    def rows(moves):
        return [
            {"customer_id": m[0], "name": names.get(m[0], ""), "tier_from": m[1],
             "tier_to": m[2], "segment_from": m[3], "segment_to": m[4],
             "predicted_value": _money(m[5])}
            for m in moves
        ]  # fmt: skip

    return {
        "available": True,
        "compared_to": before.week_start.isoformat(),
        **counts,
        "up": rows(picked[0]),
        "down": rows(picked[1]),
    }


# ---------------------------------------------------------------- where good customers come from


def _acquisition(business, week_end: datetime, spans, scores) -> dict:
    zone = business_zone(business)
    sources = dict(Customer.objects.for_business(business).order_by().values_list("pk", "source"))
    survival_cutoff = _ts(week_end) - SURVIVAL_DAYS * 86400
    end_local = (week_end - timedelta(microseconds=1)).astimezone(zone).date()
    months = []  # the last COHORT_MONTHS local months, oldest first, with their first instant
    y, m = end_local.year, end_local.month
    for _i in range(COHORT_MONTHS):
        months.insert(0, (f"{y:04d}-{m:02d}", _ts(datetime(y, m, 1, tzinfo=zone))))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    month_starts = [start for _label, start in months]

    def bucket():
        return {"customers": 0, "predicted": [], "net_so_far": [], "eligible": 0, "survived": 0}

    by_source: dict[str, dict] = defaultdict(bucket)
    by_month: dict[str, dict] = defaultdict(bucket)
    for cid, (first, last) in spans.items():
        source = sources.get(cid)
        if source is None:
            continue
        groups = [by_source[source or "unknown"]]
        if first >= month_starts[0]:
            groups.append(by_month[months[bisect_right(month_starts, first) - 1][0]])
        score = scores.get(cid)
        for g in groups:
            g["customers"] += 1
            if score is not None:
                g["predicted"].append(score[2])
                g["net_so_far"].append(score[3] - score[4])
            if first <= survival_cutoff:
                g["eligible"] += 1
                g["survived"] += last >= first + SURVIVAL_DAYS * 86400

    def finish(key_name, key, g):
        return {
            key_name: key,
            "customers": g["customers"],
            "avg_predicted": _money(sum(g["predicted"]) / len(g["predicted"]))
            if g["predicted"]
            else None,
            "avg_net_so_far": _money(sum(g["net_so_far"]) / len(g["net_so_far"]))
            if g["net_so_far"]
            else None,
            "survival_eligible": g["eligible"],
            "survival_12m": round(g["survived"] / g["eligible"], 4) if g["eligible"] else None,
        }

    source_rows = [finish("source", s, g) for s, g in by_source.items()]
    source_rows.sort(key=lambda r: (-Decimal(r["avg_predicted"] or 0), r["source"]))
    ranked = [
        r for r in source_rows if r["customers"] >= MIN_SOURCE_CUSTOMERS and r["avg_predicted"]
    ]
    return {
        "sources": source_rows,
        "best": ranked[0]["source"] if len(ranked) >= 2 else None,
        "worst": ranked[-1]["source"] if len(ranked) >= 2 else None,
        "months": [finish("month", m, by_month[m]) for m, _start in months if m in by_month],
    }


# ---------------------------------------------------------------- who costs more than they bring


def _prune(business, week_end: datetime, scores) -> dict:
    complaints = dict(
        Interaction.objects.for_business(business)
        .filter(
            kind=Interaction.Kind.COMPLAINT,
            occurred_at__gte=week_end - timedelta(days=365),
            occurred_at__lt=week_end,
        )
        .order_by()
        .values_list("customer_id")
        .annotate(n=Count("id"))
        .filter(n__gte=PRUNE_COMPLAINTS)
    )
    spends = [row[6] for row in scores.values() if row[7] > 0]
    median_spend = statistics.median(spends) if spends else 0.0
    picked = []
    for cid, row in scores.items():
        net, spent = row[5], row[6]
        reasons = []
        if net < 0:
            reasons.append("negative_net")
        if complaints.get(cid, 0) >= PRUNE_COMPLAINTS and spent < median_spend:
            reasons.append("complaints_little_spend")
        if reasons:
            picked.append((net, cid, row, reasons))
    picked.sort(key=lambda p: (p[0], p[1]))
    shown = picked[:PRUNE_LIMIT]
    exact = {  # the rows shown, read again as Decimals: money to the cent
        r["customer_id"]: r
        for r in CustomerScore.objects.for_business(business)
        .filter(customer_id__in=[p[1] for p in shown])
        .values(
            "customer_id", "customer__name", "customer__phone", "predicted_clv",
            "margin_so_far", "cost_to_serve", "net_value", "total_spent",
        )
    }  # fmt: skip
    rows = []
    for _net, cid, _row, reasons in shown:
        r = exact[cid]
        rows.append(
            {
                "customer_id": cid,
                "name": r["customer__name"],
                "phone": r["customer__phone"],
                "net_value": _money(r["net_value"]),
                "margin_so_far": _money(r["margin_so_far"]),
                "predicted_value": _money(r["predicted_clv"]),
                "cost_to_serve": _money(r["cost_to_serve"]),
                "total_spent": _money(r["total_spent"]),
                "complaints_12m": complaints.get(cid, 0),
                "reasons": reasons,
                "action": "regular" if "negative_net" in reasons else "talk",
            }
        )
    return {"count": len(picked), "median_spend": _money(median_spend), "rows": rows}


# ---------------------------------------------------------------- the whole report


def weekly_figures(business: Business, week_start: date) -> tuple[dict, dict]:
    """(report data, score snapshot data) for the week starting `week_start` (a Monday)."""
    weeks = report_weeks(business, week_start)
    start, end = weeks[0]
    spans = _customer_spans(business, end)
    sales, daily = _sales_figures(business, weeks, spans)
    scores, scores_as_of = _scores(business)
    data = {
        "version": 1,
        "week_start": week_start.isoformat(),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "currency": business.currency,
        "time_zone": business.time_zone,
        "sales": sales,
        "daily_sales": daily,
        "feedback": _feedback_figures(business, weeks),
        "follow_ups": _follow_up_figures(business, weeks),
        "scores_as_of": scores_as_of.isoformat() if scores_as_of else None,
        "customers_scored": len(scores),
        "moves": _moves(business, week_start, scores) if scores else {"available": False},
        "at_stake": value_at_stake_top(business),
        "acquisition": _acquisition(business, end, spans, scores),
        "prune": _prune(business, end, scores),
        "sections": extra_sections(business=business, weeks=weeks),
    }
    return data, snapshot_data(scores)


def stored_report(business: Business | None, week_start: date | None = None):
    """The stored, ready report of `business` for a week (default: the latest), or None.
    The shop app and the admin both show reports through this."""
    qs = WeeklyReport.objects.for_business(business).filter(status=WeeklyReport.Status.READY)
    if week_start is not None:
        qs = qs.filter(week_start=week_start)
    return qs.order_by("-week_start").first()


def stored_report_weeks(business: Business, limit: int = 12) -> list[date]:
    """The weeks (Mondays) of `business`'s ready reports, latest first, at most `limit`."""
    return list(
        WeeklyReport.objects.for_business(business)
        .filter(status=WeeklyReport.Status.READY)
        .order_by("-week_start")
        .values_list("week_start", flat=True)[:limit]
    )


def report_neighbours(report: WeeklyReport) -> tuple[WeeklyReport | None, WeeklyReport | None]:
    """(earlier, later) ready reports of the same business, for browsing week by week."""
    qs = WeeklyReport.objects.for_business(report.business_id).filter(
        status=WeeklyReport.Status.READY
    )
    earlier = qs.filter(week_start__lt=report.week_start).order_by("-week_start").first()
    later = qs.filter(week_start__gt=report.week_start).order_by("week_start").first()
    return earlier, later


def latest_decisions(business: Business, customer_ids: list[int]) -> dict[int, object]:
    from .models import CostReviewDecision

    out: dict[int, object] = {}
    for decision in (
        CostReviewDecision.objects.for_business(business)
        .filter(customer_id__in=customer_ids)
        .select_related("decided_by")
        .order_by("customer_id", "-decided_at", "-id")
    ):
        out.setdefault(decision.customer_id, decision)
    return out
