"""What the shipping services put in the webhook outbox: shipment.awb_assigned, shipment.status_changed,
shipment.ndr and document.ready, with compact payloads (the API has the whole objects)."""

from django.urls import reverse

from shipping.models import NDR, Document, Shipment
from shipping.notifications import tracking_url
from shopops.public_urls import public_url
from shopops.webhooks.payloads import iso
from shopops.webhooks.services import outbox_emit

SHIPMENT_TIMES = ("awb_assigned_at", "shipped_at", "delivered_at", "rto_initiated_at", "cancelled_at", "created_at",
                  "updated_at")  # fmt: skip


def shipment_payload(shipment: Shipment) -> dict:
    order = shipment.order
    return {
        "id": shipment.pk, "order": order.pk, "order_number": order.number,
        "channel_order_id": order.channel_order_id, "courier": shipment.courier.code, "awb": shipment.awb,
        "routing_code": shipment.routing_code, "status": shipment.status, "zone": shipment.zone,
        "tracking_url": tracking_url(shipment) if shipment.awb else None,
        "expected_delivery_date": shipment.expected_delivery_date.isoformat() if shipment.expected_delivery_date
        else None, "pickup_date": shipment.pickup_date.isoformat() if shipment.pickup_date else None,
        "cancel_reason": shipment.cancel_reason, **{name: iso(getattr(shipment, name)) for name in SHIPMENT_TIMES},
    }  # fmt: skip


def shipment_emit(shipment: Shipment, event: str, *, previous_status: str = "") -> None:
    """A shipment event in the caller's transaction; shipment.ndr carries the open NDR."""

    def data() -> dict:
        payload = {"shipment": shipment_payload(shipment)}
        if previous_status:
            payload["previous_status"] = previous_status
        if event == "shipment.ndr":
            ndr = NDR.objects.filter(shipment_id=shipment.pk).order_by("-id").first()
            payload["ndr"] = ndr and {
                "id": ndr.pk, "status": ndr.status, "reason": ndr.reason, "attempts": ndr.attempts,
                "first_attempt_at": iso(ndr.first_attempt_at), "last_attempt_at": iso(ndr.last_attempt_at),
            }  # fmt: skip
        return payload

    outbox_emit(merchant_id=shipment.merchant_id, type=event, object_key=f"shipment:{shipment.pk}", data=data)


def document_emit(document: Document) -> None:
    """document.ready: the PDF is rendered and can be downloaded."""

    def data() -> dict:
        path = reverse("document-download", kwargs={"pk": document.pk})
        return {"document": {
            "id": document.pk, "kind": document.kind, "format": document.format, "status": document.status,
            "page_count": document.page_count, "not_created": document.not_created,
            "shipment_ids": sorted(document.shipments.values_list("pk", flat=True)),
            "order_ids": sorted(document.orders.values_list("pk", flat=True)),
            "download_url": public_url(path),
            "finished_at": iso(document.finished_at),
        }}  # fmt: skip

    outbox_emit(merchant_id=document.merchant_id, type="document.ready", object_key=f"document:{document.pk}",
                data=data)  # fmt: skip
