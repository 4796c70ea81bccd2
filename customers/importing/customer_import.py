"""Customers: match by customer number, then by phone, within the business; merge repeated
rows; update only the fields a row fills; write in bulk."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.tenancy import business_members

from ..models import NOTES_MAX, Customer, Tag
from .columns import CUSTOMERS, LABELS
from .parsing import (
    GENDER_WORDS,
    SOURCE_WORDS,
    STATUS_WORDS,
    CellError,
    bool_parser,
    cell_text,
    choice_parser,
    parse_email,
    parse_tags,
    text_parser,
)
from .pipeline import MERGED, NEW, SKIPPED, UNCHANGED, UPDATED, BaseImporter, chunked
from .writing import (
    RowMaker,
    insert_columns,
    insert_rows,
    insert_rows_returning_ids,
    update_rows,
)

AMBIGUOUS = -1
# Compared with the database to tell "updated" from "unchanged" (model attribute names).
COMPARED = (
    "customer_no",
    "name",
    "phone",
    "wechat_id",
    "email",
    "gender",
    "birthday",
    "city",
    "source",
    "status",
    "marketing_consent",
    "assigned_to_id",
    "notes",
)


class _Record:
    """One customer the file speaks of: an existing one (pk) or a new one; rows merge here."""

    __slots__ = (
        "changes",
        "db_no",
        "db_phone",
        "first_row",
        "new_tags",
        "pk",
        "rows",
        "state",
        "tags",
        "values",
    )

    def __init__(self, pk: int | None = None, db_no: str = "", db_phone: str = ""):
        self.pk = pk
        self.db_no = db_no
        self.db_phone = db_phone
        self.values: dict[str, Any] = {}
        self.tags: list[str] = []
        self.first_row = 0
        self.rows = 0
        self.changes: dict[str, Any] = {}
        self.new_tags: list[str] = []
        self.state = NEW if pk is None else UNCHANGED

    def current(self, name: str) -> str:
        value = self.values.get(name)
        if value:
            return value
        if name == "customer_no":
            return self.db_no
        return self.db_phone if name == "phone" else ""


def _text(values: dict) -> str:
    return " · ".join(str(values[k]) for k in ("name", "phone", "customer_no") if values.get(k))


class CustomerImporter(BaseImporter):
    kind = CUSTOMERS
    STREAM_ABOVE = 5000  # matched customers: above this, read the business's in one pass

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        p = self.parsers
        self.field_parsers = {
            "customer_no": text_parser(40),
            "name": text_parser(100),
            "phone": p.phone,
            "wechat_id": text_parser(64),
            "email": parse_email,
            "gender": choice_parser(Customer.Gender.choices, GENDER_WORDS),
            "birthday": self._birthday,
            "city": text_parser(64),
            "source": choice_parser(Customer.Source.choices, SOURCE_WORDS),
            "tags": parse_tags,
            "status": choice_parser(Customer.Status.choices, STATUS_WORDS),
            "marketing_consent": bool_parser(),
            "assigned_to": self._staff,
            "notes": text_parser(NOTES_MAX),
        }
        self.today = timezone.localdate(timezone=p.zone)
        self.staff: dict[str, int] | None = None
        # From the database: key → (pk, the other key); names of customers with no key.
        self.db_no: dict[str, tuple[int, str]] = {}
        self.db_phone: dict[str, tuple[int, str]] = {}
        self.db_keyless: dict[str, int] = {}
        # From the file so far.
        self.no_map: dict[str, _Record] = {}
        self.phone_map: dict[str, _Record] = {}
        self.keyless_map: dict[str, _Record] = {}
        self.by_pk: dict[int, _Record] = {}
        self.records: list[_Record] = []

    # --- cell parsers needing the business ------------------------------------------
    def _birthday(self, raw: Any) -> date | None:
        value = self.parsers.day(raw)
        if value is not None and value > self.today:
            raise CellError(_("A birthday cannot be in the future."))
        return value

    def _staff(self, raw: Any) -> int | None:
        if self.staff is None:
            self.staff = {}
            users = business_members(self.business)
            for pk, username, first, last in users.values_list(
                "pk", "username", "first_name", "last_name"
            ):
                self.staff[username.lower()] = pk
                for full in (f"{last}{first}", f"{first} {last}".strip()):
                    if full:
                        self.staff.setdefault(full.lower(), pk)
        text = cell_text(raw)
        if not text:
            return None
        pk = self.staff.get(text.lower())
        if pk is None:
            raise CellError(_("“%(value)s” is not a member of your team.") % {"value": text})
        return pk

    # --- pass 1: check --------------------------------------------------------------
    def check(self) -> None:
        self.require_columns(("name", "phone", "customer_no"))
        self._load_keys()
        getters = self.getters(self.field_parsers)
        seen = 0
        for row_no, cells in self.table.rows():
            seen += 1
            self._row(row_no, cells, getters)
            if not seen % 5000:
                self.tick("check", seen)
        self.report.total_rows = seen
        self.tick("check", seen)
        self._compare()

    def _load_keys(self) -> None:
        rows = Customer.objects.for_business(self.business).values_list(
            "id", "customer_no", "phone", "name"
        )
        for pk, no, phone, name in rows.iterator(chunk_size=5000):
            if no:
                self.db_no[no] = (pk, phone)
            if phone:
                self.db_phone[phone] = (pk, no)
            if not no and not phone:
                self.db_keyless[name] = AMBIGUOUS if name in self.db_keyless else pk

    def _record_for(self, pk: int, no: str, phone: str) -> _Record:
        record = self.by_pk.get(pk)
        if record is None:
            record = self.by_pk[pk] = _Record(pk, no, phone)
        return record

    def _by_no(self, no: str) -> _Record | None:
        record = self.no_map.get(no)
        if record is None and (hit := self.db_no.get(no)):
            record = self._record_for(hit[0], no, hit[1])
        return record

    def _by_phone(self, phone: str) -> _Record | None:
        record = self.phone_map.get(phone)
        if record is None and (hit := self.db_phone.get(phone)):
            record = self._record_for(hit[0], hit[1], phone)
        return record

    def _resolve(self, values: dict, no: str, phone: str) -> tuple[_Record | None, tuple | None]:
        """The customer this row speaks of, or (None, (column, reason))."""
        header = self.columns.header
        by_no = self._by_no(no) if no else None
        by_phone = self._by_phone(phone) if phone else None
        if by_no is not None and by_phone is not None and by_no is not by_phone:
            other = by_phone.current("customer_no")
            if by_phone.rows:
                reason = _(
                    "This phone number is already used for another customer in row %(row)d."
                ) % {"row": by_phone.first_row}
            elif other:
                reason = _(
                    "This phone number belongs to another customer (customer number %(no)s)."
                ) % {"no": other}
            else:
                reason = _("This phone number already belongs to another customer.")
            return None, (header("phone"), reason)
        record = by_no or by_phone
        if record is not None:
            if by_no is None and no:
                current = record.current("customer_no")
                if current and current != no:
                    if "customer_no" in record.values:
                        reason = _(
                            "Row %(row)d has this phone number with customer number %(other)s."
                        ) % {"row": record.first_row, "other": current}
                    else:
                        reason = _(
                            "This phone number belongs to customer number %(other)s, not %(no)s."
                        ) % {"other": current, "no": no}
                    return None, (header("customer_no"), reason)
            if by_phone is None and phone and record.values.get("phone", phone) != phone:
                reason = _("Row %(row)d gives this customer number another phone number.") % {
                    "row": record.first_row
                }
                return None, (header("phone"), reason)
            return record, None
        if no or phone:
            return _Record(), None
        name = values.get("name")
        if not name:
            reason = _("A row needs a name, a phone number or a customer number.")
            return None, (header("name"), reason)
        record = self.keyless_map.get(name)
        if record is not None:
            return record, None
        pk = self.db_keyless.get(name)
        if pk == AMBIGUOUS:
            reason = _(
                "Several customers are called “%(name)s” and have neither phone number nor "
                "customer number: add one to this row."
            ) % {"name": name}
            return None, (header("name"), reason)
        if pk:
            return self._record_for(pk, "", ""), None
        return _Record(), None

    def _row(self, row_no: int, cells, getters) -> None:
        values, errors = self.parse_cells(getters, cells)
        if errors:
            self.add_error(row_no, errors, _text(values) or cell_text(cells[0] if cells else ""))
            return
        if not values:
            self.add_state(row_no, SKIPPED, "", _("Nothing to import in this row."))
            return
        no = values.get("customer_no", "")
        phone = values.get("phone", "")
        record, problem = self._resolve(values, no, phone)
        if problem is not None:
            self.add_error(row_no, [problem], _text(values))
            return
        # The row as the preview shows it: only built while the preview still takes rows.
        text = _text(values) if len(self.report.preview) < self.preview_limit else ""
        if record.rows:
            record.rows += 1
            message = _("Same customer as row %(row)d: merged.") % {"row": record.first_row}
            self.add_state(row_no, MERGED, text, message)
        else:
            record.rows = 1
            record.first_row = row_no
            self.records.append(record)
            self.add_state(row_no, record, text)  # new / updated / unchanged: known at the end
        tags = values.pop("tags", None)
        if tags:
            record.tags.extend(t for t in tags if t not in record.tags)
        if "assigned_to" in values:
            values["assigned_to_id"] = values.pop("assigned_to")
        record.values.update(values)
        if no:
            self.no_map[no] = record
        if phone:
            self.phone_map[phone] = record
        if not no and not phone:
            self.keyless_map[values["name"]] = record

    def _compare(self) -> None:
        """Existing customers: which fields and tags would change."""
        now = timezone.now()
        existing = [r for r in self.records if r.pk is not None]
        for stored, tags in self._stored(existing):
            for record in stored:
                row = stored[record]
                changes = {k: v for k, v in record.values.items() if row[k] != v}
                if "marketing_consent" in changes:
                    changes["marketing_consent_at"] = now if changes["marketing_consent"] else None
                record.changes = changes
                record.new_tags = [t for t in record.tags if t not in tags.get(record.pk, ())]
                record.state = UPDATED if changes or record.new_tags else UNCHANGED
        for record in self.records:
            if record.pk is None and not record.values.get("name"):
                # A name is required; a list of bare numbers still imports.
                record.values["name"] = record.values.get("customer_no") or record.values["phone"]
            self.report.counts[record.state] += 1
        labels = {
            "assigned_to_id": LABELS["assigned_to"],
            "marketing_consent_at": None,
        }
        for entry in self.report.preview:
            record = entry["state"]
            if isinstance(record, _Record):
                entry["state"] = record.state
                if record.state == UPDATED:
                    changed = [
                        str(labels.get(k, LABELS.get(k, k)))
                        for k in record.changes
                        if labels.get(k, True) is not None
                    ]
                    if record.new_tags:
                        changed.append(str(LABELS["tags"]))
                    entry["message"] = _("Changes: %(fields)s") % {"fields": ", ".join(changed)}

    def _stored(self, existing: list[_Record]):
        """(record → stored values, customer id → tag names) for the matched customers, in
        chunks of ids, or in one streamed pass over the business when most of it matched.
        A customer deleted meanwhile is simply missing (and stays "unchanged")."""
        through = Customer.tags.through
        customers = Customer.objects.for_business(self.business)
        if len(existing) > self.STREAM_ABOVE:
            by_pk = {r.pk: r for r in existing}
            stored = {}
            for row in customers.values_list("id", *COMPARED).iterator(chunk_size=5000):
                record = by_pk.get(row[0])
                if record is not None:
                    stored[record] = dict(zip(COMPARED, row[1:], strict=True))
            tags = defaultdict(set)
            links = through.objects.filter(customer__business=self.business)
            for customer_id, name in links.values_list("customer_id", "tag__name").iterator(
                chunk_size=5000
            ):
                if customer_id in by_pk:
                    tags[customer_id].add(name)
            yield stored, tags
            return
        for chunk in chunked(existing, 900):
            by_pk = {r.pk: r for r in chunk}
            rows = customers.filter(pk__in=list(by_pk)).values_list("id", *COMPARED)
            stored = {by_pk[row[0]]: dict(zip(COMPARED, row[1:], strict=True)) for row in rows}
            tags = defaultdict(set)
            links = through.objects.filter(customer_id__in=list(by_pk))
            for customer_id, name in links.values_list("customer_id", "tag__name"):
                tags[customer_id].add(name)
            yield stored, tags

    # --- pass 2: write --------------------------------------------------------------
    def write(self) -> None:
        now = timezone.now()
        business_id = self.business.pk
        records = self.records
        names = set()
        for record in records:
            names.update(record.tags if record.pk is None else record.new_tags)
        tag_ids = self._ensure_tags(names)

        fields = insert_columns(Customer)
        defaults = {f.attname: f.get_default() for f in fields}
        defaults.update(business_id=business_id, created_at=now, updated_at=now)
        maker = RowMaker(fields, defaults)
        attnames = [f.attname for f in fields]
        new = [r for r in records if r.pk is None]
        for record in new:
            if record.values.get("marketing_consent"):
                record.values["marketing_consent_at"] = now

        # Only customers getting tags need their new id back (multi-row INSERT … RETURNING);
        # the rest go through plain executemany, which is faster.
        tagged = [r for r in new if r.tags]
        rows = [[{**defaults, **r.values}[a] for a in attnames] for r in tagged]
        for record, pk in zip(
            tagged, insert_rows_returning_ids(Customer, fields, rows), strict=True
        ):
            record.pk = pk
        for chunk in chunked((r for r in new if not r.tags), 5000):
            insert_rows(Customer, fields, [maker.row(r.values) for r in chunk], prepared=True)
        self.tick("write", len(new))

        groups: dict[tuple[str, ...], list[_Record]] = defaultdict(list)
        for record in records:
            if record.pk is not None and record.changes:
                groups[tuple(sorted(record.changes))].append(record)
        meta = Customer._meta
        for changed, group in groups.items():
            update_rows(
                Customer,
                [*(meta.get_field(n) for n in changed), meta.get_field("updated_at")],
                [[*(r.changes[n] for n in changed), now, r.pk, business_id] for r in group],
                where=("id", "business_id"),
            )

        through = Customer.tags.through
        links = []
        for record in records:
            for name in record.tags if record.state == NEW else record.new_tags:
                links.append((record.pk, tag_ids[name]))
        insert_rows(
            through, [through._meta.get_field("customer"), through._meta.get_field("tag")], links
        )
        self.tick("write", len(records))

    def _ensure_tags(self, names: set[str]) -> dict[str, int]:
        if not names:
            return {}
        tags = Tag.objects.for_business(self.business)
        ids = dict(tags.filter(name__in=names).values_list("name", "id"))
        missing = [n for n in names if n not in ids]
        if missing:
            Tag.objects.bulk_create(
                [Tag(business=self.business, name=n) for n in missing], ignore_conflicts=True
            )
            ids.update(tags.filter(name__in=missing).values_list("name", "id"))
        return ids
