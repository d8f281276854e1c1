"""A real Celery worker on the Redis broker delivers webhooks from the ``webhooks`` queue to a local server."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from orders.services.create import order_create
from orders.services.orders import order_confirm
from shopops.celery import app
from shopops.webhooks.models import WebhookDelivery
from tests.orders.factories import order_data
from tests.shopops.test_webhooks_signing import readme_verify
from tests.shopops.webhooks import SECRET, WebhookEndpointFactory

ROOT = Path(__file__).resolve().parents[2]


def _purge() -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("webhooks")


@pytest.fixture
def webhooks_worker():
    """A worker (solo pool) on the webhooks queue, the Redis broker and the test database, allowed to post to
    127.0.0.1 (WEBHOOKS_ALLOW_PRIVATE_URLS)."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip("needs the Redis broker: set CELERY_BROKER_URL (CI uses redis://127.0.0.1:6379/0)")
    if connection.vendor != "postgresql":
        pytest.skip("the worker process must share the test database: set DATABASE_URL to PostgreSQL")
    db = connection.settings_dict
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    env = os.environ | {
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "WEBHOOKS_ALLOW_PRIVATE_URLS": "1",
    }
    _purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "shopops", "worker", "--pool=solo", "-Q", "webhooks",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"webhooks-{os.getpid()}@%h",
         "--loglevel=WARNING"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        app.conf.task_always_eager = eager
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        _purge()


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_signed_events_in_order(webhooks_worker, receiver, merchant):
    endpoint = WebhookEndpointFactory(merchant=merchant, url=receiver.url, events=["order.created", "order.updated"])

    order = order_create(merchant=merchant, data=order_data(merchant), actor="system")  # committed
    order_confirm(order=order, actor="system")

    deadline = time.monotonic() + 60
    while WebhookDelivery.objects.filter(endpoint=endpoint, status="succeeded").count() < 2:
        assert webhooks_worker.poll() is None, "the worker exited"
        assert time.monotonic() < deadline, "not delivered within 60 s"
        time.sleep(0.05)
    events = [json.loads(request.body) for request in receiver.requests]
    assert [(e["type"], e["data"]["order"]["status"]) for e in events] == [
        ("order.created", "new"), ("order.updated", "confirmed")]  # fmt: skip
    assert all(readme_verify(SECRET, r.headers["ShopOps-Signature"], r.body) for r in receiver.requests)
    assert [e["id"] for e in events] == list(
        WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id").values_list("event_id", flat=True)
    )
