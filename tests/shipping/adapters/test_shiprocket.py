"""Shiprocket through a merchant's account, against answers written from Shiprocket's published examples
(``recordings/shiprocket``): one login shared by every call, booking (order, then AWB) without ever a second order,
pickups, cancellation, NDR decisions, tracking through the status table, labels, prices, the connection check and
tracking pushes."""

import io
import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from django.db import connection
from django.utils import timezone
from pypdf import PdfReader, PdfWriter

from orders.models import OrderStatus
from shipping.adapters import ADAPTERS, LiveQuote, Parcel, WebhookRefused, booking_reference
from shipping.adapters.shiprocket import STATUS_CODES, ShiprocketAdapter, scan_time
from shipping.models import (
    NDR,
    AccountHealth,
    CourierAccount,
    CourierCall,
    CourierHttpLog,
    CourierWebhookDelivery,
    Document,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from shipping.services.accounts import courier_account_check, courier_webhook_process, courier_webhook_receive
from shipping.services.calls import CALL_RETRY_AFTER, call_run
from shipping.services.documents import document_render
from shipping.services.ndr import ndr_action
from shipping.services.pickups import pickup_schedule
from shipping.services.shipments import book_intent, shipment_assign_awb, shipment_cancel, shipment_create
from shipping.services.tracking import tracking_ingest, tracking_poll
from shopops.errors import DomainError
from tests.orders.factories import make_order
from tests.shipping.adapters.conftest import BASE_URLS, CREDENTIALS, account_courier, make_account
from tests.shipping.factories import ORDERED_AT

BASE = BASE_URLS["shiprocket"]
EMAIL = CREDENTIALS["shiprocket"]["email"]
PASSWORD = CREDENTIALS["shiprocket"]["password"]
HOOK_TOKEN = CREDENTIALS["shiprocket"]["webhook_token"]
TOKEN = "eyJhbGciOiJIUzI1NiJ9.sr-session-one.Qm9va2luZw"
TOKEN_2 = "eyJhbGciOiJIUzI1NiJ9.sr-session-two.UmVuZXdlZA"
RECORDINGS = Path(__file__).parent / "recordings" / "shiprocket"
AWB = "141123221084922"
SR_ORDER, SR_SHIPMENT = 281248157, 280677484
OPTIONS = {"pickup_location": "Home"}
#: The polls' clock: after the recorded activities (2025-01-02 to 01-03, India time).
NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
LABEL_LINK = "https://kr-shipmultichannel-mum.s3.ap-south-1.amazonaws.com/25149/labels/shipping-label-280677484.pdf"
TRACK = f"{BASE}/courier/track/awbs"
ORDERS = f"{BASE}/orders"
DIMENSIONS = {"weight_grams": 500, "length_cm": Decimal("20"), "breadth_cm": Decimal("15"), "height_cm": Decimal("10")}


def recording(name: str, **values: str) -> Any:
    """A recorded answer, with its placeholders (``__AWB__``, ``__REF__``...) filled in."""
    text = (RECORDINGS / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", value)
    return json.loads(text)


def pdf_bytes() -> bytes:
    writer, out = PdfWriter(), io.BytesIO()
    writer.add_blank_page(width=288, height=432)
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def account(merchant):
    return make_account(merchant, "shiprocket", options=dict(OPTIONS))


@pytest.fixture
def courier(merchant, account):
    return account_courier(merchant, account, code="sr-xpressbees", service_code="51", name="Xpressbees (Shiprocket)")


@pytest.fixture
def sr():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def login(sr):
    return sr.post(f"{BASE}/auth/login").mock(return_value=httpx.Response(200, json=recording("login", token=TOKEN)))


def new_shipment(merchant, courier, **order) -> Shipment:
    placed = make_order(merchant, OrderStatus.PACKED, ordered_at=ORDERED_AT, **{**DIMENSIONS, **order})
    return shipment_create(order=placed, courier=courier, actor="system")


def booking_routes(sr, create: Any = "order_created", assign: Any = "awb_assigned"):
    """The order and AWB routes answering a booking (each: a recording's name, or what the route does)."""
    routes = []
    for path, answer in (("orders/create/adhoc", create), ("courier/assign/awb", assign)):
        route = sr.post(f"{BASE}/{path}")
        if isinstance(answer, str):
            route.mock(return_value=httpx.Response(200, json=recording(answer, awb=AWB)))
        elif isinstance(answer, list | Exception):
            route.mock(side_effect=answer)
        else:
            route.mock(return_value=answer)
        routes.append(route)
    return routes


def lookup_route(sr, shipment, answer: str = "orders_found", *, awb: str = "", status: str = "NEW"):
    body = recording(answer, ref=booking_reference(shipment), awb=awb, status=status,
                     courier="Xpressbees Surface" if awb else "")  # fmt: skip
    return sr.get(ORDERS).mock(return_value=httpx.Response(200, json=body))


def booked(merchant, courier, sr, **order) -> Shipment:
    shipment = new_shipment(merchant, courier, **order)
    booking_routes(sr)
    return shipment_assign_awb(shipment=shipment, actor="system")


def body_of(route) -> Any:
    return json.loads(route.calls.last.request.content)


def track_route(sr, answer: str = "track_awbs"):
    return sr.post(TRACK).mock(return_value=httpx.Response(200, json=recording(answer, awb=AWB)))


def test_the_adapter_is_registered_under_its_service_name(courier):
    adapter = ADAPTERS["shiprocket"]()
    assert isinstance(adapter, ShiprocketAdapter) and adapter.name == "shiprocket"
    assert (adapter.remote, adapter.polls, adapter.carrier_labels, adapter.batch_size) == (True, True, True, 50)
    assert adapter.uses_pool(courier) is False


# -- booking ---------------------------------------------------------------------------------------------------------


def test_a_booking_creates_the_order_then_assigns_the_awb_with_one_login(merchant, account, courier, sr, login):
    shipment = new_shipment(merchant, courier)
    reference = booking_reference(shipment)
    create, assign = booking_routes(sr)

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb, shipment.routing_code) == ("awb_assigned", AWB, "BLR/HSR/A12")
    assert shipment.carrier_data == {
        "reference": reference, "order_id": SR_ORDER, "shipment_id": SR_SHIPMENT, "pickup_location": "Home",
        "awb": AWB, "courier_company_id": 51, "courier_name": "Xpressbees Surface",
        "routing_code": "BLR/HSR/A12"}  # fmt: skip
    assert (login.call_count, create.call_count, assign.call_count) == (1, 1, 1)
    assert body_of(login) == {"email": EMAIL, "password": PASSWORD}
    for route in (create, assign):
        assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert route.calls.last.request.headers["Content-Type"] == "application/json"
    order, line = shipment.order, shipment.order.lines.get()
    assert body_of(create) == {
        "order_id": reference,
        "order_date": ORDERED_AT.astimezone(timezone.get_fixed_timezone(330)).strftime("%Y-%m-%d %H:%M"),
        "pickup_location": "Home",
        "billing_customer_name": "Priya", "billing_last_name": "Sharma", "billing_address": "42 Residency Road",
        "billing_city": "Bengaluru", "billing_pincode": "560025", "billing_state": "Karnataka",
        "billing_country": "India", "billing_email": order.customer.email, "billing_phone": "9812345678",
        "shipping_is_billing": True,
        "order_items": [{"name": line.name, "sku": line.sku, "units": line.quantity,
                         "selling_price": str(line.unit_price), "discount": str(line.discount),
                         "tax": str(line.tax_rate), "hsn": line.hsn_code}],
        "payment_method": "Prepaid", "sub_total": str(order.total),
        "length": 20, "breadth": 15, "height": 10, "weight": 0.5,
    }  # fmt: skip
    assert body_of(assign) == {"shipment_id": SR_SHIPMENT, "courier_id": 51}
    account.refresh_from_db()
    assert account.session == {"token": TOKEN} and account.session_expires_at > timezone.now() + timedelta(days=9)


def test_a_cash_on_delivery_order_is_sent_as_cod_for_the_cash_to_collect_with_the_channel(merchant, account, courier,
                                                                                          sr, login):  # fmt: skip
    account.options = {**OPTIONS, "channel_id": "76893"}
    account.save(update_fields=["options"])
    shipment = new_shipment(merchant, courier, payment_method="cod")
    create, _ = booking_routes(sr)

    shipment_assign_awb(shipment=shipment, actor="system")

    sent = body_of(create)
    assert (sent["payment_method"], sent["sub_total"], sent["channel_id"]) == ("COD", str(shipment.cod_amount), "76893")


def test_a_courier_without_a_service_code_lets_shiprocket_choose(merchant, account, sr, login):
    any_courier = account_courier(merchant, account, code="sr-any", service_code="")
    shipment = new_shipment(merchant, any_courier)
    _, assign = booking_routes(sr)

    shipment_assign_awb(shipment=shipment, actor="system")

    assert body_of(assign) == {"shipment_id": SR_SHIPMENT}


def test_an_order_without_dimensions_or_pickup_location_is_refused_before_any_call(merchant, account, courier, sr,
                                                                                   login):  # fmt: skip
    shipment = new_shipment(merchant, courier, length_cm=Decimal("0"))
    create, _ = booking_routes(sr)
    with pytest.raises(DomainError) as no_size:
        ShiprocketAdapter().assign_awb(shipment, lambda: "", key="k1")
    assert no_size.value.message == (f"Shiprocket needs the parcel's length, breadth and height (more than 0.5 cm "
                                     f"each): set them on order {shipment.order.number} before booking.")  # fmt: skip

    account.options = {}
    account.save(update_fields=["options"])
    courier.refresh_from_db()
    with pytest.raises(DomainError) as no_pickup:
        ShiprocketAdapter().assign_awb(new_shipment(merchant, courier), lambda: "", key="k2")
    assert no_pickup.value.message.startswith("Set the 'pickup_location' option of the Shiprocket account")
    assert (login.call_count, create.call_count) == (0, 0)


# -- refusals in a 200 and never a second order ----------------------------------------------------------------------


def test_an_awb_refused_in_a_200_is_the_courier_s_refusal_with_its_message(merchant, courier, sr, login):
    shipment = new_shipment(merchant, courier)
    booking_routes(sr, assign="awb_refused")
    said = "Selected courier is not serviceable for the delivery pincode 560025."

    with pytest.raises(DomainError) as caught:
        shipment_assign_awb(shipment=shipment, actor="system")

    assert caught.value.code == "courier_call_failed"
    call = CourierCall.objects.get(shipment=shipment)
    reference = booking_reference(shipment)
    assert (call.status, call.outcome_unknown) == ("failed", False)
    assert call.error == f"Shiprocket (shiprocket account) refused an AWB for {reference}: {said.rstrip('.')}."
    shipment.refresh_from_db()
    assert (shipment.status, shipment.awb) == ("new", "")
    with pytest.raises(DomainError) as direct:
        ShiprocketAdapter().assign_awb(shipment, lambda: "", key="k1")
    assert direct.value.code == "courier_refused"
    assert direct.value.details == {"status": 200, "service_message": said, "service_errors": []}


def test_a_wallet_refusal_without_an_assign_status_is_a_refusal_too(merchant, courier, sr, login):
    shipment = new_shipment(merchant, courier)
    booking_routes(sr, assign=httpx.Response(200, json={"status_code": 350, "message": "Insufficient wallet balance"}))

    with pytest.raises(DomainError) as caught:
        ShiprocketAdapter().assign_awb(shipment, lambda: "", key="k1")

    assert (caught.value.code, caught.value.details["service_message"]) == (
        "courier_refused", "Insufficient wallet balance")  # fmt: skip


def test_a_second_attempt_after_a_refused_awb_reuses_the_order(merchant, courier, sr, login):
    shipment = new_shipment(merchant, courier)
    create, assign = booking_routes(sr, assign="awb_refused")
    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, actor="system")
    assign.mock(return_value=httpx.Response(200, json=recording("awb_assigned", awb=AWB)))
    lookup = lookup_route(sr, shipment)

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb) == ("awb_assigned", AWB)
    assert (create.call_count, assign.call_count, lookup.call_count, login.call_count) == (1, 2, 1, 1)
    assert dict(lookup.calls.last.request.url.params) == {"search": booking_reference(shipment), "per_page": "50"}
    assert shipment.carrier_data["found_by_reference"] is True


