from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.models import Business
from feedback.qr import qr_png, qr_svg
from feedback.services import business_link_url


class Command(BaseCommand):
    help = _("Print a business's public feedback link (absolute URL, from XW_PUBLIC_BASE_URL).")

    def add_arguments(self, parser):
        parser.add_argument("slug", help=_("the business's slug"))
        parser.add_argument(
            "--qr", metavar="FILE", help=_("also write the QR code to FILE (.png or .svg)")
        )

    def handle(self, *args, slug: str, qr: str | None = None, **options):
        business = Business.objects.filter(slug=slug).first()
        if business is None:
            raise CommandError(_("No business with slug “%(slug)s”.") % {"slug": slug})
        url = business_link_url(business=business)
        self.stdout.write(url)
        if qr:
            path = Path(qr)
            if path.suffix.lower() not in {".png", ".svg"}:
                raise CommandError(_("The QR code file must end in .png or .svg."))
            path.write_bytes(qr_png(url) if path.suffix.lower() == ".png" else qr_svg(url))
            self.stderr.write(_("QR code written to %(path)s") % {"path": path})
