"""The shipments API: create, assign an AWB (or reassign), cancel, read with filters and orderings, the timeline."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from orders.models import OrderStatus
from shipping.models import Document, DocumentKind, DocumentStatus, Shipment, ShipmentEvent, ShipmentStatus
from shipping.services.documents import document_fail, document_render, document_request
from shipping.services.manifests import manifest_create
from shipping.services.ndr import ndr_action
from shipping.services.pickups import pickup_schedule
from tests.api import NOT_FOUND, invalid, listed_ids, walk
from tests.orders.factories import make_order
from tests.shipping.factories import courier_event, make_shipment, shipping_courier

IST = ZoneInfo("Asia/Kolkata")
URL = "/api/v1/shipments/"


def iso(value) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


def in_days(days: int) -> str:
    return (timezone.now().astimezone(IST).date() + timedelta(days=days)).isoformat()


def new_shipment_body(shipment: Shipment, **overrides) -> dict:
    """The API body of a new within-city shipment of Blue Dart (the test order: 2 units, 500 g, prepaid)."""
    return {
        "id": shipment.pk, "order": shipment.order_id, "order_number": shipment.order.number, "courier": "bluedart",
        "courier_name": "Blue Dart", "awb": "", "routing_code": "", "status": "new", "zone": "within_city",
        "applied_weight_grams": 500,
        "charges": {"freight": "30.00", "cod": "0.00", "fuel_surcharge": "3.00", "tax": "5.94", "total": "38.94",
                    "currency": "INR"},
        "cod_amount": "0.00", "pickup": None, "manifest": None, "label": None, "shipped_at": None,
        "delivered_at": None, "expected_delivery_date": in_days(2), "cancelled_at": None, "cancel_reason": "",
        "tracking_url": None, "created_at": iso(shipment.created_at), "updated_at": iso(shipment.updated_at),
        **overrides,
    }  # fmt: skip


# -- create -----------------------------------------------------------------------------------------------------


def test_create_a_shipment_with_the_recommended_courier(api, merchant):
    shipping_courier(merchant)
    order = make_order(merchant, OrderStatus.PACKED)

    response = api.post(URL, {"order": order.pk}, format="json")

    assert response.status_code == 201, response.json()
    shipment = Shipment.objects.get(order=order)
    assert response.json() == new_shipment_body(shipment, warnings=[])
    assert list(shipment.events.values_list("kind", "to_status", "data")) == [
        ("created", "new", {"courier": "bluedart", "recommended": True})
    ]


def test_create_with_a_named_courier(api, merchant):
    shipping_courier(merchant)
    shipping_courier(merchant, code="dtdc", name="DTDC", pool=None)
    order = make_order(merchant, OrderStatus.CONFIRMED)

    response = api.post(URL, {"order": order.pk, "courier": "dtdc"}, format="json")

    assert response.status_code == 201, response.json()
    assert (response.json()["courier"], response.json()["courier_name"]) == ("dtdc", "DTDC")
    assert Shipment.objects.get(order=order).courier.code == "dtdc"


def test_create_replays_the_same_idempotency_key(api, merchant):
    shipping_courier(merchant)
    order = make_order(merchant, OrderStatus.PACKED)

    first = api.post(URL, {"order": order.pk}, format="json", HTTP_IDEMPOTENCY_KEY="ship-1")
    again = api.post(URL, {"order": order.pk}, format="json", HTTP_IDEMPOTENCY_KEY="ship-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Shipment.objects.filter(order=order).count() == 1


def test_create_without_a_key_twice_is_a_409_shipment_exists(api, merchant):
    shipping_courier(merchant)
    order = make_order(merchant, OrderStatus.PACKED)
    first = api.post(URL, {"order": order.pk}, format="json")

    response = api.post(URL, {"order": order.pk}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "shipment_exists", "message": f"Order {order.number} already has shipment {first.json()['id']} (new).",
        "details": {"shipment": first.json()["id"], "status": "new"},
    }  # fmt: skip


@pytest.mark.parametrize("status", [OrderStatus.NEW, OrderStatus.CANCELLED])
def test_a_shipment_for_an_unconfirmed_or_cancelled_order_is_a_409(api, merchant, status):
    shipping_courier(merchant)
    order = make_order(merchant, status)

    response = api.post(URL, {"order": order.pk}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "order_not_shippable",
        "message": f"Order {order.number} is {status}; only confirmed or packed orders are shipped.",
        "details": {"status": status, "shippable_statuses": ["confirmed", "packed"]},
    }
    assert Shipment.objects.count() == 0


def test_another_merchants_order_is_a_400_naming_the_field(api, merchant, other_merchant):
    shipping_courier(merchant)
    foreign = make_order(other_merchant, OrderStatus.PACKED)

    response = api.post(URL, {"order": foreign.pk}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid({"order": [f"Unknown order {foreign.pk}."]})
    assert Shipment.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"order": ["This field is required."]}),
        ({"order": "abc"}, {"order": ["A valid integer is required."]}),
        ({"order": 0}, {"order": ["Ensure this value is greater than or equal to 1."]}),
        ({"order": 10**30}, {"order": ["Ensure this value is less than or equal to 9223372036854775807."]}),
        ({"order": "ORDER", "carrier": "x"}, {"carrier": ["Unknown field."]}),
    ],
)
def test_bad_create_input_is_a_400(api, merchant, body, details):
    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(details)


def test_an_unknown_courier_code_is_a_400(api, merchant):
    shipping_courier(merchant)
    order = make_order(merchant, OrderStatus.PACKED)

    response = api.post(URL, {"order": order.pk, "courier": "fedex"}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid({"courier": ["Unknown courier 'fedex'."]})


def test_a_courier_that_cannot_carry_the_order_is_a_409(api, merchant):
    shipping_courier(merchant)
    shipping_courier(merchant, code="heavy", name="Heavy", pool=None, max_weight_grams=100)
    order = make_order(merchant, OrderStatus.PACKED)

    response = api.post(URL, {"order": order.pk, "courier": "heavy"}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "courier_not_available",
        "message": f"Heavy cannot carry order {order.number}: over the maximum weight of 100 g.",
        "details": {"courier": "heavy", "reason": "over the maximum weight of 100 g"},
    }


# -- assign AWB, reassign, cancel --------------------------------------------------------------------------------------


def test_assign_awb(api, merchant):
    shipment = make_shipment(merchant)

    response = api.post(f"{URL}{shipment.pk}/assign-awb/", {}, format="json")

    assert response.status_code == 200, response.json()
    shipment.refresh_from_db()
    assert response.json() == new_shipment_body(
        shipment, awb="BL10000000", status="awb_assigned",
        tracking_url=f"http://127.0.0.1:8000/track/BL10000000/{shipment.tracking_token}/", warnings=[],
    )  # fmt: skip
    shipment.order.refresh_from_db()
    assert (shipment.order.awb, shipment.order.courier) == ("BL10000000", "bluedart")


def test_assign_awb_with_another_courier_reassigns(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    shipping_courier(merchant, code="dtdc", name="DTDC", tracking_url_template="https://dtdc.example/t/{awb}")

    response = api.post(f"{URL}{shipment.pk}/assign-awb/", {"courier": "dtdc"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["courier"], body["awb"], body["status"]) == ("dtdc", "DT10000000", "awb_assigned")
    assert body["tracking_url"] == "https://dtdc.example/t/DT10000000"
    assert list(ShipmentEvent.objects.filter(shipment=shipment, kind="courier_changed").values_list("message",
                                                                                                    flat=True)) == [
        "Blue Dart -> DTDC; AWB BL10000000 released"]  # fmt: skip


def test_assign_awb_on_a_cancelled_shipment_is_a_409(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.CANCELLED)

    response = api.post(f"{URL}{shipment.pk}/assign-awb/", {}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "shipment_cancelled", "message": f"Shipment {shipment.pk} is cancelled; create a new one.",
        "details": {"status": "cancelled"},
    }  # fmt: skip


def test_assign_awb_from_an_empty_pool_is_a_409(api, merchant):
    shipment = make_shipment(merchant, courier=shipping_courier(merchant, pool=None))

    response = api.post(f"{URL}{shipment.pk}/assign-awb/", {}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "awb_pool_exhausted",
        "message": "No AWB numbers left for Blue Dart; add a pool or a list of numbers.",
        "details": {"courier": "bluedart"},
    }
    shipment.refresh_from_db()
    assert (shipment.status, shipment.awb) == ("new", "")


def test_assign_awb_twice_is_a_409(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)

    response = api.post(f"{URL}{shipment.pk}/assign-awb/", {}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "awb_already_assigned"
    assert response.json()["details"] == {"awb": "BL10000000", "courier": "bluedart"}


def test_assign_awb_with_an_unknown_courier_is_a_400(api, merchant):
    shipment = make_shipment(merchant)

    response = api.post(f"{URL}{shipment.pk}/assign-awb/", {"courier": "nobody"}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid({"courier": ["Unknown courier 'nobody'."]})


def test_reassign_after_pickup_is_a_409(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.IN_TRANSIT)
    shipping_courier(merchant, code="dtdc", name="DTDC")

    response = api.post(f"{URL}{shipment.pk}/assign-awb/", {"courier": "dtdc"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "transition_not_allowed"
    assert response.json()["details"] == {
        "status": "in_transit",
        "allowed": ["out_for_delivery", "rto_initiated", "lost"],
        "requested": "awb_assigned",
    }


def test_cancel(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    response = api.post(f"{URL}{shipment.pk}/cancel/", {"reason": "customer changed their mind"}, format="json")

    assert response.status_code == 200, response.json()
    shipment.refresh_from_db()
    body = response.json()
    assert (body["status"], body["cancel_reason"], body["cancelled_at"]) == (
        "cancelled", "customer changed their mind", iso(shipment.cancelled_at))  # fmt: skip
    shipment.order.refresh_from_db()
    assert shipment.order.awb == ""


def test_cancel_needs_a_reason(api, merchant):
    shipment = make_shipment(merchant)

    response = api.post(f"{URL}{shipment.pk}/cancel/", {}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid({"reason": ["This field is required."]})


def test_cancel_after_pickup_is_a_409(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.PICKED_UP)

    response = api.post(f"{URL}{shipment.pk}/cancel/", {"reason": "late"}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "transition_not_allowed",
        "message": f"Shipment {shipment.awb} is picked up; it can only become in transit or lost, not cancelled.",
        "details": {"status": "picked_up", "allowed": ["in_transit", "lost"], "requested": "cancelled"},
    }


@pytest.mark.parametrize("path", ["", "assign-awb/", "cancel/", "events/"])
def test_another_merchants_shipment_is_a_404(other_api, merchant, path):
    shipment = make_shipment(merchant)

    send = other_api.get if path in ("", "events/") else other_api.post
    response = send(f"{URL}{shipment.pk}/{path}", {"reason": "x"})

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    shipment.refresh_from_db()
    assert shipment.status == "new"


# -- timeline ------------------------------------------------------------------------------------------------------


def test_the_timeline_merges_events_and_scans_by_time(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    scanned = timezone.now() - timedelta(hours=1)
    courier_event(shipment, "picked_up", at=scanned, description="Picked up", location="Bengaluru", event_id="e1")
    courier_event(shipment, "bagged", at=scanned + timedelta(minutes=5), event_id="e2")

    response = api.get(f"{URL}{shipment.pk}/events/")

    assert response.status_code == 200
    rows = response.json()
    assert [(r["source"], r["kind"], r["from_status"], r["to_status"], r["code"]) for r in rows] == [
        ("courier", "scan", "", "picked_up", "picked_up"),
        ("courier", "scan", "", "", "bagged"),
        ("shipment", "created", "", "new", ""),
        ("shipment", "awb_assigned", "new", "awb_assigned", ""),
        ("shipment", "status_changed", "awb_assigned", "picked_up", ""),
    ]
    assert rows[0] == {
        "source": "courier", "id": rows[0]["id"], "kind": "scan", "occurred_at": iso(scanned), "from_status": "",
        "to_status": "picked_up", "code": "picked_up", "description": "Picked up", "location": "Bengaluru",
        "actor": "courier:bluedart", "via": "webhook", "applied": True,
    }  # fmt: skip
    assert (rows[1]["applied"], rows[2]["via"], rows[2]["applied"], rows[2]["actor"]) == (False, None, None, "system")


# -- list: filters, orderings, pagination ----------------------------------------------------------------------------


def _shipped(merchant, at: datetime, delivered: datetime | None = None) -> Shipment:
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    courier_event(shipment, "picked_up", at=at)
    if delivered:
        courier_event(shipment, "in_transit", at=at + timedelta(minutes=1))
        courier_event(shipment, "out_for_delivery", at=delivered - timedelta(minutes=1))
        courier_event(shipment, "delivered", at=delivered)
    shipment.refresh_from_db()
    return shipment


def test_filter_by_status_courier_awb_and_order(api, merchant):
    fresh = make_shipment(merchant)
    booked = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    moving = make_shipment(merchant, ShipmentStatus.IN_TRANSIT)
    other = make_shipment(merchant, courier=shipping_courier(merchant, code="dtdc", name="DTDC"))

    assert listed_ids(api, URL, {"status": "awb_assigned,in_transit"}) == [moving.pk, booked.pk]
    assert listed_ids(api, URL, {"status": "new"}) == [other.pk, fresh.pk]
    assert listed_ids(api, URL, {"courier": "dtdc"}) == [other.pk]
    assert listed_ids(api, URL, {"awb": booked.awb}) == [booked.pk]
    assert listed_ids(api, URL, {"order": moving.order_id}) == [moving.pk]
    assert listed_ids(api, URL, {"courier": "nobody"}) == []


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({"status": "new,flying"}, {"status": ["Unknown status flying; one of " + ", ".join(ShipmentStatus.values)
                                               + "."]}),
        ({"ship_date_after": "28/11/2026"}, {"ship_date_after": [
            "Use YYYY-MM-DD or an ISO 8601 timestamp such as 2026-11-28T09:30:00+05:30."]}),
        ({"pickup_date_before": "2026-13-01"}, {"pickup_date_before": [
            "Use YYYY-MM-DD or an ISO 8601 timestamp such as 2026-11-28T09:30:00+05:30."]}),
        ({"ndr": "maybe"}, {"ndr": ["Use true or false."]}),
        ({"order": "x"}, {"order": ["Enter a whole number."]}),
    ],
)  # fmt: skip
def test_bad_filters_are_a_400(api, merchant, params, details):
    response = api.get(URL, params)

    assert response.status_code == 400
    assert response.json() == invalid(details)


def test_ship_and_delivered_dates_are_calendar_days_in_the_merchants_time_zone(api, merchant):
    late_evening = _shipped(merchant, datetime(2026, 11, 20, 23, 30, tzinfo=IST),
                            delivered=datetime(2026, 11, 22, 23, 59, tzinfo=IST))  # fmt: skip
    next_morning = _shipped(merchant, datetime(2026, 11, 21, 0, 30, tzinfo=IST))
    make_shipment(merchant)  # not shipped

    assert listed_ids(api, URL, {"ship_date_before": "2026-11-20"}) == [late_evening.pk]
    assert listed_ids(api, URL, {"ship_date_after": "2026-11-21"}) == [next_morning.pk]
    assert listed_ids(api, URL, {"ship_date_after": "2026-11-20", "ship_date_before": "2026-11-21"}) == [
        next_morning.pk, late_evening.pk]  # fmt: skip
    assert listed_ids(api, URL, {"ship_date_after": "2026-11-20T18:30:00Z"}) == [next_morning.pk]
    assert listed_ids(api, URL, {"delivered_date_after": "2026-11-22", "delivered_date_before": "2026-11-22"}) == [
        late_evening.pk]  # fmt: skip
    assert listed_ids(api, URL, {"delivered_date_after": "2026-11-23"}) == []


def test_pickup_date_filters(api, merchant):
    soon, later = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED), make_shipment(merchant, "awb_assigned")
    day = timezone.now().astimezone(IST).date()
    pickup_schedule(merchant=merchant, shipment_ids=[soon.pk], actor="t", pickup_date=day + timedelta(2))
    pickup_schedule(merchant=merchant, shipment_ids=[later.pk], actor="t", pickup_date=day + timedelta(5))
    make_shipment(merchant)

    assert listed_ids(api, URL, {"pickup_date_after": in_days(3)}) == [later.pk]
    assert listed_ids(api, URL, {"pickup_date_before": in_days(2)}) == [soon.pk]
    assert listed_ids(api, URL, {"pickup_date_after": in_days(2), "pickup_date_before": in_days(5)}) == [
        later.pk, soon.pk]  # fmt: skip


def test_ndr_filter(api, merchant):
    failed = make_shipment(merchant, ShipmentStatus.NDR)
    resolved = make_shipment(merchant, ShipmentStatus.NDR)
    ndr_action(ndr=resolved.ndrs.get(), action="rto", actor="t")
    plain = make_shipment(merchant, ShipmentStatus.IN_TRANSIT)

    assert listed_ids(api, URL, {"ndr": "true"}) == [failed.pk]
    assert listed_ids(api, URL, {"ndr": "false"}) == [plain.pk, resolved.pk]


def test_orderings_put_missing_dates_last(api, merchant):
    first = _shipped(merchant, datetime(2026, 11, 10, 9, 0, tzinfo=IST))
    second = _shipped(merchant, datetime(2026, 11, 12, 9, 0, tzinfo=IST))
    unshipped = make_shipment(merchant)

    assert walk(api, URL, {"ordering": "ship_date", "page_size": 1})[0] == [first.pk, second.pk, unshipped.pk]
    assert walk(api, URL, {"ordering": "-ship_date", "page_size": 1})[0] == [second.pk, first.pk, unshipped.pk]
    assert walk(api, URL, {"ordering": "created_at", "page_size": 2})[0] == [first.pk, second.pk, unshipped.pk]
    assert listed_ids(api, URL, {"ordering": "-updated_at"})[0] == unshipped.pk
    assert listed_ids(api, URL, {"ordering": "delivered_date"}) == [first.pk, second.pk, unshipped.pk]
    assert listed_ids(api, URL, {"ordering": "expected_delivery_date"}) == [first.pk, second.pk, unshipped.pk]


def test_pickup_date_ordering_walks_every_page(api, merchant):
    shipments = [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED) for _ in range(3)]
    day = timezone.now().astimezone(IST).date()
    for offset, shipment in zip((4, 2), shipments, strict=False):
        pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="t",
                        pickup_date=day + timedelta(offset))  # fmt: skip

    ids, sizes = walk(api, URL, {"ordering": "pickup_date", "page_size": 1})

    assert ids == [shipments[1].pk, shipments[0].pk, shipments[2].pk]
    assert sizes == [1, 1, 1]


def test_an_unknown_ordering_is_a_400(api, merchant):
    response = api.get(URL, {"ordering": "awb"})

    assert response.status_code == 400
    assert response.json()["details"] == {
        "ordering": [
            "Choose from: created_at, delivered_date, expected_delivery_date, pickup_date, ship_date, updated_at."
        ]
    }


def test_the_list_shows_pickup_and_manifest(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    manifest = manifest_create(merchant=merchant, actor="t", shipment_ids=[shipment.pk])

    row = api.get(URL).json()["results"][0]

    assert row["pickup"] == {"id": shipment.pickup_id, "token": shipment.pickup.token,
                             "pickup_date": shipment.pickup_date.isoformat()}  # fmt: skip
    assert row["manifest"] == {"id": manifest.pk, "number": "MAN-000001"}


def test_list_query_count_is_constant(api, merchant, other_merchant, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    courier = shipping_courier(merchant)
    picked = []
    for n in range(12):
        shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED if n % 2 else ShipmentStatus.NEW,
                                 courier=courier)  # fmt: skip
        if n % 4 == 1:
            manifest_create(merchant=merchant, actor="t", shipment_ids=[shipment.pk])
        if n % 2:
            picked.append(shipment.pk)
    for ids in (picked, picked[:2]):  # two label documents for two shipments, one for four others
        document = document_request(merchant=merchant, kind="label", ids=ids, actor="t", enqueue=False)
        document_render(document_id=document.pk)
    make_shipment(other_merchant)

    counts = []
    for params in ({"page_size": 2}, {"page_size": 10}, {"page_size": 10, "ordering": "-ship_date"},
                   {"page_size": 10, "ndr": "false", "status": "new,pickup_scheduled"}):  # fmt: skip
        with CaptureQueriesContext(connection) as queries:
            response = api.get(URL, params)
        assert response.status_code == 200
        counts.append(len(queries))

    rows = api.get(URL, {"page_size": 10}).json()["results"]
    assert len(rows) == 10
    assert sum(row["label"] is not None for row in rows) == 5  # the page: shipments 12..3, five with an AWB
    assert counts == [4, 4, 4, 4]  # the token, the merchant, the page, the page's label documents
    ids, sizes = walk(api, URL, {"page_size": 5})
    assert sizes == [5, 5, 2] and len(set(ids)) == 12


def test_list_stays_within_the_query_budget(api, merchant, django_assert_max_num_queries):
    for _ in range(7):
        make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    with django_assert_max_num_queries(4):
        response = api.get(URL, {"page_size": 5, "ordering": "-ship_date"})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 5
    assert response.json()["next"] is not None


# -- the label ------------------------------------------------------------------------------------------------


@pytest.fixture
def render_documents(settings, tmp_path, django_capture_on_commit_callbacks):
    """Document requests rendered as their request commits (the eager task), into a private media root."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return lambda: django_capture_on_commit_callbacks(execute=True)


