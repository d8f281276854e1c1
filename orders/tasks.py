from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from orders.imports import jobs
from orders.models import BulkImport, ChannelWebhookDelivery, ImportStatus
from orders.services import channel_pushes, channel_sync, channel_webhooks
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


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def channels_pull() -> int:
    """Every ``CHANNEL_PULL_EVERY`` seconds (Celery beat): one pull task per channel due."""
    ids = list(channel_sync.channels_due().values_list("pk", flat=True))
    for channel_id in ids:
        dispatch.send(channel_pull.name, channel_id)
    return len(ids)


@shared_task(acks_late=True, soft_time_limit=540, time_limit=600)
def channel_pull(channel_id: int) -> dict:
    """Pull one channel's orders updated since its cursor into its inbox (queue ``default``). A store that fails
    shows on the channel (failing, its circuit); the next scheduled pull tries again from the cursor."""
    from orders.models import Channel
    from shopops.errors import DomainError

    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        return {"skipped": "The channel is gone."}
    try:
        pulled = channel_sync.channel_pull(channel)
    except DomainError as exc:
        return {"error": exc.code, "message": exc.message}
    return {"pages": pulled.pages, "stored": pulled.stored, "cursor": pulled.cursor, "skipped": pulled.skipped}


@shared_task(acks_late=True, soft_time_limit=100, time_limit=120, autoretry_for=DATABASE_ERRORS, retry_backoff=True,
             max_retries=5)  # fmt: skip
def channel_push_send(push_id: int) -> str:
    """Tell a store what one push says (queue ``default``); a sent one, or one not yet due, is left alone."""
    push = channel_pushes.channel_push_send(push_id=push_id)
    return push.status if push is not None else "gone"


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def channel_pushes_due() -> int:
    """Every minute (Celery beat): send the pushes whose next attempt has come."""
    return channel_pushes.pushes_due()


@shared_task(acks_late=True, soft_time_limit=100, time_limit=120)
def channels_stock_reconcile() -> int:
    """Every ``CHANNEL_STOCK_EVERY`` seconds (Celery beat): queue a stock push for each mapped SKU whose available
    quantity differs from what its store was last told."""
    return channel_pushes.channels_stock_reconcile()


# The jobs the sweep sends again while they wait for a worker (shopops/dispatch.py).
dispatch.sweep(BulkImport, import_run.name, [ImportStatus.QUEUED])
dispatch.sweep(ChannelWebhookDelivery, channel_webhook_process.name, [ChannelWebhookDelivery.Status.PENDING])
