"""Order list at 1M orders: ship-date range + ``ordering=-pack_date``, 100 per page.

Measures the server time of ``GET /api/v1/orders/`` (in-process, through the
whole middleware, DRF and JSON rendering) on page 1 and page 1,000, its query
count, and a floor: the same keyset SQL plus the lines query and JSON encoding
written by hand with psycopg. Targets (DESIGN.md section 8): median <= 40 ms,
<= 3x the floor, page 1,000 <= 1.5x page 1, constant query count.
"""

import base64
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

ORDERS = int(os.environ.get("BENCH_ORDERS", 1_000_000))
PAGE_SIZE = 100
RUNS = 25
DEEP_PAGE = 1000
SLUG = "bench-orders"
TZ = "Asia/Kolkata"
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
RANGE = ("2025-04-01", "2025-06-29")  # 90 days of ship dates


def _setup():
    from catalog.models import Location, Product
    from orders.models import Channel, Customer, Order
    from shopops.models import Merchant

    merchant = Merchant.objects.filter(slug=SLUG).first()
    if merchant and Order.objects.filter(merchant=merchant).count() == ORDERS:
        return merchant
    if merchant:
        merchant.delete()
    merchant = Merchant.objects.create(name="Bench orders", slug=SLUG, time_zone=TZ)
    location = Location.objects.create(
        merchant=merchant,
        nickname="wh",
        name="Warehouse",
        line1="1 Road",
        city="Bengaluru",
        state="Karnataka",
        postcode="560001",
        is_default=True,
    )
    channel = Channel.objects.create(merchant=merchant, name="Web", kind="custom", channel_id=f"ch_{SLUG}")
    product = Product.objects.create(merchant=merchant, sku="B-1", title="Bench tee", price=Decimal("499.00"))
    customers = Customer.objects.bulk_create(
        [Customer(merchant=merchant, name=f"Customer {i}", phone=f"+9198{i:08d}") for i in range(1000)]
    )
    print(f"generating {ORDERS:,} orders and lines with COPY ...", flush=True)
    started = time.perf_counter()
    _copy_orders(merchant, location, channel, product, [c.pk for c in customers])
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    return merchant


def _columns(model, names: str) -> str:
    """The table columns of ``names`` (field names or attnames, comma-separated), comma-separated."""
    return ", ".join(model._meta.get_field(name.strip()).column for name in names.split(","))


def _copy_orders(merchant, location, channel, product, customer_ids):
    from orders.models import Order, OrderLine

    orders, lines = Order._meta.db_table, OrderLine._meta.db_table
    rng = random.Random(7)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX({Order._meta.pk.column}), 0) FROM {orders}")
        first_id = cursor.fetchone()[0] + 1
    address = json.dumps(
        {
            "name": "Priya Sharma",
            "phone": "+919812345678",
            "line1": "42 Residency Road",
            "line2": "",
            "city": "Bengaluru",
            "state": "Karnataka",
            "postcode": "560025",
            "country": "IN",
        }
    )
    now = datetime.now(UTC)
    order_cols = _columns(
        Order,
        "id, merchant_id, number, channel_id, channel_order_id, status, payment_method, payment_status, "
        "customer_id, is_returning_customer, shipping_address, billing_address, subtotal, discount_total, "
        "shipping_charge, tax_total, total, currency, weight_grams, length_cm, breadth_cm, height_cm, "
        "pickup_location_id, notes, ordered_at, confirmed_at, packed_at, shipped_at, delivered_at, "
        "cancelled_at, cancel_reason, awb, courier, eway_bill_number, created_at, updated_at",
    )
    line_cols = _columns(
        OrderLine,
        "merchant_id, order_id, product_id, sku, name, quantity, unit_price, discount, tax_rate, tax_amount, "
        "hsn_code, total, returned_quantity",
    )
    raw = connection.connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY {orders} ({order_cols}) FROM STDIN") as copy:
            for n in range(ORDERS):
                ordered = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
                packed = ordered + timedelta(hours=rng.uniform(2, 30)) if rng.random() < 0.85 else None
                shipped = packed + timedelta(hours=rng.uniform(4, 40)) if packed and rng.random() < 0.75 else None
                status = "shipped" if shipped else "packed" if packed else "confirmed"
                total = Decimal(499 * (1 + n % 3)).quantize(Decimal("0.01"))
                copy.write_row((
                    first_id + n, merchant.pk, f"B-{n + 1:07d}", channel.pk, f"W{n + 1}", status, "prepaid", "paid",
                    customer_ids[n % len(customer_ids)], False, address, address, total, 0, 0, 0, total, "INR",
                    250, 20, 15, 5, location.pk, "", ordered, ordered, packed, shipped, None, None, "",
                    f"AWB{n:09d}" if shipped else "", "demo" if shipped else "", "", now, now,
                ))  # fmt: skip
        with cur.copy(f"COPY {lines} ({line_cols}) FROM STDIN") as copy:
            for n in range(ORDERS):
                quantity = 1 + n % 3
                copy.write_row((merchant.pk, first_id + n, product.pk, "B-1", "Bench tee", quantity, "499.00", 0, 5,
                                "23.76", "6109", 499 * quantity, 0))  # fmt: skip
        pk = Order._meta.pk.column
        cur.execute(f"SELECT setval(pg_get_serial_sequence(%s, %s), (SELECT max({pk}) FROM {orders}))", [orders, pk])
        cur.execute(f"ANALYZE {orders}")
        cur.execute(f"ANALYZE {lines}")


