"""Every write of orders: creation, the state machine, line mapping, returns.

Transitions lock the order row (``select_for_update``), check the move
against ``ORDER_TRANSITIONS``, do their stock work through the catalog
services and write an ``OrderEvent`` in the same transaction.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import Location, MovementKind, Product
from catalog.services import StockLine
from orders import outbox
from orders.models import (
    EDITABLE_STATUSES,
    ORDER_TRANSITIONS,
    RETURN_TRANSITIONS,
    Channel,
    ChannelKind,
    Customer,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    Return,
    ReturnLine,
    ReturnStatus,
)
from shopops.api.exceptions import Conflict
from shopops.models import Merchant
from shopops.services import counter_next
from shopops.validation import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, normalize_address, normalize_phone

CENT = Decimal("0.01")
MONEY_MAX = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES) - CENT
ORDER_NUMBER_PREFIX = "SO-"
RETURN_NUMBER_PREFIX = "RET-"


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# -- channels ------------------------------------------------------------------------


def channel_create(*, merchant: Merchant, name: str, kind: str = ChannelKind.CUSTOM, is_active: bool = True,
                   is_default_api: bool = False) -> Channel:  # fmt: skip
    channel = Channel(merchant=merchant, name=name, kind=kind, is_active=is_active, channel_id=_new_channel_id())
    channel.full_clean(exclude=["channel_id"], validate_constraints=False)
    if Channel.objects.filter(merchant=merchant, name=name).exists():
        raise Conflict("duplicate_channel", f"A channel named {name!r} already exists.", {"name": name})
    with transaction.atomic():
        if is_default_api:
            Channel.objects.filter(merchant=merchant, is_default_api=True).update(is_default_api=False)
            channel.is_default_api = True
        channel.save()
    return channel


def channel_update(*, channel: Channel, data: dict[str, Any]) -> Channel:
    for name in ("name", "kind", "is_active"):
        if name in data:
            setattr(channel, name, data[name])
    channel.full_clean(validate_constraints=False, validate_unique=False)
    if Channel.objects.filter(merchant_id=channel.merchant_id, name=channel.name).exclude(pk=channel.pk).exists():
        raise Conflict("duplicate_channel", f"A channel named {channel.name!r} already exists.", {"name": channel.name})
    channel.save()
    return channel


def _new_channel_id() -> str:
    return f"ch_{secrets.token_hex(8)}"


def default_api_channel(merchant: Merchant) -> Channel:
    """The channel of API orders that name none; created on first use."""
    channel = Channel.objects.filter(merchant=merchant, is_default_api=True).first()
    if channel is not None:
        return channel
    try:
        with transaction.atomic():
            return Channel.objects.create(merchant=merchant, name="API", kind=ChannelKind.API, is_default_api=True,
                                          channel_id=_new_channel_id())  # fmt: skip
    except IntegrityError:  # created concurrently
        return Channel.objects.get(merchant=merchant, is_default_api=True)


# -- validation shared by the API and the file import ---------------------------------


@dataclass
class PreparedLine:
    product_id: int | None
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    hsn_code: str
    total: Decimal


@dataclass
class PreparedOrder:
    channel: Channel
    channel_order_id: str
    customer: dict[str, str]
    shipping_address: dict[str, str]
    billing_address: dict[str, str]
    payment_method: str
    payment_status: str
    lines: list[PreparedLine]
    subtotal: Decimal
    discount_total: Decimal
    shipping_charge: Decimal
    tax_total: Decimal
    total: Decimal
    currency: str
    weight_grams: int
    length_cm: Decimal
    breadth_cm: Decimal
    height_cm: Decimal
    pickup_location: Location
    ordered_at: datetime
    notes: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class Catalog:
    """Lookups an order needs, loaded once per request or import chunk."""

    merchant: Merchant
    products: dict[str, Product] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    unknown_skus: set[str] = field(default_factory=set)
    _default_channel: Channel | None = None
    _by_id: dict[int, Product] = field(default_factory=dict)
    #: Results of the pure steps of order_prepare (addresses, lines) by their whole input: a bulk request or
    #: an import meets the same addresses and lines again and again. Bounded; see ``remember``.
    _memo: dict = field(default_factory=dict, repr=False)
    MEMO_MAX = 50_000  # not annotated: a class constant, not a field

    def remember(self, key, value) -> None:
        if len(self._memo) >= self.MEMO_MAX:
            self._memo.clear()
        self._memo[key] = value

    def product_by_id(self, pk: int) -> Product:
        if len(self._by_id) != len(self.products):
            self._by_id = {p.pk: p for p in self.products.values()}
        return self._by_id[pk]

    def default_channel(self) -> Channel:
        if self._default_channel is None:
            self._default_channel = default_api_channel(self.merchant)
        return self._default_channel

    @classmethod
    def for_orders(cls, merchant: Merchant, orders: list[dict[str, Any]]) -> "Catalog":
        skus = {line.get("sku") for order in orders for line in order.get("lines", [])}
        products = Product.objects.filter(merchant=merchant, sku__in=skus, status="active")
        locations = Location.objects.filter(merchant=merchant, is_active=True)
        channels = Channel.objects.filter(merchant=merchant)
        catalog = cls(merchant, products={p.sku: p for p in products})
        for location in locations:
            catalog.locations[location.nickname] = catalog.locations[str(location.pk)] = location
            if location.is_default:
                catalog.locations[""] = location
        for channel in channels:
            catalog.channels[channel.name] = catalog.channels[str(channel.pk)] = channel
        for channel in channels:  # a channel_id wins over another channel's name
            catalog.channels[channel.channel_id] = channel
        return catalog


def _address(data: dict[str, Any] | None, field_name: str, *, phone_required: bool,
             catalog: Catalog | None = None) -> dict[str, str]:  # fmt: skip
    """The address normalised (state, postcode, E.164 phone), or ValidationError keyed ``field_name.key``.

    With a ``catalog``, a valid address seen before is answered from its memo (a copy of the dict).
    """
    key = None
    if catalog is not None and data:
        key = ("address", field_name, phone_required, *data.items())
        try:
            known = catalog._memo.get(key)
        except TypeError:  # an unhashable value: not remembered
            key = known = None
        if known is not None:
            return dict(known)
    errors: dict[str, list[str]] = {}
    data = data or {}
    if not (data.get("name") or "").strip():
        errors[f"{field_name}.name"] = ["This field is required."]
    try:
        address = normalize_address(country=data.get("country") or "IN", state=data.get("state", ""),
                                     city=data.get("city", ""), postcode=data.get("postcode", ""),
                                     line1=data.get("line1", ""), line2=data.get("line2", ""))  # fmt: skip
    except ValidationError as exc:
        errors.update({f"{field_name}.{key}": value for key, value in exc.message_dict.items()})
        address = {}
    phone = (data.get("phone") or "").strip()
    if phone:
        try:
            phone = normalize_phone(phone, (data.get("country") or "IN").upper())
        except ValidationError as exc:
            errors[f"{field_name}.phone"] = exc.messages
    elif phone_required:
        errors[f"{field_name}.phone"] = ["This field is required."]
    if errors:
        raise ValidationError(errors)
    result = {"name": data["name"].strip(), "phone": phone, **address}
    if key is not None:
        catalog.remember(key, result)
        return dict(result)
    return result


def _line(data: dict[str, Any], index: int, catalog: Catalog) -> PreparedLine:
    """The line priced and taxed; a valid line seen before comes from the catalog's memo (lines are not changed
    after preparation, so orders may share one)."""
    product = catalog.products.get(data["sku"])
    try:
        key = ("line", product.pk if product else None, *data.items())
        known = catalog._memo.get(key)
    except TypeError:  # an unhashable value: not remembered
        key = known = None
    if known is not None:
        return known
    name = data.get("name") or (product.title if product else "")
    if not name:
        raise ValidationError({f"lines.{index}.name": ["Required for a SKU that is not in the catalog."]})
    tax_rate = data.get("tax_rate")
    if tax_rate is None:
        tax_rate = product.tax_rate if product else Decimal("0")
    quantity, unit_price, discount = data["quantity"], data["unit_price"], data.get("discount") or Decimal("0")
    if quantity * unit_price > MONEY_MAX:
        raise ValidationError({f"lines.{index}.quantity": [f"quantity x unit_price must not exceed {MONEY_MAX}."]})
    total = _money(quantity * unit_price - discount)
    if total < 0:
        raise ValidationError({f"lines.{index}.discount": ["Must not exceed quantity x unit_price."]})
    tax_amount = _money(total - total / (1 + tax_rate / 100))
    line = PreparedLine(
        product_id=product.pk if product else None, sku=data["sku"], name=name, quantity=quantity,
        unit_price=unit_price, discount=discount, tax_rate=tax_rate, tax_amount=tax_amount,
        hsn_code=data.get("hsn_code") or (product.hsn_code if product else ""), total=total,
    )  # fmt: skip
    if key is not None:
        catalog.remember(key, line)
    return line


def order_prepare(*, merchant: Merchant, data: dict[str, Any], catalog: Catalog | None = None) -> PreparedOrder:
    """Validate and compute an order from type-checked input (see orders.api.serializers.OrderInput).

    Raises ValidationError keyed by field path (``shipping_address.postcode``,
    ``lines.0.name``, ``total``) so the API and the import report the same errors.
    """
    catalog = catalog or Catalog.for_orders(merchant, [data])
    errors: dict[str, list[str]] = {}

    channel_ref = str(data.get("channel") or "")
    channel = catalog.channels.get(channel_ref) if channel_ref else catalog.default_channel()
    if channel is None:
        errors["channel"] = [f"Unknown channel {channel_ref!r}."]
    elif not channel.is_active:
        errors["channel"] = [f"The channel {channel.name!r} is inactive."]

    location_ref = str(data.get("pickup_location") or "")
    location = catalog.locations.get(location_ref)
    if location is None:
        errors["pickup_location"] = [
            f"Unknown pickup location {location_ref!r}." if location_ref else "The merchant has no default location."
        ]

    shipping = billing = None
    try:
        shipping = _address(data.get("shipping_address"), "shipping_address", phone_required=True, catalog=catalog)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        billing = _address(data["billing_address"], "billing_address", phone_required=False,
                           catalog=catalog) if data.get("billing_address") else shipping  # fmt: skip
    except ValidationError as exc:
        errors.update(exc.message_dict)

    customer = dict(data.get("customer") or {})
    customer.setdefault("name", (data.get("shipping_address") or {}).get("name", ""))
    customer_phone = (customer.get("phone") or "").strip()
    if customer_phone:
        try:
            customer["phone"] = normalize_phone(customer_phone, (shipping or {}).get("country", "IN") or "IN")
        except ValidationError as exc:
            errors["customer.phone"] = exc.messages
    elif shipping:
        customer["phone"] = shipping["phone"]
    customer["email"] = (customer.get("email") or "").strip().lower()

    lines = []
    for index, line in enumerate(data.get("lines") or []):
        try:
            lines.append(_line(line, index, catalog))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not data.get("lines"):
        errors["lines"] = ["An order needs at least one line."]
    if errors:
        raise ValidationError(errors)

    subtotal = sum((ln.quantity * ln.unit_price for ln in lines), Decimal("0"))
    discount_total = sum((ln.discount for ln in lines), Decimal("0"))
    shipping_charge = data.get("shipping_charge") or Decimal("0")
    total = _money(subtotal - discount_total + shipping_charge)
    for name, amount in (("subtotal", subtotal), ("total", total)):
        if amount > MONEY_MAX:
            raise ValidationError({name: [f"The order {name} {_money(amount)} exceeds the maximum of {MONEY_MAX}."]})
    if data.get("total") is not None and data["total"] != total:
        raise ValidationError(
            {
                "total": [
                    f"Does not match the computed total {total} "
                    "(lines' quantity x unit_price - discount, plus shipping_charge)."
                ]
            }
        )

    weight, length, breadth, height = _parcel(data, lines, catalog)
    currency = data.get("currency") or merchant.default_currency
    return PreparedOrder(
        channel=channel, channel_order_id=str(data.get("channel_order_id") or ""), customer=customer,
        shipping_address=shipping, billing_address=billing, payment_method=data["payment_method"],
        payment_status=data.get("payment_status") or (
            PaymentStatus.PAID if data["payment_method"] == PaymentMethod.PREPAID else PaymentStatus.PENDING),
        lines=lines, subtotal=_money(subtotal), discount_total=_money(discount_total),
        shipping_charge=_money(shipping_charge), tax_total=sum((ln.tax_amount for ln in lines), Decimal("0")),
        total=total, currency=currency, weight_grams=weight, length_cm=length, breadth_cm=breadth, height_cm=height,
        pickup_location=location, ordered_at=data.get("ordered_at") or timezone.now(), notes=data.get("notes", ""),
    )  # fmt: skip


def _parcel(data: dict[str, Any], lines: list[PreparedLine], catalog: Catalog):
    """Weight and dimensions as given, else from the products: weights summed, items stacked."""
    known = [(catalog.product_by_id(ln.product_id), ln.quantity) for ln in lines if ln.product_id]
    weight = data.get("weight_grams") or sum(p.weight_grams * qty for p, qty in known)
    length = data.get("length_cm") or max((p.length_cm for p, _ in known), default=Decimal("0"))
    breadth = data.get("breadth_cm") or max((p.breadth_cm for p, _ in known), default=Decimal("0"))
    height = data.get("height_cm") or sum((p.height_cm * qty for p, qty in known), Decimal("0"))
    return weight, length, breadth, height


# -- creation ------------------------------------------------------------------------


def _duplicate(channel: Channel, channel_order_id: str) -> Conflict | None:
    existing = Order.objects.filter(channel=channel, channel_order_id=channel_order_id).values(
        "pk", "number", "status").first()  # fmt: skip
    if existing is None:
        return None
    return Conflict(
        "duplicate_order",
        f"Channel order {channel_order_id!r} is already order {existing['number']} ({existing['status']}).",
        {"existing_order": existing["pk"], "number": existing["number"], "status": existing["status"],
         "channel": channel.channel_id, "channel_order_id": channel_order_id},
    )  # fmt: skip


def _customer_for(merchant: Merchant, contact: dict[str, str], total: Decimal, ordered_at: datetime):
    """Match by phone, else email; create if new. Returns (customer, returning)."""
    customer = None
    if contact.get("phone"):
        customer = Customer.objects.select_for_update().filter(merchant=merchant, phone=contact["phone"]).first()
    if customer is None and contact.get("email"):
        customer = Customer.objects.select_for_update().filter(merchant=merchant, email=contact["email"]).first()
    if customer is None:
        try:
            with transaction.atomic():
                customer = Customer.objects.create(
                    merchant=merchant,
                    name=contact.get("name") or "",
                    phone=contact.get("phone", ""),
                    email=contact.get("email", ""),
                )
        except IntegrityError:  # the same new customer ordered twice at once
            customer = Customer.objects.select_for_update().get(merchant=merchant, phone=contact.get("phone", ""))
    returning = customer.orders_count > 0
    Customer.objects.filter(pk=customer.pk).update(
        orders_count=F("orders_count") + 1,
        total_spent=F("total_spent") + total,
        first_order_at=Case(When(first_order_at__isnull=True, then=Value(ordered_at)),
                            default=Least("first_order_at", Value(ordered_at))),
        last_order_at=Case(When(last_order_at__isnull=True, then=Value(ordered_at)),
                           default=Greatest("last_order_at", Value(ordered_at))),
    )  # fmt: skip
    return customer, returning


def order_create(*, merchant: Merchant, data: dict[str, Any], actor: str, catalog: Catalog | None = None) -> Order:
    prepared = order_prepare(merchant=merchant, data=data, catalog=catalog)
    return order_create_prepared(merchant=merchant, prepared=prepared, actor=actor)


@transaction.atomic
def order_create_prepared(*, merchant: Merchant, prepared: PreparedOrder, actor: str) -> Order:
    channel_order_id = prepared.channel_order_id
    if channel_order_id and (conflict := _duplicate(prepared.channel, channel_order_id)):
        raise conflict
    number = f"{ORDER_NUMBER_PREFIX}{counter_next(merchant=merchant, name='order'):06d}"
    customer, returning = _customer_for(merchant, prepared.customer, prepared.total, prepared.ordered_at)
    order = Order(
        merchant=merchant, number=number, channel=prepared.channel, channel_order_id=channel_order_id or number,
        customer=customer, is_returning_customer=returning, shipping_address=prepared.shipping_address,
        billing_address=prepared.billing_address, payment_method=prepared.payment_method,
        payment_status=prepared.payment_status, subtotal=prepared.subtotal, discount_total=prepared.discount_total,
        shipping_charge=prepared.shipping_charge, tax_total=prepared.tax_total, total=prepared.total,
        currency=prepared.currency, weight_grams=prepared.weight_grams, length_cm=prepared.length_cm,
        breadth_cm=prepared.breadth_cm, height_cm=prepared.height_cm, pickup_location=prepared.pickup_location,
        ordered_at=prepared.ordered_at, notes=prepared.notes,
    )  # fmt: skip
    try:
        with transaction.atomic():
            order.save()
    except IntegrityError as exc:  # a concurrent create with the same channel order id won
        if conflict := _duplicate(prepared.channel, order.channel_order_id):
            raise conflict from exc
        raise
    OrderLine.objects.bulk_create([OrderLine(merchant=merchant, order=order, **ln.__dict__) for ln in prepared.lines])
    unmapped = [ln.sku for ln in prepared.lines if ln.product_id is None]
    _event(order, "created", actor, to_status=OrderStatus.NEW,
           message=f"Created from {prepared.channel.name}" + (f"; unmapped SKUs: {', '.join(unmapped)}" if unmapped
                                                             else ""),
           data={"returning_customer": returning, "unmapped_skus": unmapped})  # fmt: skip
    outbox.order_emit(order, created=True)
    return order


def _event(order: Order, kind: str, actor: str, *, from_status: str = "", to_status: str = "", message: str = "",
           data: dict | None = None) -> OrderEvent:  # fmt: skip
    return OrderEvent.objects.create(
        merchant_id=order.merchant_id,
        order=order,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        message=message[:500],
        data=data or {},
    )


# -- the state machine ----------------------------------------------------------------


def transition_refused(order: Order, to_status: str) -> Conflict:
    allowed = list(ORDER_TRANSITIONS[order.status])
    return Conflict(
        "transition_not_allowed",
        f"Order {order.number} is {order.status}; it can move to {', '.join(allowed) or 'nothing'}, not {to_status}.",
        {"status": order.status, "allowed": allowed, "requested": to_status},
    )


def _transition(order: Order, to_status: str, actor: str, *, timestamp_field: str | None = None,
                work: Callable[[Order], None] | None = None, message: str = "", data: dict | None = None,
                extra: dict | None = None) -> Order:  # fmt: skip
    """Lock the order, check the move, do ``work``, set the status and write the event."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if to_status not in ORDER_TRANSITIONS[locked.status]:
            raise transition_refused(locked, to_status)
        if work is not None:
            work(locked)
        from_status, now = locked.status, timezone.now()
        locked.status = to_status
        fields = ["status", "updated_at"]
        if timestamp_field:
            setattr(locked, timestamp_field, now)
            fields.append(timestamp_field)
        for name, value in (extra or {}).items():
            setattr(locked, name, value)
            fields.append(name)
        locked.save(update_fields=fields)
        _event(locked, "status_changed", actor, from_status=from_status, to_status=to_status, message=message,
               data=data)  # fmt: skip
        outbox.order_emit(locked, previous_status=from_status)
    return locked


