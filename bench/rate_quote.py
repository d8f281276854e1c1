"""Rate quotes: 20 couriers with rate cards for every zone, each serving 20,000 pincodes (400k rows).

Loads every courier's list through ``serviceability_import`` (and times a separate 100k-row import of
one courier), then times ``quote()`` between 1,000 random pairs of real pincodes after a warm-up,
clearing nothing. The floor is the same three SELECTs Django sends for each pair (captured with
CaptureQueriesContext) executed by hand with the psycopg cursor and fetched, measured in the same run.
Targets: p50 <= 5 ms, <= 3 queries a quote, the 100k-row import <= 5 s.

The India Post directory (``indian_pincode``) has 19,586 pincodes; each courier serves all of them
plus 414 well-formed pincodes the directory does not know, to make 20,000. Quotes use only the known ones.
"""

import io
import os
import random
import statistics
import time
from decimal import Decimal

import indian_pincode
from django.db import connection
from django.test.utils import CaptureQueriesContext

COURIERS = 20
PINCODES = 20_000
IMPORT_ROWS = int(os.environ.get("BENCH_QUOTE_IMPORT_ROWS", 100_000))
QUOTES = int(os.environ.get("BENCH_QUOTES", 1000))
WARMUP = 100
SLUG = "bench-quotes"
IMPORT_SLUG = "bench-quotes-import"
ZONES = ("within_city", "within_state", "metro", "rest_of_india", "special")
MODES = ("surface", "air", "express")
HEADER = "pincode,pickup,delivery,cod,reverse,oda\n"


def _pincodes() -> tuple[list[str], list[str]]:
    """(pincodes the directory knows, then enough well-formed unknown ones to make PINCODES)."""
    known = sorted(indian_pincode.get_pincodes())[:PINCODES]
    known_set, extra, n = set(known), [], 100000
    while len(known) + len(extra) < PINCODES:
        if str(n) not in known_set:
            extra.append(str(n))
        n += 1
    return known, extra


def _reset(slug: str, name: str):
    from shipping.models import ServiceablePincode
    from shopops.models import Merchant

    old = Merchant.objects.filter(slug=slug).first()
    if old:
        table, merchant = ServiceablePincode._meta.db_table, ServiceablePincode._meta.get_field("merchant").column
        with connection.cursor() as cursor:  # faster than the ORM's cascade for a few hundred thousand rows
            cursor.execute(f"DELETE FROM {table} WHERE {merchant} = %s", [old.pk])
        old.delete()
    return Merchant.objects.create(name=name, slug=slug)


def _rate_cards(n: int) -> list[dict]:
    """Prices that differ by courier and zone, so the ranking has work to do."""
    cards = []
    for z, zone in enumerate(ZONES):
        base = Decimal(30 + 5 * z + (n * 7) % 23)
        cards.append({"zone": zone, "first_slab_grams": 500, "first_slab_price": base,
                      "additional_slab_grams": 500 if n % 4 else 1000, "additional_slab_price": base - 5,
                      "cod_fixed": Decimal(25 + n % 3 * 5), "cod_percent": Decimal("1.50") + n % 2,
                      "fuel_surcharge_percent": Decimal(n % 4 * 5), "estimated_days": 1 + z + n % 4})  # fmt: skip
    return cards


def _csv(pincodes: list[str], n: int) -> bytes:
    """A courier's file: every pincode picks up and delivers; one in 10 has no COD, one in 7 is ODA."""
    lines = [HEADER]
    for i, pincode in enumerate(pincodes):
        cod = "N" if (i + n) % 10 == 0 else "Y"
        oda = "Y" if (i + n) % 7 == 0 else "N"
        lines.append(f"{pincode},Y,Y,{cod},{'Y' if n % 2 else 'N'},{oda}\n")
    return "".join(lines).encode()


def _setup():
    from shipping.models import ServiceablePincode
    from shipping.services.couriers import courier_create, serviceability_import

    merchant = _reset(SLUG, "Bench quotes")
    known, extra = _pincodes()
    pincodes = known + extra
    started = time.perf_counter()
    for n in range(COURIERS):
        courier = courier_create(merchant=merchant, rate_cards=_rate_cards(n), data={
            "code": f"courier-{n:02d}", "name": f"Courier {n:02d}", "mode": MODES[n % 3],
            "supports_cod": n % 9 != 8, "max_weight_grams": 10_000 if n % 5 == 4 else 30_000})  # fmt: skip
        result = serviceability_import(courier=courier, fileobj=io.BytesIO(_csv(pincodes, n)))
        assert (result.imported, result.errors) == (PINCODES, []), result.errors[:3]
    loaded = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ServiceablePincode._meta.db_table}")
    print(f"setup: {COURIERS} couriers x {PINCODES:,} pincodes ({len(known):,} known to the directory) = "
          f"{COURIERS * PINCODES:,} rows through serviceability_import in {loaded:.1f} s "
          f"({COURIERS * PINCODES / loaded:,.0f} rows/s)")  # fmt: skip
    return merchant, known


