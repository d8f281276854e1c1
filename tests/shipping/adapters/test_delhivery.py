"""Delhivery through a merchant's account, against answers recorded from Delhivery's published examples
(``recordings/delhivery``): booking (waybill, then manifest) without ever a second manifest, the label, pickups,
tracking through the status table, NDR decisions, cancellation, prices, the connection check and scan pushes."""

import hashlib
import io
import json
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from django.utils import timezone
from pypdf import PdfReader, PdfWriter

from orders.models import OrderStatus
from shipping.adapters import ADAPTERS, LiveQuote, Parcel, WebhookRefused, booking_reference
from shipping.adapters.delhivery import STATUS_CODES, DelhiveryAdapter, scan_code
from shipping.models import (
    NDR,
    AccountHealth,
    CourierCall,
    CourierHttpLog,
    CourierWebhookDelivery,
    Document,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from shipping.services.accounts import (
    courier_account_check,
    courier_account_update,
    courier_webhook_process,
    courier_webhook_receive,
)
from shipping.services.calls import CALL_RETRY_AFTER, call_run
from shipping.services.documents import document_render
from shipping.services.ndr import ndr_action
from shipping.services.pickups import pickup_cancel, pickup_schedule
from shipping.services.shipments import book_intent, shipment_assign_awb, shipment_cancel, shipment_create
from shipping.services.tracking import tracking_ingest, tracking_poll
from shopops.errors import DomainError
from tests.orders.factories import make_order
from tests.shipping.adapters.conftest import BASE_URLS, CREDENTIALS, account_courier, make_account
from tests.shipping.factories import ORDERED_AT, shipping_courier

BASE = BASE_URLS["delhivery"]
TOKEN = CREDENTIALS["delhivery"]["api_token"]
HOOK_TOKEN = CREDENTIALS["delhivery"]["webhook_token"]
RECORDINGS = Path(__file__).parent / "recordings" / "delhivery"
AWB = "1490810000014"
OPTIONS = {"client_name": "ACME RETAIL", "pickup_location": "Acme Main"}
#: The polls' clock: after the recorded scans (2025-01-01 to 01-03, India time).
NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
S3_LINK = f"https://express-hq.s3.ap-south-1.amazonaws.com/packing-slip/{AWB}.pdf"
TRACK = f"{BASE}/api/v1/packages/json/"


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
    return make_account(merchant, "delhivery", options=dict(OPTIONS))


@pytest.fixture
def courier(merchant, account):
    return account_courier(merchant, account, code="delhivery-surface", service_code="Surface")


@pytest.fixture
def dlv():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def new_shipment(merchant, courier, **order) -> Shipment:
    placed = make_order(merchant, OrderStatus.PACKED, ordered_at=ORDERED_AT, **order)
    return shipment_create(order=placed, courier=courier, actor="system")


def booking_routes(dlv, shipment, manifest: Any = "manifest_success"):
    """The waybill and manifest routes answering a booking of ``shipment`` (``manifest``: a recording's name, or
    what the route does)."""
    waybill = dlv.get(f"{BASE}/waybill/api/fetch/json/").mock(return_value=httpx.Response(200, json=AWB))
    answer = (httpx.Response(200, json=recording(manifest, ref=booking_reference(shipment), awb=AWB))
              if isinstance(manifest, str) else manifest)  # fmt: skip
    create = dlv.post(f"{BASE}/api/cmu/create.json")
    create.mock(side_effect=answer) if isinstance(answer, list | Exception) else create.mock(return_value=answer)
    return waybill, create


def lookup_route(dlv, shipment, answer: str = "track_booked"):
    reference = booking_reference(shipment)
    response = (httpx.Response(400, json=recording(answer)) if answer == "track_not_found"
                else httpx.Response(200, json=recording(answer, ref=reference, awb=AWB)))  # fmt: skip
    return dlv.get(TRACK, params={"ref_ids": reference}).mock(return_value=response)


def booked(merchant, courier, dlv, **order) -> Shipment:
    shipment = new_shipment(merchant, courier, **order)
    booking_routes(dlv, shipment)
    return shipment_assign_awb(shipment=shipment, actor="system")


def manifest_of(request: httpx.Request) -> dict:
    form = parse_qs(request.content.decode())
    assert form["format"] == ["json"]
    return json.loads(form["data"][0])


def track_route(dlv, shipment, answer: str):
    body = recording(answer, ref=booking_reference(shipment), awb=shipment.awb)
    return dlv.get(TRACK, params={"waybill": shipment.awb}).mock(return_value=httpx.Response(200, json=body))


def test_the_adapter_is_registered_under_its_service_name():
    adapter = ADAPTERS["delhivery"]()
    assert isinstance(adapter, DelhiveryAdapter)
    assert (adapter.remote, adapter.polls, adapter.carrier_labels, adapter.batch_size) == (True, True, True, 50)


# -- the whole journey -------------------------------------------------------------------------------------------


def test_book_label_pickup_transit_and_delivery_through_the_services(merchant, account, courier, dlv, waits):
    shipment = new_shipment(merchant, courier)
    reference = booking_reference(shipment)
    waybill, create = booking_routes(dlv, shipment)

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb, shipment.routing_code) == ("awb_assigned", AWB, "BLR/HSR")
    assert shipment.carrier_data == {"waybill": AWB, "reference": reference, "upload_wbn": "UPL6385691929386553831",
                                     "shipping_mode": "Surface", "pickup_location": "Acme Main",
                                     "sort_code": "BLR/HSR"}  # fmt: skip
    assert (waybill.call_count, create.call_count) == (1, 1)
    fetch = waybill.calls.last.request
    assert fetch.headers["Authorization"] == f"Token {TOKEN}" and TOKEN not in str(fetch.url)
    assert dict(fetch.url.params) == {"cl": "ACME RETAIL"}
    sent = create.calls.last.request
    assert sent.headers["Authorization"] == f"Token {TOKEN}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    manifest = manifest_of(sent)
    assert manifest["pickup_location"] == {"name": "Acme Main"}
    (parcel,) = manifest["shipments"]
    order = shipment.order
    assert {k: parcel[k] for k in ("order", "waybill", "client", "payment_mode", "cod_amount", "total_amount", "name",
                                   "add", "pin", "city", "state", "country", "phone", "shipping_mode")} == {
        "order": reference, "waybill": AWB, "client": "ACME RETAIL", "payment_mode": "Prepaid", "cod_amount": "0",
        "total_amount": str(order.total), "name": "Priya Sharma", "add": "42 Residency Road", "pin": "560025",
        "city": "Bengaluru", "state": "Karnataka", "country": "India", "phone": "9812345678",
        "shipping_mode": "Surface"}  # fmt: skip
    line = order.lines.get()
    assert (parcel["products_desc"], parcel["quantity"]) == (f"{line.name} x {line.quantity}", str(line.quantity))

    # The booking asked for Delhivery's own label: a worker downloads it from the packing slip's link.
    document = Document.objects.get(kind="carrier_label")
    slip = dlv.get(f"{BASE}/api/p/packing_slip").mock(
        return_value=httpx.Response(200, json=recording("packing_slip", awb=AWB)))  # fmt: skip
    download = dlv.get(S3_LINK).mock(
        return_value=httpx.Response(200, content=pdf_bytes(), headers={"Content-Type": "application/pdf"})
    )
    document = document_render(document_id=document.pk)
    assert (document.status, document.page_count) == ("done", 1)
    assert len(PdfReader(document.file.open("rb")).pages) == 1
    assert dict(slip.calls.last.request.url.params) == {"wbns": AWB, "pdf": "true", "pdf_size": "4R"}
    assert "Authorization" not in download.calls.last.request.headers  # the signed link carries its own proof

    # The pickup: one request for the warehouse and the day.
    day = timezone.now().astimezone(merchant.tzinfo).date() + timedelta(days=1)
    pickup_route = dlv.post(f"{BASE}/fm/request/new/").mock(
        return_value=httpx.Response(200, json=recording("pickup", date=day.isoformat())))  # fmt: skip
    pickup = pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system", pickup_date=day)
    assert pickup.token == "4363128"
    assert json.loads(pickup_route.calls.last.request.content) == {
        "pickup_date": day.isoformat(), "pickup_time": "11:00:00", "pickup_location": "Acme Main",
        "expected_package_count": 1}  # fmt: skip

    # Polls: picked up and in transit, then out for delivery and delivered.
    track = track_route(dlv, shipment, "track_in_transit")
    result = tracking_poll(courier=courier, now=NOW)
    shipment.refresh_from_db()
    assert (result.accepted, result.applied, result.unknown, shipment.status) == (4, 2, 0, "in_transit")
    assert list(shipment.events.filter(kind="status_changed").values_list("to_status", flat=True)) == [
        "pickup_scheduled", "picked_up", "in_transit"]  # fmt: skip
    assert shipment.shipped_at == datetime(2025, 1, 2, 9, 40, 52, tzinfo=UTC)  # 15:10:52 India time
    assert dict(track.calls.last.request.url.params) == {"waybill": AWB}

    track.mock(return_value=httpx.Response(200, json=recording("track_delivered", ref=reference, awb=AWB)))
    result = tracking_poll(courier=courier, now=NOW)
    shipment.refresh_from_db()
    assert (result.accepted, result.duplicates, result.applied, shipment.status) == (3, 4, 2, "delivered")
    assert shipment.order.status == OrderStatus.DELIVERED
    delivered = TrackingEvent.objects.get(shipment=shipment, code="dl:delivered")
    assert (delivered.description, delivered.location, delivered.status) == (
        "Delivered to consignee", "Bengaluru_Koramangala_DC (Karnataka)", "delivered")  # fmt: skip
    assert waits == []


