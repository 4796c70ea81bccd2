from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import CharField, Count, F, Func, JSONField, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Customer, Tag


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


TAG_NAMES_ATTR = "xw_tag_names"


class TagNames(Func):
    """A customer's tag names in name order, as a list in the customer's own row: a list
    page's tags come with its one query, without prefetch_related's second query and its
    per-row managers and querysets. Annotate as TAG_NAMES_ATTR.

    The correlated subquery's SQL is written once per database from the models' own table
    and column names: compiling it as an ORM subquery cost a list page about a millisecond,
    every page."""

    output_field = JSONField()
    _sql: dict[str, str] = {}

    def __init__(self):
        super().__init__(F("pk"))

    def as_sql(self, compiler, connection, **extra_context):
        customer, params = compiler.compile(self.source_expressions[0])
        return self._template(connection) % {"customer": customer}, params

    @classmethod
    def _template(cls, connection) -> str:
        template = cls._sql.get(connection.vendor)
        if template is None:
            # Only quoted table and column names of the models go in; the customer is a column.
            q = connection.ops.quote_name
            m2m = Customer._meta.get_field("tags")
            tags = (
                f"SELECT xw_t.{q('name')} FROM {q(Tag._meta.db_table)} xw_t"  # noqa: S608
                f" INNER JOIN {q(m2m.remote_field.through._meta.db_table)} xw_ct"
                f" ON xw_ct.{q(m2m.m2m_reverse_name())} = xw_t.{q('id')}"
                f" WHERE xw_ct.{q(m2m.m2m_column_name())} = %(customer)s"
                f" ORDER BY xw_t.{q('name')}, xw_t.{q('id')}"
            )
            if connection.vendor == "postgresql":
                template = f"to_jsonb(ARRAY({tags}))"
            else:  # SQLite: json_group_array keeps the subquery's order
                template = f"(SELECT json_group_array(xw_n.{q('name')}) FROM ({tags}) xw_n)"  # noqa: S608
            cls._sql[connection.vendor] = template
        return template


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
    from .phones import cn_mobile_valid, is_valid_phone

    bad: list[int] = []
    rows = queryset.exclude(phone="").order_by().values_list("pk", "phone")
    for pk, phone in rows.iterator(chunk_size=5000):
        if (
            len(phone) == 14
            and phone[:4] == "+861"
            and phone[4] in "3456789"
            and phone[1:].isdigit()
        ):
            valid = cn_mobile_valid(phone[3:])
        else:
            valid = is_valid_phone(phone)
        if not valid:
            bad.append(pk)
            if len(bad) >= INVALID_PHONE_LIST_MAX:
                break
    return queryset.filter(pk__in=bad)


# The shop app (phone) -------------------------------------------------------------------

SEARCH_LIMIT = 20


def customer_search(business, term: str, limit: int = SEARCH_LIMIT) -> list:
    """Customers of `business` matching what someone types at the counter: the last four
    digits or a whole phone number in any format, a customer/card number, or a name (names
    that start with the term first, then names that contain it), at most `limit`, by name.

    Reads newest first and stops at `limit`, so a common term never sorts the whole table;
    a name prefix is a range on the (business, name) index."""
    from django.db.models import Q

    from .phones import looks_like_phone, phone_search_q

    term = (term or "").replace("\x00", "").strip()[:64]  # PostgreSQL refuses NUL
    qs = Customer.objects.for_business(business)
    if not term:
        return []
    if looks_like_phone(term):
        region = business.phone_region if business else "CN"
        match = phone_search_q(term, region) | Q(customer_no=term)
        found = list(qs.filter(match).order_by("-id")[:limit])
    else:
        exact = Q(customer_no=term) | Q(wechat_id=term)
        prefix = Q(name__gte=term, name__lt=term + "\U0010ffff", name__startswith=term)
        found = list(qs.filter(prefix | exact).order_by("-id")[:limit])
        if len(found) < limit:
            seen = [c.pk for c in found]
            found += list(
                qs.filter(name__icontains=term)
                .exclude(pk__in=seen)
                .order_by("-id")[: limit - len(found)]
            )
    found.sort(key=lambda c: (c.name, c.pk))
    return found


def follow_ups_open(business, *, until: date, assigned_to=None):
    """Open follow-ups due on or before `until` (overdue first), with their customer."""
    from .models import FollowUp

    qs = FollowUp.objects.for_business(business).filter(done_at__isnull=True, due_on__lte=until)
    if assigned_to is not None:
        qs = qs.filter(assigned_to=assigned_to)
    return qs.select_related("customer", "assigned_to").order_by("due_on", "id")


