"""How ShopOps talks to a courier (adapter, webhook secret, status codes, tracking page, polling rate), and the
courier's measured performance in the courier API and in quotes."""

import pytest

from shipping.models import Courier
from shipping.services.tracking import courier_performance_refresh
from tests.api import invalid
from tests.shipping.factories import make_shipment, shipping_courier

URL = "/api/v1/couriers/"


def test_create_with_the_integration_settings(api, merchant):
    response = api.post(URL, {
        "code": "xpress", "name": "Xpress", "adapter": "simulated", "webhook_secret": "s3cret-value",
        "status_codes": {" DL ": "delivered", "UD": "ndr"}, "tracking_url_template": "https://xpress.example/t/{awb}",
        "poll_limit_per_minute": 30,
    }, format="json")  # fmt: skip

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("adapter", "has_webhook_secret", "status_codes", "tracking_url_template",
                                 "poll_limit_per_minute")} == {
        "adapter": "simulated", "has_webhook_secret": True, "status_codes": {"DL": "delivered", "UD": "ndr"},
        "tracking_url_template": "https://xpress.example/t/{awb}", "poll_limit_per_minute": 30}  # fmt: skip
    assert "webhook_secret" not in body
    courier = Courier.objects.get(code="xpress")
    assert (courier.adapter, courier.webhook_secret, courier.poll_limit_per_minute) == ("simulated", "s3cret-value", 30)


def test_the_pickup_cutoff_is_a_local_time_without_offset(api, merchant):
    courier = shipping_courier(merchant)

    set_hh_mm = api.patch(f"{URL}{courier.pk}/", {"pickup_cutoff": "09:30"}, format="json")
    with_offset = api.patch(f"{URL}{courier.pk}/", {"pickup_cutoff": "14:00:00+05:30"}, format="json")

    assert (set_hh_mm.status_code, set_hh_mm.json()["pickup_cutoff"]) == (200, "09:30:00")
    assert with_offset.status_code == 400
    assert list(with_offset.json()["details"]) == ["pickup_cutoff"]
    assert api.get(f"{URL}{courier.pk}/").json()["pickup_cutoff"] == "09:30:00"


def test_patch_clears_the_secret_and_replaces_the_codes(api, merchant):
    courier = shipping_courier(merchant, webhook_secret="old", status_codes={"DL": "delivered"})

    response = api.patch(f"{URL}{courier.pk}/", {"webhook_secret": "", "status_codes": {"OFD": "out_for_delivery"}},
                         format="json")  # fmt: skip

    assert response.status_code == 200, response.json()
    assert (response.json()["has_webhook_secret"], response.json()["status_codes"]) == (
        False, {"OFD": "out_for_delivery"})  # fmt: skip
    courier.refresh_from_db()
    assert (courier.webhook_secret, courier.adapter) == ("", "offline")


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"status_codes": {"DL": "teleported"}}, {"status_codes.DL": ['"teleported" is not a valid choice.']}),
        ({"status_codes": ["DL"]}, {"status_codes": ['Expected a dictionary of items but got type "list".']}),
        ({"status_codes": {"": "delivered"}}, {"status_codes": ["A code is 1 to 40 characters."]}),
        ({"tracking_url_template": "https://x.example/track"}, {"tracking_url_template": [
            "The template must contain {awb}."]}),
        ({"tracking_url_template": "ftp://x.example/{awb}"}, {"tracking_url_template": [
            "An http(s) URL with {awb}."]}),
        ({"adapter": "api"}, {"adapter": ['"api" is not a valid choice.']}),
        ({"poll_limit_per_minute": 0}, {"poll_limit_per_minute": ["Ensure this value is greater than or equal to 1."]}),
        ({"webhook_secret": "x" * 101}, {"webhook_secret": ["Ensure this field has no more than 100 characters."]}),
        ({"has_webhook_secret": True, "webhook": "x"}, {"webhook": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_integration_settings_are_a_400(api, merchant, body, details):
    courier = shipping_courier(merchant)

    response = api.patch(f"{URL}{courier.pk}/", body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(details)


def test_performance_uses_the_measured_figures_once_there_are_shipments(api, merchant):
    courier = shipping_courier(merchant)
    assert api.get(f"{URL}{courier.pk}/").json()["performance"] == {
        "on_time_rate": "0.9000",
        "rto_rate": "0.1000",
        "avg_transit_days": "3.0",
        "rating": "4.05",
        "shipments": 0,
    }
    make_shipment(merchant, "delivered")  # on time, 3 hours from pickup to delivery

    courier_performance_refresh(courier=courier)

    # One on-time delivery against a prior worth 20 shipments: (0.9 x 20 + 1) / 21 and (0.1 x 20 + 0) / 21.
    assert api.get(f"{URL}{courier.pk}/").json()["performance"] == {
        "on_time_rate": "0.9048",
        "rto_rate": "0.0952",
        "avg_transit_days": "0.1",
        "rating": "4.09",
        "shipments": 1,
    }
    quote = api.get("/api/v1/serviceability/", {"pickup_postcode": "560001", "delivery_postcode": "560025",
                                                "weight_grams": 500}).json()  # fmt: skip
    assert [(c["code"], c["rating"]) for c in quote["couriers"]] == [("bluedart", "4.09")]


def test_a_quote_with_measured_ratings_still_takes_three_queries(merchant, django_assert_num_queries):
    from shipping.selectors import quote

    courier = shipping_courier(merchant)
    make_shipment(merchant, "delivered")
    courier_performance_refresh(courier=courier)

    with django_assert_num_queries(3):
        result = quote(merchant=merchant, pickup_postcode="560001", delivery_postcode="560025", weight_grams=500)

    assert [(q.code, str(q.rating)) for q in result.couriers] == [("bluedart", "4.09")]
