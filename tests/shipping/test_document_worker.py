"""Document jobs: the render task called as a function (a done document is not rendered again, a failed render
records its error), the request enqueued on commit to the ``documents`` queue, and a real Celery worker on the
Redis broker consuming that queue and rendering a job into the test database."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection
from django.utils import timezone

from shipping import tasks
from shipping.documents import render
from shipping.models import Document, DocumentStatus, Invoice, ShipmentStatus
from shipping.services.documents import DOCUMENT_TIME_LIMIT, document_request
from shopops.celery import app
from tests.shipping.documents_helpers import SIZE_4X6, gst_merchant, page_size, pdf_pages, same_size
from tests.shipping.factories import make_shipment, shipping_courier

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bluedart(merchant):
    return shipping_courier(merchant)


@pytest.fixture
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


def stored_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def label_request(merchant, shipments) -> Document:
    return document_request(merchant=merchant, kind="label", ids=[s.pk for s in shipments], actor="test")


# -- the task as a function -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_done_document_is_not_rendered_again(merchant, bluedart, private_media):
    document = label_request(merchant, [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)])
    assert tasks.document_render(document.pk) == DocumentStatus.DONE
    document.refresh_from_db()
    rendered = (document.file.name, document.file_checksum, document.page_count, document.started_at,
                document.finished_at)  # fmt: skip
    files = stored_files(private_media)

    assert tasks.document_render(document.pk) == DocumentStatus.DONE

    document.refresh_from_db()
    assert (document.file.name, document.file_checksum, document.page_count, document.started_at,
            document.finished_at) == rendered  # fmt: skip
    assert stored_files(private_media) == files == [document.file.name]


@pytest.mark.django_db
def test_a_render_refused_by_the_data_records_the_error(merchant, bluedart, private_media):
    gst_merchant(merchant)
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    document = document_request(merchant=merchant, kind="invoice", ids=[shipment.order_id], actor="test")
    merchant.tax_id = ""  # cleared while the job waited in the queue
    merchant.save(update_fields=["tax_id"])

    assert tasks.document_render(document.pk) == DocumentStatus.FAILED

    document.refresh_from_db()
    assert (document.status, document.error, document.page_count, document.file.name) == (
        DocumentStatus.FAILED,
        "Set the merchant's GSTIN / tax id (Merchant.tax_id) before issuing tax invoices.",
        0,
        "",
    )
    assert document.finished_at is not None
    assert Invoice.objects.count() == 0  # no number taken for an invoice never printed
    assert stored_files(private_media) == []


@pytest.mark.django_db
def test_a_crash_in_the_renderer_fails_the_job_and_a_new_request_makes_a_new_one(merchant, bluedart, private_media,
                                                                                 monkeypatch):  # fmt: skip
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    document = label_request(merchant, [shipment])

    def out_of_paper(**kwargs):
        raise RuntimeError("out of paper")

    with monkeypatch.context() as patched:
        patched.setattr(render, "render_labels", out_of_paper)
        assert tasks.document_render(document.pk) == DocumentStatus.FAILED

    document.refresh_from_db()
    assert (document.status, document.error) == (DocumentStatus.FAILED, "Rendering failed: RuntimeError: out of paper")
    assert document.finished_at is not None
    again = label_request(merchant, [shipment])
    assert again.pk != document.pk
    assert tasks.document_render(again.pk) == DocumentStatus.DONE


@pytest.mark.django_db
def test_a_render_over_its_time_limit_fails_the_job(merchant, bluedart, private_media, monkeypatch):
    document = label_request(merchant, [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)])

    def slow(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(render, "render_labels", slow)

    assert tasks.document_render(document.pk) == DocumentStatus.FAILED
    document.refresh_from_db()
    assert (document.status, document.error) == (DocumentStatus.FAILED,
                                                 "Rendering exceeded its time limit; ask for fewer items.")  # fmt: skip


@pytest.mark.django_db
def test_a_document_whose_worker_was_killed_mid_render_is_not_reused(merchant, bluedart, private_media):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    stuck = label_request(merchant, [shipment])
    limit = timedelta(seconds=DOCUMENT_TIME_LIMIT)
    Document.objects.filter(pk=stuck.pk).update(status=DocumentStatus.RENDERING,
                                                started_at=timezone.now() - limit + timedelta(seconds=30))  # fmt: skip
    recent = label_request(merchant, [shipment])
    Document.objects.filter(pk=stuck.pk).update(started_at=timezone.now() - limit - timedelta(seconds=1))

    again = label_request(merchant, [shipment])

    assert recent.pk == stuck.pk  # still within the task's time limit: being rendered
    assert again.pk != stuck.pk
    assert tasks.document_render.time_limit == DOCUMENT_TIME_LIMIT


@pytest.mark.django_db
def test_a_request_is_enqueued_once_on_commit_to_the_documents_queue(merchant, bluedart, private_media,
                                                                     django_capture_on_commit_callbacks):  # fmt: skip
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        document = label_request(merchant, [shipment])
        assert Document.objects.get().status == DocumentStatus.QUEUED  # nothing runs before the commit
    with django_capture_on_commit_callbacks(execute=True) as reprint:
        assert label_request(merchant, [shipment]).pk == document.pk

    assert (len(callbacks), len(reprint)) == (1, 0)
    document.refresh_from_db()
    assert (document.status, document.page_count) == (DocumentStatus.DONE, 1)
    assert app.amqp.router.route({}, tasks.document_render.name)["queue"].name == "documents"


# -- a real worker ---------------------------------------------------------------------------------------------------


def _purge_documents_queue() -> None:
    """Empty the documents queue and drop its unacknowledged messages left by earlier runs."""
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("documents")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        for tag, payload in client.hgetall("unacked").items():
            _message, exchange, routing_key = json.loads(payload)
            if "documents" in (exchange, routing_key):
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


@pytest.fixture
def documents_worker():
    """A Celery worker (solo pool) consuming only the documents queue, on the test database; stopped after."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip("needs the Redis broker: set CELERY_BROKER_URL (CI uses redis://127.0.0.1:6379/0)")
    if connection.vendor != "postgresql":
        pytest.skip("the worker process must share the test database: set DATABASE_URL to PostgreSQL")
    db = connection.settings_dict
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    database_url = f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    _purge_documents_queue()
    command = [sys.executable, "-m", "celery", "-A", "shopops", "worker", "--pool=solo", "-Q", "documents",
               "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"documents-{os.getpid()}@%h",
               "--loglevel=WARNING"]  # fmt: skip
    worker = subprocess.Popen(
        command,
        cwd=ROOT,
        env=os.environ | {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        start_new_session=True,
    )
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        app.conf.task_always_eager = eager
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        _purge_documents_queue()


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_documents_queue_renders_the_job(documents_worker, merchant, bluedart):
    # the worker runs on tests.settings: it stores the PDF under that PRIVATE_MEDIA_ROOT, which this test reads too
    shipments = [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED) for _ in range(7)]
    unbooked = make_shipment(merchant, ShipmentStatus.NEW)

    ids = [*(s.pk for s in shipments), unbooked.pk]

    document = document_request(merchant=merchant, kind="label", ids=ids, actor="test")  # enqueued on commit

    deadline = time.monotonic() + 90
    while Document.objects.get(pk=document.pk).status in (DocumentStatus.QUEUED, DocumentStatus.RENDERING):
        if documents_worker.poll() is not None:
            pytest.fail(f"the worker exited ({documents_worker.returncode}) before rendering")
        if time.monotonic() > deadline:
            pytest.fail("the document was not rendered within 90 s")
        time.sleep(0.05)
    document.refresh_from_db()
    try:
        assert (document.status, document.error, document.page_count) == (DocumentStatus.DONE, "", 7)
        assert document.not_created == [{"id": unbooked.pk, "reason": "The shipment has no AWB yet: assign one first."}]
        with document.file.open("rb") as fh:
            pdf = fh.read()
        pages = pdf_pages(pdf)
        assert len(pages) == 7
        assert all(same_size(page_size(page), SIZE_4X6) for page in pages)
        assert [shipment.awb in page.extract_text() for shipment, page in zip(shipments, pages, strict=True)] == [
            True
        ] * 7
        assert documents_worker.poll() is None
    finally:
        document.file.delete(save=False)
