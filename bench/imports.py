"""Order import: 100k orders with 200k lines from CSV, end to end through the import service.

The floor is plain SQL writing the same rows into the same tables, measured in the same run: the customers,
orders, lines and events the import wrote are copied out (with new ids, under another merchant, channel,
location and products) to files, then written back with one ``COPY`` per table in one transaction, the indexes
and constraints in place and the foreign keys checked at commit. Target: the import within 2x that floor;
memory flat with file size (``BENCH_IMPORT_MEMORY=1`` also imports the file and a 1M-line one, each in a
child process, and compares peak RSS). The raw ``COPY`` of the file into a text table is printed for scale.
"""

import csv
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from django.core.files import File
from django.db import connection, transaction

from orders.imports.jobs import import_create, import_run
from orders.imports.parse import ORDER_COLUMNS

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


def _written_models():
    from orders.models import Customer, Order, OrderEvent, OrderLine

    return [OrderEvent, OrderLine, Order, Customer]  # children first


def _drop_merchant(slug: str) -> None:
    """Delete a bench merchant and what it wrote, faster than the ORM's cascade for a few hundred thousand rows."""
    from shopops.models import Merchant

    old = Merchant.objects.filter(slug=slug).first()
    if old is None:
        return
    with connection.cursor() as cursor:
        for model in _written_models():
            merchant = model._meta.get_field("merchant").column
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE {merchant} = %s", [old.pk])
    old.delete()
    with connection.cursor() as cursor:  # as autovacuum would: the deleted rows do not weigh on the next run
        for model in _written_models():
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def _merchant(slug: str = SLUG):
    from catalog.models import Location, Product
    from orders.models import Channel
    from shopops.models import Merchant

    _drop_merchant(slug)
    merchant = Merchant.objects.create(name=f"Bench {slug}", slug=slug)
    Location.objects.create(merchant=merchant, nickname="wh", name="Warehouse", line1="1 Road", city="Bengaluru",
                            state="Karnataka", postcode="560001", is_default=True)  # fmt: skip
    Channel.objects.create(merchant=merchant, name="Web", kind="custom", channel_id=f"ch_{slug}")
    Product.objects.bulk_create([Product(merchant=merchant, sku=f"SKU-{i}", title=f"Product {i}", price=499)
                                 for i in range(50)])  # fmt: skip
    return merchant


def _raw_copy(path: Path) -> float:
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


def _plain_sql_floor(source) -> float:
    """Seconds to write the rows the import wrote for ``source`` (customers, orders, lines, events) again, with
    plain SQL: one COPY per table in one transaction, foreign keys checked at commit. The rows are read out first
    (not timed) to files, with new ids and another merchant's channel, location and products."""
    from catalog.models import Location, Product
    from orders.models import Channel, Customer, Order, OrderEvent, OrderLine

    target = _merchant(f"{SLUG}-floor")
    source_product = {p.sku: p.pk for p in Product.objects.filter(merchant=source)}
    product_map = {source_product[p.sku]: p.pk for p in Product.objects.filter(merchant=target)}
    replace = {
        "merchant": target.pk,
        "channel": Channel.objects.get(merchant=target).pk,
        "pickup_location": Location.objects.get(merchant=target).pk,
    }
    shift = {model: _reserve_ids(model, source) for model in (Customer, Order, OrderLine, OrderEvent)}
    references = {"customer": Customer, "order": Order}
    raw, files = connection.connection, {}
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS bench_product_map (old bigint PRIMARY KEY, new bigint)")
        cursor.execute("TRUNCATE bench_product_map")
        cursor.executemany("INSERT INTO bench_product_map VALUES (%s, %s)", list(product_map.items()))
    for model in (Customer, Order, OrderLine, OrderEvent):
        meta, select = model._meta, []
        for f in meta.concrete_fields:
            if f.primary_key:
                select.append(f"t.{f.column} + {shift[model]}")
            elif f.name in replace:
                select.append(str(replace[f.name]))
            elif f.name in references:
                select.append(f"t.{f.column} + {shift[references[f.name]]}")
            elif f.name == "product":
                select.append(f"(SELECT new FROM bench_product_map WHERE old = t.{f.column})")
            else:
                select.append(f"t.{f.column}")
        merchant = meta.get_field("merchant").column
        query = f"SELECT {', '.join(select)} FROM {meta.db_table} t WHERE t.{merchant} = {source.pk}"
        files[model] = CACHE / f"floor-{meta.db_table}.copy"
        with raw.cursor() as cur, files[model].open("wb") as fh, cur.copy(f"COPY ({query}) TO STDOUT") as copy:
            for data in copy:
                fh.write(data)
    started = time.perf_counter()
    with transaction.atomic():
        for model in (Customer, Order, OrderLine, OrderEvent):
            columns = ", ".join(f.column for f in model._meta.concrete_fields)
            with (
                raw.cursor() as cur,
                files[model].open("rb") as fh,
                cur.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy,
            ):
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
    elapsed = time.perf_counter() - started  # the commit, and so the deferred foreign-key checks, included
    for path in files.values():
        path.unlink()
    _drop_merchant(target.slug)
    return elapsed


