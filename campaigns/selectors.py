"""Reads: the staff's day list, a campaign's results (treated vs held out, with 95 % intervals
and the incremental margin minus the offer's cost, in plain words), and what worked for
which kind of customer in this shop (docs/campaigns.md)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Business
from customers.models import Customer, Purchase, Tag
from customers.money import format_money
from membership.models import LedgerEntry
from segmentation.models import Segment

from .audience import AudienceError, parse_audience
from .models import Campaign, CampaignMember
from .stats import MIN_GROUP, Difference, difference

Status = CampaignMember.Status
Group = CampaignMember.Group


def staff_day_list(business: Business, now: datetime | None = None) -> QuerySet[CampaignMember]:
    """Messages staff can send now from their phones, the oldest due first."""
    now = now or timezone.now()
    return (
        CampaignMember.objects.for_business(business)
        .filter(status=Status.SCHEDULED, due_at__lte=now)
        .filter(campaign__status=Campaign.Status.RUNNING)
        .filter(campaign__delivery=Campaign.Delivery.STAFF)
        .select_related("campaign__business", "campaign__coupon_template", "customer")
        .order_by("due_at", "id")
    )


def campaign_counts(business: Business, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per campaign: messages sent, still to send, not sent, and customers held out — one
    grouped query for a whole list of campaigns (the results need their own page)."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Status.values, 0))
    rows = (
        CampaignMember.objects.for_business(business)
        .filter(campaign_id__in=campaign_ids)
        .values("campaign_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["campaign_id"]][row["status"]] = row["n"]
    return counts


def campaigns_running(business: Business) -> QuerySet[Campaign]:
    return Campaign.objects.for_business(business).filter(status=Campaign.Status.RUNNING)


@dataclass
class _Outcome:
    group: str
    segment: str
    came_back: int = 0
    visits: int = 0
    revenue: float = 0.0
    margin: float = 0.0


def _outcomes(
    business: Business, members: list[dict], window: timedelta, now: datetime
) -> list[_Outcome]:
    """Per member: purchases from entering to the end of the window (or now)."""
    if not members:
        return []
    start = min(m["entered_at"] for m in members)
    end = min(max(m["entered_at"] for m in members) + window, now)
    margin_share = float(business.default_margin_pct) / 100
    by_customer: dict[int, list[tuple[datetime, float, float]]] = defaultdict(list)
    rows = (
        Purchase.objects.for_business(business)
        .filter(customer_id__in={m["customer_id"] for m in members})
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .values_list("customer_id", "occurred_at", "amount", "cost")
    )
    for customer_id, occurred_at, amount, cost in rows:
        amount = float(amount)
        margin = amount - float(cost) if cost is not None else amount * margin_share
        by_customer[customer_id].append((occurred_at, amount, margin))
    for purchases in by_customer.values():
        purchases.sort()
    out = []
    for m in members:
        o = _Outcome(m["group"], m["segment"])
        purchases = by_customer.get(m["customer_id"], [])
        since, until = m["entered_at"], min(m["entered_at"] + window, now)
        i = bisect_left(purchases, (since,))
        while i < len(purchases) and purchases[i][0] < until:
            o.visits += 1
            o.revenue += purchases[i][1]
            o.margin += purchases[i][2]
            i += 1
        o.came_back = int(o.visits > 0)
        out.append(o)
    return out


def _split(outcomes: list[_Outcome], attr: str) -> Difference:
    treated = [getattr(o, attr) for o in outcomes if o.group == Group.TREATMENT]
    control = [getattr(o, attr) for o in outcomes if o.group == Group.CONTROL]
    return difference(treated, control)


@dataclass
class Results:
    campaign: Campaign
    entered: int
    treated: int
    control: int
    sent: int
    to_send: int
    not_sent: int
    window_complete: bool
    came_back: Difference
    visits: Difference
    revenue: Difference
    margin: Difference
    redemptions: int
    coupon_cost: Decimal
    message_cost: Decimal
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def cost(self) -> Decimal:
        return self.coupon_cost + self.message_cost

    @property
    def known(self) -> bool:
        return self.margin.known

    @property
    def extra_visits(self) -> tuple[float, float]:
        return self.visits.total()

    @property
    def extra_margin(self) -> tuple[float, float]:
        return self.margin.total()

    @property
    def net(self) -> float:
        return self.extra_margin[0] - float(self.cost)

    def money(self, value: float | Decimal) -> str:
        return format_money(round(float(value), 2), self.campaign.business.currency)

    def figures(self) -> dict:
        """Everything the owner's words are made of, as JSON-able numbers (the weekly report
        stores these and words them in the reader's language with `summary_words`)."""
        visits, visits_ci = self.extra_visits
        margin, margin_ci = self.extra_margin
        d = self.came_back
        return {
            "treated": self.treated,
            "control": self.control,
            "known": self.known,
            "visits": visits,
            "visits_ci": _finite(visits_ci),
            "margin": margin,
            "margin_ci": _finite(margin_ci),
            "cost": f"{self.cost:.2f}",
            "net": self.net,
            "significant": self.margin.significant or self.visits.significant,
            "window_complete": self.window_complete,
            "came_back": {
                "known": d.known,
                "treated": d.treated_mean,
                "control": d.control_mean,
                "diff": d.diff,
                "ci": _finite(d.half_width),
            },
        }

    @property
    def summary(self) -> str:
        """The result in the owner's words."""
        return summary_words(self.figures(), self.money)

    @property
    def came_back_words(self) -> str:
        return came_back_words(self.figures())


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def summary_words(f: dict, money: Callable[[float], str]) -> str:
    """A campaign's result in the owner's words, from `Results.figures()`."""
    if f["treated"] + f["control"] == 0:
        return _("Nobody has entered this campaign yet.")
    if not f["known"]:
        return _(
            "Too few customers to tell yet: %(t)d got the message and %(c)d were held out; "
            "at least %(min)d are needed in each group."
        ) % {"t": f["treated"], "c": f["control"], "min": MIN_GROUP}
    if f["visits"] >= 0 and f["margin"] >= 0:
        sentence = _(
            "The campaign brought %(visits)s extra visits (±%(visits_ci)s) and %(margin)s extra "
            "margin (±%(margin_ci)s); it cost %(cost)s, so it earned %(net)s."
        )
    else:  # "brought -16 extra visits" reads wrong: say what changed, plainly
        sentence = _(
            "Against the held-out customers, the campaign changed visits by %(visits)s "
            "(±%(visits_ci)s) and margin by %(margin)s (±%(margin_ci)s); it cost %(cost)s, so "
            "the net is %(net)s."
        )
    words = sentence % {
        "visits": f"{f['visits']:+.0f}",
        "visits_ci": f"{f['visits_ci']:.0f}",
        "margin": money(f["margin"]),
        # A word joiner keeps "±" and the amount on one line.
        "margin_ci": "\u2060" + money(f["margin_ci"]),
        "cost": money(Decimal(f["cost"])),
        "net": money(f["net"]),
    }
    if f["significant"] and f["margin"] < 0 and f["visits"] <= 0:
        verdict = _("The held-out customers did better: this is more than chance would give.")
    elif f["significant"]:
        verdict = _("This is more than chance would give.")
    else:
        verdict = _("This could still be chance: the held-out customers did about as well.")
    if not f["window_complete"]:
        verdict += " " + _("The results window is not over yet.")
    return f"{words} {verdict}"


