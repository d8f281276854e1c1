"""The order state machine and edits of existing orders.

Status moves go through the order's state table (``ORDER_STATES``, ``shopops.transitions``): the order row is
locked, the move checked against ``ORDER_TRANSITIONS``, the stock work done through the catalog services, the
status's timestamp set and an ``OrderEvent`` written (with the webhook), in one transaction.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import Location, MovementKind, Product
from catalog.services import StockLine
from orders import outbox
from orders.errors import ORDER_HAS_AWB, ORDER_NOT_EDITABLE, UNMAPPED_LINES
from orders.gst import tax_included, zero_rated_lut
from orders.models import (
    EDITABLE_STATUSES,
    ORDER_STATES,
    PAYMENT_STATES,
    Order,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    order_event,
    record_order_edit,
)
from orders.services.extensions import order_service_extensions
from orders.services.prepare import order_taxes
from orders.validation import clean_address
from shopops.errors import DomainError
from shopops.transitions import transition
from shopops.validation import validate_eway_bill_number

# -- the state machine ----------------------------------------------------------------


def transition_refused(order: Order, to_status: str) -> DomainError:
    return ORDER_STATES.refusal(order, to_status)


def order_transition(order: Order, to_status: str, actor: str, *, work: Callable[[Order], None] | None = None,
                     message: str = "", data: dict | None = None, values: dict | None = None) -> Order:  # fmt: skip
    """Lock the order, check the move, do ``work``, set the status (and ``values``), stamp its time and write the
    event."""
    return transition(ORDER_STATES, order, to_status, actor=actor, work=work, message=message, data=data,
                      values=values)  # fmt: skip


def _stock_lines(order: Order, location_id: int | None = None) -> list[StockLine]:
    location_id = location_id or order.pickup_location_id
    return [StockLine(ln.product_id, location_id, ln.quantity) for ln in order.lines.all() if ln.product_id]


def order_confirm(*, order: Order, actor: str) -> Order:
    """new -> confirmed: reserve every line at the pickup location (409 insufficient_stock names short lines)."""

    def reserve(locked: Order) -> None:
        unmapped = list(locked.lines.filter(product__isnull=True).values_list("sku", flat=True))
        if unmapped:
            raise UNMAPPED_LINES(f"Map these SKUs to products first: {', '.join(unmapped)}.",
                                 {"skus": unmapped})  # fmt: skip
        catalog_services.stock_reserve(merchant=locked.merchant, lines=_stock_lines(locked),
                                       reference=f"order:{locked.number}", actor=actor)  # fmt: skip

    return order_transition(order, OrderStatus.CONFIRMED, actor, work=reserve)


def order_pack(*, order: Order, actor: str) -> Order:
    return order_transition(order, OrderStatus.PACKED, actor)


def order_cancel(*, order: Order, reason: str, actor: str) -> Order:
    """Cancel before shipping; confirmed and packed orders give their reservation back. An order with an AWB
    is booked with a courier: its shipment is cancelled first (409 ``order_has_awb``). An order already invoiced
    gets its credit note in the same transaction (``order_service_extensions.on_cancelled``)."""

    def release(locked: Order) -> None:
        if locked.awb:
            raise ORDER_HAS_AWB(f"Order {locked.number} is booked with {locked.courier} under AWB "
                                f"{locked.awb}; cancel its shipment first.",
                                {"awb": locked.awb, "courier": locked.courier})  # fmt: skip
        if locked.status in (OrderStatus.CONFIRMED, OrderStatus.PACKED):
            catalog_services.stock_release(merchant=locked.merchant, lines=_stock_lines(locked),
                                           reference=f"order:{locked.number}", actor=actor)  # fmt: skip

    with transaction.atomic():
        cancelled = order_transition(order, OrderStatus.CANCELLED, actor, work=release, message=reason,
                                     values={"cancel_reason": reason[:255]})  # fmt: skip
        for step in order_service_extensions.on_cancelled:  # an invoiced order's credit note (shipping)
            step(cancelled, actor)
    return cancelled


def order_mark_shipped(*, order: Order, actor: str, awb: str = "", courier: str = "") -> Order:
    """packed -> shipped at courier pickup: the reserved stock leaves (on_hand and reserved drop)."""

    def ship(locked: Order) -> None:
        catalog_services.stock_ship(merchant=locked.merchant, lines=_stock_lines(locked),
                                    reference=f"order:{locked.number}", actor=actor)  # fmt: skip

    values = {name: value for name, value in (("awb", awb), ("courier", courier)) if value}
    return order_transition(order, OrderStatus.SHIPPED, actor, work=ship, values=values)


def order_set_awb(*, order: Order, awb: str, courier: str, actor: str) -> None:
    """Record the shipment's AWB and courier code on the order (blank both when its shipment is cancelled)."""
    with transaction.atomic():
        order.awb, order.courier, order.updated_at = awb, courier, timezone.now()
        Order.objects.filter(pk=order.pk).update(awb=awb, courier=courier, updated_at=order.updated_at)
        message = f"AWB {awb} with {courier}" if awb else "Shipment cancelled: AWB cleared"
        order_event(order, OrderEventKind.AWB_ASSIGNED if awb else OrderEventKind.AWB_CLEARED, actor, message=message,
                    data={"awb": awb, "courier": courier})  # fmt: skip
        outbox.order_emit(order, changed=["awb", "courier"])


