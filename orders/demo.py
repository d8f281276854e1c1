"""Demo orders for ``manage.py seed_demo``: 2 channels and 200 orders over the last 60 days, in every status."""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import Location, Product
from orders.models import Channel, ChannelKind, Order, OrderStatus, ReturnStatus
from orders.services.channels import channel_create
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
from shopops.models import Merchant

ORDER_COUNT = 200
CUSTOMERS = [
    ("Priya Sharma", "+919812345678", "42 Residency Road", "Bengaluru", "Karnataka", "560025"),
    ("Arjun Mehta", "+919820011223", "7 Carter Road, Bandra West", "Mumbai", "Maharashtra", "400050"),
    ("Fatima Khan", "+919711122334", "B-14 Lajpat Nagar II", "New Delhi", "Delhi", "110024"),
    ("Rahul Iyer", "+919840055667", "18 Besant Nagar 2nd Avenue", "Chennai", "Tamil Nadu", "600090"),
    ("Sneha Reddy", "+919848012345", "Plot 21, Jubilee Hills", "Hyderabad", "Telangana", "500033"),
    ("Ankit Verma", "+919415098765", "12 Hazratganj", "Lucknow", "Uttar Pradesh", "226001"),
    ("Meera Nair", "+919447011122", "TC 24/1 Kowdiar", "Thiruvananthapuram", "Kerala", "695003"),
    ("Vikram Singh", "+919829033445", "C-5 Malviya Nagar", "Jaipur", "Rajasthan", "302017"),
    ("Ritu Das", "+919830077889", "23 Park Street", "Kolkata", "West Bengal", "700016"),
    ("Karan Gill", "+919815066778", "House 110, Sector 17", "Chandigarh", "Chandigarh", "160017"),
    ("Nisha Patel", "+919825044556", "9 CG Road, Navrangpura", "Ahmedabad", "Gujarat", "380009"),
    ("Tenzing Bhutia", "+919733012345", "MG Marg", "Gangtok", "Sikkim", "737101"),
]
# Weighted mix of final statuses: most orders are delivered, some at each other stage.
STATUS_MIX = (
    [OrderStatus.DELIVERED] * 80 + [OrderStatus.SHIPPED] * 30 + [OrderStatus.PACKED] * 20
    + [OrderStatus.CONFIRMED] * 20 + [OrderStatus.NEW] * 20 + [OrderStatus.CANCELLED] * 12 + [OrderStatus.RTO] * 5
    + [OrderStatus.RTO_DELIVERED] * 5 + [OrderStatus.PARTIALLY_RETURNED] * 4 + [OrderStatus.RETURNED] * 4
)  # fmt: skip
STEPS = {
    OrderStatus.NEW: [],
    OrderStatus.CONFIRMED: ["confirm"],
    OrderStatus.PACKED: ["confirm", "pack"],
    OrderStatus.SHIPPED: ["confirm", "pack", "ship"],
    OrderStatus.DELIVERED: ["confirm", "pack", "ship", "deliver"],
    OrderStatus.CANCELLED: ["confirm", "cancel"],
    OrderStatus.RTO: ["confirm", "pack", "ship", "rto"],
    OrderStatus.RTO_DELIVERED: ["confirm", "pack", "ship", "rto", "rto_delivered"],
    OrderStatus.PARTIALLY_RETURNED: ["confirm", "pack", "ship", "deliver", "return_part"],
    OrderStatus.RETURNED: ["confirm", "pack", "ship", "deliver", "return_all"],
}
ACTOR = "system"


def seed(*, merchant: Merchant, stdout) -> None:
    website = Channel.objects.filter(merchant=merchant, name="Website").first() or channel_create(
        merchant=merchant, name="Website", kind=ChannelKind.CUSTOM
    )
    shopify = Channel.objects.filter(merchant=merchant, name="Shopify store").first() or channel_create(
        merchant=merchant, name="Shopify store", kind=ChannelKind.SHOPIFY
    )
    existing = Order.objects.filter(merchant=merchant, channel__in=[website, shopify]).count()
    if existing >= ORDER_COUNT:
        stdout.write(f"Demo orders:   {existing} orders (0 new) on 2 channels")
        return
    products = list(Product.objects.filter(merchant=merchant, status="active").order_by("sku"))
    warehouse = Location.objects.get(merchant=merchant, is_default=True)
    rng = random.Random(20261128)
    with transaction.atomic():
        for product in products:  # a purchase order large enough for two months of demo orders
            catalog_services.stock_adjust(merchant=merchant, product=product, location=warehouse, action="add",
                                          quantity=60, reason="Demo purchase order", actor=ACTOR,
                                          reference="seed_demo")  # fmt: skip
        now = timezone.now()
        for index in range(existing, ORDER_COUNT):
            _order(merchant, index, rng, now, channel=website if index % 3 else shopify, products=products,
                   warehouse=warehouse)  # fmt: skip
    stdout.write(f"Demo orders:   {ORDER_COUNT} orders ({ORDER_COUNT - existing} new) on 2 channels")


