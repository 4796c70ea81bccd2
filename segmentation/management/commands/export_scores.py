import sys

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Business
from customers.exporting import write_csv
from segmentation.exporting import score_table


class Command(BaseCommand):
    help = (
        "Write the current scores of a business as CSV (UTF-8 with BOM, formula-safe): "
        "customer_no, phone, name, recency_days, frequency, monetary, rfm_segment, p_alive, "
        "churn_risk, expected_purchases_90d, predicted_clv, net_value, value_tier, "
        "loyalty_score, action."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", required=True)
        parser.add_argument("--output", help="file to write (default: standard output)")

    def handle(self, *args, business, output, **options):
        biz = Business.objects.filter(slug=business).first()
        if biz is None:
            raise CommandError(f"No business with slug {business!r}.")
        table = score_table(biz)
        if output:
            with open(output, "wb") as fh:
                write_csv(table, fh)
            self.stderr.write(f"Scores of {biz.slug} written to {output}")
        else:
            write_csv(table, sys.stdout.buffer)
            sys.stdout.flush()
