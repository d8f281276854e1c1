"""Shopify order webhooks: 1,000 signed orders/create deliveries acknowledged, then taken in by one worker.

Acknowledgement: each delivery is posted on its own through the whole Django stack (``django.test.Client``:
middleware, URL conf, DRF, the throttle, the view), which verifies its HMAC, stores it in the inbox
(``ChannelWebhookDelivery``) and sends ``orders.tasks.channel_webhook_process`` once its transaction commits. The
real ``send_on_commit`` and ``send`` run (Celery not eager, so nothing is processed in the request); only the
broker's publish is replaced by a counter (``shopops.dispatch._task``), so the figures leave out the round trip to
the broker. The floor is the bare insert of the same 1,000 inbox rows with plain SQL, one ``INSERT`` per row in its
own transaction, as a request makes it.

Processing: ``channel_webhook_process`` over the 1,000 stored deliveries, one after the other in this process (one
worker), with what it sends (``order.created``...) counted, not run. The floor is ``order_create`` writing the same
orders from their prepared input (the Shopify mapping and the SKU mappings applied beforehand, not timed), under a
second merchant: the one order writer is what the worker must go through, so the ratio is what taking an order in
from a channel adds to it (reading the stored body, the Shopify mapping, the existing-order and SKU-mapping look-ups,
the delivery's claim and finish). Raw SQL of orders and lines is the imports' floor and is left to that benchmark.
Targets (DESIGN.md section 8): acknowledged at p99 <= 50 ms each, processed by one worker in <= 30 s.
"""

import base64
import copy
import hashlib
import hmac
import json
import os
import statistics
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from celery import current_app
from django.db import connection
from django.test import Client

WEBHOOKS = int(os.environ.get("BENCH_WEBHOOKS", 1000))
WARM_UP = 10
SLUG = "bench-channels"
SHOP = "indigo-threads.myshopify.com"
SECRET = "shpss_bench_7f3c2e91"
SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "orders" / "channels" / "samples" / "shopify_order.json"
KURTAS = ["KURTA-IND-S", "KURTA-IND-M", "KURTA-IND-L", "KURTA-IND-XL"]
SOCKS_VARIANT = 49148385
PLACES = [
    ("Bengaluru", "Karnataka", "KA", "5600"), ("Mumbai", "Maharashtra", "MH", "4000"),
    ("New Delhi", "Delhi", "DL", "1100"), ("Chennai", "Tamil Nadu", "TN", "6000"),
    ("Hyderabad", "Telangana", "TS", "5000"), ("Kolkata", "West Bengal", "WB", "7000"),
]  # fmt: skip
NAMES = [("Priya", "Sharma"), ("Arjun", "Nair"), ("Meera", "Iyer"), ("Rohit", "Verma"), ("Ananya", "Das")]
CENT = Decimal("0.01")


class _Broker:
    """Stands in for the broker: counts each task ``send`` publishes instead of running or publishing it."""

    def __init__(self):
        self.sent = Counter()

    def task(self, name: str):
        sent = self.sent

        class Published:
            def apply_async(self, args=(), **options):
                sent[name] += 1

        return Published()


class _Enqueue:
    """Celery not eager and the publish counted, for the duration of a phase; restored after."""

    def __enter__(self):
        from shopops import dispatch

        self.broker, self.dispatch = _Broker(), dispatch
        self.eager, self.task = current_app.conf.task_always_eager, dispatch._task
        current_app.conf.task_always_eager = False
        dispatch._task, dispatch._down_until = self.broker.task, 0.0
        return self.broker

    def __exit__(self, *exc):
        current_app.conf.task_always_eager = self.eager
        self.dispatch._task = self.task


def _drop(slug: str) -> None:
    from bench.imports import _drop_merchant
    from orders.models import ChannelWebhookDelivery
    from shopops.models import Merchant

    ChannelWebhookDelivery.objects.filter(merchant__slug=slug).delete()  # they point at the orders dropped next
    if Merchant.objects.filter(slug=slug).exists():
        _drop_merchant(slug)


