from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Business
from reports.selectors import stored_report
from reports.services import (
    ReportError,
    report_pdf,
    weekly_report_build,
    weekly_report_send,
)
from reports.weeks import last_completed_week, parse_week


class Command(BaseCommand):
    help = (
        "Build (or show) a business's weekly report: last week by default. The report is "
        "stored once per week; --rebuild builds it again. --pdf writes it as PDF, --send "
        "e-mails it to the owners who asked for it (each once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", required=True, help="slug of the business")
        parser.add_argument("--week", help="ISO week, e.g. 2026-W05 (default: last week)")
        parser.add_argument("--pdf", help="write the report as PDF to this file")
        parser.add_argument("--send", action="store_true", help="e-mail it to opted-in owners")
        parser.add_argument("--rebuild", action="store_true", help="build a stored week again")
        parser.add_argument("--language", help="language of the PDF (default: the business's)")

    def handle(self, *args, business, week, pdf, send, rebuild, language, **options):
        biz = Business.objects.filter(slug=business, is_active=True).first()
        if biz is None:
            raise CommandError(f"No active business with slug {business!r}.")
        try:
            week_start = parse_week(week) if week else last_completed_week(biz)
            report = weekly_report_build(business=biz, week_start=week_start, rebuild=rebuild)
        except (ReportError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        report = stored_report(biz, report.week_start)
        self.stdout.write(
            self.style.SUCCESS(
                f"Weekly report {report.week_label} of {biz.slug}: built at "
                f"{report.built_at:%Y-%m-%d %H:%M} UTC in {report.build_seconds} s."
            )
        )
        if pdf:
            pdf = Path(pdf)
            if pdf.suffix.lower() != ".pdf":
                raise CommandError("--pdf needs a file name ending in .pdf")
            try:
                pdf.write_bytes(report_pdf(report=report, language=language or biz.language))
            except OSError as exc:
                raise CommandError(f"Cannot write {pdf}: {exc.strerror}") from None
            self.stdout.write(f"PDF written to {pdf}")
        if send:
            sent = weekly_report_send(report=report)
            self.stdout.write(f"E-mailed to {sent} owner(s) not sent it before.")
