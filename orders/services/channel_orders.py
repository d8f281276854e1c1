"""A channel's order taken in: created through the one order writer, or, when ShopOps has it already, updated with
what may still change.

The same order may arrive several times and by several roads (its webhook, Shopify's retry of it, a pull that
overlaps): it is one order, found by (channel, channel order id). A new order is created with its lines' channel
SKUs mapped to the merchant's products (``SkuMapping``; a SKU that is a catalog SKU needs no mapping): an unmapped
SKU gives an order whose line waits to be mapped (``map-lines``), never a dropped line. An order the channel will
not have shipped (cancelled before it reached ShopOps, awaiting payment, fulfilled by the marketplace) is not taken
in.

An order ShopOps has already takes the channel's changes while they can still apply, each recorded on its timeline
(``channel_update``): the shipping address until the order is packed, the payment status, a cancellation until the
order ships. A change that comes too late (a cancellation of a shipped order, a new address for a packed parcel)
is not applied: it is recorded (``channel_conflict``) for the merchant to act on.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.models import Location
from orders.channels.base import ChannelOrder
from orders.errors import DUPLICATE_ORDER
from orders.models import (
    Channel,
    Order,
    OrderEventKind,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    SkuMapping,
    order_event,
)
from orders.services.create import order_create
from orders.services.orders import order_cancel, order_update
from orders.validation import clean_address, order_input
from shopops.errors import DomainError

#: Statuses in which the shipping address may still change (the parcel is not packed yet).
ADDRESS_STATUSES = (OrderStatus.NEW, OrderStatus.CONFIRMED)
#: Statuses in which a channel's cancellation still applies (the parcel has not left).
CANCELLABLE_STATUSES = (OrderStatus.NEW, OrderStatus.CONFIRMED, OrderStatus.PACKED)


@dataclass(frozen=True)
class Applied:
    """What taking a channel's order in did: ``outcome`` is created, updated, unchanged, ignored or conflict."""

    outcome: str
    message: str
    order: Order | None = None


def channel_actor(channel: Channel) -> str:
    return f"channel:{channel.channel_id}"


def channel_order_apply(*, channel: Channel, incoming: ChannelOrder) -> Applied:
    """Take ``incoming`` in for ``channel``. ValidationError (field path -> messages) when a new order cannot be
    written: nothing is written then."""
    existing = Order.objects.filter(channel=channel, channel_order_id=incoming.external_id).first()
    if existing is None:
        if incoming.cancelled:
            return Applied("ignored", f"Cancelled on {channel.name} before it reached ShopOps.")
        if not incoming.shippable:
            status = f" ({incoming.channel_status})" if incoming.channel_status else ""
            return Applied("ignored", f"Not for ShopOps to ship{status}.")
        try:
            order = order_create(merchant=channel.merchant, data=_order_data(channel, incoming),
                                 actor=channel_actor(channel))  # fmt: skip
        except DomainError as exc:
            if exc.code != DUPLICATE_ORDER.code:  # taken in meanwhile by another road: an update of it
                raise
            existing = Order.objects.get(channel=channel, channel_order_id=incoming.external_id)
        else:
            return Applied("created", f"Created order {order.number}.", order)
    return _update(channel, existing, incoming)


def _order_data(channel: Channel, incoming: ChannelOrder) -> dict[str, Any]:
    """The order input of a new order: checked with the fields' rules, SKUs mapped, the channel's pickup location
    and payment mapping applied."""
    data = dict(incoming.data)
    merchant = channel.merchant
    currency = (data.get("currency") or merchant.default_currency).upper()
    if currency != merchant.default_currency:
        raise ValidationError({"currency": [f"The order is in {currency}; {merchant.name} sells in "
                                            f"{merchant.default_currency}."]})  # fmt: skip
    method = payment_method(channel, incoming)
    if method:
        data["payment_method"] = method
        if method == PaymentMethod.COD:
            data["payment_status"] = PaymentStatus.PENDING
    checked = order_input(data)
    checked["channel"] = channel.channel_id
    checked["channel_order_id"] = incoming.external_id
    if channel.pickup_location_id and _active(channel.pickup_location_id):
        checked["pickup_location"] = str(channel.pickup_location_id)
    mapped = dict(SkuMapping.objects.filter(channel=channel, channel_sku__in={ln["sku"] for ln in checked["lines"]})
                  .values_list("channel_sku", "product__sku"))  # fmt: skip
    checked["lines"] = [{**line, "sku": mapped.get(line["sku"], line["sku"])} for line in checked["lines"]]
    return checked


