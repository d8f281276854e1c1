"""Writes of outbound webhooks: endpoints, the outbox (``outbox_emit``), delivery attempts, the sweep, resends.

A business service calls ``outbox_emit`` inside the transaction of the change it reports: one query finds the
merchant's enabled endpoints, and only when one subscribes to the event is its payload built and one row per
endpoint inserted (a second query). A worker is asked to send each row once the transaction commits.

A delivery is claimed in a short transaction (its row locked, ``SKIP LOCKED``), posted with no transaction or
lock held, and its outcome recorded in another transaction. Deliveries of the same object to the same endpoint
go out in the order they were written: a later one waits while an earlier one is pending or being sent.
Failed attempts are retried on ``RETRY_DELAYS`` (with jitter) up to ``MAX_ATTEMPTS``; then the delivery fails,
the endpoint is marked failing and the merchant's owners get an email. The next success clears the mark.
"""

import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from shopops.dispatch import send
from shopops.errors import DELIVERY_IN_PROGRESS, ENDPOINT_DISABLED
from shopops.models import Membership, Merchant, Role
from shopops.public_urls import public_url
from shopops.transitions import transition, transition_where
from shopops.webhooks import addresses, signing
from shopops.webhooks.models import (
    ALL_EVENTS,
    DELIVERY_STATES,
    SUBSCRIBABLE_EVENTS,
    UNFINISHED,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

logger = logging.getLogger(__name__)

#: Attempts of one delivery: the first at once, then after each of RETRY_DELAYS (2, 4, 8 ... 128 minutes,
#: 4 h 14 min in all), each stretched or shortened by up to RETRY_JITTER.
MAX_ATTEMPTS = 8
RETRY_DELAYS = tuple(timedelta(minutes=2**n) for n in range(1, MAX_ATTEMPTS))
RETRY_JITTER = 0.1
#: A delivering worker that has not recorded its outcome after this long is taken to be lost.
LEASE = timedelta(minutes=2)
#: A pending delivery whose task was sent this long ago without an attempt is sent again (a lost message).
REQUEUE_AFTER = timedelta(minutes=5)
#: A rotated secret keeps signing (a second v1) this long, so receivers can switch without missing events.
PREVIOUS_SECRET_VALID = timedelta(hours=24)
RESPONSE_EXCERPT_CHARS = 2000
RESPONSE_READ_BYTES = 64 * 1024
USER_AGENT = "ShopOps-Webhooks/1.0"

Rand = Callable[[], float]


def retry_delay(attempt: int, rand: Rand = random.random) -> timedelta:
    """The wait after failed attempt ``attempt`` (1-based): RETRY_DELAYS[attempt - 1] x (1 ± RETRY_JITTER).

    ``rand`` returns a number in [0, 1): 0.5 gives the base delay exactly.
    """
    base = RETRY_DELAYS[attempt - 1]
    return base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * rand())


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


# -- endpoints --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointSecret:
    """An endpoint and its secret in clear: returned once, by creation and rotation."""

    endpoint: WebhookEndpoint
    secret: str


def clean_events(events: list[str]) -> list[str]:
    """The event types without repeats, in the order given; ValidationError for an unknown one or none."""
    events = list(dict.fromkeys(events))
    unknown = [event for event in events if event not in SUBSCRIBABLE_EVENTS and event != ALL_EVENTS]
    if unknown:
        raise ValidationError({"events": [f"Unknown event types: {', '.join(unknown)}. Known: "
                                          f"{', '.join(SUBSCRIBABLE_EVENTS)}, or * for all."]})  # fmt: skip
    if not events:
        raise ValidationError({"events": ["Name at least one event type (or * for all)."]})
    return [ALL_EVENTS] if ALL_EVENTS in events else events


def clean_url(url: str) -> str:
    url = url.strip()
    try:
        addresses.resolve(url)
    except addresses.UnsafeURL as exc:
        raise ValidationError({"url": [str(exc)]}) from exc
    return url


def endpoint_create(*, merchant: Merchant, url: str, events: list[str], actor: str, description: str = "",
                    is_enabled: bool = True) -> EndpointSecret:  # fmt: skip
    """Register an endpoint; the returned secret is the only time it is shown."""
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(merchant=merchant, url=clean_url(url), events=clean_events(events),
                                              description=description[:200], is_enabled=is_enabled, secret=secret,
                                              created_by=actor[:100])  # fmt: skip
    return EndpointSecret(endpoint, secret)


