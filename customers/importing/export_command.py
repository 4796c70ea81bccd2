"""What export_customers and export_purchases share."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Business

from ..exporting import CSV, FORMATS, write_table


class ExportCommand(BaseCommand):
    table = None

    def add_arguments(self, parser):
        parser.add_argument("file", help="where to write; .csv or .xlsx")
        parser.add_argument("--business", required=True, help="the business's slug")
        parser.add_argument("--format", choices=FORMATS, help="default: from the file name")
        parser.add_argument("--language", default="", help="header language (default: business)")

    def handle(self, *args, file, business, format, language, **options):
        try:
            tenant = Business.objects.get(slug=business)
        except Business.DoesNotExist:
            message = _("No business with slug “%(slug)s”.") % {"slug": business}
            raise CommandError(message) from None
        fmt = format or (file.rsplit(".", 1)[-1].lower() if "." in file else CSV)
        if fmt not in FORMATS:
            raise CommandError(_("Unknown format “%(fmt)s”: use csv or xlsx.") % {"fmt": fmt})
        with translation.override(language or tenant.language), open(file, "wb") as out:
            write_table(self.table(tenant), fmt, out)
        self.stdout.write(self.style.SUCCESS(_("Written %(file)s") % {"file": file}))
