"""Returns: requested against delivered lines, moved along ``RETURN_TRANSITIONS`` through the return's state table
(``RETURN_STATES``); receiving restocks the goods and moves the order to partially_returned or returned."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from catalog import services as catalog_services
from catalog.models import Location, MovementKind
from catalog.services import StockLine
from orders.errors import ORDER_NOT_RETURNABLE
from orders.models import (
    ORDER_STATES,
    RETURN_STATES,
    Order,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    Return,
    ReturnLine,
    ReturnStatus,
    order_event,
)
from orders.services.extensions import order_service_extensions
from orders.services.orders import order_transition
from shopops.money import round_money
from shopops.services import counter_next
from shopops.transitions import transition

RETURN_NUMBER_PREFIX = "RET-"


@transaction.atomic
def return_create(*, order: Order, lines: list[dict[str, Any]], reason: str, actor: str,
                  location: Location | None = None) -> Return:  # fmt: skip
    """Request a return of delivered lines: at most what was delivered minus what is already being returned."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status not in (OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED):
        raise ORDER_NOT_RETURNABLE(f"Order {locked.number} is {locked.status}; only delivered orders "
                                   "can be returned.", {"status": locked.status})  # fmt: skip
    order_lines = {ln.pk: ln for ln in locked.lines.select_for_update()}
    wanted: dict[int, int] = {}
    errors = {}
    for index, item in enumerate(lines):
        line = order_lines.get(item["line_id"])
        if line is None:
            errors[f"lines.{index}.line_id"] = [f"Order {locked.number} has no line {item['line_id']}."]
            continue
        wanted[line.pk] = wanted.get(line.pk, 0) + item["quantity"]
        returnable = line.quantity - line.returned_quantity
        if wanted[line.pk] > returnable:
            errors[f"lines.{index}.quantity"] = [f"At most {returnable} of {line.sku} can be returned."]
    if errors:
        raise ValidationError(errors)
    number = f"{RETURN_NUMBER_PREFIX}{counter_next(merchant=locked.merchant, name='return'):06d}"
    refund = sum((order_lines[pk].total / order_lines[pk].quantity * qty for pk, qty in wanted.items()), Decimal(0))
    return_request = Return.objects.create(merchant_id=locked.merchant_id, order=locked, number=number,
                                           reason=reason[:255], location=location or locked.pickup_location,
                                           refund_amount=round_money(refund))  # fmt: skip
    ReturnLine.objects.bulk_create([
        ReturnLine(merchant_id=locked.merchant_id, return_request=return_request, order_line_id=pk, quantity=qty)
        for pk, qty in wanted.items()
    ])  # fmt: skip
    for pk, qty in wanted.items():
        OrderLine.objects.filter(pk=pk).update(returned_quantity=F("returned_quantity") + qty)
    order_event(
        locked,
        OrderEventKind.RETURN_REQUESTED,
        actor,
        message=f"Return {number}: {reason}",
        data={"return": number, "lines": [{"line_id": pk, "quantity": q} for pk, q in wanted.items()]},
    )
    return return_request


def return_transition(*, return_request: Return, to_status: str, actor: str) -> Return:
    """Move a return along RETURN_TRANSITIONS. Rejecting gives the lines' quantities back to what may be returned;
    receiving restocks, updates the order's status and, for an invoiced order, issues the credit note of the
    returned quantities (``order_service_extensions.on_return_received``)."""

    def work(locked: Return) -> None:
        if to_status == ReturnStatus.REJECTED:
            for rl in locked.lines.all():
                OrderLine.objects.filter(pk=rl.order_line_id).update(
                    returned_quantity=F("returned_quantity") - rl.quantity
                )
        if to_status == ReturnStatus.RECEIVED:
            _receive(locked, actor)
            for step in order_service_extensions.on_return_received:  # the invoice's credit note (shipping)
                step(locked, actor)

    with transaction.atomic():
        locked = Return.objects.select_for_update().select_related("order").get(pk=return_request.pk)
        return transition(RETURN_STATES, locked, to_status, actor=actor, work=work, locked=True)


def _receive(return_request: Return, actor: str) -> None:
    lines = list(return_request.lines.select_related("order_line"))
    stock = [StockLine(rl.order_line.product_id, return_request.location_id, rl.quantity)
             for rl in lines if rl.order_line.product_id]  # fmt: skip
    if stock:
        catalog_services.stock_restock(merchant=return_request.order.merchant, lines=stock, kind=MovementKind.RETURN,
                                       reference=f"return:{return_request.number}", actor=actor)  # fmt: skip
    order = Order.objects.select_for_update().get(pk=return_request.order_id)
    received = {}
    for rl in (
        ReturnLine.objects.filter(return_request__order=order)
        .filter(return_request__status__in=[ReturnStatus.RECEIVED, ReturnStatus.REFUNDED, ReturnStatus.CLOSED])
        .exclude(return_request__received_at__isnull=True)
    ):
        received[rl.order_line_id] = received.get(rl.order_line_id, 0) + rl.quantity
    for rl in lines:
        received[rl.order_line_id] = received.get(rl.order_line_id, 0) + rl.quantity
    fully = all(received.get(ln.pk, 0) >= ln.quantity for ln in order.lines.all())
    to_status = OrderStatus.RETURNED if fully else OrderStatus.PARTIALLY_RETURNED
    if ORDER_STATES.allows(order.status, to_status):
        order_transition(order, to_status, actor, message=f"Return {return_request.number} received")
