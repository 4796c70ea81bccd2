from django.core.management.base import BaseCommand, CommandError

from accounts.models import Business
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a business. The key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True, help="what the key is for, e.g. 'till'")
        parser.add_argument("--read-only", action="store_true")

    def handle(self, *args, slug, name, read_only, **options):
        business = Business.objects.filter(slug=slug, is_active=True).first()
        if business is None:
            raise CommandError(f"No active business with slug {slug!r}.")
        api_key, key = api_key_create(business=business, name=name, read_only=read_only)
        mode = "read-only" if read_only else "read-write"
        self.stdout.write(
            f"Created {mode} API key {api_key.prefix}… “{name}” for {business.slug}. "
            "Store it now: it is not shown again. Send it as 'Authorization: Api-Key <key>'."
        )
        self.stdout.write(key)
