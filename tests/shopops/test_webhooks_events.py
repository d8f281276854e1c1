"""The business services write webhook events into the outbox, in their own transactions: orders, shipments,
documents and imports. One query when no endpoint wants the event, two when one does."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.imports.jobs import import_fail_stuck, import_run
from orders.models import OrderStatus
from orders.services.create import order_create
from orders.services.orders import order_cancel, order_confirm, order_update
from shipping.models import ShipmentStatus
from shipping.services.shipments import shipment_assign_awb
from shopops.errors import DomainError
from shopops.webhooks.models import WebhookDelivery
from tests.orders.factories import make_order, order_data
from tests.shipping.factories import courier_event, make_shipment
from tests.shopops.webhooks import WebhookEndpointFactory
from tests.tenancy import _import_job, _label_document


def _events(endpoint=None) -> list[tuple[str, str]]:
    rows = WebhookDelivery.objects.order_by("id")
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    return list(rows.values_list("event_type", "object_key"))


def _webhook_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "shopops_webhook" in q["sql"]]


def test_without_an_endpoint_an_order_costs_one_query_and_writes_nothing(merchant):
    data = order_data(merchant)

    with CaptureQueriesContext(connection) as captured:
        order_create(merchant=merchant, data=data, actor="system")

    [query] = _webhook_queries(captured)
    assert query.startswith("SELECT") and "shopops_webhookendpoint" in query
    assert WebhookDelivery.objects.count() == 0


def test_an_endpoint_not_subscribed_costs_the_same_one_query(merchant):
    WebhookEndpointFactory(merchant=merchant, events=["shipment.ndr"])
    order = make_order(merchant)

    with CaptureQueriesContext(connection) as captured:
        order_confirm(order=order, actor="system")

    assert len(_webhook_queries(captured)) == 1
    assert WebhookDelivery.objects.count() == 0


def test_order_events_with_their_payloads(merchant, django_capture_on_commit_callbacks):
    endpoint = WebhookEndpointFactory(merchant=merchant, events=["order.created", "order.updated", "order.cancelled"])
    data = order_data(merchant)

    with django_capture_on_commit_callbacks() as callbacks, CaptureQueriesContext(connection) as captured:
        order = order_create(merchant=merchant, data=data, actor="system")
    assert len(_webhook_queries(captured)) == 2  # the endpoints; one INSERT of the deliveries
    assert len(callbacks) == 1  # the worker is asked once the transaction commits
    order = order_confirm(order=order, actor="system")
    order_update(order=order, data={"notes": "Gate 2"}, actor="system")
    order_cancel(order=order, reason="customer asked", actor="system")

    assert _events() == [("order.created", f"order:{order.pk}"), ("order.updated", f"order:{order.pk}"),
                         ("order.updated", f"order:{order.pk}"), ("order.cancelled", f"order:{order.pk}")]  # fmt: skip
    created, confirmed, updated, cancelled = WebhookDelivery.objects.order_by("id")
    payload = created.data["order"]
    assert {k: payload[k] for k in ("id", "number", "channel_order_id", "status", "payment_method", "total",
                                    "currency", "awb")} == {
        "id": order.pk, "number": order.number, "channel_order_id": data["channel_order_id"], "status": "new",
        "payment_method": "prepaid", "total": str(order.total), "currency": "INR", "awb": ""}  # fmt: skip
    assert payload["channel"] == order.channel.channel_id
    assert (confirmed.data["previous_status"], confirmed.data["order"]["status"]) == ("new", "confirmed")
    assert confirmed.data["order"]["confirmed_at"] is not None
    assert updated.data["changed"] == ["notes"]
    assert (cancelled.data["previous_status"], cancelled.data["order"]["cancel_reason"]) == (
        "confirmed", "customer asked")  # fmt: skip
    assert {d.endpoint_id for d in (created, confirmed, updated, cancelled)} == {endpoint.pk}
    assert len({created.event_id, confirmed.event_id}) == 2


def test_a_refused_change_writes_no_event(merchant):
    WebhookEndpointFactory(merchant=merchant, events=["*"])
    order = make_order(merchant, OrderStatus.DELIVERED)
    before = WebhookDelivery.objects.count()

    with pytest.raises(DomainError):
        order_cancel(order=order, reason="late", actor="system")

    assert WebhookDelivery.objects.count() == before


def test_one_event_goes_to_every_subscribed_endpoint_with_one_id(merchant, other_merchant):
    first = WebhookEndpointFactory(merchant=merchant, events=["order.created"])
    second = WebhookEndpointFactory(merchant=merchant, events=["*"])
    WebhookEndpointFactory(merchant=merchant, events=["order.created"], is_enabled=False)
    WebhookEndpointFactory(merchant=other_merchant, events=["*"])

    make_order(merchant)

    rows = list(WebhookDelivery.objects.values_list("endpoint_id", "event_type", "event_id"))
    assert sorted(r[0] for r in rows) == [first.pk, second.pk]
    assert len({r[2] for r in rows}) == 1


def test_shipment_events_in_order_of_one_object(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.OUT_FOR_DELIVERY)
    endpoint = WebhookEndpointFactory(merchant=merchant, events=["shipment.status_changed", "shipment.ndr"])

    courier_event(shipment, "ndr", description="Customer not available")

    key = f"shipment:{shipment.pk}"
    assert _events(endpoint) == [("shipment.status_changed", key), ("shipment.ndr", key)]
    changed, ndr = WebhookDelivery.objects.order_by("id")
    assert (changed.data["previous_status"], changed.data["shipment"]["status"]) == ("out_for_delivery", "ndr")
    assert {k: changed.data["shipment"][k] for k in ("id", "order", "order_number", "courier", "awb")} == {
        "id": shipment.pk, "order": shipment.order_id, "order_number": shipment.order.number, "courier": "bluedart",
        "awb": shipment.awb}  # fmt: skip
    assert f"/track/{shipment.awb}/" in changed.data["shipment"]["tracking_url"]
    assert {k: ndr.data["ndr"][k] for k in ("status", "reason", "attempts")} == {
        "status": "open", "reason": "Customer not available", "attempts": 1}  # fmt: skip


def test_assigning_an_awb_sends_shipment_awb_assigned_and_order_updated(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.NEW)
    WebhookEndpointFactory(merchant=merchant, events=["shipment.awb_assigned", "order.updated"])

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert _events() == [("shipment.awb_assigned", f"shipment:{shipment.pk}"),
                         ("order.updated", f"order:{shipment.order_id}")]  # fmt: skip
    awb, order = WebhookDelivery.objects.order_by("id")
    assert (awb.data["shipment"]["awb"], awb.data["previous_status"]) == (shipment.awb, "new")
    assert (order.data["order"]["awb"], order.data["changed"]) == (shipment.awb, ["awb", "courier"])


def test_a_rendered_document_sends_document_ready(merchant):
    WebhookEndpointFactory(merchant=merchant, events=["document.ready"])

    document = _label_document(merchant)

    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.event_type, delivery.object_key) == ("document.ready", f"document:{document.pk}")
    payload = delivery.data["document"]
    assert {k: payload[k] for k in ("id", "kind", "status", "page_count", "shipment_ids")} == {
        "id": document.pk, "kind": "label", "status": "done", "page_count": 1,
        "shipment_ids": [s.pk for s in document.shipments.all()]}  # fmt: skip
    assert payload["download_url"] == f"http://127.0.0.1:8000/api/v1/documents/{document.pk}/download/"


def test_a_finished_import_sends_import_finished(merchant):
    job = _import_job(merchant)  # its one row has no state: the file is rejected
    WebhookEndpointFactory(merchant=merchant, events=["import.finished"])

    import_run(job_id=job.pk)

    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.event_type, delivery.object_key) == ("import.finished", f"import:{job.pk}")
    payload = delivery.data["import"]
    assert {k: payload[k] for k in ("id", "kind", "status", "created_count", "failed_count", "error")} == {
        "id": job.pk, "kind": "orders", "status": "failed", "created_count": 0, "failed_count": 1,
        "error": "1 row(s) have errors; nothing was imported."}  # fmt: skip
    assert payload["finished_at"] is not None


def test_an_import_failed_for_silence_sends_import_finished(merchant):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import BulkImport

    job = _import_job(merchant)
    BulkImport.objects.filter(pk=job.pk).update(status="importing", heartbeat_at=timezone.now() - timedelta(hours=1))
    WebhookEndpointFactory(merchant=merchant, events=["import.finished"])

    assert import_fail_stuck(older_than=timedelta(minutes=15)) == 1

    [delivery] = WebhookDelivery.objects.all()
    assert delivery.data["import"]["status"] == "failed"
