"""Import jobs: created with their stored file, run (or resumed) to the end by a worker, failed when their worker
stops beating."""

from datetime import timedelta

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders.imports.parse import FileRejected, file_checksum
from orders.imports.products import run_inventory, run_products, run_sku_mappings
from orders.imports.progress import finish
from orders.imports.write import run_orders
from orders.models import IMPORT_ENDED, IMPORT_STATES, BulkImport, ImportKind, ImportStatus
from shopops.dispatch import send_on_commit
from shopops.jobs import Job
from shopops.models import Merchant
from shopops.transitions import transition, transition_where

#: A job a worker is running.
IMPORT_RUNNING = (ImportStatus.VALIDATING, ImportStatus.IMPORTING)


def import_create(*, merchant: Merchant, kind: str, upload, file_name: str, dry_run: bool, error_policy: str,
                  actor: str, preset: str = "", create_channels: bool = False) -> BulkImport:  # fmt: skip
    """Store the uploaded file and its job (queued); ``import_submit`` also sends it to the workers.

    ``preset``: the layout of an orders file (``orders.imports.presets``), blank to detect it from the header;
    ``create_channels``: create the channels the file names that the merchant lacks."""
    checksum = file_checksum(upload)
    job = BulkImport(merchant=merchant, kind=kind, file_name=file_name[:255], checksum=checksum, dry_run=dry_run,
                     error_policy=error_policy, created_by=actor, preset=preset,
                     create_channels=create_channels)  # fmt: skip
    job.file.save(file_name, File(upload, name=file_name), save=False)
    job.save()
    return job


def import_submit(**fields) -> BulkImport:
    """``import_create``, the job sent to the workers once the caller's transaction commits (without a broker it
    runs then, in this process)."""
    job = import_create(**fields)
    send_on_commit("orders.tasks.import_run", job.pk)
    return job


def import_run(*, job_id: int, on_progress=None, claim: str = "") -> BulkImport:
    """Process (or resume) a job to the end. Idempotent: a finished job is left as it is.

    Claimed once: a job whose worker reported progress within ``IMPORT_CLAIM_STALE_AFTER`` is left to it (another
    delivery of the job does nothing), unless ``claim`` is that worker's own (its task's id: the task retried after
    a database error). ``on_progress(processed_rows)`` is called after each committed chunk (the ``import_file``
    progress bar).
    """
    now = timezone.now()
    taken = Q(status__in=IMPORT_RUNNING, heartbeat_at__gte=now - settings.IMPORT_CLAIM_STALE_AFTER)
    if claim:
        taken &= ~Q(claimed_by=claim)
    claimed = (BulkImport.objects.filter(pk=job_id).exclude(status__in=IMPORT_ENDED).exclude(taken)
               .update(claimed_by=claim, heartbeat_at=now))  # fmt: skip
    job = BulkImport.objects.select_related("merchant").get(pk=job_id)
    job.on_progress = on_progress
    if not claimed:  # ended, or running in another worker
        return job
    if job.started_at is None:
        BulkImport.objects.filter(pk=job.pk).update(started_at=timezone.now())
    runner = {ImportKind.ORDERS: run_orders, ImportKind.PRODUCTS: run_products,
              ImportKind.INVENTORY: run_inventory, ImportKind.SKU_MAPPINGS: run_sku_mappings}[job.kind]  # fmt: skip
    try:
        with job.file.open("rb") as fileobj:
            runner(job, fileobj)
    except FileRejected as exc:
        finish(job, ImportStatus.FAILED, error=str(exc))
    job.refresh_from_db()
    return job


def import_fail_stuck(*, older_than: timedelta) -> int:
    """Mark failed the running jobs whose worker stopped beating (time limit exceeded, lost worker); each sends
    import.finished."""
    now, error = timezone.now(), "The import stopped making progress (worker lost or time limit)."
    with transaction.atomic():
        silent = BulkImport.objects.filter(status__in=IMPORT_RUNNING, heartbeat_at__lt=now - older_than)
        stuck = list(silent.select_for_update())
        for job in stuck:
            transition(IMPORT_STATES, job, ImportStatus.FAILED, at=now, values={"error": error}, locked=True)
    return len(stuck)


def import_fail(*, job_id: int, error: str) -> bool:
    """Record that a job's run stopped before its end (it ran out of time): failed, with why. A job that ended is
    left as it is. Whether it was marked. A conditional UPDATE: no import.finished is sent, finished_at stays
    empty."""
    return bool(transition_where(IMPORT_STATES, BulkImport.objects.filter(pk=job_id), ImportStatus.FAILED,
                                 error=Job.error_text(error)))  # fmt: skip
