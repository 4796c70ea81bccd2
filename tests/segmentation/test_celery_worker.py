"""Real Celery workers (separate processes) on Redis, against the test database."""

from datetime import date

import pytest

from segmentation.models import CustomerScore, ScoringRun
from segmentation.services import scoring_run_execute
from tests.conftest import wait_until
from tests.segmentation.conftest import make_history, snapshot

pytestmark = pytest.mark.celery_worker


def test_nightly_fan_out_scores_every_business(tea, salon, celery_worker, send_task):
    tea_people = make_history(tea.business, customers=30, seed=5)
    salon_people = make_history(salon.business, customers=20, seed=6, phone_prefix="+86136")
    celery_worker()
    send_task("segmentation.tasks.score_all_businesses", "2025-12-31")
    wait_until(
        lambda: ScoringRun.objects.filter(status="succeeded").count() == 2,
        what="two succeeded scoring runs",
    )
    runs = {run.business_id: run for run in ScoringRun.objects.all()}
    assert runs[tea.business.pk].trigger == runs[salon.business.pk].trigger == "nightly"
    assert CustomerScore.objects.for_business(tea.business).count() == len(tea_people)
    assert CustomerScore.objects.for_business(salon.business).count() == len(salon_people)


def test_killed_worker_leaves_previous_scores_and_rerun_matches_uninterrupted(
    tea, celery_worker, send_task
):
    make_history(tea.business, customers=40, seed=7)
    scoring_run_execute(business=tea.business, as_of=date(2025, 6, 30))
    previous = snapshot(tea.business)

    slow = celery_worker(XW_TEST_PAUSE_BEFORE_SCORE_WRITE="120")
    send_task("segmentation.tasks.score_business", tea.business.pk, "2025-12-31", "manual")
    wait_until(
        lambda: ScoringRun.objects.filter(as_of=date(2025, 12, 31), status="running").exists(),
        what="the run to start",
    )
    import time

    time.sleep(3)  # inside the write transaction, old scores already deleted (uncommitted)
    celery_worker.kill(slow)
    assert snapshot(tea.business) == previous  # nothing half-written

    celery_worker()
    send_task("segmentation.tasks.score_business", tea.business.pk, "2025-12-31", "manual")
    wait_until(
        lambda: ScoringRun.objects.filter(as_of=date(2025, 12, 31), status="succeeded").exists(),
        what="the rerun to finish",
    )
    rerun = snapshot(tea.business)
    scoring_run_execute(business=tea.business, as_of=date(2025, 12, 31))  # uninterrupted
    assert snapshot(tea.business) == rerun
    assert len(rerun) == 40
    assert rerun != previous
