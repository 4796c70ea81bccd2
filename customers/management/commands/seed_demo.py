from django.core.management.base import BaseCommand

from accounts.models import Business
from customers.demo import DEMO_PASSWORD, PROFILES, seed_business
from customers.signals import demo_seeded


class Command(BaseCommand):
    help = (
        "Create the demo tea house (tea) and hair salon (salon). Running it twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300)

    def handle(self, *args, customers, **options):
        for slug in PROFILES:
            business = seed_business(slug, customers=customers)
            if business is None:
                self.stdout.write(f"Demo business {slug} exists already: left as it is.")
            else:
                self.stdout.write(
                    self.style.SUCCESS(f"Created demo business {slug} ({business.name}).")
                )
            demo_seeded.send(
                sender=self.__class__,
                business=business or Business.objects.get(slug=slug),
                created=business is not None,
                stdout=self.stdout,
            )
        self.stdout.write(
            "Demo logins (demo only): tea_owner, tea_staff, salon_owner, salon_staff"
            f" / {DEMO_PASSWORD}"
        )
