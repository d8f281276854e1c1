"""EasyPost through its official SDK, every request under ShopOps's HTTP policy, against answers recorded from
EasyPost's documented examples (``responses``: the SDK sends with requests; nothing reaches the network): booking
(create, then buy the courier's rate), the carrier's label, pickups, tracking by poll and by signed webhook, NDRs,
cancellation (a refund of the label), live quotes, the connection check, and what happens when EasyPost refuses,
fails, is slow or answers nonsense."""

import copy
import hashlib
import hmac
import io
import json
import logging
import unicodedata
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from django.utils import timezone
from pypdf import PdfWriter
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from orders.models import OrderStatus
from shipping.adapters import ADAPTERS, LiveQuote, Parcel, WebhookRefused, booking_reference, code_known, status_for
from shipping.adapters.easypost import EasyPostAdapter, PolicySession, _inches, _ounces, tracker_updates
from shipping.models import (
    NDR,
    AccountHealth,
    CourierCall,
    CourierHttpLog,
    CourierWebhookDelivery,
    NDRStatus,
    ShipmentStatus,
    TrackingEvent,
)
from shipping.models import CourierCallKind as K
from shipping.models import CourierCallStatus as C
from shipping.services.accounts import courier_account_check, courier_webhook_process, courier_webhook_receive
from shipping.services.documents import carrier_labels
from shipping.services.ndr import ndr_action
from shipping.services.pickups import pickup_cancel, pickup_schedule
from shipping.services.shipments import shipment_assign_awb, shipment_cancel
from shipping.services.tracking import tracking_poll
from shopops.errors import DomainError
from tests.shipping.adapters.conftest import BASE_URLS, CREDENTIALS, account_courier, make_account
from tests.shipping.factories import make_shipment

S = ShipmentStatus
RECORDINGS = Path(__file__).parent / "recordings" / "easypost"
BASE = BASE_URLS["easypost"]
KEY = CREDENTIALS["easypost"]["api_key"]
SECRET = CREDENTIALS["easypost"]["webhook_secret"]
USPS_ACCOUNT = "ca_b25657e9896e4d63ac8151ac346ac41e"
SHP = "shp_9af92e0bdd6a428f8aba267686ab9cae"
AWB = "9400100105442285876350"
TRACKER = "trk_1ddd9a69b5d0487ebfc3941639b11b18"
PRIORITY = "rate_7eb8606e070a4df19b70de813f9bea9d"
PICKUP = "pickup_13e5d7e2a7824432a07975bc553944bc"
LABEL_URL = ("https://easypost-files.s3.us-west-2.amazonaws.com/files/postage_label/20231128/"
             "e8befd4ff12e134ac6a31282975b6e7251.pdf")  # fmt: skip
#: The official example event (EasyPost/examples, official/fixtures/event-body.json) signed with "sécret" (NFKD).
OFFICIAL_SIGNATURE = "hmac-sha256-hex=38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db"


def recording(name: str) -> dict:
    return json.loads((RECORDINGS / f"{name}.json").read_text())


def created(shipment) -> dict:
    return recording("shipment_created") | {"reference": booking_reference(shipment)}


def bought(shipment) -> dict:
    return recording("shipment_bought") | {"reference": booking_reference(shipment)}


def tracker(*steps: int) -> dict:
    """The recorded USPS journey cut to some of its scans (0 pre-shipment info, 1 label created, 2 accepted at the
    origin facility, 3 at a regional facility, 4 out for delivery, 5 delivered)."""
    body = recording("tracker_delivered")
    body["tracking_details"] = [body["tracking_details"][i] for i in steps]
    return body


def scan(status: str, detail: str, at: str, message: str) -> dict:
    return {"object": "TrackingDetail", "message": message, "description": message, "status": status,
            "status_detail": detail, "datetime": at, "source": "USPS", "carrier_code": None,
            "tracking_location": {"object": "TrackingLocation", "city": "REDONDO BEACH", "state": "CA",
                                  "country": "US", "zip": "90277"}}  # fmt: skip


