"""The shipping API: couriers with rate cards, serviceability imports, and GET /serviceability/."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shipping.models import Courier, RateCard, ServiceablePincode
from shipping.services.couriers import pincode_block, shipping_preference_set
from tests.orders.factories import make_order
from tests.shipping.factories import METRO_CARD, make_courier, serve

QUOTE = "/api/v1/serviceability/"


def _card(**overrides) -> dict:
    return {**{k: str(v) if isinstance(v, Decimal) else v for k, v in METRO_CARD.items()}, **overrides}


# -- couriers CRUD -------------------------------------------------------------------------


def test_create_a_courier_with_rate_cards(api, merchant):
    response = api.post("/api/v1/couriers/", {
        "code": "bluedart-air", "name": "Blue Dart Air", "mode": "air", "supports_cod": False,
        "rate_cards": [_card(), _card(zone="special", first_slab_price="90.00", estimated_days=7)],
    }, format="json")  # fmt: skip

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "bluedart-air" and body["mode"] == "air" and body["supports_cod"] is False
    assert [c["zone"] for c in body["rate_cards"]] == ["metro", "special"]
    assert body["rate_cards"][0] == {
        "zone": "metro", "first_slab_grams": 500, "first_slab_price": "40.00", "additional_slab_grams": 500,
        "additional_slab_price": "35.00", "cod_fixed": "30.00", "cod_percent": "2.00",
        "fuel_surcharge_percent": "10.00", "rto_charge": "60.00", "estimated_days": 4,
    }  # fmt: skip
    assert body["performance"] == {"on_time_rate": "0.9000", "rto_rate": "0.1000", "avg_transit_days": "5.5",
                                   "rating": "4.05", "shipments": 0}  # fmt: skip
    assert body["serviceable_pincodes"] == 0
    assert RateCard.objects.filter(courier_id=body["id"], merchant=merchant).count() == 2


def test_patch_replaces_one_zone_and_keeps_the_others(api, merchant):
    courier = make_courier(merchant, rate_cards=[METRO_CARD, {**METRO_CARD, "zone": "within_city"}])

    body = {"name": "Delhivery", "rate_cards": [_card(first_slab_price="45.00")]}
    response = api.patch(f"/api/v1/couriers/{courier.pk}/", body, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Delhivery"
    assert {c["zone"]: c["first_slab_price"] for c in response.json()["rate_cards"]} == {
        "metro": "45.00", "within_city": "40.00"}  # fmt: skip
    assert response.json()["serviceable_pincodes"] == 2


def test_delete_deactivates(api, merchant):
    courier = make_courier(merchant)

    response = api.delete(f"/api/v1/couriers/{courier.pk}/")

    assert response.status_code == 204
    courier.refresh_from_db()
    assert courier.is_active is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "x", "name": "X", "rate_cards": [_card(zone="mars")]}, "rate_cards.0.zone"),
        ({"code": "x", "name": "X", "rate_cards": [_card(first_slab_price="0")]}, "rate_cards.0.first_slab_price"),
        ({"code": "x", "name": "X", "rate_cards": [_card(first_slab_grams=0)]}, "rate_cards.0.first_slab_grams"),
        ({"code": "x", "name": "X", "rate_cards": [_card(cod_percent="150")]}, "rate_cards.0.cod_percent"),
        ({"code": "x", "name": "X", "rate_cards": [_card(), _card()]}, "rate_cards"),
        ({"code": "x", "name": "X", "volumetric_divisor": 10}, "volumetric_divisor"),
        ({"code": "x", "name": "X", "mode": "teleport"}, "mode"),
        ({"code": "x", "name": "X", "colour": "red"}, "colour"),
    ],
)
def test_bad_courier_input_is_a_400_naming_the_field(api, body, field):
    response = api.post("/api/v1/couriers/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["details"]
    assert Courier.objects.count() == 0


def test_duplicate_code_is_a_409(api, merchant):
    make_courier(merchant)

    response = api.post("/api/v1/couriers/", {"code": "delhivery-surface", "name": "Again"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_courier"


def test_list_query_count_is_constant_over_pages(api, merchant):
    for index in range(6):
        make_courier(merchant, code=f"c{index}", name=f"Courier {index}",
                     rate_cards=[METRO_CARD, {**METRO_CARD, "zone": "special"}],
                     pincodes=("560001", f"11000{index + 1}"))  # fmt: skip

    with CaptureQueriesContext(connection) as small:
        first = api.get("/api/v1/couriers/?page_size=2")
    with CaptureQueriesContext(connection) as large:
        whole = api.get("/api/v1/couriers/?page_size=6")

    assert first.status_code == 200 and first.json()["next"] is not None
    assert [c["name"] for c in whole.json()["results"]] == [f"Courier {i}" for i in range(6)]
    assert all(c["serviceable_pincodes"] == 2 and len(c["rate_cards"]) == 2 for c in whole.json()["results"])
    assert len(large.captured_queries) == len(small.captured_queries)


def test_another_merchants_courier_is_a_404(other_api, merchant):
    courier = make_courier(merchant)

    assert other_api.get(f"/api/v1/couriers/{courier.pk}/").status_code == 404
    assert other_api.delete(f"/api/v1/couriers/{courier.pk}/").status_code == 404
    assert Courier.objects.get(pk=courier.pk).is_active is True


# -- serviceability import -------------------------------------------------------------------


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("pincodes.csv", text.encode(), content_type="text/csv")


def test_import_replaces_the_courier_pincodes(api, merchant):
    courier = make_courier(merchant, pincodes=("110001",))

    response = api.post(f"/api/v1/couriers/{courier.pk}/serviceability/import/",
                        {"file": _csv("pincode,pickup,delivery,cod,reverse,oda\n560001,Y,Y,N,N,N\n400050,N,Y,Y,Y,Y\n")},
                        format="multipart")  # fmt: skip

    assert response.status_code == 200, response.content
    assert response.json() == {"rows": 2, "imported": 2, "errors": []}
    rows = ServiceablePincode.objects.filter(courier=courier).order_by("pincode")
    assert [(r.pincode, r.pickup, r.delivery, r.cod, r.reverse, r.oda) for r in rows] == [
        ("400050", False, True, True, True, True), ("560001", True, True, False, False, False)]  # fmt: skip


def test_import_without_replace_adds(api, merchant):
    courier = make_courier(merchant, pincodes=("110001",))

    response = api.post(f"/api/v1/couriers/{courier.pk}/serviceability/import/",
                        {"file": _csv("pincode\n560001\n"), "replace": "false"}, format="multipart")  # fmt: skip

    assert response.status_code == 200
    assert sorted(ServiceablePincode.objects.filter(courier=courier).values_list("pincode", flat=True)) == [
        "110001", "560001"]  # fmt: skip


def test_a_bad_file_is_a_400_and_imports_nothing(api, merchant):
    courier = make_courier(merchant, pincodes=("110001",))

    response = api.post(f"/api/v1/couriers/{courier.pk}/serviceability/import/",
                        {"file": _csv("pincode,cod\n560001,Y\n05600,Y\n400050,maybe\n560001,Y\n")},
                        format="multipart")  # fmt: skip

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_file"
    assert body["details"]["rows"] == 4 and body["details"]["imported"] == 0
    assert body["details"]["errors"] == [
        {"row": 3, "pincode": "05600", "message": "A pincode is 6 digits, not starting with 0."},
        {"row": 4, "pincode": "400050", "message": "cod must be Y or N, not 'maybe'."},
        {"row": 5, "pincode": "560001", "message": "The pincode appears twice."},
    ]
    assert list(ServiceablePincode.objects.filter(courier=courier).values_list("pincode", flat=True)) == ["110001"]


@pytest.mark.parametrize("content", [b"zip,cod\n560001,Y\n", b"\xff\xfe\x00bad"])
def test_an_unreadable_file_is_a_400(api, merchant, content):
    courier = make_courier(merchant, pincodes=("110001",))

    response = api.post(f"/api/v1/couriers/{courier.pk}/serviceability/import/",
                        {"file": SimpleUploadedFile("p.csv", content)}, format="multipart")  # fmt: skip

    assert response.status_code == 400
    assert "file" in response.json()["details"]
    assert ServiceablePincode.objects.filter(courier=courier).count() == 1


# -- GET /serviceability/ ---------------------------------------------------------------------


@pytest.fixture
def couriers(merchant):
    """Bengaluru (560001) to Mumbai (400050) is a metro zone."""
    surface = make_courier(merchant)
    air = make_courier(merchant, code="bluedart-air", name="Blue Dart Air", mode="air", supports_cod=False,
                       rate_cards=[{**METRO_CARD, "first_slab_price": Decimal("60.00"),
                                    "additional_slab_price": Decimal("50.00"), "fuel_surcharge_percent": Decimal("12"),
                                    "estimated_days": 2}])  # fmt: skip
    no_card = make_courier(merchant, code="ecom", name="Ecom Express", rate_cards=[{**METRO_CARD, "zone": "special"}])
    no_delivery = make_courier(merchant, code="xb", name="Xpressbees", pincodes=("560001",))
    return surface, air, no_card, no_delivery


def test_quote_with_exact_figures(api, couriers):
    surface, air, no_card, no_delivery = couriers

    response = api.get(QUOTE, {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 1200,
                               "length_cm": 20, "breadth_cm": 15, "height_cm": 10})  # fmt: skip

    assert response.status_code == 200, response.content
    body = response.json()
    etd = lambda days: (timezone.localdate() + timedelta(days=days)).isoformat()  # noqa: E731
    # 1200 g (volumetric 20x15x10/5000 = 600 g) -> 500 g + 2 x 500 g = 1500 g.
    # Surface: 40 + 2 x 35 = 110.00; fuel 10% = 11.00; GST 18% of 121.00 = 21.78; total 142.78.
    # Air: 60 + 2 x 50 = 160.00; fuel 12% = 19.20; GST 18% of 179.20 = 32.26; total 211.46.
    # Scores: 0.5 x price + 0.3 x speed + 0.2 x rating/5 (4.05/5 = 0.81):
    # surface 0.5 x 1 + 0.3 x 2/4 + 0.162 = 0.8120; air 0.5 x 142.78/211.46 + 0.3 x 1 + 0.162 = 0.7996.
    assert body == {
        "zone": "metro",
        "recommended_courier_id": surface.pk,
        "couriers": [
            {"courier_id": surface.pk, "code": "delhivery-surface", "name": "Delhivery Surface", "zone": "metro",
             "chargeable_weight_grams": 1500, "freight_charge": "110.00", "cod_charge": "0.00",
             "fuel_surcharge": "11.00", "tax": "21.78", "total_charge": "142.78", "estimated_delivery_days": 4,
             "etd": etd(4), "rating": "4.05", "score": "0.8120", "live_quote": False},
            {"courier_id": air.pk, "code": "bluedart-air", "name": "Blue Dart Air", "zone": "metro",
             "chargeable_weight_grams": 1500, "freight_charge": "160.00", "cod_charge": "0.00",
             "fuel_surcharge": "19.20", "tax": "32.26", "total_charge": "211.46", "estimated_delivery_days": 2,
             "etd": etd(2), "rating": "4.05", "score": "0.7996", "live_quote": False},
        ],
        "blocked": [
            {"courier_id": no_card.pk, "reason": "no rate card for the metro to metro zone"},
            {"courier_id": no_delivery.pk, "reason": "delivery pincode not serviceable"},
        ],
    }  # fmt: skip


def test_quote_sorted_fastest(api, couriers):
    surface, air, *_ = couriers

    response = api.get(QUOTE, {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 500,
                               "sort": "fastest"})  # fmt: skip

    assert [c["courier_id"] for c in response.json()["couriers"]] == [air.pk, surface.pk]
    assert response.json()["recommended_courier_id"] == surface.pk


def test_cod_quote_charges_cod_and_blocks_a_courier_without_it(api, couriers):
    surface, air, *_ = couriers

    response = api.get(QUOTE, {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 500,
                               "cod": "true", "declared_value": "2000.00"})  # fmt: skip

    body = response.json()
    # 40.00 freight + COD max(30.00, 2% of 2000.00 = 40.00) + fuel 4.00; GST 18% of 84.00 = 15.12.
    assert [(c["courier_id"], c["cod_charge"], c["total_charge"]) for c in body["couriers"]] == [
        (surface.pk, "40.00", "99.12")]  # fmt: skip
    assert {"courier_id": air.pk, "reason": "no COD"} in body["blocked"]


def test_a_blocked_delivery_pincode_blocks_every_courier(api, merchant, couriers):
    pincode_block(merchant=merchant, pincode="400050", reason="fraud")

    response = api.get(QUOTE, {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 500})

    assert response.status_code == 200
    assert response.json()["couriers"] == [] and response.json()["recommended_courier_id"] is None
    assert {b["reason"] for b in response.json()["blocked"]} == {"delivery pincode blocked by the merchant: fraud"}


def test_quote_for_an_order(api, merchant, couriers):
    surface, *_ = couriers
    order = make_order(merchant)
    order.pickup_location.postcode = "560001"
    order.pickup_location.save(update_fields=["postcode"])
    order.__class__.objects.filter(pk=order.pk).update(
        weight_grams=900, payment_method="cod", shipping_address={**order.shipping_address, "postcode": "400050"}
    )

    response = api.get(QUOTE, {"order": order.pk})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["zone"] == "metro"
    assert [c["courier_id"] for c in body["couriers"]] == [surface.pk]  # the air courier takes no COD
    assert body["couriers"][0]["chargeable_weight_grams"] == 1000
    expected_cod = max(Decimal("30.00"), (order.total * 2 / 100).quantize(Decimal("0.01")))
    assert body["couriers"][0]["cod_charge"] == f"{expected_cod:.2f}"


def test_quote_for_another_merchants_order_is_a_404(other_api, merchant):
    order = make_order(merchant)

    response = other_api.get(QUOTE, {"order": order.pk})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pickup_postcode": "56001"}, "pickup_postcode"),
        ({"pickup_postcode": "abcdef"}, "pickup_postcode"),
        ({"delivery_postcode": "012345"}, "delivery_postcode"),
        ({"delivery_postcode": "999999"}, "delivery_postcode"),  # well-formed, not a pincode
        ({"weight_grams": 0}, "weight_grams"),
        ({"weight_grams": -5}, "weight_grams"),
        ({"weight_grams": 2_000_000}, "weight_grams"),
        ({"weight_grams": "heavy"}, "weight_grams"),
        ({"length_cm": 5000}, "length_cm"),
        ({"height_cm": -1}, "height_cm"),
        ({"declared_value": "-1"}, "declared_value"),
        ({"mode": "rocket"}, "mode"),
        ({"sort": "random"}, "sort"),
        ({"cod": "perhaps"}, "cod"),
        ({"weight": 500}, "weight"),
    ],
)
def test_bad_quote_input_is_a_400_on_the_parameter(api, couriers, params, field):
    query = {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 500, **params}

    response = api.get(QUOTE, query)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert field in response.json()["details"]


def test_missing_parameters_are_named(api):
    response = api.get(QUOTE)

    assert response.status_code == 400
    assert set(response.json()["details"]) == {"pickup_postcode", "delivery_postcode", "weight_grams"}


def test_absurd_volume_blocks_with_its_reason(api, couriers):
    surface, *_ = couriers

    response = api.get(QUOTE, {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 500,
                               "length_cm": 200, "breadth_cm": 200, "height_cm": 200})  # fmt: skip

    assert response.status_code == 200
    assert response.json()["couriers"] == []
    assert {"courier_id": surface.pk, "reason": "volumetric weight over the maximum of 30000 g"} in response.json()[
        "blocked"]  # fmt: skip


def test_quote_needs_shipping_read(merchant):
    from tests.conftest import client_for

    response = client_for(merchant, scopes=["orders:read"]).get(
        QUOTE, {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 500}
    )

    assert response.status_code == 403
    assert response.json()["details"]["required_scopes"] == ["shipping:read"]


def test_a_delivery_pincode_without_cod_blocks_cod(api, merchant):
    courier = make_courier(merchant, pincodes=("560001",))
    serve(courier, "400050", cod="N")  # replaces the list: the pickup pincode is gone too
    serve(courier, "560001", "400050", cod="N")

    response = api.get(QUOTE, {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 500,
                               "cod": "1", "declared_value": "100"})  # fmt: skip

    assert response.json()["blocked"] == [{"courier_id": courier.pk, "reason": "no COD at the delivery pincode"}]


def test_the_merchants_weights_and_default_order_rank_the_quote(api, merchant, couriers):
    surface, air, _, _ = couriers
    params = {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 1200}
    assert api.get(QUOTE, params).json()["recommended_courier_id"] == surface.pk

    speed_only = {"weight_price": Decimal("0"), "weight_speed": Decimal("1"), "weight_performance": Decimal("0")}
    shipping_preference_set(merchant=merchant, data={**speed_only, "default_sort": "cheapest"})
    body = api.get(QUOTE, params).json()

    assert body["recommended_courier_id"] == air.pk  # speed alone counts now
    assert [c["courier_id"] for c in body["couriers"]] == [surface.pk, air.pk]  # the default order: cheapest
    assert [c["score"] for c in body["couriers"]] == ["0.5000", "1.0000"]  # fastest 2 days / own days


def test_a_preference_without_any_weight_is_refused(merchant):
    with pytest.raises(ValidationError):
        shipping_preference_set(merchant=merchant, data={"weight_price": Decimal("0"), "weight_speed": Decimal("0"),
                                                         "weight_performance": Decimal("0")})  # fmt: skip