def _stock_lines(order: Order, location_id: int | None = None) -> list[StockLine]:
    location_id = location_id or order.pickup_location_id
    return [StockLine(ln.product_id, location_id, ln.quantity) for ln in order.lines.all() if ln.product_id]


def order_confirm(*, order: Order, actor: str) -> Order:
    """new -> confirmed: reserve every line at the pickup location (409 insufficient_stock names short lines)."""

    def reserve(locked: Order) -> None:
        unmapped = list(locked.lines.filter(product__isnull=True).values_list("sku", flat=True))
        if unmapped:
            raise Conflict("unmapped_lines", f"Map these SKUs to products first: {', '.join(unmapped)}.",
                           {"skus": unmapped})  # fmt: skip
        catalog_services.stock_reserve(merchant=locked.merchant, lines=_stock_lines(locked),
                                       reference=f"order:{locked.number}", actor=actor)  # fmt: skip

    return _transition(order, OrderStatus.CONFIRMED, actor, timestamp_field="confirmed_at", work=reserve)


def order_pack(*, order: Order, actor: str) -> Order:
    return _transition(order, OrderStatus.PACKED, actor, timestamp_field="packed_at")


def order_cancel(*, order: Order, reason: str, actor: str) -> Order:
    """Cancel before shipping; confirmed and packed orders give their reservation back. An order with an AWB
    is booked with a courier: its shipment is cancelled first (409 ``order_has_awb``)."""

    def release(locked: Order) -> None:
        if locked.awb:
            raise Conflict("order_has_awb", f"Order {locked.number} is booked with {locked.courier} under AWB "
                           f"{locked.awb}; cancel its shipment first.",
                           {"awb": locked.awb, "courier": locked.courier})  # fmt: skip
        if locked.status in (OrderStatus.CONFIRMED, OrderStatus.PACKED):
            catalog_services.stock_release(merchant=locked.merchant, lines=_stock_lines(locked),
                                           reference=f"order:{locked.number}", actor=actor)  # fmt: skip

    return _transition(order, OrderStatus.CANCELLED, actor, timestamp_field="cancelled_at", work=release,
                       message=reason, extra={"cancel_reason": reason[:255]})  # fmt: skip