def label_of(api, shipment: Shipment):
    response = api.get(f"{URL}{shipment.pk}/")
    assert response.status_code == 200
    return response.json()["label"]


def request_labels(api, render_documents, shipments: list[Shipment], format: str = "4x6") -> Document:
    with render_documents():
        response = api.post("/api/v1/documents/labels/", {"shipment_ids": [s.pk for s in shipments],
                                                           "format": format}, format="json")  # fmt: skip
    assert response.status_code == 202, response.json()
    return Document.objects.get(pk=response.json()["id"])


def label_body(document: Document, page_count: int, format: str = "4x6") -> dict:
    return {"id": document.pk, "format": format, "page_count": page_count,
            "download_url": f"http://testserver/api/v1/documents/{document.pk}/download/"}  # fmt: skip


def test_the_label_is_null_until_labels_are_made_then_the_latest_done(api, merchant, render_documents):
    shipment, other = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED), make_shipment(merchant, "awb_assigned")
    assert label_of(api, shipment) is None

    single = request_labels(api, render_documents, [shipment])

    assert single.status == DocumentStatus.DONE
    assert label_of(api, shipment) == label_body(single, 1)
    assert label_of(api, other) is None

    sheet = request_labels(api, render_documents, [shipment, other], format="a4-4up")

    assert label_of(api, shipment) == label_body(sheet, 1, format="a4-4up")
    assert label_of(api, other) == label_body(sheet, 1, format="a4-4up")
    assert request_labels(api, render_documents, [shipment]).pk == single.pk  # a reprint reuses the older job
    assert label_of(api, shipment) == label_body(sheet, 1, format="a4-4up")  # ...and the newest job stays shown
    rows = {row["id"]: row["label"] for row in api.get(URL).json()["results"]}
    assert rows == {shipment.pk: label_body(sheet, 1, format="a4-4up"), other.pk: label_body(sheet, 1, "a4-4up")}


