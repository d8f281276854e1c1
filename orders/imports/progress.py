"""A job's counters, heartbeat, row errors and end, written as the job goes."""

from django.db import transaction
from django.utils import timezone

from orders import outbox
from orders.imports.parse import RowError
from orders.models import BulkImport, ImportRowError, ImportStatus


def finish(job: BulkImport, status: str | None = None, error: str = "") -> None:
    job.refresh_from_db()
    if status is None:
        status = ImportStatus.PARTIALLY_FAILED if job.failed_count else ImportStatus.DONE
    job.status, job.error, job.finished_at = status, error, timezone.now()
    with transaction.atomic():
        BulkImport.objects.filter(pk=job.pk).update(status=status, error=error, finished_at=job.finished_at,
                                                    updated_at=job.finished_at)  # fmt: skip
        outbox.import_emit(job)


def record_errors(job: BulkImport, errors: list[RowError]) -> None:
    if errors:
        ImportRowError.objects.bulk_create([
            ImportRowError(job=job, row=e.row, column=e.column[:100], value=str(e.value)[:255], message=e.message[:500])
            for e in errors
        ])  # fmt: skip


def progress(job: BulkImport, **changes) -> None:
    now = timezone.now()
    BulkImport.objects.filter(pk=job.pk).update(heartbeat_at=now, updated_at=now, **changes)
    if getattr(job, "on_progress", None) and "processed_rows" in changes:
        job.on_progress(BulkImport.objects.values_list("processed_rows", flat=True).get(pk=job.pk))
