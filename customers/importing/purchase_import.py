"""Purchases: matched to the business's customers by customer number, then phone; never
counted twice.

- A row with an external id (单号) already in the database, or repeated in the file, is skipped.
- A row without one is skipped when the database already holds as many purchases with the same
  customer, time (to the second) and amount as the file has so far: importing the same file
  again creates nothing, while two identical sales in one file are both kept.
- Unknown customers are errors, or are created from the row with `create_customers`.

One pass, chunk by chunk, outside any transaction: a dry run only checks; a real import
also stages each checked chunk's rows in a temporary file (stopping at the first error row
unless valid rows only), and `write` then inserts the staged rows in the import's one short
transaction. Only counts, errors, the first rows of the preview and the sets that detect
repeats stay in memory, so memory does not grow with the number of columns or the size of
the file, only with the number of distinct sales.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import IO, Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ITEMS_MAX, Customer, Purchase
from .columns import PURCHASES
from .parsing import CellError, parse_amount, text_parser
from .pipeline import CHUNK, NEW, SKIPPED, BaseImporter, chunked
from .writing import RowMaker, insert_columns, insert_rows, insert_rows_returning_ids


class _NewCustomer:
    """A customer a purchase row names but the business does not have (yet)."""

    __slots__ = ("first_row", "name", "no", "phone", "pk", "used")

    def __init__(self, no: str, phone: str, name: str, first_row: int):
        self.no = no
        self.phone = phone
        self.name = name or no or phone
        self.first_row = first_row
        self.pk: int | None = None
        self.used = False


class PurchaseImporter(BaseImporter):
    kind = PURCHASES
    create_customers = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        p = self.parsers
        self.field_parsers = {
            "occurred_at": p.when,
            "time": self._time,
            "customer_no": text_parser(40),
            "name": text_parser(100),
            "phone": p.phone,
            "amount": parse_amount,
            "cost": parse_amount,
            "margin": parse_amount,
            "channel": text_parser(40),
            "items": text_parser(ITEMS_MAX),
            "external_id": text_parser(64),
        }
        self.db_no: dict[str, int] = {}
        self.db_phone: dict[str, int] = {}
        self.new_no: dict[str, _NewCustomer] = {}
        self.new_phone: dict[str, _NewCustomer] = {}
        self.seen_ext: dict[str, int] = {}
        self.seen_key: dict[tuple, list[int]] = {}
        self.created = 0
        self._stage: IO[bytes] | None = None
        self._maker: RowMaker | None = None
        self._new: list[_NewCustomer] = []  # created by this import, in staging order
        self.messages = {
            "ext_done": _("Already imported (same external id)."),
            "key_done": _("Already imported (same customer, time and amount)."),
            "created": _("Customer created."),
        }

    def _time(self, raw: Any) -> time | datetime | date:
        try:
            return self.parsers.time_of_day(raw)
        except CellError:
            return self.parsers.when(raw)  # a whole date and time in the "time" column

    # --- passes ---------------------------------------------------------------------
    def check(self) -> None:
        self._run(write=False)

    def prepare(self) -> None:
        self._stage = tempfile.TemporaryFile()  # noqa: SIM115 - closed in cleanup()
        self._run(write=True)

    def cleanup(self) -> None:
        if self._stage is not None:
            self._stage.close()
            self._stage = None

    def _run(self, *, write: bool) -> None:
        self.require_columns(("occurred_at", "time"), ("amount",), ("customer_no", "phone"))
        rows = Customer.objects.for_business(self.business).values_list(
            "id", "customer_no", "phone"
        )
        for pk, no, phone in rows.iterator(chunk_size=5000):
            if no:
                self.db_no[no] = pk
            if phone:
                self.db_phone[phone] = pk
        getters = self.getters(self.field_parsers)
        seen = 0
        for chunk in chunked(self.table.rows(), CHUNK):
            # Stage while checking, until an error makes the whole file fail.
            self._chunk(chunk, getters, write and not self.report.blocked)
            seen += len(chunk)
            self.report.total_rows = seen
            self.tick("check", seen)
        self.report.customers_created = self.created

    # --- one chunk ------------------------------------------------------------------
    def _text(self, values: dict) -> str:
        """The row as the preview shows it (only built for rows the preview keeps)."""
        moment, amount = values.get("occurred_at"), values.get("amount")
        parts = [
            timezone.localtime(moment, self.parsers.zone).strftime("%Y-%m-%d %H:%M")
            if isinstance(moment, datetime)
            else "",
            "" if amount is None else str(amount),
            values.get("name") or values.get("customer_no") or values.get("phone") or "",
        ]
        return " · ".join(p for p in parts if p)

    def _parse(self, row_no: int, cells, getters) -> tuple[dict, Any, list | None]:
        header = self.columns.header
        values, errors = self.parse_cells(getters, cells)
        errors = errors or []
        when = values.get("occurred_at")
        at = values.get("time")
        if isinstance(at, datetime | date) and when is None:
            when = at
        moment = None
        if when is None:
            if not errors:
                errors.append((header("occurred_at"), _("The date is missing.")))
        else:
            moment = self.parsers.moment(when, at if isinstance(at, time) else None)
            values["occurred_at"] = moment
        amount = values.get("amount")
        if amount is None and not any(c == header("amount") for c, _m in errors):
            errors.append((header("amount"), _("The amount is missing.")))
        margin = values.get("margin")
        if margin is not None and values.get("cost") is None and amount is not None:
            if margin > amount:
                errors.append((header("margin"), _("The margin is larger than the amount.")))
            else:
                values["cost"] = amount - margin
        no = values.get("customer_no", "")
        phone = values.get("phone", "")
        customer: Any = None
        if not errors:
            customer = self.db_no.get(no) if no else None
            if customer is None and phone:
                customer = self.db_phone.get(phone)
            if customer is None and no:
                customer = self.new_no.get(no)
            if customer is None and phone:
                customer = self.new_phone.get(phone)
            if customer is None:
                if not no and not phone:
                    errors.append(
                        (
                            header("phone"),
                            _("The row names no customer: give a customer number or a phone."),
                        )
                    )
                elif not self.create_customers:
                    errors.append(
                        (
                            header("customer_no" if no else "phone"),
                            _(
                                "No customer with this customer number or phone number. Tick "
                                "“create missing customers” to create them."
                            ),
                        )
                    )
                else:
                    customer = _NewCustomer(no, phone, values.get("name", ""), row_no)
        return values, customer, errors or None

    def _chunk(self, chunk, getters, write: bool) -> None:
        parsed = []
        report = self.report
        for row_no, cells in chunk:
            values, customer, errors = self._parse(row_no, cells, getters)
            if errors:
                self.add_error(row_no, errors, self._text(values))
                continue
            if isinstance(customer, _NewCustomer) and customer.first_row == row_no:
                if customer.no:
                    self.new_no[customer.no] = customer
                if customer.phone:
                    self.new_phone[customer.phone] = customer
            parsed.append((row_no, values, customer))

        existing_ids = self._existing_external_ids(parsed)
        stored = self._stored_counts(parsed)
        to_write = []
        messages = self.messages
        for row_no, values, customer in parsed:
            ext = values.get("external_id")
            message = ""
            if ext:
                first = self.seen_ext.get(ext)
                if first is not None:
                    state = SKIPPED
                    message = _("Same external id as row %(row)d.") % {"row": first}
                elif ext in existing_ids:
                    state = SKIPPED
                    message = messages["ext_done"]
                else:
                    state = NEW
                    self.seen_ext[ext] = row_no
            else:
                key = (customer, values["occurred_at"], values["amount"])
                entry = self.seen_key.get(key)
                if entry is None:
                    entry = self.seen_key[key] = [stored.get(key, 0), 0]
                entry[1] += 1
                if entry[1] <= entry[0]:
                    state = SKIPPED
                    message = messages["key_done"]
                else:
                    state = NEW
            if state == NEW:
                if isinstance(customer, _NewCustomer) and not customer.used:
                    customer.used = True
                    self.created += 1
                    message = messages["created"]
                to_write.append((values, customer))
            report.counts[state] += 1
            if len(report.preview) < self.preview_limit:
                report.preview.append(
                    {"row": row_no, "state": state, "text": self._text(values), "message": message}
                )
        if write:
            self._write(to_write)

    def _existing_external_ids(self, parsed) -> set[str]:
        seen = self.seen_ext
        ids = {v["external_id"] for _r, v, _c in parsed if v.get("external_id")}
        ids = {i for i in ids if i not in seen}  # not set − dict: that walks the whole dict
        if not ids:
            return set()
        # By hand, for the literal NOT (external_id = ''): only with it in the query text may
        # SQLite and PostgreSQL use the partial unique index (business, external_id); the
        # ORM would pass '' as a parameter and scan the business's purchases instead.
        quote = connection.ops.quote_name
        table, ext, business = (
            quote(Purchase._meta.db_table),
            quote("external_id"),
            quote("business_id"),
        )
        marks = ", ".join(["%s"] * len(ids))
        sql = (
            f"SELECT {ext} FROM {table} WHERE {business} = %s "  # noqa: S608 - names quoted, values bound
            f"AND NOT ({ext} = '') AND {ext} IN ({marks})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.business.pk, *ids])
            return {row[0] for row in cursor.fetchall()}

    def _stored_counts(self, parsed) -> Counter:
        """How many purchases without external id the database holds per new key."""
        keys = [
            (c, v["occurred_at"], v["amount"])
            for _r, v, c in parsed
            if not v.get("external_id") and type(c) is int
        ]
        keys = [k for k in keys if k not in self.seen_key]
        if not keys:
            return Counter()
        moments = [k[1] for k in keys]
        # Scoped through the customer: so the (customer, occurred_at) index is the one used.
        rows = (
            Purchase.objects.filter(customer__business=self.business)
            .order_by()
            .filter(
                external_id="",
                customer_id__in={k[0] for k in keys},
                occurred_at__gte=min(moments),
                occurred_at__lt=max(moments) + timedelta(seconds=1),
            )
            .values_list("customer_id", "occurred_at", "amount")
        )
        return Counter((c, when.replace(microsecond=0), amount) for c, when, amount in rows)

    def _write(self, rows: list[tuple[dict, Any]]) -> None:
        """Stage checked rows, database-ready, so that the write only inserts them. A new
        customer's id is not known yet: its place in `self._new`, as -(place + 1), stands in."""
        if not rows:
            return
        if self._maker is None:
            fields = insert_columns(Purchase)
            defaults = {f.attname: f.get_default() for f in fields}
            defaults.update(business_id=self.business.pk, created_at=timezone.now(), cost=None)
            self._maker = RowMaker(fields, defaults)
        maker = self._maker
        staged = []
        for values, customer in rows:
            if isinstance(customer, _NewCustomer):
                if customer.pk is None:
                    self._new.append(customer)
                    customer.pk = -len(self._new)
                values["customer_id"] = customer.pk
            else:
                values["customer_id"] = customer
            staged.append(maker.row(values))
        pickle.dump(staged, self._stage, protocol=pickle.HIGHEST_PROTOCOL)

    def write(self) -> None:
        """Insert the staged customers and purchases (inside the caller's transaction)."""
        new_ids: list[int] = []
        if self._new:
            now = timezone.now()
            fields = insert_columns(Customer)
            defaults = {f.attname: f.get_default() for f in fields}
            defaults.update(business_id=self.business.pk, created_at=now, updated_at=now)
            new_rows = []
            for c in self._new:
                values = {**defaults, "name": c.name[:100], "phone": c.phone, "customer_no": c.no}
                new_rows.append([values[f.attname] for f in fields])
            new_ids = insert_rows_returning_ids(Customer, fields, new_rows)
        if self._maker is None:
            return
        at = self._maker.position["customer_id"]
        self._stage.seek(0)
        while True:
            try:
                staged = pickle.load(self._stage)  # noqa: S301 - our own file, written above
            except EOFError:
                break
            if new_ids:
                for row in staged:
                    if row[at] < 0:
                        row[at] = new_ids[-row[at] - 1]
            insert_rows(Purchase, self._maker.fields, staged, prepared=True)
        self.tick("write", self.report.total_rows)