def signed(body: bytes, secret: str = SECRET) -> dict:
    digest = hmac.new(unicodedata.normalize("NFKD", secret).encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hmac-Signature": f"hmac-sha256-hex={digest}"}


def event(result: dict, event_id: str = "evt_0b1c2d3e") -> bytes:
    body = recording("event_tracker_updated") | {"id": event_id, "result": result}
    return json.dumps(body, separators=(",", ":")).encode()


def pdf() -> bytes:
    writer, out = PdfWriter(), io.BytesIO()
    writer.add_blank_page(width=288, height=432)
    writer.write(out)
    return out.getvalue()


def sent(call) -> dict:
    return json.loads(call.request.body)


@pytest.fixture
def ep():
    with responses.RequestsMock() as mock:  # every answer registered must be asked for
        yield mock


@pytest.fixture
def account(merchant):
    return make_account(merchant, "easypost", options={"carrier_accounts": [USPS_ACCOUNT]})


@pytest.fixture
def courier(merchant, account):
    return account_courier(merchant, account, code="easypost-usps", name="USPS Priority",
                           service_code="USPS:Priority")  # fmt: skip


@pytest.fixture
def shipment(merchant, courier):
    return make_shipment(merchant, courier=courier)


def answer_booking(ep, shipment):
    return (ep.post(f"{BASE}/shipments", json=created(shipment), status=201),
            ep.post(f"{BASE}/shipments/{SHP}/buy", json=bought(shipment)))  # fmt: skip


def book(ep, shipment):
    answer_booking(ep, shipment)
    return shipment_assign_awb(shipment=shipment, actor="system")


def poll(ep, courier, body: dict):
    ep.get(f"{BASE}/trackers", json={"trackers": [body], "has_more": False},
           match=[matchers.query_param_matcher({"tracking_codes[]": AWB, "page_size": "100"})])  # fmt: skip
    return tracking_poll(courier=courier)


def logged(account) -> list[tuple]:
    return list(CourierHttpLog.objects.filter(account=account).order_by("id")
                .values_list("operation", "method", "url", "status_code"))  # fmt: skip


# -- the whole journey ----------------------------------------------------------------------------------------------


def test_a_parcel_goes_from_booking_to_delivery_through_easypost(ep, merchant, account, courier, shipment):
    shipment = book(ep, shipment)

    assert (shipment.status, shipment.awb, shipment.routing_code) == (S.AWB_ASSIGNED, AWB, "")
    assert shipment.carrier_data == {"shipment_id": SHP, "rate_id": PRIORITY, "tracker_id": TRACKER,
                                     "label_url": LABEL_URL, "tracking_code": AWB, "carrier": "USPS",
                                     "service": "Priority"}  # fmt: skip
    create, buy = ep.calls[0], ep.calls[1]
    assert create.request.headers["Authorization"] == f"Bearer {KEY}"  # the SDK's own request
    order, origin = shipment.order, shipment.order.pickup_location
    assert sent(create) == {"shipment": {
        "reference": f"{order.number}-{shipment.pk}",
        "to_address": {"name": "Priya Sharma", "street1": "42 Residency Road", "city": "Bengaluru",
                       "state": "Karnataka", "zip": "560025", "country": "IN", "phone": "+919812345678"},
        "from_address": {"name": origin.name, "company": origin.name, "street1": "12 MG Road", "city": "Bengaluru",
                         "state": "Karnataka", "zip": "560001", "country": "IN"},
        "parcel": {"weight": _ounces(order.weight_grams)},
        "options": {"label_format": "PDF"},
        "carrier_accounts": [USPS_ACCOUNT],
    }}  # fmt: skip
    assert sent(buy) == {"rate": {"id": PRIORITY}}

    ep.get(LABEL_URL, body=pdf(), content_type="application/pdf")
    assert carrier_labels([shipment]).page_count == 1

    tomorrow = timezone.localdate(timezone=merchant.tzinfo) + timedelta(days=1)
    ep.get(f"{BASE}/pickups", json={"pickups": [], "has_more": False})
    ep.post(f"{BASE}/pickups", json=recording("pickup_created"))
    ep.post(
        f"{BASE}/pickups/{PICKUP}/buy",
        json=recording("pickup_created") | {"status": "scheduled", "confirmation": "WTC63459381"},
    )
    pickup = pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system", pickup_date=tomorrow)

    call = CourierCall.objects.get(kind=K.SCHEDULE_PICKUP)
    assert pickup.token == PICKUP
    assert sent(ep.calls[4]) == {"pickup": {
        "reference": f"shopops-pickup-{call.key}", "address": sent(create)["shipment"]["from_address"],
        "shipment": {"id": SHP}, "min_datetime": f"{tomorrow}T03:30:00Z", "max_datetime": f"{tomorrow}T12:30:00Z",
        "is_account_address": False, "instructions": f"1 parcel: {AWB}", "carrier_accounts": [USPS_ACCOUNT],
    }}  # 09:00 and 18:00 in Bengaluru  # fmt: skip
    assert sent(ep.calls[5]) == {"carrier": "USPS", "service": "NextDay"}
    shipment.refresh_from_db()
    assert shipment.status == S.PICKUP_SCHEDULED

    result = poll(ep, courier, tracker(0, 1, 2, 3))

    assert (result.accepted, result.applied, result.unknown) == (4, 2, 0)
    shipment.refresh_from_db()
    shipment.order.refresh_from_db()
    assert (shipment.status, shipment.order.status) == (S.IN_TRANSIT, OrderStatus.SHIPPED)
    events = list(TrackingEvent.objects.filter(shipment=shipment).order_by("occurred_at"))
    assert [(e.code, e.status, e.applied) for e in events] == [
        ("pre_transit", S.AWB_ASSIGNED, False), ("pre_transit", S.AWB_ASSIGNED, False),
        ("in_transit:first", S.PICKED_UP, True), ("in_transit", S.IN_TRANSIT, True)]  # fmt: skip
    assert (events[2].description, events[2].location) == (
        "Accepted at USPS Origin Facility",
        "SAN FRANCISCO, CA, 94107, US",
    )

    body = event(tracker(0, 1, 2, 3, 4, 5))
    delivery, new = courier_webhook_receive(webhook_id=account.webhook_id, headers=signed(body), body=body)
    delivery = courier_webhook_process(delivery_id=delivery.pk)

    assert (new, delivery.delivery_id, delivery.status) == (True, "evt_0b1c2d3e", "processed")
    assert (delivery.result["accepted"], delivery.result["duplicates"], delivery.result["applied"]) == (2, 4, 2)
    shipment.refresh_from_db()
    shipment.order.refresh_from_db()
    assert (shipment.status, shipment.order.status) == (S.DELIVERED, OrderStatus.DELIVERED)
    assert [row[:2] + row[3:] for row in logged(account)] == [
        ("book", "POST", 201), ("book", "POST", 200), ("label", "GET", 200), ("pickup", "GET", 200),
        ("pickup", "POST", 200), ("pickup", "POST", 200), ("track", "GET", 200)]  # fmt: skip


def test_a_failed_delivery_is_an_ndr_the_merchant_settles_with_the_carrier(ep, merchant, courier, shipment):
    shipment = book(ep, shipment)
    failure = scan("failure", "delivery_exception", "2025-06-04T18:00:00Z",
                   "Notice Left (No Authorized Recipient Available)")  # fmt: skip
    journey = tracker(0, 1, 2, 3)
    journey["tracking_details"].append(failure)
    poll(ep, courier, journey)
    shipment.refresh_from_db()
    ndr = NDR.objects.get(shipment=shipment)
    assert (shipment.status, ndr.status) == (S.NDR, NDRStatus.OPEN)

    ndr = ndr_action(ndr=ndr, action="reattempt", actor="system")  # no request reaches EasyPost (none registered)

    call = CourierCall.objects.get(kind=K.NDR_ACTION)
    assert (ndr.status, call.status) == (NDRStatus.REATTEMPT, C.FAILED)
    with pytest.raises(DomainError) as rto:
        EasyPostAdapter().ndr_action(shipment, action="rto", key="k")
    assert rto.value.message == (f"EasyPost has no API for a failed delivery's next step: ask USPS directly to "
                                 f"return AWB {AWB} to the sender (ShopOps has recorded the decision).")  # fmt: skip
    assert call.error == (f"EasyPost has no API for a failed delivery's next step: ask USPS directly to deliver AWB "
                          f"{AWB} again (ShopOps has recorded the decision).")  # fmt: skip

    journey = recording("tracker_delivered")
    journey["tracking_details"].insert(4, failure)  # the carrier tries again the next day
    poll(ep, courier, journey)

    shipment.refresh_from_db()
    ndr.refresh_from_db()
    assert (shipment.status, ndr.status) == (S.DELIVERED, NDRStatus.DELIVERED)


def test_cancelling_a_booking_asks_easypost_to_refund_the_label(ep, shipment):
    shipment = book(ep, shipment)
    refund = ep.post(f"{BASE}/shipments/{SHP}/refund", json=bought(shipment) | {"refund_status": "submitted"})

    shipment_cancel(shipment=shipment, actor="system", reason="customer asked")

    assert refund.call_count == 1
    assert CourierCall.objects.get(kind=K.CANCEL).status == C.SUCCEEDED


def test_a_refund_easypost_rejects_leaves_the_cancel_call_failed_with_its_reason(ep, shipment):
    shipment = book(ep, shipment)
    ep.post(f"{BASE}/shipments/{SHP}/refund", json=bought(shipment) | {"refund_status": "rejected"})

    shipment = shipment_cancel(shipment=shipment, actor="system")

    call = CourierCall.objects.get(kind=K.CANCEL)
    assert (shipment.status, call.status) == (S.CANCELLED, C.FAILED)
    assert call.error == (f"EasyPost did not void the label of AWB {AWB} (refund rejected); a label the carrier has "
                          "scanned cannot be voided.")  # fmt: skip


def test_a_refund_asked_twice_is_read_back_instead_of_failing(ep, shipment):
    shipment = book(ep, shipment)
    ep.post(f"{BASE}/shipments/{SHP}/refund", status=422, json={"error": {
        "code": "SHIPMENT.REFUND.UNAVAILABLE", "message": "Refund already requested.", "errors": []}})  # fmt: skip
    ep.get(f"{BASE}/shipments/{SHP}", json=bought(shipment) | {"refund_status": "submitted"})

    EasyPostAdapter().cancel(shipment, awb=AWB, key="k")


def test_a_cancelled_pickup_is_cancelled_at_easypost(ep, merchant, shipment):
    shipment = book(ep, shipment)
    ep.get(f"{BASE}/pickups", json={"pickups": [], "has_more": False})
    ep.post(f"{BASE}/pickups", json=recording("pickup_created"))
    ep.post(f"{BASE}/pickups/{PICKUP}/buy", json=recording("pickup_created") | {"status": "scheduled"})
    pickup = pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system",
                             pickup_date=timezone.localdate() + timedelta(days=1))  # fmt: skip
    cancel = ep.post(f"{BASE}/pickups/{PICKUP}/cancel", json=recording("pickup_created") | {"status": "canceled"})

    pickup_cancel(pickup=pickup, actor="system")

    assert cancel.call_count == 1
    assert CourierCall.objects.get(kind=K.CANCEL_PICKUP).status == C.SUCCEEDED


