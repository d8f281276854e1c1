"""The load benchmark's data, made through the services and the demo seeds and kept between runs: stock and AWB
pools topped up, ``BENCH_LOAD_ORDERS`` orders in every status over 90 days, and ``TRACKED`` shipments of the
simulated courier tracked along their journeys (see bench/load.py)."""

import os
import random
import time
from datetime import datetime, timedelta
from datetime import time as clock_time

ORDERS = int(os.environ.get("BENCH_LOAD_ORDERS", 3000))
TRACKED = 500
ACTOR = "bench"


def top_up(merchant) -> None:
    """Stock enough for every order the load ships, and a large AWB range for each courier."""
    from catalog.models import Location, Product, StockLevel
    from catalog.services import stock_adjust
    from shipping.models import AWBPool, Courier
    from shipping.services.awb import awb_pool_create_range

    warehouse = Location.objects.get(merchant=merchant, is_default=True)
    levels = {lv.product_id: lv for lv in StockLevel.objects.filter(merchant=merchant, location=warehouse)}
    for product in Product.objects.filter(merchant=merchant, status="active"):
        level = levels.get(product.pk)
        if level is None or level.on_hand - level.reserved < 200_000:
            stock_adjust(merchant=merchant, product=product, location=warehouse, action="add", quantity=1_000_000,
                         reason="Load bench stock", actor=ACTOR)  # fmt: skip
    for index, courier in enumerate(Courier.objects.filter(merchant=merchant).order_by("code")):
        name = f"Load bench {courier.code}"
        if not AWBPool.objects.filter(merchant=merchant, name=name).exists():
            awb_pool_create_range(courier=courier, name=name, start=10_000_000, end=99_999_999, prefix=f"LB{index}",
                                  low_watermark=100)  # fmt: skip


#: The final status of listed orders, by order number modulo 20.
LISTED_STATUSES = ["new"] * 2 + ["confirmed"] * 2 + ["packed"] * 3 + ["shipped"] * 4 + ["delivered"] * 7 + [
    "cancelled"] * 2  # fmt: skip


def order_data(prefix: str, n: int, skus: list[tuple[str, str]], customer: tuple, **extra) -> dict:
    name, phone, line1, city, state, postcode = customer
    picks = [skus[(n * 7 + k) % len(skus)] for k in range(1 + n % 3)]
    return {
        "channel_order_id": f"{prefix}{n}", "payment_method": "cod" if n % 3 == 0 else "prepaid",
        "customer": {"name": name, "phone": phone, "email": f"{name.split()[0].lower()}{n % 97}@example.in"},
        "shipping_address": {"name": name, "phone": phone, "line1": line1, "city": city, "state": state,
                             "postcode": postcode, "country": "IN"},
        "lines": [{"sku": sku, "quantity": 1 + (n + k) % 2, "unit_price": price}
                  for k, (sku, price) in enumerate(picks)],
        "pickup_location": "blr-wh", **extra,
    }  # fmt: skip


