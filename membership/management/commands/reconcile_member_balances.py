"""manage.py reconcile_member_balances: the nightly balance check, on demand."""

from django.core.management.base import BaseCommand

from membership.services import ledger_reconcile


class Command(BaseCommand):
    help = "Recompute every member balance from the ledger and report differences."

    def handle(self, *args, **options):
        runs = ledger_reconcile()
        differences = sum(r.difference_count for r in runs)
        checked = sum(r.accounts_checked for r in runs)
        self.stdout.write(f"{checked} accounts checked, {differences} differences.")
        if differences:
            raise SystemExit(1)