class MonthDay(Func):
    """A date's "MM-DD" with the database's own native function (SQLite's strftime,
    PostgreSQL's to_char), so a birthday scan never calls back into Python per row."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        # '%%%%' survives the template's own % formatting as '%%', the parameter-style escape.
        template = "strftime('%%%%m-%%%%d', %(expressions)s)"
        return self.as_sql(compiler, connection, template=template)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="to_char(%(expressions)s, 'MM-DD')")


def birthdays_between(business, start: date, days: int = 7, limit: int = 20) -> list:
    """Customers whose birthday falls in the `days` days from `start`, soonest first."""
    from datetime import timedelta

    order = [(start + timedelta(days=offset)).strftime("%m-%d") for offset in range(days)]
    rows = list(
        Customer.objects.for_business(business)
        .filter(birthday__isnull=False)
        .annotate(month_day=MonthDay("birthday"))
        .filter(month_day__in=order)
        .exclude(status=Customer.Status.BLOCKED)
        .only("id", "name", "phone", "birthday")[: limit * 2]
    )
    rows.sort(key=lambda c: (order.index(c.month_day), c.name))
    return rows[:limit]


def activity_figures(business, ranges: dict[str, tuple[datetime, datetime]]) -> dict:
    """Sales, visits (sales plus logged visits) and new customers per named time range: one
    statement (three indexed aggregates joined by UNION ALL) whatever the number of ranges."""
    from django.db.models import Q, Value

    from .models import Interaction, Purchase

    lo = min(start for start, _end in ranges.values())
    hi = max(end for _start, end in ranges.values())

    def per_range(tag: int, qs, field: str, with_sum: bool = False):
        aggregates = {}
        for name, (start, end) in ranges.items():
            window = Q(**{f"{field}__gte": start, f"{field}__lt": end})
            aggregates[f"{name}__count"] = Count("id", filter=window)
            # Every part has the same columns; only sales have an amount.
            aggregates[f"{name}__amount"] = (
                Sum("amount", filter=window) if with_sum else Count("id", filter=Q(pk=None))
            )
        return (
            qs.filter(**{f"{field}__gte": lo, f"{field}__lt": hi})
            .annotate(part=Value(tag))
            .values("part")
            .annotate(**aggregates)
            .order_by()
        )

    sales = per_range(0, Purchase.objects.for_business(business), "occurred_at", with_sum=True)
    visits = per_range(
        1,
        Interaction.objects.for_business(business).filter(kind=Interaction.Kind.VISIT),
        "occurred_at",
    )
    new = per_range(2, Customer.objects.for_business(business), "created_at")
    # A part with no rows in the ranges returns no row at all: it counts zero.
    empty = {f"{name}__{what}": 0 for name in ranges for what in ("count", "amount")}
    parts = [dict(empty), dict(empty), dict(empty)]
    for row in sales.union(visits, new, all=True):
        parts[row["part"]].update(row)
    sales, visits, new = parts
    return {
        name: {
            "sales": Decimal(sales[f"{name}__amount"] or 0),
            "purchases": sales[f"{name}__count"],
            "visits": sales[f"{name}__count"] + visits[f"{name}__count"],
            "new_customers": new[f"{name}__count"],
        }
        for name in ranges
    }


def week_figures(
    business, start: datetime, end: datetime, last_start: datetime, last_end: datetime
) -> dict:
    """The owner's week against the same span of last week, in five queries: sales, repeat
    rate (buyers of the week who had bought before), new customers by acquisition source,
    and what each team member did (sales served, contacts logged, follow-ups done)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Exists, IntegerField, OuterRef, Q, Subquery, Value
    from django.db.models.functions import Coalesce

    from .models import FollowUp, Interaction, Purchase

    this_week = Q(occurred_at__gte=start, occurred_at__lt=end)
    last_week = Q(occurred_at__gte=last_start, occurred_at__lt=last_end)
    purchases = Purchase.objects.for_business(business)
    sales = purchases.filter(this_week | last_week).aggregate(
        sales=Sum("amount", filter=this_week), sales_before=Sum("amount", filter=last_week)
    )
    buyers = purchases.filter(this_week).values("customer_id")
    earlier = purchases.filter(customer_id=OuterRef("pk"), occurred_at__lt=start)
    repeat = (
        Customer.objects.for_business(business)
        .filter(pk__in=buyers)
        .aggregate(buyers=Count("id"), returning=Count("id", filter=Exists(earlier)))
    )
    rate = round(100 * repeat["returning"] / repeat["buyers"]) if repeat["buyers"] else None
    joined_now = Q(created_at__gte=start, created_at__lt=end)
    joined_before = Q(created_at__gte=last_start, created_at__lt=last_end)
    by_source = list(
        Customer.objects.for_business(business)
        .filter(joined_now | joined_before)
        .values("source")
        .annotate(n=Count("id", filter=joined_now), before=Count("id", filter=joined_before))
        .order_by("-n", "source")
    )
    labels = dict(Customer.Source.choices)
    sources = [
        {**row, "label": labels.get(row["source"], row["source"] or "—")}
        for row in by_source
        if row["n"]
    ]

    def per_person(qs, field: str):
        counted = qs.filter(**{field: OuterRef("pk")}).values(field).annotate(n=Count("id"))
        return Coalesce(Subquery(counted.values("n")), Value(0), output_field=IntegerField())

    team = list(
        get_user_model()
        .objects.filter(membership__business=business, is_active=True)
        .annotate(
            sales=per_person(purchases.filter(this_week), "served_by"),
            contacts=per_person(
                Interaction.objects.for_business(business).filter(this_week), "staff"
            ),
            follow_ups_done=per_person(
                FollowUp.objects.for_business(business).filter(done_at__gte=start, done_at__lt=end),
                "assigned_to",
            ),
        )
        .values("id", "username", "first_name", "last_name", "sales", "contacts", "follow_ups_done")
        .order_by("username")
    )
    for member in team:
        full = " ".join(x for x in (member["first_name"], member["last_name"]) if x)
        member["name"] = full or member["username"]
    return {
        "sales": sales["sales"] or Decimal("0"),
        "sales_before": sales["sales_before"] or Decimal("0"),
        "new_customers": sum(row["n"] for row in by_source),
        "new_customers_before": sum(row["before"] for row in by_source),
        "buyers": repeat["buyers"],
        "returning": repeat["returning"],
        "repeat_rate": rate,
        "new_by_source": sources,
        "team": team,
    }