def _merchant(slug: str):
    """A merchant with a default location, the sample's products (four kurta sizes; the socks, which Shopify sends
    without a SKU, mapped from their variant) and a Shopify channel with a webhook secret."""
    from catalog.models import Location, Product
    from orders.models import ChannelKind, SkuMapping
    from orders.services.channels import channel_create
    from shopops.models import Merchant

    _drop(slug)
    merchant = Merchant.objects.create(name=f"Bench {slug}", slug=slug)
    Location.objects.create(merchant=merchant, nickname="wh", name="Warehouse", line1="1 Road", city="Bengaluru",
                            state="Karnataka", postcode="560001", is_default=True)  # fmt: skip
    Product.objects.bulk_create(
        [Product(merchant=merchant, sku=sku, title="Handloom Cotton Kurta", price=Decimal("1180.00"),
                 tax_rate=Decimal(18), hsn_code="6211", weight_grams=400) for sku in KURTAS]
        + [Product(merchant=merchant, sku="SOCKS-3", title="Organic Cotton Socks", price=Decimal("315.00"),
                   tax_rate=Decimal(5), hsn_code="6115", weight_grams=100)]
    )  # fmt: skip
    channel = channel_create(merchant=merchant, name="Shopify store", kind=ChannelKind.SHOPIFY,
                             store_url=f"https://{SHOP}", credentials={"webhook_secret": SECRET})  # fmt: skip
    SkuMapping.objects.create(merchant=merchant, channel=channel, channel_sku=f"shopify-variant-{SOCKS_VARIANT}",
                              product=Product.objects.get(merchant=merchant, sku="SOCKS-3"))  # fmt: skip
    return merchant, channel


def _taxes(amount: Decimal, rate: Decimal) -> list[dict]:
    """CGST and SGST (half the rate each) contained in a GST-included ``amount``."""
    half = (amount * rate / (1 + rate) / 2).quantize(CENT)
    return [{"channel_liable": False, "price": str(half), "rate": float(rate / 2), "title": title}
            for title in ("CGST", "SGST")]  # fmt: skip


def _payload(sample: dict, n: int, order_id: int) -> tuple[dict, Decimal, int]:
    """The sample order as the ``n``th one: its own ids, buyer, address and 1-4 lines (a kurta size or the socks,
    quantities 1-3, 10% off each), totals that add up; with its total and line count."""
    p = copy.deepcopy(sample)
    kurta, socks = sample["line_items"]
    first, last = NAMES[n % len(NAMES)]
    city, state, code, prefix = PLACES[n % len(PLACES)]
    phone = f"+91 98{n % 1000:03d} {n * 7 % 100000:05d}"
    address = {**sample["shipping_address"], "first_name": first, "last_name": last, "name": f"{first} {last}",
               "address1": f"{n % 200 + 1} {('MG', 'Station', 'Temple', 'Lake')[n % 4]} Road",
               "address2": f"Flat {n % 9 + 1}{'ABCD'[n % 4]}" if n % 3 else "", "city": city, "province": state,
               "province_code": code, "zip": f"{prefix}{n % 90 + 10:02d}", "phone": phone}  # fmt: skip
    lines, subtotal, discounts, gross = [], Decimal(0), Decimal(0), Decimal(0)
    for i in range(1 + n % 4):
        item = copy.deepcopy(socks if i == 1 else kurta)
        count, price = 1 + (n + i) % 3, Decimal(item["price"])
        off = (count * price / 10).quantize(CENT)
        paid = count * price - off
        rate = Decimal("0.05") if i == 1 else Decimal("0.18")
        item.update({"id": order_id * 10 + i, "quantity": count, "current_quantity": count,
                     "fulfillable_quantity": count, "tax_lines": _taxes(paid, rate),
                     "discount_allocations": [{**item["discount_allocations"][0], "amount": str(off)}]})  # fmt: skip
        if i != 1:
            size = KURTAS[(n + i) % len(KURTAS)]
            item.update({"sku": size, "name": f"Handloom Cotton Kurta - Indigo / {size.rsplit('-', 1)[1]}"})
        lines.append(item)
        subtotal, discounts, gross = subtotal + paid, discounts + off, gross + count * price
    shipping = Decimal(sample["shipping_lines"][0]["price"])
    total = subtotal + shipping
    tax = sum(Decimal(t["price"]) for item in lines for t in item["tax_lines"]) + Decimal("18.00")
    created = f"2025-10-{1 + n % 28:02d}T{10 + n % 12:02d}:{n % 60:02d}:43+05:30"
    p.update({
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "name": f"#{1001 + n}",
        "number": n + 1, "order_number": 1001 + n, "token": hashlib.md5(str(order_id).encode()).hexdigest(),
        "email": f"{first.lower()}.{last.lower()}{n}@example.in", "contact_email": f"{first.lower()}{n}@example.in",
        "created_at": created, "processed_at": created, "updated_at": created, "line_items": lines,
        "billing_address": address, "shipping_address": address, "subtotal_price": str(subtotal),
        "current_subtotal_price": str(subtotal), "total_discounts": str(discounts),
        "current_total_discounts": str(discounts), "total_line_items_price": str(gross), "total_price": str(total),
        "current_total_price": str(total), "total_tax": str(tax), "current_total_tax": str(tax),
        "customer": {**sample["customer"], "id": 300_000_000 + n % 700, "first_name": first, "last_name": last,
                     "email": f"{first.lower()}.{last.lower()}{n % 700}@example.in",
                     "phone": f"+9198{n % 700:08d}", "default_address": address},
    })  # fmt: skip
    return p, total, len(lines)


