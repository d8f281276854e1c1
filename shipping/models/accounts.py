"""Courier accounts: a merchant's connection to a courier service's API (Shiprocket, Delhivery, EasyPost), and the
log of every HTTP exchange with it.

An account holds the credentials (encrypted at rest, never shown again), which of the service's hosts it talks
to (sandbox or live; the hosts themselves are settings, ``COURIER_BASE_URLS``, so an operator can point them at a
staging host or a local test server, and a merchant cannot point ShopOps at an arbitrary address), the health of
the connection, and the circuit breaker's state. A ``Courier`` names its account; a Shiprocket account serves
several couriers (one per Shiprocket courier company, ``Courier.service_code``).
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from shopops.crypto import EncryptedJSONField
from shopops.models import Merchant
from shopops.transitions import declare


class AccountService(models.TextChoices):
    SHIPROCKET = "shiprocket", "Shiprocket"
    DELHIVERY = "delhivery", "Delhivery"
    EASYPOST = "easypost", "EasyPost"


class AccountEnvironment(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox (test)"
    LIVE = "live", "Live"


class AccountHealth(models.TextChoices):
    UNVERIFIED = "unverified", "Not checked yet"
    CONNECTED = "connected", "Connected"
    FAILING = "failing", "Failing"
    REJECTED = "rejected", "Credentials rejected"


def new_webhook_id() -> str:
    """An unguessable address part, in hex: Shiprocket refuses a webhook URL containing "sr" or "kr", which hex
    digits never spell."""
    return uuid.uuid4().hex


class CourierAccount(models.Model):
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="courier_accounts", verbose_name="merchant"
    )
    name = models.CharField(
        "name", max_length=80, help_text='How the merchant tells accounts apart, e.g. "Shiprocket main".'
    )
    service = models.CharField("service", max_length=12, choices=AccountService.choices)
    environment = models.CharField(
        "environment", max_length=8, choices=AccountEnvironment.choices, default=AccountEnvironment.LIVE
    )
    credentials = EncryptedJSONField("credentials", blank=True, help_text="Encrypted; never shown again after saving.")
    options = models.JSONField("options", default=dict, blank=True,
                               help_text="Settings of the service that are not secret, e.g. Delhivery's pickup "
                                         "warehouse name.")  # fmt: skip
    webhook_id = models.CharField("webhook ID", max_length=32, unique=True, default=new_webhook_id, editable=False,
                                  help_text="The unguessable part of this account's webhook URL.")  # fmt: skip
    is_active = models.BooleanField("active", default=True)
    health = models.CharField(
        "health", max_length=10, choices=AccountHealth.choices, default=AccountHealth.UNVERIFIED,
        help_text="How the service answered lately (not a lifecycle: any state follows any).",
    )  # fmt: skip
    health_message = models.CharField("health message", max_length=500, blank=True)
    failing_since = models.DateTimeField("failing since", null=True, blank=True)
    last_checked_at = models.DateTimeField("last checked", null=True, blank=True)
    # The circuit breaker: consecutive transient failures; while ``circuit_open_until`` is ahead, calls fail fast.
    consecutive_failures = models.PositiveIntegerField("consecutive failures", default=0, editable=False)
    circuit_open_until = models.DateTimeField("circuit open until", null=True, blank=True, editable=False)
    # A session token the service issued (Shiprocket's login), encrypted like the credentials.
    session = EncryptedJSONField("session", blank=True, editable=False)
    session_expires_at = models.DateTimeField("session expires", null=True, blank=True, editable=False)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="courieraccount_unique_name"),
            models.CheckConstraint(condition=Q(service__in=AccountService.values), name="courieraccount_service_valid"),
            models.CheckConstraint(
                condition=Q(environment__in=AccountEnvironment.values), name="courieraccount_environment_valid"
            ),  # fmt: skip
            models.CheckConstraint(condition=Q(health__in=AccountHealth.values), name="courieraccount_health_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class CourierHttpLog(models.Model):
    """One HTTP exchange with a courier service, for support: what was asked, what came back, how long it took.
    Bodies are stored redacted (credentials, tokens and secrets replaced) and cut to a few kilobytes."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    account = models.ForeignKey(
        CourierAccount, on_delete=models.CASCADE, related_name="http_logs", verbose_name="courier account"
    )
    call = models.ForeignKey("shipping.CourierCall", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="http_logs", verbose_name="courier call")  # fmt: skip
    operation = models.CharField(
        "operation", max_length=40, help_text="What ShopOps was doing, e.g. book, track, login."
    )
    reference = models.CharField(
        "reference", max_length=100, blank=True, help_text="Our reference: the shipment, AWB or order."
    )
    method = models.CharField("method", max_length=8)
    url = models.CharField("URL", max_length=500, help_text="Host and path, with secret query values redacted.")
    attempt = models.PositiveSmallIntegerField("attempt", default=1)
    status_code = models.PositiveSmallIntegerField("status code", null=True, blank=True, help_text="Blank: no answer.")
    duration_ms = models.PositiveIntegerField("duration (ms)", default=0)
    error = models.CharField(
        "error", max_length=300, blank=True, help_text="Timeout, refused connection, unreadable answer."
    )
    request_body = models.TextField("request body", blank=True)
    response_body = models.TextField("response body", blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "courier HTTP log"
        verbose_name_plural = "courier HTTP logs"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "created_at"], name="courierhttplog_merchant"),
            models.Index(fields=["account", "created_at"], name="courierhttplog_account"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.status_code or self.error}"


class CourierWebhookDelivery(models.Model):
    """A courier service's webhook request, stored as received (verified first) and processed by a worker."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    account = models.ForeignKey(
        CourierAccount, on_delete=models.CASCADE, related_name="webhook_deliveries", verbose_name="courier account"
    )
    delivery_id = models.CharField(
        "delivery ID", max_length=120, help_text="The service's event id, or a digest of the body."
    )
    body = models.TextField("body", help_text="The request body as received.")
    status = models.CharField("status", max_length=10, choices=Status.choices, default=Status.PENDING)
    result = models.JSONField(
        "result", default=dict, blank=True, help_text="Events accepted, duplicates, orphans, unknown."
    )
    error = models.CharField("error", max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    received_at = models.DateTimeField("received", auto_now_add=True)
    queued_at = models.DateTimeField("queued", default=timezone.now, help_text="When it was last handed to a worker.")
    processed_at = models.DateTimeField("processed", null=True, blank=True)

    class Meta:
        verbose_name = "courier webhook delivery"
        verbose_name_plural = "courier webhook deliveries"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "delivery_id"], name="courierwebhook_unique_delivery"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processed", "failed"]), name="courierwebhook_status_valid"
            ),  # fmt: skip
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="courierwebhook_status")]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.delivery_id}"


#: A stored webhook is processed once, or fails (its payload unreadable) and may be processed again.
WEBHOOK_DELIVERY_STATES = declare(CourierWebhookDelivery, {
    CourierWebhookDelivery.Status.PENDING: {CourierWebhookDelivery.Status.PROCESSED,
                                            CourierWebhookDelivery.Status.FAILED},
    CourierWebhookDelivery.Status.FAILED: {CourierWebhookDelivery.Status.PENDING},
    CourierWebhookDelivery.Status.PROCESSED: set(),
})  # fmt: skip
