"""Order imports on real Celery workers: a job run end to end on the broker, and a job whose worker was killed.

The workers are separate processes on the Redis broker and the test database,
consuming the ``imports`` queue as in production. A killed worker never
acknowledges its message (``acks_late``); Redis hands it out again once it has
been unacknowledged for the visibility timeout, and the job resumes from its
last committed chunk (``next_row``).
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.core.files import File
from django.db import connection
from django.db.models import Count

from orders.imports.jobs import import_submit
from orders.imports.parse import ORDER_COLUMNS, TEMPLATES
from orders.models import BulkImport, ErrorPolicy, ImportKind, ImportStatus, Order, OrderLine
from shopops.celery import app
from tests import settings as test_settings
from tests.catalog.factories import LocationFactory, ProductFactory
from tests.orders.factories import ChannelFactory

ROOT = Path(__file__).resolve().parents[2]
#: The recovering worker's visibility timeout: it redelivers messages unacknowledged for longer than this.
VISIBILITY_TIMEOUT = 5

pytestmark = [
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
        reason="needs the Redis broker: set CELERY_BROKER_URL (CI uses redis://127.0.0.1:6379/0)",
    ),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker processes must share the test database: set DATABASE_URL to PostgreSQL",
    ),
]


def _purge_imports_queue() -> None:
    """Empty the imports queue and drop its unacknowledged messages left by earlier runs (killed workers)."""
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("imports")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        for tag, payload in client.hgetall("unacked").items():
            _message, exchange, routing_key = json.loads(payload)
            if "imports" in (exchange, routing_key):
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


def _stop(worker: subprocess.Popen) -> None:
    """Warm shutdown of the worker's process group, killed if it has not stopped within 10 s."""
    if worker.poll() is not None:
        return
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


