"""Cross-cutting core: merchants, their members and invitations, partner applications, idempotency keys."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from oauth2_provider.models import AbstractApplication

from shopops.transitions import declare


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        abstract = True


class Merchant(TimeStampedModel):
    """A business using ShopOps. Every business row belongs to exactly one merchant."""

    name = models.CharField("name", max_length=200)
    slug = models.SlugField(
        "slug", max_length=60, unique=True, help_text="Unique short name: letters, digits, underscores and hyphens."
    )
    time_zone = models.CharField(
        "time zone",
        max_length=64,
        default="Asia/Kolkata",
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Asia/Kolkata: dates are counted in it.",
    )
    default_currency = models.CharField("default currency", max_length=3, default="INR", help_text="ISO 4217 code.")
    tax_id = models.CharField("GSTIN / tax ID", max_length=32, blank=True)
    legal_name = models.CharField(
        "legal name", max_length=200, blank=True, help_text="The registered name printed on invoices; blank: the name."
    )
    lut_reference = models.CharField(
        "LUT reference", max_length=50, blank=True, db_default="",
        help_text="The ARN of the Letter of Undertaking (FORM GST RFD-11) of the current financial year: exports are "
                  "then zero-rated without IGST. Blank: exports are charged IGST.",
    )  # fmt: skip
    email = models.EmailField("email", blank=True)
    phone = models.CharField("phone", max_length=20, blank=True, help_text="E.164, e.g. +919812345678.")
    line1 = models.CharField("address line 1", max_length=200, blank=True)
    line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField("city", max_length=100, blank=True)
    state = models.CharField("state", max_length=100, blank=True)
    postcode = models.CharField("postcode", max_length=20, blank=True)
    country = models.CharField("country", max_length=2, default="IN", help_text="ISO 3166-1 alpha-2 code.")
    logo = models.ImageField(
        "logo",
        upload_to="merchants/logos/",
        blank=True,
        help_text="Printed on invoices, credit notes and packing slips.",
    )
    mask_phone_on_label = models.BooleanField(
        "mask the customer's phone on labels", default=False,
        help_text="Shipping labels show only the last 4 digits of the customer's phone (XXXXXX5678).",
    )  # fmt: skip
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_currency__regex=r"^[A-Z]{3}$"), name="merchant_currency_iso4217"
            ),
            models.CheckConstraint(condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="merchant_country_iso3166"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    STAFF = "staff", "Staff"
    VIEWER = "viewer", "Viewer"


# Roles allowed to change business data; a viewer only reads.
WRITE_ROLES = frozenset({Role.OWNER, Role.MANAGER, Role.STAFF})
# Roles allowed to manage the merchant itself and its partner applications.
ADMIN_ROLES = frozenset({Role.OWNER, Role.MANAGER})
# Roles allowed to invite members, change their roles and remove them.
OWNER_ROLES = frozenset({Role.OWNER})


class Membership(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name="user"
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="memberships", verbose_name="merchant"
    )
    role = models.CharField("role", max_length=10, choices=Role.choices, default=Role.STAFF)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "user"], name="membership_unique_user_per_merchant"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class Invitation(TimeStampedModel):
    """An invitation to join a merchant, sent by email as a link that expires.

    The link carries a random token; only its SHA-256 digest is stored, so the
    table cannot be used to accept an invitation. Sending (and resending) issues
    a new token, which ends the previous link. An invitation is open until it is
    accepted or revoked; at most one is open per merchant and address.
    """

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="invitations", verbose_name="merchant"
    )
    email = models.EmailField(
        "email", help_text="Stored in lower case; the account that accepts must have this address."
    )
    role = models.CharField("role", max_length=10, choices=Role.choices, default=Role.STAFF)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="invited by",
    )
    token_digest = models.CharField(
        "token digest",
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="SHA-256 of the link's token; the token itself is never stored.",
    )
    expires_at = models.DateTimeField("expires")
    sent_at = models.DateTimeField("sent", null=True, blank=True, help_text="When the last email with a link was sent.")
    send_error = models.CharField(
        "send error", max_length=500, blank=True, help_text="Why the last email could not be sent."
    )
    accepted_at = models.DateTimeField("accepted", null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="accepted by",
    )
    revoked_at = models.DateTimeField("revoked", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-created_at", "-id"], name="invitation_merchant_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="invitation_role_valid"),
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="invitation_email_lower_case"),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True) | models.Q(revoked_at__isnull=True),
                name="invitation_not_accepted_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.merchant}"

    @property
    def status(self) -> InvitationStatus:
        if self.accepted_at is not None:
            return InvitationStatus.ACCEPTED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if self.expires_at <= timezone.now():
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING


class PartnerApplication(AbstractApplication):
    """An OAuth2 client (storefront, ERP, app) acting for one merchant.

    ``allowed_scopes`` bounds what any token of this application may carry.
    """

    GRANT_TYPES_ALLOWED = (AbstractApplication.GRANT_CLIENT_CREDENTIALS, AbstractApplication.GRANT_AUTHORIZATION_CODE)

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="partner_applications", verbose_name="merchant"
    )
    allowed_scopes = models.TextField(
        "allowed scopes",
        blank=True,
        help_text="Space-separated scopes this application may request; empty means all scopes.",
    )

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(authorization_grant_type__in=["client-credentials", "authorization-code"]),
                name="partnerapplication_grant_type_allowed",
            ),
        ]

    def clean(self) -> None:
        super().clean()
        if self.authorization_grant_type not in self.GRANT_TYPES_ALLOWED:
            raise ValidationError(
                {"authorization_grant_type": "Only client credentials and authorization code are allowed."}
            )
        unknown = set(self.allowed_scopes.split()) - set(settings.API_SCOPES)
        if unknown:
            raise ValidationError({"allowed_scopes": f"Unknown scopes: {', '.join(sorted(unknown))}."})

    def is_usable(self, request) -> bool:
        return super().is_usable(request) and self.merchant.is_active

    def scope_list(self) -> list[str]:
        return self.allowed_scopes.split() or list(settings.API_SCOPES)


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key and, once the request finished, its stored response."""

    class Status(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        COMPLETED = "completed", "Completed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    client = models.CharField("client", max_length=100, help_text="app:<client_id> or user:<id>")
    key = models.CharField("key", max_length=255, help_text="The Idempotency-Key header's value.")
    fingerprint = models.CharField("fingerprint", max_length=64, help_text="SHA-256 of method, path and body.")
    status = models.CharField("status", max_length=10, choices=Status.choices, default=Status.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(
        "response status", null=True, blank=True, help_text="The HTTP status of the stored response."
    )
    response_content = models.BinaryField(
        "response content",
        null=True,
        blank=True,
        help_text="The response body exactly as it was sent (bytes: any content is storable).",
    )
    response_headers = models.JSONField("response headers", default=dict, blank=True)
    locked_at = models.DateTimeField("locked", help_text="When the request in flight claimed the key.")
    created_at = models.DateTimeField("created", auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "client", "key"], name="idempotencykey_unique_per_client"),
            models.CheckConstraint(
                condition=models.Q(status__in=["in_flight", "completed"]), name="idempotencykey_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client}:{self.key}"


#: A request claims its key (in flight) and its response completes it; a key whose process died, or older than
#: the TTL, is claimed again.
IDEMPOTENCY_KEY_STATES = declare(
    IdempotencyKey,
    {IdempotencyKey.Status.IN_FLIGHT: {IdempotencyKey.Status.COMPLETED, IdempotencyKey.Status.IN_FLIGHT},
     IdempotencyKey.Status.COMPLETED: {IdempotencyKey.Status.IN_FLIGHT}},
)  # fmt: skip


class Counter(models.Model):
    """A gap-free per-merchant sequence (order numbers, invoice numbers, return numbers)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    name = models.CharField("name", max_length=40, help_text="The sequence, e.g. order, invoice, return.")
    value = models.PositiveBigIntegerField("value", default=0, help_text="The last number taken.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "name"], name="counter_unique_name")]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


from shopops.webhooks.models import (  # noqa: E402  (models of this app, kept in their own module)
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "ADMIN_ROLES",
    "WRITE_ROLES",
    "Counter",
    "IdempotencyKey",
    "Membership",
    "Merchant",
    "PartnerApplication",
    "Role",
    "TimeStampedModel",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "validate_time_zone",
]