def order_mark_shipped(*, order: Order, actor: str, awb: str = "", courier: str = "") -> Order:
    """packed -> shipped at courier pickup: the reserved stock leaves (on_hand and reserved drop)."""

    def ship(locked: Order) -> None:
        catalog_services.stock_ship(merchant=locked.merchant, lines=_stock_lines(locked),
                                    reference=f"order:{locked.number}", actor=actor)  # fmt: skip

    extra = {name: value for name, value in (("awb", awb), ("courier", courier)) if value}
    return _transition(order, OrderStatus.SHIPPED, actor, timestamp_field="shipped_at", work=ship, extra=extra)


def order_set_awb(*, order: Order, awb: str, courier: str, actor: str) -> None:
    """Record the shipment's AWB and courier code on the order (blank both when its shipment is cancelled)."""
    with transaction.atomic():
        order.awb, order.courier, order.updated_at = awb, courier, timezone.now()
        Order.objects.filter(pk=order.pk).update(awb=awb, courier=courier, updated_at=order.updated_at)
        message = f"AWB {awb} with {courier}" if awb else "Shipment cancelled: AWB cleared"
        _event(order, "awb_assigned" if awb else "awb_cleared", actor, message=message,
               data={"awb": awb, "courier": courier})  # fmt: skip
        outbox.order_emit(order, changed=["awb", "courier"])