def _token(merchant) -> str:
    from shopops.models import PartnerApplication
    from tests.shopops.factories import issue_token

    app = PartnerApplication.objects.filter(merchant=merchant).first() or PartnerApplication.objects.create(
        merchant=merchant, name="bench", client_id=f"bench-{merchant.pk}", client_secret="bench-secret",
        client_type="confidential", authorization_grant_type="client-credentials", algorithm="",
    )  # fmt: skip
    return issue_token(app, ["orders:read"])


def _bounds(merchant):
    tz = merchant.tzinfo
    start = datetime.fromisoformat(RANGE[0]).replace(tzinfo=tz)
    end = datetime.fromisoformat(RANGE[1]).replace(tzinfo=tz) + timedelta(days=1)
    return start, end


def _deep_cursor(merchant) -> tuple[int, str]:
    """The cursor of page DEEP_PAGE (or the last full page of a smaller data set) and that page's number."""
    from orders.models import Order
    from shopops.keyset import Keyset

    start, end = _bounds(merchant)
    orders = Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {orders} WHERE merchant_id = %s AND shipped_at >= %s AND shipped_at < %s",
            [merchant.pk, start, end],
        )
        page = min(DEEP_PAGE, cursor.fetchone()[0] // PAGE_SIZE)
        cursor.execute(
            f"SELECT packed_at, id FROM {orders} WHERE merchant_id = %s AND shipped_at >= %s AND shipped_at < %s "
            "ORDER BY packed_at DESC NULLS LAST, id DESC OFFSET %s LIMIT 1",
            [merchant.pk, start, end, (page - 1) * PAGE_SIZE - 1],
        )
        packed_at, order_id = cursor.fetchone()
    return page, Keyset.encode_cursor(["-packed_at", "-id"], [packed_at, order_id])


def _time_api(client, url, headers) -> tuple[float, int, int]:
    timings = []
    for _ in range(3):
        client.get(url, **headers)
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
    with CaptureQueriesContext(connection) as queries:
        rows = len(client.get(url, **headers).json()["results"])
    return statistics.median(timings), len(queries.captured_queries), rows


FLOOR_SQL = """
SELECT o.id, o.number, ch.channel_id, o.channel_order_id, o.status, o.payment_method, o.payment_status,
       c.id, c.name, c.email, c.phone, o.is_returning_customer, o.shipping_address, o.billing_address, o.subtotal,
       o.discount_total, o.shipping_charge, o.tax_total, o.total, o.currency, o.weight_grams, o.length_cm,
       o.breadth_cm, o.height_cm, o.pickup_location_id, o.notes, o.ordered_at, o.confirmed_at, o.packed_at,
       o.shipped_at, o.delivered_at, o.cancelled_at, o.cancel_reason, o.awb, o.courier, o.created_at, o.updated_at,
       o.cod_charge, o.charges_tax_rate, o.shipping_tax, o.cod_tax, o.lut_reference
FROM {orders} o JOIN {channels} ch ON ch.id = o.channel_id JOIN {customers} c ON c.id = o.customer_id
WHERE o.merchant_id = %s AND o.shipped_at >= %s AND o.shipped_at < %s AND o.packed_at < %s {keyset}
ORDER BY o.packed_at DESC NULLS LAST, o.id DESC LIMIT %s
"""
FLOOR_LINES = """
SELECT id, order_id, sku, product_id, name, quantity, unit_price, discount, tax_rate, tax_amount, hsn_code, total,
       returned_quantity, uqc FROM {lines} WHERE order_id = ANY(%s) ORDER BY id
"""


def _floor(merchant, position=None) -> float:
    """The same page by hand: keyset SQL, the lines query, dicts and json.dumps."""
    start, end = _bounds(merchant)
    keyset, params = "", [merchant.pk, start, end, end]
    if position:
        keyset = "AND o.packed_at <= %s AND (o.packed_at < %s OR o.id < %s)"
        params += [position[0], position[0], position[1]]
    from orders.models import Channel, Customer, Order, OrderLine

    sql = FLOOR_SQL.format(keyset=keyset, orders=Order._meta.db_table, channels=Channel._meta.db_table,
                           customers=Customer._meta.db_table)  # fmt: skip
    lines_sql = FLOOR_LINES.format(lines=OrderLine._meta.db_table)
    raw = connection.connection
    timings = []
    for run in range(RUNS + 3):
        started = time.perf_counter()
        with raw.cursor() as cur:
            rows = cur.execute(sql, [*params, PAGE_SIZE + 1]).fetchall()[:PAGE_SIZE]
            lines = cur.execute(lines_sql, [[r[0] for r in rows]]).fetchall()
        by_order = {}
        for line in lines:
            by_order.setdefault(line[1], []).append({
                "id": line[0], "sku": line[2], "product": line[3], "name": line[4], "quantity": line[5],
                "unit_price": str(line[6]), "discount": str(line[7]), "tax_rate": str(line[8]),
                "tax_amount": str(line[9]), "hsn_code": line[10], "uqc": line[13], "total": str(line[11]),
                "returned_quantity": line[12],
            })  # fmt: skip
        names = ["id", "number", "channel", "channel_order_id", "status", "payment_method", "payment_status"]
        results = []
        for r in rows:
            item = dict(zip(names, r[:7], strict=True))
            item["customer"] = {"id": r[7], "name": r[8], "email": r[9], "phone": r[10]}
            item.update({
                "is_returning_customer": r[11], "shipping_address": r[12], "billing_address": r[13],
                "lines": by_order.get(r[0], []), "subtotal": str(r[14]), "discount_total": str(r[15]),
                "shipping_charge": str(r[16]), "tax_total": str(r[17]), "total": str(r[18]), "currency": r[19],
                "weight_grams": r[20], "length_cm": str(r[21]), "breadth_cm": str(r[22]), "height_cm": str(r[23]),
                "pickup_location": r[24], "notes": r[25],
                **{k: v.isoformat() if v else None for k, v in zip(
                    ["ordered_at", "confirmed_at", "packed_at", "shipped_at", "delivered_at", "cancelled_at"],
                    r[26:32], strict=True)},
                "cancel_reason": r[32], "awb": r[33], "courier": r[34], "created_at": r[35].isoformat(),
                "updated_at": r[36].isoformat(), "cod_charge": str(r[37]), "charges_tax_rate": str(r[38]),
                "shipping_tax": str(r[39]), "cod_tax": str(r[40]), "lut_reference": r[41],
            })  # fmt: skip
            results.append(item)
        json.dumps({"next": "x", "previous": None, "results": results})
        if run >= 3:
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def run() -> str:
    merchant = _setup()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {_token(merchant)}"}
    client = Client()
    base = (f"/api/v1/orders/?ship_date_after={RANGE[0]}&ship_date_before={RANGE[1]}"
            f"&ordering=-pack_date&page_size={PAGE_SIZE}")  # fmt: skip
    deep_page, cursor = _deep_cursor(merchant)
    p1, q1, rows1 = _time_api(client, base, headers)
    deep, qdeep, rows_deep = _time_api(client, f"{base}&cursor={cursor}", headers)
    floor1 = _floor(merchant)
    position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["p"]
    position[0] = datetime.fromisoformat(position[0]["dt"])
    floor_deep = _floor(merchant, position)
    print(f"orders: {ORDERS:,}; range {RANGE[0]}..{RANGE[1]} (ship date), ordering -pack_date, {PAGE_SIZE} per page")
    print(f"  page 1:     median {p1:.1f} ms, {q1} queries, {rows1} rows; hand-written SQL+JSON {floor1:.1f} ms")
    print(f"  page {deep_page}:  median {deep:.1f} ms, {qdeep} queries, {rows_deep} rows; "
          f"hand-written SQL+JSON {floor_deep:.1f} ms")  # fmt: skip
    print(f"  page {deep_page} / page 1: {deep / p1:.2f}x (target <= 1.5x); API / floor: {p1 / floor1:.2f}x "
          "(target <= 3x); median target <= 40 ms")  # fmt: skip
    return (
        f"bench orders_list: p1 {p1:.1f} ms, p{deep_page} {deep:.1f} ms, {q1}/{qdeep} queries, "
        f"deep/p1 {deep / p1:.2f}x; ratio {p1 / floor1:.2f}x vs hand-written SQL+JSON ({floor1:.1f} ms)"
    )
