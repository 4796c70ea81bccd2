"""Report weeks: ISO weeks, Monday 00:00 to the next Monday 00:00 in the business's own zone."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import Business

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
REPORT_HOUR = 7  # Monday 07:00, local time: the report for the week just ended is due


def business_zone(business: Business) -> ZoneInfo:
    return ZoneInfo(business.time_zone or "Asia/Shanghai")


def week_bounds(business: Business, week_start: date) -> tuple[datetime, datetime]:
    """[start, end) of the week as aware datetimes: local midnights, so DST shifts are kept."""
    zone = business_zone(business)
    start = datetime.combine(week_start, time.min, tzinfo=zone)
    end = datetime.combine(week_start + timedelta(days=7), time.min, tzinfo=zone)
    return start, end


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def local_now(business: Business, now: datetime | None = None) -> datetime:
    return (now or timezone.now()).astimezone(business_zone(business))


def last_completed_week(business: Business, now: datetime | None = None) -> date:
    """The Monday of the latest week that has ended in the business's zone."""
    return monday_of(local_now(business, now).date()) - timedelta(days=7)


def report_due_week(business: Business, now: datetime | None = None) -> date | None:
    """The week whose report is due now (from Monday 07:00 local), or None before then."""
    local = local_now(business, now)
    week = last_completed_week(business, now)
    if local.weekday() == 0 and local.hour < REPORT_HOUR:
        week -= timedelta(days=7)  # Monday before 07:00: last week's report is not due yet
    return week


def parse_week(text: str) -> date:
    """'2026-W48' -> the Monday of that ISO week; ValueError with a clear message otherwise."""
    match = WEEK_RE.match((text or "").strip())
    if not match:
        raise ValueError(f"{text!r} is not a week like 2026-W05 (year, W, two-digit week).")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {week}.") from None


def week_label(week_start: date) -> str:
    year, week, _day = week_start.isocalendar()
    return f"{year}-W{week:02d}"
