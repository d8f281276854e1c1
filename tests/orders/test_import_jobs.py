"""An import is a job (shopops/jobs.py): the shared fields keep their columns, its state table is declared, and
every move goes through the transition helper: a run takes it to validating or importing, its end, a time limit
and the stuck sweep fail it; an ended job is left as it is."""

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from orders import tasks
from orders.imports import jobs, write
from orders.imports.jobs import import_fail, import_fail_stuck, import_run
from orders.imports.progress import begin, finish
from orders.models import IMPORT_STATES, BulkImport, ImportStatus
from shopops.jobs import Job
from shopops.transitions import TABLES
from shopops.webhooks.models import WebhookDelivery
from tests.orders.test_imports import HAPPY_ROWS, create, csv_bytes
from tests.shopops.webhooks import WebhookEndpointFactory

pytestmark = pytest.mark.django_db
Q, V, IM = ImportStatus.QUEUED, ImportStatus.VALIDATING, ImportStatus.IMPORTING
D, P, F = ImportStatus.DONE, ImportStatus.PARTIALLY_FAILED, ImportStatus.FAILED


def test_an_import_takes_the_shared_fields_from_the_job_base_with_their_columns():
    assert issubclass(BulkImport, Job)
    for name in ("created_at", "queued_at", "started_at", "finished_at", "error"):
        field = BulkImport._meta.get_field(name)
        assert field.column == name
        assert field.deconstruct()[1:] == Job._meta.get_field(name).deconstruct()[1:]


def test_the_import_table_is_declared():
    assert TABLES[(BulkImport, "status")] is IMPORT_STATES
    assert IMPORT_STATES.moves == {Q: {V, IM, F}, V: {V, IM, D, P, F}, IM: {IM, D, P, F}, D: set(), P: set(), F: set()}


def _job(merchant, status: str) -> BulkImport:
    job = create(merchant, csv_bytes(HAPPY_ROWS))
    BulkImport.objects.filter(pk=job.pk).update(status=status)
    return BulkImport.objects.get(pk=job.pk)


@pytest.mark.parametrize(("status", "marked", "after"), [(Q, True, F), (V, True, F), (IM, True, F), (D, False, D)])
def test_only_a_job_that_has_not_ended_is_marked_failed(merchant, status, marked, after):
    job = _job(merchant, status)

    assert import_fail(job_id=job.pk, error="x" * 600) is marked

    job.refresh_from_db()
    assert (job.status, job.error) == (after, "x" * 500 if marked else "")


def test_an_import_out_of_time_is_failed_by_its_task(merchant, monkeypatch):
    job = _job(merchant, IM)

    def out_of_time(*, job_id, claim):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(jobs, "import_run", out_of_time)

    assert tasks.import_run(job.pk) == ImportStatus.FAILED
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "The import exceeded its time limit; split the file.")


def test_a_job_that_ended_meanwhile_is_neither_taken_up_nor_finished_again(merchant):
    job = _job(merchant, IM)
    BulkImport.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert import_fail_stuck(older_than=timedelta(minutes=5)) == 1
    WebhookEndpointFactory(merchant=merchant, events=["import.finished"])
    before = BulkImport.objects.filter(pk=job.pk).values().get()

    assert begin(job, ImportStatus.IMPORTING) is False
    finish(job)

    assert BulkImport.objects.filter(pk=job.pk).values().get() == before
    assert before["status"] == "failed" and WebhookDelivery.objects.count() == 0


def test_a_run_whose_job_ended_before_it_began_writes_nothing(merchant, monkeypatch):
    job = create(merchant, csv_bytes(HAPPY_ROWS))
    real_begin, calls = write.begin, []

    def failed_meanwhile(job, status, **changes):  # the sweep fails the job as its worker takes it
        calls.append(status)
        import_fail(job_id=job.pk, error="lost")
        return real_begin(job, status, **changes)

    monkeypatch.setattr(write, "begin", failed_meanwhile)

    ran = import_run(job_id=job.pk)

    assert calls == [ImportStatus.VALIDATING]
    assert (ran.status, ran.error, ran.processed_rows, ran.finished_at) == ("failed", "lost", 0, None)
    assert ran.row_errors.count() == 0