def test_a_pickup_made_by_an_earlier_attempt_is_found_by_its_reference_not_made_again(ep, merchant, courier,
                                                                                     shipment):  # fmt: skip
    shipment = book(ep, shipment)
    made = recording("pickup_created") | {"reference": "shopops-pickup-key-1", "status": "scheduled"}
    ep.get(f"{BASE}/pickups", json={"pickups": [recording("pickup_created"), made], "has_more": False})

    token = EasyPostAdapter().schedule_pickup(courier=courier, location=shipment.order.pickup_location,
                                              pickup_date=timezone.localdate(), awbs=[AWB], key="key-1")  # fmt: skip

    assert token == PICKUP and len(ep.calls) == 3  # the booking's two, and the lookup


# -- status codes -------------------------------------------------------------------------------------------------


def test_every_code_of_the_table_means_a_shopops_status_and_an_unknown_one_is_flagged(ep, courier, shipment):
    table = EasyPostAdapter.status_codes
    assert ADAPTERS["easypost"] is EasyPostAdapter
    assert all(status in (*S.values, "") for status in table.values())
    assert {code.split(":")[0] for code in table} == {"pre_transit", "in_transit", "out_for_delivery",
                                                      "available_for_pickup", "delivered", "return_to_sender",
                                                      "failure", "cancelled", "error", "unknown"}  # fmt: skip
    assert (status_for(courier, "IN_TRANSIT:first"), status_for(courier, "error"), code_known(courier, "error")) == (
        S.PICKED_UP, None, True)  # fmt: skip

    shipment = book(ep, shipment)
    journey = tracker(0, 1, 2)
    journey["tracking_details"].append(scan("held_at_customs", "held", "2025-06-04T10:00:00Z", "Held"))
    result = poll(ep, courier, journey)

    assert (result.accepted, result.unknown) == (4, 1)
    held = TrackingEvent.objects.get(code="held_at_customs")
    assert (held.unknown_code, held.status, held.applied) == (True, "", False)


