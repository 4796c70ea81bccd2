"""Customer and purchase export as CSV and XLSX that is safe to open in a spreadsheet.

- Formula injection: every text cell a spreadsheet could run as a formula (starting with
  =, +, -, @, TAB or CR, also after leading spaces) gets a leading ' and, in XLSX, is an
  explicit string cell. Phone numbers are text cells in XLSX (a validated +86… is shown as is);
  in CSV the same ' rule applies to them as to any cell (a spreadsheet would read +8613800138000
  as a number). The importer removes that quote again, so an export imports back unchanged.
- CSV is UTF-8 with a BOM, so Excel on a Chinese Windows PC shows the characters right.
- Memory stays bounded: rows are read with `iterator(chunk_size=2000)`, CSV is streamed and
  XLSX is written by openpyxl's write-only mode.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import IO, Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.models import Business

from .importing.columns import LABELS
from .importing.parsing import business_zone, is_formula_like
from .models import Customer, Purchase

CHUNK = 2000
CSV = "csv"
XLSX = "xlsx"
FORMATS = (CSV, XLSX)
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_E164 = re.compile(r"\+\d{6,15}")
# Characters XML 1.0 (and so XLSX) cannot hold; openpyxl refuses them.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(text: str) -> str:
    """'=1+1 instead of =1+1: shown as text, never run. Text starting with a quote gets one
    more ('=1+1 → ''=1+1), so the import takes exactly one off and the round trip is exact."""
    return "'" + text if text[:1] == "'" or is_formula_like(text) else text


@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    kind: str = "text"  # text, phone, number, date, datetime


CUSTOMER_COLUMNS = (
    Column("customer_no", LABELS["customer_no"]),
    Column("name", LABELS["name"]),
    Column("phone", LABELS["phone"], "phone"),
    Column("wechat_id", LABELS["wechat_id"]),
    Column("email", LABELS["email"]),
    Column("gender", LABELS["gender"]),
    Column("birthday", LABELS["birthday"], "date"),
    Column("city", LABELS["city"]),
    Column("source", LABELS["source"]),
    Column("tags", LABELS["tags"]),
    Column("status", LABELS["status"]),
    Column("marketing_consent", LABELS["marketing_consent"]),
    Column("assigned_to", LABELS["assigned_to"]),
    Column("notes", LABELS["notes"]),
    Column("created_at", gettext_lazy("Customer since"), "datetime"),
    Column("purchase_count", pgettext_lazy("count", "Purchases"), "number"),
    Column("total_spent", gettext_lazy("Total spent"), "number"),
    Column("last_purchase_at", gettext_lazy("Last purchase"), "datetime"),
)

PURCHASE_COLUMNS = (
    Column("occurred_at", LABELS["occurred_at"], "datetime"),
    Column("customer_no", LABELS["customer_no"]),
    Column("name", LABELS["name"]),
    Column("phone", LABELS["phone"], "phone"),
    Column("amount", LABELS["amount"], "number"),
    Column("cost", LABELS["cost"], "number"),
    Column("channel", LABELS["channel"]),
    Column("items", LABELS["items"]),
    Column("external_id", LABELS["external_id"]),
)


@dataclass
class ExportTable:
    title: str
    columns: tuple[Column, ...]
    rows: Iterable[list[Any]]

    @property
    def headers(self) -> list[str]:
        return [str(c.label) for c in self.columns]


def _local(value: datetime | None, zone: tzinfo) -> datetime | None:
    """Wall-clock time in the business's zone, to the second (what the importer reads back)."""
    if value is None:
        return None
    return timezone.localtime(value, zone).replace(tzinfo=None, microsecond=0)


def customers_for_export(business: Business, base: QuerySet | None = None) -> QuerySet:
    qs = Customer.objects.for_business(business)
    if base is not None:
        qs = qs.filter(pk__in=base.order_by().values("pk"))
    return qs.with_totals().select_related("assigned_to").prefetch_related("tags").order_by("id")


def purchases_for_export(business: Business, base: QuerySet | None = None) -> QuerySet:
    qs = Purchase.objects.for_business(business)
    if base is not None:
        qs = qs.filter(pk__in=base.order_by().values("pk"))
    return qs.order_by("occurred_at", "id")


def customer_table(business: Business, queryset: QuerySet | None = None) -> ExportTable:
    zone = business_zone(business.time_zone)
    yes, no = _("yes"), _("no")

    def rows() -> Iterator[list[Any]]:
        for c in customers_for_export(business, queryset).iterator(chunk_size=CHUNK):
            yield [
                c.customer_no,
                c.name,
                c.phone,
                c.wechat_id,
                c.email,
                c.get_gender_display() if c.gender else "",
                c.birthday,
                c.city,
                c.get_source_display() if c.source else "",
                ", ".join(t.name for t in c.tags.all()),
                c.get_status_display(),
                yes if c.marketing_consent else no,
                c.assigned_to.get_username() if c.assigned_to_id else "",
                c.notes,
                _local(c.created_at, zone),
                c.purchase_count,
                c.total_spent or Decimal("0.00"),
                _local(c.last_purchase_at, zone),
            ]

    return ExportTable(str(Customer._meta.verbose_name_plural), CUSTOMER_COLUMNS, rows())


def purchase_table(business: Business, queryset: QuerySet | None = None) -> ExportTable:
    zone = business_zone(business.time_zone)

    def rows() -> Iterator[list[Any]]:
        values = purchases_for_export(business, queryset).values_list(
            "occurred_at",
            "customer__customer_no",
            "customer__name",
            "customer__phone",
            "amount",
            "cost",
            "channel",
            "items",
            "external_id",
        )
        for when, *rest in values.iterator(chunk_size=CHUNK):
            yield [_local(when, zone), *rest]

    return ExportTable(str(Purchase._meta.verbose_name_plural), PURCHASE_COLUMNS, rows())


# --- CSV -------------------------------------------------------------------------------


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def iter_csv(table: ExportTable, *, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """The table as UTF-8 CSV with BOM, in pieces (for StreamingHttpResponse)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(h) for h in table.headers])
    yield "\ufeff".encode() + buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    for i, row in enumerate(table.rows, start=1):
        writer.writerow([_csv_cell(v) for v in row])
        if not i % rows_per_chunk:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def write_csv(table: ExportTable, out: IO[bytes]) -> None:
    for piece in iter_csv(table):
        out.write(piece)


# --- XLSX ------------------------------------------------------------------------------


def write_xlsx(table: ExportTable, out: IO[bytes] | str) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=table.title[:31] or "Sheet1")

    def text(value: str, *, phone: bool = False) -> Any:
        value = _ILLEGAL_XML.sub("", value)
        if not (phone and _E164.fullmatch(value)):
            value = neutralise(value)
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # never a formula, whatever openpyxl would guess
        return cell

    kinds = [c.kind for c in table.columns]
    sheet.append([text(h) for h in table.headers])
    for row in table.rows:
        cells = []
        for kind, value in zip(kinds, row, strict=True):
            if isinstance(value, str):
                cells.append(text(value, phone=kind == "phone") if value else None)
            else:
                cells.append(value)
        sheet.append(cells)
    workbook.save(out)


def write_table(table: ExportTable, fmt: str, out: IO[bytes]) -> None:
    if fmt == XLSX:
        write_xlsx(table, out)
    else:
        write_csv(table, out)


def export_filename(business: Business, kind: str, fmt: str) -> str:
    stamp = timezone.localtime(timezone.now(), business_zone(business.time_zone))
    return f"{kind}-{business.slug}-{stamp:%Y%m%d-%H%M}.{fmt}"
