"""Shipping in one call: order to label (create or take the order, confirm, pack, book the courier and the AWB,
then pickup and documents)."""

from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from orders.models import Order, OrderStatus
from orders.services import orders as order_services
from orders.services.create import order_create
from shipping.choices import RECOMMENDED_COURIER, LabelFormat
from shipping.errors import REFUSALS, SHIPMENTS_NOT_READY
from shipping.models import Courier, Document, DocumentKind, DocumentStatus, PickupRequest, Shipment
from shipping.models import ShipmentStatus as S
from shipping.services.documents import document_render, document_request
from shipping.services.manifests import manifest_create
from shipping.services.pickups import pickup_schedule
from shipping.services.shipments import book_finish, book_intent, shipment_create
from shopops.errors import DATABASE_ERRORS, error_of
from shopops.models import Merchant

SHIP_STEPS = ("order_created", "confirmed", "awb_assigned", "pickup_scheduled", "label_generated",
              "invoice_generated", "manifest_generated")  # fmt: skip


@dataclass(frozen=True)
class ShipOptions:
    courier: str = RECOMMENDED_COURIER  # a courier code, or the first by ``sort``
    sort: str | None = None  # a CourierSort; default: the merchant's own order
    request_pickup: bool = True
    pickup_date: date | None = None
    print_label: bool = True
    label_format: str = LabelFormat.LABEL_4X6
    print_invoice: bool = True
    generate_manifest: bool = False

    def as_json(self) -> dict:
        return {**self.__dict__, "pickup_date": self.pickup_date.isoformat() if self.pickup_date else None}

    @classmethod
    def from_json(cls, data: dict) -> "ShipOptions":
        day = data.get("pickup_date")
        return cls(**{**data, "pickup_date": date.fromisoformat(day) if day else None})


@dataclass
class ShipResult:
    order: Order | None = None
    shipment: Shipment | None = None
    pickup: PickupRequest | None = None
    documents: dict[str, Document | None] = field(default_factory=lambda: dict.fromkeys(("label", "invoice",
                                                                                            "manifest")))  # fmt: skip
    steps: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(SHIP_STEPS, False))
    error: dict | None = None  # {step, code, message, details}: the first step that failed


class ShipRefused(Exception):
    """The booking (order, confirmation, courier, AWB) failed at ``step``: nothing of it was kept, but for a
    courier's refusal of the booking itself (``result.steps`` says what was kept)."""

    def __init__(self, step: str, cause: Exception, result: ShipResult):
        super().__init__(str(cause))
        self.step, self.cause, self.result = step, cause, result


