"""The one import pipeline: check every row (dry pass), then — only if nothing is wrong or the
user asked for the valid rows only — write in one transaction.

    report = import_file(path, business=b, kind="customers", dry_run=True)
    report = import_file(path, business=b, kind="purchases", create_customers=True)

Every row ends in one state: new, updated, unchanged, merged (a second row for a customer
already in the file), skipped (already imported) or error. Errors name the row as the
spreadsheet shows it, the column as the file names it, and the reason in the active language.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from itertools import islice
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.db import is_database_busy, refresh_planner_statistics
from accounts.models import Business

from .columns import CUSTOMERS, LABELS, PURCHASES, ColumnMap, header_scorer, map_headers
from .parsing import CellError, Parsers
from .reading import ImportFileError, Source, Table, open_table

NEW, UPDATED, UNCHANGED, MERGED, SKIPPED, ERROR = STATES = (
    "new",
    "updated",
    "unchanged",
    "merged",
    "skipped",
    "error",
)
STATE_LABELS = {
    NEW: gettext_lazy("new"),
    UPDATED: gettext_lazy("updated"),
    UNCHANGED: gettext_lazy("unchanged"),
    MERGED: gettext_lazy("merged"),
    SKIPPED: gettext_lazy("skipped"),
    ERROR: gettext_lazy("error"),
}
logger = logging.getLogger(__name__)
PREVIEW_LIMIT = 500
ERROR_LIMIT = 5000
CHUNK = 2000

Progress = Callable[[str, int, int | None], None]


@dataclass
class ImportReport:
    kind: str
    dry_run: bool = True
    valid_only: bool = False
    create_customers: bool = False
    written: bool = False
    total_rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    customers_created: int = 0
    columns: list[list[str]] = field(default_factory=list)  # [header in file, field label]
    ignored_columns: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # row, column, message
    error_count: int = 0  # every error, also those beyond the stored list
    error_rows: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)  # row, state, text, message
    file_error: str = ""
    file_format: str = ""
    encoding: str = ""
    seconds: float = 0.0

    @property
    def blocked(self) -> bool:
        """Nothing was (or would be) written because of errors."""
        if self.file_error:
            return True
        if self.error_rows and not self.valid_only:
            return True
        return bool(self.error_rows) and self.error_rows == self.total_rows

    @property
    def to_write(self) -> int:
        return self.counts[NEW] + self.counts[UPDATED]

    @property
    def errors_truncated(self) -> bool:
        return len(self.errors) < self.error_count

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def summary_lines(self) -> list[str]:
        """The closing summary, as the command line prints it."""
        c = self.counts
        lines = [
            _(
                "%(rows)d rows: %(new)d new, %(updated)d updated, %(unchanged)d unchanged, "
                "%(merged)d merged, %(skipped)d skipped, %(errors)d with errors."
            )
            % {
                "rows": self.total_rows,
                "new": c[NEW],
                "updated": c[UPDATED],
                "unchanged": c[UNCHANGED],
                "merged": c[MERGED],
                "skipped": c[SKIPPED],
                "errors": self.error_rows,
            }
        ]
        if self.customers_created:
            lines.append(
                _("%(count)d missing customers created.") % {"count": self.customers_created}
            )
        if self.ignored_columns:
            lines.append(
                _("Ignored columns: %(columns)s") % {"columns": ", ".join(self.ignored_columns)}
            )
        return lines


def chunked(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(iterable)
    while chunk := list(islice(it, size)):
        yield chunk


class BaseImporter:
    kind: str

    def __init__(
        self,
        business: Business,
        report: ImportReport,
        table: Table,
        *,
        progress: Progress | None = None,
        preview_limit: int = PREVIEW_LIMIT,
        error_limit: int = ERROR_LIMIT,
    ):
        self.business = business
        self.report = report
        self.table = table
        self.progress = progress
        self.preview_limit = preview_limit
        self.error_limit = error_limit
        self.parsers = Parsers(region=business.phone_region, time_zone=business.time_zone)
        self.columns: ColumnMap = map_headers(table.headers, self.kind)
        report.columns = [[h, str(LABELS[name])] for name, (_i, h) in self.columns.fields.items()]
        report.ignored_columns = list(self.columns.ignored)
        report.file_format = table.file_format
        report.encoding = table.encoding

    # --- the passes -------------------------------------------------------------------
    def check(self) -> None:
        """Check every row; write nothing."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Check every row and keep what `write` needs; no transaction is open and nothing
        is written, so other writers are not held up however long the file takes."""
        self.check()

    def write(self) -> None:
        """Write what `prepare` kept, inside the caller's (short) transaction."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Free what `prepare` kept (staging files)."""

    # --- helpers ----------------------------------------------------------------------
    def getters(self, parsers: dict[str, Callable[[Any], Any]]) -> list[tuple]:
        """(field, column index, header, parser) for each field the file has."""
        return [
            (name, index, header, parsers[name])
            for name, (index, header) in self.columns.fields.items()
            if name in parsers
        ]

    @staticmethod
    def parse_cells(getters: list[tuple], cells) -> tuple[dict[str, Any], list | None]:
        values: dict[str, Any] = {}
        errors = None
        n = len(cells)
        for name, index, header, parse in getters:
            if index >= n:
                continue
            raw = cells[index]
            if raw is None or raw == "":
                continue
            try:
                if type(raw) is str and "\x00" in raw:
                    # PostgreSQL cannot store it in text; SQLite would: refused on both.
                    raise CellError(_("The cell contains a NUL character (a zero byte)."))
                value = parse(raw)
            except CellError as exc:
                if errors is None:
                    errors = []
                errors.append((header, exc.message))
                continue
            if value or value is False or value == 0:
                values[name] = value
        return values, errors

    def require_columns(self, *groups: tuple[str, ...]) -> None:
        """Each group needs at least one of its fields as a column in the file."""
        missing = [g for g in groups if not any(f in self.columns.fields for f in g)]
        if missing:
            names = "; ".join(" / ".join(str(LABELS[f]) for f in g) for g in missing)
            found = ", ".join(h for h in self.table.headers if h) or "—"
            raise ImportFileError(
                _(
                    "The file has no column for: %(missing)s. Columns found: %(found)s. "
                    "Put the column names in the first row, e.g. 姓名, 手机, 会员号 or "
                    "name, phone, customer_no."
                )
                % {"missing": names, "found": found}
            )

    def add_error(self, row_no: int, errors: list[tuple[str, str]], text: str = "") -> None:
        report = self.report
        report.error_rows += 1
        report.counts[ERROR] += 1
        for column, message in errors:
            report.error_count += 1
            if len(report.errors) < self.error_limit:
                report.errors.append({"row": row_no, "column": column, "message": message})
        if len(report.preview) < self.preview_limit:
            message = "; ".join(f"{c}: {m}" for c, m in errors)
            report.preview.append({"row": row_no, "state": ERROR, "text": text, "message": message})

    def add_state(self, row_no: int, state: Any, text: str, message: str = "") -> None:
        """`state` may be a placeholder the importer resolves later; only states are counted."""
        if isinstance(state, str):
            self.report.counts[state] += 1
        if len(self.report.preview) < self.preview_limit:
            self.report.preview.append(
                {"row": row_no, "state": state, "text": text, "message": message}
            )

    def tick(self, phase: str, done: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, self.table.estimated_rows)


