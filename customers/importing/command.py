"""What import_customers and import_purchases share: arguments, progress bar, summary."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Business

from .pipeline import ImportReport, import_file

SHOWN_ERRORS = 50
PROGRESS_FROM_ROWS = 20000


class ImportCommand(BaseCommand):
    kind: str
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX")
        parser.add_argument("--business", required=True, help="the business's slug")
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        parser.add_argument(
            "--valid-only",
            action="store_true",
            help="write the valid rows even if some rows have errors",
        )
        parser.add_argument(
            "--language", default="", help="language of the messages (default: the business's)"
        )

    def extra_options(self, options) -> dict:
        return {}

    def handle(self, *args, file, business, dry_run, valid_only, language, **options):
        try:
            tenant = Business.objects.get(slug=business)
        except Business.DoesNotExist:
            message = _("No business with slug “%(slug)s”.") % {"slug": business}
            raise CommandError(message) from None
        with translation.override(language or tenant.language):
            report = import_file(
                file,
                business=tenant,
                kind=self.kind,
                dry_run=dry_run,
                valid_only=valid_only,
                progress=self._progress_bar(options.get("verbosity", 1)),
                **self.extra_options(options),
            )
            self._close_bar()
            self._print(report)
            if report.blocked:
                if report.file_error:
                    raise CommandError(report.file_error)
                raise CommandError(
                    _("Nothing was written: %(count)d rows have errors.")
                    % {"count": report.error_rows}
                    if not dry_run
                    else _("%(count)d rows have errors.") % {"count": report.error_rows}
                )

    # --- output ---------------------------------------------------------------------
    def _progress_bar(self, verbosity: int):
        self._bar = None
        if verbosity < 1:
            return None

        def progress(phase: str, done: int, total: int | None) -> None:
            if self._bar is None or self._bar_phase != phase:
                if (total or done) < PROGRESS_FROM_ROWS:
                    return
                from tqdm import tqdm

                self._close_bar()
                self._bar = tqdm(total=total, desc=phase, unit="rows", file=sys.stderr)
                self._bar_phase = phase
            self._bar.update(done - self._bar.n)

        return progress

    def _close_bar(self) -> None:
        if getattr(self, "_bar", None) is not None:
            self._bar.close()
            self._bar = None

    def _print(self, report: ImportReport) -> None:
        out = self.stdout
        if report.file_error:
            return
        for error in report.errors[:SHOWN_ERRORS]:
            out.write(
                _("Row %(row)s, %(column)s: %(message)s")
                % {"row": error["row"], "column": error["column"], "message": error["message"]}
            )
        if report.error_count > SHOWN_ERRORS:
            out.write(
                _("… and %(count)d more errors.") % {"count": report.error_count - SHOWN_ERRORS}
            )
        for line in report.summary_lines():
            out.write(line)
        if report.dry_run:
            out.write(_("Dry run: nothing was written."))
        elif report.written:
            out.write(self.style.SUCCESS(_("Written in %(s).1f s.") % {"s": report.seconds}))