def order_mark_delivered(*, order: Order, actor: str) -> Order:
    return order_transition(order, OrderStatus.DELIVERED, actor)


def order_mark_rto(*, order: Order, actor: str, reason: str = "") -> Order:
    return order_transition(order, OrderStatus.RTO, actor, message=reason)


def order_mark_rto_delivered(*, order: Order, actor: str) -> Order:
    """rto -> rto_delivered: the parcel is back, its goods return to the pickup location's stock."""

    def restock(locked: Order) -> None:
        catalog_services.stock_restock(merchant=locked.merchant, lines=_stock_lines(locked), kind=MovementKind.RTO,
                                       reference=f"order:{locked.number}", actor=actor)  # fmt: skip

    return order_transition(order, OrderStatus.RTO_DELIVERED, actor, work=restock)


# -- edits -----------------------------------------------------------------------------

EDITABLE_FIELDS = ("shipping_address", "billing_address", "notes", "weight_grams", "length_cm", "breadth_cm",
                   "height_cm", "pickup_location", "payment_method", "payment_status", "eway_bill_number")  # fmt: skip
NEW_ONLY_FIELDS = ("pickup_location", "payment_method")


@transaction.atomic
def order_update(*, order: Order, data: dict[str, Any], actor: str) -> Order:
    """Change an order before it ships. The pickup location and payment method only while it is new."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status not in EDITABLE_STATUSES:
        raise ORDER_NOT_EDITABLE(f"Order {locked.number} is {locked.status}; it can no longer be changed.",
                                 {"status": locked.status, "editable_statuses": list(EDITABLE_STATUSES)})  # fmt: skip
    late = [name for name in NEW_ONLY_FIELDS if name in data and locked.status != OrderStatus.NEW]
    if late:
        raise ORDER_NOT_EDITABLE(f"{', '.join(late)} can only change while the order is new.",
                                 {"status": locked.status, "fields": late})  # fmt: skip
    changes = {}
    if "shipping_address" in data:
        changes["shipping_address"] = clean_address(data["shipping_address"], "shipping_address", phone_required=True)
        changes.update(_retaxed(locked, changes["shipping_address"]))
    if "billing_address" in data:
        changes["billing_address"] = clean_address(data["billing_address"], "billing_address", phone_required=False)
    if "pickup_location" in data:
        changes["pickup_location"] = _active_location(locked.merchant_id, str(data["pickup_location"]))
    for name in ("notes", "weight_grams", "length_cm", "breadth_cm", "height_cm", "payment_method", "payment_status",
                 "eway_bill_number"):  # fmt: skip
        if name in data:
            changes[name] = data[name]
    if changes.get("eway_bill_number"):
        try:
            validate_eway_bill_number(changes["eway_bill_number"])
        except ValidationError as exc:
            raise ValidationError({"eway_bill_number": exc.messages}) from exc
    edit = {"message": f"Changed {', '.join(changes)}", "data": {"fields": list(changes)}}
    if "payment_status" in changes:  # a move of the payment status, the other changes with it
        payment_status = changes.pop("payment_status")
        return transition(PAYMENT_STATES, locked, payment_status, actor=actor, values=changes, locked=True, **edit)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*changes, "updated_at"])
    record_order_edit(locked, actor=actor, **edit)
    return locked


def _retaxed(locked: Order, ship_to: dict) -> dict[str, Any]:
    """The order's GST for a new ship-to, when it moves into or out of an export zero-rated under the merchant's LUT
    (its lines' tax rewritten); nothing otherwise: the tax is the same, only its split (CGST + SGST or IGST)
    follows the address."""
    lut = zero_rated_lut(locked.merchant, ship_to)
    if lut == locked.lut_reference:
        return {}
    lines = list(locked.lines.all())
    for line in lines:
        line.tax_amount = Decimal("0.00") if lut else tax_included(line.total, line.tax_rate)
        OrderLine.objects.filter(pk=line.pk).update(tax_amount=line.tax_amount)
    taxes = order_taxes(merchant=locked.merchant, ship_to=ship_to, lines=lines, shipping_charge=locked.shipping_charge,
                        cod_charge=locked.cod_charge)  # fmt: skip
    return {
        "lut_reference": taxes.lut_reference,
        "charges_tax_rate": taxes.charges.rate,
        "shipping_tax": taxes.charges.shipping_tax,
        "cod_tax": taxes.charges.cod_tax,
        "tax_total": taxes.tax_total,
    }


def _active_location(merchant_id: int, ref: str) -> Location:
    """An active location by id (digits) or nickname, as order creation accepts it."""
    locations = Location.objects.filter(merchant_id=merchant_id, is_active=True)
    location = locations.filter(pk=int(ref)).first() if ref.isdigit() else None
    location = location or locations.filter(nickname=ref).first()
    if location is None:
        raise ValidationError({"pickup_location": [f"Unknown pickup location {ref!r}."]})
    return location


@transaction.atomic
def order_map_lines(*, order: Order, mappings: list[dict[str, Any]], actor: str) -> Order:
    """Point unmapped lines (SKUs unknown at creation) at catalog products, while the order is new."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status != OrderStatus.NEW:
        raise ORDER_NOT_EDITABLE(f"Order {locked.number} is {locked.status}; map lines while it is new.",
                                 {"status": locked.status})  # fmt: skip
    lines = {ln.pk: ln for ln in locked.lines.all()}
    products = {p.sku: p for p in Product.objects.filter(merchant_id=locked.merchant_id,
                                                         sku__in=[m["sku"] for m in mappings])}  # fmt: skip
    errors = {}
    for index, mapping in enumerate(mappings):
        if mapping["line_id"] not in lines:
            errors[f"lines.{index}.line_id"] = [f"Order {locked.number} has no line {mapping['line_id']}."]
        if mapping["sku"] not in products:
            errors[f"lines.{index}.sku"] = [f"Unknown SKU {mapping['sku']!r}."]
    if errors:
        raise ValidationError(errors)
    for mapping in mappings:
        line, product = lines[mapping["line_id"]], products[mapping["sku"]]
        OrderLine.objects.filter(pk=line.pk).update(product=product, hsn_code=line.hsn_code or product.hsn_code)
    order_event(
        locked,
        OrderEventKind.LINES_MAPPED,
        actor,
        message=", ".join(f"{lines[m['line_id']].sku} -> {m['sku']}" for m in mappings),
        data={"mappings": mappings},
    )
    outbox.order_emit(locked, changed=["lines"])
    return locked


def order_add_inventory(*, order: Order, lines: list[dict[str, Any]], actor: str) -> Order:
    """Receive stock for an order's short lines, then retry its confirmation.

    ``lines``: [{line_id, quantity, location (id or nickname; the pickup location by default)}].
    """
    merchant = order.merchant
    order_lines = {ln.pk: ln for ln in order.lines.select_related("product")}
    errors = {}
    for index, item in enumerate(lines):
        line = order_lines.get(item["line_id"])
        if line is None:
            errors[f"lines.{index}.line_id"] = [f"Order {order.number} has no line {item['line_id']}."]
        elif line.product is None:
            errors[f"lines.{index}.line_id"] = [f"Line {line.pk} ({line.sku}) is not mapped to a product."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        for item in lines:
            line = order_lines[item["line_id"]]
            location = (catalog_services.location_resolve(merchant=merchant, ref=item["location"])
                        if item.get("location") else order.pickup_location)  # fmt: skip
            catalog_services.stock_adjust(merchant=merchant, product=line.product, location=location, action="add",
                                          quantity=item["quantity"], reason=f"Added for order {order.number}",
                                          actor=actor, reference=f"order:{order.number}")  # fmt: skip
        order_event(order, OrderEventKind.INVENTORY_ADDED, actor, message=f"Stock received for {len(lines)} line(s)",
                    data={"lines": lines})  # fmt: skip
    order.refresh_from_db()
    if order.status == OrderStatus.NEW:
        return order_confirm(order=order, actor=actor)
    return order
