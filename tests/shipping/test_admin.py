"""The shipping dashboard: couriers with rate cards, serviceability upload, rate calculator, scoping, query counts."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from shipping.models import BlockedPincode, Courier, PostcodeZone, RateCard, ServiceablePincode
from tests.shipping.factories import METRO_CARD, make_courier

ADMIN = "/admin/shipping"


@pytest.fixture
def staff_client(client, owner):
    client.force_login(owner)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def courier_form(merchant, cards=(), **overrides) -> dict:
    data = {
        "merchant": str(merchant.pk), "code": "shadowfax", "name": "Shadowfax", "mode": "surface",
        "supports_cod": "on", "max_weight_grams": "30000", "volumetric_divisor": "5000", "pickup_cutoff": "14:00:00",
        "is_active": "on", "adapter": "offline", "poll_limit_per_minute": "60", "status_codes": "{}",
        "rate_cards-TOTAL_FORMS": str(len(cards)), "rate_cards-INITIAL_FORMS": "0",
        "rate_cards-MIN_NUM_FORMS": "0", "rate_cards-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for index, card in enumerate(cards):
        data.update({f"rate_cards-{index}-{name}": str(value) for name, value in card.items()})
    data.update(overrides)
    return data


def test_add_a_courier_with_a_rate_card_inline(staff_client, merchant):
    response = staff_client.post(f"{ADMIN}/courier/add/", courier_form(merchant, [METRO_CARD]))

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else None
    courier = Courier.objects.get(merchant=merchant, code="shadowfax")
    card = RateCard.objects.get(courier=courier)
    assert (card.zone, card.first_slab_price, card.cod_percent, card.merchant_id) == (
        "metro", METRO_CARD["first_slab_price"], METRO_CARD["cod_percent"], merchant.pk)  # fmt: skip


def test_a_duplicate_code_is_a_form_error_and_nothing_is_saved(staff_client, merchant):
    make_courier(merchant, code="shadowfax", name="Old")

    response = staff_client.post(f"{ADMIN}/courier/add/", courier_form(merchant, [METRO_CARD]))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "__all__": ["Courier with this Merchant and Code already exists."]}  # fmt: skip
    assert Courier.objects.filter(merchant=merchant).count() == 1


def test_a_zero_priced_rate_card_is_refused(staff_client, merchant):
    response = staff_client.post(
        f"{ADMIN}/courier/add/", courier_form(merchant, [{**METRO_CARD, "first_slab_price": "0"}])
    )

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.errors[0] == {
        "first_slab_price": ["The first slab must cost more than zero."]}  # fmt: skip
    assert Courier.objects.count() == 0


def test_serviceability_upload_page_imports_and_shows_the_result(staff_client, merchant):
    courier = make_courier(merchant, pincodes=("110001",))
    url = f"{ADMIN}/courier/{courier.pk}/serviceability/"
    assert staff_client.get(url).status_code == 200

    upload = SimpleUploadedFile("p.csv", b"pincode,cod\n560001,Y\n400050,N\n737101,Y\n")
    response = staff_client.post(url, {"file": upload, "replace": "on"})

    assert response.status_code == 200
    assert response.context["result"].imported == 3
    assert "Imported 3 pincodes of 3 rows" in messages_of(response)[0]
    assert sorted(ServiceablePincode.objects.filter(courier=courier).values_list("pincode", flat=True)) == [
        "400050", "560001", "737101"]  # fmt: skip


def test_serviceability_upload_with_bad_rows_imports_nothing_and_lists_them(staff_client, merchant):
    courier = make_courier(merchant, pincodes=("110001",))

    upload = SimpleUploadedFile("p.csv", b"pincode\n560001\n12\n")
    response = staff_client.post(f"{ADMIN}/courier/{courier.pk}/serviceability/", {"file": upload, "replace": "on"})

    assert response.status_code == 200
    assert response.context["result"].errors == [
        {"row": 3, "pincode": "12", "message": "A pincode is 6 digits, not starting with 0."}]  # fmt: skip
    assert b"A pincode is 6 digits" in response.content
    assert list(ServiceablePincode.objects.filter(courier=courier).values_list("pincode", flat=True)) == ["110001"]


def test_another_merchants_courier_pages_are_404(staff_client, other_merchant):
    courier = make_courier(other_merchant)

    assert staff_client.get(f"{ADMIN}/courier/{courier.pk}/serviceability/").status_code == 404


def test_rate_calculator_shows_ranked_quotes_and_blocked_reasons(staff_client, merchant):
    make_courier(merchant)
    air = make_courier(merchant, code="bluedart-air", name="Blue Dart Air", mode="air",
                 rate_cards=[{**METRO_CARD, "first_slab_price": "60.00", "estimated_days": 2}])  # fmt: skip
    make_courier(merchant, code="ecom", name="Ecom Express", rate_cards=[{**METRO_CARD, "zone": "special"}])
    changelist = staff_client.get(f"{ADMIN}/courier/")
    assert f'href="{ADMIN}/courier/rate-calculator/"' in changelist.content.decode()

    response = staff_client.get(f"{ADMIN}/courier/rate-calculator/", {
        "pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": "1200", "length_cm": "20",
        "breadth_cm": "15", "height_cm": "10", "declared_value": "", "sort": "cheapest",
    })  # fmt: skip

    assert response.status_code == 200
    result = response.context["result"]
    # Air: 60 + 2 x 35 = 130.00, fuel 13.00, GST 25.74: 168.74.
    assert [(q.name, str(q.total_charge)) for q in result.couriers] == [
        ("Delhivery Surface", "142.78"), ("Blue Dart Air", "168.74")]  # fmt: skip
    assert result.recommended_courier_id == air.pk  # twice as fast for 18% more
    assert response.context["blocked"][0]["name"] == "Ecom Express"
    html = response.content.decode()
    assert "142.78" in html and "21.78" in html and "no rate card for the metro to metro zone" in html


@pytest.mark.parametrize(
    ("params", "field"),
    [({"pickup_postcode": "999999"}, "pickup_postcode"), ({"delivery_postcode": "0123"}, "delivery_postcode"),
     ({"weight_grams": "0"}, "weight_grams"), ({"length_cm": "900"}, "length_cm")],
)  # fmt: skip
def test_rate_calculator_bad_input_is_a_form_error(staff_client, merchant, params, field):
    make_courier(merchant)
    query = {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": "500", "sort": "recommended",
             **params}  # fmt: skip

    response = staff_client.get(f"{ADMIN}/courier/rate-calculator/", query)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert response.context["result"] is None


def test_courier_changelist_is_scoped_and_its_query_count_is_bounded(staff_client, merchant, other_merchant,
                                                                     django_assert_max_num_queries):  # fmt: skip
    make_courier(other_merchant, code="theirs", name="Theirs")
    for index in range(2):
        make_courier(merchant, code=f"c{index}", name=f"Courier {index}")
    with django_assert_max_num_queries(20) as small:
        staff_client.get(f"{ADMIN}/courier/")
    for index in range(2, 8):
        make_courier(merchant, code=f"c{index}", name=f"Courier {index}")

    with django_assert_max_num_queries(len(small.captured_queries)):
        response = staff_client.get(f"{ADMIN}/courier/")

    assert sorted(c.name for c in response.context["cl"].result_list) == [f"Courier {i}" for i in range(8)]
    assert response.context["cl"].result_list[0].serviceable_count == 2


def test_pincode_changelist_is_scoped_searchable_and_bounded(staff_client, merchant, other_merchant,
                                                             django_assert_max_num_queries):  # fmt: skip
    make_courier(other_merchant, code="theirs", name="Theirs")
    make_courier(merchant, pincodes=("560001", "400050", "110001"))
    make_courier(merchant, code="b", name="B", pincodes=("560001",))

    with django_assert_max_num_queries(15):
        response = staff_client.get(f"{ADMIN}/serviceablepincode/", {"q": "560001"})

    assert sorted(p.courier.name for p in response.context["cl"].result_list) == ["B", "Delhivery Surface"]


def test_block_a_pincode(staff_client, merchant):
    response = staff_client.post(f"{ADMIN}/blockedpincode/add/",
                                 {"merchant": str(merchant.pk), "pincode": "400050", "reason": "fraud"})  # fmt: skip

    assert response.status_code == 302
    assert BlockedPincode.objects.get(merchant=merchant).reason == "fraud"

    response = staff_client.post(f"{ADMIN}/blockedpincode/add/",
                                 {"merchant": str(merchant.pk), "pincode": "04005", "reason": ""})  # fmt: skip
    assert response.status_code == 200
    assert BlockedPincode.objects.count() == 1


def test_unblock_a_pincode(staff_client, merchant):
    blocked = BlockedPincode.objects.create(merchant=merchant, pincode="400050", reason="fraud")

    response = staff_client.post(f"{ADMIN}/blockedpincode/{blocked.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not BlockedPincode.objects.filter(merchant=merchant).exists()


def test_add_a_zone_rule_for_another_country(staff_client, merchant):
    response = staff_client.post(f"{ADMIN}/postcodezone/add/", {"merchant": str(merchant.pk), "country": "GB",
                                                                  "origin_prefix": "sw", "destination_prefix": "",
                                                                  "zone": "within_state"})  # fmt: skip
    refused = staff_client.post(f"{ADMIN}/postcodezone/add/", {"merchant": str(merchant.pk), "country": "IN",
                                                                 "origin_prefix": "", "destination_prefix": "",
                                                                 "zone": "metro"})  # fmt: skip

    assert response.status_code == 302
    assert list(PostcodeZone.objects.values_list("country", "origin_prefix", "destination_prefix", "zone")) == [
        ("GB", "SW", "", "within_state")]  # fmt: skip
    assert refused.status_code == 200
    assert PostcodeZone.objects.count() == 1