def test_a_trackers_scans_become_events_with_the_first_scan_of_a_phase_qualified():
    journey = {"id": "trk_9", "tracking_code": "EZ4000000004", "tracking_details": [
        scan("return_to_sender", "return", "2025-06-07T10:00:00Z", "Return to Sender Processed"),
        scan("in_transit", "arrived_at_facility", "2025-06-03T10:00:00Z", "Arrived"),
        scan("in_transit", "departed_facility", "2025-06-03T20:00:00Z", "Departed"),
        scan("failure", "delivery_exception", "2025-06-05T10:00:00Z", "Notice Left"),
        scan("return_to_sender", "return", "2025-06-08T10:00:00Z", "In Transit to Sender"),
        scan("failure", "lost", "2025-06-09T10:00:00Z", "Unable to locate"),
    ]}  # fmt: skip

    updates = tracker_updates(journey)

    assert [u.code for u in updates] == ["in_transit:first", "in_transit", "failure", "return_to_sender:first",
                                         "return_to_sender", "failure:lost"]  # fmt: skip
    assert [EasyPostAdapter.status_codes[u.code] for u in updates] == [
        S.PICKED_UP, S.IN_TRANSIT, S.NDR, S.RTO_INITIATED, S.RTO_IN_TRANSIT, S.LOST]  # fmt: skip
    assert updates == tracker_updates(copy.deepcopy(journey))  # the same scan, the same event id, every time
    assert len({u.event_id for u in updates}) == 6 and updates[0].raw["tracker"] == "trk_9"


