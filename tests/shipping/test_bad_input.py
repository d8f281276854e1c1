"""Odd input on the shipping endpoints: a clear 4xx, never a 500."""

import pytest

from shipping.models import Document
from tests.api import invalid
from tests.shipping.factories import make_shipment

pytestmark = pytest.mark.django_db
DATE_RANGE = "Use a date between the years 1900 and 9000."


@pytest.mark.parametrize(("url", "param", "value"), [
    ("/api/v1/shipments/", "pickup_date_before", "9999-12-31T23:00:00-14:00"),
    ("/api/v1/shipments/", "pickup_date_after", "0001-01-01T00:00:00+14:00"),
    ("/api/v1/shipments/", "ship_date_before", "9999-12-31"),
    ("/api/v1/shipments/", "delivered_date_before", "9999-12-31"),
    ("/api/v1/pickups/", "pickup_date_before", "9999-12-31"),
    ("/api/v1/manifests/", "created_before", "9999-12-31"),
    ("/api/v1/orders/", "ship_date_before", "9999-12-31"),
])  # fmt: skip
def test_far_away_dates_are_a_400_naming_the_parameter(api, url, param, value):
    response = api.get(url, {param: value})

    assert response.status_code == 400
    assert response.json() == invalid({param: [DATE_RANGE]})


@pytest.mark.parametrize("value", ["²", "9" * 30])
def test_a_location_that_only_looks_like_an_id_is_matched_as_a_nickname(api, merchant, value):
    make_shipment(merchant, "pickup_scheduled")

    response = api.get("/api/v1/pickups/", {"location": value})

    assert (response.status_code, response.json()["results"]) == (200, [])


@pytest.mark.parametrize(("awb", "api_status"), [("%00abc", 400), ("A" * 41, 404)])
def test_an_awb_that_cannot_exist_is_refused_or_not_found(api, client, awb, api_status):
    assert api.get(f"/api/v1/tracking/{awb}/").status_code == api_status
    assert client.get(f"/track/{awb}/{'t' * 22}/").status_code == 404
    lookup = client.get(f"/track/{awb}/")
    assert lookup.status_code == 200
    assert 'name="awb" id="id_awb" value=""' in lookup.content.decode()


@pytest.mark.parametrize(("url", "body", "field"), [
    ("/api/v1/documents/labels/", {"shipment_ids": [10**30]}, "shipment_ids.0"),
    ("/api/v1/documents/manifests/", {"manifest_id": 10**30}, "manifest_id"),
    ("/api/v1/ship/batch/", {"order_ids": [10**30]}, "order_ids.0"),
])  # fmt: skip
def test_ids_beyond_a_64_bit_key_are_a_400(api, url, body, field):
    response = api.post(url, body, format="json")

    assert response.status_code == 400
    assert list(response.json()["details"]) == [field]
    assert Document.objects.count() == 0
