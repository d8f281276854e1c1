"""Orders for tests, built through the services so every invariant holds."""

import itertools
from decimal import Decimal

import factory

from catalog.models import Location, Product
from orders.models import Channel, Order, OrderStatus, Return, ReturnStatus
from orders.services.create import order_create
from orders.services.orders import (
    order_cancel,
    order_confirm,
    order_mark_delivered,
    order_mark_rto,
    order_mark_rto_delivered,
    order_mark_shipped,
    order_pack,
)
from orders.services.returns import return_create, return_transition
from tests.catalog.factories import LocationFactory, ProductFactory, stock

_numbers = itertools.count(1)

ADDRESS = {
    "name": "Priya Sharma", "phone": "+919812345678", "line1": "42 Residency Road", "line2": "",
    "city": "Bengaluru", "state": "Karnataka", "postcode": "560025", "country": "IN",
}  # fmt: skip

#: The service calls that take a new order to each status.
PATHS = {
    OrderStatus.NEW: [],
    OrderStatus.CONFIRMED: ["confirm"],
    OrderStatus.PACKED: ["confirm", "pack"],
    OrderStatus.SHIPPED: ["confirm", "pack", "ship"],
    OrderStatus.DELIVERED: ["confirm", "pack", "ship", "deliver"],
    OrderStatus.CANCELLED: ["cancel"],
    OrderStatus.RTO: ["confirm", "pack", "ship", "rto"],
    OrderStatus.RTO_DELIVERED: ["confirm", "pack", "ship", "rto", "rto_delivered"],
    OrderStatus.PARTIALLY_RETURNED: ["confirm", "pack", "ship", "deliver", "return_one"],
    OrderStatus.RETURNED: ["confirm", "pack", "ship", "deliver", "return_all"],
}


def default_location(merchant) -> Location:
    return Location.objects.filter(merchant=merchant, is_default=True).first() or LocationFactory(
        merchant=merchant, nickname="main", is_default=True
    )


def order_data(merchant, products: list[tuple[Product, int]] | None = None, **overrides) -> dict:
    """A valid order body for the service (or the API, with prices as strings)."""
    if products is None:
        product = ProductFactory(merchant=merchant)
        stock(product, default_location(merchant), 100)
        products = [(product, 2)]
    data = {
        "channel_order_id": f"WEB-{next(_numbers)}",
        "payment_method": "prepaid",
        "shipping_address": dict(ADDRESS),
        "lines": [{"sku": p.sku, "quantity": qty, "unit_price": p.price} for p, qty in products],
        "pickup_location": str(default_location(merchant).pk),
    }
    data.update(overrides)
    return data


def advance(order: Order, step: str) -> Order:
    actor = "system"
    if step == "confirm":
        return order_confirm(order=order, actor=actor)
    if step == "pack":
        return order_pack(order=order, actor=actor)
    if step == "ship":
        return order_mark_shipped(order=order, actor=actor, awb=f"AWB{order.pk:08d}", courier="demo")
    if step == "deliver":
        return order_mark_delivered(order=order, actor=actor)
    if step == "cancel":
        return order_cancel(order=order, reason="customer asked", actor=actor)
    if step == "rto":
        return order_mark_rto(order=order, actor=actor)
    if step == "rto_delivered":
        return order_mark_rto_delivered(order=order, actor=actor)
    if step in ("return_one", "return_all"):
        line = order.lines.first()
        quantity = 1 if step == "return_one" else line.quantity
        ret = return_create(order=order, lines=[{"line_id": line.pk, "quantity": quantity}],
                                     reason="too small", actor=actor)  # fmt: skip
        for status in (ReturnStatus.APPROVED, ReturnStatus.RECEIVED):
            return_transition(return_request=ret, to_status=status, actor=actor)
        order.refresh_from_db()
        return order
    raise ValueError(step)


def make_order(merchant, status: str = OrderStatus.NEW, products=None, **overrides) -> Order:
    order = order_create(merchant=merchant, data=order_data(merchant, products, **overrides), actor="system")
    for step in PATHS[status]:
        order = advance(order, step)
    order.refresh_from_db()
    return order


def make_return(merchant, status: str = ReturnStatus.REQUESTED) -> Return:
    order = make_order(merchant, OrderStatus.DELIVERED)
    line = order.lines.first()
    ret = return_create(order=order, lines=[{"line_id": line.pk, "quantity": 1}], reason="damaged",
                                 actor="system")  # fmt: skip
    path = {
        ReturnStatus.REQUESTED: [],
        ReturnStatus.APPROVED: [ReturnStatus.APPROVED],
        ReturnStatus.REJECTED: [ReturnStatus.REJECTED],
        ReturnStatus.PICKUP_SCHEDULED: [ReturnStatus.APPROVED, ReturnStatus.PICKUP_SCHEDULED],
        ReturnStatus.RECEIVED: [ReturnStatus.APPROVED, ReturnStatus.RECEIVED],
    }[status]
    for step in path:
        ret = return_transition(return_request=ret, to_status=step, actor="system")
    return ret


def price(value: str) -> Decimal:
    return Decimal(value)


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"Channel {n}")
    kind = "shopify"
    channel_id = factory.Sequence(lambda n: f"ch_test{n:06d}")


def gateway_connection(merchant, gateway: str = "razorpay", webhook_secret: str = "rzp-webhook-secret", **fields):
    """A gateway connection of ``merchant`` (one per gateway and merchant), signing with ``webhook_secret``."""
    from orders.models import GatewayConnection

    credentials = {"key_id": "rzp_test_1DP5mmOlF5G5ag", "key_secret": "rzp-key-secret"} if gateway == "razorpay" \
        else {"secret_key": "sk_test_51Hx"}  # fmt: skip
    connection, _ = GatewayConnection.objects.get_or_create(
        merchant=merchant, name=f"{gateway} account", gateway=gateway,
        defaults={"credentials": {**credentials, "webhook_secret": webhook_secret}, **fields},
    )  # fmt: skip
    return connection


def make_payment(merchant, order=None, **fields):
    """A captured Razorpay payment of ``merchant`` (matched to ``order`` when given)."""
    from orders.models import Payment

    connection = gateway_connection(merchant)
    defaults = {"payment_id": f"pay_{next(_numbers):014d}", "amount": Decimal("499.00"), "currency": "INR",
                "status": "captured", "method": "upi"}  # fmt: skip
    return Payment.objects.create(merchant=merchant, connection=connection, gateway=connection.gateway, order=order,
                                  **{**defaults, **fields})  # fmt: skip