def test_a_poll_reads_the_bookings_own_tracker_when_the_code_is_tracked_twice(ep, courier, shipment):
    shipment = book(ep, shipment)
    stranger = tracker(0, 1, 2, 3, 4, 5) | {"id": "trk_other", "shipment_id": None, "created_at": "2026-01-01T00:00Z"}

    ep.get(f"{BASE}/trackers", json={"trackers": [stranger, tracker(0, 1, 2)], "has_more": False})
    updates = EasyPostAdapter().fetch_tracking([shipment], now=timezone.now())

    assert [u.code for u in updates] == ["pre_transit", "pre_transit", "in_transit:first"]


# -- refusals and failures --------------------------------------------------------------------------------------------


def test_easypost_field_errors_are_passed_through(ep, shipment):
    ep.post(f"{BASE}/shipments", status=422, json=recording("error_parameter_required"))

    with pytest.raises(DomainError) as caught:
        shipment_assign_awb(shipment=shipment, actor="system")

    assert caught.value.code == "courier_call_failed"
    cause = caught.value.__cause__
    assert (cause.code, cause.message) == ("courier_refused", "EasyPost (easypost account) refused: Missing required "
                                                              "parameter..")  # fmt: skip
    assert cause.details == {"status": 422, "service_message": "Missing required parameter.",
                             "service_errors": [{"field": "shipment", "message": "cannot be blank"}]}  # fmt: skip
    shipment.refresh_from_db()
    assert (shipment.status, shipment.awb) == (S.NEW, "")


def test_a_service_easypost_does_not_offer_is_refused_without_buying(ep, merchant, account, shipment):
    courier = account_courier(merchant, account, code="easypost-ups", name="UPS Ground", service_code="UPS:Ground")
    shipment.courier = courier
    ep.post(f"{BASE}/shipments", json=created(shipment), status=201)

    with pytest.raises(DomainError) as caught:
        EasyPostAdapter().assign_awb(shipment, None, key="k")

    assert caught.value.code == "courier_refused"
    assert caught.value.message == ("EasyPost offered no UPS:Ground rate for this parcel (offered: USPS:Express, "
                                    "USPS:GroundAdvantage, USPS:Priority).")  # fmt: skip
    assert caught.value.details["service_errors"][0]["carrier"] == "DhlEcs"


def test_a_blank_service_code_buys_the_cheapest_rate(ep, merchant, account, shipment):
    shipment.courier = account_courier(merchant, account, code="easypost-any", name="Cheapest")
    ep.post(f"{BASE}/shipments", json=created(shipment), status=201)
    buy = ep.post(f"{BASE}/shipments/{SHP}/buy", json=bought(shipment))

    EasyPostAdapter().assign_awb(shipment, None, key="k")

    assert json.loads(buy.calls[0].request.body) == {"rate": {"id": "rate_b936eae682e543b1a6550ea120e81a3e"}}


def test_a_rejected_api_key_is_said_plainly_on_the_account(ep, account):
    ep.get(f"{BASE}/addresses", status=401, json={"error": {
        "code": "APIKEY.INACTIVE", "message": "This api key is no longer active.", "errors": []}})  # fmt: skip

    account = courier_account_check(account=account)

    assert account.health == AccountHealth.REJECTED
    assert account.health_message == ("EasyPost (easypost account) rejected the account's credentials (401: This api "
                                       "key is no longer active.).")  # fmt: skip


def test_the_connection_check_says_what_easypost_answered(ep, merchant):
    live = make_account(merchant, "easypost", name="EasyPost live", environment="live")
    sandbox = make_account(merchant, "easypost", name="EasyPost test", options={"carrier_accounts": [USPS_ACCOUNT]})
    ep.get(f"{BASE}/addresses", json=recording("addresses"), match=[matchers.query_param_matcher({"page_size": "1"})])

    assert courier_account_check(account=sandbox).health_message == (
        f"EasyPost accepted the API key (test mode); bookings go through carrier accounts {USPS_ACCOUNT}."
    )
    assert courier_account_check(account=live).health_message == (
        "EasyPost accepted the API key (test mode), but this account is set to live; bookings may use any carrier "
        "account of the EasyPost account.")  # fmt: skip
    assert live.health == AccountHealth.CONNECTED


def test_a_429_waits_as_long_as_retry_after_says(ep, courier, shipment, waits):
    shipment = book(ep, shipment)
    ep.get(f"{BASE}/trackers", status=429, headers={"Retry-After": "2"}, json={"error": {
        "code": "RATE_LIMITED", "message": "Rate limit exceeded.", "errors": []}})  # fmt: skip
    result = poll(ep, courier, tracker(0, 1))

    assert (result.accepted, waits) == (2, [2.0])


