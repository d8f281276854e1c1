"""Sending jobs to the workers: a broker that cannot be reached loses nothing, the sweep sends again what waits,
and a job delivered twice runs once."""

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from orders.imports.jobs import import_create, import_run
from orders.models import BulkImport, Order
from shipping.documents import render
from shipping.models import Document, ShipmentStatus
from shipping.services.documents import document_render
from shipping.tasks import document_render as document_render_task
from shopops import dispatch
from shopops.celery import app
from shopops.errors import DATABASE_ERRORS
from shopops.integrations import TransactionOpen
from tests.conftest import DEAD_BROKER, use_broker
from tests.orders.test_api_imports import ORDER_ROWS, ORDERS_HEADER, csv_bytes
from tests.orders.test_api_imports import shop as shop
from tests.shipping.factories import make_shipment, shipping_courier


@pytest.fixture
def bluedart(merchant):
    return shipping_courier(merchant)


def _import(api, name="orders.csv", **headers):
    body = {"file": SimpleUploadedFile(name, csv_bytes(ORDERS_HEADER, ORDER_ROWS)), "kind": "orders"}
    return api.post("/api/v1/imports/", body, format="multipart", headers=headers)


@pytest.mark.django_db(transaction=True)  # the job commits, then its message is sent
def test_an_import_with_the_broker_down_is_answered_202_and_its_job_stays_queued(api, shop, dead_broker, caplog):
    with caplog.at_level(logging.WARNING, logger="shopops.dispatch"):
        response = _import(api)

    job = BulkImport.objects.get()
    assert response.status_code == 202, response.json()
    assert (response.json()["id"], response.json()["status"], job.status) == (job.pk, "queued", "queued")
    assert dispatch.STATS == {"failed": 1, "skipped": 0}
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "The broker did not take orders.tasks.import_run"
    ]
    assert "the sweep sends it again" in caplog.records[0].getMessage()


@pytest.mark.django_db(transaction=True)
def test_after_a_failed_send_a_process_sends_nothing_until_the_broker_may_be_back(api, shop, dead_broker):
    _import(api, "first.csv")
    _import(api, "second.csv")  # within BROKER_RETRY_AFTER: not tried, left for the sweep

    assert dispatch.STATS == {"failed": 1, "skipped": 1}
    assert list(BulkImport.objects.values_list("status", flat=True)) == ["queued", "queued"]

    dispatch._down_until = time.monotonic() - 1  # BROKER_RETRY_AFTER has passed: the next send tries the broker
    _import(api, "third.csv")

    assert dispatch.STATS == {"failed": 2, "skipped": 1}


@pytest.mark.django_db(transaction=True)
def test_labels_with_the_broker_down_are_202_queued_and_the_same_request_again_is_the_same_document(
    api, merchant, bluedart, dead_broker
):
    ids = [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED).pk]
    first = api.post(
        "/api/v1/documents/labels/", {"shipment_ids": ids}, format="json", headers={"Idempotency-Key": "k1"}
    )
    replay = api.post(
        "/api/v1/documents/labels/", {"shipment_ids": ids}, format="json", headers={"Idempotency-Key": "k1"}
    )
    again = api.post("/api/v1/documents/labels/", {"shipment_ids": ids}, format="json")

    document = Document.objects.get()
    assert [r.status_code for r in (first, replay, again)] == [202, 202, 202]
    assert {r.json()["id"] for r in (first, replay, again)} == {document.pk}
    assert (first.json()["status"], document.status) == ("queued", "queued")
    assert replay.headers["Idempotent-Replayed"] == "true"


@pytest.mark.django_db(transaction=True)
def test_the_sweep_sends_again_a_job_whose_send_failed_and_only_once_per_period(api, merchant, bluedart, settings,
                                                                                 dead_broker):  # fmt: skip
    ids = [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED).pk]
    api.post("/api/v1/documents/labels/", {"shipment_ids": ids}, format="json")
    use_broker(DEAD_BROKER, eager=True)  # the broker is back: eager Celery runs what is sent, here
    dispatch._down_until = 0.0

    too_soon = dispatch.jobs_requeue()  # sent moments ago: its worker may be about to claim it
    later = timezone.now() + settings.JOB_REQUEUE_AFTER + timedelta(seconds=1)
    sent = dispatch.jobs_requeue(now=later)
    again = dispatch.jobs_requeue(now=later)

    document = Document.objects.get()
    assert (too_soon, sent, again) == (0, 1, 0)
    assert (document.status, document.page_count, document.queued_at) == ("done", 1, later)