def test_a_cash_on_delivery_order_is_manifested_as_cod_with_its_amount(merchant, courier, dlv):
    shipment = new_shipment(merchant, courier, payment_method="cod")
    _, create = booking_routes(dlv, shipment)

    shipment_assign_awb(shipment=shipment, actor="system")

    (parcel,) = manifest_of(create.calls.last.request)["shipments"]
    assert (parcel["payment_mode"], parcel["cod_amount"]) == ("COD", str(shipment.order.total))


def test_an_express_courier_books_in_express_mode(merchant, account, dlv):
    express = account_courier(merchant, account, code="delhivery-express", service_code="Express")
    shipment = new_shipment(merchant, express)
    _, create = booking_routes(dlv, shipment)

    shipment_assign_awb(shipment=shipment, actor="system")

    (parcel,) = manifest_of(create.calls.last.request)["shipments"]
    assert parcel["shipping_mode"] == "Express"


# -- refusals in a 200 ---------------------------------------------------------------------------------------------


def test_a_refused_manifest_is_the_courier_s_refusal_with_its_reason(merchant, courier, dlv):
    shipment = new_shipment(merchant, courier)
    booking_routes(dlv, shipment, "manifest_refused")

    with pytest.raises(DomainError) as caught:
        DelhiveryAdapter().assign_awb(shipment, lambda: "", key="k1")

    assert caught.value.code == "courier_refused"
    reference = booking_reference(shipment)
    assert caught.value.message == (f"Delhivery (delhivery account) refused the booking of {reference}: "
                                    "ClientWarehouse matching query does not exist.")  # fmt: skip
    assert caught.value.details == {"status": 200, "service_message": "ClientWarehouse matching query does not exist.",
                                    "service_errors": []}  # fmt: skip