def _reserve_ids(model, source) -> int:
    """The offset that moves the ids of ``source``'s rows of ``model`` past the table's sequence, which is
    moved on past them."""
    meta = model._meta
    table, pk, merchant = meta.db_table, meta.pk.column, meta.get_field("merchant").column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min({pk}), max({pk}) FROM {table} WHERE {merchant} = %s", [source.pk])
        low, high = cursor.fetchone()
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s))", [table, pk])
        start = cursor.fetchone()[0]
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, %s), %s)", [table, pk, start + high - low + 1])
    return start - low


def _import(path: Path, policy: str) -> tuple[float, object]:

    merchant = _merchant()
    with path.open("rb") as fh:
        job = import_create(merchant=merchant, kind="orders", upload=File(fh, name=path.name),
                                    file_name=path.name, dry_run=False, error_policy=policy,
                                    actor="system")  # fmt: skip
    started = time.perf_counter()
    job = import_run(job_id=job.pk)
    return time.perf_counter() - started, job


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run() -> str:
    path = CACHE / f"orders-{ORDERS}.csv"
    generate(path, ORDERS)
    lines = ORDERS * 2
    size_mb = path.stat().st_size / 1e6
    copy_s = _raw_copy(path)
    single_s, job = _import(path, "skip_failed_rows")
    assert (job.status, job.created_count, job.failed_count) == ("done", ORDERS, 0), (job.status, job.error)
    rss = _peak_rss_mb()
    floor_s = _plain_sql_floor(job.merchant)
    checked_s, job = _import(path, "reject_file")
    assert (job.status, job.created_count) == ("done", ORDERS), (job.status, job.error)
    print(f"file: {ORDERS:,} orders, {lines:,} lines, {size_mb:.1f} MB")
    print(f"  raw COPY of the file into a text table: {copy_s:.2f} s")
    print(f"  plain SQL writing the same rows (one COPY per table, one transaction, FK checks at commit): "
          f"{floor_s:.2f} s")  # fmt: skip
    print(f"  import, skip_failed_rows (one pass): {single_s:.2f} s, {lines / single_s:,.0f} lines/s, "
          f"{single_s / floor_s:.2f}x plain SQL")  # fmt: skip
    print(f"  import, reject_file (check the whole file, then write): {checked_s:.2f} s, "
          f"{lines / checked_s:,.0f} lines/s, {checked_s / floor_s:.2f}x plain SQL")  # fmt: skip
    print(f"  peak RSS of this process after the one-pass import: {rss:.0f} MB (target: within 2x plain SQL)")
    memory = ""
    if os.environ.get("BENCH_IMPORT_MEMORY"):
        memory = "; " + _memory_check()
    return (f"bench imports: {lines / single_s:,.0f} lines/s, {single_s:.1f} s one pass, {checked_s:.1f} s "
            f"checked first{memory}; ratio {single_s / floor_s:.2f}x vs plain SQL {floor_s:.1f} s")  # fmt: skip


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