def failure(step: str, exc: Exception) -> dict:
    """The ``{step, code, message, details}`` of the step that failed. An exception that is not a refusal is a bug:
    ``error_of`` logs it and records ``internal_error``."""
    if isinstance(exc, ValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return {"step": step, "code": "invalid", "message": " ".join(exc.messages), "details": details}
    if isinstance(exc, REFUSALS):
        return {"step": step, "code": exc.code, "message": exc.message, "details": exc.details}
    return {"step": step, **error_of(exc)}


def ship_courier(merchant: Merchant, options: ShipOptions) -> Courier | None:
    if options.courier in ("", RECOMMENDED_COURIER):
        return None
    courier = Courier.objects.filter(merchant=merchant, code=options.courier).first()
    if courier is None:
        raise ValidationError({"courier": [f"Unknown courier {options.courier!r}."]})
    return courier


def book(*, merchant: Merchant, actor: str, options: ShipOptions, result: ShipResult, order: Order | None = None,
         order_data: dict | None = None, record_errors: bool = False, resume_calls: bool = False) -> None:  # fmt: skip
    """Create (or take) the order, confirm and pack it, make its shipment and record its booking in one
    transaction: a refusal ShopOps decides (stock, serviceability, the courier, an empty AWB pool) keeps nothing
    (no order, no AWB spent) and raises ShipRefused naming the step. Then the courier is asked for the booking,
    with no transaction open: a courier that refuses or does not answer leaves the order confirmed and packed,
    its shipment new and the call recorded as failed (making the same request again asks it again, with the same
    key), and raises ShipRefused at ``awb_assigned``. An order that already has its AWB is taken as booked (a
    re-run does nothing twice).

    Any other exception is a bug and is raised as it is; with ``record_errors`` (a batch, which goes on with its
    next order) it is logged and recorded as ``internal_error`` in a ShipRefused like a refusal. A database error
    is raised as it is in both cases: it is not the order's (the batch's task retries it). ``resume_calls``: a
    booking call left pending by an earlier run is asked again at once (a batch that holds its claim)."""
    step, call = "order_created", None
    try:
        with transaction.atomic():
            courier = ship_courier(merchant, options)
            if order is None:
                order = order_create(merchant=merchant, data=order_data, actor=actor)
                result.steps["order_created"] = True
            step = "confirmed"
            order = Order.objects.select_for_update().get(pk=order.pk)
            if order.status == OrderStatus.NEW:
                order = order_services.order_confirm(order=order, actor=actor)
            if order.status == OrderStatus.CONFIRMED:
                order = order_services.order_pack(order=order, actor=actor)
            live = Shipment.objects.filter(order=order).exclude(status=S.CANCELLED).first()
            if order.status != OrderStatus.PACKED:  # shipped (picked up), delivered, cancelled...: refused
                raise order_services.transition_refused(order, OrderStatus.PACKED)
            result.steps["confirmed"] = True
            step = "awb_assigned"
            if live is None:
                live = shipment_create(order=order, courier=courier, sort=options.sort, actor=actor)
            if not live.awb:
                _, call = book_intent(shipment=live, actor=actor, resume=resume_calls)
    except Exception as exc:
        if isinstance(exc, DATABASE_ERRORS) or not (record_errors or isinstance(exc, REFUSALS)):
            raise  # a database error is not the order's: the batch's task retries
        result.steps.update(dict.fromkeys(("order_created", "confirmed", "awb_assigned"), False))
        result.order = None if order_data is not None else order
        result.error = failure(step, exc)
        raise ShipRefused(step, exc, result) from exc
    result.order = order
    if call is not None:
        try:
            book_finish(call, actor=actor)
        except Exception as exc:  # the order and its shipment stay, waiting for the booking
            if isinstance(exc, DATABASE_ERRORS) or not (record_errors or isinstance(exc, REFUSALS)):
                raise
            result.shipment = Shipment.objects.select_related("courier").get(pk=live.pk)
            result.error = failure(step, exc)
            raise ShipRefused(step, exc, result) from exc
    result.steps["awb_assigned"] = True
    result.shipment = Shipment.objects.select_related("courier").get(pk=live.pk)


def document_now(merchant: Merchant, kind: str, ids: list[int], actor: str, format: str | None = None) -> Document:
    """A PDF rendered now, in this process (the wrapper answers with it)."""
    document = document_request(merchant=merchant, kind=kind, ids=ids, actor=actor, format=format, enqueue=False)
    if document.status != DocumentStatus.DONE:
        document = document_render(document_id=document.pk)
    if document.status != DocumentStatus.DONE:
        raise ValidationError(document.error or "The document could not be rendered.")
    return document


def ship_order(*, merchant: Merchant, actor: str, options: ShipOptions, order: Order | None = None,
               order_data: dict | None = None) -> ShipResult:  # fmt: skip
    """Order to label in one call: create the order (from ``order_data``) or take ``order``, confirm, pack, book
    the courier and get the AWB (all or nothing: ShipRefused), then book the pickup and render the label, the
    invoice and the manifest as asked. A later step that fails is reported in ``error`` and leaves the AWB and the
    steps before it in place; the steps after it are still tried."""
    result = ShipResult()
    book(merchant=merchant, actor=actor, options=options, result=result, order=order, order_data=order_data)
    shipment = result.shipment

    def attempt(step: str, work) -> None:
        try:
            work()
        except REFUSALS as exc:
            if result.error is None:
                result.error = failure(step, exc)
        else:
            result.steps[step] = True

    if options.request_pickup:

        def pickup() -> None:
            if shipment.status == S.AWB_ASSIGNED:
                pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], pickup_date=options.pickup_date,
                                actor=actor)  # fmt: skip
            shipment.refresh_from_db()
            result.pickup = shipment.pickup
            if result.pickup is None:
                raise SHIPMENTS_NOT_READY(f"Shipment {shipment.pk} is {shipment.status}.",
                                          {"status": shipment.status})  # fmt: skip

        attempt("pickup_scheduled", pickup)
    if options.print_label:
        attempt("label_generated", lambda: result.documents.update(
            label=document_now(merchant, DocumentKind.LABEL, [shipment.pk], actor, options.label_format)))  # fmt: skip
    if options.print_invoice:
        attempt("invoice_generated", lambda: result.documents.update(
            invoice=document_now(merchant, DocumentKind.INVOICE, [result.order.pk], actor)))  # fmt: skip
    if options.generate_manifest:

        def manifest() -> None:
            shipment.refresh_from_db()
            manifest_id = shipment.manifest_id or manifest_create(merchant=merchant, shipment_ids=[shipment.pk],
                                                                  actor=actor).pk  # fmt: skip
            result.documents["manifest"] = document_now(merchant, DocumentKind.MANIFEST, [manifest_id], actor)

        attempt("manifest_generated", manifest)
    shipment.refresh_from_db()
    return result
