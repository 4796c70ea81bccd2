from customers.exporting import customer_table
from customers.importing.export_command import ExportCommand


class Command(ExportCommand):
    help = "Export one business's customers (with tags and purchase totals) to CSV or XLSX."
    table = staticmethod(customer_table)