def test_an_order_whose_answer_was_lost_is_found_and_never_created_twice(merchant, courier, sr, login, waits):
    shipment = new_shipment(merchant, courier)
    create, assign = booking_routes(sr, create=httpx.ReadTimeout("slow"))

    with pytest.raises(DomainError) as caught:
        shipment_assign_awb(shipment=shipment, actor="system")

    assert caught.value.code == "courier_call_failed"
    call = CourierCall.objects.get(shipment=shipment)
    assert (call.status, call.outcome_unknown) == ("failed", True)
    assert (create.call_count, assign.call_count, waits) == (1, 0, [])  # the order is never sent again here

    lookup = lookup_route(sr, shipment)  # Shiprocket made the order, without an AWB yet
    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb, shipment.routing_code) == ("awb_assigned", AWB, "BLR/HSR/A12")
    assert (create.call_count, lookup.call_count, assign.call_count) == (1, 1, 1)
    assert body_of(assign) == {"shipment_id": SR_SHIPMENT, "courier_id": 51}
    call.refresh_from_db()
    assert (call.status, call.attempts) == ("succeeded", 2)


def test_an_awb_whose_answer_was_lost_is_taken_from_the_order_found(merchant, courier, sr, login):
    shipment = new_shipment(merchant, courier)
    create, assign = booking_routes(sr, assign=httpx.ReadTimeout("slow"))
    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, actor="system")
    lookup = lookup_route(sr, shipment, awb=AWB)

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb, shipment.routing_code) == ("awb_assigned", AWB, "")
    assert (create.call_count, assign.call_count, lookup.call_count) == (1, 1, 1)
    assert shipment.carrier_data == {
        "reference": booking_reference(shipment), "order_id": SR_ORDER, "shipment_id": SR_SHIPMENT,
        "pickup_location": "Home", "found_by_reference": True, "awb": AWB, "courier_company_id": None,
        "courier_name": "Xpressbees Surface"}  # fmt: skip