def came_back_words(f: dict) -> str:
    d = f["came_back"]
    if not d["known"]:
        return ""
    return _(
        "%(t).0f%% of those who got it came back, %(c).0f%% of those held out "
        "(difference %(d)+.0f points, ±%(ci).0f)."
    ) % {
        "t": d["treated"] * 100,
        "c": d["control"] * 100,
        "d": d["diff"] * 100,
        "ci": d["ci"] * 100,
    }


def campaign_results(campaign: Campaign, now: datetime | None = None) -> Results:
    """Recipients vs held-out customers over the campaign's window (intention to treat: every
    customer drawn for the message counts, sent or not, so both groups stay alike)."""
    now = now or timezone.now()
    business = campaign.business
    window = timedelta(days=campaign.window_days)
    members = list(
        CampaignMember.objects.for_business(business)
        .filter(campaign=campaign, entered_at__lte=now)  # as of `now`: a past week's report
        .values("customer_id", "group", "segment", "entered_at", "status", "reason", "coupon_id")
    )
    outcomes = _outcomes(business, members, window, now)
    counts = defaultdict(int)
    reasons: dict[str, int] = defaultdict(int)
    for m in members:
        counts[m["status"]] += 1
        if m["status"] == Status.SKIPPED:
            reasons[m["reason"].split(":")[0] or "other"] += 1
    coupons = [m["coupon_id"] for m in members if m["coupon_id"]]
    redeemed = (
        LedgerEntry.objects.for_business(business)
        .filter(kind=LedgerEntry.Kind.COUPON_REDEEMED, coupon_id__in=coupons)
        .filter(reversed_by__isnull=True)
        .aggregate(n=Count("id"), value=Sum("value"))
        if coupons
        else {"n": 0, "value": None}
    )
    latest = max((m["entered_at"] for m in members), default=now)
    return Results(
        campaign=campaign,
        entered=len(members),
        treated=sum(m["group"] == Group.TREATMENT for m in members),
        control=sum(m["group"] == Group.CONTROL for m in members),
        sent=counts[Status.SENT],
        to_send=counts[Status.SCHEDULED],
        not_sent=counts[Status.SKIPPED],
        window_complete=bool(members)
        and now >= latest + window
        and (campaign.kind == Campaign.Kind.ONE_OFF or campaign.status == Campaign.Status.FINISHED),
        came_back=_split(outcomes, "came_back"),
        visits=_split(outcomes, "visits"),
        revenue=_split(outcomes, "revenue"),
        margin=_split(outcomes, "margin"),
        redemptions=redeemed["n"] or 0,
        coupon_cost=redeemed["value"] or Decimal("0.00"),
        message_cost=campaign.cost_per_message * counts[Status.SENT],
        reasons=dict(reasons),
    )


