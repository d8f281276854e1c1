"""Shipping work in the background: customer notifications (queue ``notifications``), tracking polls and courier
performance (Celery beat, queue ``default``)."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db.models import Exists, OuterRef

from shipping import notifications
from shipping.adapters import ADAPTERS
from shipping.errors import COURIER_BAD_RESPONSE, COURIER_OUTCOME_UNKNOWN, COURIER_UNAVAILABLE
from shipping.models import (
    Courier,
    CourierWebhookDelivery,
    Document,
    DocumentStatus,
    Notification,
    NotificationStatus,
    ShipBatch,
    ShipBatchStatus,
    Shipment,
)
from shipping.services import accounts as account_services
from shipping.services import batches as batch_services
from shipping.services import documents as document_services
from shipping.services import tracking as tracking_services
from shipping.services.notifications import notification_send
from shopops import dispatch
from shopops.errors import DATABASE_ERRORS, DomainError
from shopops.jobs import JOB_TASK_OPTIONS

logger = logging.getLogger(__name__)

#: A courier's answer worth asking again for (its service down or slow, an unreadable page), and how often.
COURIER_TRANSIENT = {COURIER_UNAVAILABLE.code, COURIER_BAD_RESPONSE.code, COURIER_OUTCOME_UNKNOWN.code}
CARRIER_LABEL_RETRIES = 6


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60, retry_backoff=True, max_retries=5,
             autoretry_for=(*notifications.TRANSIENT_ERRORS, *DATABASE_ERRORS))  # fmt: skip
def notify_send(notification_id: int) -> str:
    """Send one customer notification (queue ``notifications``); sent ones are not sent again."""
    return notification_send(notification_id=notification_id).status


@shared_task(acks_late=True, soft_time_limit=50, time_limit=55)
def tracking_poll_courier(courier_id: int) -> dict:
    """Poll one courier for news of its live shipments, at most its per-minute limit."""
    courier = Courier.objects.select_related("merchant").get(pk=courier_id)
    result = tracking_services.tracking_poll(courier=courier)
    return {"accepted": result.accepted, "applied": result.applied, "duplicates": result.duplicates}


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def tracking_poll_all() -> int:
    """Every minute (Celery beat): one poll task per active courier with live shipments and a polling adapter."""
    polling = [name for name, adapter in ADAPTERS.items() if adapter.polls]
    live = Shipment.objects.filter(courier=OuterRef("pk"), status__in=tracking_services.POLLED_STATUSES)
    ids = list(Courier.objects.filter(is_active=True, adapter__in=polling).filter(Exists(live))
               .values_list("pk", flat=True))  # fmt: skip
    for courier_id in ids:
        dispatch.send(tracking_poll_courier.name, courier_id)
    return len(ids)


@shared_task(acks_late=True, time_limit=600)
def courier_performance_refresh_all() -> int:
    """Every 6 hours (Celery beat): each courier's on-time and RTO rates from its shipments."""
    couriers = list(Courier.objects.select_related("merchant").filter(Exists(Shipment.objects.filter(
        courier=OuterRef("pk")))))  # fmt: skip
    for courier in couriers:
        tracking_services.courier_performance_refresh(courier=courier)
    return len(couriers)


@shared_task(**JOB_TASK_OPTIONS, soft_time_limit=document_services.DOCUMENT_TIME_LIMIT - 60,
             time_limit=document_services.DOCUMENT_TIME_LIMIT)  # fmt: skip
def document_render(self, document_id: int) -> str:
    """Render one queued PDF (queue ``documents``); redelivered after a lost worker, it renders again; after a
    database error it is retried."""
    try:
        return document_services.document_render(document_id=document_id, claim=self.request.id or "").status
    except DATABASE_ERRORS:
        raise  # retried with backoff (JOB_TASK_OPTIONS)
    except DomainError as exc:  # a courier's label that could not be fetched: asked again later, then failed
        if exc.code in COURIER_TRANSIENT and self.request.retries < CARRIER_LABEL_RETRIES:
            raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc
        error = f"Rendering failed: {exc.message}"
    except SoftTimeLimitExceeded:
        error = "Rendering exceeded its time limit; ask for fewer items."
    except Exception as exc:  # a crash in the renderer: the job says so instead of staying "rendering"
        logger.exception("Document %s failed to render", document_id)
        error = f"Rendering failed: {type(exc).__name__}: {exc}"
    document_services.document_fail(document_id=document_id, error=error)
    return DocumentStatus.FAILED


@shared_task(**JOB_TASK_OPTIONS, soft_time_limit=1700, time_limit=1800)
def ship_batch_run(self, batch_id: int) -> str:
    """Ship a batch of orders (queue ``default``); redelivered after a lost worker, or retried after a database
    error, it resumes where it stopped."""
    try:
        return batch_services.ship_batch_run(batch_id=batch_id, claim=self.request.id or "").status
    except SoftTimeLimitExceeded:
        error = "The batch exceeded its time limit; run it again to resume."
        batch_services.ship_batch_fail(batch_id=batch_id, error=error)
        return ShipBatchStatus.FAILED


@shared_task(acks_late=True, time_limit=300, autoretry_for=DATABASE_ERRORS, retry_backoff=True, max_retries=10)
def courier_webhook_process(delivery_id: int) -> str:
    """Apply a courier service's stored webhook (queue ``default``); a processed one is left alone."""
    return account_services.courier_webhook_process(delivery_id=delivery_id).status


# The jobs the sweep sends again while they wait for a worker (shopops/dispatch.py).
dispatch.sweep(Document, document_render.name, [DocumentStatus.QUEUED])
dispatch.sweep(ShipBatch, ship_batch_run.name, [ShipBatchStatus.QUEUED])
dispatch.sweep(Notification, notify_send.name, [NotificationStatus.QUEUED])
dispatch.sweep(CourierWebhookDelivery, courier_webhook_process.name, [CourierWebhookDelivery.Status.PENDING])
