"""The ShopOps Celery app.

Queues: ``default``, ``imports``, ``documents``, ``notifications``, ``webhooks``. Tasks are
acknowledged late, have time limits, and run eagerly in-process when no
``CELERY_BROKER_URL`` is configured (the embedded default).
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")

app = Celery("shopops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "imports", "documents", "notifications", "webhooks")]
app.conf.task_routes = {
    "orders.tasks.import_*": {"queue": "imports"},
    "shipping.tasks.document_*": {"queue": "documents"},
    "*.tasks.notify_*": {"queue": "notifications"},
    "shopops.webhooks.tasks.*": {"queue": "webhooks"},
}
app.autodiscover_tasks()
