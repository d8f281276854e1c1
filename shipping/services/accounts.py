"""Courier accounts: connecting a merchant to a courier service (credentials kept encrypted), checking the
connection, and the service's webhooks (verified, stored as received, processed by a worker)."""

import json
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from shipping.adapters import adapter_for_account
from shipping.errors import COURIER_CREDENTIALS_REJECTED, DUPLICATE_COURIER_ACCOUNT
from shipping.models import AccountHealth, CourierAccount, CourierWebhookDelivery, Shipment
from shipping.models.accounts import WEBHOOK_DELIVERY_STATES
from shipping.services.tracking import IngestResult, tracking_ingest
from shopops.crypto import merge_credentials
from shopops.dispatch import send_on_commit
from shopops.errors import DomainError
from shopops.integrations import outside_transaction
from shopops.models import Merchant
from shopops.transitions import transition_where
from shopops.validation import loads_storable

#: Each service's credentials: name -> required. Stored encrypted, never shown again.
CREDENTIAL_FIELDS: dict[str, dict[str, bool]] = {
    "shiprocket": {"email": True, "password": True, "webhook_token": False},
    "delhivery": {"api_token": True, "webhook_token": False},
    "easypost": {"api_key": True, "webhook_secret": False},
}
#: Each service's settings that are not secret (shown and edited freely).
OPTION_FIELDS: dict[str, tuple[str, ...]] = {
    "shiprocket": ("pickup_location", "channel_id"),
    "delhivery": ("client_name", "pickup_location"),
    "easypost": ("carrier_accounts",),
}
ACCOUNT_FIELDS = ("name", "environment", "is_active")
#: The largest webhook body stored.
WEBHOOK_MAX_BYTES = 1_000_000


def _options(service: str, given: dict[str, Any], stored: dict) -> dict:
    allowed = OPTION_FIELDS[service]
    unknown = [name for name in (given or {}) if name not in allowed]
    if unknown:
        raise ValidationError({f"options.{name}": [f"Not a {service} option; these are: {', '.join(allowed)}."]
                               for name in unknown})  # fmt: skip
    options = {**stored, **(given or {})}
    return {name: value for name, value in options.items() if value not in (None, "", [])}


def _save(account: CourierAccount) -> CourierAccount:
    duplicate = CourierAccount.objects.filter(merchant_id=account.merchant_id, name=account.name)
    if duplicate.exclude(pk=account.pk).exists():
        raise DUPLICATE_COURIER_ACCOUNT(f"A courier account named {account.name!r} exists already.",
                                        {"name": account.name})  # fmt: skip
    account.full_clean(exclude=["credentials", "session"], validate_unique=False, validate_constraints=False)
    account.save()
    return account


def courier_account_create(*, merchant: Merchant, service: str, data: dict[str, Any]) -> CourierAccount:
    """Connect a courier service: ``data`` has name, environment, credentials (a dict), options, is_active."""
    if service not in CREDENTIAL_FIELDS:
        raise ValidationError({"service": [f"One of {', '.join(CREDENTIAL_FIELDS)}."]})
    account = CourierAccount(merchant=merchant, service=service,
                             **{k: v for k, v in data.items() if k in ACCOUNT_FIELDS})  # fmt: skip
    account.credentials = merge_credentials(CREDENTIAL_FIELDS[service], data.get("credentials"), {}, kind=service)
    account.options = _options(service, data.get("options") or {}, {})
    return _save(account)


def courier_account_update(*, account: CourierAccount, data: dict[str, Any]) -> CourierAccount:
    """Change an account; new credentials start it afresh (not checked, no session, circuit closed)."""
    with transaction.atomic():
        account = CourierAccount.objects.select_for_update().get(pk=account.pk)
        for name in ACCOUNT_FIELDS:
            if name in data:
                setattr(account, name, data[name])
        if "options" in data:
            account.options = _options(account.service, data["options"] or {}, account.options)
        if data.get("credentials"):
            credentials = merge_credentials(
                CREDENTIAL_FIELDS[account.service], data["credentials"], account.credentials, kind=account.service
            )
            if credentials != account.credentials:
                account.credentials = credentials
                account.session, account.session_expires_at = {}, None
                account.health, account.health_message, account.failing_since = AccountHealth.UNVERIFIED, "", None
                account.consecutive_failures, account.circuit_open_until = 0, None
        return _save(account)


def courier_account_check(*, account: CourierAccount, now: datetime | None = None) -> CourierAccount:
    """ "Test connection": a harmless call with the account's credentials (no transaction open); the answer, or
    the refusal, becomes the account's health and message. Returns the account refreshed."""
    outside_transaction(f"check the connection of {account.name}")
    now = now or timezone.now()
    adapter = adapter_for_account(account)
    try:
        message = adapter.check_connection(account)
    except DomainError as exc:
        health = AccountHealth.REJECTED if exc.code == COURIER_CREDENTIALS_REJECTED.code else AccountHealth.FAILING
        values = {"health": health, "health_message": exc.message[:500], "last_checked_at": now}
        account.refresh_from_db(fields=["failing_since"])
        values["failing_since"] = account.failing_since or now
    else:
        values = {"health": AccountHealth.CONNECTED, "health_message": message[:500], "last_checked_at": now,
                  "failing_since": None, "consecutive_failures": 0, "circuit_open_until": None}  # fmt: skip
    CourierAccount.objects.filter(pk=account.pk).update(**values)
    account.refresh_from_db()
    return account


