from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import Count, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Customer


@dataclass(frozen=True)
class TimelineEvent:
    when: datetime | date
    kind: str
    label: str
    detail: str
    amount: Decimal | None = None
    url: str = ""


# Higher apps (feedback) add their own events to the timeline by registering a callable
# (customer, limit) -> iterable of TimelineEvent in their AppConfig.ready():
# customers never imports them.
TIMELINE_SOURCES: list[Callable[[Customer, int], Iterable[TimelineEvent]]] = []


def register_timeline_source(source: Callable[[Customer, int], Iterable[TimelineEvent]]) -> None:
    if source not in TIMELINE_SOURCES:
        TIMELINE_SOURCES.append(source)


def customer_totals(customer: Customer) -> dict:
    return customer.purchases.aggregate(
        count=Count("id"), total=Sum("amount"), last=Max("occurred_at")
    )


def customer_timeline(customer: Customer, limit: int = 200) -> list[TimelineEvent]:
    """Purchases, interactions and follow-ups of one customer, newest first."""
    events: list[TimelineEvent] = []
    for p in customer.purchases.order_by("-occurred_at")[:limit]:
        events.append(
            TimelineEvent(p.occurred_at, "purchase", _("Purchase"), p.items or p.channel, p.amount)
        )
    for i in customer.interactions.select_related("staff").order_by("-occurred_at")[:limit]:
        detail = " — ".join(x for x in (i.summary, i.outcome) if x)
        events.append(TimelineEvent(i.occurred_at, "interaction", i.get_kind_display(), detail))
    for f in customer.follow_ups.order_by("-due_on")[:limit]:
        state = _("done") if f.done_at else _("to do")
        events.append(TimelineEvent(f.due_on, "follow_up", _("Follow-up (%s)") % state, f.task))

    for source in TIMELINE_SOURCES:
        events.extend(source(customer, limit))

    def sort_key(event: TimelineEvent) -> datetime:
        when = event.when
        if isinstance(when, datetime):
            return when
        return timezone.make_aware(datetime.combine(when, time.min))

    events.sort(key=sort_key, reverse=True)
    return events[:limit]


# At most this many customers are listed by "phone needs checking" (one IN list).
INVALID_PHONE_LIST_MAX = 10_000


def customers_with_invalid_phone(queryset):
    """The customers of `queryset` (already scoped to a business) whose stored phone is not
    a valid number: checked in Python with phonenumbers, Chinese mobiles once per block."""
    from .phones import is_valid_phone

    blocks: dict[str, bool] = {}
    bad: list[int] = []
    rows = queryset.exclude(phone="").order_by().values_list("pk", "phone")
    for pk, phone in rows.iterator(chunk_size=5000):
        if (
            len(phone) == 14
            and phone[:4] == "+861"
            and phone[4] in "3456789"
            and phone[1:].isdigit()
        ):
            block = phone[:10]
            valid = blocks.get(block)
            if valid is None:
                valid = blocks[block] = is_valid_phone(phone)
        else:
            valid = is_valid_phone(phone)
        if not valid:
            bad.append(pk)
            if len(bad) >= INVALID_PHONE_LIST_MAX:
                break
    return queryset.filter(pk__in=bad)