def order_mark_delivered(*, order: Order, actor: str) -> Order:
    return _transition(order, OrderStatus.DELIVERED, actor, timestamp_field="delivered_at")


def order_mark_rto(*, order: Order, actor: str, reason: str = "") -> Order:
    return _transition(order, OrderStatus.RTO, actor, message=reason)


def order_mark_rto_delivered(*, order: Order, actor: str) -> Order:
    """rto -> rto_delivered: the parcel is back, its goods return to the pickup location's stock."""

    def restock(locked: Order) -> None:
        catalog_services.stock_restock(merchant=locked.merchant, lines=_stock_lines(locked), kind=MovementKind.RTO,
                                       reference=f"order:{locked.number}", actor=actor)  # fmt: skip

    return _transition(order, OrderStatus.RTO_DELIVERED, actor, work=restock)


# -- edits -----------------------------------------------------------------------------

EDITABLE_FIELDS = ("shipping_address", "billing_address", "notes", "weight_grams", "length_cm", "breadth_cm",
                   "height_cm", "pickup_location", "payment_method", "payment_status")  # fmt: skip
NEW_ONLY_FIELDS = ("pickup_location", "payment_method")


@transaction.atomic
def order_update(*, order: Order, data: dict[str, Any], actor: str) -> Order:
    """Change an order before it ships. The pickup location and payment method only while it is new."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status not in EDITABLE_STATUSES:
        raise Conflict("order_not_editable", f"Order {locked.number} is {locked.status}; it can no longer be changed.",
                       {"status": locked.status, "editable_statuses": list(EDITABLE_STATUSES)})  # fmt: skip
    late = [name for name in NEW_ONLY_FIELDS if name in data and locked.status != OrderStatus.NEW]
    if late:
        raise Conflict("order_not_editable", f"{', '.join(late)} can only change while the order is new.",
                       {"status": locked.status, "fields": late})  # fmt: skip
    changes = {}
    if "shipping_address" in data:
        changes["shipping_address"] = _address(data["shipping_address"], "shipping_address", phone_required=True)
    if "billing_address" in data:
        changes["billing_address"] = _address(data["billing_address"], "billing_address", phone_required=False)
    if "pickup_location" in data:
        changes["pickup_location"] = _active_location(locked.merchant_id, str(data["pickup_location"]))
    for name in ("notes", "weight_grams", "length_cm", "breadth_cm", "height_cm", "payment_method", "payment_status"):
        if name in data:
            changes[name] = data[name]
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*changes, "updated_at"])
    _event(locked, "updated", actor, message=f"Changed {', '.join(changes)}", data={"fields": list(changes)})
    outbox.order_emit(locked, changed=list(changes))
    return locked


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
        raise Conflict("order_not_editable", f"Order {locked.number} is {locked.status}; map lines while it is new.",
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
    _event(
        locked,
        "lines_mapped",
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
        _event(order, "inventory_added", actor, message=f"Stock received for {len(lines)} line(s)",
               data={"lines": lines})  # fmt: skip
    order.refresh_from_db()
    if order.status == OrderStatus.NEW:
        return order_confirm(order=order, actor=actor)
    return order


# -- returns ---------------------------------------------------------------------------


@transaction.atomic
def return_create(*, order: Order, lines: list[dict[str, Any]], reason: str, actor: str,
                  location: Location | None = None) -> Return:  # fmt: skip
    """Request a return of delivered lines: at most what was delivered minus what is already being returned."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status not in (OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED):
        raise Conflict("order_not_returnable", f"Order {locked.number} is {locked.status}; only delivered orders "
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
                                           refund_amount=_money(refund))  # fmt: skip
    ReturnLine.objects.bulk_create([
        ReturnLine(merchant_id=locked.merchant_id, return_request=return_request, order_line_id=pk, quantity=qty)
        for pk, qty in wanted.items()
    ])  # fmt: skip
    for pk, qty in wanted.items():
        OrderLine.objects.filter(pk=pk).update(returned_quantity=F("returned_quantity") + qty)
    _event(
        locked,
        "return_requested",
        actor,
        message=f"Return {number}: {reason}",
        data={"return": number, "lines": [{"line_id": pk, "quantity": q} for pk, q in wanted.items()]},
    )
    return return_request