# -- webhooks ---------------------------------------------------------------------------------------------------


class WebhookNotFound(Exception):
    """No active account has this webhook id."""


def courier_webhook_receive(*, webhook_id: str, headers, body: bytes) -> tuple[CourierWebhookDelivery, bool]:
    """Verify a service's webhook request on its raw body, store it (the inbox) and hand it to a worker; returns
    the delivery and whether it is new (a delivery the service repeats is stored once).

    ``WebhookNotFound`` for an unknown id or an inactive account, ``WebhookRefused`` for a request that does not
    prove it comes from the service (nothing stored), ``ValueError`` for a body that is not a JSON object."""
    account = CourierAccount.objects.filter(webhook_id=webhook_id, is_active=True).first()
    if account is None:
        raise WebhookNotFound(webhook_id)
    adapter = adapter_for_account(account)
    adapter.verify_webhook(account, headers, body)
    if len(body) > WEBHOOK_MAX_BYTES:
        raise ValueError(f"The body is larger than {WEBHOOK_MAX_BYTES} bytes.")
    payload = loads_storable(body.decode("utf-8"))
    if not isinstance(payload, dict):
        raise ValueError("The body is not a JSON object.")
    delivery_id = adapter.webhook_delivery_id(payload, body)[:120]
    try:
        with transaction.atomic():
            delivery = CourierWebhookDelivery.objects.create(
                merchant_id=account.merchant_id, account=account, delivery_id=delivery_id, body=body.decode("utf-8")
            )
            send_on_commit("shipping.tasks.courier_webhook_process", delivery.pk)
    except IntegrityError:
        return CourierWebhookDelivery.objects.get(account=account, delivery_id=delivery_id), False
    return delivery, True


def courier_webhook_process(*, delivery_id: int) -> CourierWebhookDelivery:
    """Apply a stored webhook's events (a worker's job; a processed delivery is left alone). Each event goes to
    the account's courier that has its AWB (an AWB none has is kept as an orphan of the account's first courier)."""
    delivery = CourierWebhookDelivery.objects.select_related("account").get(pk=delivery_id)
    if delivery.status != CourierWebhookDelivery.Status.PENDING:  # two deliveries of the job at once: events
        return delivery  # are deduplicated on ingestion, so the second changes nothing
    CourierWebhookDelivery.objects.filter(pk=delivery_id).update(attempts=F("attempts") + 1)
    account = delivery.account
    try:
        updates = adapter_for_account(account).parse_webhook(account, json.loads(delivery.body))
    except (ValueError, KeyError, TypeError) as exc:
        return _webhook_finished(delivery, CourierWebhookDelivery.Status.FAILED, {},
                                 f"The payload could not be read: {type(exc).__name__}: {exc}")  # fmt: skip
    result = webhook_ingest(account, updates)
    counts = {name: getattr(result, name) for name in ("accepted", "duplicates", "orphans", "applied", "ignored",
                                                        "refused", "unknown")}  # fmt: skip
    return _webhook_finished(delivery, CourierWebhookDelivery.Status.PROCESSED, counts, "")


def webhook_ingest(account: CourierAccount, updates) -> IngestResult:
    """Store and apply events of an account's service, each under the courier whose shipment has its AWB."""
    result = IngestResult()
    couriers = list(account.couriers.order_by("id"))
    if not couriers or not updates:
        result.orphans = len(updates)
        return result
    owners = dict(Shipment.objects.filter(courier__in=couriers, awb__in={u.awb for u in updates})
                  .order_by("id").values_list("awb", "courier_id"))  # fmt: skip
    by_id = {c.pk: c for c in couriers}
    groups: dict[int, list] = {}
    for update in updates:
        groups.setdefault(owners.get(update.awb, couriers[0].pk), []).append(update)
    for courier_id, group in groups.items():
        part = tracking_ingest(courier=by_id[courier_id], updates=group, source="webhook")
        for name in ("accepted", "duplicates", "orphans", "applied", "ignored", "refused", "unknown"):
            setattr(result, name, getattr(result, name) + getattr(part, name))
    return result


def _webhook_finished(delivery, status: str, result: dict, error: str) -> CourierWebhookDelivery:
    pending = CourierWebhookDelivery.objects.filter(pk=delivery.pk)
    transition_where(WEBHOOK_DELIVERY_STATES, pending, status, result=result, error=error[:500],
                     processed_at=timezone.now())  # fmt: skip
    delivery.refresh_from_db()
    return delivery
