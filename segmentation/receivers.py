"""Segmentation's answers to signals of the apps below it (connected in apps.py)."""

from .models import ScoringRun
from .services import scoring_run_execute


def demo_seeded(sender, business, stdout=None, **kwargs) -> None:
    """A demo business without a successful scoring run is scored now, synchronously, so the
    home page of a fresh `make run` shows scores. One that has scores is left as it is."""
    if (
        ScoringRun.objects.for_business(business)
        .filter(status=ScoringRun.Status.SUCCEEDED)
        .exists()
    ):
        return
    run = scoring_run_execute(business=business, trigger=ScoringRun.Trigger.COMMAND)
    if stdout is not None:
        stdout.write(f"Scored demo business {business.slug}: {run.customers_scored} customers.")