def test_a_failed_or_unfinished_label_and_other_documents_are_not_the_label(api, merchant, render_documents):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    queued = document_request(merchant=merchant, kind=DocumentKind.LABEL, ids=[shipment.pk], actor="t",
                              enqueue=False)  # fmt: skip
    assert label_of(api, shipment) is None  # queued
    document_fail(document_id=queued.pk, error="The worker ran out of time.")
    assert label_of(api, shipment) is None  # failed
    with render_documents():
        response = api.post("/api/v1/documents/manifests/", {"shipment_ids": [shipment.pk]}, format="json")
    assert response.status_code == 202, response.json()
    manifest_document = Document.objects.get(pk=response.json()["id"])

    assert (manifest_document.status, list(manifest_document.shipments.all())) == (DocumentStatus.DONE, [shipment])
    assert label_of(api, shipment) is None  # a manifest covering the shipment is not its label
    assert api.get(URL).json()["results"][0]["label"] is None

    label = request_labels(api, render_documents, [shipment])
    assert label.pk != queued.pk  # the failed job is not reused
    assert label_of(api, shipment) == label_body(label, 1)


def test_a_label_that_left_the_shipment_out_is_not_its_label(api, merchant, render_documents):
    printed, no_awb = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED), make_shipment(merchant)

    document = request_labels(api, render_documents, [printed, no_awb])

    assert document.status == DocumentStatus.DONE
    assert document.not_created == [{"id": no_awb.pk, "reason": "The shipment has no AWB yet: assign one first."}]
    assert label_of(api, printed) == label_body(document, 1)
    assert label_of(api, no_awb) is None


def test_a_label_of_the_old_awb_is_not_shown_after_reassignment(api, merchant, render_documents):
    shipping_courier(merchant)
    shipping_courier(merchant, code="dtdc", name="DTDC")
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    old = request_labels(api, render_documents, [shipment])
    assert label_of(api, shipment) == label_body(old, 1)

    response = api.post(f"{URL}{shipment.pk}/assign-awb/", {"courier": "dtdc"}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["awb"], response.json()["label"]) == ("DT10000000", None)
    new = request_labels(api, render_documents, [shipment])
    assert new.pk != old.pk
    assert label_of(api, shipment) == label_body(new, 1)