def test_a_read_answered_5xx_is_asked_again(ep, courier, shipment, waits):
    shipment = book(ep, shipment)
    ep.get(f"{BASE}/trackers", status=503, body="Service Unavailable")
    ep.get(f"{BASE}/trackers", status=502, body="Bad Gateway")
    result = poll(ep, courier, tracker(0, 1))

    assert (result.accepted, len(waits)) == (2, 2)
    assert [row[3] for row in logged(shipment.courier.account)][-3:] == [503, 502, 200]


@pytest.mark.parametrize(("body", "what"), [
    (b"<html><body>502 Bad Gateway</body></html>", "an HTML page"),
    (b"", "an empty body"),
    (b'{"trackers": [', "malformed JSON"),
])  # fmt: skip
def test_an_unreadable_answer_to_a_read_is_a_clear_error(ep, shipment, body, what):
    shipment = book(ep, shipment)
    ep.get(f"{BASE}/trackers", body=body)

    with pytest.raises(DomainError) as caught:
        EasyPostAdapter().fetch_tracking([shipment], now=timezone.now())

    assert (caught.value.code, caught.value.message) == (
        "courier_bad_response",
        f"EasyPost (easypost account) answered 200 with {what}.",
    )


def test_an_unreadable_answer_to_a_booking_may_have_booked(ep, shipment):
    ep.post(f"{BASE}/shipments", body=b"<html>OK</html>", status=201)

    with pytest.raises(DomainError) as caught:
        shipment_assign_awb(shipment=shipment, actor="system")

    assert caught.value.__cause__.code == "courier_outcome_unknown"
    assert CourierCall.objects.get(kind=K.BOOK).outcome_unknown is True


def test_a_connection_that_was_never_made_is_tried_again(ep, shipment, waits):
    refused = requests.ConnectionError(MaxRetryError(None, f"{BASE}/shipments", NewConnectionError(None, "refused")))
    ep.post(f"{BASE}/shipments", body=refused)
    answer_booking(ep, shipment)

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.awb, len(waits)) == (AWB, 1)
    assert [row[3] for row in logged(shipment.courier.account)] == [None, 201, 200]


def test_a_connection_dropped_after_sending_a_booking_is_not_sent_again(ep, shipment, waits):
    ep.post(f"{BASE}/shipments", body=requests.ConnectionError(ProtocolError("Connection aborted.")))

    with pytest.raises(DomainError) as caught:
        shipment_assign_awb(shipment=shipment, actor="system")

    assert (caught.value.__cause__.code, len(ep.calls), waits) == ("courier_outcome_unknown", 1, [])


# -- a booking whose answer was lost ------------------------------------------------------------------------------


def listing(shipment, *shipments: dict, has_more: bool = False, before: str = ""):
    since = (shipment.created_at - timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = {"page_size": "100", "start_datetime": since} | ({"before_id": before} if before else {})
    return {"json": {"shipments": list(shipments), "has_more": has_more},
            "match": [matchers.query_param_matcher(query)]}  # fmt: skip


def test_a_buy_that_timed_out_is_looked_up_and_not_bought_again(ep, shipment, waits):
    create = ep.post(f"{BASE}/shipments", json=created(shipment), status=201)
    buy = ep.post(f"{BASE}/shipments/{SHP}/buy", body=requests.ReadTimeout("slow"))
    with pytest.raises(DomainError) as caught:
        shipment_assign_awb(shipment=shipment, actor="system")
    assert caught.value.__cause__.code == "courier_outcome_unknown" and waits == []

    other = created(shipment) | {"id": "shp_other", "reference": "SO-OTHER-1"}
    first = ep.get(f"{BASE}/shipments", **listing(shipment, other, has_more=True))
    second = ep.get(f"{BASE}/shipments", **listing(shipment, bought(shipment), before="shp_other"))
    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb) == (S.AWB_ASSIGNED, AWB)
    assert (create.call_count, buy.call_count, first.call_count, second.call_count) == (1, 1, 1, 1)
    assert CourierCall.objects.get(kind=K.BOOK).status == C.SUCCEEDED


def test_a_shipment_made_before_a_timeout_is_bought_instead_of_made_again(ep, shipment):
    create = ep.post(f"{BASE}/shipments", body=requests.ReadTimeout("slow"))
    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, actor="system")

    ep.get(f"{BASE}/shipments", **listing(shipment, created(shipment)))
    buy = ep.post(f"{BASE}/shipments/{SHP}/buy", json=bought(shipment))
    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.awb, create.call_count, buy.call_count) == (AWB, 1, 1)


