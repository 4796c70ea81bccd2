from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Business
from segmentation.models import ScoringRun
from segmentation.run_warnings import translate_warning
from segmentation.services import scoring_run_execute


class Command(BaseCommand):
    help = "Score customers now (the nightly job, run synchronously)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--business", help="slug of the business")
        group.add_argument("--all", action="store_true", help="every active business")
        parser.add_argument(
            "--as-of", type=date.fromisoformat, help="YYYY-MM-DD: use only history up to this day"
        )

    def handle(self, *args, business, all, as_of, **options):
        businesses = Business.objects.filter(is_active=True).order_by("slug")
        if not all:
            businesses = businesses.filter(slug=business)
            if not businesses:
                raise CommandError(f"No active business with slug {business!r}.")
        failed = 0
        for i, biz in enumerate(businesses, 1):
            self.stdout.write(f"[{i}/{len(businesses)}] scoring {biz.slug} …", ending="")
            self.stdout.flush()
            try:
                run = scoring_run_execute(
                    business=biz, as_of=as_of, trigger=ScoringRun.Trigger.COMMAND
                )
            except Exception as exc:
                failed += 1
                self.stdout.write(self.style.ERROR(f" failed: {exc}"))
                continue
            with translation.override(biz.language):
                self.stdout.write(
                    self.style.SUCCESS(
                        " "
                        + _(
                            "%(n)d customers scored as of %(as_of)s in %(s)s s "
                            "(purchase model: %(src)s)"
                        )
                        % {
                            "n": run.customers_scored,
                            "as_of": run.as_of,
                            "s": run.duration_s,
                            "src": run.parameters.get("bgnbd_source"),
                        }
                    )
                )
                for warning in run.warnings:
                    self.stdout.write(f"  ! {translate_warning(warning)}")
        if failed:
            raise CommandError(f"{failed} business(es) failed to score.")
