import csv
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Business
from segmentation.services import score_backtest


class Command(BaseCommand):
    help = (
        "Score as of a past date and compare predicted with actual purchases after it, "
        "per segment and in total: how far to trust the numbers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", required=True)
        parser.add_argument("--as-of", required=True, type=date.fromisoformat)
        parser.add_argument("--days", type=int, default=90, help="length of the check window")
        parser.add_argument("--output", help="write per-customer predicted vs actual CSV here")

    def handle(self, *args, business, as_of, days, output, **options):
        biz = Business.objects.filter(slug=business).first()
        if biz is None:
            raise CommandError(f"No business with slug {business!r}.")
        if days <= 0:
            raise CommandError("--days must be positive.")
        report = score_backtest(business=biz, as_of=as_of, days=days)
        w = self.stdout.write
        w(f"Backtest of {biz.slug}: scored as of {as_of}, checked the next {days} days")
        w(f"{'segment':<22}{'customers':>10}{'predicted':>12}{'actual':>10}")
        for row in report.by_segment:
            w(
                f"{row['label']:<22}{row['customers']:>10}{row['predicted']:>12.1f}{row['actual']:>10}"
            )
        w(
            f"{'total':<22}{report.customers:>10}{report.predicted_total:>12.1f}{report.actual_total:>10}"
        )
        w(f"mean absolute error per customer: {report.mean_abs_error}")
        w(f"correlation predicted/actual per customer: {report.correlation}")
        for warning in report.warnings:
            w(f"  ! {warning}")
        if output:
            with open(output, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, ["customer_id", "segment", "predicted", "actual"])
                writer.writeheader()
                writer.writerows(report.per_customer)
            w(f"per-customer figures written to {output}")
