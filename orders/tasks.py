from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from orders.imports import jobs
from orders.models import BulkImport, ChannelWebhookDelivery, ImportStatus
from orders.services import channel_webhooks
from shopops import dispatch
from shopops.errors import DATABASE_ERRORS
from shopops.jobs import JOB_TASK_OPTIONS


@shared_task(**JOB_TASK_OPTIONS, soft_time_limit=3300, time_limit=3600)
def import_run(self, job_id: int) -> str:
    """Process or resume an import job (queue ``imports``). Redelivered after a lost worker, or retried after a
    database error, it resumes from its last committed chunk."""
    try:
        return jobs.import_run(job_id=job_id, claim=self.request.id or "").status
    except SoftTimeLimitExceeded:
        jobs.import_fail(job_id=job_id, error="The import exceeded its time limit; split the file.")
        return ImportStatus.FAILED


@shared_task(acks_late=True, soft_time_limit=100, time_limit=120)
def import_fail_stuck() -> int:
    """Fail the jobs whose worker stopped reporting progress (Celery beat)."""
    return jobs.import_fail_stuck(older_than=settings.IMPORT_STUCK_AFTER)


@shared_task(acks_late=True, time_limit=300, autoretry_for=DATABASE_ERRORS, retry_backoff=True, max_retries=10)
def channel_webhook_process(delivery_id: int) -> str:
    """Take in a channel's stored webhook (queue ``default``); a processed one is left alone."""
    return channel_webhooks.channel_webhook_process(delivery_id=delivery_id).status


# The jobs the sweep sends again while they wait for a worker (shopops/dispatch.py).
dispatch.sweep(BulkImport, import_run.name, [ImportStatus.QUEUED])
dispatch.sweep(ChannelWebhookDelivery, channel_webhook_process.name, [ChannelWebhookDelivery.Status.PENDING])