def test_a_booking_whose_process_died_is_looked_up_before_creating_again(merchant, courier, sr, login):
    shipment = new_shipment(merchant, courier)
    create, assign = booking_routes(sr)
    _, call = book_intent(shipment=shipment, actor="system")
    call_run(call)  # Shiprocket booked it; the process died before recording the answer
    CourierCall.objects.filter(pk=call.pk).update(started_at=timezone.now() - CALL_RETRY_AFTER - timedelta(seconds=1))
    lookup = lookup_route(sr, shipment, awb=AWB)

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb) == ("awb_assigned", AWB)
    assert (create.call_count, assign.call_count, lookup.call_count) == (1, 1, 1)


def test_find_booking_answers_none_when_shiprocket_has_no_live_order_for_the_reference(merchant, courier, sr, login):
    shipment = new_shipment(merchant, courier)
    lookup = lookup_route(sr, shipment, "orders_empty")
    assert ShiprocketAdapter().find_booking(shipment, key="k1") is None

    lookup_route(sr, shipment, status="CANCELED")  # a cancelled order is no booking
    assert ShiprocketAdapter().find_booking(shipment, key="k1") is None
    assert lookup.call_count == 2


def test_an_order_id_shiprocket_has_already_is_looked_up_and_taken(merchant, courier, sr, login):
    shipment = new_shipment(merchant, courier)
    refused = httpx.Response(422, json={"message": "Order Id already exists", "status_code": 422})
    create, assign = booking_routes(sr, create=refused)
    lookup = lookup_route(sr, shipment)

    booking = ShiprocketAdapter().assign_awb(shipment, lambda: "", key="k1")

    assert booking.awb == AWB and booking.carrier_data["found_by_reference"] is True
    assert (create.call_count, lookup.call_count, assign.call_count) == (1, 1, 1)


