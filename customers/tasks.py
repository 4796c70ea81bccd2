"""Celery tasks of the customers app: thin, they take ids and call services."""

from celery import shared_task

from .importing.jobs import import_job_process


@shared_task(
    name="customers.tasks.import_job_run",
    acks_late=True,
    time_limit=60 * 60,
    soft_time_limit=55 * 60,
)
def import_job_run(job_id: int) -> None:
    """Check or write one import job (whichever it waits for); running twice is harmless."""
    import_job_process(job_id=job_id)