def test_a_failed_package_passes_its_remarks_through_and_the_shipment_waits(merchant, courier, dlv):
    shipment = new_shipment(merchant, courier)
    booking_routes(dlv, shipment, "manifest_package_fail")
    remark = ("Crashing while saving package due to exception '560025 is non serviceable pincode'. Package might "
              "have been partially saved.")  # fmt: skip

    with pytest.raises(DomainError) as caught:
        shipment_assign_awb(shipment=shipment, actor="system")

    assert caught.value.code == "courier_call_failed"
    call = CourierCall.objects.get(shipment=shipment)
    assert call.status == "failed" and not call.outcome_unknown and remark in call.error
    shipment.refresh_from_db()
    assert (shipment.status, shipment.awb) == ("new", "")
    with pytest.raises(DomainError) as direct:
        DelhiveryAdapter().assign_awb(shipment, lambda: "", key="k1")
    assert direct.value.details == {"status": 200, "service_message": remark, "service_errors": [remark]}


def test_a_failed_package_booked_again_is_looked_up_first_and_found(merchant, courier, dlv):
    # "Package might have been partially saved": the second attempt asks Delhivery before booking again.
    shipment = new_shipment(merchant, courier)
    waybill, create = booking_routes(dlv, shipment, "manifest_package_fail")
    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, actor="system")
    lookup = lookup_route(dlv, shipment)

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb, shipment.routing_code) == ("awb_assigned", AWB, "")
    assert (waybill.call_count, create.call_count, lookup.call_count) == (1, 1, 1)


@pytest.mark.parametrize("answer", ["manifest_duplicate", httpx.Response(400, json={"rmk": "Duplicate waybill"})])
def test_a_duplicate_order_refusal_takes_the_booking_delhivery_has(merchant, courier, dlv, answer):
    shipment = new_shipment(merchant, courier)
    waybill, create = booking_routes(dlv, shipment, answer)
    lookup = lookup_route(dlv, shipment)

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb) == ("awb_assigned", AWB)
    assert shipment.carrier_data == {"waybill": AWB, "reference": booking_reference(shipment),
                                     "found_by_reference": True}  # fmt: skip
    assert (create.call_count, lookup.call_count) == (1, 1)


@pytest.mark.parametrize("option", ["client_name", "pickup_location"])
def test_a_missing_option_is_refused_with_what_to_set_before_any_call(merchant, account, courier, dlv, option):
    account.options = {k: v for k, v in OPTIONS.items() if k != option}
    account.save(update_fields=["options"])
    shipment = new_shipment(merchant, courier)
    waybill, create = booking_routes(dlv, shipment)

    with pytest.raises(DomainError) as caught:
        DelhiveryAdapter().assign_awb(Shipment.objects.select_related("courier__account").get(pk=shipment.pk),
                                      lambda: "", key="k1")  # fmt: skip

    assert caught.value.code == "courier_refused"
    assert caught.value.message.startswith(f"Set the {option!r} option of the Delhivery account 'delhivery account'")
    assert (waybill.call_count, create.call_count) == (0, 0)


def test_a_courier_with_another_service_code_is_refused(merchant, account, dlv):
    odd = account_courier(merchant, account, code="delhivery-odd", service_code="Air")
    shipment = new_shipment(merchant, odd)
    waybill, _ = booking_routes(dlv, shipment)

    with pytest.raises(DomainError) as caught:
        DelhiveryAdapter().assign_awb(shipment, lambda: "", key="k1")

    assert caught.value.message == "Delhivery's service code is 'Air'; a Delhivery courier's is Surface or Express."
    assert waybill.call_count == 0


def test_no_waybill_for_the_client_is_a_refusal_naming_the_option(merchant, courier, dlv):
    shipment = new_shipment(merchant, courier)
    waybill, create = booking_routes(dlv, shipment)
    waybill.mock(return_value=httpx.Response(200, text="null"))

    with pytest.raises(DomainError) as caught:
        DelhiveryAdapter().assign_awb(shipment, lambda: "", key="k1")

    assert caught.value.code == "courier_refused"
    assert "check the account's client_name option" in caught.value.message
    assert create.call_count == 0


@pytest.mark.parametrize(("body", "expected"), [
    (b'"1490810000014"', AWB), (b"1490810000014", AWB), (b'"1490810000014,1490810000025"', AWB),
])  # fmt: skip
def test_the_waybill_is_read_in_each_of_delhivery_s_forms(merchant, courier, dlv, body, expected):
    shipment = new_shipment(merchant, courier)
    waybill, create = booking_routes(dlv, shipment)
    waybill.mock(return_value=httpx.Response(200, content=body))

    booking = DelhiveryAdapter().assign_awb(shipment, lambda: "", key="k1")

    assert booking.awb == expected
    assert manifest_of(create.calls.last.request)["shipments"][0]["waybill"] == expected


# -- never a second booking ------------------------------------------------------------------------------------------


def test_a_booking_that_timed_out_is_looked_up_and_never_made_twice(merchant, courier, dlv, waits):
    shipment = new_shipment(merchant, courier)
    waybill, create = booking_routes(dlv, shipment, httpx.ReadTimeout("slow"))

    with pytest.raises(DomainError) as caught:
        shipment_assign_awb(shipment=shipment, actor="system")

    assert caught.value.code == "courier_call_failed"
    call = CourierCall.objects.get(shipment=shipment)
    assert (call.status, call.outcome_unknown) == ("failed", True)
    assert (waybill.call_count, create.call_count, waits) == (1, 1, [])  # the manifest is never sent again here

    lookup = lookup_route(dlv, shipment)
    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb) == ("awb_assigned", AWB)
    assert (waybill.call_count, create.call_count, lookup.call_count) == (1, 1, 1)
    call.refresh_from_db()
    assert (call.status, call.attempts) == ("succeeded", 2)


