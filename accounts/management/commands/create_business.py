import secrets

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Business
from accounts.services import business_create


class Command(BaseCommand):
    help = "Create a business (tenant) and its owner login."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="username of the owner")
        parser.add_argument("--password", help="owner's password (generated when omitted)")
        parser.add_argument("--currency", default="CNY")
        parser.add_argument("--time-zone", default="Asia/Shanghai")
        parser.add_argument("--phone-region", default="CN")

    def handle(self, *args, slug, name, owner, password, currency, time_zone, phone_region, **kw):
        if Business.objects.filter(slug=slug).exists():
            raise CommandError(f"A business with slug {slug!r} already exists.")
        existing = User.objects.filter(username=owner).exists()
        if existing and password is not None:
            raise CommandError(
                f"User {owner!r} already exists: leave out --password to make them the owner "
                "with their current password, or change it with `manage.py changepassword`."
            )
        generated = password is None and not existing
        if generated:
            password = secrets.token_urlsafe(12)
        try:
            business = business_create(
                slug=slug,
                name=name,
                owner_username=owner,
                owner_password=password,
                currency=currency,
                time_zone=time_zone,
                phone_region=phone_region.upper(),
            )
        except (ValidationError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created business {business.slug} ({business.name}).")
        )
        self.stdout.write(f"Owner login: {owner}")
        if generated:
            self.stdout.write(f"Password (shown once): {password}")
        elif existing:
            self.stdout.write("Existing user: password unchanged.")
