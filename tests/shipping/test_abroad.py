"""Zones by postcode prefix for countries other than India, from the merchant's rules."""

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from shipping.selectors import quote
from shipping.services.couriers import courier_create, serviceability_import, zone_rule_set
from shipping.zones import UnknownPincode, Zone, zone_by_prefix

RULES = [("", "", Zone.REST_OF_INDIA), ("SW", "SW", Zone.WITHIN_CITY), ("SW", "", Zone.WITHIN_STATE),
         ("SW1", "EH", Zone.SPECIAL)]  # fmt: skip


@pytest.mark.parametrize(
    ("pickup", "delivery", "zone"),
    [
        ("SW1A 1AA", "SW19 2AB", Zone.WITHIN_CITY),  # SW -> SW beats SW -> anything
        ("SW1A 1AA", "M1 1AE", Zone.WITHIN_STATE),  # SW -> anything
        ("SW1A 1AA", "EH1 1YZ", Zone.SPECIAL),  # SW1 -> EH is the longest match
        ("M1 1AE", "EH1 1YZ", Zone.REST_OF_INDIA),  # only the catch-all rule
        ("sw1a  1aa", "eh1 1yz", Zone.SPECIAL),  # postcodes are upper-cased and spaces collapsed
    ],
)
def test_the_most_specific_rule_decides(pickup, delivery, zone):
    assert zone_by_prefix(pickup, delivery, "GB", RULES) == zone


def test_no_matching_rule_is_refused():
    with pytest.raises(UnknownPincode) as refused:
        zone_by_prefix("M1 1AE", "EH1 1YZ", "GB", [("SW", "", Zone.WITHIN_STATE)])

    assert str(refused.value) == "No zone rule covers M1 1AE to EH1 1YZ in GB."


def test_a_quote_abroad_uses_the_merchants_rules_and_postcodes(merchant, django_assert_num_queries):
    zone_rule_set(merchant=merchant, country="GB", origin_prefix="sw", destination_prefix="", zone="within_state")
    courier = courier_create(merchant=merchant, data={"code": "royal", "name": "Royal Post"}, rate_cards=[{
        "zone": "within_state", "first_slab_price": Decimal("5.00"), "additional_slab_price": Decimal("2.00"),
        "estimated_days": 2}])  # fmt: skip
    result = serviceability_import(courier=courier, fileobj=io.BytesIO(b"pincode\nsw1a 1aa\nM1 1AE\n"), country="GB")
    assert (result.imported, result.errors) == (2, [])

    with django_assert_num_queries(4):  # the three of a quote, and the country's rules
        quoted = quote(merchant=merchant, pickup_postcode="SW1A 1AA", delivery_postcode="m1 1ae", weight_grams=400,
                       country="GB")  # fmt: skip

    assert quoted.zone == Zone.WITHIN_STATE
    # 5.00 freight, no fuel, GST 18% = 0.90: 5.90
    assert [(q.code, q.total_charge) for q in quoted.couriers] == [("royal", Decimal("5.90"))]


@pytest.mark.parametrize(
    ("country", "origin", "field"),
    [("IN", "", "country"), ("GBR", "", "country"), ("GB", "SW@1", "origin_prefix")],
)
def test_bad_zone_rules_are_refused(merchant, country, origin, field):
    with pytest.raises(ValidationError) as refused:
        zone_rule_set(merchant=merchant, country=country, origin_prefix=origin, destination_prefix="", zone="metro")

    assert list(refused.value.message_dict) == [field]


def test_an_indian_import_refuses_foreign_postcodes(merchant):
    courier = courier_create(merchant=merchant, data={"code": "c", "name": "C"})

    result = serviceability_import(courier=courier, fileobj=io.BytesIO(b"pincode\nSW1A 1AA\n"))

    assert result.errors == [
        {"row": 2, "pincode": "SW1A 1AA", "message": "A pincode is 6 digits, not starting with 0."}
    ]


def test_the_api_quotes_abroad(api, merchant):
    zone_rule_set(merchant=merchant, country="GB", origin_prefix="", destination_prefix="", zone="rest_of_india")
    card = {"zone": "rest_of_india", "first_slab_price": Decimal("7.00"), "additional_slab_price": Decimal("2.00")}
    courier = courier_create(merchant=merchant, data={"code": "royal", "name": "Royal Post"}, rate_cards=[card])
    serviceability_import(courier=courier, fileobj=io.BytesIO(b"pincode\nSW1A 1AA\nEH1 1YZ\n"), country="GB")

    ok = api.get("/api/v1/serviceability/", {"country": "GB", "pickup_postcode": "sw1a 1aa",
                                             "delivery_postcode": "EH1 1YZ", "weight_grams": 300})  # fmt: skip
    bad = api.get("/api/v1/serviceability/", {"country": "GB", "pickup_postcode": "SW1A@1AA",
                                              "delivery_postcode": "EH1 1YZ", "weight_grams": 300})  # fmt: skip

    assert ok.status_code == 200, ok.content
    assert (ok.json()["zone"], [c["total_charge"] for c in ok.json()["couriers"]]) == ("rest_of_india", ["8.26"])
    assert bad.status_code == 400
    assert bad.json()["details"] == {"pickup_postcode": ["A postcode is 2 to 10 letters, digits, spaces or dashes."]}