def test_a_shipment_bought_meanwhile_is_read_back_when_the_buy_is_refused(ep, shipment):
    ep.post(f"{BASE}/shipments", body=requests.ReadTimeout("slow"))
    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, actor="system")

    ep.get(f"{BASE}/shipments", **listing(shipment, created(shipment)))
    ep.post(
        f"{BASE}/shipments/{SHP}/buy",
        status=422,
        json={
            "error": {
                "code": "SHIPMENT.POSTAGE.EXISTS",
                "message": "Postage already exists for this shipment.",
                "errors": [],
            }
        },
    )
    ep.get(f"{BASE}/shipments/{SHP}", json=bought(shipment))  # fmt: skip
    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert shipment.awb == AWB


def test_a_booking_easypost_never_received_is_made_again(ep, shipment):
    create = ep.post(f"{BASE}/shipments", body=requests.ReadTimeout("slow"))
    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, actor="system")

    ep.get(f"{BASE}/shipments", **listing(shipment))
    ep.replace(responses.POST, f"{BASE}/shipments", json=created(shipment), status=201)
    ep.post(f"{BASE}/shipments/{SHP}/buy", json=bought(shipment))
    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    creates = [c for c in ep.calls if c.request.method == "POST" and c.request.url == f"{BASE}/shipments"]
    assert (shipment.awb, create.call_count, len(creates)) == (AWB, 1, 2)


# -- labels -----------------------------------------------------------------------------------------------------------


def test_a_label_without_its_address_is_converted_to_pdf_by_easypost(ep, shipment):
    shipment = book(ep, shipment)
    shipment.carrier_data = {"shipment_id": SHP, "tracking_code": AWB}
    ep.get(f"{BASE}/shipments/{SHP}/label", json=bought(shipment),
           match=[matchers.query_param_matcher({"file_format": "PDF"})])  # fmt: skip
    ep.get(LABEL_URL, body=pdf())

    assert EasyPostAdapter().carrier_label(shipment).startswith(b"%PDF-")


def test_a_label_that_is_not_a_pdf_or_cannot_be_fetched_is_a_clear_error(ep, shipment):
    shipment = book(ep, shipment)
    ep.get(LABEL_URL, body=b"\x89PNG\r\n\x1a\n", content_type="image/png")
    ep.get(LABEL_URL, status=403, body=b"<Error><Code>AccessDenied</Code></Error>")

    with pytest.raises(DomainError) as not_pdf:
        EasyPostAdapter().carrier_label(shipment)
    with pytest.raises(DomainError) as refused:
        EasyPostAdapter().carrier_label(shipment)

    assert (not_pdf.value.code, not_pdf.value.message) == (
        "courier_bad_response",
        f"EasyPost's label for AWB {AWB} is not a PDF.",
    )
    assert refused.value.code == "courier_unavailable"  # the document job asks again later
    assert refused.value.details == {"awb": AWB, "status": 403}


# -- webhooks ---------------------------------------------------------------------------------------------------------


def test_the_official_example_event_verifies_with_its_secret_and_reads_as_events(account):
    body = (RECORDINGS / "event_tracker_updated.json").read_text().strip().encode()
    adapter = EasyPostAdapter()

    adapter.verify_webhook(account, {"x-hmac-signature": OFFICIAL_SIGNATURE}, body)
    updates = adapter.parse_webhook(account, json.loads(body))

    assert adapter.webhook_delivery_id(json.loads(body), body) == "evt_1"
    assert [u.code for u in updates] == ["pre_transit", "in_transit:first"] + ["in_transit"] * 5
    assert (updates[1].awb, updates[1].description, updates[1].location) == ("1", "Picked up", "ORLANDO, FL, 32809, US")


@pytest.mark.parametrize("headers", [
    {"X-Hmac-Signature": "hmac-sha256-hex=" + "0" * 64},
    {"X-Hmac-Signature": OFFICIAL_SIGNATURE},  # another body's signature
    {},
])  # fmt: skip
def test_a_webhook_without_easyposts_signature_is_refused_and_nothing_stored(account, headers):
    body = event(tracker(0, 1))

    with pytest.raises(WebhookRefused):
        courier_webhook_receive(webhook_id=account.webhook_id, headers=headers, body=body)

    assert CourierWebhookDelivery.objects.count() == 0


def test_webhooks_are_refused_while_the_account_has_no_secret(merchant):
    account = make_account(merchant, "easypost", name="No secret")
    account.credentials = {"api_key": KEY}
    account.save()
    body = event(tracker(0, 1))

    with pytest.raises(WebhookRefused) as caught:
        courier_webhook_receive(webhook_id=account.webhook_id, headers=signed(body), body=body)

    assert "no webhook secret" in str(caught.value)
    assert CourierWebhookDelivery.objects.count() == 0


