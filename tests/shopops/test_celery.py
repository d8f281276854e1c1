"""Celery: the app's configuration, and a task executed by a real worker on the broker."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from shopops import tasks
from shopops.celery import app
from shopops.models import IdempotencyKey
from tests.shopops.factories import aged_idempotency_key

ROOT = Path(__file__).resolve().parents[2]


def test_app_declares_the_five_queues_and_reliable_defaults():
    assert [queue.name for queue in app.conf.task_queues] == [
        "default",
        "imports",
        "documents",
        "notifications",
        "webhooks",
    ]
    assert [queue.name for queue in app.conf.task_queues] == settings.CELERY_TASK_QUEUES_NAMES
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit == 360
    assert app.conf.task_soft_time_limit == 300


def test_beat_schedule_prunes_idempotency_keys_hourly():
    entry = settings.CELERY_BEAT_SCHEDULE["idempotency-keys-prune"]

    assert entry["task"] == "shopops.tasks.idempotency_keys_prune"
    assert entry["schedule"] == timedelta(hours=1)
    assert entry["task"] in app.tasks


def test_every_scheduled_task_exists_and_every_task_can_be_queued():
    # A soft time limit above the hard one makes Celery refuse to queue the task at all.
    app.loader.import_default_modules()
    apps = ("shopops", "catalog", "orders", "shipping")
    ours = {name: task for name, task in app.tasks.items() if name.split(".")[0] in apps}
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in ours
    for name, task in ours.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft <= hard, f"{name}: soft time limit {soft} s above the hard limit {hard} s"


def _old_and_fresh_keys(merchant):
    aged_idempotency_key(merchant, "old", timedelta(hours=30))
    aged_idempotency_key(merchant, "fresh", timedelta(minutes=5))


def test_prune_task_called_as_a_function(merchant):
    _old_and_fresh_keys(merchant)

    assert tasks.idempotency_keys_prune() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.fixture
def real_worker():
    """A Celery worker process on the configured broker, using the test database."""
    if not settings.CELERY_BROKER_URL:
        pytest.skip("needs a broker: set CELERY_BROKER_URL (CI uses redis://127.0.0.1:6379/0)")
    if connection.vendor != "postgresql":
        pytest.skip("the worker process must share the test database: set DATABASE_URL to PostgreSQL")
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "shopops",
            "worker",
            "--pool=solo",
            "-Q",
            "default",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"test-{os.getpid()}@%h",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
    )
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        app.conf.task_always_eager = eager
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_prune_task_on_the_broker(real_worker, merchant):
    _old_and_fresh_keys(merchant)

    tasks.idempotency_keys_prune.apply_async(queue="default")  # results are not stored: the rows tell
    deadline = time.monotonic() + 60
    while IdempotencyKey.objects.count() != 1 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    assert real_worker.poll() is None
