"""Courier scans, failed deliveries (NDRs) and the customer notifications they trigger."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from shipping.models.couriers import Courier
from shipping.models.shipments import Shipment, ShipmentStatus
from shopops.models import Merchant
from shopops.transitions import declare, not_a_lifecycle


class TrackingEvent(models.Model):
    """A courier's scan of a parcel, from its webhook or from polling. Events for an unknown AWB are kept
    as orphans (no shipment) so nothing the courier sent is lost."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="+", verbose_name="courier")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="tracking_events", verbose_name="shipment")  # fmt: skip
    awb = models.CharField("AWB", max_length=40)
    event_key = models.CharField(
        "event key", max_length=100, help_text="The courier's event id, or a digest of the event."
    )
    status = models.CharField(
        "status",
        max_length=20,
        choices=ShipmentStatus.choices,
        blank=True,
        help_text="The ShopOps status the courier code maps to (blank: informational).",
    )
    code = models.CharField("code", max_length=40, help_text="The courier's status code.")
    description = models.CharField("description", max_length=500, blank=True)
    location = models.CharField("location", max_length=120, blank=True, help_text="City-level place of the scan.")
    occurred_at = models.DateTimeField("occurred")
    source = models.CharField("source", max_length=10,
                              choices=[("webhook", "Webhook"), ("poll", "Polling"), ("manual", "Manual"),
                                       ("csv", "CSV upload")])  # fmt: skip
    applied = models.BooleanField("applied", default=False, help_text="Whether it moved the shipment's status.")
    unknown_code = models.BooleanField(
        "unknown code",
        default=False,
        help_text="The courier's code is in no status table: kept, shown, and moves nothing.",
    )
    raw = models.JSONField("raw event", default=dict, blank=True, help_text="The event as the courier sent it.")
    received_at = models.DateTimeField("received", auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [models.UniqueConstraint(fields=["courier", "event_key"], name="trackingevent_unique_key")]
        indexes = [
            models.Index(fields=["shipment", "occurred_at"], name="trackingevent_shipment"),
            models.Index(fields=["courier", "awb"], name="trackingevent_awb"),
        ]

    def __str__(self) -> str:
        when = f" {self.occurred_at:%Y-%m-%d %H:%M}" if self.occurred_at else ""
        return f"{self.awb} {self.code}{when}"


class NDRStatus(models.TextChoices):
    OPEN = "open", "Open: waiting for an action"
    REATTEMPT = "reattempt", "Reattempt requested"
    DELIVERED = "delivered", "Resolved: delivered"
    RTO = "rto", "Resolved: returned to origin"


class NDRAction(models.TextChoices):
    REATTEMPT = "reattempt", "Reattempt delivery"
    RTO = "rto", "Return to origin"


class NDR(models.Model):
    """A failed delivery (non-delivery report): the attempts, the reason, and the merchant's decision."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="ndrs", verbose_name="merchant")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="ndrs", verbose_name="shipment")
    status = models.CharField("status", max_length=10, choices=NDRStatus.choices, default=NDRStatus.OPEN)
    reason = models.CharField("reason", max_length=255)
    attempts = models.PositiveSmallIntegerField("delivery attempts", default=1)
    first_attempt_at = models.DateTimeField("first attempt")
    last_attempt_at = models.DateTimeField("last attempt")
    action = models.CharField("action", max_length=10, choices=NDRAction.choices, blank=True)
    action_comment = models.CharField("action comment", max_length=500, blank=True)
    reattempt_date = models.DateField("reattempt date", null=True, blank=True)
    action_by = models.CharField("action by", max_length=100, blank=True)
    action_at = models.DateTimeField("action taken", null=True, blank=True)
    resolved_at = models.DateTimeField("resolved", null=True, blank=True)

    class Meta:
        verbose_name = "NDR"
        verbose_name_plural = "NDR queue"
        ordering = ["-last_attempt_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment"], condition=Q(status__in=["open", "reattempt"]), name="ndr_one_open_per_shipment"
            ),  # fmt: skip
            models.CheckConstraint(condition=Q(status__in=NDRStatus.values), name="ndr_status_valid"),
        ]
        indexes = [models.Index(fields=["merchant", "status", "first_attempt_at"], name="ndr_merchant_status")]

    def __str__(self) -> str:
        return f"NDR {self.pk} ({self.status})"


class NotificationEvent(models.TextChoices):
    SHIPPED = "shipped", "Shipped"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    NDR = "ndr", "Delivery attempt failed"
    RTO = "rto", "Returning to the merchant"


#: Which shipment status tells the customer what.
NOTIFY_ON_STATUS = {
    ShipmentStatus.PICKED_UP: NotificationEvent.SHIPPED,
    ShipmentStatus.OUT_FOR_DELIVERY: NotificationEvent.OUT_FOR_DELIVERY,
    ShipmentStatus.DELIVERED: NotificationEvent.DELIVERED,
    ShipmentStatus.NDR: NotificationEvent.NDR,
    ShipmentStatus.RTO_INITIATED: NotificationEvent.RTO,
}


class NotificationSetting(models.Model):
    """Which customer notifications a merchant sends, by email and by SMS (all on until changed)."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="notification_setting", verbose_name="merchant"
    )
    email_enabled = models.BooleanField("send by email", default=True)
    sms_enabled = models.BooleanField("send by SMS", default=True)
    on_shipped = models.BooleanField("when shipped", default=True)
    on_out_for_delivery = models.BooleanField("when out for delivery", default=True)
    on_delivered = models.BooleanField("when delivered", default=True)
    on_ndr = models.BooleanField("when delivery fails (NDR)", default=True)
    on_rto = models.BooleanField("when returning to origin (RTO)", default=True)

    def __str__(self) -> str:
        return f"notification settings of {self.merchant_id}"

    def wants(self, event: str) -> bool:
        return getattr(self, f"on_{event}")


class NotificationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """One message to a customer about one tracking event, on one channel: sent at most once."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    shipment = models.ForeignKey(
        Shipment, on_delete=models.CASCADE, related_name="notifications", verbose_name="shipment"
    )
    tracking_event = models.ForeignKey(TrackingEvent, on_delete=models.CASCADE, null=True, blank=True,
                                       related_name="+", verbose_name="tracking event")  # fmt: skip
    event = models.CharField("event", max_length=20, choices=NotificationEvent.choices)
    channel = models.CharField("channel", max_length=5, choices=[("email", "Email"), ("sms", "SMS")])
    recipient = models.CharField("recipient", max_length=254)
    status = models.CharField(
        "status", max_length=7, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    error = models.CharField("error", max_length=500, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    queued_at = models.DateTimeField("queued", default=timezone.now, help_text="When it was last sent to the workers.")
    sent_at = models.DateTimeField("sent", null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["tracking_event", "channel"], name="notification_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["shipment", "id"], name="notification_shipment"),
            models.Index(fields=["queued_at"], condition=Q(status="queued"), name="notification_waiting"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.channel} to {self.recipient}"


not_a_lifecycle(TrackingEvent, "The ShopOps status a courier's code maps to: a copy of a shipment status, set once.")
#: A failed delivery waits for the merchant (open), who asks for a reattempt or RTO; a further failed attempt
#: opens it again, a delivery or a return resolves it.
NDR_STATES = declare(
    NDR,
    {NDRStatus.OPEN: {NDRStatus.OPEN, NDRStatus.REATTEMPT, NDRStatus.RTO, NDRStatus.DELIVERED},
     NDRStatus.REATTEMPT: {NDRStatus.OPEN, NDRStatus.RTO, NDRStatus.DELIVERED},
     NDRStatus.DELIVERED: set(), NDRStatus.RTO: set()},
    noun=lambda ndr: f"NDR {ndr.pk}",
)  # fmt: skip
#: A worker takes a queued notification (sending) and records it sent or failed; a transient failure puts it back
#: in the queue for the task's retry. A worker lost while sending leaves it sending: it is never sent twice.
NOTIFICATION_STATES = declare(
    Notification,
    {NotificationStatus.QUEUED: {NotificationStatus.SENDING},
     NotificationStatus.SENDING: {NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.QUEUED},
     NotificationStatus.SENT: set(), NotificationStatus.FAILED: set()},
)  # fmt: skip