def _order(merchant, index, rng, now, *, channel, products, warehouse) -> None:
    name, phone, line1, city, state, postcode = CUSTOMERS[index % len(CUSTOMERS)]
    ordered_at = now - timedelta(days=rng.uniform(0.2, 60))
    picks = rng.sample(products, rng.choice([1, 1, 2, 3]))
    order = order_create(
        merchant=merchant,
        data={
            "channel": channel.channel_id,
            "channel_order_id": f"{'WEB' if channel.kind == ChannelKind.CUSTOM else 'SHP'}-{10001 + index}",
            "payment_method": "cod" if index % 3 == 0 else "prepaid",
            "customer": {"name": name, "phone": phone, "email": f"{name.split()[0].lower()}@example.in"},
            "shipping_address": {"name": name, "phone": phone, "line1": line1, "city": city, "state": state,
                                 "postcode": postcode, "country": "IN"},
            "lines": [{"sku": p.sku, "quantity": rng.choice([1, 1, 2]), "unit_price": p.price,
                       "discount": Decimal("50.00") if index % 7 == 0 else Decimal("0")} for p in picks],
            "shipping_charge": Decimal("0") if index % 2 else Decimal("49.00"),
            "pickup_location": str(warehouse.pk),
            "ordered_at": ordered_at,
        },
        actor=ACTOR,
    )  # fmt: skip
    final = STATUS_MIX[index % len(STATUS_MIX)]
    for step in STEPS[final]:
        order = _step(order, step, index)
    _backdate(order, ordered_at, now, rng)


def _step(order: Order, step: str, index: int) -> Order:
    if step == "confirm":
        return order_confirm(order=order, actor=ACTOR)
    if step == "pack":
        return order_pack(order=order, actor=ACTOR)
    if step == "ship":
        return order_mark_shipped(order=order, actor=ACTOR, awb=f"DEMO{7700000000 + index}", courier="demo")
    if step == "deliver":
        return order_mark_delivered(order=order, actor=ACTOR)
    if step == "cancel":
        return order_cancel(order=order, reason="Customer changed their mind", actor=ACTOR)
    if step == "rto":
        return order_mark_rto(order=order, actor=ACTOR, reason="Customer unreachable")
    if step == "rto_delivered":
        return order_mark_rto_delivered(order=order, actor=ACTOR)
    line = order.lines.first()
    quantity = line.quantity if step == "return_all" and order.lines.count() == 1 else 1
    lines = [{"line_id": ln.pk, "quantity": ln.quantity} for ln in order.lines.all()] if step == "return_all" else [
        {"line_id": line.pk, "quantity": quantity}]  # fmt: skip
    ret = return_create(order=order, lines=lines, reason="Size did not fit", actor=ACTOR)
    for status in (ReturnStatus.APPROVED, ReturnStatus.RECEIVED):
        ret = return_transition(return_request=ret, to_status=status, actor=ACTOR)
    order.refresh_from_db()
    return order


def _backdate(order: Order, ordered_at, now, rng) -> None:
    """Spread the lifecycle timestamps after the order date, as a real desk would have them."""
    moments, at = {}, ordered_at
    for field_name, gap_hours in (("confirmed_at", (0.2, 3)), ("packed_at", (2, 20)), ("shipped_at", (4, 30)),
                                  ("delivered_at", (30, 120)), ("cancelled_at", (1, 24))):  # fmt: skip
        if getattr(order, field_name):
            at = min(at + timedelta(hours=rng.uniform(*gap_hours)), now)
            moments[field_name] = at
    Order.objects.filter(pk=order.pk).update(**moments)
