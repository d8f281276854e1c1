"""Sending work to the workers: the job's row is the truth, the broker's message only wakes a worker.

Every job (an import, a document, a ship batch, a notification, a webhook delivery) is committed as a row before
anything is sent. The message is published after commit (``send_on_commit``), once, with a short connect timeout
and no publish retries; a broker that cannot be reached is logged and counted, never raised, so the request that
made the job answers as usual (202, the job queued). For ``BROKER_RETRY_AFTER`` after a failure a process sends
nothing more (each send would wait for the broker again): what it skips is sent by the sweep.

The sweep (``jobs_requeue``, Celery beat) sends again each registered job still waiting ``JOB_REQUEUE_AFTER``
after it was last sent (its message never published, or lost with the broker), and stamps it, so a job is sent
at most once per period. A job may therefore be delivered twice; workers claim it under its row lock (a
conditional move out of its waiting status) and a second delivery finds it taken and does nothing. Webhook
deliveries have a sweep of their own (``shopops.webhooks``, with their retry schedule).
"""

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from shopops.integrations import outside_transaction

logger = logging.getLogger(__name__)

#: After the broker refused a message, a process sends nothing for this long: the sweep sends what it skipped.
BROKER_RETRY_AFTER = 5.0
#: How many sends each process could not make since it started (shown by /healthz).
STATS = {"failed": 0, "skipped": 0}
_lock = threading.Lock()
_down_until = 0.0


def _mark_down(task: str, exc: Exception) -> None:
    global _down_until
    with _lock:
        _down_until = time.monotonic() + BROKER_RETRY_AFTER
        STATS["failed"] += 1
    logger.warning("The broker did not take %s (%s); the job stays queued and the sweep sends it again", task, exc)


def _task(name: str):
    """The registered task ``name`` (each app imports its tasks when it is ready, in every process)."""
    return current_app.tasks[name]


def send(task: str, *args, **options) -> bool:
    """Publish ``task`` (a registered name) with ``args``: True once the broker has it. A broker that cannot be
    reached (or was not, moments ago) is logged and counted: False. Without a broker the task runs eagerly, here,
    and what it raises is raised. Refused inside a transaction (``TransactionOpen``): use ``send_on_commit``."""
    if current_app.conf.task_always_eager:
        _task(task).apply_async(args=args, **options)
        return True
    # Published inside a transaction, the message could reach a worker before the row it names is committed (or
    # name one that is rolled back): send_on_commit.
    outside_transaction(f"send {task}")
    if time.monotonic() < _down_until:
        with _lock:
            STATS["skipped"] += 1
        logger.debug("Broker down: %s%r left for the sweep", task, args)
        return False
    try:
        _task(task).apply_async(args=args, retry=False, **options)
    except BrokerError as exc:
        _mark_down(task, exc)
        return False
    return True


def send_on_commit(task: str, *args, **options) -> None:
    """Publish ``task`` once the current transaction commits (at once outside one); see ``send``."""
    transaction.on_commit(partial(send, task, *args, **options))


@dataclass(frozen=True)
class Waiting:
    """A kind of job the sweep looks after: rows of ``model`` in one of ``statuses`` wait for a worker, which
    ``task`` (called with the row's id) claims."""

    model: type[models.Model]
    task: str
    statuses: tuple[str, ...]
    stamp: str = "queued_at"


WAITING: list[Waiting] = []


def sweep(model: type[models.Model], task: str, statuses: Iterable[str], stamp: str = "queued_at") -> None:
    """Register a job kind with the sweep (each app, for its own jobs)."""
    WAITING.append(Waiting(model, task, tuple(statuses), stamp))


def jobs_requeue(*, now: datetime | None = None, older_than: timedelta | None = None, limit: int = 500) -> int:
    """Send again each waiting job last sent over ``older_than`` ago (``JOB_REQUEUE_AFTER``), oldest first, at most
    ``limit`` of each kind; returns how many the broker took."""
    now = now or timezone.now()
    before = now - (older_than or settings.JOB_REQUEUE_AFTER)
    sent = 0
    for kind in WAITING:
        rows = kind.model._default_manager.filter(status__in=kind.statuses, **{f"{kind.stamp}__lt": before})
        ids = list(rows.order_by(kind.stamp, "pk").values_list("pk", flat=True)[:limit])
        for pk in ids:
            # stamped first: a sweep running beside this one does not send it too
            if kind.model._default_manager.filter(pk=pk, **{f"{kind.stamp}__lt": before}).update(**{kind.stamp: now}):
                if not send(kind.task, pk):
                    return sent  # the broker is down: the next sweep tries again
                sent += 1
        if ids:
            logger.info("Sent %s waiting %s job(s) again", len(ids), kind.model._meta.verbose_name)
    return sent