def return_transition(*, return_request: Return, to_status: str, actor: str) -> Return:
    """Move a return along RETURN_TRANSITIONS. Receiving restocks and updates the order's status."""
    with transaction.atomic():
        locked = Return.objects.select_for_update().select_related("order").get(pk=return_request.pk)
        allowed = list(RETURN_TRANSITIONS[locked.status])
        if to_status not in allowed:
            raise Conflict("transition_not_allowed",
                           f"Return {locked.number} is {locked.status}; it can move to "
                           f"{', '.join(allowed) or 'nothing'}, not {to_status}.",
                           {"status": locked.status, "allowed": allowed, "requested": to_status})  # fmt: skip
        from_status = locked.status
        if to_status == ReturnStatus.REJECTED:
            for rl in locked.lines.all():
                OrderLine.objects.filter(pk=rl.order_line_id).update(
                    returned_quantity=F("returned_quantity") - rl.quantity
                )
        if to_status == ReturnStatus.RECEIVED:
            _receive(locked, actor)
        locked.status = to_status
        locked.save(update_fields=["status", "received_at", "updated_at"])
        _event(
            locked.order,
            "return_status_changed",
            actor,
            from_status=from_status,
            to_status=to_status,
            message=f"Return {locked.number}: {from_status} -> {to_status}",
            data={"return": locked.number},
        )
    return locked


def _receive(return_request: Return, actor: str) -> None:
    lines = list(return_request.lines.select_related("order_line"))
    stock = [StockLine(rl.order_line.product_id, return_request.location_id, rl.quantity)
             for rl in lines if rl.order_line.product_id]  # fmt: skip
    if stock:
        catalog_services.stock_restock(merchant=return_request.order.merchant, lines=stock, kind=MovementKind.RETURN,
                                       reference=f"return:{return_request.number}", actor=actor)  # fmt: skip
    return_request.received_at = timezone.now()
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
    if to_status in ORDER_TRANSITIONS[order.status]:
        _transition(order, to_status, actor, message=f"Return {return_request.number} received")
