import csv
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Business
from segmentation.models import Segment
from segmentation.run_warnings import translate_warning
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
        parser.add_argument("--language", default="", help="default: the business's language")

    def handle(self, *args, business, as_of, days, output, language, **options):
        biz = Business.objects.filter(slug=business).first()
        if biz is None:
            raise CommandError(f"No business with slug {business!r}.")
        if days <= 0:
            raise CommandError("--days must be positive.")
        report = score_backtest(business=biz, as_of=as_of, days=days)
        with translation.override(language or biz.language):
            self._print(biz, report, output)

    def _print(self, biz, report, output) -> None:
        w = self.stdout.write
        w(
            _("Backtest of %(shop)s: scored as of %(as_of)s, checked the next %(days)d days")
            % {"shop": biz.name, "as_of": report.as_of, "days": report.days}
        )
        head = (_("Segment"), _("Customers"), _("Predicted"), _("Actual"))
        w(f"{head[0]:<22}{head[1]:>10}{head[2]:>12}{head[3]:>10}")
        rows = [
            (str(Segment(r["segment"]).label), r["customers"], r["predicted"], r["actual"])
            for r in report.by_segment
        ]
        rows.append((_("Total"), report.customers, report.predicted_total, report.actual_total))
        for label, customers, predicted, actual in rows:
            w(f"{label:<22}{customers:>10}{predicted:>12.1f}{actual:>10}")
        w(_("Mean absolute error per customer: %s") % report.mean_abs_error)
        w(_("Correlation of predicted and actual per customer: %s") % report.correlation)
        for warning in report.warnings:
            w(f"  ! {translate_warning(warning)}")
        if output:
            with open(output, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, ["customer_id", "segment", "predicted", "actual"])
                writer.writeheader()
                writer.writerows(report.per_customer)
            w(_("Per-customer figures written to %s") % output)