def _deliveries(first_id: int, count: int, offset: int = 0) -> list[tuple[str, bytes, dict, Decimal, int]]:
    """``count`` signed orders/create deliveries: (Shopify order id, body, headers, total, lines)."""
    sample = json.loads(SAMPLE.read_text())
    made = []
    for n in range(offset, offset + count):
        payload, total, lines = _payload(sample, n, first_id + n)
        body = json.dumps(payload).encode()
        signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        headers = {"HTTP_X_SHOPIFY_TOPIC": "orders/create", "HTTP_X_SHOPIFY_HMAC_SHA256": signature,
                   "HTTP_X_SHOPIFY_SHOP_DOMAIN": SHOP, "HTTP_X_SHOPIFY_API_VERSION": "2025-10",
                   "HTTP_X_SHOPIFY_WEBHOOK_ID": f"b54557e4-bfe6-4f3a-{first_id % 10000:04d}-{n:012d}",
                   "HTTP_X_SHOPIFY_TRIGGERED_AT": "2025-10-14T05:33:10.123456Z"}  # fmt: skip
        made.append((str(first_id + n), body, headers, total, lines))
    return made


def _acknowledge(client: Client, channel, deliveries) -> list[float]:
    """Milliseconds to answer each delivery, posted one by one."""
    url = f"/api/v1/webhooks/channels/{channel.webhook_id}/"
    timings = []
    for _, body, headers, _, _ in deliveries:
        started = time.perf_counter()
        response = client.post(url, body, content_type="application/json", **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}, (
            response.status_code, response.content[:300])  # fmt: skip
    return timings


def _insert_floor(channel, deliveries) -> list[float]:
    """Milliseconds to insert each of the same inbox rows with plain SQL, one INSERT and commit per row."""
    from orders.models import ChannelWebhookDelivery

    meta = ChannelWebhookDelivery._meta
    sql = (f"INSERT INTO {meta.db_table} (merchant_id, channel_id, delivery_id, topic, body, status, result, error, "
           "attempts, received_at, queued_at) VALUES (%s, %s, %s, %s, %s, 'pending', '', '{}', 0, now(), now()) "
           "RETURNING id")  # fmt: skip
    raw, timings = connection.connection, []
    assert connection.get_autocommit()
    with raw.cursor() as cur:
        for _, body, headers, _, _ in deliveries:
            started = time.perf_counter()
            cur.execute(sql, [channel.merchant_id, channel.pk, "floor-" + headers["HTTP_X_SHOPIFY_WEBHOOK_ID"],
                              "orders/create", body.decode()])  # fmt: skip
            cur.fetchone()
            timings.append((time.perf_counter() - started) * 1000)
    ChannelWebhookDelivery.objects.filter(channel=channel).delete()
    return timings


def _process(channel) -> float:
    """Seconds for one worker to take in every pending delivery of ``channel``, oldest first."""
    from orders import tasks
    from orders.models import ChannelWebhookDelivery

    ids = list(ChannelWebhookDelivery.objects.filter(channel=channel, status="pending").order_by("id")
               .values_list("pk", flat=True))  # fmt: skip
    started = time.perf_counter()
    for pk in ids:
        tasks.channel_webhook_process(pk)
    return time.perf_counter() - started


def _writer_floor(channel, deliveries) -> float:
    """Seconds for ``order_create`` to write the same orders from their prepared input (prepared beforehand)."""
    from orders.channels.shopify import order_from_payload
    from orders.services.channel_orders import _order_data, channel_actor
    from orders.services.create import order_create

    prepared = [_order_data(channel, order_from_payload(json.loads(body))) for _, body, _, _, _ in deliveries]
    actor = channel_actor(channel)
    started = time.perf_counter()
    for data in prepared:
        order_create(merchant=channel.merchant, data=data, actor=actor)
    return time.perf_counter() - started


