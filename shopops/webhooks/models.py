"""Webhook endpoints, the outbox of deliveries (one row per event and endpoint) and each delivery's attempts.

Imported by ``shopops.models``: the models belong to the ``shopops`` app.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from shopops.transitions import declare


class WebhookEventType(models.TextChoices):
    ORDER_CREATED = "order.created", "Order created"
    ORDER_UPDATED = "order.updated", "Order updated"
    ORDER_CANCELLED = "order.cancelled", "Order cancelled"
    SHIPMENT_AWB_ASSIGNED = "shipment.awb_assigned", "Shipment: AWB assigned"
    SHIPMENT_STATUS_CHANGED = "shipment.status_changed", "Shipment status changed"
    SHIPMENT_NDR = "shipment.ndr", "Shipment: delivery failed (NDR)"
    DOCUMENT_READY = "document.ready", "Document ready"
    IMPORT_FINISHED = "import.finished", "Import finished"
    PING = "webhook.ping", "Test ping"


#: What an endpoint may subscribe to: every type but the ping (sent on request to one endpoint), or "*" for all.
SUBSCRIBABLE_EVENTS = tuple(t for t in WebhookEventType.values if t != WebhookEventType.PING)
ALL_EVENTS = "*"


class WebhookEndpoint(models.Model):
    """A partner's URL that receives the merchant's events, signed with the endpoint's secret."""

    merchant = models.ForeignKey(
        "shopops.Merchant", on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name="merchant"
    )
    url = models.CharField("URL", max_length=2000, help_text="https:// URL that receives the events (POST, JSON).")
    description = models.CharField("description", max_length=200, blank=True)
    events = models.JSONField("events", default=list, help_text='Event types sent to this endpoint, or ["*"] for all.')
    # Stored as it is (not hashed): the worker needs it to sign each request. Never returned after creation.
    secret = models.CharField(
        "signing secret",
        max_length=100,
        help_text="Signs every request (HMAC-SHA256); never shown again after creation.",
    )
    previous_secret = models.CharField(
        "previous secret",
        max_length=100,
        blank=True,
        help_text="The secret before the last rotation: it also signs until it expires.",
    )
    previous_secret_expires_at = models.DateTimeField("previous secret expires", null=True, blank=True)
    is_enabled = models.BooleanField("enabled", default=True)
    failing_since = models.DateTimeField(
        "failing since",
        null=True,
        blank=True,
        help_text="Set when a delivery used up its attempts; cleared by the next success.",
    )
    created_by = models.CharField(
        "created by", max_length=100, blank=True, help_text="user:<id>, app:<client_id> or system."
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        verbose_name = "webhook endpoint"
        indexes = [models.Index(fields=["merchant", "is_enabled"], name="webhookendpoint_merchant")]

    def __str__(self) -> str:
        return self.description or self.url

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in self.events or ALL_EVENTS in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERING = "delivering", "Delivering"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


#: A delivery that still has to go out; a later one for the same object waits behind it.
UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.DELIVERING)


class WebhookDelivery(models.Model):
    """One event for one endpoint: the outbox row, written in the transaction of the change it reports."""

    merchant = models.ForeignKey(
        "shopops.Merchant", on_delete=models.CASCADE, related_name="+", verbose_name="merchant"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name="endpoint"
    )
    event_id = models.CharField(
        "event ID", max_length=40, help_text="evt_...: the same for every endpoint and for resends."
    )
    event_type = models.CharField("event type", max_length=40, choices=WebhookEventType.choices)
    object_key = models.CharField(
        "object key",
        max_length=60,
        blank=True,
        help_text="order:<id>, shipment:<id>...: deliveries of one object go in order.",
    )
    data = models.JSONField("data", encoder=DjangoJSONEncoder)
    event_created_at = models.DateTimeField("event created")
    status = models.CharField("status", max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveSmallIntegerField("attempts", default=0)
    next_attempt_at = models.DateTimeField(
        "next attempt", help_text="When the next attempt is due (pending deliveries)."
    )
    queued_at = models.DateTimeField(
        "queued", null=True, blank=True, help_text="When a worker was last asked to send it."
    )
    lease_expires_at = models.DateTimeField(
        "lease expires", null=True, blank=True, help_text="A delivering worker's deadline."
    )
    last_response_status = models.PositiveSmallIntegerField("last response status", null=True, blank=True)
    last_error = models.CharField("last error", max_length=500, blank=True)
    delivered_at = models.DateTimeField("delivered", null=True, blank=True)
    failed_at = models.DateTimeField("failed", null=True, blank=True)
    resent_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="resent from",
        help_text="The delivery this one sends again.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="webhookdelivery_status_valid"),
        ]
        indexes = [
            models.Index(fields=["merchant", "created_at", "id"], name="webhookdelivery_merchant"),
            models.Index(fields=["endpoint", "created_at", "id"], name="webhookdelivery_endpoint"),
            # the sweep: due deliveries
            models.Index(fields=["next_attempt_at"], condition=Q(status__in=UNFINISHED), name="webhookdelivery_due"),
            # per-object ordering: an unfinished earlier delivery of the same object and endpoint
            models.Index(
                fields=["endpoint", "object_key", "id"],
                condition=Q(status__in=UNFINISHED),
                name="webhookdelivery_chain",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what was sent and what came back (the delivery log)."""

    merchant = models.ForeignKey(
        "shopops.Merchant", on_delete=models.CASCADE, related_name="+", verbose_name="merchant"
    )
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempts", verbose_name="delivery"
    )
    number = models.PositiveSmallIntegerField("number", help_text="1 for the first attempt of the delivery.")
    url = models.CharField("URL", max_length=2000)
    request_headers = models.JSONField("request headers", default=dict)
    request_body = models.TextField("request body", blank=True)
    response_status = models.PositiveSmallIntegerField(
        "response status", null=True, blank=True, help_text="The HTTP status; blank: no response."
    )
    response_body = models.TextField("response body", blank=True, help_text="The first 2,000 characters.")
    error = models.CharField(
        "error", max_length=500, blank=True, help_text="Why no response was received (timeout...)."
    )
    duration_ms = models.PositiveIntegerField("duration (ms)", null=True, blank=True)
    started_at = models.DateTimeField("started")

    class Meta:
        verbose_name = "webhook attempt"
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhookattempt_unique_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300


#: A due delivery is taken by a worker (delivering); the attempt succeeds, fails for good, or is due again.
DELIVERY_STATES = declare(
    WebhookDelivery,
    {DeliveryStatus.PENDING: {DeliveryStatus.DELIVERING},
     DeliveryStatus.DELIVERING: {DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.PENDING},
     DeliveryStatus.SUCCEEDED: set(), DeliveryStatus.FAILED: set()},
)  # fmt: skip
