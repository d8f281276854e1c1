"""Couriers' tracking webhooks: the signature that proves which courier sent a request, and its events.

A courier signs each request with its ``webhook_secret`` (set on the courier in the admin)::

    X-ShopOps-Timestamp: 1764319500                      (unix seconds, when the request was signed)
    X-ShopOps-Signature: sha256=<hex HMAC-SHA256(webhook_secret, f"{timestamp}.{raw body}")>

A request signed more than ``TOLERANCE`` seconds away from the server's clock (either way) is refused, so a
captured request cannot be replayed later. Courier codes are unique per merchant, not globally: the courier
is the active one with that code whose secret verifies the signature.

The body is ``{"events": [event, ...]}`` or one event object; an event is ``{event_id?, awb, status (the
courier's code), description?, location?, occurred_at (ISO 8601 with its offset)}``.
"""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shipping.adapters import TrackingUpdate
from shipping.models import Courier
from shopops.validation import loads_storable

TIMESTAMP_HEADER = "X-ShopOps-Timestamp"
SIGNATURE_HEADER = "X-ShopOps-Signature"
#: Seconds a signature stays valid, either side of the server's clock.
TOLERANCE = 300
#: Events in one request; a courier with more splits them (413 otherwise).
MAX_EVENTS = 500
#: An event dated further ahead than this is refused: it would hide every later, genuine event.
FUTURE_SLACK = timedelta(hours=24)
#: No courier scan is older than this: an earlier time is a placeholder or a forgery (and year 1 cannot even be
#: shown in a time zone east of UTC).
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
#: Longest values; a longer description or location is cut to fit (as every ingested event is).
FIELD_LIMITS = {"awb": 40, "status": 40, "event_id": 100}


class SignatureRefused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class PayloadRefused(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("invalid webhook payload")
        self.errors = errors


class TooManyEvents(Exception):
    def __init__(self, count: int):
        super().__init__(f"{count} events; at most {MAX_EVENTS} per request")
        self.count = count


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signing_courier(*, code: str, timestamp: str | None, signature: str | None, body: bytes,
                    now: datetime | None = None) -> Courier:  # fmt: skip
    """The courier whose secret signed this request; ``SignatureRefused`` when none did or it is stale.

    Every active courier with this code and a secret is tried, each compared in constant time, so the answer
    takes the same time whichever candidate (if any) matches."""
    if not timestamp or not signature:
        raise SignatureRefused("invalid_signature", f"The {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are "
                               "required.")  # fmt: skip
    timestamp = timestamp.strip()
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SignatureRefused("invalid_signature", f"{TIMESTAMP_HEADER} must be unix seconds.")
    sent_at = int(timestamp)
    given = signature.strip().encode("utf-8", "replace")
    match = None
    candidates = Courier.objects.filter(code=code, is_active=True).exclude(webhook_secret="").select_related(
        "merchant")  # fmt: skip
    for courier in candidates:
        if hmac.compare_digest(sign(courier.webhook_secret, timestamp, body).encode(), given) and match is None:
            match = courier
    if match is None:
        raise SignatureRefused("invalid_signature", "The signature does not match the body and timestamp.")
    age = (now or timezone.now()).timestamp() - sent_at
    if abs(age) > TOLERANCE:
        raise SignatureRefused(
            "signature_expired",
            f"The request was signed {int(abs(age))} s "
            f"{'ago' if age > 0 else 'ahead'}; at most {TOLERANCE} s either way is accepted.",
        )
    return match


def parse_events(body: bytes, *, now: datetime | None = None) -> list[TrackingUpdate]:
    """The body's events as tracking updates; ``PayloadRefused`` naming each bad event's index and field (the
    whole request is refused: nothing is stored), ``ValueError`` when the body is not JSON."""
    payload = loads_storable(body.decode("utf-8"))
    if isinstance(payload, dict) and "events" in payload:
        events = payload["events"]
        if not isinstance(events, list):
            raise PayloadRefused({"events": ["A list of events."]})
    elif isinstance(payload, dict):
        events = [payload]
    else:
        raise PayloadRefused({"events": ['An object {"events": [...]}, or a single event object.']})
    if len(events) > MAX_EVENTS:
        raise TooManyEvents(len(events))
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    updates = []
    for index, event in enumerate(events):
        problems, when = _event_problems(event, now)
        for name, message in problems.items():
            errors[f"events.{index}.{name}" if name else f"events.{index}"] = [message]
        if not problems:
            updates.append(TrackingUpdate(
                awb=event["awb"].strip(), code=event["status"].strip(), occurred_at=when,
                description=event.get("description") or "", location=event.get("location") or "",
                event_id=str(event.get("event_id") or ""), raw=event,
            ))  # fmt: skip
    if errors:
        raise PayloadRefused(errors)
    return updates


def event_time_problem(when: datetime, *, now: datetime | None = None) -> str | None:
    """Why a scan's time cannot be true (before 2000, more than a day ahead), or None. Every source checks it."""
    if when < EARLIEST_EVENT:
        return "The time is before the year 2000."
    if when > (now or timezone.now()) + FUTURE_SLACK:
        return "The time is more than a day in the future."
    return None


def _event_problems(event, now: datetime) -> tuple[dict[str, str], datetime | None]:
    """What is wrong with one event (field -> message; "" for the event itself), and its time."""
    if not isinstance(event, dict):
        return {"": "An event is an object."}, None
    problems = {}
    for name in ("awb", "status"):
        value = event.get(name)
        if not isinstance(value, str) or not value.strip():
            problems[name] = "This field is required (a non-empty string)."
    event_id = event.get("event_id")
    if event_id is not None and (isinstance(event_id, bool) or not isinstance(event_id, (str, int))):
        problems["event_id"] = "A string or an integer."
    for name in ("description", "location"):
        if event.get(name) is not None and not isinstance(event[name], str):
            problems[name] = "A string."
    for name, limit in FIELD_LIMITS.items():
        if name not in problems and len(str(event.get(name) or "")) > limit:
            problems[name] = f"At most {limit} characters."
    value = event.get("occurred_at")
    when = None
    if isinstance(value, str):
        try:
            when = parse_datetime(value.strip())
        except ValueError:  # well formed but impossible (month 13)
            when = None
    if when is None:
        problems["occurred_at"] = "An ISO 8601 date and time with its offset, e.g. 2026-11-28T14:05:00+05:30."
    elif timezone.is_naive(when):
        problems["occurred_at"] = "The time has no offset; add one, e.g. +05:30 or Z."
    elif problem := event_time_problem(when, now=now):
        problems["occurred_at"] = problem
    return problems, when
