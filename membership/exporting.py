"""Ledger and balance exports, through the customers app's formula-safe CSV/XLSX writers
(cells a spreadsheet could run as a formula are neutralised; times in the business's zone)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Business
from customers.exporting import Column, ExportTable, iter_csv
from customers.importing.parsing import business_zone

from .models import LedgerEntry, MemberAccount

LEDGER_COLUMNS = (
    Column("id", _("Entry"), "number"),
    Column("created_at", _("When"), "datetime"),
    Column("card_no", _("Card number")),
    Column("customer", _("Customer")),
    Column("kind", _("Kind")),
    Column("principal", _("Paid value change"), "number"),
    Column("bonus", _("Bonus value change"), "number"),
    Column("points", _("Points change"), "number"),
    Column("visits", _("Visits change"), "number"),
    Column("value", _("Value"), "number"),
    Column("purchase", _("Sale"), "number"),
    Column("reverses", _("Reverses entry"), "number"),
    Column("actor", _("By")),
    Column("key", _("Idempotency key")),
    Column("reason", _("Reason")),
)
BALANCE_COLUMNS = (
    Column("card_no", _("Card number")),
    Column("customer", _("Customer")),
    Column("phone", _("Phone"), "phone"),
    Column("level", _("Level")),
    Column("principal", _("Stored value (paid)"), "number"),
    Column("bonus", _("Stored value (bonus)"), "number"),
    Column("points", _("Points"), "number"),
    Column("visits_left", _("Visits left"), "number"),
)


def _local(value, zone):
    return timezone.localtime(value, zone).replace(tzinfo=None, microsecond=0)


def ledger_table(business: Business, queryset: QuerySet | None = None) -> ExportTable:
    zone = business_zone(business.time_zone)
    qs = LedgerEntry.objects.for_business(business)
    if queryset is not None:
        qs = qs.filter(pk__in=queryset.order_by().values("pk"))
    qs = qs.select_related("account__customer").order_by("id")

    def rows() -> Iterator[list[Any]]:
        for e in qs.iterator(chunk_size=2000):
            yield [
                e.pk, _local(e.created_at, zone), e.account.card_no, e.account.customer.name,
                str(e.get_kind_display()), e.principal, e.bonus, e.points, e.visits, e.value,
                e.purchase_id, e.reverses_id, e.actor_label, e.idempotency_key, e.reason,
            ]  # fmt: skip

    return ExportTable(str(_("Ledger")), LEDGER_COLUMNS, rows())


def balance_table(business: Business) -> ExportTable:
    from django.db.models import Sum

    qs = (
        MemberAccount.objects.for_business(business)
        .select_related("customer", "level")
        .annotate(visits=Sum("visit_packages__visits_left"))
        .order_by("id")
    )

    def rows() -> Iterator[list[Any]]:
        for a in qs.iterator(chunk_size=2000):
            yield [
                a.card_no, a.customer.name, a.customer.phone, a.level.name if a.level else "",
                a.principal, a.bonus, a.points, a.visits or 0,
            ]  # fmt: skip

    return ExportTable(str(_("Balances")), BALANCE_COLUMNS, rows())


def ledger_csv_rows(queryset: QuerySet, business: Business | None) -> Iterator[bytes]:
    if business is None:
        return iter(())
    return iter_csv(ledger_table(business, queryset))
