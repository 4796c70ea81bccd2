"""Migration in: opening balances, visits and points from the old system's spreadsheet.

A kind of the customers import pipeline (`customers.importing`): the same reading (CSV in any
Chinese encoding, XLSX), header matching, cell parsing, preview, per-row errors and
all-or-nothing transaction. Each row becomes an opening operation on the customer's card
(`services.account_opening`), keyed by the customer, so importing the same file twice writes
nothing the second time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.importing.columns import register_kind
from customers.importing.parsing import CellError, parse_amount, text_parser
from customers.importing.pipeline import (
    CHUNK,
    NEW,
    SKIPPED,
    UPDATED,
    BaseImporter,
    chunked,
    register_importer,
)
from customers.importing.reading import ImportFileError
from customers.models import Customer

from .models import LedgerOperation, MemberAccount

MEMBER_BALANCES = "member_balances"
FIELDS = (
    "card_no", "customer_no", "name", "phone", "principal", "bonus", "points", "visits",
    "visits_name", "visits_expire",
)  # fmt: skip
LABELS = {
    "card_no": gettext_lazy("Card number"),
    "principal": gettext_lazy("Stored value (paid)"),
    "bonus": gettext_lazy("Stored value (bonus)"),
    "points": gettext_lazy("Points"),
    "visits": gettext_lazy("Visits left"),
    "visits_name": gettext_lazy("Visit package"),
    "visits_expire": gettext_lazy("Visits expire"),
}
ALIASES = {
    "card_no": ("card_no", "card no", "card number", "member card", "卡号", "会员卡号", "卡号码"),
    "principal": (
        "principal", "balance", "stored value", "paid balance", "储值", "余额", "储值余额",
        "本金", "本金余额", "卡内余额", "充值余额",
    ),
    "bonus": ("bonus", "bonus balance", "gift balance", "赠送", "赠送余额", "赠金", "赠送金额"),
    "points": ("points", "point balance", "积分", "剩余积分", "积分余额", "可用积分"),
    "visits": ("visits", "visits left", "remaining visits", "剩余次数", "次数", "剩余次卡"),
    "visits_name": ("visit package", "package", "次卡", "次卡名称", "套餐", "项目名称"),
    "visits_expire": ("expires", "expiry", "valid until", "到期", "到期日", "有效期至", "有效期"),
}  # fmt: skip
MAX_COUNT = 10**9


def register() -> None:
    register_kind(MEMBER_BALANCES, FIELDS, LABELS, ALIASES)
    register_importer(MEMBER_BALANCES, lambda: MemberBalanceImporter)


def _count(raw: Any) -> int | None:
    value = parse_amount(raw)
    if value is None:
        return None
    if value != value.to_integral_value() or value > MAX_COUNT:
        raise CellError(_("“%(value)s” is not a whole number.") % {"value": raw})
    return int(value)


class MemberBalanceImporter(BaseImporter):
    kind = MEMBER_BALANCES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        p = self.parsers
        self.field_parsers = {
            "card_no": text_parser(20),
            "customer_no": text_parser(40),
            "name": text_parser(100),
            "phone": p.phone,
            "principal": parse_amount,
            "bonus": parse_amount,
            "points": _count,
            "visits": _count,
            "visits_name": text_parser(60),
            "visits_expire": p.moment,
        }

    def check(self) -> None:
        self._run(write=False)

    def write(self) -> None:
        """The pipeline's write pass, in its one transaction, after `prepare` (= `check`)
        found no blocking error. Rows are counted again from zero; a row the ledger still
        refuses blocks the file and the transaction is rolled back (all or nothing)."""
        report = self.report
        report.counts = dict.fromkeys(report.counts, 0)
        report.errors, report.preview = [], []
        report.error_rows = report.error_count = report.customers_created = 0
        self._run(write=True)
        if report.blocked:
            raise ImportFileError(_("A row could not be written, so nothing was written."))

    def _run(self, *, write: bool) -> None:
        self.require_columns(
            ("card_no", "customer_no", "phone"), ("principal", "bonus", "points", "visits")
        )
        business = self.business
        customers = Customer.objects.for_business(business)
        self.by_no = {c.customer_no: c for c in customers.exclude(customer_no="")}
        self.by_phone = {c.phone: c for c in customers.exclude(phone="")}
        self.cards = dict(
            MemberAccount.objects.for_business(business).values_list("card_no", "customer_id")
        )
        self.opened = set(
            LedgerOperation.objects.for_business(business)
            .filter(command="opening", key__startswith="opening:")
            .values_list("key", flat=True)
        )
        self.seen_cards: dict[str, int] = {}
        self.seen_customers: set[Any] = set()
        getters = self.getters(self.field_parsers)
        seen = 0
        for chunk in chunked(self.table.rows(), CHUNK):
            for row_no, cells in chunk:
                self._row(row_no, cells, getters, write and not self.report.blocked)
            seen += len(chunk)
            self.report.total_rows = seen
            self.tick("import" if write else "check", seen)

    def _text(self, v: dict) -> str:
        parts = [v.get("card_no"), v.get("name") or v.get("customer_no") or v.get("phone")]
        return " · ".join(str(p) for p in parts if p)

    def _row(self, row_no: int, cells, getters, write: bool) -> None:
        header = self.columns.header
        values, errors = self.parse_cells(getters, cells)
        errors = errors or []
        card_no = values.get("card_no", "")
        no, phone = values.get("customer_no", ""), values.get("phone", "")
        customer = (
            (self.by_no.get(no) if no else None)
            or (self.by_phone.get(phone) if phone else None)
            or (self.by_no.get(card_no) if card_no else None)
        )
        if not errors and customer is None and not values.get("name"):
            errors.append((header("phone"), _(
                "No customer with this customer number or phone. Add a name column to "
                "create the customer."
            )))  # fmt: skip
        if card_no and not errors:
            holder = self.cards.get(card_no)
            if holder is not None and (customer is None or holder != customer.pk):
                errors.append(
                    (header("card_no"), _("This card number belongs to another customer."))
                )
            elif card_no in self.seen_cards:
                errors.append((header("card_no"), _("This card number is already on row %(row)d.")
                               % {"row": self.seen_cards[card_no]}))  # fmt: skip
        identity = customer.pk if customer is not None else (no or phone or card_no)
        if not errors and identity in self.seen_customers:
            errors.append((header("phone"), _("This customer is already on another row.")))
        if errors:
            self.add_error(row_no, errors, self._text(values))
            return
        if card_no:
            self.seen_cards[card_no] = row_no
        self.seen_customers.add(identity)
        if customer is not None and f"opening:{customer.pk}" in self.opened:
            self.add_state(row_no, SKIPPED, self._text(values), _("Already imported."))
            return
        self.add_state(row_no, NEW if customer is None else UPDATED, self._text(values))
        if write:
            self._write(values, customer, row_no)

    def _write(self, values: dict, customer: Customer | None, row_no: int) -> None:
        from django.core.exceptions import ValidationError
        from django.db import transaction

        from .services import LedgerRefused

        state = NEW if customer is None else UPDATED
        try:
            with transaction.atomic():
                self._open(values, customer)
        except (ValidationError, LedgerRefused) as exc:
            # Counted as an error: the pipeline rolls the whole file back (or, with "valid
            # rows only", this row alone was undone by its savepoint).
            self.report.counts[state] -= 1
            self.add_error(row_no, [("", "; ".join(exc.messages))], self._text(values))

    def _open(self, values: dict, customer: Customer | None) -> None:
        from .services import account_opening

        if customer is None:
            customer = Customer(
                business=self.business, name=values["name"], phone=values.get("phone", ""),
                customer_no=values.get("customer_no", ""),
            )  # fmt: skip
            customer.full_clean()
            customer.save()
            self.report.customers_created += 1
        account_opening(
            customer=customer, card_no=values.get("card_no", ""),
            principal=values.get("principal") or Decimal("0"),
            bonus=values.get("bonus") or Decimal("0"),
            points=values.get("points") or 0, visits=values.get("visits") or 0,
            visits_name=values.get("visits_name", ""),
            visits_expire_at=values.get("visits_expire"),
            key=f"opening:{customer.pk}", actor_label="import",
        )  # fmt: skip
