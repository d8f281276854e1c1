"""Documents and ship batches are jobs (shopops/jobs.py): the shared fields keep their columns, their state tables
are declared, and every move goes through the transition helper with the one refusal message."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from shipping import tasks
from shipping.models import Document, DocumentStatus, ShipBatch, ShipBatchStatus
from shipping.models.documents import DOCUMENT_STATES, SHIP_BATCH_STATES
from shipping.services import batches as batch_services
from shipping.services.batches import ship_batch_fail
from shipping.services.documents import document_fail, document_render
from shopops.errors import DomainError
from shopops.jobs import JOB_ERROR_MAX_LENGTH, Job
from shopops.transitions import TABLES, transition

pytestmark = pytest.mark.django_db
SHARED = ("created_at", "started_at", "finished_at", "error")


@pytest.mark.parametrize("model", [Document, ShipBatch], ids=lambda m: m.__name__)
def test_a_job_takes_the_shared_fields_from_the_base_with_their_columns(model):
    assert issubclass(model, Job)
    for name in SHARED:
        field = model._meta.get_field(name)
        assert field.column == name
        assert field.deconstruct()[1:] == Job._meta.get_field(name).deconstruct()[1:]
    assert Job._meta.get_field("error").max_length == JOB_ERROR_MAX_LENGTH == 500


def test_the_job_tables_are_declared():
    q, r, d, f = DocumentStatus.QUEUED, DocumentStatus.RENDERING, DocumentStatus.DONE, DocumentStatus.FAILED
    assert TABLES[(Document, "status")] is DOCUMENT_STATES
    assert DOCUMENT_STATES.moves == {q: {r, f}, r: {r, d, f}, f: {r, f}, d: set()}
    q, r, d, f = ShipBatchStatus.QUEUED, ShipBatchStatus.RUNNING, ShipBatchStatus.DONE, ShipBatchStatus.FAILED
    assert TABLES[(ShipBatch, "status")] is SHIP_BATCH_STATES
    assert SHIP_BATCH_STATES.moves == {q: {r}, r: {r, d, f}, f: {r}, d: set()}


def _document(merchant, status: str) -> Document:
    document = Document.objects.create(merchant=merchant, kind="label", format="4x6", checksum="x" * 64,
                                       requested_by="user:1")  # fmt: skip
    Document.objects.filter(pk=document.pk).update(status=status)
    return Document.objects.get(pk=document.pk)


def test_a_refused_job_move_reads_as_every_refused_move(merchant):
    document = _document(merchant, DocumentStatus.DONE)

    with pytest.raises(DomainError) as refused:
        transition(DOCUMENT_STATES, document, DocumentStatus.RENDERING)

    assert refused.value.as_dict() == {
        "code": "transition_not_allowed",
        "message": f"Document {document.pk} is done and can no longer change; it cannot become rendering.",
        "details": {"status": "done", "allowed": [], "requested": "rendering"},
    }


def test_a_done_document_is_neither_rendered_again_nor_failed(merchant):
    document = _document(merchant, DocumentStatus.DONE)
    before = Document.objects.filter(pk=document.pk).values().get()

    assert document_render(document_id=document.pk).status == DocumentStatus.DONE
    assert document_fail(document_id=document.pk, error="lost").status == DocumentStatus.DONE
    assert Document.objects.filter(pk=document.pk).values().get() == before


def test_a_queued_document_fails_with_its_error_cut_to_the_column(merchant):
    document = _document(merchant, DocumentStatus.QUEUED)

    failed = document_fail(document_id=document.pk, error="x" * 600)

    failed.refresh_from_db()
    assert (failed.status, failed.error, failed.finished_at is not None) == ("failed", "x" * 500, True)


@pytest.mark.parametrize(("status", "marked", "after"), [
    (ShipBatchStatus.RUNNING, True, ShipBatchStatus.FAILED),
    (ShipBatchStatus.DONE, False, ShipBatchStatus.DONE),
    (ShipBatchStatus.QUEUED, False, ShipBatchStatus.QUEUED),
])  # fmt: skip
def test_only_a_running_batch_is_marked_failed(merchant, status, marked, after):
    batch = ShipBatch.objects.create(merchant=merchant, order_ids=[1], created_by="user:1", status=status)

    assert ship_batch_fail(batch_id=batch.pk, error="Out of time.") is marked

    batch.refresh_from_db()
    assert (batch.status, batch.error) == (after, "Out of time." if marked else "")


def test_a_batch_out_of_time_is_failed_by_its_task(merchant, monkeypatch):
    batch = ShipBatch.objects.create(merchant=merchant, order_ids=[1], created_by="user:1",
                                     status=ShipBatchStatus.RUNNING, started_at=timezone.now())  # fmt: skip

    def out_of_time(*, batch_id, claim):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(batch_services, "ship_batch_run", out_of_time)

    assert tasks.ship_batch_run(batch.pk) == ShipBatchStatus.FAILED
    batch.refresh_from_db()
    assert (batch.status, batch.error) == ("failed", "The batch exceeded its time limit; run it again to resume.")
