"""Tracking by AWB for partners: one parcel, or up to 50 at once, scoped to the merchant."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shipping.adapters import TrackingUpdate
from shipping.models import ShipmentStatus
from shipping.services.shipments import shipment_cancel
from shipping.services.tracking import tracking_ingest
from tests.api import NOT_FOUND, invalid
from tests.conftest import client_for
from tests.shipping.factories import courier_event, make_shipment, shipping_courier
from tests.shopops.factories import MembershipFactory

pytestmark = pytest.mark.django_db

IST = ZoneInfo("Asia/Kolkata")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=IST)


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.SHOPOPS_PUBLIC_URL = "https://track.acme.example"


def tracked(merchant, **kwargs):
    """A shipment in transit whose scans arrived out of order, with an informational scan and an orphan."""
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED, **kwargs)
    courier_event(shipment, "in_transit", at=T0 + timedelta(hours=6), event_id="e-3", description="Left the hub",
                  location="Bengaluru")  # fmt: skip
    courier_event(shipment, "picked_up", at=T0, event_id="e-1", description="Picked up", location="Bengaluru")
    courier_event(shipment, "bagged", at=T0 + timedelta(hours=1), event_id="e-2", description="Bagged")
    tracking_ingest(courier=shipment.courier, source="webhook", updates=[
        TrackingUpdate(awb="BL77777777", code="in_transit", occurred_at=T0, event_id="orphan-1")])  # fmt: skip
    shipment.refresh_from_db()
    return shipment


def expected(shipment, status="in_transit") -> dict:
    return {
        "awb": shipment.awb,
        "status": status,
        "courier": "bluedart",
        "courier_name": "Blue Dart",
        "expected_delivery_date": shipment.expected_delivery_date.isoformat(),
        "tracking_url": f"https://track.acme.example/track/{shipment.awb}/{shipment.tracking_token}/",
        "events": [
            {"status": "picked_up", "code": "picked_up", "description": "Picked up", "location": "Bengaluru",
             "occurred_at": "2026-03-02T10:00:00+05:30"},
            {"status": "", "code": "bagged", "description": "Bagged", "location": "",
             "occurred_at": "2026-03-02T11:00:00+05:30"},
            {"status": "in_transit", "code": "in_transit", "description": "Left the hub", "location": "Bengaluru",
             "occurred_at": "2026-03-02T16:00:00+05:30"},
        ],
    }  # fmt: skip


def test_track_one_awb_shows_the_scans_in_time_order(api, merchant):
    shipment = tracked(merchant)

    response = api.get(f"/api/v1/tracking/{shipment.awb}/")

    assert response.status_code == 200
    assert response.json() == expected(shipment)


def test_the_courier_tracking_page_is_used_when_the_courier_has_one(api, merchant):
    shipment = tracked(merchant)
    shipment.courier.__class__.objects.filter(pk=shipment.courier_id).update(
        tracking_url_template="https://www.bluedart.example/track?awb={awb}")  # fmt: skip

    response = api.get(f"/api/v1/tracking/{shipment.awb}/")

    assert response.json()["tracking_url"] == "https://www.bluedart.example/track?awb=BL10000000"


def test_another_merchants_awb_is_not_found(api, other_api, merchant):
    shipment = tracked(merchant)

    assert other_api.get(f"/api/v1/tracking/{shipment.awb}/").json() == NOT_FOUND
    assert other_api.get(f"/api/v1/tracking/{shipment.awb}/").status_code == 404
    assert api.get("/api/v1/tracking/BL77777777/").status_code == 404  # an orphan scan is no shipment


def test_each_merchant_sees_its_own_shipment_when_both_have_the_awb(api, other_api, merchant, other_merchant):
    ours = tracked(merchant)
    theirs = make_shipment(other_merchant, ShipmentStatus.AWB_ASSIGNED)
    assert ours.awb == theirs.awb == "BL10000000"

    assert api.get("/api/v1/tracking/BL10000000/").json() == expected(ours)
    body = other_api.get("/api/v1/tracking/BL10000000/").json()
    assert (body["status"], body["events"]) == ("awb_assigned", [])


def test_an_awb_with_two_couriers_gives_the_most_recent_live_shipment(api, merchant):
    older = tracked(merchant)
    blaze = shipping_courier(merchant, code="blazeflash", name="Blaze Flash")  # its pool also starts at BL10000000
    newer = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, courier=blaze)
    assert newer.awb == older.awb

    body = api.get(f"/api/v1/tracking/{older.awb}/").json()
    assert (body["courier"], body["status"]) == ("blazeflash", "awb_assigned")

    shipment_cancel(shipment=newer, actor="test")
    assert api.get(f"/api/v1/tracking/{older.awb}/").json() == expected(older)


def test_a_cancelled_shipment_is_still_tracked_when_it_is_the_only_one(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.CANCELLED)

    body = api.get(f"/api/v1/tracking/{shipment.awb}/").json()

    assert (body["awb"], body["status"], body["events"]) == (shipment.awb, "cancelled", [])


def _not_found(awb):
    return {"awb": awb, "error": {"code": "not_found", "message": f"No shipment of yours has AWB {awb}."}}


def test_batch_answers_one_result_per_awb_in_the_request_order(api, merchant, other_merchant):
    ours = tracked(merchant)
    theirs = make_shipment(other_merchant, ShipmentStatus.AWB_ASSIGNED, courier=shipping_courier(
        other_merchant, code="delhivery", name="Delhivery"))  # fmt: skip
    assert theirs.awb == "DE10000000"

    response = api.post("/api/v1/tracking/", {"awbs": ["NOPE-1", ours.awb, theirs.awb, ours.awb]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"results": [_not_found("NOPE-1"), expected(ours), _not_found("DE10000000"),
                                           expected(ours)]}  # fmt: skip


def test_batch_query_count_does_not_grow_with_the_awbs(api, merchant, django_assert_num_queries):
    shipments = [tracked(merchant)] + [make_shipment(merchant, ShipmentStatus.IN_TRANSIT) for _ in range(4)]
    awbs = [s.awb for s in shipments]
    many = awbs + [f"NOPE-{n}" for n in range(50 - len(awbs))]

    with CaptureQueriesContext(connection) as one:
        assert api.post("/api/v1/tracking/", {"awbs": awbs[:1]}, format="json").status_code == 200
    with django_assert_num_queries(len(one)):
        response = api.post("/api/v1/tracking/", {"awbs": many}, format="json")

    results = response.json()["results"]
    assert [r["awb"] for r in results] == many
    assert [len(r.get("events", [])) for r in results[:5]] == [3, 2, 2, 2, 2]
    assert sum("error" in r for r in results) == 45
    # two to authenticate, then one for the shipments and one for their scans
    assert len(one) == 4


def test_batch_refuses_an_empty_list_and_more_than_50(api):
    empty = api.post("/api/v1/tracking/", {"awbs": []}, format="json")
    too_many = api.post("/api/v1/tracking/", {"awbs": [f"A{n:05d}" for n in range(51)]}, format="json")
    missing = api.post("/api/v1/tracking/", {}, format="json")

    assert (empty.status_code, too_many.status_code, missing.status_code) == (400, 400, 400)
    assert empty.json() == invalid({"awbs": ["Ensure this field has at least 1 elements."]})
    assert too_many.json() == invalid({"awbs": ["Ensure this field has no more than 50 elements."]})
    assert missing.json() == invalid({"awbs": ["This field is required."]})


def test_batch_is_a_read_a_viewer_may_call(merchant):
    shipment = tracked(merchant)
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    client = client_for(merchant, scopes=["shipping:read"], user=viewer)

    response = client.post("/api/v1/tracking/", {"awbs": [shipment.awb]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"results": [expected(shipment)]}


def test_tracking_needs_shipping_read(merchant):
    shipment = tracked(merchant)
    client = client_for(merchant, scopes=["shipping:write"])

    detail = client.get(f"/api/v1/tracking/{shipment.awb}/")
    batch = client.post("/api/v1/tracking/", {"awbs": [shipment.awb]}, format="json")

    assert (detail.status_code, batch.status_code) == (403, 403)
    assert detail.json()["details"] == batch.json()["details"] == {"required_scopes": ["shipping:read"],
                                                                   "missing_scopes": ["shipping:read"]}  # fmt: skip