def endpoint_update(*, endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    """Change url, events, description or is_enabled. Enabling it again sends what waited meanwhile."""
    if "url" in data and data["url"] != endpoint.url:
        endpoint.url = clean_url(data["url"])
    if "events" in data:
        endpoint.events = clean_events(data["events"])
    if "description" in data:
        endpoint.description = data["description"][:200]
    enabled_again = data.get("is_enabled") is True and not endpoint.is_enabled
    if "is_enabled" in data:
        endpoint.is_enabled = bool(data["is_enabled"])
    with transaction.atomic():
        endpoint.save()
        if enabled_again:
            transaction.on_commit(partial(deliveries_sweep, endpoint_id=endpoint.pk), robust=True)
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, keep_previous: bool = True,
                           now: datetime | None = None) -> EndpointSecret:  # fmt: skip
    """A new secret (shown once). With ``keep_previous`` the old one also signs for PREVIOUS_SECRET_VALID."""
    now = now or timezone.now()
    secret = new_secret()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret = locked.secret if keep_previous else ""
        locked.previous_secret_expires_at = now + PREVIOUS_SECRET_VALID if keep_previous else None
        locked.secret = secret
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return EndpointSecret(locked, secret)


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint with its deliveries and their log."""
    endpoint.delete()


def endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a ``webhook.ping`` event to this endpoint alone (to test the receiver and its signature check)."""
    if not endpoint.is_enabled:
        raise ENDPOINT_DISABLED("The endpoint is disabled; enable it first.", {"is_enabled": False})
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            merchant_id=endpoint.merchant_id, endpoint=endpoint, event_id=_event_id(), event_type=WebhookEventType.PING,
            object_key="", data={"endpoint": endpoint.pk, "message": "A test event from ShopOps."},
            event_created_at=now, next_attempt_at=now, queued_at=now,
        )  # fmt: skip
        transaction.on_commit(partial(_enqueue, [delivery.pk]), robust=True)
    return delivery


# -- the outbox -------------------------------------------------------------------------------------------------------


def _event_id() -> str:
    return f"evt_{secrets.token_hex(16)}"


def outbox_emit(*, merchant_id: int, type: str, object_key: str,
                data: dict[str, Any] | Callable[[], dict[str, Any]]) -> list[int]:  # fmt: skip
    """Write the event for every enabled endpoint of the merchant subscribed to ``type``, in the caller's
    transaction; workers are asked to send them once it commits. Returns the deliveries' ids.

    One query when no endpoint wants the event (``data``, if a callable, is then not called); two when one does.
    ``object_key`` (``shipment:42``) orders the deliveries of one object; "" for none.
    """
    if type not in WebhookEventType.values:
        raise ValueError(f"unknown webhook event type {type!r}")
    endpoints = WebhookEndpoint.objects.filter(merchant_id=merchant_id, is_enabled=True).values_list("pk", "events")
    wanted = [pk for pk, events in endpoints if type in events or ALL_EVENTS in events]
    if not wanted:
        return []
    payload = data() if callable(data) else data
    now, event_id = timezone.now(), _event_id()
    deliveries = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(merchant_id=merchant_id, endpoint_id=pk, event_id=event_id, event_type=type,
                        object_key=object_key[:60], data=payload, event_created_at=now, next_attempt_at=now,
                        queued_at=now)
        for pk in wanted
    ])  # fmt: skip
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(partial(_enqueue, ids), robust=True)
    return ids


def _enqueue(delivery_ids: list[int]) -> None:
    """Send the deliveries to the workers; those the broker does not take wait for the sweep."""
    for delivery_id in delivery_ids:
        if not send("shopops.webhooks.tasks.webhook_deliver", delivery_id):
            return


def delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a finished delivery's event again, as a new delivery (same event id) with a fresh set of attempts."""
    if delivery.status in UNFINISHED:
        raise DELIVERY_IN_PROGRESS(f"Delivery {delivery.pk} is still {delivery.status}; it is sent "
                       "without being asked.", {"status": delivery.status})  # fmt: skip
    endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
    if not endpoint.is_enabled:
        raise ENDPOINT_DISABLED("The endpoint is disabled; enable it first.", {"is_enabled": False})
    now = timezone.now()
    with transaction.atomic():
        copy = WebhookDelivery.objects.create(
            merchant_id=delivery.merchant_id, endpoint_id=delivery.endpoint_id, event_id=delivery.event_id,
            event_type=delivery.event_type, object_key=delivery.object_key, data=delivery.data,
            event_created_at=delivery.event_created_at, next_attempt_at=now, queued_at=now, resent_from=delivery,
        )  # fmt: skip
        transaction.on_commit(partial(_enqueue, [copy.pk]), robust=True)
    return copy


# -- sending ----------------------------------------------------------------------------------------------------------


def _earlier_unfinished():
    """An unfinished delivery of the same object, to the same endpoint, written before the outer one."""
    return WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"), object_key=OuterRef("object_key"), id__lt=OuterRef("id"),
        status__in=UNFINISHED,
    ).exclude(object_key="")  # fmt: skip