def test_a_booking_that_timed_out_and_is_not_at_delhivery_is_booked_once_more(merchant, courier, dlv):
    shipment = new_shipment(merchant, courier)
    answer = httpx.Response(200, json=recording("manifest_success", ref=booking_reference(shipment), awb=AWB))
    waybill, create = booking_routes(dlv, shipment, [httpx.ReadTimeout("slow"), answer])
    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, actor="system")
    lookup = lookup_route(dlv, shipment, "track_not_found")

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb, shipment.routing_code) == ("awb_assigned", AWB, "BLR/HSR")
    assert (lookup.call_count, waybill.call_count, create.call_count) == (1, 2, 2)  # looked up once, not twice


def test_a_booking_whose_process_died_is_looked_up_before_booking_again(merchant, courier, dlv):
    shipment = new_shipment(merchant, courier)
    waybill, create = booking_routes(dlv, shipment)
    _, call = book_intent(shipment=shipment, actor="system")
    call_run(call)  # Delhivery booked it; the process died before recording the answer
    CourierCall.objects.filter(pk=call.pk).update(started_at=timezone.now() - CALL_RETRY_AFTER - timedelta(seconds=1))
    lookup = lookup_route(dlv, shipment)

    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    assert (shipment.status, shipment.awb) == ("awb_assigned", AWB)
    assert (waybill.call_count, create.call_count, lookup.call_count) == (1, 1, 1)


def test_find_booking_answers_none_when_delhivery_has_no_such_order(merchant, courier, dlv):
    shipment = new_shipment(merchant, courier)
    lookup = lookup_route(dlv, shipment, "track_not_found")

    assert DelhiveryAdapter().find_booking(shipment, key="k1") is None
    assert lookup.call_count == 1


@pytest.mark.parametrize(("body", "what"), [
    (b"<html><body>502 Bad Gateway</body></html>", "an HTML page"), (b"", "an empty body"),
    (b'{"packages": [', "malformed JSON"),
])  # fmt: skip
def test_an_unreadable_manifest_answer_may_have_booked(merchant, courier, dlv, body, what):
    shipment = new_shipment(merchant, courier)
    booking_routes(dlv, shipment, httpx.Response(200, content=body))

    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, actor="system")

    call = CourierCall.objects.get(shipment=shipment)
    assert call.outcome_unknown and call.error == (f"Delhivery (delhivery account) answered 200 with {what}; it may "
                                                   "have acted on the request.")  # fmt: skip


def test_a_manifest_accepted_without_a_waybill_may_have_booked(merchant, courier, dlv):
    shipment = new_shipment(merchant, courier)
    booking_routes(dlv, shipment, httpx.Response(200, json={"success": True, "packages": []}))

    with pytest.raises(DomainError) as caught:
        DelhiveryAdapter().assign_awb(shipment, lambda: "", key="k1")

    assert caught.value.code == "courier_outcome_unknown"


# -- tracking --------------------------------------------------------------------------------------------------------


def test_every_code_of_the_table_is_lower_case_and_means_a_shopops_status_or_nothing():
    for code, status in STATUS_CODES.items():
        assert code == code.lower() and code.count(":") in (1, 2)
        assert status == "" or status in ShipmentStatus.values
    assert {STATUS_CODES[c] for c in ("ud:in transit:x-ppom", "ud:in transit", "ud:dispatched", "ud:pending:eod-74",
                                      "dl:delivered", "rt:in transit", "rt:dispatched", "dl:rto")} == {
        "picked_up", "in_transit", "out_for_delivery", "ndr", "delivered", "rto_initiated", "rto_in_transit",
        "rto_delivered"}  # fmt: skip


@pytest.mark.parametrize(("scan", "code"), [
    (("UD", "In Transit", "X-PPOM"), "ud:in transit:x-ppom"),
    (("UD", "In  Transit", "X-DBL1F"), "ud:in transit"),
    (("RT", "In Transit", ""), "rt:in transit"),
    (("UD", "Pending", "EOD-74"), "ud:pending:eod-74"),
    (("UD", "Pending", "EOD-999"), "ud:pending:eod-999"),  # a failed attempt of a kind not documented: flagged
    (("UD", "Pending", "X-ILL2F"), "ud:pending"),
    (("DL", "Delivered", "EOD-38"), "dl:delivered"),
])  # fmt: skip
def test_a_scan_s_code_is_its_pair_refined_by_its_nsl_code_where_that_matters(scan, code):
    assert scan_code(*scan) == code


