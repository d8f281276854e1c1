"""Customer notifications: queued when a shipment reaches a status the merchant notifies, sent once."""

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from shipping import notifications
from shipping.models import NOTIFY_ON_STATUS, Notification, NotificationSetting, Shipment, TrackingEvent
from shipping.services.background import enqueue_on_commit
from shopops.models import Merchant

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
        enqueue_on_commit("shipping.tasks.notify_send", notification.pk)


def notification_send(*, notification_id: int) -> Notification:
    """Send one queued notification; a notification already sent or failed is left alone (sent at most once)."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("shipment__order", "shipment__courier", "merchant")
            .get(pk=notification_id)
        )
        if notification.status != "queued":
            return notification
        try:
            notifications.deliver(notification)
        except notifications.TRANSIENT_ERRORS:
            raise  # still queued: the task retries with backoff
        except Exception as exc:  # a refusal (bad address, gateway error) is recorded, not retried
            logger.warning("Notification %s failed: %s", notification.pk, exc)
            notification.status, notification.error = "failed", str(exc)[:500]
        else:
            notification.status, notification.sent_at = "sent", timezone.now()
        notification.save(update_fields=["status", "error", "sent_at"])
    return notification


def notification_setting_set(*, merchant: Merchant, data: dict[str, Any]) -> NotificationSetting:
    setting, _ = NotificationSetting.objects.get_or_create(merchant=merchant)
    names = [f.name for f in NotificationSetting._meta.fields if f.name not in ("id", "merchant")]
    for name in names:
        if name in data:
            setattr(setting, name, bool(data[name]))
    setting.save()
    return setting
