"""Background work a service starts once its transaction commits.

The tasks (``shipping/tasks.py``) call the services, so a service names a task by its registered name rather than
importing it; ``ShippingConfig.ready`` imports the tasks, so every process (web, worker, shell) knows them.
"""

from celery import signature
from django.db import transaction


def enqueue_on_commit(task: str, *args) -> None:
    """Send ``task`` (a registered name, e.g. ``shipping.tasks.notify_send``) once the current transaction commits."""
    transaction.on_commit(lambda: signature(task, args=args).delay())