def test_unknown_scans_are_kept_flagged_and_move_nothing(merchant, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    body = recording("track_ndr", ref=booking_reference(shipment), awb=AWB)
    scans = body["ShipmentData"][0]["Shipment"]["Scans"]
    scans[2]["ScanDetail"]["StatusCode"] = "EOD-999"
    scans.append({"ScanDetail": {"ScanType": "LT", "Scan": "Lost", "StatusDateTime": "2025-01-04T10:00:00",
                                 "StatusCode": "LT-100", "Instructions": "Shipment lost"}})  # fmt: skip
    dlv.get(TRACK, params={"waybill": AWB}).mock(return_value=httpx.Response(200, json=body))

    result = tracking_poll(courier=courier, now=NOW)

    shipment.refresh_from_db()
    assert (result.accepted, result.unknown, shipment.status) == (4, 2, "out_for_delivery")
    assert sorted(TrackingEvent.objects.filter(shipment=shipment, unknown_code=True).values_list("code", flat=True)) \
        == ["lt:lost", "ud:pending:eod-999"]  # fmt: skip


def test_tracking_asks_for_fifty_waybills_at_a_time(merchant, courier, dlv):
    shipments = [Shipment(courier=courier, awb=f"14908100{n:05d}") for n in range(60)]
    route = dlv.get(TRACK).mock(return_value=httpx.Response(200, json={"ShipmentData": []}))

    assert DelhiveryAdapter().fetch_tracking(shipments, now=NOW) == []

    asked = [request.url.params["waybill"].split(",") for request, _ in route.calls]
    assert [len(awbs) for awbs in asked] == [50, 10] and asked[0][0] == "1490810000000"


def test_waybills_delhivery_does_not_know_yet_give_no_events(merchant, courier, dlv):
    dlv.get(TRACK).mock(return_value=httpx.Response(400, json=recording("track_not_found")))

    assert DelhiveryAdapter().fetch_tracking([Shipment(courier=courier, awb=AWB)], now=NOW) == []


def test_a_scan_is_read_with_india_time_its_reason_and_place(merchant, courier, dlv):
    dlv.get(TRACK).mock(return_value=httpx.Response(200, json=recording("track_ndr", ref="SO-1-1", awb=AWB)))

    updates = DelhiveryAdapter().fetch_tracking([Shipment(courier=courier, awb=AWB)], now=NOW)

    failed = updates[-1]
    assert (failed.awb, failed.code, failed.description, failed.location) == (
        AWB, "ud:pending:eod-74", "Consignee Unavailable", "Bengaluru_Koramangala_DC (Karnataka)")  # fmt: skip
    assert failed.occurred_at == datetime(2025, 1, 3, 13, 10, tzinfo=UTC)
    assert failed.event_id == "ud:pending:eod-74@2025-01-03T18:40:00+05:30"
    assert [u.occurred_at for u in updates] == sorted(u.occurred_at for u in updates)


def test_tracking_is_retried_on_5xx_and_waits_as_long_as_a_429_says(merchant, courier, dlv, waits):
    body = recording("track_in_transit", ref="SO-1-1", awb=AWB)
    route = dlv.get(TRACK).mock(side_effect=[
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "Rate limit exceeded."}),
        httpx.Response(200, json=body)])  # fmt: skip

    updates = DelhiveryAdapter().fetch_tracking([Shipment(courier=courier, awb=AWB)], now=NOW)

    assert (len(updates), route.call_count) == (4, 3)
    assert len(waits) == 2 and 0 <= waits[0] <= 0.5 and waits[1] == 2.0


@pytest.mark.parametrize(("body", "what"), [
    (b"<html><body>Login</body></html>", "an HTML page"), (b"", "an empty body"),
    (b'{"ShipmentData": [', "malformed JSON"),
])  # fmt: skip
def test_an_unreadable_tracking_answer_is_a_clear_error(merchant, courier, dlv, body, what):
    dlv.get(TRACK).mock(return_value=httpx.Response(200, content=body))

    with pytest.raises(DomainError) as caught:
        DelhiveryAdapter().fetch_tracking([Shipment(courier=courier, awb=AWB)], now=NOW)

    assert (caught.value.code, caught.value.message) == (
        "courier_bad_response", f"Delhivery (delhivery account) answered 200 with {what}.")  # fmt: skip


def test_a_rejected_token_is_not_retried_and_a_new_token_is_used_at_once(merchant, account, courier, dlv, waits):
    route = dlv.get(TRACK).mock(return_value=httpx.Response(401, json="Invalid Token"))

    with pytest.raises(DomainError) as caught:
        DelhiveryAdapter().fetch_tracking([Shipment(courier=courier, awb=AWB)], now=NOW)

    assert caught.value.code == "courier_credentials_rejected"
    assert (route.call_count, waits) == (1, [])
    account.refresh_from_db()
    assert account.health == AccountHealth.REJECTED

    account = courier_account_update(account=account, data={"credentials": {"api_token": "dlv-token-new-5b1d"}})
    route.mock(return_value=httpx.Response(200, json={"ShipmentData": []}))
    courier.refresh_from_db()
    DelhiveryAdapter().fetch_tracking([Shipment(courier=courier, awb=AWB)], now=NOW)
    assert route.calls.last.request.headers["Authorization"] == "Token dlv-token-new-5b1d"
    account.refresh_from_db()
    assert account.health == AccountHealth.CONNECTED


# -- NDR, cancellation, pickups ------------------------------------------------------------------------------------