# Import kinds of higher apps (kind → loader of the importer class), filled in their ready().
_EXTRA_IMPORTERS: dict[str, Callable[[], type[BaseImporter]]] = {}


def register_importer(kind: str, loader: Callable[[], type[BaseImporter]]) -> None:
    _EXTRA_IMPORTERS[kind] = loader


def _importer_class(kind: str) -> type[BaseImporter]:
    if kind in _EXTRA_IMPORTERS:
        return _EXTRA_IMPORTERS[kind]()
    if kind == CUSTOMERS:
        from .customer_import import CustomerImporter

        return CustomerImporter
    if kind == PURCHASES:
        from .purchase_import import PurchaseImporter

        return PurchaseImporter
    raise ValueError(f"unknown import kind {kind!r}")


# Write attempts: a row written by someone else between the check and the write (an
# IntegrityError), or SQLite still locked after its busy timeout, makes the import check
# again and retry; after the last attempt the import reports it and writes nothing.
WRITE_ATTEMPTS = 3


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, IntegrityError) or is_database_busy(exc)


def _refresh_statistics(kind: str) -> None:
    from ..models import Customer, Purchase

    tables = [Customer._meta.db_table]
    if kind == PURCHASES:
        tables.append(Purchase._meta.db_table)
    refresh_planner_statistics(*tables)


def import_file(
    source: Source,
    *,
    business: Business,
    kind: str,
    dry_run: bool = False,
    valid_only: bool = False,
    create_customers: bool = False,
    progress: Progress | None = None,
    preview_limit: int = PREVIEW_LIMIT,
    error_limit: int = ERROR_LIMIT,
    claim: Callable[[], bool] | None = None,
    on_written: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Check `source` (a path or a binary file) and, unless `dry_run`, write it for `business`.

    All or nothing: with any error row nothing is written unless `valid_only`. Every row is
    checked first, outside any transaction; then the write runs in one short transaction,
    so a file never half-arrives and other writers (tills, the admin) wait for the write
    only, not for the check. `claim()` runs first inside that transaction (return False to
    write nothing: e.g. an import job another worker finished), `on_written(report)` last.
    """
    started = time.perf_counter()
    cls = _importer_class(kind)
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        report = ImportReport(
            kind=kind, dry_run=dry_run, valid_only=valid_only, create_customers=create_customers
        )
        try:
            table = open_table(source, header_scorer(kind))
        except ImportFileError as exc:
            report.file_error = exc.message
            return report
        importer = None
        try:
            options = {
                "progress": progress,
                "preview_limit": preview_limit,
                "error_limit": error_limit,
            }
            importer = cls(business, report, table, **options)
            if kind == PURCHASES:
                importer.create_customers = create_customers
            if dry_run:
                importer.check()
            else:
                importer.prepare()
                if not report.blocked:
                    with transaction.atomic():
                        if claim is None or claim():
                            importer.write()
                            if report.blocked:
                                # A row refused while writing: the whole file rolls back.
                                transaction.set_rollback(True)
                            else:
                                report.written = True
                                if on_written is not None:
                                    on_written(report)
        except ImportFileError as exc:
            report.file_error = exc.message
            report.written = False
        except UnicodeDecodeError as exc:
            report.file_error = _("The file cannot be decoded: %(error)s") % {"error": exc}
            report.written = False
        except (IntegrityError, OperationalError) as exc:
            report.written = False
            if not _retryable(exc):
                raise
            logger.warning("import attempt %d for business %s: %s", attempt, business.pk, exc)
            if attempt < WRITE_ATTEMPTS:
                continue
            report.file_error = _(
                "Other changes to the same customers or sales came in while this file was "
                "being written, so nothing was written. Please import the file again."
            )
        finally:
            if importer is not None:
                importer.cleanup()
            table.close()
            report.seconds = round(time.perf_counter() - started, 3)
        if report.written:
            _refresh_statistics(kind)
        return report
    raise AssertionError("unreachable")  # pragma: no cover