def test_every_job_kind_waiting_for_a_worker_is_swept():
    swept = {(kind.model._meta.label, kind.task, kind.statuses) for kind in dispatch.WAITING}

    assert swept == {
        ("orders.BulkImport", "orders.tasks.import_run", ("queued",)),
        ("shipping.Document", "shipping.tasks.document_render", ("queued",)),
        ("shipping.ShipBatch", "shipping.tasks.ship_batch_run", ("queued",)),
        ("shipping.Notification", "shipping.tasks.notify_send", ("queued",)),
        ("shipping.CourierWebhookDelivery", "shipping.tasks.courier_webhook_process", ("pending",)),
        ("orders.ChannelWebhookDelivery", "orders.tasks.channel_webhook_process", ("pending",)),
    }
    for kind in dispatch.WAITING:
        assert kind.task in app.tasks


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_document_delivered_twice_at_once_renders_once(merchant, bluedart, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    document = Document.objects.create(merchant=merchant, kind="label", format="4x6", checksum="c", requested_by="t")
    document.shipments.set([shipment])
    renders, real = [], render.render_labels

    def slow_render(**kwargs):  # long enough for the second delivery to arrive while the first renders
        renders.append(threading.get_ident())
        time.sleep(0.5)
        return real(**kwargs)

    monkeypatch.setattr(render, "render_labels", slow_render)
    results = []

    def deliver():
        try:
            results.append(document_render(document_id=document.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    document.refresh_from_db()
    assert len(renders) == 1
    assert sorted(results) == ["done", "rendering"]  # the second delivery found it taken and left it
    assert (document.status, document.page_count) == ("done", 1)


def _queued_label(merchant) -> Document:
    document = Document.objects.create(merchant=merchant, kind="label", format="4x6", checksum="c", requested_by="t")
    document.shipments.set([make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)])
    return document


def _database_gone_once(monkeypatch) -> list:
    real, calls = render.render_labels, []

    def render_labels(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(render, "render_labels", render_labels)
    return calls


def test_a_document_claimed_by_a_task_is_left_to_it_but_for_its_own_retry(merchant, bluedart, monkeypatch):
    document = _queued_label(merchant)
    calls = _database_gone_once(monkeypatch)

    with pytest.raises(OperationalError):
        document_render(document_id=document.pk, claim="task-1")
    other = document_render(document_id=document.pk, claim="task-2")  # another delivery meanwhile

    assert (other.status, other.claimed_by, len(calls)) == ("rendering", "task-1", 1)
    retried = document_render(document_id=document.pk, claim="task-1")
    assert (retried.status, retried.page_count, len(calls)) == ("done", 1, 2)


def test_job_tasks_retry_database_errors_with_backoff_and_pass_their_id_as_the_claim():
    from orders.tasks import import_run
    from shipping.tasks import ship_batch_run

    for task in (document_render_task, ship_batch_run, import_run):
        assert (task.autoretry_for, task.retry_backoff, task.max_retries) == (DATABASE_ERRORS, True, 10), task.name
    # eager Celery runs a retry by raising it to the caller: the worker's retry is drilled in tests/faults


def test_an_import_running_elsewhere_is_left_to_it_but_for_its_own_retry_or_a_lost_worker(merchant, shop, settings):
    job = import_create(merchant=merchant, kind="orders", upload=SimpleUploadedFile("orders.csv", csv_bytes(
        ORDERS_HEADER, ORDER_ROWS)), file_name="orders.csv", dry_run=False, error_policy="reject_file",
        actor="test")  # fmt: skip
    BulkImport.objects.filter(pk=job.pk).update(status="validating", claimed_by="task-1", heartbeat_at=timezone.now())

    other = import_run(job_id=job.pk, claim="task-2")  # a second delivery while task-1 beats

    assert (other.status, other.claimed_by, Order.objects.count()) == ("validating", "task-1", 0)
    retried = import_run(job_id=job.pk, claim="task-1")  # task-1's own retry after a database error
    assert (retried.status, retried.created_count, Order.objects.count()) == ("done", 2, 2)

    lost = timezone.now() - settings.IMPORT_CLAIM_STALE_AFTER - timedelta(seconds=1)
    again = import_create(merchant=merchant, kind="orders", upload=SimpleUploadedFile("again.csv", csv_bytes(
        ORDERS_HEADER, ORDER_ROWS)), file_name="again.csv", dry_run=False, error_policy="reject_file",
        actor="test")  # fmt: skip
    BulkImport.objects.filter(pk=again.pk).update(status="validating", claimed_by="task-3", heartbeat_at=lost)
    taken = import_run(job_id=again.pk, claim="task-4")  # task-3's worker stopped beating: lost
    assert (taken.status, taken.claimed_by, taken.skipped_count, Order.objects.count()) == ("done", "task-4", 3, 2)


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_accepts_and_never_answers_costs_a_send_its_read_timeout(api, shop, dead_broker, hung_server,
                                                                               monkeypatch, caplog):  # fmt: skip
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://{hung_server}/0")
    options = app.conf.broker_transport_options
    app.conf.broker_transport_options = {**options, "socket_timeout": 1}  # not the 5 s of production
    use_broker(f"redis://{hung_server}/0", eager=False)
    try:
        with caplog.at_level(logging.WARNING, logger="shopops.dispatch"):
            response = _import(api)
    finally:
        app.conf.broker_transport_options = options

    assert (response.status_code, response.json()["status"]) == (202, "queued")
    assert dispatch.STATS == {"failed": 1, "skipped": 0}
    assert "(Timeout reading from socket)" in caplog.records[0].getMessage()


@pytest.mark.django_db(transaction=True)
def test_a_send_inside_a_transaction_is_refused_before_it_reaches_the_broker(dead_broker):
    with pytest.raises(TransactionOpen, match="send shopops.tasks.jobs_requeue"), transaction.atomic():
        dispatch.send("shopops.tasks.jobs_requeue")

    assert dispatch.STATS == {"failed": 0, "skipped": 0}  # not even tried
