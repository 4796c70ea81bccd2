"""manage.py import_member_balances FILE --business SLUG [--dry-run] [--valid-only]"""

from customers.importing.command import ImportCommand
from membership.resources import MEMBER_BALANCES


class Command(ImportCommand):
    help = (
        "Import opening balances, visits and points of member cards from the old system's "
        "CSV or XLSX file, as opening entries (all or nothing)."
    )
    kind = MEMBER_BALANCES
