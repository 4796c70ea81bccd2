"""Stored figures -> what the reader sees, in the active language: formatted values, the
one-line reading beside each figure, charts. Used by the admin page, the e-mail, the PDF and
(after merge) the shop app, all through the same templates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from customers.models import Customer
from customers.money import format_money
from segmentation.models import Segment, Tier
from segmentation.wording import churn_words

from .campaigns import present_campaigns
from .charts import bar_chart
from .models import CostReviewDecision, WeeklyReport
from .selectors import latest_decisions
from .weeks import week_label


def _num(value) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def _avg4(values: list) -> float | None:
    prior = [_num(v) for v in values[1:5] if v is not None]
    return sum(prior) / len(prior) if prior else None


class Formatter:
    def __init__(self, currency: str):
        self.currency = currency

    def __call__(self, value, kind: str) -> str:
        if value is None:
            return "—"
        if kind == "money":
            return format_money(Decimal(str(value)), self.currency)
        if kind == "percent":
            return f"{float(value) * 100:.0f} %"
        if kind == "nps":
            return f"{float(value):+.0f}"
        if kind == "stars":
            return f"{float(value):.1f} ★"
        if kind == "decimal":
            return f"{float(value):.1f}"
        return f"{float(value):,.0f}"


def reading(values: list, kind: str, fmt: Formatter, lower_is_better: bool = False) -> str:
    """One line in plain words: this week against last week and the 4-week average."""
    this, last, avg = _num(values[0]), _num(values[1]), _avg4(values)
    if this is None:
        return _("No figure this week.")
    if last is None:
        return _("Nothing to compare with last week.")
    if kind in ("percent", "nps", "stars"):
        if abs(this - last) < 1e-9:
            text = _("Same as last week (%(last)s).") % {"last": fmt(last, kind)}
        elif this > last:
            text = _("Up from %(last)s last week.") % {"last": fmt(last, kind)}
        else:
            text = _("Down from %(last)s last week.") % {"last": fmt(last, kind)}
    elif last == 0:
        text = _("Up from none last week.") if this > 0 else _("None this week or last.")
    else:
        change = (this - last) / abs(last) * 100
        if abs(change) < 0.5:
            text = _("About the same as last week.")
        elif change > 0:
            text = _("Up %(pct)s %% on last week.") % {"pct": f"{change:.0f}"}
        else:
            text = _("Down %(pct)s %% on last week.") % {"pct": f"{-change:.0f}"}
    if avg is not None and abs(this - avg) > 1e-9:
        better = (this < avg) if lower_is_better else (this > avg)
        text += " " + (
            _("Better than the 4-week average.") if better else _("Worse than the 4-week average.")
        )
    return text


def _row(label: str, values: list, kind: str, fmt: Formatter, lower_is_better=False) -> dict:
    return {
        "label": label,
        "this": fmt(values[0], kind),
        "last": fmt(values[1], kind),
        "avg": fmt(_avg4(values), kind),
        "reading": reading(values, kind, fmt, lower_is_better),
    }


def segment_label(code: str | None) -> str:
    return str(Segment(code).label) if code in Segment.values else (code or "—")


def tier_label(code: str | None) -> str:
    return str(Tier(code).label) if code in Tier.values else (code or "—")


def source_label(code: str | None) -> str:
    return str(Customer.Source(code).label) if code in Customer.Source.values else _("Not recorded")


def _period(data: dict) -> str:
    start = datetime.fromisoformat(data["start"]).date()
    end = datetime.fromisoformat(data["end"]).date()
    last = date.fromordinal(end.toordinal() - 1)
    return "%s – %s" % (  # noqa: UP031
        formats.date_format(start, "DATE_FORMAT"),
        formats.date_format(last, "DATE_FORMAT"),
    )


def _headline(data: dict, fmt: Formatter) -> list[str]:
    sales = data["sales"]
    lines = [
        _("Sales %(sales)s from %(n)s purchases. %(reading)s")
        % {
            "sales": fmt(sales["sales"][0], "money"),
            "n": sales["purchases"][0],
            "reading": reading(sales["sales"], "money", fmt),
        }
    ]
    share, before = sales["repeat_sales_share"][0], sales["repeat_sales_share"][1]
    if share is not None:
        if before is None:
            lines.append(
                _("Repeat customers brought %(share)s of sales.") % {"share": fmt(share, "percent")}
            )
        else:
            direction = (
                _("Repeat customers brought %(share)s of sales, up from %(before)s.")
                if share > before
                else _("Repeat customers brought %(share)s of sales, down from %(before)s.")
                if share < before
                else _("Repeat customers brought %(share)s of sales, as last week.")
            )
            lines.append(
                direction % {"share": fmt(share, "percent"), "before": fmt(before, "percent")}
            )
    return lines


def _at_stake_reason(row: dict, fmt: Formatter) -> str:
    parts = [
        _("Tier %(tier)s") % {"tier": row["tier"]},
        segment_label(row["segment"]),
        churn_words(row["churn_risk"]),
    ]
    if row.get("recency_days") is not None and row["recency_days"] >= 0:
        parts.append(_("last purchase %(days)s days ago") % {"days": row["recency_days"]})
    return " · ".join(parts)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


PRUNE_REASON = {
    "negative_net": lambda: _("costs more to serve than their margin"),
    "complaints_little_spend": lambda: _("repeated complaints, spends less than most"),
}


def present(report: WeeklyReport) -> dict:
    data = report.data
    business = report.business
    fmt = Formatter(data.get("currency") or business.currency)
    sales, fb, fu = data["sales"], data["feedback"], data["follow_ups"]
    figures = [
        _row(_("Sales"), sales["sales"], "money", fmt),
        _row(_("Purchases"), sales["purchases"], "count", fmt),
        _row(_("Average ticket"), sales["avg_ticket"], "money", fmt),
        _row(_("New customers"), sales["new_customers"], "count", fmt),
        _row(_("Returning customers"), sales["returning_customers"], "count", fmt),
        _row(_("Repeat rate"), sales["repeat_rate"], "percent", fmt),
        _row(_("Sales from repeat customers"), sales["repeat_sales_share"], "percent", fmt),
    ]
    feedback_rows = [
        _row(_("Feedback received"), fb["responses"], "count", fmt),
        _row(_("NPS"), fb["nps"], "nps", fmt),
        _row(_("Average stars"), fb["stars"], "stars", fmt),
        _row(_("New complaints"), fb["complaints"], "count", fmt, lower_is_better=True),
        _row(_("Feedback not yet answered"), fb["unanswered"], "count", fmt, lower_is_better=True),
    ]
    follow_rows = [
        _row(_("Follow-ups done"), fu["done"], "count", fmt),
        _row(_("Follow-ups overdue"), fu["overdue"], "count", fmt, lower_is_better=True),
    ]
    staff = [{**row, "name": row["name"] or _("Not assigned")} for row in fu.get("staff", [])]
    weekdays = [
        pgettext("weekday", "Mon"), pgettext("weekday", "Tue"), pgettext("weekday", "Wed"),
        pgettext("weekday", "Thu"), pgettext("weekday", "Fri"), pgettext("weekday", "Sat"),
        pgettext("weekday", "Sun"),
    ]  # fmt: skip
    daily_chart = bar_chart(
        _("Sales by day"),
        [
            (day, float(v or 0), fmt(v, "money"))
            for day, v in zip(weekdays, data["daily_sales"], strict=True)
        ],
    )
    at_stake = [
        {
            **row,
            "reason": _at_stake_reason(row, fmt),
            "at_stake_shown": fmt(row["at_stake"], "money"),
            "predicted_shown": fmt(row["predicted_value"], "money"),
        }
        for row in data["at_stake"]
    ]

    moves = dict(data["moves"])
    for key in ("up", "down"):
        moves[key] = [
            {
                **m,
                "tier_from_label": m["tier_from"],
                "tier_to_label": m["tier_to"],
                "segment_from_label": segment_label(m["segment_from"]),
                "segment_to_label": segment_label(m["segment_to"]),
            }
            for m in moves.get(key, [])
        ]

    acq = data["acquisition"]
    sources = [
        {
            **row,
            "label": source_label(row["source"]),
            "avg_predicted_shown": fmt(row["avg_predicted"], "money"),
            "avg_net_shown": fmt(row["avg_net_so_far"], "money"),
            "survival_shown": fmt(row["survival_12m"], "percent"),
        }
        for row in acq["sources"]
    ]
    months = [
        {
            **row,
            "avg_predicted_shown": fmt(row["avg_predicted"], "money"),
            "avg_net_shown": fmt(row["avg_net_so_far"], "money"),
            "survival_shown": fmt(row["survival_12m"], "percent"),
        }
        for row in acq["months"]
    ]
    source_chart = bar_chart(
        _("Average predicted value per customer, by source"),
        [(r["label"], _num(r["avg_predicted"]) or 0.0, r["avg_predicted_shown"]) for r in sources],
    )
    by_source = {r["source"]: r for r in sources}
    source_words = ""
    if acq.get("best") and acq.get("worst"):
        best, worst = by_source[acq["best"]], by_source[acq["worst"]]
        source_words = _(
            "Best source: %(best)s (%(best_value)s predicted per customer, %(best_n)s customers). "
            "Weakest: %(worst)s (%(worst_value)s, %(worst_n)s customers)."
        ) % {
            "best": best["label"], "best_value": best["avg_predicted_shown"],
            "best_n": best["customers"], "worst": worst["label"],
            "worst_value": worst["avg_predicted_shown"], "worst_n": worst["customers"],
        }  # fmt: skip

    prune = data["prune"]
    decisions = latest_decisions(business, [r["customer_id"] for r in prune["rows"]])
    prune_rows = []
    for row in prune["rows"]:
        decision = decisions.get(row["customer_id"])
        prune_rows.append(
            {
                **row,
                "net_shown": fmt(row["net_value"], "money"),
                "margin_shown": fmt(row["margin_so_far"], "money"),
                "cost_shown": fmt(row["cost_to_serve"], "money"),
                "spent_shown": fmt(row["total_spent"], "money"),
                "reasons_shown": _capitalised("; ".join(PRUNE_REASON[r]() for r in row["reasons"])),
                "details": _(
                    "Margin so far %(margin)s, cost to serve %(cost)s, spent %(spent)s, "
                    "complaints in 12 months: %(n)s."
                )
                % {
                    "margin": fmt(row["margin_so_far"], "money"),
                    "cost": fmt(row["cost_to_serve"], "money"),
                    "spent": fmt(row["total_spent"], "money"),
                    "n": row["complaints_12m"],
                },
                "action_shown": CostReviewDecision.Decision(row["action"]).label,
                "decision": decision,
            }
        )

    sections = []
    for section in data.get("sections", []):
        sections.append(
            {
                # Titles and labels are stored as msgids: shown in the reader's language.
                "title": _(section["title"]) if section.get("title") else "",
                "rows": [
                    _row(_(r["label"]), r["values"], r.get("kind", "count"), fmt)
                    for r in section.get("rows", [])
                ],
                # Lines in words under the figures (campaigns and what they earned).
                "entries": (
                    present_campaigns(section, lambda v: fmt(v, "money"))
                    if section.get("key") == "campaigns"
                    else []
                ),
            }
        )

    label = week_label(report.week_start)
    return {
        "report": report,
        "business": business,
        "week": label,
        "period": _period(data),
        "subject": _("%(business)s: weekly report %(week)s")
        % {"business": business.name, "week": label},
        "headline": _headline(data, fmt),
        "figures": figures,
        "daily_chart": daily_chart,
        "scores_as_of": data.get("scores_as_of"),
        "moves": moves,
        "at_stake": at_stake,
        "feedback_rows": feedback_rows,
        "follow_rows": follow_rows,
        "staff": staff,
        "sources": sources,
        "months": months,
        "source_chart": source_chart,
        "source_words": source_words,
        "prune": {**prune, "rows": prune_rows},
        "sections": sections,
    }  # fmt: skip