def _time_import() -> tuple[float, int]:
    """One courier's 100k-row file (6-digit pincodes from 100000 up), end to end through the service."""
    from shipping.services.couriers import courier_create, serviceability_import

    merchant = _reset(IMPORT_SLUG, "Bench quotes import")
    courier = courier_create(merchant=merchant, data={"code": "big", "name": "Big courier"})
    data = _csv([str(100000 + i) for i in range(IMPORT_ROWS)], 1)
    started = time.perf_counter()
    result = serviceability_import(courier=courier, fileobj=io.BytesIO(data))
    elapsed = time.perf_counter() - started
    assert (result.imported, result.errors) == (IMPORT_ROWS, []), result.errors[:3]
    return elapsed, len(data)


def _quote(merchant, pickup: str, delivery: str, n: int):
    from shipping.selectors import quote

    return quote(merchant=merchant, pickup_postcode=pickup, delivery_postcode=delivery, weight_grams=800 + n % 5 * 700,
                 cod=n % 2 == 0, declared_value=Decimal("1499.00"), length_cm=Decimal("20"),
                 breadth_cm=Decimal("15"), height_cm=Decimal("10"))  # fmt: skip


def _percentiles(timings: list[float]) -> tuple[float, float]:
    return statistics.median(timings), statistics.quantiles(timings, n=20)[18]


def run() -> str:
    merchant, known = _setup()
    import_s, import_bytes = _time_import()
    rng = random.Random(11)
    pairs = [(rng.choice(known), rng.choice(known)) for _ in range(QUOTES + WARMUP)]
    warmup, pairs = pairs[:WARMUP], pairs[WARMUP:]
    for n, (pickup, delivery) in enumerate(warmup):
        _quote(merchant, pickup, delivery, n)

    timings, priced, blocked, zones = [], 0, 0, {}
    for n, (pickup, delivery) in enumerate(pairs):
        started = time.perf_counter()
        result = _quote(merchant, pickup, delivery, n)
        timings.append((time.perf_counter() - started) * 1000)
        priced, blocked = priced + len(result.couriers), blocked + len(result.blocked)
        zones[result.zone] = zones.get(result.zone, 0) + 1
    p50, p95 = _percentiles(timings)

    # The floor: for each pair, the SQL Django sent (captured once), re-run by hand with the psycopg cursor.
    statements = []
    for n, (pickup, delivery) in enumerate(pairs):
        with CaptureQueriesContext(connection) as captured:
            _quote(merchant, pickup, delivery, n)
        statements.append([q["sql"] for q in captured.captured_queries])
    queries = len(statements[0])
    assert {len(s) for s in statements} == {queries}, "the query count varies between quotes"
    raw = connection.connection
    floor_timings = []
    for run_ in range(2):  # the first pass warms up
        for sqls in statements:
            started = time.perf_counter()
            with raw.cursor() as cur:
                for sql in sqls:
                    cur.execute(sql).fetchall()
            if run_:
                floor_timings.append((time.perf_counter() - started) * 1000)
    floor50, floor95 = _percentiles(floor_timings)
    rate = IMPORT_ROWS / import_s

    print(f"quotes: {QUOTES:,} random pairs of the {len(known):,} known pincodes after {WARMUP} warm-up quotes; "
          f"{priced / QUOTES:.1f} couriers priced and {blocked / QUOTES:.1f} blocked a quote; zones "
          + ", ".join(f"{z} {c}" for z, c in sorted(zones.items())))  # fmt: skip
    print(f"  quote():             p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {max(timings):.2f} ms, {queries} queries "
          "(targets: p50 <= 5 ms, <= 3 queries)")  # fmt: skip
    print(f"  same SQL by hand:    p50 {floor50:.2f} ms, p95 {floor95:.2f} ms (psycopg cursor, fetchall)")
    print(f"  quote / floor:       {p50 / floor50:.1f}x at p50")
    print(f"import: {IMPORT_ROWS:,} rows ({import_bytes / 1e6:.1f} MB) through serviceability_import in "
          f"{import_s:.2f} s, {rate:,.0f} rows/s (target <= 5 s)")  # fmt: skip
    return (f"bench rate_quote: p50 {p50:.2f} ms, p95 {p95:.2f} ms, {queries} queries, import {rate:,.0f} rows/s; "
            f"ratio {p50 / floor50:.1f}x vs the same SQL by hand ({floor50:.2f} ms)")  # fmt: skip