def listed_orders(merchant) -> None:
    """ORDERS orders ("LBO-<n>") over the last 90 days in every status, shipped ones with an AWB (no shipment)."""
    from django.db import transaction
    from django.utils import timezone

    from catalog.models import Product
    from orders.demo import CUSTOMERS
    from orders.models import Order
    from orders.services import orders as services
    from orders.services.create import order_create

    have = Order.objects.filter(merchant=merchant, channel_order_id__startswith="LBO-").count()
    if have >= ORDERS:
        return
    skus = [(p.sku, p.price) for p in Product.objects.filter(merchant=merchant, status="active").order_by("sku")]
    print(f"generating {ORDERS - have:,} orders through the services ...", flush=True)
    started = time.perf_counter()
    rng = random.Random(have)
    now = timezone.now()
    made = []
    for n in range(have, ORDERS):
        final = LISTED_STATUSES[n % len(LISTED_STATUSES)]
        with transaction.atomic():
            order = order_create(merchant=merchant, actor=ACTOR,
                                 data=order_data("LBO-", n, skus, CUSTOMERS[n % len(CUSTOMERS)]))  # fmt: skip
            if final != "new":
                order = services.order_confirm(order=order, actor=ACTOR)
            if final == "cancelled":
                order = services.order_cancel(order=order, reason="Customer changed their mind", actor=ACTOR)
            if final in ("packed", "shipped", "delivered"):
                order = services.order_pack(order=order, actor=ACTOR)
            if final in ("shipped", "delivered"):
                order = services.order_mark_shipped(order=order, actor=ACTOR, awb=f"LBO{n:08d}",
                                                    courier="bluedart-express")  # fmt: skip
            if final == "delivered":
                order = services.order_mark_delivered(order=order, actor=ACTOR)
        made.append(order)
    # Spread the lifecycle over the last 90 days, as a real desk would have it (the services stamp the present).
    for order in made:
        at = order.ordered_at = now - timedelta(days=rng.uniform(0.5, 90))
        for name, gap_hours in (("confirmed_at", (0.2, 3)), ("packed_at", (2, 20)), ("shipped_at", (4, 30)),
                                ("delivered_at", (30, 120)), ("cancelled_at", (1, 24))):  # fmt: skip
            if getattr(order, name):
                at = min(at + timedelta(hours=rng.uniform(*gap_hours)), now)
                setattr(order, name, at)
    Order.objects.bulk_update(made, ["ordered_at", "confirmed_at", "packed_at", "shipped_at", "delivered_at",
                                     "cancelled_at"], batch_size=500)  # fmt: skip
    print(f"  ... in {time.perf_counter() - started:.0f} s", flush=True)


def tracked_shipments(merchant) -> None:
    """TRACKED shipments of the simulated courier ("LBT-<n>"), picked up over the last 12 days and polled along
    their journeys (in transit, out for delivery, delivered, failed attempts, RTO), as the demo's are."""
    from django.db import transaction
    from django.utils import timezone

    from catalog.models import Product
    from orders.demo import CUSTOMERS
    from orders.models import Order
    from orders.services import orders as order_services
    from orders.services.create import order_create
    from shipping.adapters import SIM_PICKUP_HOUR
    from shipping.demo import SIM_CODE
    from shipping.models import Courier
    from shipping.services.pickups import pickup_schedule
    from shipping.services.shipments import shipment_assign_awb, shipment_create
    from shipping.services.tracking import tracking_refresh

    have = Order.objects.filter(merchant=merchant, channel_order_id__startswith="LBT-").count()
    if have >= TRACKED:
        return
    courier = Courier.objects.get(merchant=merchant, code=SIM_CODE)
    skus = [(p.sku, p.price) for p in Product.objects.filter(merchant=merchant, status="active").order_by("sku")]
    print(f"generating {TRACKED - have:,} tracked shipments through the services ...", flush=True)
    started = time.perf_counter()
    now = timezone.now()
    tz = timezone.get_current_timezone()  # the simulated courier's clock
    today = now.astimezone(tz).date()
    made = []
    for n in range(have, TRACKED):
        pickup_day = today - timedelta(days=1 + n % 12)
        pickup_at = datetime.combine(pickup_day, clock_time(SIM_PICKUP_HOUR), tzinfo=tz)
        booked_at = pickup_at - timedelta(hours=7)
        with transaction.atomic():
            customer = CUSTOMERS[n % len(CUSTOMERS)]
            data = order_data("LBT-", n, skus, customer, ordered_at=booked_at - timedelta(hours=5))
            order = order_create(merchant=merchant, data=data, actor=ACTOR)
            order = order_services.order_pack(order=order_services.order_confirm(order=order, actor=ACTOR),
                                              actor=ACTOR)  # fmt: skip
            shipment = shipment_create(order=order, courier=courier, actor=ACTOR, at=booked_at)
        # the courier is called with no transaction open (booking, then pickup)
        shipment = shipment_assign_awb(shipment=shipment, actor=ACTOR)
        pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor=ACTOR, pickup_date=pickup_day,
                        now=booked_at + timedelta(hours=1))  # fmt: skip
        made.append(shipment)
    for start in range(0, len(made), 50):
        tracking_refresh(shipments=made[start : start + 50], now=now)
    print(f"  ... in {time.perf_counter() - started:.0f} s", flush=True)
