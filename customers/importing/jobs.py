"""Import jobs: the admin's upload → check (preview) → confirm → write, in the request for
small files and in the background worker for large ones.

Every step is idempotent, so the Celery task may run twice (acks_late): a job moves
queued → checking → ready → confirmed → importing → done, and the write plus the "done" mark
commit in one transaction.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from accounts.models import Business

from ..models import ImportJob
from .pipeline import ImportReport, import_file
from .reading import estimate_rows

logger = logging.getLogger(__name__)

Status = ImportJob.Status
CHECKABLE = (Status.QUEUED, Status.CHECKING)
WRITABLE = (Status.CONFIRMED, Status.IMPORTING)


def sync_row_limit() -> int:
    """Files up to this many rows are handled within the request; larger ones by the worker."""
    return settings.IMPORT_SYNC_ROW_LIMIT


def import_job_create(
    *,
    business: Business,
    user: Any,
    kind: str,
    upload: UploadedFile,
    valid_only: bool = False,
    create_customers: bool = False,
    language: str = "",
) -> ImportJob:
    """Store the upload and check it (now, or queued for the worker when large)."""
    name = os.path.basename(upload.name or "import")[:255]
    job = ImportJob(
        business=business,
        kind=kind,
        created_by=user if getattr(user, "pk", None) else None,
        original_name=name,
        valid_only=valid_only,
        create_customers=create_customers,
        language=language or translation.get_language() or "",
    )
    job.file.save(get_valid_filename(name) or "import", upload, save=False)
    job.estimated_rows = estimate_rows(job.file.path)
    job.save()
    _dispatch(job, job.estimated_rows)
    return job


def import_job_confirm(*, job: ImportJob, valid_only: bool | None = None) -> ImportJob:
    """The user saw the preview and wants it written."""
    if job.status != Status.READY:
        return job
    if valid_only is not None:
        job.valid_only = valid_only
    job.status = Status.CONFIRMED
    job.save(update_fields=["status", "valid_only"])
    rows = int((job.preview or {}).get("total_rows") or job.estimated_rows)
    _dispatch(job, rows)
    return job


def _dispatch(job: ImportJob, rows: int) -> None:
    if rows <= sync_row_limit():
        import_job_process(job_id=job.pk)
        job.refresh_from_db()
        return
    from ..tasks import import_job_run

    transaction.on_commit(lambda: import_job_run.delay(job.pk))


def import_job_process(*, job_id: int) -> None:
    """Do whatever the job is waiting for; nothing when it is finished. Safe to run twice."""
    job = ImportJob.objects.select_related("business").filter(pk=job_id).first()
    if job is None:
        return
    with translation.override(job.language or job.business.language):
        try:
            if job.status in CHECKABLE:
                _check(job)
            elif job.status in WRITABLE:
                _write(job)
        except Exception:
            logger.exception("import job %s failed", job_id)
            ImportJob.objects.filter(pk=job_id).update(
                status=Status.FAILED,
                error=_("Something went wrong on our side; nothing was written."),
                finished_at=timezone.now(),
            )


def _run(job: ImportJob, *, dry_run: bool, **hooks) -> ImportReport:
    if not job.file or not os.path.exists(job.file.path):
        report = ImportReport(kind=job.kind, dry_run=dry_run)
        report.file_error = _("The uploaded file is gone; please upload it again.")
        return report
    return import_file(
        job.file.path,
        business=job.business,
        kind=job.kind,
        dry_run=dry_run,
        valid_only=job.valid_only,
        create_customers=job.create_customers,
        **hooks,
    )


def _check(job: ImportJob) -> None:
    ImportJob.objects.filter(pk=job.pk, status__in=CHECKABLE).update(status=Status.CHECKING)
    report = _run(job, dry_run=True)
    job.preview = report.to_dict()
    job.error = report.file_error
    job.status = Status.FAILED if report.file_error else Status.READY
    if report.file_error:
        job.finished_at = timezone.now()
    ImportJob.objects.filter(pk=job.pk, status__in=CHECKABLE).update(
        preview=job.preview, error=job.error, status=job.status, finished_at=job.finished_at
    )


def _write(job: ImportJob) -> None:
    ImportJob.objects.filter(pk=job.pk, status=Status.CONFIRMED).update(status=Status.IMPORTING)
    job.refresh_from_db()
    if job.status not in WRITABLE:
        return

    def claim() -> bool:
        # Inside the import's write transaction: a second delivery of the task waits here
        # for the first one's commit, then finds the job done and writes nothing.
        locked = ImportJob.objects.select_for_update().only("status").get(pk=job.pk)
        return locked.status in WRITABLE

    def on_written(report: ImportReport) -> None:
        # The "done" mark commits with the rows it describes.
        stored = job.file.name
        ImportJob.objects.filter(pk=job.pk).update(
            status=Status.DONE, result=report.to_dict(), finished_at=timezone.now(), file=""
        )
        transaction.on_commit(lambda: _delete_upload(stored))  # the data is not kept

    # The file is checked outside any transaction; only the write holds the database.
    report = _run(job, dry_run=False, claim=claim, on_written=on_written)
    if report.written:
        return
    job.refresh_from_db()
    if job.status not in WRITABLE:
        return  # finished by another delivery meanwhile
    if report.file_error and not report.total_rows:
        job.status = Status.FAILED
        job.error = report.file_error
        job.finished_at = timezone.now()
    else:  # new errors since the preview (the data changed): show them again
        job.status = Status.READY
        job.preview = report.to_dict()
        job.error = report.file_error
    job.save(update_fields=["status", "error", "finished_at", "preview"])


def _delete_upload(name: str) -> None:
    if name:
        ImportJob._meta.get_field("file").storage.delete(name)


def import_job_delete(*, job: ImportJob) -> None:
    name = job.file.name
    job.delete()
    transaction.on_commit(lambda: _delete_upload(name))
