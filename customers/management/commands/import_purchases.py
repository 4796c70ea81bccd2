from customers.importing.command import ImportCommand


class Command(ImportCommand):
    help = (
        "Import purchases from a CSV or XLSX file into one business: matched to customers by "
        "customer number, then phone; a purchase already imported is skipped."
    )
    kind = "purchases"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--create-customers",
            action="store_true",
            help="create customers the file names but the business does not have",
        )

    def extra_options(self, options) -> dict:
        return {"create_customers": options["create_customers"]}
