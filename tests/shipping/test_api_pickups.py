"""Pickups and manifests through the API."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from shipping.calendar import pickup_day
from shipping.models import Document, DocumentKind, DocumentStatus, Manifest, PickupRequest, Shipment, ShipmentStatus
from shipping.services.documents import document_fail, document_render, document_request
from shipping.services.manifests import manifest_create
from shipping.services.pickups import pickup_cancel, pickup_schedule
from tests.api import NOT_FOUND, invalid, listed_ids
from tests.catalog.factories import LocationFactory
from tests.orders.factories import default_location
from tests.shipping.factories import make_shipment, shipping_courier

IST = ZoneInfo("Asia/Kolkata")
PICKUPS, MANIFESTS = "/api/v1/pickups/", "/api/v1/manifests/"


def iso(value) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


def today():
    return timezone.now().astimezone(IST).date()


# -- pickups ----------------------------------------------------------------------------------------------------


def test_schedule_a_pickup(api, merchant):
    first, second = make_shipment(merchant, "awb_assigned"), make_shipment(merchant, "awb_assigned")
    courier = first.courier

    response = api.post(PICKUPS, {"shipment_ids": [second.pk, first.pk]}, format="json")

    assert response.status_code == 201, response.json()
    pickup = PickupRequest.objects.get()
    assert response.json() == {
        "id": pickup.pk, "pickup_token": pickup.token, "courier": "bluedart", "location": default_location(merchant).pk,
        "location_nickname": "main",
        "pickup_date": pickup_day(timezone.now().astimezone(IST), courier.pickup_cutoff).isoformat(),
        "status": "scheduled", "shipment_ids": [first.pk, second.pk], "created_at": iso(pickup.created_at),
        "cancelled_at": None,
    }  # fmt: skip
    assert pickup.token.startswith("PU-")
    assert set(Shipment.objects.values_list("status", flat=True)) == {"pickup_scheduled"}
    shown = api.get(f"/api/v1/shipments/{first.pk}/").json()["pickup"]
    assert shown == {"id": pickup.pk, "token": pickup.token, "pickup_date": response.json()["pickup_date"]}


def test_a_second_request_for_the_same_day_joins_the_pickup(api, merchant):
    first, second = make_shipment(merchant, "awb_assigned"), make_shipment(merchant, "awb_assigned")
    day = (today() + timedelta(days=3)).isoformat()

    one = api.post(PICKUPS, {"shipment_ids": [first.pk], "pickup_date": day, "location": "main"}, format="json")
    two = api.post(PICKUPS, {"shipment_ids": [second.pk], "pickup_date": day,
                             "location": str(default_location(merchant).pk)}, format="json")  # fmt: skip

    assert (one.status_code, two.status_code) == (201, 201)
    assert two.json()["id"] == one.json()["id"]
    assert (two.json()["pickup_date"], two.json()["shipment_ids"]) == (day, [first.pk, second.pk])


def test_pickup_of_another_merchants_shipment_is_a_400_naming_it(api, merchant, other_merchant):
    mine = make_shipment(merchant, "awb_assigned")
    foreign = make_shipment(other_merchant, "awb_assigned")

    response = api.post(PICKUPS, {"shipment_ids": [mine.pk, foreign.pk, 10**12]}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid({"shipment_ids": [f"Unknown shipments: {foreign.pk}, {10**12}."]})
    assert PickupRequest.objects.count() == 0
    foreign.refresh_from_db()
    assert foreign.status == "awb_assigned"


@pytest.mark.parametrize(
    ("extra", "details"),
    [
        ({"location": "warehouse-9"}, {"location": ["Unknown location 'warehouse-9'."]}),
        ({"location": "second"}, {"location": ["The shipments leave from main, not second."]}),
        ({"pickup_date": "2020-01-01"}, {"pickup_date": ["The pickup date is in the past."]}),
        ({"pickup_date": "tomorrow"}, {"pickup_date": [
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
        ({"shipment_ids": []}, {"shipment_ids": ["Ensure this field has at least 1 elements."]}),
        ({"shipment_ids": ["a"]}, {"shipment_ids.0": ["A valid integer is required."]}),
        ({"shipment_ids": list(range(1, 502))}, {"shipment_ids": ["Ensure this field has no more than 500 elements."]}),
        ({"token": "x"}, {"token": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_pickup_input_is_a_400(api, merchant, extra, details):
    shipment = make_shipment(merchant, "awb_assigned")
    LocationFactory(merchant=merchant, nickname="second")

    response = api.post(PICKUPS, {"shipment_ids": [shipment.pk], **extra}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(details)
    assert PickupRequest.objects.count() == 0


def test_shipments_of_two_couriers_are_a_400(api, merchant):
    one = make_shipment(merchant, "awb_assigned")
    two = make_shipment(merchant, "awb_assigned", courier=shipping_courier(merchant, code="dtdc", name="DTDC"))

    response = api.post(PICKUPS, {"shipment_ids": [one.pk, two.pk]}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(
        {
            "shipment_ids": [
                "The shipments are with several couriers (bluedart, dtdc); one pickup or manifest is for one courier."
            ]
        }
    )


def test_a_shipment_without_an_awb_is_a_409(api, merchant):
    ready, fresh = make_shipment(merchant, "awb_assigned"), make_shipment(merchant)

    response = api.post(PICKUPS, {"shipment_ids": [ready.pk, fresh.pk]}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "shipments_not_ready", "message": "Only shipments with an AWB and no pickup yet can be picked up.",
        "details": {"shipments": {str(fresh.pk): "new"}},
    }  # fmt: skip
    ready.refresh_from_db()
    assert ready.status == "awb_assigned"


def test_cancel_a_pickup(api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    response = api.post(f"{PICKUPS}{shipment.pickup_id}/cancel/")

    assert response.status_code == 200, response.json()
    pickup = PickupRequest.objects.get()
    assert (response.json()["status"], response.json()["shipment_ids"], response.json()["cancelled_at"]) == (
        "cancelled", [], iso(pickup.cancelled_at))  # fmt: skip
    shipment.refresh_from_db()
    assert (shipment.status, shipment.pickup_id) == ("awb_assigned", None)

    again = api.post(f"{PICKUPS}{pickup.pk}/cancel/")
    assert again.status_code == 409
    assert again.json() == {"code": "pickup_cancelled", "message": f"Pickup {pickup.token} is already cancelled.",
                            "details": {"status": "cancelled"}}  # fmt: skip


def test_cancelling_a_pickup_in_progress_is_a_409(api, merchant):
    collected = make_shipment(merchant, ShipmentStatus.PICKED_UP)

    response = api.post(f"{PICKUPS}{collected.pickup_id}/cancel/")

    assert response.status_code == 409
    assert response.json()["code"] == "pickup_in_progress"
    assert response.json()["details"] == {"shipments": [collected.pk]}


def test_another_merchants_pickup_is_a_404(other_api, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    assert other_api.get(f"{PICKUPS}{shipment.pickup_id}/").json() == NOT_FOUND
    response = other_api.post(f"{PICKUPS}{shipment.pickup_id}/cancel/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert PickupRequest.objects.get().status == "scheduled"


def test_pickup_list_filters_and_query_count(api, merchant):
    courier = shipping_courier(merchant)
    other = shipping_courier(merchant, code="dtdc", name="DTDC")
    pickups = []
    for offset in range(1, 5):
        shipments = [make_shipment(merchant, "awb_assigned", courier=courier) for _ in range(offset)]
        pickups.append(pickup_schedule(merchant=merchant, shipment_ids=[s.pk for s in shipments], actor="t",
                                       pickup_date=today() + timedelta(days=offset)))  # fmt: skip
    dtdc = pickup_schedule(
        merchant=merchant,
        actor="t",
        pickup_date=today() + timedelta(days=9),
        shipment_ids=[make_shipment(merchant, "awb_assigned", courier=other).pk],
    )
    pickup_cancel(pickup=pickups[0], actor="t")

    with CaptureQueriesContext(connection) as small:
        assert api.get(PICKUPS, {"page_size": 1}).status_code == 200
    with CaptureQueriesContext(connection) as large:
        body = api.get(PICKUPS, {"page_size": 5}).json()

    assert len(small) == len(large) == 4  # the token, the merchant, the page, the shipment ids
    assert [len(row["shipment_ids"]) for row in body["results"]] == [1, 4, 3, 2, 0]
    assert listed_ids(api, PICKUPS, {"courier": "dtdc"}) == [dtdc.pk]
    assert listed_ids(api, PICKUPS, {"status": "cancelled"}) == [pickups[0].pk]
    assert listed_ids(api, PICKUPS, {"pickup_date_after": (today() + timedelta(days=3)).isoformat(),
                                     "pickup_date_before": (today() + timedelta(days=4)).isoformat()}) == [
        pickups[3].pk, pickups[2].pk]  # fmt: skip
    assert listed_ids(api, PICKUPS, {"ordering": "pickup_date", "location": "main"})[:2] == [
        pickups[0].pk,
        pickups[1].pk,
    ]


# -- manifests --------------------------------------------------------------------------------------------------


def test_create_a_manifest_from_shipments(
    api,
    merchant,
):
    first, second = make_shipment(merchant, "awb_assigned"), make_shipment(merchant, "pickup_scheduled")

    response = api.post(MANIFESTS, {"shipment_ids": [first.pk, second.pk]}, format="json")

    assert response.status_code == 201, response.json()
    manifest = Manifest.objects.get()
    assert response.json() == {
        "id": manifest.pk, "number": "MAN-000001", "courier": "bluedart", "location": default_location(merchant).pk,
        "location_nickname": "main", "pickup": None, "shipment_ids": [first.pk, second.pk], "document_url": None,
        "created_by": manifest.created_by, "created_at": iso(manifest.created_at),
    }  # fmt: skip
    assert manifest.created_by.startswith("app:")
    assert api.get(f"/api/v1/shipments/{first.pk}/").json()["manifest"] == {"id": manifest.pk, "number": "MAN-000001"}


def test_create_a_manifest_from_a_pickup(api, merchant):
    first = make_shipment(merchant, "pickup_scheduled")
    second = make_shipment(merchant, "awb_assigned")
    pickup_schedule(merchant=merchant, shipment_ids=[second.pk], actor="t", pickup_date=first.pickup_date)

    response = api.post(MANIFESTS, {"pickup": first.pickup_id}, format="json")

    assert response.status_code == 201, response.json()
    assert (response.json()["pickup"], response.json()["shipment_ids"]) == (first.pickup_id, [first.pk, second.pk])


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"shipment_ids": ["Give shipment_ids or pickup (one of them)."]}),
        ({"shipment_ids": [1], "pickup": 1}, {"shipment_ids": ["Give shipment_ids or pickup (one of them)."]}),
        ({"pickup": 999}, {"pickup": ["Unknown pickup 999."]}),
        ({"shipment_ids": [999]}, {"shipment_ids": ["Unknown shipments: 999."]}),
    ],
)
def test_bad_manifest_input_is_a_400(api, merchant, body, details):
    make_shipment(merchant, "awb_assigned")

    response = api.post(MANIFESTS, body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(details)


def test_another_merchants_pickup_is_an_unknown_pickup(api, merchant, other_merchant):
    foreign = make_shipment(other_merchant, "pickup_scheduled")

    response = api.post(MANIFESTS, {"pickup": foreign.pickup_id}, format="json")

    assert response.status_code == 400
    assert response.json() == invalid({"pickup": [f"Unknown pickup {foreign.pickup_id}."]})
    assert Manifest.objects.count() == 0


def test_a_shipment_on_a_manifest_already_is_a_409(api, merchant):
    shipment = make_shipment(merchant, "awb_assigned")
    assert api.post(MANIFESTS, {"shipment_ids": [shipment.pk]}, format="json").status_code == 201

    response = api.post(MANIFESTS, {"shipment_ids": [shipment.pk]}, format="json")

    assert response.status_code == 409
    assert response.json() == {"code": "already_manifested", "message": "Some shipments are already on a manifest.",
                               "details": {"shipments": {str(shipment.pk): "MAN-000001"}}}  # fmt: skip


def test_a_shipment_without_an_awb_cannot_be_manifested(api, merchant):
    shipment = make_shipment(merchant)

    response = api.post(MANIFESTS, {"shipment_ids": [shipment.pk]}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "shipments_not_ready"
    assert response.json()["details"] == {"shipments": {str(shipment.pk): "new"}}


def test_manifest_list_filters_and_query_count(api, merchant, other_api, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    courier = shipping_courier(merchant)
    other = shipping_courier(merchant, code="dtdc", name="DTDC")
    manifests = [
        manifest_create(merchant=merchant, actor="t", shipment_ids=[
            make_shipment(merchant, "awb_assigned", courier=courier).pk for _ in range(n + 1)])
        for n in range(3)
    ]  # fmt: skip
    dtdc = manifest_create(
        merchant=merchant, actor="t", shipment_ids=[make_shipment(merchant, "awb_assigned", courier=other).pk]
    )
    documents = {}
    for manifest in (manifests[1], dtdc):
        document = document_request(merchant=merchant, kind="manifest", ids=[manifest.pk], actor="t",
                                    enqueue=False)  # fmt: skip
        documents[manifest.number] = document_render(document_id=document.pk).pk

    with CaptureQueriesContext(connection) as small:
        assert api.get(MANIFESTS, {"page_size": 1}).status_code == 200
    with CaptureQueriesContext(connection) as large:
        body = api.get(MANIFESTS, {"page_size": 4}).json()

    assert len(small) == len(large) == 5  # the token, the merchant, the page, the shipment ids, the documents
    assert [(row["number"], len(row["shipment_ids"])) for row in body["results"]] == [
        ("MAN-000004", 1), ("MAN-000003", 3), ("MAN-000002", 2), ("MAN-000001", 1)]  # fmt: skip
    assert [row["document_url"] for row in body["results"]] == [
        f"http://testserver/api/v1/documents/{documents['MAN-000004']}/download/", None,
        f"http://testserver/api/v1/documents/{documents['MAN-000002']}/download/", None]  # fmt: skip
    assert listed_ids(api, MANIFESTS, {"courier": "dtdc"}) == [dtdc.pk]
    assert listed_ids(other_api, MANIFESTS) == []
    assert other_api.get(f"{MANIFESTS}{manifests[0].pk}/").json() == NOT_FOUND


def test_the_document_url_is_the_latest_done_manifest_pdf(api, merchant, settings, tmp_path,
                                                          django_capture_on_commit_callbacks):  # fmt: skip
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    first, second = make_shipment(merchant, "awb_assigned"), make_shipment(merchant, "awb_assigned")
    manifest = manifest_create(merchant=merchant, actor="t", shipment_ids=[first.pk])
    manifest_create(merchant=merchant, actor="t", shipment_ids=[second.pk])
    failed = document_request(merchant=merchant, kind=DocumentKind.MANIFEST, ids=[manifest.pk], actor="t",
                              enqueue=False)  # fmt: skip
    assert api.get(f"{MANIFESTS}{manifest.pk}/").json()["document_url"] is None  # queued
    document_fail(document_id=failed.pk, error="The worker ran out of time.")
    with django_capture_on_commit_callbacks(execute=True):
        labels = api.post("/api/v1/documents/labels/", {"shipment_ids": [first.pk]}, format="json")
    assert labels.status_code == 202  # answered queued: the render runs on commit
    assert Document.objects.get(pk=labels.json()["id"]).status == DocumentStatus.DONE
    assert api.get(f"{MANIFESTS}{manifest.pk}/").json()["document_url"] is None  # failed; a label is no manifest

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/documents/manifests/", {"manifest_id": manifest.pk}, format="json")

    assert response.status_code == 202, response.json()
    document = Document.objects.get(pk=response.json()["id"])
    assert (document.status, document.manifest_id, document.pk != failed.pk) == (DocumentStatus.DONE, manifest.pk, True)
    url = f"http://testserver/api/v1/documents/{document.pk}/download/"
    assert api.get(f"{MANIFESTS}{manifest.pk}/").json()["document_url"] == url
    assert [row["document_url"] for row in api.get(MANIFESTS).json()["results"]] == [None, url]
    assert api.get(url).status_code == 200


def test_a_manifest_made_with_its_pdf_shows_the_url(api, merchant, settings, tmp_path,
                                                    django_capture_on_commit_callbacks):  # fmt: skip
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    shipment = make_shipment(merchant, "awb_assigned")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/documents/manifests/", {"shipment_ids": [shipment.pk]}, format="json")

    assert response.status_code == 202, response.json()
    manifest = Manifest.objects.get()
    assert (response.json()["manifest"], response.json()["status"]) == (manifest.pk, "queued")  # rendered on commit
    assert api.get(f"{MANIFESTS}{manifest.pk}/").json()["document_url"] == (
        f"http://testserver/api/v1/documents/{response.json()['id']}/download/")  # fmt: skip
    assert api.get(f"/api/v1/documents/{response.json()['id']}/").json()["status"] == "done"
