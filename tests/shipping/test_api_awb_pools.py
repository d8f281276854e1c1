"""AWB pools through the API: ranges and lists (JSON or an uploaded file), remaining numbers, deactivation."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from shipping.models import AWBNumber, AWBPool
from shipping.services.awb import awb_pool_create_list, awb_pool_set_active
from tests.api import NOT_FOUND, invalid, listed_ids
from tests.shipping.factories import make_shipment, shipping_courier

URL = "/api/v1/awb-pools/"


def iso(value) -> str:
    return serializers.DateTimeField().to_representation(value)


def test_create_a_range_pool_and_allocate_from_it(api, merchant):
    shipping_courier(merchant, pool=None)

    response = api.post(URL, {"kind": "range", "courier": "bluedart", "name": "Nov batch", "range_start": 5000,
                              "range_end": 5009, "prefix": "BD", "width": 8, "low_watermark": 20},
                        format="json")  # fmt: skip

    assert response.status_code == 201, response.json()
    pool = AWBPool.objects.get(merchant=merchant)
    assert response.json() == {
        "id": pool.pk, "courier": "bluedart", "name": "Nov batch", "kind": "range", "prefix": "BD", "width": 8,
        "range_start": 5000, "range_end": 5009, "next_number": 5000, "remaining": 10, "low_watermark": 20,
        "low": True, "is_active": True, "created_at": iso(pool.created_at),
    }  # fmt: skip
    shipment = make_shipment(merchant, "awb_assigned")
    assert shipment.awb == "BD00005000"
    assert api.get(f"{URL}{pool.pk}/").json()["remaining"] == 9


def test_create_a_list_pool_from_json(api, merchant):
    shipping_courier(merchant, pool=None)

    response = api.post(URL, {"kind": "list", "courier": "bluedart", "name": "Sent by email",
                              "numbers": ["AB1234", " AB1235 ", "AB1236"], "low_watermark": 2},
                        format="json")  # fmt: skip

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("kind", "prefix", "width", "range_start", "range_end", "next_number", "remaining",
                                 "low_watermark", "low")} == {
        "kind": "list", "prefix": "", "width": 0, "range_start": None, "range_end": None, "next_number": None,
        "remaining": 3, "low_watermark": 2, "low": False}  # fmt: skip
    assert list(AWBNumber.objects.filter(pool_id=body["id"]).values_list("awb", flat=True)) == [
        "AB1234", "AB1235", "AB1236"]  # fmt: skip
    make_shipment(merchant, "awb_assigned")
    assert api.get(f"{URL}{body['id']}/").json() == body | {"remaining": 2, "low": False}
    make_shipment(merchant, "awb_assigned")
    assert api.get(f"{URL}{body['id']}/").json() == body | {"remaining": 1, "low": True}


def test_create_a_list_pool_from_an_uploaded_file(api, merchant):
    shipping_courier(merchant, pool=None)
    upload = SimpleUploadedFile("awbs.csv", "\ufeffawb\r\nXY0001\r\n\r\n\"XY0002\"\r\nXY0003,extra\r\n".encode(),
                                content_type="text/csv")  # fmt: skip

    response = api.post(URL, {"kind": "list", "courier": "bluedart", "name": "Upload", "file": upload},
                        format="multipart")  # fmt: skip

    assert response.status_code == 201, response.json()
    assert response.json()["remaining"] == 3
    assert sorted(AWBNumber.objects.values_list("awb", flat=True)) == ["XY0001", "XY0002", "XY0003"]


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"kind": "range", "courier": "bluedart", "name": "x", "range_start": 1},
         {"range_end": ["Required for a range pool."]}),
        ({"kind": "range", "courier": "bluedart", "name": "x", "range_start": 1, "range_end": 5, "numbers": ["AB12"]},
         {"numbers": ["Only for a list pool."]}),
        ({"kind": "list", "courier": "bluedart", "name": "x"},
         {"numbers": ["Give the numbers, or upload them as `file`."]}),
        ({"kind": "list", "courier": "bluedart", "name": "x", "numbers": ["AB12"], "range_start": 4},
         {"range_start": ["Only for a range pool."]}),
        ({"kind": "range", "courier": "bluedart", "name": "x", "range_start": 10, "range_end": 5},
         {"range_end": ["The range must run from a number >= 0 up to a number not below it."]}),
        ({"kind": "range", "courier": "bluedart", "name": "x", "range_start": -1, "range_end": 5},
         {"range_start": ["Ensure this value is greater than or equal to 0."]}),
        ({"kind": "range", "courier": "bluedart", "name": "x", "range_start": 1, "range_end": 5, "prefix": "B D"},
         {"prefix": ["Up to 10 letters, digits or dashes."]}),
        ({"kind": "list", "courier": "bluedart", "name": "x", "numbers": ["AB1234", "A!", "AB1234"]},
         {"numbers": ["'A!' is not an AWB (4 to 40 letters, digits or dashes)", "AB1234 is listed twice"]}),
        ({"kind": "list", "courier": "bluedart", "name": "x", "numbers": ["BL10000003"]},
         {"numbers": ["BL10000003 is already in a pool or used"]}),
        ({"kind": "list", "courier": "fedex", "name": "x", "numbers": ["AB1234"]},
         {"courier": ["Unknown courier 'fedex'."]}),
        ({"kind": "stack", "courier": "bluedart", "name": "x"}, {"kind": ['"stack" is not a valid choice.']}),
        ({"kind": "list", "courier": "bluedart", "name": "x", "numbers": "AB1234"},
         {"numbers": ['Expected a list of items but got type "str".']}),
    ],
)  # fmt: skip
def test_bad_pool_input_is_a_400_naming_the_field(api, merchant, body, details):
    courier = shipping_courier(merchant, pool=None)
    awb_pool_create_list(courier=courier, name="existing", numbers=["BL10000003"])

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(details)
    assert AWBPool.objects.count() == 1


@pytest.mark.parametrize(
    ("content", "details"),
    [
        (b"awb\n", {"file": ["The file holds no AWB."]}),
        (b"\xff\xfe\x00A", {"file": ["The file is not UTF-8 text."]}),
    ],
)
def test_a_bad_file_is_a_400(api, merchant, content, details):
    shipping_courier(merchant, pool=None)
    upload = SimpleUploadedFile("awbs.txt", content, content_type="text/plain")

    response = api.post(URL, {"kind": "list", "courier": "bluedart", "name": "x", "file": upload}, format="multipart")

    assert response.status_code == 400
    assert response.json() == invalid(details)


def test_an_overlapping_range_is_a_409(api, merchant):
    courier = shipping_courier(merchant)
    existing = courier.awb_pools.get()

    response = api.post(URL, {"kind": "range", "courier": "bluedart", "name": "again", "range_start": 10_000_500,
                              "range_end": 10_002_000, "prefix": "BL"}, format="json")  # fmt: skip

    assert response.status_code == 409
    assert response.json() == {"code": "awb_pool_overlap", "message": "The range overlaps pool 'bluedart pool' of "
                               "this courier.", "details": {"pool": existing.pk}}  # fmt: skip


def test_a_duplicate_name_is_a_409(api, merchant):
    shipping_courier(merchant)

    response = api.post(URL, {"kind": "list", "courier": "bluedart", "name": "bluedart pool", "numbers": ["ZZ9999"]},
                        format="json")  # fmt: skip

    assert response.status_code == 409
    assert response.json() == {"code": "duplicate_awb_pool", "message": "A pool named 'bluedart pool' already exists.",
                               "details": {"name": "bluedart pool"}}  # fmt: skip


def test_patch_deactivates_and_sets_the_watermark(api, merchant):
    pool = shipping_courier(merchant).awb_pools.get()

    response = api.patch(f"{URL}{pool.pk}/", {"is_active": False, "low_watermark": 5000}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["is_active"], response.json()["low_watermark"], response.json()["low"]) == (
        False, 5000, True)  # fmt: skip
    shipment = make_shipment(merchant)
    refused = api.post(f"/api/v1/shipments/{shipment.pk}/assign-awb/", {}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "awb_pool_exhausted")


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"name": "renamed"}, {"name": ["Unknown field."]}),
        ({"low_watermark": -1}, {"low_watermark": ["Ensure this value is greater than or equal to 0."]}),
        ({"is_active": "perhaps"}, {"is_active": ["Must be a valid boolean."]}),
    ],
)
def test_bad_patch_is_a_400(api, merchant, body, details):
    pool = shipping_courier(merchant).awb_pools.get()

    response = api.patch(f"{URL}{pool.pk}/", body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(details)


def test_another_merchants_pool_is_a_404(other_api, merchant):
    pool = shipping_courier(merchant).awb_pools.get()

    assert other_api.get(f"{URL}{pool.pk}/").json() == NOT_FOUND
    response = other_api.patch(f"{URL}{pool.pk}/", {"is_active": False}, format="json")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    pool.refresh_from_db()
    assert pool.is_active is True


def test_list_filters_and_constant_query_count(api, merchant):
    first = shipping_courier(merchant)
    second = shipping_courier(merchant, code="dtdc", name="DTDC")
    lists = [awb_pool_create_list(courier=second, name=f"list {n}", numbers=[f"DT{n}000{i}" for i in range(3)])
             for n in range(4)]  # fmt: skip
    awb_pool_set_active(pool=lists[0], is_active=False)

    with CaptureQueriesContext(connection) as small:
        assert api.get(URL, {"page_size": 2}).status_code == 200
    with CaptureQueriesContext(connection) as large:
        body = api.get(URL, {"page_size": 6}).json()

    assert len(small) == len(large) == 3
    assert [(row["name"], row["remaining"], row["low"]) for row in body["results"]] == [
        ("list 3", 3, True), ("list 2", 3, True), ("list 1", 3, True), ("list 0", 3, True), ("dtdc pool", 1000, False),
        ("bluedart pool", 1000, False)]  # fmt: skip
    assert listed_ids(api, URL, {"courier": "bluedart"}) == [first.awb_pools.get().pk]
    assert listed_ids(api, URL, {"kind": "list", "is_active": "false"}) == [lists[0].pk]