def event_body(delivery: WebhookDelivery) -> bytes:
    """The JSON the endpoint receives: ``{id, type, created_at, data}``."""
    event = {
        "id": delivery.event_id,
        "type": delivery.event_type,
        "created_at": delivery.event_created_at.isoformat().replace("+00:00", "Z"),
        "data": delivery.data,
    }
    return json.dumps(event, separators=(",", ":")).encode()  # fmt: skip


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    valid_previous = endpoint.previous_secret and endpoint.previous_secret_expires_at and (
        endpoint.previous_secret_expires_at > now)  # fmt: skip
    return [endpoint.secret, endpoint.previous_secret] if valid_previous else [endpoint.secret]


@dataclass
class Outcome:
    """What one attempt got: a status (and body), or an error instead."""

    response_status: int | None = None
    response_body: str = ""
    error: str = ""
    duration_ms: int | None = None
    url: str = ""
    request_headers: dict | None = None
    request_body: str = ""

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take a due delivery for one attempt (short transaction): None when it is not pending, not due, behind an
    earlier delivery of its object, its endpoint is disabled, or another worker holds it."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",)).select_related("endpoint")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
                    endpoint__is_enabled=True)
            .filter(~Exists(_earlier_unfinished())).first()
        )  # fmt: skip
        if delivery is None:
            return None
        attempt = {"lease_expires_at": now + LEASE, "attempt_count": delivery.attempt_count + 1}
        return transition(DELIVERY_STATES, delivery, DeliveryStatus.DELIVERING, locked=True, values=attempt)


def post(target: addresses.Target, headers: dict[str, str], body: bytes) -> Outcome:
    """POST ``body`` to the checked address (no redirects, no proxy from the environment), reading at most
    RESPONSE_READ_BYTES of the answer."""
    timeout = float(settings.WEBHOOKS_TIMEOUT_SECONDS)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            request = client.build_request("POST", target.connect_url, content=body, extensions=extensions,
                                           headers={**headers, "Host": target.host_header})  # fmt: skip
            response = client.send(request, stream=True)
            try:
                received = bytearray()
                for chunk in response.iter_bytes():
                    received += chunk
                    if len(received) >= RESPONSE_READ_BYTES:
                        break
            finally:
                response.close()
        text = bytes(received).decode(response.encoding or "utf-8", errors="replace")
        return Outcome(response_status=response.status_code, response_body=text[:RESPONSE_EXCERPT_CHARS],
                       duration_ms=round((time.monotonic() - started) * 1000))  # fmt: skip
    except httpx.TimeoutException:
        error = f"No answer within {timeout:g} s."
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Outcome(error=error[:500], duration_ms=round((time.monotonic() - started) * 1000))


def delivery_attempt(*, delivery_id: int, now: datetime | None = None, rand: Rand = random.random) -> str | None:
    """Make one attempt of a due delivery (the worker's job). Returns the delivery's status afterwards, or None
    when there was nothing to do (sent already, not due, waiting behind an earlier delivery, endpoint disabled)."""
    started = now or timezone.now()
    delivery = _claim(delivery_id, started)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    body = event_body(delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "ShopOps-Event-Id": delivery.event_id,
        "ShopOps-Event-Type": delivery.event_type,
        "ShopOps-Delivery-Id": str(delivery.pk),
        "ShopOps-Delivery-Attempt": str(delivery.attempt_count),
        signing.SIGNATURE_HEADER: signing.signature_header(signing_secrets(endpoint, timezone.now()), timestamp, body),
    }
    try:
        target = addresses.resolve(endpoint.url)  # again: the name may point elsewhere now
    except addresses.UnsafeURL as exc:
        outcome = Outcome(error=f"Not sent: {exc}"[:500])
    else:
        outcome = post(target, headers, body)
    outcome.url, outcome.request_headers, outcome.request_body = endpoint.url, headers, body.decode()
    return _record(delivery, delivery.attempt_count, outcome, started, rand)