@dataclass
class Lesson:
    segment: str
    label: str
    came_back: Difference
    campaigns: int

    @property
    def words(self) -> str:
        d = self.came_back
        return ngettext(
            "%(segment)s: messages changed the share who came back by %(d)+.0f points "
            "(±%(ci).0f) over %(n)d campaign.",
            "%(segment)s: messages changed the share who came back by %(d)+.0f points "
            "(±%(ci).0f) over %(n)d campaigns.",
            self.campaigns,
        ) % {
            "segment": self.label,
            "d": d.diff * 100,
            "ci": d.half_width * 100,
            "n": self.campaigns,
        }


def what_worked(business: Business, now: datetime | None = None) -> list[Lesson]:
    """Which customers campaigns moved in this shop: the return-share difference (treated vs
    held out) per segment the customers were in when they entered, pooled over every
    campaign whose members' windows are over. Only segments with enough customers in both
    groups; the largest effects first. Data, not a guess: each line carries its interval."""
    now = now or timezone.now()
    pooled: dict[str, list[_Outcome]] = defaultdict(list)
    campaigns: dict[str, set[int]] = defaultdict(set)
    for campaign in Campaign.objects.for_business(business).exclude(status=Campaign.Status.DRAFT):
        window = timedelta(days=campaign.window_days)
        members = list(
            CampaignMember.objects.filter(campaign=campaign, entered_at__lte=now - window).values(
                "customer_id", "group", "segment", "entered_at"
            )
        )
        for o in _outcomes(business, members, window, now):
            key = o.segment or Segment.NO_PURCHASE
            pooled[key].append(o)
            campaigns[key].add(campaign.pk)
    labels = dict(Segment.choices)
    lessons = []
    for segment, outcomes in pooled.items():
        d = _split(outcomes, "came_back")
        if d.known:
            lessons.append(
                Lesson(segment, str(labels.get(segment, segment)), d, len(campaigns[segment]))
            )
    lessons.sort(key=lambda lesson: (-lesson.came_back.diff, lesson.segment))
    return lessons


# Why a message was not sent, in words (`CampaignMember.reason` holds the code).
REASONS = {
    "no_consent": gettext_lazy("no marketing consent any more"),
    "blocked": gettext_lazy("customer blocked"),
    "frequency_cap": gettext_lazy("messaged by another campaign recently (frequency cap)"),
    "campaign_not_running": gettext_lazy("the campaign was not running"),
    "unreachable": gettext_lazy("no phone number or e-mail address"),
    "send_failed": gettext_lazy("sending failed"),
    "campaign_finished": gettext_lazy("the campaign was finished first"),
    "campaign_ended": gettext_lazy("the campaign's end date passed"),
    "window_over": gettext_lazy("the results window was over"),
}