def test_a_cancelled_order_answered_for_our_reference_is_refused(merchant, courier, sr, login):
    shipment = new_shipment(merchant, courier)
    create, assign = booking_routes(sr, create=httpx.Response(200, json={
        **recording("order_created"), "status": "CANCELED", "status_code": 5}))  # fmt: skip

    with pytest.raises(DomainError) as caught:
        ShiprocketAdapter().assign_awb(shipment, lambda: "", key="k1")

    assert caught.value.code == "courier_refused" and "cancelled order 281248157" in caught.value.message
    assert assign.call_count == 0


@pytest.mark.parametrize(("body", "what"), [
    (b"<html><body>502 Bad Gateway</body></html>", "an HTML page"), (b"", "an empty body"),
    (b'{"order_id": ', "malformed JSON"),
])  # fmt: skip
def test_an_unreadable_order_answer_may_have_created_it(merchant, courier, sr, login, body, what):
    shipment = new_shipment(merchant, courier)
    booking_routes(sr, create=httpx.Response(200, content=body))

    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, actor="system")

    call = CourierCall.objects.get(shipment=shipment)
    assert call.outcome_unknown and call.error == (f"Shiprocket (shiprocket account) answered 200 with {what}; it "
                                                   "may have acted on the request.")  # fmt: skip


# -- the session -----------------------------------------------------------------------------------------------------


def test_one_login_serves_every_call_and_a_401_renews_it_once(merchant, account, courier, sr, login):
    shipment = Shipment(courier=courier, awb=AWB)
    track = track_route(sr)

    ShiprocketAdapter().fetch_tracking([shipment], now=NOW)
    ShiprocketAdapter().fetch_tracking([shipment], now=NOW)
    assert (login.call_count, track.call_count) == (1, 2)

    login.mock(return_value=httpx.Response(200, json=recording("login", token=TOKEN_2)))
    track.mock(side_effect=[httpx.Response(401, json={"message": "Token has expired"}),
                            httpx.Response(200, json=recording("track_awbs", awb=AWB))])  # fmt: skip
    updates = ShiprocketAdapter().fetch_tracking([shipment], now=NOW)

    assert (len(updates), login.call_count, track.call_count) == (5, 2, 4)
    assert [c.request.headers["Authorization"] for c in track.calls] == [f"Bearer {TOKEN}"] * 3 + [f"Bearer {TOKEN_2}"]
    account.refresh_from_db()
    assert (account.session, account.health) == ({"token": TOKEN_2}, AccountHealth.CONNECTED)


def test_a_token_refused_twice_is_rejected_credentials_after_one_renewal(merchant, account, courier, sr, login):
    track = sr.post(TRACK).mock(return_value=httpx.Response(401, json={"message": "Unauthenticated."}))

    with pytest.raises(DomainError) as caught:
        ShiprocketAdapter().fetch_tracking([Shipment(courier=courier, awb=AWB)], now=NOW)

    assert caught.value.code == "courier_credentials_rejected"
    assert (login.call_count, track.call_count) == (2, 2)


def test_a_refused_login_is_the_account_s_credentials_rejected(merchant, account, sr, login):
    login.mock(return_value=httpx.Response(400, json={"message": "Invalid email and password combination",
                                                      "status_code": 400}))  # fmt: skip
    pickups = sr.get(f"{BASE}/settings/company/pickup")

    account = courier_account_check(account=account)

    assert account.health == AccountHealth.REJECTED
    assert account.health_message == ("Shiprocket (shiprocket account) refused the API user's email and password "
                                       "(Invalid email and password combination).")  # fmt: skip
    assert (login.call_count, pickups.call_count, account.session) == (1, 0, {})


# -- pickups, cancellation, NDR --------------------------------------------------------------------------------------