@pytest.fixture
def start_worker():
    """Start Celery workers (solo pool) on the imports queue and the test database; none outlives the test."""
    db = connection.settings_dict
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    database_url = f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    started: list[subprocess.Popen] = []

    def start(**env: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "celery", "-A", "shopops", "worker", "--pool=solo", "-Q", "imports",
                   "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "-n", f"imports-{len(started)}-{os.getpid()}@%h", "--loglevel=WARNING"]  # fmt: skip
        worker = subprocess.Popen(
            command,
            cwd=ROOT,
            env=os.environ | {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "tests.settings"} | env,
            start_new_session=True,  # its own process group, killed as a whole
        )
        started.append(worker)
        return worker

    _purge_imports_queue()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield start
    finally:
        app.conf.task_always_eager = eager
        for worker in started:
            _stop(worker)
        _purge_imports_queue()


@pytest.fixture
def shop(merchant, settings):
    """The merchant with the channel, location and products the file names; uploads where the workers read them."""
    settings.MEDIA_ROOT = test_settings.MEDIA_ROOT  # the workers run on tests.settings, not this test's tmp media
    ChannelFactory(merchant=merchant, name="Website", kind="custom")
    LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    ProductFactory(merchant=merchant, sku="TEE-RED-M", price="499.00")
    ProductFactory(merchant=merchant, sku="TEE-BLU-L", price="599.00")
    yield merchant
    for job in BulkImport.objects.filter(merchant=merchant):
        job.file.delete(save=False)


def _write_orders_csv(path: Path, orders: int) -> dict[str, int]:
    """A file of ``orders`` orders shaped like the import template; every third has a second line.

    Returns each channel order id with its number of lines.
    """
    template = dict(zip(ORDER_COLUMNS, TEMPLATES[ImportKind.ORDERS][1][0], strict=True))
    second_line = {"sku": "TEE-BLU-L", "name": "Cotton crew T-shirt (blue, L)", "quantity": "1",
                   "unit_price": "599.00"}  # fmt: skip
    lines = {}
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(ORDER_COLUMNS)
        for n in range(orders):
            customer = n % 1000
            phone = f"+91981{customer:07d}"
            order_id = f"WEB-{n + 1:06d}"
            two_lines = n % 3 == 0
            head = template | {
                "channel_order_id": order_id, "customer_name": f"Customer {customer}", "customer_phone": phone,
                "customer_email": f"c{customer}@example.in", "shipping_name": f"Customer {customer}",
                "shipping_phone": phone, "total": "1646.00" if two_lines else "1047.00",
            }  # fmt: skip
            rows = [head, head | second_line] if two_lines else [head]
            writer.writerows([row[column] for column in ORDER_COLUMNS] for row in rows)
            lines[order_id] = len(rows)
    return lines


def _create_job(merchant, path: Path) -> BulkImport:
    with path.open("rb") as fh:
        return import_submit(merchant=merchant, kind=ImportKind.ORDERS, upload=File(fh, name=path.name),
                                     file_name=path.name, dry_run=False, error_policy=ErrorPolicy.REJECT_FILE,
                                     actor="system")  # fmt: skip


def _finished(job: BulkImport, worker: subprocess.Popen, *, timeout: float) -> None:
    _wait_for(lambda: BulkImport.objects.filter(pk=job.pk, status=ImportStatus.DONE).exists(), timeout=timeout,
              what="finished import", worker=worker)  # fmt: skip


def _job_counts(job: BulkImport) -> tuple:
    job.refresh_from_db()
    return (job.status, job.error, job.total_rows, job.processed_rows, job.created_count, job.skipped_count,
            job.failed_count, job.next_row)  # fmt: skip


def _lines_per_order(merchant) -> dict[str, int]:
    orders = Order.objects.filter(merchant=merchant).annotate(line_count=Count("lines"))
    return dict(orders.values_list("channel_order_id", "line_count"))


def _wait_for(condition, *, timeout: float, what: str, worker: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.02)


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_imports_queue_imports_the_file(start_worker, shop, tmp_path):
    lines = _write_orders_csv(tmp_path / "orders-300.csv", 300)
    job = _create_job(shop, tmp_path / "orders-300.csv")  # sent to the imports queue once created
    worker = start_worker()

    _finished(job, worker, timeout=120)
    rows = sum(lines.values())
    assert rows == 400
    assert _job_counts(job) == (ImportStatus.DONE, "", rows, rows, 300, 0, 0, rows + 2)
    assert Order.objects.filter(merchant=shop).count() == 300
    assert _lines_per_order(shop) == lines
    assert worker.poll() is None


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_was_killed_is_redelivered_and_imports_each_order_once(start_worker, shop, tmp_path):
    lines = _write_orders_csv(tmp_path / "orders-20000.csv", 20_000)
    rows = sum(lines.values())
    job = _create_job(shop, tmp_path / "orders-20000.csv")  # sent to the imports queue once created
    first = start_worker()
    _wait_for(
        lambda: BulkImport.objects.filter(pk=job.pk, status=ImportStatus.IMPORTING, next_row__gt=0).exists(),
        timeout=60,
        what="committed chunk",
        worker=first,
    )

    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    # killed mid-file: the committed chunks, their counters and the resume point agree
    status, _, _, processed, created, skipped, failed, next_row = _job_counts(job)
    written = _lines_per_order(shop)
    assert status == ImportStatus.IMPORTING
    assert 0 < created < 20_000
    assert (skipped, failed) == (0, 0)
    assert written == dict(list(lines.items())[:created])  # the file's first orders, each with all its lines
    assert processed == sum(written.values()) == next_row - 2

    # The message is still unacknowledged (acks_late). A worker redelivers the messages unacknowledged for longer
    # than its visibility timeout when it starts (then every 10 x unacked_restore_interval s): start one with a
    # short timeout once the message, delivered before the job started, is older than that.
    time.sleep(max(0.0, job.started_at.timestamp() + VISIBILITY_TIMEOUT + 1 - time.time()))
    second = start_worker(CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT))

    _finished(job, second, timeout=60)  # the same message, redelivered: no new one was sent
    assert _job_counts(job) == (ImportStatus.DONE, "", rows, rows, 20_000, 0, 0, rows + 2)
    orders = Order.objects.filter(merchant=shop)
    assert orders.count() == orders.values("channel_order_id").distinct().count() == 20_000
    assert _lines_per_order(shop) == lines
    assert OrderLine.objects.filter(merchant=shop).count() == rows