def reason_label(code: str) -> str:
    key = (code or "").split(":")[0]
    return str(REASONS.get(key, key or _("other")))


def results_table(results: Results) -> list[dict[str, str]]:
    """Treated vs held out per customer, with the difference and its 95 % interval, as text
    for a small table (admin, app)."""

    def diff(d: Difference, shown: Callable[[float], str]) -> str:
        if not d.known:
            return "—"
        return f"{shown(d.diff)} ± {shown(d.half_width).lstrip('+')}"

    def pct(v: float) -> str:
        return f"{v * 100:.0f} %"

    def points(v: float) -> str:
        return _("%(v)+.1f points") % {"v": v * 100}

    def visits(v: float) -> str:
        return f"{v:.2f}"

    def money(v: float) -> str:
        return results.money(v)

    def signed_money(v: float) -> str:
        return format_money(round(v, 2), results.campaign.business.currency, signed=True)

    rows = [
        {
            "label": _("Customers"),
            "short_label": _("Customers"),
            "treated": str(results.treated),
            "control": str(results.control),
            "difference": "",
            "diff": "",
            "ci": "",
            "significant": False,
        }
    ]

    def bare_points(v: float) -> str:  # the phone's narrow column: points without the word
        return f"{v * 100:+.0f}"

    signed_visits = "{:+.2f}".format
    for label, short, d, shown, diff_shown, compact in (
        (_("Share who came back"), _("Came back"), results.came_back, pct, points, bare_points),
        (_("Visits per customer"), _("Visits each"), results.visits, visits, signed_visits,
         signed_visits),
        (_("Revenue per customer"), _("Revenue each"), results.revenue, money, signed_money,
         signed_money),
        (_("Margin per customer"), _("Margin each"), results.margin, money, signed_money,
         signed_money),
    ):  # fmt: skip
        rows.append(
            {
                "label": label,
                "short_label": short,  # for a phone's narrow table
                "treated": shown(d.treated_mean) if d.n_treated else "—",
                "control": shown(d.control_mean) if d.n_control else "—",
                "difference": diff(d, diff_shown),
                "diff": compact(d.diff) if d.known else "—",
                "ci": "± " + compact(d.half_width).lstrip("+") if d.known else "",
                "significant": d.significant,
            }
        )
    return rows


def audience_words(business: Business, audience: dict | None) -> list[str]:
    """A stored audience in words, one phrase per filter (app and admin). Tag names are read
    from the business's own tags only: an id of another business's tag names nothing."""
    try:
        a = parse_audience(audience or {})
    except AudienceError:
        return []
    segments = dict(Segment.choices)
    sources = dict(Customer.Source.choices)
    words = []
    if a.tiers:
        words.append(_("tier %(t)s") % {"t": ", ".join(a.tiers)})
    if a.segments:
        words.append(", ".join(str(segments.get(s, s)) for s in a.segments))
    if a.churn_min is not None:
        words.append(_("chance of not coming back ≥ %(p)s") % {"p": f"{a.churn_min * 100:.0f} %"})
    if a.churn_max is not None:
        words.append(_("chance of not coming back ≤ %(p)s") % {"p": f"{a.churn_max * 100:.0f} %"})
    if a.value_at_stake_min is not None:
        words.append(
            _("value at stake ≥ %(v)s")
            % {"v": format_money(a.value_at_stake_min, business.currency)}
        )
    if a.birthday_month:
        words.append(_("birthday in month %(m)d") % {"m": a.birthday_month})
    if a.sources:
        words.append(", ".join(str(sources.get(s, s)) for s in a.sources))
    if a.tags:
        names = Tag.objects.for_business(business).filter(pk__in=a.tags)
        words.append(_("tag %(t)s") % {"t": ", ".join(t.name for t in names)})
    if a.last_visit_before:
        words.append(_("last visit before %(d)s") % {"d": a.last_visit_before.isoformat()})
    if a.last_visit_after:
        words.append(_("last visit after %(d)s") % {"d": a.last_visit_after.isoformat()})
    if a.member_card is not None:
        words.append(_("members only") if a.member_card else _("not members"))
    return words or [_("all customers who may be messaged")]
