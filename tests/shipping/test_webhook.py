"""The couriers' tracking webhook: signatures, replays, out-of-order events, malformed payloads, orphans."""

import json
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from shipping import webhooks
from shipping.models import NDR, Courier, ShipmentStatus, TrackingEvent
from tests.api import invalid
from tests.shipping.factories import make_shipment

pytestmark = pytest.mark.django_db

IST = ZoneInfo("Asia/Kolkata")
SECRET = "whsec-acme-0123456789"


def _secret(courier, secret: str = SECRET):
    """Set the courier's webhook secret (the admin's field; no service writes it)."""
    Courier.objects.filter(pk=courier.pk).update(webhook_secret=secret)
    courier.refresh_from_db()
    return courier


def post(body, *, secret: str = SECRET, code: str = "bluedart", age: float = 0, headers: dict | None = None):
    """POST ``body`` (an object, or raw bytes) signed with ``secret`` ``age`` seconds ago."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = str(int(time.time() - age))
    signed = {webhooks.TIMESTAMP_HEADER: timestamp, webhooks.SIGNATURE_HEADER: webhooks.sign(secret, timestamp, raw)}
    return Client().post(f"/api/v1/couriers/{code}/webhook/", raw, content_type="application/json",
                         headers=signed if headers is None else headers)  # fmt: skip


def event(awb: str, status: str, at: datetime, event_id: str = "", **extra) -> dict:
    body = {"awb": awb, "status": status, "occurred_at": at.isoformat(), **extra}
    if event_id:
        body["event_id"] = event_id
    return body


@pytest.fixture
def shipment(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED, customer={"email": "priya@example.in"})
    _secret(shipment.courier)
    return shipment


def test_a_signed_batch_is_accepted_with_exact_counts(shipment, merchant):
    t0 = timezone.now().astimezone(IST).replace(microsecond=0) - timedelta(hours=5)
    picked_up = event(shipment.awb, "picked_up", t0, "ev-1", description="Picked up", location="Bengaluru")
    body = {"events": [
        picked_up,
        event(shipment.awb, "in_transit", t0 + timedelta(hours=2), "ev-2", location="Bengaluru hub"),
        event("BL99999999", "in_transit", t0, "ev-3"),
    ]}  # fmt: skip

    response = post(body)

    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "duplicates": 0, "orphans": 1, "applied": 2, "refused": 0}
    shipment.refresh_from_db()
    assert (shipment.status, shipment.last_event_at) == (ShipmentStatus.IN_TRANSIT, t0 + timedelta(hours=2))
    stored = TrackingEvent.objects.get(event_key=f"{shipment.awb}|ev-1")
    assert (stored.merchant_id, stored.shipment_id, stored.source, stored.status, stored.code, stored.location,
            stored.applied, stored.raw) == (merchant.pk, shipment.pk, "webhook", "picked_up", "picked_up",
                                            "Bengaluru", True, picked_up)  # fmt: skip


def test_a_single_event_object_is_accepted(shipment):
    at = timezone.now() - timedelta(hours=1)

    response = post(event(shipment.awb, "picked_up", at, "ev-1"))

    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "orphans": 0, "applied": 1, "refused": 0}


def test_an_empty_list_is_accepted_as_a_ping(shipment):
    response = post({"events": []})

    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 0, "orphans": 0, "applied": 0, "refused": 0}


def _refused(response, code: str) -> None:
    assert response.status_code == 401
    body = response.json()
    assert (body["code"], body["details"]) == (code, {})


def test_a_wrong_signature_is_refused_and_stores_nothing(shipment):
    body = {"events": [event(shipment.awb, "picked_up", timezone.now(), "ev-1")]}

    _refused(post(body, secret="not-the-secret"), "invalid_signature")
    assert post(body, secret="not-the-secret").json()["message"] == (
        "The signature does not match the body and timestamp.")  # fmt: skip
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    tampered = webhooks.sign(SECRET, timestamp, raw.replace(b"picked_up", b"delivered"))
    _refused(post(raw, headers={webhooks.TIMESTAMP_HEADER: timestamp, webhooks.SIGNATURE_HEADER: tampered}),
             "invalid_signature")  # fmt: skip

    assert TrackingEvent.objects.count() == 0
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PICKUP_SCHEDULED


@pytest.mark.parametrize("missing", [webhooks.TIMESTAMP_HEADER, webhooks.SIGNATURE_HEADER, "both"])
def test_missing_headers_are_refused(shipment, missing):
    raw = json.dumps({"events": [event(shipment.awb, "picked_up", timezone.now(), "ev-1")]}).encode()
    timestamp = str(int(time.time()))
    headers = {webhooks.TIMESTAMP_HEADER: timestamp, webhooks.SIGNATURE_HEADER: webhooks.sign(SECRET, timestamp, raw)}
    headers = {} if missing == "both" else {k: v for k, v in headers.items() if k != missing}

    response = post(raw, headers=headers)

    _refused(response, "invalid_signature")
    assert response.json()["message"] == ("The X-ShopOps-Timestamp and X-ShopOps-Signature headers are required.")
    assert TrackingEvent.objects.count() == 0


def test_a_timestamp_that_is_not_a_number_is_refused(shipment):
    raw = b'{"events": []}'
    headers = {
        webhooks.TIMESTAMP_HEADER: "yesterday",
        webhooks.SIGNATURE_HEADER: webhooks.sign(SECRET, "yesterday", raw),
    }

    _refused(post(raw, headers=headers), "invalid_signature")


@pytest.mark.parametrize("timestamp", ["1" + "0" * 400, "１７６４３１９５００", "-1764319500"])
def test_a_timestamp_too_long_or_not_ascii_digits_is_refused_even_when_signed(shipment, timestamp):
    raw = b'{"events": []}'
    headers = {webhooks.TIMESTAMP_HEADER: timestamp, webhooks.SIGNATURE_HEADER: webhooks.sign(SECRET, timestamp, raw)}

    _refused(post(raw, headers=headers), "invalid_signature")


def test_json_nested_too_deeply_is_a_400_not_a_500(shipment):
    response = post(b"[" * 100_000 + b"]" * 100_000)

    assert response.status_code == 400
    assert response.json() == {"code": "parse_error", "message": "The body holds JSON nested more than 32 levels; it "
                               "cannot be stored.", "details": {}}  # fmt: skip


def test_a_nul_in_an_event_is_a_400_and_nothing_is_stored(shipment):
    raw = (
        b'{"events": [{"awb": "X1", "status": "DL", "occurred_at": "2026-11-28T10:00:00+05:30", '
        b'"location": "a\\u0000"}]}'
    )

    response = post(raw)

    assert response.status_code == 400
    assert response.json()["message"] == ("The body holds a NUL character or an unpaired surrogate at "
                                           "'events.0.location'; it cannot be stored.")  # fmt: skip
    assert TrackingEvent.objects.count() == 0


# 30 s either side of the 300 s tolerance: the signing clock and the server's read time a moment apart, and
# the timestamp is whole seconds.
@pytest.mark.parametrize("age", [330, -330])
def test_a_stale_or_future_signature_is_refused(shipment, age):
    body = {"events": [event(shipment.awb, "picked_up", timezone.now() - timedelta(hours=1), "ev-1")]}

    response = post(body, age=age)

    _refused(response, "signature_expired")
    assert response.json()["message"].endswith("; at most 300 s either way is accepted.")
    assert TrackingEvent.objects.count() == 0


@pytest.mark.parametrize("age", [270, -270])
def test_a_signature_within_the_tolerance_is_accepted(shipment, age):
    body = {"events": [event(shipment.awb, "picked_up", timezone.now() - timedelta(hours=1), "ev-1")]}

    assert post(body, age=age).status_code == 202


def test_an_inactive_courier_or_one_without_a_secret_accepts_nothing(shipment):
    body = {"events": [event(shipment.awb, "picked_up", timezone.now(), "ev-1")]}
    Courier.objects.filter(pk=shipment.courier_id).update(is_active=False)
    _refused(post(body), "invalid_signature")
    Courier.objects.filter(pk=shipment.courier_id).update(is_active=True, webhook_secret="")
    _refused(post(body, secret=""), "invalid_signature")
    _refused(post(body, code="no-such-courier"), "invalid_signature")

    assert TrackingEvent.objects.count() == 0


def test_a_replayed_body_is_all_duplicates_and_changes_nothing(
    shipment, mailoutbox, django_capture_on_commit_callbacks
):
    at = timezone.now() - timedelta(hours=2)
    body = {"events": [event(shipment.awb, "picked_up", at, "ev-1"),
                       event(shipment.awb, "in_transit", at + timedelta(hours=1))]}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert post(body).json() == {"accepted": 2, "duplicates": 0, "orphans": 0, "applied": 2, "refused": 0}
    sent = len(mailoutbox)
    shipment.refresh_from_db()
    before = (shipment.status, shipment.updated_at, shipment.notifications.count())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(body)

    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 2, "orphans": 0, "applied": 0, "refused": 0}
    assert callbacks == []
    assert (sent, len(mailoutbox)) == (1, 1)  # the shipped email, once
    shipment.refresh_from_db()
    assert (shipment.status, shipment.updated_at, shipment.notifications.count()) == before
    assert TrackingEvent.objects.count() == 2


def test_events_out_of_order_keep_the_newest_status(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.IN_TRANSIT)
    _secret(shipment.courier)
    day = timezone.localdate()
    delivered_at = datetime.combine(day, datetime.min.time(), tzinfo=IST).replace(hour=12)
    ofd_at = delivered_at.replace(hour=10)

    first = post({"events": [event(shipment.awb, "delivered", delivered_at, "ev-dl")]})
    second = post({"events": [event(shipment.awb, "out_for_delivery", ofd_at, "ev-ofd")]})

    assert first.json() == {"accepted": 1, "duplicates": 0, "orphans": 0, "applied": 1, "refused": 0}
    assert second.json() == {"accepted": 1, "duplicates": 0, "orphans": 0, "applied": 0, "refused": 0}
    shipment.refresh_from_db()
    assert (shipment.status, shipment.delivered_at, shipment.last_event_at) == (
        ShipmentStatus.DELIVERED, delivered_at, delivered_at)  # fmt: skip
    keys = [f"{shipment.awb}|ev-dl", f"{shipment.awb}|ev-ofd"]
    scans = TrackingEvent.objects.filter(shipment=shipment, event_key__in=keys)
    assert list(scans.values_list("event_key", "status", "applied")) == [
        (keys[1], "out_for_delivery", False), (keys[0], "delivered", True)]  # fmt: skip


def test_two_merchants_with_the_same_courier_code_each_get_their_own_events(merchant, other_merchant):
    ours = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    theirs = make_shipment(other_merchant, ShipmentStatus.PICKUP_SCHEDULED)
    _secret(ours.courier, "secret-of-acme")
    _secret(theirs.courier, "secret-of-other")
    assert (ours.courier.code, theirs.courier.code, ours.awb) == ("bluedart", "bluedart", theirs.awb)
    at = timezone.now() - timedelta(hours=1)

    to_other = post({"events": [event(theirs.awb, "picked_up", at, "ev-1")]}, secret="secret-of-other")
    to_ours = post({"events": [event(ours.awb, "in_transit", at, "ev-1")]}, secret="secret-of-acme")

    assert to_other.json() == to_ours.json() == {"accepted": 1, "duplicates": 0, "orphans": 0, "applied": 1,
                                                 "refused": 0}  # fmt: skip
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.status, theirs.status) == (ShipmentStatus.IN_TRANSIT, ShipmentStatus.PICKED_UP)
    assert sorted(TrackingEvent.objects.values_list("merchant_id", "courier_id", "shipment_id", "code")) == sorted([
        (merchant.pk, ours.courier_id, ours.pk, "in_transit"),
        (other_merchant.pk, theirs.courier_id, theirs.pk, "picked_up"),
    ])  # fmt: skip


def test_an_unknown_awb_is_kept_as_an_orphan(shipment, merchant):
    at = timezone.now() - timedelta(hours=1)
    body = {"events": [event("BL12345678", "in_transit", at, "ev-9", location="Pune")]}

    response = post(body)

    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "orphans": 1, "applied": 0, "refused": 0}
    orphan = TrackingEvent.objects.get()
    assert (orphan.merchant_id, orphan.courier_id, orphan.shipment_id, orphan.awb, orphan.applied, orphan.raw) == (
        merchant.pk, shipment.courier_id, None, "BL12345678", False, body["events"][0])  # fmt: skip


def test_an_unmapped_courier_code_is_stored_as_information(shipment):
    at = timezone.now() - timedelta(hours=1)

    response = post({"events": [event(shipment.awb, "BAGGED", at, "ev-1", description="Bagged at hub")]})

    assert response.json() == {"accepted": 1, "duplicates": 0, "orphans": 0, "applied": 0, "refused": 0}
    scan = TrackingEvent.objects.get()
    assert (scan.status, scan.code, scan.applied) == ("", "BAGGED", False)


def test_an_ndr_webhook_opens_the_ndr(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.OUT_FOR_DELIVERY)
    _secret(shipment.courier)
    at = timezone.now() - timedelta(minutes=5)

    post({"events": [event(shipment.awb, "undelivered", at, "ev-1", description="Customer not available")]})

    ndr = NDR.objects.get(shipment=shipment)
    assert (ndr.status, ndr.attempts, ndr.reason, ndr.first_attempt_at) == ("open", 1, "Customer not available", at)


MALFORMED = [
    (b"{not json", 400, "parse_error", None),
    (b"\xff\xfe", 400, "parse_error", None),
    (b"[1, 2]", 400, "invalid", {"events": ['An object {"events": [...]}, or a single event object.']}),
    (json.dumps({"events": {"awb": "BL10000000"}}).encode(), 400, "invalid", {"events": ["A list of events."]}),
]


@pytest.mark.parametrize(("raw", "status", "code", "details"), MALFORMED, ids=["not-json", "not-utf8", "a-list",
                                                                               "events-not-a-list"])  # fmt: skip
def test_a_malformed_body_is_refused(shipment, raw, status, code, details):
    response = post(raw)

    assert response.status_code == status
    assert response.json()["code"] == code
    if details is not None:
        assert response.json() == invalid(details)
    assert TrackingEvent.objects.count() == 0


def test_bad_events_are_named_by_index_and_field_and_nothing_is_stored(shipment):
    at = timezone.now() - timedelta(hours=1)
    good = event(shipment.awb, "picked_up", at, "ev-0")
    body = {"events": [
        good,
        {"status": "in_transit", "occurred_at": at.isoformat()},
        event(shipment.awb, "in_transit", at, "ev-2") | {"occurred_at": "yesterday"},
        event(shipment.awb, "in_transit", at, "ev-3") | {"occurred_at": "2026-03-02T10:00:00"},
        event(shipment.awb, "in_transit", at, "ev-4") | {"occurred_at": "2026-13-02T10:00:00+05:30"},
        "picked_up",
        {"awb": "", "status": 5, "occurred_at": at.isoformat(), "event_id": ["x"], "location": {"city": "Pune"}},
        event(shipment.awb, "in_transit", timezone.now() + timedelta(days=2), "ev-7"),
    ]}  # fmt: skip

    response = post(body)

    assert response.status_code == 400
    offset = "An ISO 8601 date and time with its offset, e.g. 2026-11-28T14:05:00+05:30."
    assert response.json() == invalid({
        "events.1.awb": ["This field is required (a non-empty string)."],
        "events.2.occurred_at": [offset],
        "events.3.occurred_at": ["The time has no offset; add one, e.g. +05:30 or Z."],
        "events.4.occurred_at": [offset],
        "events.5": ["An event is an object."],
        "events.6.awb": ["This field is required (a non-empty string)."],
        "events.6.status": ["This field is required (a non-empty string)."],
        "events.6.event_id": ["A string or an integer."],
        "events.6.location": ["A string."],
        "events.7.occurred_at": ["The time is more than a day in the future."],
    })  # fmt: skip
    assert TrackingEvent.objects.count() == 0
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PICKUP_SCHEDULED


def test_too_many_events_are_refused(shipment):
    at = timezone.now() - timedelta(hours=1)
    body = {"events": [event(f"BL{n:08d}", "in_transit", at, f"ev-{n}") for n in range(webhooks.MAX_EVENTS + 1)]}

    response = post(body)

    assert response.status_code == 413
    assert response.json() == {"code": "payload_too_large", "message": "501 events; send at most 500 per request.",
                                "details": {"max_events": 500}}  # fmt: skip
    assert TrackingEvent.objects.count() == 0


def test_the_webhook_has_its_own_throttle(shipment, monkeypatch):
    from shipping.api.tracking_views import CourierWebhookThrottle

    monkeypatch.setattr(CourierWebhookThrottle, "THROTTLE_RATES", {"courier_webhook": "2/min"})

    statuses = [post({"events": []}).status_code for _ in range(3)]

    assert statuses == [202, 202, 429]


def test_the_webhook_is_in_the_openapi_schema_with_its_headers_and_answers():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/couriers/{code}/webhook/"]["post"]

    headers = {p["name"]: p["required"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"X-ShopOps-Timestamp": True, "X-ShopOps-Signature": True}
    assert sorted(operation["responses"]) == ["202", "400", "401", "404", "413", "429"]
    assert operation["operationId"] == "courier_webhook"
    assert "security" not in operation  # no OAuth: the signature headers authenticate


@pytest.mark.parametrize(
    ("occurred_at", "message"),
    [
        ("0001-01-01T00:00:00+14:00", "The time is before the year 2000."),
        ("1999-12-31T23:59:59+05:30", "The time is before the year 2000."),
    ],
)
def test_an_event_dated_before_2000_is_a_400_and_nothing_is_stored(shipment, occurred_at, message):
    body = {"events": [{"awb": shipment.awb, "status": "delivered", "occurred_at": occurred_at}]}

    response = post(body)

    assert response.status_code == 400
    assert response.json()["details"] == {"events.0.occurred_at": [message]}
    assert TrackingEvent.objects.count() == 0
    assert Client().get(f"/track/{shipment.awb}/{shipment.tracking_token}/").status_code == 200
    assert Client().get(f"/api/v1/tracking/{shipment.awb}/").status_code == 401  # still answers, not a 500


def test_an_event_dated_before_its_order_was_placed_is_refused_and_counted(shipment):
    placed = shipment.order.ordered_at
    early = event(shipment.awb, "delivered", placed - timedelta(hours=1, seconds=1), "early")
    close = event(shipment.awb, "picked_up", placed - timedelta(minutes=59), "close")  # within the clock slack

    response = post({"events": [early, close]})

    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "orphans": 0, "applied": 1, "refused": 1}
    assert list(TrackingEvent.objects.values_list("code", flat=True)) == ["picked_up"]
