from customers.exporting import purchase_table
from customers.importing.export_command import ExportCommand


class Command(ExportCommand):
    help = "Export one business's purchases to CSV or XLSX."
    table = staticmethod(purchase_table)