def _record(delivery: WebhookDelivery, number: int, outcome: Outcome, started: datetime, rand: Rand) -> str | None:
    """Store the outcome of attempt ``number`` (made at ``started``) and decide what follows, in its own
    transaction: the next attempt is due RETRY_DELAYS[number - 1] (± jitter) after this one started. Returns the
    new status, or None when the attempt is no longer this caller's (its lease ran out and the sweep took it)."""
    now = max(timezone.now(), started)
    if outcome.succeeded:
        status, changes = DeliveryStatus.SUCCEEDED, {"delivered_at": now}
    elif number >= MAX_ATTEMPTS:
        status, changes = DeliveryStatus.FAILED, {"failed_at": now}
    else:
        status, changes = DeliveryStatus.PENDING, {"next_attempt_at": started + retry_delay(number, rand)}
    with transaction.atomic():
        mine = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.DELIVERING, attempt_count=number)
        if not transition_where(DELIVERY_STATES, mine, status, lease_expires_at=None,
                                last_response_status=outcome.response_status, last_error=outcome.error,
                                **changes):  # fmt: skip
            logger.warning("Webhook delivery %s: attempt %s ended after its lease; not recorded", delivery.pk, number)
            return None
        WebhookAttempt.objects.create(
            merchant_id=delivery.merchant_id, delivery_id=delivery.pk, number=number, url=outcome.url[:2000],
            request_headers=outcome.request_headers or {}, request_body=outcome.request_body,
            response_status=outcome.response_status, response_body=outcome.response_body, error=outcome.error,
            duration_ms=outcome.duration_ms, started_at=started,
        )  # fmt: skip
        if outcome.succeeded:
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=False).update(
                failing_since=None
            )
        elif status == DeliveryStatus.FAILED:
            _mark_failing(delivery.endpoint_id, now)
        if status != DeliveryStatus.PENDING and delivery.object_key:
            transaction.on_commit(partial(_send_next_of_object, delivery), robust=True)
    return status


def _send_next_of_object(delivery: WebhookDelivery) -> None:
    """The delivery finished: the next one of the same object, waiting behind it, can go now."""
    following = (
        WebhookDelivery.objects.filter(endpoint_id=delivery.endpoint_id, object_key=delivery.object_key,
                                       id__gt=delivery.pk, status=DeliveryStatus.PENDING)
        .order_by("id").values_list("pk", flat=True).first()
    )  # fmt: skip
    if following is not None:
        WebhookDelivery.objects.filter(pk=following).update(queued_at=timezone.now())
        _enqueue([following])


def _mark_failing(endpoint_id: int, now: datetime) -> None:
    if WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(failing_since=now):
        transaction.on_commit(partial(endpoint_failing_notify, endpoint_id=endpoint_id), robust=True)


def endpoint_failing_notify(*, endpoint_id: int) -> list[str]:
    """Email the merchant's owners (and the merchant's own address) that an endpoint is failing."""
    endpoint = WebhookEndpoint.objects.select_related("merchant").get(pk=endpoint_id)
    merchant = endpoint.merchant
    owners = Membership.objects.filter(merchant=merchant, role=Role.OWNER).exclude(user__email="")
    recipients = list(dict.fromkeys([*owners.order_by("pk").values_list("user__email", flat=True),
                                     *([merchant.email] if merchant.email else [])]))  # fmt: skip
    if not recipients:
        return []
    last = endpoint.deliveries.filter(status=DeliveryStatus.FAILED).order_by("-failed_at", "-id").first()
    failed = reverse("admin:shopops_webhookdelivery_changelist") + (
        f"?endpoint__id__exact={endpoint.pk}&status__exact={DeliveryStatus.FAILED.value}"
    )
    context = {"endpoint": endpoint, "merchant": merchant, "delivery": last, "max_attempts": MAX_ATTEMPTS,
               "failed_deliveries_url": public_url(failed)}  # fmt: skip
    subject = " ".join(render_to_string("emails/webhook_failing_subject.txt", context).split())
    send_mail(subject, render_to_string("emails/webhook_failing.txt", context), settings.DEFAULT_FROM_EMAIL,
              recipients)  # fmt: skip
    return recipients


# -- the sweep --------------------------------------------------------------------------------------------------------


def deliveries_sweep(*, now: datetime | None = None, endpoint_id: int | None = None, limit: int = 500,
                     rand: Rand = random.random) -> int:  # fmt: skip
    """Celery beat, every 30 s: record the attempts of lost workers (their lease ran out) as failed, and send the
    deliveries that are due, first in line for their object, and not already sent to a worker (or sent more than
    REQUEUE_AFTER ago: a message lost with the broker). Returns how many were sent to workers."""
    now = now or timezone.now()
    lost = WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERING, lease_expires_at__lt=now)
    for delivery in lost.select_related("endpoint").order_by("pk")[:limit]:
        outcome = Outcome(url=delivery.endpoint.url, error="The worker stopped before recording the outcome.")
        _record(delivery, delivery.attempt_count, outcome, delivery.lease_expires_at - LEASE, rand)
    due = (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
                                       endpoint__is_enabled=True)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=F("next_attempt_at"))
                | Q(queued_at__lt=now - REQUEUE_AFTER))
        .filter(~Exists(_earlier_unfinished()))
    )  # fmt: skip
    if endpoint_id is not None:
        due = due.filter(endpoint_id=endpoint_id)
    ids = list(due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    if ids:
        WebhookDelivery.objects.filter(pk__in=ids).update(queued_at=now)
        _enqueue(ids)
    return len(ids)