def _active(location_id: int) -> bool:
    return Location.objects.filter(pk=location_id, is_active=True).exists()


def payment_method(channel: Channel, incoming: ChannelOrder) -> str:
    """What the channel's payment mapping says of the order's payment names (compared without case), or ""."""
    mapping = {str(name).strip().lower(): value for name, value in (channel.payment_mapping or {}).items()}
    for name in incoming.payment_names:
        if (value := mapping.get(str(name).strip().lower())) in PaymentMethod.values:
            return value
    return ""


def _update(channel: Channel, order: Order, incoming: ChannelOrder) -> Applied:
    actor = channel_actor(channel)
    if incoming.cancelled:
        if order.status == OrderStatus.CANCELLED:
            return Applied("unchanged", f"Order {order.number} is cancelled already.", order)
        reason = f"Cancelled on {channel.name}" + (f": {incoming.cancel_reason}" if incoming.cancel_reason else "")
        if order.status in CANCELLABLE_STATUSES:
            order = order_cancel(order=order, reason=reason[:200], actor=actor)
            return Applied("updated", f"Cancelled order {order.number}.", order)
        return _conflict(order, actor, f"{reason}, but the order is {order.status}: not cancelled in ShopOps; "
                                       "stop or recall the parcel with the courier.",
                         {"cancelled": True, "cancel_reason": incoming.cancel_reason})  # fmt: skip
    changes: dict[str, Any] = {}
    conflicts = []
    shipping = incoming.data.get("shipping_address")
    if shipping and _address_changed(order, shipping):
        if order.status in ADDRESS_STATUSES:
            changes["shipping_address"] = shipping
        elif order.status not in (OrderStatus.CANCELLED,):
            conflicts.append(f"a new shipping address, but the order is {order.status}")
    status = incoming.data.get("payment_status")
    if status in PaymentStatus.values and status != order.payment_status and order.status != OrderStatus.CANCELLED:
        if order.status in (OrderStatus.NEW, OrderStatus.CONFIRMED, OrderStatus.PACKED):
            changes["payment_status"] = status
        else:
            conflicts.append(f"payment {status}, but the order is {order.status}")
    if changes:
        with transaction.atomic():
            order = order_update(order=order, data=changes, actor=actor)
            named = ", ".join(name.replace("_", " ") for name in changes)
            order_event(order, OrderEventKind.CHANNEL_UPDATE, actor, message=f"{channel.name} changed {named}.",
                        data={"fields": list(changes)})  # fmt: skip
    if conflicts:
        return _conflict(order, actor, f"{channel.name} sent {'; '.join(conflicts)}: not applied.",
                         {"conflicts": conflicts})  # fmt: skip
    if changes:
        return Applied("updated", f"Updated order {order.number}: {', '.join(changes)}.", order)
    return Applied("unchanged", f"Order {order.number} has nothing new.", order)


def _address_changed(order: Order, shipping: dict) -> bool:
    try:
        cleaned = clean_address(shipping, "shipping_address", phone_required=False)
    except ValidationError:
        return False  # an address the order could not take is no change to apply
    keys = ("name", "line1", "line2", "city", "state", "postcode", "country")
    return any((cleaned.get(key) or "") != (order.shipping_address.get(key) or "") for key in keys)


def _conflict(order: Order, actor: str, message: str, data: dict) -> Applied:
    order_event(order, OrderEventKind.CHANNEL_CONFLICT, actor, message=message, data=data)
    return Applied("conflict", message, order)