def test_a_failed_delivery_opens_an_ndr_and_a_reattempt_is_passed_to_delhivery(merchant, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    track_route(dlv, shipment, "track_ndr")
    tracking_poll(courier=courier, now=NOW)
    shipment.refresh_from_db()
    ndr = NDR.objects.get(shipment=shipment)
    assert (shipment.status, ndr.status, ndr.reason) == ("ndr", "open", "Consignee Unavailable")
    update = dlv.post(f"{BASE}/api/p/update").mock(return_value=httpx.Response(200, json=recording("ndr_update")))

    ndr = ndr_action(ndr=ndr, action="reattempt", actor="user:1")

    assert ndr.status == "reattempt"
    assert json.loads(update.calls.last.request.content) == {"data": [{"waybill": AWB, "act": "RE-ATTEMPT"}]}
    assert update.calls.last.request.headers["Authorization"] == f"Token {TOKEN}"
    assert CourierCall.objects.get(shipment=shipment, kind="ndr_action").status == "succeeded"


def test_a_reattempt_on_a_later_day_defers_the_delivery_to_it(merchant, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    update = dlv.post(f"{BASE}/api/p/update").mock(return_value=httpx.Response(200, json=recording("ndr_update")))
    day = timezone.now().astimezone(merchant.tzinfo).date() + timedelta(days=3)

    DelhiveryAdapter().ndr_action(shipment, action="reattempt", reattempt_date=day, key="k1")

    assert json.loads(update.calls.last.request.content) == {
        "data": [{"waybill": AWB, "act": "DEFER_DLV", "deferred_date": day.isoformat()}]}  # fmt: skip


def test_an_ndr_action_delhivery_refuses_leaves_the_call_failed_with_its_reason(merchant, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    dlv.post(f"{BASE}/api/p/update").mock(return_value=httpx.Response(400, json={"message": "Package in incorrect "
                                                                                             "status"}))  # fmt: skip

    with pytest.raises(DomainError) as caught:
        DelhiveryAdapter().ndr_action(shipment, action="reattempt", key="k1")

    assert caught.value.code == "courier_refused"
    assert caught.value.details["service_message"] == "Package in incorrect status"


def test_a_return_to_origin_stands_but_delhivery_takes_it_only_in_its_panel(merchant, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    track_route(dlv, shipment, "track_ndr")
    tracking_poll(courier=courier, now=NOW)
    update = dlv.post(f"{BASE}/api/p/update")

    ndr = ndr_action(ndr=NDR.objects.get(shipment=shipment), action="rto", actor="user:1")

    shipment.refresh_from_db()
    assert (ndr.status, shipment.status, update.call_count) == ("rto", "rto_initiated", 0)
    call = CourierCall.objects.get(shipment=shipment, kind="ndr_action")
    assert call.status == "failed"
    assert call.error == (f"Delhivery takes the decision to return {AWB} to origin only in its own panel (Delhivery "
                          "One, NDR): ShopOps has recorded it; mark the shipment for RTO there.")  # fmt: skip


def test_cancelling_tells_delhivery_through_its_edit_api(merchant, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    edit = dlv.post(f"{BASE}/api/p/edit").mock(
        return_value=httpx.Response(200, json=recording("cancel", ref=booking_reference(shipment), awb=AWB))
    )

    shipment = shipment_cancel(shipment=shipment, actor="user:1", reason="customer asked")

    assert shipment.status == "cancelled"
    assert json.loads(edit.calls.last.request.content) == {"waybill": AWB, "cancellation": "true"}
    assert CourierCall.objects.get(shipment=shipment, kind="cancel").status == "succeeded"


def test_a_courier_change_calls_off_the_delhivery_booking_through_the_delhivery_account(merchant, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    edit = dlv.post(f"{BASE}/api/p/edit").mock(
        return_value=httpx.Response(200, json=recording("cancel", ref=booking_reference(shipment), awb=AWB))
    )
    offline = shipping_courier(merchant, code="bluedart", name="Blue Dart")

    shipment = shipment_assign_awb(shipment=shipment, actor="user:1", courier=offline)

    assert (shipment.courier_id, shipment.awb) == (offline.pk, "BL10000000")
    assert json.loads(edit.calls.last.request.content) == {"waybill": AWB, "cancellation": "true"}
    assert edit.calls.last.request.headers["Authorization"] == f"Token {TOKEN}"
    call = CourierCall.objects.get(shipment=shipment, kind="cancel")
    assert (call.courier_id, call.status) == (courier.pk, "succeeded")


def test_a_cancellation_delhivery_refuses_in_a_200_leaves_the_call_failed(merchant, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    dlv.post(f"{BASE}/api/p/edit").mock(
        return_value=httpx.Response(200, json=recording("cancel_refused", ref=booking_reference(shipment), awb=AWB))
    )

    shipment = shipment_cancel(shipment=shipment, actor="user:1")

    assert shipment.status == "cancelled"  # ShopOps's decision stands
    call = CourierCall.objects.get(shipment=shipment, kind="cancel")
    assert (call.status, call.error) == ("failed", (
        f"Delhivery (delhivery account) refused to cancel {AWB}: Shipment status cannot be changed as shipment is "
        "either picked up or already in return flow."))  # fmt: skip


def test_a_pickup_already_open_for_the_day_is_the_one_booked(merchant, courier, dlv):
    route = dlv.post(f"{BASE}/fm/request/new/").mock(return_value=httpx.Response(200, json=recording("pickup_exists")))

    token = DelhiveryAdapter().schedule_pickup(courier=courier, location=None, pickup_date=date(2031, 5, 2),
                                               awbs=[AWB, "1490810000025"], key="k1")  # fmt: skip

    assert token == "4363101-" + hashlib.sha256(b"k1").hexdigest()[:8].upper()  # Delhivery's id, one per pickup
    assert json.loads(route.calls.last.request.content)["expected_package_count"] == 2


def test_a_pickup_cancelled_in_shopops_and_asked_again_that_day_is_delhivery_s_open_request(merchant, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    day = timezone.now().astimezone(merchant.tzinfo).date() + timedelta(days=1)
    route = dlv.post(f"{BASE}/fm/request/new/").mock(
        return_value=httpx.Response(200, json=recording("pickup", date=day.isoformat()))
    )
    first = pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system", pickup_date=day)
    pickup_cancel(pickup=first, actor="system")  # Delhivery is not told: it has no API for it
    route.mock(return_value=httpx.Response(200, json={**recording("pickup_exists"), "pickup_id": 4363128}))

    second = pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system", pickup_date=day)

    assert (first.token, second.token.split("-")[0], route.call_count) == ("4363128", "4363128", 2)
    assert second.token != first.token and second.status == "scheduled"
    assert CourierCall.objects.get(kind="cancel_pickup").status == "succeeded"


def test_a_pickup_today_asks_for_the_next_full_hour(merchant, courier, dlv, monkeypatch):
    at = datetime(2031, 5, 2, 15, 20, tzinfo=merchant.tzinfo)
    monkeypatch.setattr(timezone, "now", lambda: at)
    route = dlv.post(f"{BASE}/fm/request/new/").mock(
        return_value=httpx.Response(200, json=recording("pickup", date="2031-05-02"))
    )

    DelhiveryAdapter().schedule_pickup(courier=courier, location=None, pickup_date=at.date(), awbs=[AWB], key="k1")

    assert json.loads(route.calls.last.request.content)["pickup_time"] == "16:00:00"


def test_a_pickup_cancelled_in_shopops_calls_nothing(merchant, courier, dlv):
    assert DelhiveryAdapter().cancel_pickup(pickup=None, key="k1") is None
    assert dlv.calls.call_count == 0


# -- the label -------------------------------------------------------------------------------------------------------


def test_a_label_link_that_fails_is_transient_and_a_page_that_is_not_a_pdf_is_a_bad_answer(merchant, courier, dlv):
    shipment = Shipment(courier=courier, awb=AWB)
    dlv.get(f"{BASE}/api/p/packing_slip").mock(
        return_value=httpx.Response(200, json=recording("packing_slip", awb=AWB))
    )
    download = dlv.get(S3_LINK).mock(return_value=httpx.Response(403, text="<Error>AccessDenied</Error>"))

    with pytest.raises(DomainError) as expired:
        DelhiveryAdapter().carrier_label(shipment)
    assert expired.value.code == "courier_unavailable"

    download.mock(return_value=httpx.Response(200, text="<html>Not found</html>"))
    with pytest.raises(DomainError) as not_pdf:
        DelhiveryAdapter().carrier_label(shipment)
    assert not_pdf.value.code == "courier_bad_response"


def test_a_slip_not_ready_is_asked_again_and_a_slip_without_a_pdf_is_no_label(merchant, courier, dlv):
    shipment = Shipment(courier=courier, awb=AWB)
    slip = dlv.get(f"{BASE}/api/p/packing_slip").mock(
        return_value=httpx.Response(200, json={"packages": [], "packages_found": 0})
    )

    with pytest.raises(DomainError) as caught:
        DelhiveryAdapter().carrier_label(shipment)
    assert caught.value.code == "courier_unavailable"

    slip.mock(return_value=httpx.Response(200, json={"packages": [{"wbn": AWB, "pdf_encoding": "JVBERi0x"}],
                                                     "packages_found": 1}))  # fmt: skip
    assert DelhiveryAdapter().carrier_label(shipment) is None


# -- prices and the connection ------------------------------------------------------------------------------------


def test_live_quotes_ask_the_invoice_charges_api_for_the_courier_s_mode(merchant, courier, dlv):
    route = dlv.get(f"{BASE}/api/kinko/v1/invoice/charges/.json").mock(
        return_value=httpx.Response(200, json=recording("invoice_charges"))
    )
    parcel = Parcel(pickup_postcode="560001", delivery_postcode="560025", weight_grams=500, cod=True,
                    declared_value=Decimal("1180.00"), length_cm=20, breadth_cm=15, height_cm=10)  # fmt: skip

    quotes = DelhiveryAdapter().live_quotes(courier, parcel)

    assert quotes == [
        LiveQuote(
            service_code="Surface",
            name="Delhivery Surface",
            total=Decimal("123.90"),
            freight=Decimal("88.90"),
            cod_charge=Decimal("35.00"),
            estimated_days=None,
        )
    ]
    assert dict(route.calls.last.request.url.params) == {
        "md": "S", "cgm": "500", "o_pin": "560001", "d_pin": "560025", "ss": "Delivered", "pt": "COD", "l": "20",
        "b": "15", "h": "10"}  # fmt: skip
    assert DelhiveryAdapter().live_quotes(courier, Parcel("10001", "10002", 500, False, Decimal("1"),
                                                          country="US")) == []  # fmt: skip


def test_live_quotes_of_an_express_courier_are_prepaid_express_prices(merchant, account, dlv):
    express = account_courier(merchant, account, code="delhivery-express", service_code="Express")
    route = dlv.get(f"{BASE}/api/kinko/v1/invoice/charges/.json").mock(
        return_value=httpx.Response(200, json=recording("invoice_charges"))
    )

    (quote,) = DelhiveryAdapter().live_quotes(express, Parcel("560001", "400050", 1200, False, Decimal("999")))

    assert (quote.service_code, quote.name) == ("Express", "Delhivery Express")
    params = route.calls.last.request.url.params
    assert (params["md"], params["pt"], params["cgm"]) == ("E", "Pre-paid", "1200") and "l" not in params


def test_test_connection_reads_a_pincode_and_says_what_the_account_still_needs(merchant, account, dlv):
    route = dlv.get(f"{BASE}/c/api/pin-codes/json/").mock(return_value=httpx.Response(200, json=recording("pincode")))
    account = courier_account_check(account=account)
    assert account.health == AccountHealth.CONNECTED
    assert account.health_message == ("Token accepted: pincode 110001 is serviceable by Delhivery; client "
                                      "'ACME RETAIL', warehouse 'Acme Main'.")  # fmt: skip
    assert dict(route.calls.last.request.url.params) == {"filter_codes": "110001"}
    assert route.calls.last.request.headers["Authorization"] == f"Token {TOKEN}"

    make_order(merchant)  # the merchant's default location (560001) is asked about from now on
    account = courier_account_update(account=account, data={"options": {"pickup_location": ""}})
    route.mock(return_value=httpx.Response(200, json={"delivery_codes": []}))
    account = courier_account_check(account=account)
    assert account.health_message == ("Token accepted: pincode 560001 is not serviceable by Delhivery; set the "
                                      "pickup_location option before booking.")  # fmt: skip


def test_test_connection_with_a_rejected_token_shows_the_account_rejected(merchant, account, dlv):
    dlv.get(f"{BASE}/c/api/pin-codes/json/").mock(return_value=httpx.Response(401, json="Invalid Token"))

    account = courier_account_check(account=account)

    assert account.health == AccountHealth.REJECTED
    assert account.health_message == "Delhivery (delhivery account) rejected the account's credentials (401)."


# -- scan pushes -------------------------------------------------------------------------------------------------


def push_body(shipment) -> bytes:
    return json.dumps(recording("webhook_scan", ref=booking_reference(shipment), awb=shipment.awb)).encode()


def test_a_push_with_the_account_s_token_is_stored_and_moves_the_shipment(merchant, account, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    body = push_body(shipment)

    delivery, new = courier_webhook_receive(webhook_id=account.webhook_id, body=body,
                                            headers={"Content-Type": "application/json",
                                                     "Authorization": f"Token {HOOK_TOKEN}"})  # fmt: skip
    assert new and delivery.delivery_id == f"{AWB}|dl:delivered:eod-38@2025-01-03T14:05:10+05:30"
    again, new_again = courier_webhook_receive(webhook_id=account.webhook_id, body=body,
                                               headers={"authorization": f"Token {HOOK_TOKEN}"})  # fmt: skip
    assert (again.pk, new_again) == (delivery.pk, False)

    delivery = courier_webhook_process(delivery_id=delivery.pk)

    assert (delivery.status, delivery.result["accepted"], delivery.result["applied"]) == ("processed", 1, 1)
    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    event = TrackingEvent.objects.get(shipment=shipment, source="webhook")
    assert (event.code, event.description, event.unknown_code) == ("dl:delivered", "Delivered to consignee", False)


def test_the_same_scan_by_push_and_by_poll_is_one_event(merchant, account, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    delivery, _ = courier_webhook_receive(webhook_id=account.webhook_id, body=push_body(shipment),
                                          headers={"Authorization": f"Token {HOOK_TOKEN}"})  # fmt: skip
    courier_webhook_process(delivery_id=delivery.pk)
    track_route(dlv, shipment, "track_delivered")

    # Delivered, the shipment is no longer in the polling queue: its scans are asked for as a refresh would.
    updates = DelhiveryAdapter().fetch_tracking([shipment], now=NOW)
    result = tracking_ingest(courier=courier, updates=updates, source="poll", now=NOW)

    assert (result.accepted, result.duplicates) == (6, 1)
    assert TrackingEvent.objects.filter(shipment=shipment, code="dl:delivered").count() == 1


@pytest.mark.parametrize("headers", [
    {"Authorization": "Token wrong-token"}, {"Authorization": HOOK_TOKEN + "x"}, {}, {"X-Token": HOOK_TOKEN},
])  # fmt: skip
def test_a_push_without_the_account_s_token_is_refused_and_nothing_is_stored(merchant, account, courier, dlv,
                                                                             headers):  # fmt: skip
    shipment = booked(merchant, courier, dlv)

    with pytest.raises(WebhookRefused):
        courier_webhook_receive(webhook_id=account.webhook_id, headers=headers, body=push_body(shipment))

    assert CourierWebhookDelivery.objects.count() == 0


def test_the_bare_token_is_accepted_in_the_authorization_header(merchant, account, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    _, new = courier_webhook_receive(webhook_id=account.webhook_id, headers={"Authorization": HOOK_TOKEN},
                                     body=push_body(shipment))  # fmt: skip
    assert new


def test_an_account_without_a_webhook_token_refuses_every_push(merchant, account, courier, dlv):
    shipment = booked(merchant, courier, dlv)
    account.credentials = {"api_token": TOKEN}
    account.save(update_fields=["credentials"])

    with pytest.raises(WebhookRefused) as caught:
        courier_webhook_receive(webhook_id=account.webhook_id, headers={"Authorization": "Token "},
                                body=push_body(shipment))  # fmt: skip

    assert str(caught.value) == "This Delhivery account has no webhook token: set one and give it to Delhivery."
    assert CourierWebhookDelivery.objects.count() == 0


def test_a_push_without_a_status_fails_its_processing_with_the_reason(merchant, account):
    delivery, _ = courier_webhook_receive(webhook_id=account.webhook_id, body=b'{"Shipment": {"AWB": "149"}}',
                                          headers={"Authorization": f"Token {HOOK_TOKEN}"})  # fmt: skip

    delivery = courier_webhook_process(delivery_id=delivery.pk)

    assert (delivery.status, delivery.error) == (
        "failed",
        "The payload could not be read: ValueError: A Delhivery scan push names its AWB and its Status.",
    )


# -- secrets -------------------------------------------------------------------------------------------------------


def test_the_token_never_reaches_logs_the_http_log_calls_or_shipments(merchant, account, courier, dlv, caplog,
                                                                      capsys):  # fmt: skip
    caplog.set_level(logging.DEBUG)
    shipment = booked(merchant, courier, dlv)
    dlv.get(f"{BASE}/api/p/packing_slip").mock(
        return_value=httpx.Response(200, json=recording("packing_slip", awb=AWB))
    )
    dlv.get(S3_LINK).mock(return_value=httpx.Response(200, content=pdf_bytes()))
    document_render(document_id=Document.objects.get(kind="carrier_label").pk)
    track_route(dlv, shipment, "track_delivered")
    tracking_poll(courier=courier, now=NOW)
    dlv.post(f"{BASE}/api/p/edit").mock(return_value=httpx.Response(400, json={"error": f"bad token {TOKEN}"}))
    with pytest.raises(DomainError) as echoed:
        DelhiveryAdapter().cancel(shipment, awb=AWB, key="k1")
    with pytest.raises(WebhookRefused) as refused:
        courier_webhook_receive(webhook_id=account.webhook_id, headers={"Authorization": "Token nope"},
                                body=push_body(shipment))  # fmt: skip

    logs = list(CourierHttpLog.objects.filter(account=account))
    assert len(logs) == 6  # waybill, manifest, slip, download, track, cancel
    stored = " ".join(" ".join([log.url, log.request_body, log.response_body, log.error]) for log in logs)
    calls = " ".join(json.dumps([c.request, c.response, c.error]) for c in CourierCall.objects.all())
    shipment.refresh_from_db()
    out, err = capsys.readouterr()
    for secret in (TOKEN, HOOK_TOKEN):
        for text in (stored, calls, json.dumps(shipment.carrier_data), caplog.text, out, err, echoed.value.message,
                     json.dumps(echoed.value.details), str(refused.value)):  # fmt: skip
            assert secret not in text
