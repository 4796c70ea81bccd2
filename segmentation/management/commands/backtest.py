import csv
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Business
from segmentation.models import Segment
from segmentation.run_warnings import translate_warning
from segmentation.services import backtest_run_record, score_backtest


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _num(value) -> str:
    return "—" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = (
        "Score as of a past date and check the predictions against what happened after it: "
        "chance not to come back per decile, expected purchases, AUC and Brier score beside "
        "days-since-last-visit alone, loyalty, seasons. The figures are kept as a scoring run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", required=True)
        parser.add_argument("--as-of", required=True, type=date.fromisoformat)
        parser.add_argument(
            "--days", type=int, default=None, help="length of the check window (default: 90)"
        )
        parser.add_argument("--output", help="write per-customer predicted vs actual CSV here")
        parser.add_argument("--language", default="", help="default: the business's language")
        parser.add_argument(
            "--compare-models", action="store_true", help="also report BG/NBD and MBG/NBD apart"
        )
        parser.add_argument("--no-record", action="store_true", help="do not keep the figures")

    def handle(self, *args, business, as_of, days, output, language, **options):
        biz = Business.objects.filter(slug=business).first()
        if biz is None:
            raise CommandError(f"No business with slug {business!r}.")
        if days is not None and not 0 < days <= 3660:
            raise CommandError("--days must be between 1 and 3660.")
        report = score_backtest(
            business=biz,
            as_of=as_of,
            days=days,
            compare_models=options["compare_models"],
            per_customer=bool(output),
        )
        if not options["no_record"] and report.figures["customers"]:
            backtest_run_record(business=biz, as_of=as_of, figures=report.figures)
        with translation.override(language or biz.language):
            self._print(biz, report, output)

    def _print(self, biz, report, output) -> None:
        w = self.stdout.write
        f = report.figures
        w(
            _("Backtest of %(shop)s: scored as of %(as_of)s, checked the next %(days)d days")
            % {"shop": biz.name, "as_of": report.as_of, "days": report.days}
        )
        w(
            _("%(n)s customers had bought; %(back)s came back. Purchase model: %(model)s.")
            % {"n": f["customers"], "back": f["came_back"], "model": f["model"]}
        )
        w("")
        w(_("Chance not to come back, per decile (predicted vs actual share not back):"))
        head = (_("Decile"), _("Customers"), _("Predicted"), _("Actual"), _("Baseline"))
        w(f"{head[0]:<8}{head[1]:>10}{head[2]:>12}{head[3]:>10}{head[4]:>10}")
        for c, b in zip(f["churn"]["deciles"], f["recency_baseline"]["deciles"], strict=False):
            w(
                f"{c['decile']:<8}{c['customers']:>10}{_pct(c['predicted']):>12}"
                f"{_pct(c['actual']):>10}{_pct(b['predicted']):>10}"
            )
        w("")
        w(_("Expected purchases per customer, per decile (predicted vs actual):"))
        for p in f["purchases"]["deciles"]:
            w(f"{p['decile']:<8}{p['customers']:>10}{p['predicted']:>12.3f}{p['actual']:>10.3f}")
        w("")
        rows = [
            (_("chance not to come back"), f["churn"]),
            (_("days since last visit alone"), f["recency_baseline"]),
        ]
        w(f"{'':<30}{'AUC':>8}{'Brier':>8}{_('gap'):>8}")
        for label, fig in rows:
            w(f"{label:<30}{_num(fig['auc']):>8}{_num(fig['brier']):>8}{_pct(fig['max_gap']):>8}")
        w(f"{_('loyalty score'):<30}{_num(f['loyalty_auc']):>8}")
        w(f"{_('probability still a customer'):<30}{_num(f['p_alive_auc']):>8}")
        for name, fig in (f.get("models") or {}).items():
            w(f"{name:<30}{_num(fig['auc']):>8}{_num(fig['brier']):>8}{_pct(fig['max_gap']):>8}")
        w("")
        purchases = f["purchases"]
        w(
            _("Purchases: predicted %(pred)s (without seasons %(flat)s), actual %(actual)s.")
            % {
                "pred": purchases["predicted_total"],
                "flat": purchases["predicted_total_without_seasons"],
                "actual": purchases["actual_total"],
            }
        )
        if purchases["month_factors"] is None:
            w(_("Seasons: not applied (needs two years of history)."))
        w("")
        head = (_("Segment"), _("Customers"), _("Predicted"), _("Actual"))
        w(f"{head[0]:<22}{head[1]:>10}{head[2]:>12}{head[3]:>10}")
        seg_rows = [
            (str(Segment(r["segment"]).label), r["customers"], r["predicted"], r["actual"])
            for r in report.by_segment
        ]
        seg_rows.append((_("Total"), report.customers, report.predicted_total, report.actual_total))
        for label, customers, predicted, actual in seg_rows:
            w(f"{label:<22}{customers:>10}{predicted:>12.1f}{actual:>10}")
        w(_("Mean absolute error per customer: %s") % report.mean_abs_error)
        w(_("Correlation of predicted and actual per customer: %s") % report.correlation)
        for warning in report.warnings:
            w(f"  ! {translate_warning(warning)}")
        if output:
            with open(output, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(
                    fh, ["customer_id", "segment", "churn_risk", "predicted", "actual"]
                )
                writer.writeheader()
                writer.writerows(report.per_customer)
            w(_("Per-customer figures written to %s") % output)