def test_a_pickup_is_asked_for_the_shipment_on_the_day(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    day = timezone.now().astimezone(merchant.tzinfo).date() + timedelta(days=1)
    route = sr.post(f"{BASE}/courier/generate/pickup").mock(
        return_value=httpx.Response(200, json=recording("pickup", date=day.isoformat(), awb=AWB)))  # fmt: skip

    pickup = pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system", pickup_date=day)

    assert pickup.token == "194_BIGFOOT 1966840_11122021"
    assert body_of(route) == {"shipment_id": [SR_SHIPMENT], "pickup_date": [day.isoformat()]}
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_pickup_refused_in_a_200_fails_and_a_pickup_cancelled_calls_nothing(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    sr.post(f"{BASE}/courier/generate/pickup").mock(return_value=httpx.Response(200, json={
        "pickup_status": 0, "response": {"data": "Pickup address is not verified"}}))  # fmt: skip

    with pytest.raises(DomainError) as caught:
        ShiprocketAdapter().schedule_pickup(courier=courier, location=None, pickup_date=date(2031, 5, 2),
                                            awbs=[shipment.awb], key="k1")  # fmt: skip

    assert caught.value.details["service_message"] == "Pickup address is not verified"
    calls = sr.calls.call_count
    assert ShiprocketAdapter().cancel_pickup(pickup=None, key="k1") is None
    assert sr.calls.call_count == calls


def test_cancelling_the_shipment_cancels_its_shiprocket_order(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    route = sr.post(f"{BASE}/orders/cancel").mock(return_value=httpx.Response(204))

    shipment = shipment_cancel(shipment=shipment, actor="user:1", reason="customer asked")

    assert shipment.status == "cancelled"
    assert body_of(route) == {"ids": [SR_ORDER]}
    assert CourierCall.objects.get(shipment=shipment, kind="cancel").status == "succeeded"


def test_a_booking_called_off_for_a_courier_change_cancels_only_the_awb(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    route = sr.post(f"{BASE}/orders/cancel/shipment/awbs").mock(return_value=httpx.Response(200, json={
        "message": "Bulk Shipment cancellation is in progress. Please wait for 24 hours."}))  # fmt: skip

    ShiprocketAdapter().cancel(shipment, awb=AWB, key="k1")

    assert body_of(route) == {"awbs": [AWB]}


def test_a_cancellation_shiprocket_refuses_leaves_the_call_failed(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    sr.post(f"{BASE}/orders/cancel").mock(return_value=httpx.Response(400, json={
        "message": "Order cannot be cancelled as it is already picked up.", "status_code": 400}))  # fmt: skip

    shipment = shipment_cancel(shipment=shipment, actor="user:1")

    call = CourierCall.objects.get(shipment=shipment, kind="cancel")
    assert (shipment.status, call.status) == ("cancelled", "failed")
    assert call.error == ("Shiprocket (shiprocket account) refused: Order cannot be cancelled as it is already "
                          "picked up..")  # fmt: skip


def test_a_reattempt_and_a_return_are_passed_to_shiprocket_s_ndr_api(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    route = sr.post(f"{BASE}/ndr/{AWB}/action").mock(
        return_value=httpx.Response(202, json={"status": "Data Updated Sucessfully"}))  # fmt: skip

    ShiprocketAdapter().ndr_action(shipment, action="reattempt", reattempt_date=date(2031, 5, 3),
                                   comment="Customer asked for Saturday", key="k1")  # fmt: skip
    assert body_of(route) == {"action": "re-attempt", "comments": "Customer asked for Saturday",
                              "deferred_date": "2031-05-03"}  # fmt: skip

    ShiprocketAdapter().ndr_action(shipment, action="rto", key="k2")
    assert body_of(route) == {"action": "return", "comments": "Return to origin requested by the seller."}
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"

    with pytest.raises(DomainError) as caught:
        ShiprocketAdapter().ndr_action(shipment, action="fake-attempt", key="k3")
    assert caught.value.code == "courier_refused"
    assert caught.value.message == f"Shiprocket takes a re-attempt or a return to origin for {AWB}, not 'fake-attempt'."
    assert route.call_count == 2


def test_a_failed_delivery_opens_an_ndr_and_the_decision_goes_through_the_service(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    body = recording("track_delivered", awb=AWB)
    activities = body[AWB]["tracking_data"]["shipment_track_activities"]
    activities[0] = {**activities[0], "sr-status": "21", "sr-status-label": "UNDELIVERED", "status": "UD",
                     "activity": "Consignee Unavailable"}  # fmt: skip
    sr.post(TRACK).mock(return_value=httpx.Response(200, json=body))
    tracking_poll(courier=courier, now=NOW)
    ndr = NDR.objects.get(shipment=shipment)
    route = sr.post(f"{BASE}/ndr/{AWB}/action").mock(return_value=httpx.Response(202, json={}))

    ndr = ndr_action(ndr=ndr, action="reattempt", actor="user:1")

    assert (ndr.reason, ndr.status) == ("Consignee Unavailable", "reattempt")
    assert body_of(route) == {
        "action": "re-attempt",
        "comments": "Re-attempt requested by the seller.",
        "deferred_date": ndr.reattempt_date.isoformat(),
    }  # the service's default: tomorrow
    assert CourierCall.objects.get(shipment=shipment, kind="ndr_action").status == "succeeded"


# -- tracking --------------------------------------------------------------------------------------------------------


def test_every_code_of_the_table_means_a_shopops_status_or_nothing():
    for code, status in STATUS_CODES.items():
        assert code == code.lower() and (code.isdigit() or code == "na")
        assert status == "" or status in ShipmentStatus.values
    assert {STATUS_CODES[c] for c in ("42", "18", "17", "7", "21", "9", "46", "10", "12")} == {
        "picked_up", "in_transit", "out_for_delivery", "delivered", "ndr", "rto_initiated", "rto_in_transit",
        "rto_delivered", "lost"}  # fmt: skip


def test_polls_map_shiprocket_statuses_and_move_the_shipment_to_delivered(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    track = track_route(sr)

    result = tracking_poll(courier=courier, now=NOW)

    shipment.refresh_from_db()
    assert (result.accepted, result.applied, result.unknown, shipment.status) == (5, 2, 0, "in_transit")
    assert body_of(track) == {"awbs": [AWB]}
    assert shipment.shipped_at == datetime(2025, 1, 2, 9, 40, 52, tzinfo=UTC)  # 15:10:52 India time
    picked = TrackingEvent.objects.get(shipment=shipment, code="42")
    assert (picked.status, picked.description, picked.location, picked.event_key) == (
        "picked_up", "PickDone", "RTO/CHD, BANGALORE, KARNATAKA", f"{AWB}|42@2025-01-02T15:10:52+05:30")  # fmt: skip

    track_route(sr, "track_delivered")
    result = tracking_poll(courier=courier, now=NOW)
    shipment.refresh_from_db()
    assert (result.accepted, result.duplicates, shipment.status) == (3, 1, "delivered")
    assert shipment.order.status == OrderStatus.DELIVERED


def test_unknown_codes_are_kept_flagged_and_move_nothing(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    body = recording("track_awbs", awb=AWB)
    body[AWB]["tracking_data"]["shipment_track_activities"].insert(0, {
        "date": "2025-01-03 10:00:00", "status": "UT", "activity": "Shipment untraceable", "location": "NA",
        "sr-status": "76", "sr-status-label": "UNTRACEABLE"})  # fmt: skip
    sr.post(TRACK).mock(return_value=httpx.Response(200, json=body))

    result = tracking_poll(courier=courier, now=NOW)

    shipment.refresh_from_db()
    assert (result.accepted, result.unknown, shipment.status) == (6, 1, "in_transit")
    flagged = TrackingEvent.objects.get(shipment=shipment, unknown_code=True)
    assert (flagged.code, flagged.status, flagged.location) == ("76", "", "")


def test_tracking_asks_for_fifty_awbs_at_a_time_and_skips_what_shiprocket_does_not_know(merchant, courier, sr,
                                                                                        login):  # fmt: skip
    shipments = [Shipment(courier=courier, awb=f"1411232{n:08d}") for n in range(60)]
    route = sr.post(TRACK).mock(return_value=httpx.Response(200, json={
        "141123200000000": {"tracking_data": {"track_status": 0, "error": "Aahh! There is no activities found in "
                                                                          "our DB."}}}))  # fmt: skip

    assert ShiprocketAdapter().fetch_tracking(shipments, now=NOW) == []

    asked = [json.loads(request.content)["awbs"] for request, _ in route.calls]
    assert [len(awbs) for awbs in asked] == [50, 10] and asked[0][0] == "141123200000000"


def test_shiprocket_s_two_time_formats_are_india_time():
    assert scan_time("2025-01-02 15:10:52") == datetime(2025, 1, 2, 9, 40, 52, tzinfo=UTC)
    assert scan_time("23 05 2023 11:43:52") == datetime(2023, 5, 23, 6, 13, 52, tzinfo=UTC)
    with pytest.raises(ValueError):
        scan_time("yesterday")


# -- the label -------------------------------------------------------------------------------------------------------


def test_the_label_is_generated_and_downloaded_from_its_link_without_the_token(merchant, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    generate = sr.post(f"{BASE}/courier/generate/label").mock(
        return_value=httpx.Response(200, json=recording("label")))  # fmt: skip
    download = sr.get(LABEL_LINK).mock(
        return_value=httpx.Response(200, content=pdf_bytes(), headers={"Content-Type": "application/pdf"}))  # fmt: skip

    document = document_render(document_id=Document.objects.get(kind="carrier_label").pk)

    assert (document.status, document.page_count) == ("done", 1)
    assert len(PdfReader(document.file.open("rb")).pages) == 1
    assert body_of(generate) == {"shipment_id": [SR_SHIPMENT]}
    assert generate.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in download.calls.last.request.headers

    download.mock(return_value=httpx.Response(200, text="<html>Not found</html>"))
    with pytest.raises(DomainError) as not_pdf:
        ShiprocketAdapter().carrier_label(shipment)
    assert not_pdf.value.code == "courier_bad_response"

    generate.mock(return_value=httpx.Response(200, json={"label_created": 0, "label_url": "", "not_created": [
        SR_SHIPMENT], "response": "AWB not assigned"}))  # fmt: skip
    with pytest.raises(DomainError) as not_yet:
        ShiprocketAdapter().carrier_label(shipment)
    assert (not_yet.value.code, not_yet.value.message) == (
        "courier_unavailable",
        f"Shiprocket (shiprocket account) has no label for {AWB} yet: AWB not assigned.",
    )


# -- prices and the connection ---------------------------------------------------------------------------------------


def test_live_quotes_are_one_per_courier_company_shiprocket_offers(merchant, courier, sr, login):
    route = sr.get(f"{BASE}/courier/serviceability/").mock(
        return_value=httpx.Response(200, json=recording("serviceability")))  # fmt: skip
    parcel = Parcel(pickup_postcode="560001", delivery_postcode="560025", weight_grams=500, cod=True,
                    declared_value=Decimal("1180.00"), length_cm=20, breadth_cm=15, height_cm=10)  # fmt: skip

    quotes = ShiprocketAdapter().live_quotes(courier, parcel)

    assert quotes == [
        LiveQuote(service_code="51", name="Xpressbees Surface", total=Decimal("98.50"), freight=Decimal("63.50"),
                  cod_charge=Decimal("35.00"), estimated_days=3),
        LiveQuote(service_code="10", name="Delhivery", total=Decimal("121.20"), freight=Decimal("86.20"),
                  cod_charge=Decimal("35.00"), estimated_days=None),
    ]  # fmt: skip
    assert dict(route.calls.last.request.url.params) == {
        "pickup_postcode": "560001", "delivery_postcode": "560025", "weight": "0.5", "cod": "1",
        "declared_value": "1180.00", "length": "20", "breadth": "15", "height": "10"}  # fmt: skip
    route.mock(return_value=httpx.Response(404, json={"message": "No courier serviceable", "status": 404}))
    assert ShiprocketAdapter().live_quotes(courier, parcel) == []
    assert ShiprocketAdapter().live_quotes(courier, Parcel("10001", "10002", 500, False, Decimal("1"),
                                                           country="US")) == []  # fmt: skip


def test_test_connection_logs_in_and_lists_the_pickup_locations(merchant, account, sr, login):
    route = sr.get(f"{BASE}/settings/company/pickup").mock(
        return_value=httpx.Response(200, json=recording("pickup_locations")))  # fmt: skip

    account = courier_account_check(account=account)

    assert account.health == AccountHealth.CONNECTED
    assert account.health_message == ("Connected: 2 pickup locations (Home, Warehouse); orders go out from "
                                       "'Home'.")  # fmt: skip
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert login.call_count == 1

    account.options = {"pickup_location": "Shop"}
    account.save(update_fields=["options"])
    message = ShiprocketAdapter().check_connection(account)
    assert message == ("Connected: 2 pickup locations (Home, Warehouse); the pickup_location option 'Shop' is not "
                       "one of them: bookings will be refused.")  # fmt: skip


# -- tracking pushes -------------------------------------------------------------------------------------------------


def push_body(shipment) -> bytes:
    return json.dumps(recording("webhook", ref=booking_reference(shipment), awb=shipment.awb)).encode()


def test_a_push_with_the_account_s_token_is_stored_and_moves_the_shipment(merchant, account, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    body = push_body(shipment)

    delivery, new = courier_webhook_receive(
        webhook_id=account.webhook_id, body=body, headers={"Content-Type": "application/json", "x-api-key": HOOK_TOKEN}
    )
    assert new and delivery.delivery_id == f"{AWB}:7:03 01 2025 11:37:00"
    again, new_again = courier_webhook_receive(webhook_id=account.webhook_id, body=body,
                                               headers={"X-Api-Key": HOOK_TOKEN})  # fmt: skip
    assert (again.pk, new_again) == (delivery.pk, False)

    delivery = courier_webhook_process(delivery_id=delivery.pk)

    assert (delivery.status, delivery.result["accepted"], delivery.result["applied"]) == ("processed", 2, 2)
    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    event = TrackingEvent.objects.get(shipment=shipment, source="webhook", code="7")
    assert (event.description, event.location, event.unknown_code) == (
        "Delivered", "KORAMANGALA, Bengaluru, KARNATAKA", False)  # fmt: skip


def test_the_same_scan_by_push_and_by_poll_is_one_event(merchant, account, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    delivery, _ = courier_webhook_receive(webhook_id=account.webhook_id, body=push_body(shipment),
                                          headers={"x-api-key": HOOK_TOKEN})  # fmt: skip
    courier_webhook_process(delivery_id=delivery.pk)
    track_route(sr, "track_delivered")

    updates = ShiprocketAdapter().fetch_tracking([shipment], now=NOW)
    result = tracking_ingest(courier=courier, updates=updates, source="poll", now=NOW)

    assert (result.accepted, result.duplicates) == (2, 2)
    assert TrackingEvent.objects.filter(shipment=shipment, code="7").count() == 1


def test_a_push_without_scans_is_read_from_its_shipment_status(merchant, account):
    payload = {"awb": AWB, "current_status": "IN TRANSIT", "current_status_id": 20, "shipment_status": "IN TRANSIT",
               "shipment_status_id": 18, "current_timestamp": "23 05 2023 11:43:52", "scans": []}  # fmt: skip

    (update,) = ShiprocketAdapter().parse_webhook(account, payload)

    assert (update.awb, update.code, update.description) == (AWB, "18", "IN TRANSIT")
    assert update.event_id == "18@2023-05-23T11:43:52+05:30"
    assert ShiprocketAdapter().webhook_delivery_id(payload, b"{}") == f"{AWB}:18:23 05 2023 11:43:52"


@pytest.mark.parametrize("headers", [
    {"x-api-key": "wrong-token"}, {"x-api-key": HOOK_TOKEN + "x"}, {}, {"Authorization": f"Token {HOOK_TOKEN}"},
])  # fmt: skip
def test_a_push_without_the_account_s_token_is_refused_and_nothing_is_stored(merchant, account, courier, sr, login,
                                                                             headers):  # fmt: skip
    shipment = booked(merchant, courier, sr)

    with pytest.raises(WebhookRefused):
        courier_webhook_receive(webhook_id=account.webhook_id, headers=headers, body=push_body(shipment))

    assert CourierWebhookDelivery.objects.count() == 0


def test_an_account_without_a_webhook_token_refuses_every_push(merchant, account, courier, sr, login):
    shipment = booked(merchant, courier, sr)
    account.credentials = {"email": EMAIL, "password": PASSWORD}
    account.save(update_fields=["credentials"])

    with pytest.raises(WebhookRefused) as caught:
        courier_webhook_receive(webhook_id=account.webhook_id, headers={"x-api-key": ""}, body=push_body(shipment))

    assert str(caught.value) == ("This Shiprocket account has no webhook token: set one here and the same token in "
                                 "Shiprocket (Settings, API, Webhooks).")  # fmt: skip
    assert CourierWebhookDelivery.objects.count() == 0


def test_a_push_without_an_awb_fails_its_processing_with_the_reason(merchant, account):
    delivery, _ = courier_webhook_receive(webhook_id=account.webhook_id, body=b'{"current_status": "DELIVERED"}',
                                          headers={"x-api-key": HOOK_TOKEN})  # fmt: skip

    delivery = courier_webhook_process(delivery_id=delivery.pk)

    assert (delivery.status, delivery.error) == (
        "failed", "The payload could not be read: ValueError: A Shiprocket push names its AWB.")  # fmt: skip


# -- secrets ---------------------------------------------------------------------------------------------------------


def test_the_password_and_token_never_reach_logs_the_http_log_calls_or_shipments(merchant, account, courier, sr,
                                                                                 login, caplog, capsys):  # fmt: skip
    caplog.set_level(logging.DEBUG)
    shipment = booked(merchant, courier, sr)
    sr.post(f"{BASE}/courier/generate/label").mock(return_value=httpx.Response(200, json=recording("label")))
    sr.get(LABEL_LINK).mock(return_value=httpx.Response(200, content=pdf_bytes()))
    document_render(document_id=Document.objects.get(kind="carrier_label").pk)
    track_route(sr, "track_delivered")
    tracking_poll(courier=courier, now=NOW)
    sr.post(f"{BASE}/orders/cancel/shipment/awbs").mock(
        return_value=httpx.Response(400, json={"message": f"bad token {TOKEN} for {EMAIL}"}))  # fmt: skip
    with pytest.raises(DomainError) as echoed:
        ShiprocketAdapter().cancel(shipment, awb=AWB, key="k1")
    with pytest.raises(WebhookRefused) as refused:
        courier_webhook_receive(webhook_id=account.webhook_id, headers={"x-api-key": "nope"},
                                body=push_body(shipment))  # fmt: skip

    logs = list(CourierHttpLog.objects.filter(account=account))
    assert [log.operation for log in reversed(logs)] == ["login", "create_order", "assign_awb", "label",
                                                         "label_download", "track", "cancel"]  # fmt: skip
    stored = " ".join(" ".join([log.url, log.request_body, log.response_body, log.error]) for log in logs)
    calls = " ".join(json.dumps([c.request, c.response, c.error]) for c in CourierCall.objects.all())
    shipment.refresh_from_db()
    out, err = capsys.readouterr()
    for secret in (PASSWORD, TOKEN, HOOK_TOKEN):
        for text in (stored, calls, json.dumps(shipment.carrier_data), caplog.text, out, err, echoed.value.message,
                     json.dumps(echoed.value.details), str(refused.value)):  # fmt: skip
            assert secret not in text
    assert '"password": "[redacted]"' in logs[-1].request_body and '"token": "[redacted]"' in logs[-1].response_body


# -- one login for every process -------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_threads_that_need_a_token_at_once_log_in_once(merchant):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")
    account = make_account(merchant, "shiprocket", options=dict(OPTIONS))
    courier = account_courier(merchant, account, code="sr-xpressbees", service_code="51")
    arrived, results, errors = threading.Barrier(4), [], []

    def slow_login(request):
        threading.Event().wait(0.5)  # the others reach the lock while this login is under way
        return httpx.Response(200, json=recording("login", token=TOKEN))

    def worker():
        try:
            mine = CourierAccount.objects.get(pk=account.pk)
            arrived.wait(timeout=5)
            results.append(ShiprocketAdapter().check_connection(mine))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    with respx.mock(assert_all_called=False) as sr:
        login = sr.post(f"{BASE}/auth/login").mock(side_effect=slow_login)
        pickups = sr.get(f"{BASE}/settings/company/pickup").mock(
            return_value=httpx.Response(200, json=recording("pickup_locations")))  # fmt: skip
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)

    assert errors == [] and len(results) == 4
    assert (login.call_count, pickups.call_count) == (1, 4)
    assert {c.request.headers["Authorization"] for c in pickups.calls} == {f"Bearer {TOKEN}"}
    assert courier.account_id == account.pk
