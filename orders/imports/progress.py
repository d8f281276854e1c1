"""A job's moves, counters, heartbeat, row errors and end, written as the job goes. Its status moves through its
state table (``IMPORT_STATES``): ``begin`` takes it to validating or importing, ``finish`` ends it."""

from django.db import transaction
from django.utils import timezone

from orders.imports.parse import RowError
from orders.models import IMPORT_ENDED, IMPORT_STATES, BulkImport, ImportRowError, ImportStatus
from shopops.jobs import Job
from shopops.transitions import transition, transition_where


def begin(job: BulkImport, status: str, **changes) -> bool:
    """Take the job to ``status`` (validating or importing; again when its run resumes), with its heartbeat and
    ``changes``. False when the job ended meanwhile (failed as stuck): it is left as it is and its run stops."""
    now = timezone.now()
    moved = transition_where(IMPORT_STATES, BulkImport.objects.filter(pk=job.pk), status, heartbeat_at=now,
                             updated_at=now, **changes)  # fmt: skip
    if moved:
        _report(job, changes)
    return bool(moved)


def finish(job: BulkImport, status: str | None = None, error: str = "") -> None:
    """End the job: ``status``, or done (partially_failed when rows failed); import.finished is sent. A job that
    ended meanwhile is left as it is."""
    with transaction.atomic():
        locked = BulkImport.objects.select_for_update().get(pk=job.pk)
        if locked.status in IMPORT_ENDED:
            return
        if status is None:
            status = ImportStatus.PARTIALLY_FAILED if locked.failed_count else ImportStatus.DONE
        transition(IMPORT_STATES, locked, status, values={"error": Job.error_text(error)}, locked=True)


def record_errors(job: BulkImport, errors: list[RowError]) -> None:
    if errors:
        ImportRowError.objects.bulk_create([
            ImportRowError(job=job, row=e.row, column=e.column[:100], value=str(e.value)[:255], message=e.message[:500])
            for e in errors
        ])  # fmt: skip


def progress(job: BulkImport, **changes) -> None:
    """The job's counters and resume point (never its status: ``begin``, ``finish``), with its heartbeat."""
    now = timezone.now()
    BulkImport.objects.filter(pk=job.pk).update(heartbeat_at=now, updated_at=now, **changes)
    _report(job, changes)


def _report(job: BulkImport, changes: dict) -> None:
    """Tell the job's ``on_progress`` (the ``import_file`` progress bar) the rows processed, when they changed."""
    if getattr(job, "on_progress", None) and "processed_rows" in changes:
        job.on_progress(BulkImport.objects.values_list("processed_rows", flat=True).get(pk=job.pk))
