"""Customer notifications: queued when a shipment reaches a status the merchant notifies, sent once."""

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from shipping import notifications
from shipping.models import (
    NOTIFICATION_STATES,
    NOTIFY_ON_STATUS,
    Notification,
    NotificationSetting,
    NotificationStatus,
    Shipment,
    TrackingEvent,
)
from shopops.dispatch import send_on_commit
from shopops.integrations import outside_transaction
from shopops.models import Merchant
from shopops.transitions import transition

logger = logging.getLogger(__name__)


def notify(shipment: Shipment, status: str, event: TrackingEvent | None) -> None:
    """Queue the customer's messages for this status (per the merchant's settings), sent after commit."""
    kind = NOTIFY_ON_STATUS.get(status)
    if kind is None:
        return
    setting = NotificationSetting.objects.filter(merchant_id=shipment.merchant_id).first() or NotificationSetting()
    if not setting.wants(kind):
        return
    address = shipment.order.shipping_address or {}
    email = shipment.order.customer.email if shipment.order.customer_id else ""
    recipients = []
    if setting.email_enabled and email:
        recipients.append(("email", email))
    if setting.sms_enabled and address.get("phone"):
        recipients.append(("sms", address["phone"]))
    for channel, recipient in recipients:
        notification = Notification.objects.create(merchant_id=shipment.merchant_id, shipment=shipment,
                                                   tracking_event=event, event=kind, channel=channel,
                                                   recipient=recipient)  # fmt: skip
        send_on_commit("shipping.tasks.notify_send", notification.pk)


def notification_send(*, notification_id: int) -> Notification:
    """Send one queued notification; a notification already taken, sent or failed is left alone (sent at most once).

    Taken (sending) in a short transaction, delivered with no transaction open, recorded sent or failed in another:
    a refusal (bad address, gateway error) is recorded, not retried; a transient error puts it back in the queue
    and is raised for the task's retry."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("shipment__order", "shipment__courier", "merchant")
            .get(pk=notification_id)
        )
        if notification.status != NotificationStatus.QUEUED:
            return notification
        transition(NOTIFICATION_STATES, notification, NotificationStatus.SENDING, locked=True)
    outside_transaction(f"send notification {notification.pk}")
    try:
        notifications.deliver(notification)
    except notifications.TRANSIENT_ERRORS:
        transition(NOTIFICATION_STATES, notification, NotificationStatus.QUEUED)
        raise  # queued again: the task retries with backoff
    except Exception as exc:
        logger.warning("Notification %s failed: %s", notification.pk, exc)
        error = str(exc)[:500]
        return transition(NOTIFICATION_STATES, notification, NotificationStatus.FAILED, values={"error": error})
    return transition(NOTIFICATION_STATES, notification, NotificationStatus.SENT, values={"sent_at": timezone.now()})


def notification_setting_set(*, merchant: Merchant, data: dict[str, Any]) -> NotificationSetting:
    setting, _ = NotificationSetting.objects.get_or_create(merchant=merchant)
    names = [f.name for f in NotificationSetting._meta.fields if f.name not in ("id", "merchant")]
    for name in names:
        if name in data:
            setattr(setting, name, bool(data[name]))
    setting.save()
    return setting
