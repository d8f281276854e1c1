"""Webhook work (queue ``webhooks``): one attempt of one delivery, and the sweep that Celery beat runs."""

from celery import shared_task

from shopops.webhooks import services


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def webhook_deliver(delivery_id: int) -> str | None:
    """One attempt of a due delivery; nothing when it is not due or waits behind an earlier one of its object."""
    return services.delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def webhooks_sweep() -> int:
    """Every 30 seconds (Celery beat): retries that are due, deliveries whose message was lost, lost workers."""
    return services.deliveries_sweep()
