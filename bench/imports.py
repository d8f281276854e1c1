"""Order import: 100k orders with 200k lines from CSV, end to end through the import service.

The floor is PostgreSQL's own ``COPY`` of the same file into a table of text
columns, measured in the same run. Targets (DESIGN.md section 8): <= 10 s and
<= 8x the COPY; memory flat with file size (``BENCH_IMPORT_MEMORY=1`` also
imports the file and a 1M-line one, each in a child process, and compares peak RSS).
"""

import csv
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from django.core.files import File
from django.db import connection

from orders.imports import ORDER_COLUMNS

ORDERS = int(os.environ.get("BENCH_IMPORT_ORDERS", 100_000))
CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/shopops-bench"))
SLUG = "bench-imports"
STATES = [
    ("Karnataka", "Bengaluru", "5600"), ("Maharashtra", "Mumbai", "4000"), ("Delhi", "New Delhi", "1100"),
    ("Tamil Nadu", "Chennai", "6000"), ("Telangana", "Hyderabad", "5000"), ("West Bengal", "Kolkata", "7000"),
]  # fmt: skip


def generate(path: Path, orders: int) -> None:
    """A file in the import format: ``orders`` orders of two lines, 5,000 customers, realistic addresses."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(ORDER_COLUMNS)
        for n in range(orders):
            state, city, prefix = STATES[n % len(STATES)]
            customer = n % 5000
            head = {"channel": "Web", "channel_order_id": f"B{n + 1:07d}", "status": "new",
                    "ordered_at": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T10:{n % 60:02d}:00+05:30",
                    "payment_method": "cod" if n % 3 else "prepaid", "customer_name": f"Customer {customer}",
                    "customer_email": f"c{customer}@example.in", "customer_phone": f"+9198{customer:08d}",
                    "shipping_name": f"Customer {customer}", "shipping_phone": f"+9198{customer:08d}",
                    "shipping_line1": f"{customer % 97 + 1} Main Road", "shipping_city": city,
                    "shipping_state": state, "shipping_postcode": f"{prefix}{customer % 90 + 10:02d}",
                    "shipping_country": "IN", "shipping_charge": "49.00", "pickup_location": "wh"}  # fmt: skip
            for sku, quantity in ((f"SKU-{n % 50}", 1 + n % 2), (f"SKU-{(n + 7) % 50}", 1)):
                row = head | {"sku": sku, "quantity": str(quantity), "unit_price": "499.00"}
                writer.writerow([row.get(column, "") for column in ORDER_COLUMNS])
    tmp.rename(path)


def _merchant():
    from catalog.models import Location, Product
    from orders.models import Channel
    from shopops.models import Merchant

    old = Merchant.objects.filter(slug=SLUG).first()
    if old:
        tables = ("orders_orderevent", "orders_orderline", "orders_order", "orders_customer")
        with connection.cursor() as cursor:  # faster than the ORM's cascade for a few hundred thousand rows
            for table in tables:
                cursor.execute(f"DELETE FROM {table} WHERE merchant_id = %s", [old.pk])
        old.delete()
        with connection.cursor() as cursor:  # as autovacuum would: the deleted rows do not weigh on the next run
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")
    merchant = Merchant.objects.create(name="Bench imports", slug=SLUG)
    Location.objects.create(merchant=merchant, nickname="wh", name="Warehouse", line1="1 Road", city="Bengaluru",
                            state="Karnataka", postcode="560001", is_default=True)  # fmt: skip
    Channel.objects.create(merchant=merchant, name="Web", kind="custom", channel_id=f"ch_{SLUG}")
    Product.objects.bulk_create([Product(merchant=merchant, sku=f"SKU-{i}", title=f"Product {i}", price=499)
                                 for i in range(50)])  # fmt: skip
    return merchant


def _copy_floor(path: Path) -> float:
    columns = ", ".join(f"{c} text" for c in ORDER_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS bench_copy ({columns})")
        cursor.execute("TRUNCATE bench_copy")
    raw = connection.connection
    started = time.perf_counter()
    with (
        raw.cursor() as cur,
        path.open("rb") as fh,
        cur.copy("COPY bench_copy FROM STDIN (FORMAT csv, HEADER true)") as copy,
    ):
        while chunk := fh.read(1 << 20):
            copy.write(chunk)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy")
    return elapsed


def _import(path: Path, policy: str) -> tuple[float, object]:
    from orders import imports

    merchant = _merchant()
    with path.open("rb") as fh:
        job = imports.import_create(merchant=merchant, kind="orders", upload=File(fh, name=path.name),
                                    file_name=path.name, dry_run=False, error_policy=policy,
                                    actor="system")  # fmt: skip
    started = time.perf_counter()
    job = imports.import_run(job_id=job.pk)
    return time.perf_counter() - started, job


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run() -> str:
    path = CACHE / f"orders-{ORDERS}.csv"
    generate(path, ORDERS)
    lines = ORDERS * 2
    size_mb = path.stat().st_size / 1e6
    copy_s = _copy_floor(path)
    single_s, job = _import(path, "skip_failed_rows")
    assert (job.status, job.created_count, job.failed_count) == ("done", ORDERS, 0), (job.status, job.error)
    checked_s, job = _import(path, "reject_file")
    assert (job.status, job.created_count) == ("done", ORDERS), (job.status, job.error)
    print(f"file: {ORDERS:,} orders, {lines:,} lines, {size_mb:.1f} MB")
    print(f"  COPY of the file into a text table: {copy_s:.2f} s")
    print(f"  import, skip_failed_rows (one pass): {single_s:.2f} s, {lines / single_s:,.0f} lines/s, "
          f"{single_s / copy_s:.1f}x COPY")  # fmt: skip
    print(f"  import, reject_file (check the whole file, then write): {checked_s:.2f} s, "
          f"{lines / checked_s:,.0f} lines/s, {checked_s / copy_s:.1f}x COPY")  # fmt: skip
    print(f"  peak RSS of this process: {_peak_rss_mb():.0f} MB (targets: <= 10 s, <= 8x COPY)")
    memory = ""
    if os.environ.get("BENCH_IMPORT_MEMORY"):
        memory = "; " + _memory_check()
    return (f"bench imports: {lines / single_s:,.0f} lines/s, {single_s:.1f} s one pass, {checked_s:.1f} s "
            f"checked first{memory}; ratio {single_s / copy_s:.1f}x vs COPY ({copy_s:.2f} s)")  # fmt: skip


def _memory_check() -> str:
    """Peak RSS of importing the file and one of 1M lines (5x), each in a fresh child process."""
    peaks = {}
    for orders in (ORDERS, ORDERS * 5):
        path = CACHE / f"orders-{orders}.csv"
        generate(path, orders)
        code = ("import os, django; django.setup(); from bench import imports as b; from pathlib import Path; "
                f"b._import(Path({str(path)!r}), 'skip_failed_rows'); print(b._peak_rss_mb())")  # fmt: skip
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
        peaks[orders] = float(out.stdout.strip().splitlines()[-1])
        print(f"  peak RSS importing {orders * 2:,} lines: {peaks[orders]:.0f} MB")
    growth = peaks[ORDERS * 5] - peaks[ORDERS]
    print(f"  memory growth from {ORDERS * 2:,} to {ORDERS * 10:,} lines: {growth:.0f} MB (target <= 200 MB)")
    return f"+{growth:.0f} MB from {ORDERS * 2:,} to {ORDERS * 10:,} lines"