def test_an_event_easypost_repeats_is_stored_once_and_other_events_carry_no_tracking(account, courier):
    body = event(tracker(0, 1), event_id="evt_repeat")
    first = courier_webhook_receive(webhook_id=account.webhook_id, headers=signed(body), body=body)
    again = courier_webhook_receive(webhook_id=account.webhook_id, headers=signed(body), body=body)
    batch = json.dumps({"id": "evt_batch", "object": "Event", "description": "batch.created",
                        "result": {"id": "batch_1", "object": "Batch"}}).encode()  # fmt: skip
    delivery, _ = courier_webhook_receive(webhook_id=account.webhook_id, headers=signed(batch), body=batch)

    assert (first[1], again[1], again[0].pk) == (True, False, first[0].pk)
    assert courier_webhook_process(delivery_id=delivery.pk).result["accepted"] == 0


# -- quotes, units, secrets -------------------------------------------------------------------------------------------


def test_live_quotes_are_the_rates_of_a_shipment_not_bought(ep, courier, waits):
    ep.post(f"{BASE}/shipments", status=503, body="upstream timeout")
    quote = ep.post(f"{BASE}/shipments", json=recording("shipment_created"), status=201)
    parcel = Parcel(
        pickup_postcode="560001",
        delivery_postcode="90277",
        weight_grams=1200,
        cod=False,
        declared_value=Decimal("2500"),
        length_cm=30,
        breadth_cm=20,
        height_cm=10,
        country="US",
    )

    quotes = EasyPostAdapter().live_quotes(courier, parcel)

    assert quotes == [
        LiveQuote("USPS:GroundAdvantage", "USPS GroundAdvantage", Decimal("5.93"), Decimal("5.93"), Decimal("0"), 3,
                  "USD"),
        LiveQuote("USPS:Priority", "USPS Priority", Decimal("6.95"), Decimal("6.95"), Decimal("0"), 2, "USD"),
        LiveQuote("USPS:Express", "USPS Express", Decimal("31.25"), Decimal("31.25"), Decimal("0"), None, "USD"),
    ]  # fmt: skip
    body = json.loads(quote.calls[0].request.body)["shipment"]
    assert (body["to_address"], body["parcel"], body["carrier_accounts"]) == (
        {"zip": "90277", "country": "US"}, {"weight": 42.4, "length": 11.8, "width": 7.9, "height": 3.9},
        [USPS_ACCOUNT])  # fmt: skip
    assert len(waits) == 1  # a quote is safe to ask twice: the 503 was asked again


def test_units_and_customs_for_a_parcel_abroad(shipment):
    assert (_ounces(500), _ounces(1), _inches(10), _inches("25.4")) == (17.7, 0.1, 3.9, 10.0)
    shipment.order.shipping_address = {**shipment.order.shipping_address, "country": "US", "postcode": "90277"}

    params = EasyPostAdapter()._shipment_params(shipment, "SO-1-1")

    line = shipment.order.lines.get()
    assert params["customs_info"] == {
        "contents_type": "merchandise", "customs_certify": True, "customs_signer": shipment.order.pickup_location.name,
        "non_delivery_option": "return", "restriction_type": "none",
        "customs_items": [{"description": line.name, "quantity": line.quantity, "value": str(line.total),
                           "currency": shipment.order.currency, "weight": _ounces(shipment.order.weight_grams),
                           "hs_tariff_number": line.hsn_code, "origin_country": "IN", "code": line.sku}],
    }  # fmt: skip


def test_the_sdk_sends_through_the_policy_session(account):
    from shipping.adapters.easypost import EasyPostApi

    with EasyPostApi(account, reference="r") as api:
        assert isinstance(api.client._requests_session, PolicySession)


def test_credentials_never_reach_logs_errors_or_the_http_log(ep, merchant, account, shipment, caplog):
    caplog.set_level(logging.DEBUG)
    ep.post(f"{BASE}/shipments", status=422, json={"error": {
        "code": "SHIPMENT.INVALID_PARAMS", "message": f"Key {KEY} may not create shipments for {SECRET}.",
        "errors": [{"field": "api_key", "message": f"{KEY} is a test key"}]}})  # fmt: skip
    ep.get(f"{BASE}/addresses", status=401, json={"error": {"code": "APIKEY.INACTIVE", "message": f"Bad key {KEY}"}})

    with pytest.raises(DomainError) as caught:
        EasyPostAdapter().assign_awb(shipment, None, key="k")
    checked = courier_account_check(account=account)

    stored = " ".join(" ".join(str(v) for v in row) for row in CourierHttpLog.objects.values_list(
        "url", "request_body", "response_body", "error"))  # fmt: skip
    for secret in (KEY, SECRET):
        assert secret not in stored
        assert secret not in caplog.text
        assert secret not in caught.value.message and secret not in json.dumps(caught.value.details)
        assert secret not in checked.health_message
    assert caught.value.details["service_errors"] == [{"field": "api_key", "message": "[redacted] is a test key"}]