def _check(channel, deliveries) -> tuple[int, int, int]:
    """(deliveries processed, orders with the right total and line count, orders wrong or missing)."""
    from django.db.models import Count

    from orders.models import ChannelWebhookDelivery, Order

    processed = ChannelWebhookDelivery.objects.filter(channel=channel, status="processed", order__isnull=False).count()
    found = {o["channel_order_id"]: (o["total"], o["n"])
             for o in Order.objects.filter(channel=channel).annotate(n=Count("lines"))
             .values("channel_order_id", "total", "n")}  # fmt: skip
    right = sum(found.get(external) == (total, lines) for external, _, _, total, lines in deliveries)
    return processed, right, len(deliveries) - right


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run() -> str:
    merchant, channel = _merchant(SLUG)
    floor_merchant, floor_channel = _merchant(f"{SLUG}-floor")
    deliveries = _deliveries(5_800_000_000, WEBHOOKS)
    client = Client()
    with _Enqueue() as broker:
        # warm-up (not timed): a few other orders through the floor's channel, acknowledged and processed
        warm = _deliveries(5_900_000_000, WARM_UP, offset=WEBHOOKS)
        _acknowledge(client, floor_channel, warm)
        _process(floor_channel)
        _writer_floor(floor_channel, _deliveries(5_950_000_000, WARM_UP, offset=WEBHOOKS))
        _drop(floor_merchant.slug)
        floor_merchant, floor_channel = _merchant(f"{SLUG}-floor")
        broker.sent.clear()

        timings = _acknowledge(client, channel, deliveries)
        acknowledged = dict(broker.sent)
        floor = _insert_floor(floor_channel, deliveries)
        broker.sent.clear()
        process_s = _process(channel)
        processing_sent = dict(broker.sent)
        broker.sent.clear()
        writer_s = _writer_floor(floor_channel, deliveries)
    processed, right, wrong = _check(channel, deliveries)
    _drop(SLUG)
    _drop(floor_merchant.slug)

    p50, p99, worst, ack_s = (statistics.median(timings), _percentile(timings, 0.99), max(timings),
                              sum(timings) / 1000)  # fmt: skip
    floor_row, floor_p99 = sum(floor) / len(floor), _percentile(floor, 0.99)
    lines = sum(d[4] for d in deliveries)
    size = statistics.mean(len(d[1]) for d in deliveries) / 1000
    print(f"webhooks: {WEBHOOKS:,} signed Shopify orders/create deliveries, {lines:,} lines (1-4 an order), "
          f"{size:.1f} kB a body on average")  # fmt: skip
    print("  acknowledgement: Celery not eager; send_on_commit and send run, the broker's publish only counted "
          f"(shopops.dispatch._task replaced): {acknowledged}")  # fmt: skip
    print(f"  acknowledged one by one through the Django stack: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {worst:.1f} ms, {ack_s:.2f} s in all (target p99 <= 50 ms)")  # fmt: skip
    print(
        f"  floor, the same inbox rows with plain SQL (one INSERT and commit a row): {floor_row:.2f} ms a row "
        f"(p99 {floor_p99:.2f} ms), {sum(floor) / 1000:.2f} s in all; p99 / floor a row: {p99 / floor_row:.1f}x"
    )
    print(
        f"  processed by one worker (channel_webhook_process one after the other): {process_s:.2f} s, "
        f"{WEBHOOKS / process_s:.0f} orders/s (target <= 30 s); sends counted, not run: {processing_sent}"
    )
    print(
        f"  floor, order_create of the same orders from prepared input: {writer_s:.2f} s, "
        f"{WEBHOOKS / writer_s:.0f} orders/s; processing / floor: {process_s / writer_s:.2f}x"
    )
    print(f"  check: {processed:,} deliveries processed; {right:,} of {WEBHOOKS:,} orders with the right total "
          f"and line count, {wrong} wrong or missing")  # fmt: skip
    assert (processed, right) == (WEBHOOKS, WEBHOOKS), (processed, right)
    return (f"bench channels: ack p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms; processed {process_s:.1f} s "
            f"({WEBHOOKS / process_s:.0f} orders/s), {right}/{WEBHOOKS} orders right; ratio {p99 / floor_row:.1f}x "
            f"vs plain INSERT {floor_row:.2f} ms a row (ack p99), {process_s / writer_s:.2f}x vs order_create "
            f"{writer_s:.1f} s (processing)")  # fmt: skip
