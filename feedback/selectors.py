"""Reads of the feedback app: scores for segmentation, monthly figures, the customer timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Avg, Case, Count, F, FloatField, Value, When
from django.db.models.functions import Cast, TruncMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from accounts.models import Business
from customers.models import Customer
from customers.selectors import TimelineEvent

from .models import Feedback

_NPS01 = Cast(F("nps"), FloatField()) / Value(10.0)
_STARS01 = (Cast(F("stars"), FloatField()) - Value(1.0)) / Value(4.0)
# One entry's satisfaction in [0, 1]: nps/10, or the mean of nps/10 and (stars − 1)/4.
SATISFACTION = Case(
    When(stars__isnull=True, then=_NPS01),
    default=(_NPS01 + _STARS01) / Value(2.0),
    output_field=FloatField(),
)


def satisfaction_by_customer(business: Business, as_of_end: datetime) -> dict[int, float]:
    """Per customer id, the mean satisfaction in [0, 1] of the business's feedback received
    before `as_of_end`. Customers without linked feedback are absent."""
    rows = (
        Feedback.objects.for_business(business)
        .filter(customer__isnull=False, created_at__lt=as_of_end)
        .values("customer_id")
        .annotate(satisfaction=Avg(SATISFACTION))
        .order_by()
    )
    return {row["customer_id"]: float(row["satisfaction"]) for row in rows}


def nps_value(promoters: int, detractors: int, responses: int) -> int | None:
    """NPS = % promoters − % detractors, rounded half away from zero; None without responses."""
    if not responses:
        return None
    value = Decimal(100 * (promoters - detractors)) / Decimal(responses)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class MonthFigures:
    month: date
    responses: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    rated: int = 0  # responses with stars
    avg_stars: Decimal | None = None

    @property
    def nps(self) -> int | None:
        return nps_value(self.promoters, self.detractors, self.responses)


def _tz(business: Business):
    try:
        return ZoneInfo(business.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()


def _month_starts(last: date, months: int) -> list[date]:
    out, year, month = [], last.year, last.month
    for _i in range(months):
        out.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def feedback_months(
    business: Business, *, months: int = 12, now: datetime | None = None
) -> tuple[list[MonthFigures], MonthFigures]:
    """NPS and average stars per month (business's time zone), newest month first, for the
    last `months` months including the current one; and the same over the whole period."""
    tz = _tz(business)
    local_now = (now or timezone.now()).astimezone(tz)
    starts = _month_starts(local_now.date(), months)
    since = datetime(starts[-1].year, starts[-1].month, 1, tzinfo=tz)
    base = Feedback.objects.for_business(business).filter(
        created_at__gte=since, created_at__lte=local_now
    )
    figures_of = {
        "responses": Count("id"),
        "promoters": Count("id", filter=Feedback.group_q(Feedback.NpsGroup.PROMOTER)),
        "passives": Count("id", filter=Feedback.group_q(Feedback.NpsGroup.PASSIVE)),
        "detractors": Count("id", filter=Feedback.group_q(Feedback.NpsGroup.DETRACTOR)),
        "rated": Count("stars"),
        "avg_stars": Avg("stars"),
    }
    rows = (
        base.annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month")
        .annotate(**figures_of)
        .order_by("month")
    )
    by_month = {}
    for row in rows:
        month = row.pop("month")
        if isinstance(month, datetime):
            month = month.astimezone(tz).date()
        month = month.replace(day=1)
        row["avg_stars"] = _stars(row["avg_stars"])
        by_month[month] = MonthFigures(month=month, **row)
    figures = [by_month.get(start, MonthFigures(month=start)) for start in starts]
    total = base.aggregate(**figures_of)
    total["avg_stars"] = _stars(total["avg_stars"])
    return figures, MonthFigures(month=starts[-1], **total)


def _stars(value) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def customer_feedback_events(customer: Customer, limit: int) -> list[TimelineEvent]:
    """The customer's feedback for the customer timeline (registered in FeedbackConfig)."""
    events = []
    rows = Feedback.objects.filter(customer=customer, business_id=customer.business_id).order_by(
        "-created_at", "-id"
    )[:limit]
    for f in rows:
        label = _("Feedback: NPS %(nps)s") % {"nps": f.nps}
        if f.stars:
            label += " " + "★" * f.stars
        parts = [
            f.get_topic_display() if f.topic else "",
            Truncator(f.comment).chars(120),
            _("Request: %(request)s") % {"request": Truncator(f.request).chars(80)}
            if f.request
            else "",
            f"({f.get_status_display()})",
        ]
        events.append(
            TimelineEvent(
                when=f.created_at,
                kind="feedback",
                label=label,
                detail=" — ".join(p for p in parts if p),
                amount=None,
                url=reverse("admin:feedback_feedback_change", args=[f.pk]),
            )
        )
    return events


# The shop app (phone) ---------------------------------------------------------------------


def feedback_inbox(business: Business, *, waiting_only: bool = False):
    """Feedback to triage: detractors first, then newest, with the linked customer."""
    qs = Feedback.objects.for_business(business).select_related("customer")
    if waiting_only:
        qs = qs.filter(status=Feedback.Status.NEW)
    return qs.order_by(
        Case(When(Feedback.group_q(Feedback.NpsGroup.DETRACTOR), then=Value(0)), default=Value(1)),
        "-created_at",
        "-id",
    )


def feedback_nps_between(business: Business, start: datetime, end: datetime) -> dict:
    """Responses and NPS of the feedback received in [start, end)."""
    row = (
        Feedback.objects.for_business(business)
        .filter(created_at__gte=start, created_at__lt=end)
        .aggregate(
            responses=Count("id"),
            promoters=Count("id", filter=Feedback.group_q(Feedback.NpsGroup.PROMOTER)),
            detractors=Count("id", filter=Feedback.group_q(Feedback.NpsGroup.DETRACTOR)),
        )
    )
    row["nps"] = nps_value(row["promoters"], row["detractors"], row["responses"])
    return row
