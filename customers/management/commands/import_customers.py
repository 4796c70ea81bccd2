from customers.importing.command import ImportCommand


class Command(ImportCommand):
    help = (
        "Import customers from a CSV or XLSX file into one business: matched by customer "
        "number, then phone; all or nothing unless --valid-only."
    )
    kind = "customers"
