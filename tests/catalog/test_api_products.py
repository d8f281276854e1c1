"""The products and categories API: CRUD, filters, keyset orderings, images, bulk upsert and bad input."""

import io
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.dateparse import parse_datetime
from PIL import Image

from catalog.models import Category, Product, ProductImage
from tests.api import invalid, listed_ids, walk
from tests.catalog.factories import CategoryFactory, LocationFactory, ProductFactory, stock

PRODUCTS = "/api/v1/products/"
CATEGORIES = "/api/v1/categories/"


def png_bytes(size=(2, 2)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def product_output(product: Product, images=()) -> dict:
    """The API body of ``product`` as stored, timestamps left out (compared separately)."""
    product.refresh_from_db()
    return {
        "id": product.pk,
        "sku": product.sku,
        "title": product.title,
        "description": product.description,
        "brand": product.brand,
        "category": product.category_id,
        "specs": product.specs,
        "hsn_code": product.hsn_code,
        "tax_rate": f"{product.tax_rate:.2f}",
        "uqc": product.uqc,
        "mrp": None if product.mrp is None else f"{product.mrp:.2f}",
        "price": f"{product.price:.2f}",
        "currency": product.currency,
        "weight_grams": product.weight_grams,
        "length_cm": f"{product.length_cm:.1f}",
        "breadth_cm": f"{product.breadth_cm:.1f}",
        "height_cm": f"{product.height_cm:.1f}",
        "barcode": product.barcode,
        "images": list(images),
        "status": product.status,
    }


def without_timestamps(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in ("created_at", "updated_at")}


def product_snapshot(merchant) -> list[tuple]:
    return list(Product.objects.filter(merchant=merchant).order_by("pk").values_list())


# --- create, retrieve, update, archive ------------------------------------------------------------


def test_create_answers_201_with_the_full_product(api, merchant):
    # given a category of the merchant
    shirts = CategoryFactory(merchant=merchant, name="Shirts", slug="shirts")
    body = {
        "sku": "TS-RED-M",
        "title": "Red tee, medium",
        "description": "Soft cotton.",
        "brand": "Acme",
        "category": shirts.pk,
        "specs": {"colour": "red", "size": "M"},
        "hsn_code": "6109",
        "tax_rate": "12.00",
        "uqc": "PCS",
        "mrp": "799.00",
        "price": "649.50",
        "weight_grams": 180,
        "length_cm": "30.0",
        "breadth_cm": "25.5",
        "height_cm": "2.0",
        "barcode": "5901234123457",
    }

    # when
    response = api.post(PRODUCTS, body, format="json")

    # then
    assert response.status_code == 201
    product = Product.objects.get(merchant=merchant, sku="TS-RED-M")
    assert response.json() == {
        "id": product.pk,
        "sku": "TS-RED-M",
        "title": "Red tee, medium",
        "description": "Soft cotton.",
        "brand": "Acme",
        "category": shirts.pk,
        "specs": {"colour": "red", "size": "M"},
        "hsn_code": "6109",
        "tax_rate": "12.00",
        "uqc": "PCS",
        "mrp": "799.00",
        "price": "649.50",
        "currency": "INR",
        "weight_grams": 180,
        "length_cm": "30.0",
        "breadth_cm": "25.5",
        "height_cm": "2.0",
        "barcode": "5901234123457",
        "images": [],
        "status": "active",
        "created_at": response.json()["created_at"],
        "updated_at": response.json()["updated_at"],
    }
    assert parse_datetime(response.json()["created_at"]) == product.created_at
    assert parse_datetime(response.json()["updated_at"]) == product.updated_at
    assert response.json()["created_at"].endswith("+05:30")
    assert (product.price, product.mrp, product.currency) == (Decimal("649.50"), Decimal("799.00"), "INR")


def test_create_with_only_the_required_fields_takes_the_defaults(api, merchant):
    # when
    response = api.post(PRODUCTS, {"sku": "MIN-1", "title": "Minimal", "price": "10"}, format="json")

    # then
    assert response.status_code == 201
    product = Product.objects.get(merchant=merchant, sku="MIN-1")
    assert without_timestamps(response.json()) == {
        "id": product.pk,
        "sku": "MIN-1",
        "title": "Minimal",
        "description": "",
        "brand": "",
        "category": None,
        "specs": {},
        "hsn_code": "",
        "tax_rate": "0.00",
        "uqc": "NOS",
        "mrp": None,
        "price": "10.00",
        "currency": "INR",
        "weight_grams": 0,
        "length_cm": "0.0",
        "breadth_cm": "0.0",
        "height_cm": "0.0",
        "barcode": "",
        "images": [],
        "status": "active",
    }


def test_currency_defaults_to_the_merchants_currency(api, merchant):
    # given a merchant that sells in euros
    merchant.default_currency = "EUR"
    merchant.save()

    # when
    response = api.post(PRODUCTS, {"sku": "EU-1", "title": "Euro thing", "price": "5.00"}, format="json")

    # then
    assert response.status_code == 201
    assert response.json()["currency"] == "EUR"
    assert Product.objects.get(sku="EU-1").currency == "EUR"


def test_required_fields_missing_answer_400(api, merchant):
    # when
    response = api.post(PRODUCTS, {}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid(
        {
            "sku": ["This field is required."],
            "title": ["This field is required."],
            "price": ["This field is required."],
        }
    )
    assert Product.objects.count() == 0


def test_output_only_fields_sent_back_are_ignored(api, merchant):
    # given a body round-tripped from a GET: an id, timestamps and images
    body = {
        "sku": "IGN-1",
        "title": "Ignored extras",
        "price": "10.00",
        "id": 987654,
        "created_at": "2001-01-01T00:00:00Z",
        "updated_at": "2001-01-01T00:00:00Z",
        "images": [{"url": "https://cdn.example.com/x.png"}],
    }

    # when
    response = api.post(PRODUCTS, body, format="json")

    # then the product is created for the caller's merchant, the extras dropped
    assert response.status_code == 201
    product = Product.objects.get(sku="IGN-1")
    assert product.merchant_id == merchant.pk
    assert product.pk != 987654
    assert product.created_at.year != 2001
    assert response.json()["images"] == []
    assert ProductImage.objects.count() == 0


def test_unknown_fields_are_refused(api, other_merchant):
    body = {"sku": "IGN-1", "title": "Extras", "price": "10.00", "merchant": other_merchant.pk, "colour": "red"}

    response = api.post(PRODUCTS, body, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "The request has invalid fields; see details.",
        "details": {"colour": ["Unknown field."], "merchant": ["Unknown field."]},
    }
    assert Product.objects.count() == 0


def test_retrieve_answers_the_product_with_its_images_in_position_order(api, merchant):
    # given a product with two images added out of position order
    product = ProductFactory(merchant=merchant, sku="RET-1", specs={"fit": "slim"})
    second = ProductImage.objects.create(
        merchant=merchant, product=product, url="https://cdn.example.com/b.jpg", position=2, alt="Back"
    )
    first = ProductImage.objects.create(
        merchant=merchant, product=product, url="https://cdn.example.com/a.jpg", position=1, alt="Front"
    )

    # when
    response = api.get(f"{PRODUCTS}{product.pk}/")

    # then
    assert response.status_code == 200
    assert without_timestamps(response.json()) == product_output(
        product,
        images=[
            {"id": first.pk, "url": "https://cdn.example.com/a.jpg", "position": 1, "alt": "Front"},
            {"id": second.pk, "url": "https://cdn.example.com/b.jpg", "position": 2, "alt": "Back"},
        ],
    )
    assert parse_datetime(response.json()["updated_at"]) == product.updated_at


def test_another_merchants_product_is_404_and_unchanged(api, other_merchant):
    # given another merchant's product
    product = ProductFactory(merchant=other_merchant, title="Theirs")

    # when
    reads = api.get(f"{PRODUCTS}{product.pk}/")
    writes = api.patch(f"{PRODUCTS}{product.pk}/", {"title": "Mine now"}, format="json")
    deletes = api.delete(f"{PRODUCTS}{product.pk}/")

    # then
    not_found = {"code": "not_found", "message": "Not found.", "details": {}}
    assert [(r.status_code, r.json()) for r in (reads, writes, deletes)] == [(404, not_found)] * 3
    product.refresh_from_db()
    assert (product.title, product.status) == ("Theirs", "active")


def test_patch_changes_only_the_given_fields(api, merchant):
    # given
    product = ProductFactory(merchant=merchant, sku="PAT-1", title="Old", brand="Acme", price=Decimal("100.00"))
    before = product_output(product)
    old_updated_at = product.updated_at

    # when
    response = api.patch(f"{PRODUCTS}{product.pk}/", {"title": "New", "price": "120.00"}, format="json")

    # then
    assert response.status_code == 200
    assert without_timestamps(response.json()) == {**before, "title": "New", "price": "120.00"}
    assert product_output(product) == {**before, "title": "New", "price": "120.00"}
    assert product.updated_at > old_updated_at


def test_patch_price_above_the_stored_mrp_answers_400(api, merchant):
    # given a product with an MRP of 599
    product = ProductFactory(merchant=merchant, price=Decimal("499.00"), mrp=Decimal("599.00"))
    before = product_snapshot(merchant)

    # when only the price is sent
    response = api.patch(f"{PRODUCTS}{product.pk}/", {"price": "600.00"}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"price": ["Must not exceed the MRP."]})
    assert product_snapshot(merchant) == before


def test_put_replaces_the_sent_fields(api, merchant):
    # given
    product = ProductFactory(merchant=merchant, sku="PUT-1", title="Old", brand="Acme", description="Old text")
    body = {
        "sku": "PUT-1",
        "title": "Replaced",
        "price": "250.00",
        "mrp": "300.00",
        "description": "New text",
        "specs": {"material": "steel"},
    }

    # when
    response = api.put(f"{PRODUCTS}{product.pk}/", body, format="json")

    # then the sent fields change; fields left out keep their values (DRF's update semantics)
    assert response.status_code == 200
    expected = {
        **product_output(product),
        "title": "Replaced",
        "price": "250.00",
        "mrp": "300.00",
        "description": "New text",
        "specs": {"material": "steel"},
        "brand": "Acme",
    }
    assert without_timestamps(response.json()) == expected
    assert product_output(product) == expected


def test_put_without_the_required_fields_answers_400(api, merchant):
    # given
    product = ProductFactory(merchant=merchant)
    before = product_snapshot(merchant)

    # when
    response = api.put(f"{PRODUCTS}{product.pk}/", {"title": "Only a title"}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"sku": ["This field is required."], "price": ["This field is required."]})
    assert product_snapshot(merchant) == before


def test_delete_archives_and_the_product_stays_retrievable(api, merchant):
    # given
    product = ProductFactory(merchant=merchant, sku="DEL-1")

    # when
    response = api.delete(f"{PRODUCTS}{product.pk}/")

    # then
    assert response.status_code == 204
    assert response.content == b""
    product.refresh_from_db()
    assert product.status == "archived"
    retrieved = api.get(f"{PRODUCTS}{product.pk}/")
    assert retrieved.status_code == 200
    assert retrieved.json()["status"] == "archived"
    assert listed_ids(api, PRODUCTS, {"status": "archived"}) == [product.pk]
    assert listed_ids(api, PRODUCTS, {"status": "active"}) == []


def test_delete_twice_keeps_the_product_archived(api, merchant):
    # given an archived product
    product = ProductFactory(merchant=merchant, status="archived")

    # when
    response = api.delete(f"{PRODUCTS}{product.pk}/")

    # then
    assert response.status_code == 204
    assert Product.objects.get(pk=product.pk).status == "archived"


# --- bad input ------------------------------------------------------------------------------------

VALID = {"sku": "NEW-1", "title": "New product", "price": "100.00", "mrp": "150.00"}


@pytest.mark.parametrize(
    ("changes", "details"),
    [
        ({"price": "200.00"}, {"price": ["Must not exceed the MRP."]}),
        ({"price": "-1.00"}, {"price": ["Ensure this value is greater than or equal to 0."]}),
        ({"price": "abc"}, {"price": ["A valid number is required."]}),
        ({"mrp": "-5.00"}, {"mrp": ["Ensure this value is greater than or equal to 0."]}),
        ({"specs": ["red", "large"]}, {"specs": ['Expected a dictionary of items but got type "list".']}),
        ({"specs": "colour=red"}, {"specs": ['Expected a dictionary of items but got type "str".']}),
        (
            {"barcode": "5901234123458"},
            {"barcode": ["Wrong check digit: a barcode starting 590123412345 ends in 7."]},
        ),
        ({"barcode": "12345"}, {"barcode": ["Enter an 8, 12, 13 or 14 digit GTIN/EAN/UPC barcode."]}),
        ({"weight_grams": "heavy"}, {"weight_grams": ["A valid integer is required."]}),
        ({"weight_grams": -1}, {"weight_grams": ["Ensure this value is greater than or equal to 0."]}),
        ({"hsn_code": "ABCD"}, {"hsn_code": ["This value does not match the required pattern."]}),
        ({"tax_rate": "101"}, {"tax_rate": ["Ensure this value is less than or equal to 100."]}),
        ({"currency": "rupees"}, {"currency": ["This value does not match the required pattern."]}),
        ({"status": "deleted"}, {"status": ['"deleted" is not a valid choice.']}),
        ({"uqc": "pieces"}, {"uqc": ['"pieces" is not a valid choice.']}),
        ({"length_cm": "-2"}, {"length_cm": ["Ensure this value is greater than or equal to 0."]}),
    ],
    ids=[
        "price-above-mrp",
        "negative-price",
        "price-not-a-number",
        "negative-mrp",
        "specs-list",
        "specs-string",
        "barcode-check-digit",
        "barcode-length",
        "weight-not-a-number",
        "negative-weight",
        "hsn-letters",
        "tax-rate-above-100",
        "currency-not-iso",
        "unknown-status",
        "unknown-uqc",
        "negative-length",
    ],
)
def test_bad_field_answers_400_on_that_field_and_writes_nothing(api, merchant, changes, details):
    # when
    response = api.post(PRODUCTS, {**VALID, **changes}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid(details)
    assert Product.objects.count() == 0


def test_a_valid_ean13_is_accepted(api, merchant):
    # when
    response = api.post(PRODUCTS, {**VALID, "barcode": "5901234123457"}, format="json")

    # then
    assert response.status_code == 201
    assert Product.objects.get(sku="NEW-1").barcode == "5901234123457"


def test_category_of_another_merchant_answers_400(api, merchant, other_merchant):
    # given another merchant's category
    theirs = CategoryFactory(merchant=other_merchant)

    # when
    response = api.post(PRODUCTS, {**VALID, "category": theirs.pk}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"category": [f'Invalid pk "{theirs.pk}" - object does not exist.']})
    assert Product.objects.count() == 0


def test_duplicate_sku_answers_409_naming_the_existing_product(api, merchant):
    # given
    existing = ProductFactory(merchant=merchant, sku="DUP-1")
    before = product_snapshot(merchant)

    # when
    response = api.post(PRODUCTS, {**VALID, "sku": "DUP-1"}, format="json")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "duplicate_sku",
        "message": f"A product with SKU 'DUP-1' already exists (id {existing.pk}).",
        "details": {"sku": "DUP-1", "existing_id": existing.pk},
    }
    assert product_snapshot(merchant) == before


def test_renaming_to_a_taken_sku_answers_409(api, merchant):
    # given
    existing = ProductFactory(merchant=merchant, sku="TAKEN")
    product = ProductFactory(merchant=merchant, sku="FREE")
    before = product_snapshot(merchant)

    # when
    response = api.patch(f"{PRODUCTS}{product.pk}/", {"sku": "TAKEN"}, format="json")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "duplicate_sku",
        "message": f"A product with SKU 'TAKEN' already exists (id {existing.pk}).",
        "details": {"sku": "TAKEN", "existing_id": existing.pk},
    }
    assert product_snapshot(merchant) == before


def test_the_same_sku_at_another_merchant_is_allowed(api, merchant, other_merchant):
    # given another merchant uses the SKU
    ProductFactory(merchant=other_merchant, sku="SHARED-1")

    # when
    response = api.post(PRODUCTS, {**VALID, "sku": "SHARED-1"}, format="json")

    # then
    assert response.status_code == 201
    assert Product.objects.filter(sku="SHARED-1").count() == 2


def test_malformed_json_answers_400_parse_error(api, merchant):
    # when
    response = api.post(PRODUCTS, '{"sku": "X",', content_type="application/json")

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert Product.objects.count() == 0


# --- filters --------------------------------------------------------------------------------------


@pytest.fixture
def assortment(merchant, other_merchant):
    """Four products of the merchant and a decoy of another merchant matching every filter."""
    shirts = CategoryFactory(merchant=merchant, name="Shirts", slug="shirts")
    mugs = CategoryFactory(merchant=merchant, name="Mugs", slug="mugs")
    products = {
        "red": ProductFactory(
            merchant=merchant,
            sku="TS-RED-S",
            title="Red tee",
            brand="Acme",
            category=shirts,
            price=Decimal("100.00"),
            mrp=None,
            barcode="5901234123457",
        ),
        "blue": ProductFactory(
            merchant=merchant,
            sku="TS-BLU-M",
            title="Blue tee",
            brand="Zenith",
            category=shirts,
            price=Decimal("250.00"),
            mrp=None,
        ),
        "mug": ProductFactory(
            merchant=merchant,
            sku="MUG-01",
            title="Coffee mug",
            brand="Acme",
            category=mugs,
            price=Decimal("499.00"),
            mrp=None,
            status="archived",
        ),
        "cap": ProductFactory(
            merchant=merchant,
            sku="CAP-01",
            title="Sun cap",
            brand="Nimbus",
            category=None,
            price=Decimal("999.50"),
            mrp=None,
        ),
    }
    ProductFactory(
        merchant=other_merchant,
        sku="TS-RED-S",
        title="Red tee",
        brand="Acme",
        price=Decimal("100.00"),
        barcode="5901234123457",
    )
    return {**products, "shirts": shirts, "mugs": mugs}


def pks(assortment, *names) -> list[int]:
    return [assortment[name].pk for name in names]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["cap", "mug", "blue", "red"]),
        ({"sku": "TS-RED-S"}, ["red"]),
        ({"sku": "TS-RED-S,CAP-01"}, ["cap", "red"]),
        ({"sku": "TS-RED"}, []),
        ({"q": "tee"}, ["blue", "red"]),
        ({"q": "ACME"}, ["mug", "red"]),
        ({"q": "blu"}, ["blue"]),
        ({"q": "-01"}, ["cap", "mug"]),
        ({"q": "nimbus"}, ["cap"]),
        ({"q": "5901234123457"}, ["red"]),
        ({"q": "590123412345"}, []),
        ({"status": "archived"}, ["mug"]),
        ({"status": "active"}, ["cap", "blue", "red"]),
        ({"price_min": "250"}, ["cap", "mug", "blue"]),
        ({"price_max": "250"}, ["blue", "red"]),
        ({"price_min": "200", "price_max": "500"}, ["mug", "blue"]),
        ({"price_min": "999.50"}, ["cap"]),
        ({"q": "tee", "price_min": "200"}, ["blue"]),
    ],
)
def test_product_filters(api, assortment, params, expected):
    assert listed_ids(api, PRODUCTS, params) == pks(assortment, *expected)


def test_category_filter(api, assortment):
    assert listed_ids(api, PRODUCTS, {"category": assortment["shirts"].pk}) == pks(assortment, "blue", "red")
    assert listed_ids(api, PRODUCTS, {"category": assortment["mugs"].pk}) == pks(assortment, "mug")


def test_in_stock_filter_counts_available_not_on_hand(api, merchant, assortment):
    # given red in stock, blue with all its stock reserved, mug out of stock at one location but not the other,
    # and cap with no stock record at all
    north, south = LocationFactory(merchant=merchant), LocationFactory(merchant=merchant)
    stock(assortment["red"], north, 5)
    stock(assortment["blue"], north, 3, reserved=3)
    stock(assortment["mug"], north, 0)
    stock(assortment["mug"], south, 2)

    # then
    assert listed_ids(api, PRODUCTS, {"in_stock": "true"}) == pks(assortment, "mug", "red")
    assert listed_ids(api, PRODUCTS, {"in_stock": "false"}) == pks(assortment, "cap", "blue")


def test_updated_since_reads_a_day_in_the_merchants_time_zone_or_a_timestamp_as_given(api, merchant):
    # given three products updated around midnight 10 March in Asia/Kolkata (18:30 UTC on the 9th)
    late_9th = ProductFactory(merchant=merchant)  # 23:30 on the 9th in Kolkata, 18:00 UTC
    midnight = ProductFactory(merchant=merchant)  # 00:00 on the 10th in Kolkata, 18:30 UTC on the 9th
    noon_10th = ProductFactory(merchant=merchant)
    for product, moment in [
        (late_9th, datetime(2026, 3, 9, 18, 0, tzinfo=UTC)),
        (midnight, datetime(2026, 3, 9, 18, 30, tzinfo=UTC)),
        (noon_10th, datetime(2026, 3, 10, 6, 30, tzinfo=UTC)),
    ]:
        Product.objects.filter(pk=product.pk).update(updated_at=moment)

    # then a calendar day starts at midnight in Kolkata, a timestamp is taken as given
    assert listed_ids(api, PRODUCTS, {"updated_since": "2026-03-10"}) == [noon_10th.pk, midnight.pk]
    assert listed_ids(api, PRODUCTS, {"updated_since": "2026-03-09"}) == [noon_10th.pk, midnight.pk, late_9th.pk]
    assert listed_ids(api, PRODUCTS, {"updated_since": "2026-03-10T00:00:00Z"}) == [noon_10th.pk]
    assert listed_ids(api, PRODUCTS, {"updated_since": "2026-03-09T23:45:00+05:30"}) == [noon_10th.pk, midnight.pk]
    assert listed_ids(api, PRODUCTS, {"updated_since": "2026-03-10T00:00:00+05:30"}) == [noon_10th.pk, midnight.pk]
    assert listed_ids(api, PRODUCTS, {"updated_since": "2026-03-11"}) == []


@pytest.mark.parametrize(
    ("params", "details"),
    [
        (
            {"updated_since": "yesterday"},
            {"updated_since": ["Use YYYY-MM-DD or an ISO 8601 timestamp such as 2026-11-28T09:30:00+05:30."]},
        ),
        (
            {"updated_since": "2026-03-10T00:00:00"},
            {"updated_since": ["A timestamp needs a UTC offset, e.g. +05:30 or Z."]},
        ),
        ({"price_min": "cheap"}, {"price_min": ["Enter a number."]}),
        ({"status": "deleted"}, {"status": ["Select a valid choice. deleted is not one of the available choices."]}),
        ({"category": "shirts"}, {"category": ["Enter a number."]}),
    ],
)
def test_bad_filter_value_answers_400(api, assortment, params, details):
    # when
    response = api.get(PRODUCTS, params)

    # then
    assert response.status_code == 400
    assert response.json() == invalid(details)


@pytest.mark.parametrize("value", ["maybe", "yes"])
def test_in_stock_that_is_not_a_boolean_answers_400(api, assortment, value):
    # when
    response = api.get(PRODUCTS, {"in_stock": value})

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"in_stock": ["Use true or false."]})


# --- orderings and keyset pages -------------------------------------------------------------------

# label: (sku, title, price, created minute, updated minute), with ties on title, price and both timestamps
ORDERED = {
    "a": ("P-04", "delta", "300.00", 0, 5),
    "b": ("P-01", "alpha", "100.00", 1, 5),
    "c": ("P-07", "golf", "300.00", 1, 1),
    "d": ("P-02", "charlie", "50.00", 2, 9),
    "e": ("P-06", "bravo", "999.99", 3, 2),
    "f": ("P-03", "echo", "300.00", 3, 0),
    "g": ("P-05", "alpha", "100.00", 4, 7),
}


@pytest.fixture
def ordered(merchant, other_merchant):
    base = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    products = {}
    for label, (sku, title, price, created, updated) in ORDERED.items():
        product = ProductFactory(merchant=merchant, sku=sku, title=title, price=Decimal(price), mrp=None)
        Product.objects.filter(pk=product.pk).update(
            created_at=base + timedelta(minutes=created), updated_at=base + timedelta(minutes=updated)
        )
        products[label] = product
    ProductFactory(merchant=other_merchant, sku="P-00", title="aaa", price=Decimal("1.00"), mrp=None)
    return products


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("sku", "bdfagec"),
        ("-sku", "cegafdb"),
        ("title", "bgedafc"),
        ("-title", "cfadegb"),
        ("price", "dbgacfe"),
        ("-price", "efcagbd"),
        ("created_at", "abcdefg"),
        ("-created_at", "gfedcba"),
        ("updated_at", "fceabgd"),
        ("-updated_at", "dgbaecf"),
    ],
)
def test_ordering_is_kept_across_keyset_pages(api, ordered, ordering, expected):
    # when walking pages of three
    ids, sizes = walk(api, PRODUCTS, {"ordering": ordering, "page_size": 3})

    # then every product comes once, in order, ties broken by id in the ordering's direction
    assert ids == [ordered[label].pk for label in expected]
    assert sizes == [3, 3, 1]


def test_default_ordering_is_newest_first(api, ordered):
    ids, sizes = walk(api, PRODUCTS, {"page_size": 3})

    assert ids == [ordered[label].pk for label in "gfedcba"]
    assert sizes == [3, 3, 1]


def test_ordering_and_filter_combine_across_pages(api, ordered):
    # when the 300.00 products are walked by -title, one per page
    ids, sizes = walk(api, PRODUCTS, {"ordering": "-title", "price_min": "300", "price_max": "300", "page_size": 1})

    # then
    assert ids == [ordered[label].pk for label in "cfa"]
    assert sizes == [1, 1, 1]


def test_previous_link_walks_back_in_the_same_order(api, ordered):
    # given the last page of the price ordering
    url, body = f"{PRODUCTS}?ordering=-price&page_size=3", None
    while url:
        body = api.get(url).json()
        url = body["next"]

    # when following previous links
    ids = [row["id"] for row in body["results"]]
    url = body["previous"]
    while url:
        page = api.get(url).json()
        ids = [row["id"] for row in page["results"]] + ids
        url = page["previous"]

    # then
    assert ids == [ordered[label].pk for label in "efcagbd"]


def test_list_query_count_does_not_grow_with_rows_or_images(
    api, merchant, django_assert_max_num_queries, django_assert_num_queries
):
    def products_with_images(count):
        products = ProductFactory.create_batch(count, merchant=merchant)
        ProductImage.objects.bulk_create(
            ProductImage(merchant=merchant, product=p, url=f"https://cdn.example.com/{p.pk}-{n}.jpg", position=n)
            for p in products
            for n in (1, 2)
        )

    # given 3 products with 2 images each: token, merchant, the page, its images
    products_with_images(3)
    with django_assert_max_num_queries(4) as small:
        response = api.get(PRODUCTS, {"page_size": 50})
    assert [len(row["images"]) for row in response.json()["results"]] == [2, 2, 2]
    expected = len(small.captured_queries)

    # when there are 120 such products, listed 50 a page
    products_with_images(117)
    with django_assert_num_queries(expected):
        first = api.get(PRODUCTS, {"page_size": 50})
    with django_assert_num_queries(expected):
        second = api.get(first.json()["next"])

    # then the pages are full, each product with its two images
    assert [len(row["images"]) for row in first.json()["results"]] == [2] * 50
    assert [len(row["images"]) for row in second.json()["results"]] == [2] * 50


# --- images ---------------------------------------------------------------------------------------


def images_url(product) -> str:
    return f"{PRODUCTS}{product.pk}/images/"


def test_add_image_by_url_answers_201_and_appends_it(api, merchant):
    # given a product with one image
    product = ProductFactory(merchant=merchant)
    ProductImage.objects.create(merchant=merchant, product=product, url="https://cdn.example.com/1.jpg", position=1)

    # when
    response = api.post(
        images_url(product), {"url": "https://cdn.example.com/2.jpg", "alt": "Side view"}, format="json"
    )

    # then
    assert response.status_code == 201
    image = ProductImage.objects.get(product=product, position=2)
    assert response.json() == {
        "id": image.pk,
        "url": "https://cdn.example.com/2.jpg",
        "position": 2,
        "alt": "Side view",
    }
    assert image.merchant_id == merchant.pk
    assert [row["position"] for row in api.get(f"{PRODUCTS}{product.pk}/").json()["images"]] == [1, 2]


def test_add_image_at_a_given_position(api, merchant):
    # given
    product = ProductFactory(merchant=merchant)

    # when
    response = api.post(images_url(product), {"url": "https://cdn.example.com/1.jpg", "position": 7}, format="json")

    # then
    assert response.status_code == 201
    assert response.json()["position"] == 7


def test_upload_a_png_answers_201_with_a_png_url(api, merchant):
    # given
    product = ProductFactory(merchant=merchant)
    upload = SimpleUploadedFile("front.png", png_bytes(), content_type="image/png")

    # when
    response = api.post(images_url(product), {"image": upload, "alt": "Front"}, format="multipart")

    # then
    assert response.status_code == 201
    image = ProductImage.objects.get(product=product)
    assert response.json() == {
        "id": image.pk,
        "url": f"http://testserver/media/{image.image.name}",
        "position": 1,
        "alt": "Front",
    }
    assert response.json()["url"].endswith(".png")
    assert image.url == ""
    assert default_storage.exists(image.image.name)
    with default_storage.open(image.image.name) as stored:
        assert stored.read() == png_bytes()


def test_upload_of_a_text_file_as_image_answers_400(api, merchant):
    # given a text file that claims to be a PNG
    product = ProductFactory(merchant=merchant)
    upload = SimpleUploadedFile("notes.png", b"this is not an image\n", content_type="image/png")

    # when
    response = api.post(images_url(product), {"image": upload}, format="multipart")

    # then
    assert response.status_code == 400
    assert response.json() == invalid(
        {
            "image": [
                "Upload a valid image. The file you uploaded was either not an image or a corrupted image.",
            ]
        }
    )
    assert ProductImage.objects.count() == 0


def test_upload_of_an_image_over_5_mb_answers_400(api, merchant, settings):
    # given a real PNG of noise (incompressible) just over 5 MB
    product = ProductFactory(merchant=merchant)
    width = 1400
    height = ProductImage.MAX_BYTES // (width * 3) + 2
    noise = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG", compress_level=0)
    assert buffer.tell() > ProductImage.MAX_BYTES
    upload = SimpleUploadedFile("huge.png", buffer.getvalue(), content_type="image/png")

    # when
    response = api.post(images_url(product), {"image": upload}, format="multipart")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"image": ["The image is larger than 5 MB."]})
    assert ProductImage.objects.count() == 0
    assert not default_storage.exists("products")


def test_upload_over_a_lowered_limit_answers_400(api, merchant, monkeypatch):
    # given a 1 MiB limit and a PNG of about 2 MiB
    monkeypatch.setattr(ProductImage, "MAX_BYTES", 1024 * 1024)
    product = ProductFactory(merchant=merchant)
    noise = Image.frombytes("RGB", (1024, 700), os.urandom(1024 * 700 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG", compress_level=0)
    upload = SimpleUploadedFile("big.png", buffer.getvalue(), content_type="image/png")

    # when
    response = api.post(images_url(product), {"image": upload}, format="multipart")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"image": ["The image is larger than 1 MB."]})
    assert ProductImage.objects.count() == 0


def test_both_url_and_image_answers_400(api, merchant):
    # given
    product = ProductFactory(merchant=merchant)
    upload = SimpleUploadedFile("front.png", png_bytes(), content_type="image/png")

    # when
    response = api.post(
        images_url(product), {"image": upload, "url": "https://cdn.example.com/1.jpg"}, format="multipart"
    )

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"image": ["Give either an uploaded image or a url, not both."]})
    assert ProductImage.objects.count() == 0


def test_neither_url_nor_image_answers_400(api, merchant):
    # given
    product = ProductFactory(merchant=merchant)

    # when
    response = api.post(images_url(product), {"alt": "Nothing"}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"image": ["Give either an uploaded image or a url, not both."]})
    assert ProductImage.objects.count() == 0


def test_bad_url_answers_400(api, merchant):
    # given
    product = ProductFactory(merchant=merchant)

    # when
    response = api.post(images_url(product), {"url": "not a url"}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"url": ["Enter a valid URL."]})
    assert ProductImage.objects.count() == 0


def test_delete_image_answers_204_and_removes_the_file(api, merchant):
    # given a product with an uploaded image and a url image
    product = ProductFactory(merchant=merchant)
    upload = SimpleUploadedFile("front.png", png_bytes(), content_type="image/png")
    uploaded = api.post(images_url(product), {"image": upload}, format="multipart").json()
    kept = ProductImage.objects.create(merchant=merchant, product=product, url="https://cdn.example.com/k.jpg")
    stored_name = ProductImage.objects.get(pk=uploaded["id"]).image.name

    # when
    response = api.delete(f"{images_url(product)}{uploaded['id']}/")

    # then
    assert response.status_code == 204
    assert list(ProductImage.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not default_storage.exists(stored_name)
    assert [row["id"] for row in api.get(f"{PRODUCTS}{product.pk}/").json()["images"]] == [kept.pk]


def test_delete_another_products_image_answers_404(api, merchant):
    # given two products, the image belonging to the second
    product, other = ProductFactory(merchant=merchant), ProductFactory(merchant=merchant)
    image = ProductImage.objects.create(merchant=merchant, product=other, url="https://cdn.example.com/o.jpg")

    # when deleting it through the first product
    response = api.delete(f"{images_url(product)}{image.pk}/")

    # then
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "details": {}}
    assert ProductImage.objects.filter(pk=image.pk).exists()


def test_add_image_to_another_merchants_product_answers_404(api, other_merchant):
    # given
    product = ProductFactory(merchant=other_merchant)

    # when
    response = api.post(images_url(product), {"url": "https://cdn.example.com/x.jpg"}, format="json")

    # then
    assert response.status_code == 404
    assert ProductImage.objects.count() == 0


# --- bulk upsert ----------------------------------------------------------------------------------

BULK = f"{PRODUCTS}bulk/"


def test_bulk_creates_updates_and_fails_per_item_in_input_order(api, merchant):
    # given an existing product
    old = ProductFactory(
        merchant=merchant, sku="BULK-OLD", title="Old", brand="Keep", price=Decimal("100.00"), mrp=Decimal("150.00")
    )
    items = [
        {"sku": "BULK-NEW", "title": "New", "price": "10.00", "specs": {"colour": "red"}},
        {"sku": "BULK-OLD", "title": "Renamed"},
        {"sku": "BULK-BAD", "title": "Bad", "price": "abc", "barcode": "5901234123458"},
    ]

    # when
    response = api.post(BULK, {"products": items}, format="json")

    # then
    assert response.status_code == 200
    new = Product.objects.get(merchant=merchant, sku="BULK-NEW")
    assert response.json() == {
        "created": 1,
        "updated": 1,
        "failed": 1,
        "results": [
            {"index": 0, "sku": "BULK-NEW", "status": "created", "id": new.pk, "error": None},
            {"index": 1, "sku": "BULK-OLD", "status": "updated", "id": old.pk, "error": None},
            {
                "index": 2,
                "sku": "BULK-BAD",
                "status": "failed",
                "id": None,
                "error": {
                    "code": "invalid",
                    "message": "The item has invalid fields; see details.",
                    "details": {
                        "price": ["A valid number is required."],
                        "barcode": ["Wrong check digit: a barcode starting 590123412345 ends in 7."],
                    },
                },
            },
        ],
    }
    assert (new.title, new.price, new.currency, new.specs) == ("New", Decimal("10.00"), "INR", {"colour": "red"})
    old.refresh_from_db()
    assert (old.title, old.brand, old.price, old.mrp) == ("Renamed", "Keep", Decimal("100.00"), Decimal("150.00"))
    assert not Product.objects.filter(sku="BULK-BAD").exists()
    assert Product.objects.filter(merchant=merchant).count() == 2


def test_bulk_new_item_without_required_fields_fails_alone(api, merchant):
    # when a new SKU is sent without a title and price
    response = api.post(
        BULK, {"products": [{"sku": "BULK-1"}, {"sku": "BULK-2", "title": "Fine", "price": "1.00"}]}, format="json"
    )

    # then
    assert response.status_code == 200
    fine = Product.objects.get(sku="BULK-2")
    assert response.json() == {
        "created": 1,
        "updated": 0,
        "failed": 1,
        "results": [
            {
                "index": 0,
                "sku": "BULK-1",
                "status": "failed",
                "id": None,
                "error": {
                    "code": "invalid",
                    "message": "The item has invalid fields; see details.",
                    "details": {"title": ["This field is required."], "price": ["This field is required."]},
                },
            },
            {"index": 1, "sku": "BULK-2", "status": "created", "id": fine.pk, "error": None},
        ],
    }
    assert not Product.objects.filter(sku="BULK-1").exists()


def test_bulk_partial_update_below_the_stored_price_fails_on_price(api, merchant):
    # given a product priced 100
    old = ProductFactory(merchant=merchant, sku="BULK-OLD", price=Decimal("100.00"), mrp=Decimal("150.00"))

    # when the MRP alone is lowered below the price
    response = api.post(BULK, {"products": [{"sku": "BULK-OLD", "mrp": "50.00"}]}, format="json")

    # then
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "index": 0,
            "sku": "BULK-OLD",
            "status": "failed",
            "id": None,
            "error": {
                "code": "invalid",
                "message": "The item has invalid fields; see details.",
                "details": {"price": ["Must not exceed the MRP."]},
            },
        }
    ]
    old.refresh_from_db()
    assert old.mrp == Decimal("150.00")


def test_bulk_of_101_items_answers_400_and_writes_nothing(api, merchant):
    # given
    items = [{"sku": f"B-{n:03d}", "title": f"Item {n}", "price": "1.00"} for n in range(101)]

    # when
    response = api.post(BULK, {"products": items}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"products": ["Ensure this field has no more than 100 elements."]})
    assert Product.objects.count() == 0


def test_bulk_of_100_items_is_accepted(api, merchant):
    # given
    items = [{"sku": f"B-{n:03d}", "title": f"Item {n}", "price": "1.00"} for n in range(100)]

    # when
    response = api.post(BULK, {"products": items}, format="json")

    # then
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["updated"], response.json()["failed"]) == (100, 0, 0)
    assert Product.objects.filter(merchant=merchant).count() == 100


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"products": []}, {"products": ["Ensure this field has at least 1 elements."]}),
        ({}, {"products": ["This field is required."]}),
        ({"products": {"sku": "X"}}, {"products": ['Expected a list of items but got type "dict".']}),
    ],
)
def test_bulk_malformed_body_answers_400(api, merchant, body, details):
    # when
    response = api.post(BULK, body, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid(details)
    assert Product.objects.count() == 0


def test_bulk_item_that_is_not_an_object_rejects_the_whole_request(api, merchant):
    # when
    response = api.post(BULK, {"products": [{"sku": "OK-1", "title": "Fine", "price": "1.00"}, "oops"]}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"products.1": ['Expected a dictionary of items but got type "str".']})
    assert Product.objects.count() == 0


def test_bulk_does_not_touch_another_merchants_sku(api, merchant, other_merchant):
    # given another merchant's product with the SKU
    theirs = ProductFactory(merchant=other_merchant, sku="SHARED", title="Theirs")

    # when
    response = api.post(BULK, {"products": [{"sku": "SHARED", "title": "Mine", "price": "1.00"}]}, format="json")

    # then a product of the caller's merchant is created, the other left alone
    assert response.status_code == 200
    mine = Product.objects.get(merchant=merchant, sku="SHARED")
    assert response.json()["results"] == [
        {"index": 0, "sku": "SHARED", "status": "created", "id": mine.pk, "error": None}
    ]
    theirs.refresh_from_db()
    assert theirs.title == "Theirs"


# --- categories -----------------------------------------------------------------------------------


def category_output(category: Category) -> dict:
    category.refresh_from_db()
    return {"id": category.pk, "name": category.name, "slug": category.slug, "parent": category.parent_id}


def test_create_category_derives_the_slug_from_the_name(api, merchant):
    # when
    response = api.post(CATEGORIES, {"name": "Men's T-Shirts"}, format="json")

    # then
    assert response.status_code == 201
    category = Category.objects.get(merchant=merchant)
    assert without_timestamps(response.json()) == {
        "id": category.pk,
        "name": "Men's T-Shirts",
        "slug": "mens-t-shirts",
        "parent": None,
    }
    assert category.slug == "mens-t-shirts"


def test_create_category_with_a_non_latin_name_derives_a_slug(api, merchant):
    # when
    response = api.post(CATEGORIES, {"name": "खिलौने"}, format="json")

    # then
    assert response.status_code == 201
    category = Category.objects.get(merchant=merchant)
    assert category.slug != ""
    assert response.json()["slug"] == category.slug


def test_create_category_with_a_slug_and_parent(api, merchant):
    # given
    parent = CategoryFactory(merchant=merchant, name="Apparel", slug="apparel")

    # when
    response = api.post(CATEGORIES, {"name": "Shirts", "slug": "tops", "parent": parent.pk}, format="json")

    # then
    assert response.status_code == 201
    category = Category.objects.get(merchant=merchant, slug="tops")
    assert without_timestamps(response.json()) == category_output(category)
    assert category.parent_id == parent.pk


def test_duplicate_category_slug_answers_409(api, merchant):
    # given a category whose slug a new name would derive
    existing = CategoryFactory(merchant=merchant, name="Men's T-Shirts", slug="mens-t-shirts")

    # when
    response = api.post(CATEGORIES, {"name": "Mens T Shirts"}, format="json")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "duplicate_slug",
        "message": "A category with slug 'mens-t-shirts' already exists.",
        "details": {"existing_id": existing.pk, "slug": "mens-t-shirts"},
    }
    assert Category.objects.count() == 1


def test_renaming_a_category_slug_to_a_taken_one_answers_409(api, merchant):
    # given
    taken = CategoryFactory(merchant=merchant, slug="taken")
    category = CategoryFactory(merchant=merchant, slug="free")

    # when
    response = api.patch(f"{CATEGORIES}{category.pk}/", {"slug": "taken"}, format="json")

    # then
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_slug"
    assert response.json()["details"] == {"existing_id": taken.pk, "slug": "taken"}
    assert Category.objects.get(pk=category.pk).slug == "free"


def test_the_same_slug_at_another_merchant_is_allowed(api, merchant, other_merchant):
    # given
    CategoryFactory(merchant=other_merchant, slug="shirts")

    # when
    response = api.post(CATEGORIES, {"name": "Shirts"}, format="json")

    # then
    assert response.status_code == 201
    assert response.json()["slug"] == "shirts"


def test_category_parent_of_another_merchant_answers_400(api, merchant, other_merchant):
    # given
    theirs = CategoryFactory(merchant=other_merchant)

    # when
    response = api.post(CATEGORIES, {"name": "Shirts", "parent": theirs.pk}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"parent": [f'Invalid pk "{theirs.pk}" - object does not exist.']})
    assert Category.objects.filter(merchant=merchant).count() == 0


def test_category_cycle_answers_400(api, merchant):
    # given A under B
    a = CategoryFactory(merchant=merchant, name="A", slug="a")
    b = CategoryFactory(merchant=merchant, name="B", slug="b")
    assert api.patch(f"{CATEGORIES}{a.pk}/", {"parent": b.pk}, format="json").status_code == 200

    # when B is put under A
    response = api.patch(f"{CATEGORIES}{b.pk}/", {"parent": a.pk}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"parent": ["A category cannot be its own ancestor."]})
    assert (category_output(a)["parent"], category_output(b)["parent"]) == (b.pk, None)


def test_category_as_its_own_parent_answers_400(api, merchant):
    # given
    a = CategoryFactory(merchant=merchant, name="A", slug="a")

    # when
    response = api.patch(f"{CATEGORIES}{a.pk}/", {"parent": a.pk}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"parent": ["A category cannot be its own ancestor."]})
    assert category_output(a)["parent"] is None


def test_longer_category_cycle_answers_400(api, merchant):
    # given A under B under C
    c = CategoryFactory(merchant=merchant, slug="c")
    b = CategoryFactory(merchant=merchant, slug="b", parent=c)
    a = CategoryFactory(merchant=merchant, slug="a", parent=b)

    # when C is put under A
    response = api.patch(f"{CATEGORIES}{c.pk}/", {"parent": a.pk}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"parent": ["A category cannot be its own ancestor."]})
    assert category_output(c)["parent"] is None


def test_delete_category_with_children_answers_409(api, merchant):
    # given
    parent = CategoryFactory(merchant=merchant)
    child = CategoryFactory(merchant=merchant, parent=parent)

    # when
    response = api.delete(f"{CATEGORIES}{parent.pk}/")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "category_has_children",
        "message": "Move or delete the sub-categories first.",
        "details": {"category": parent.pk},
    }
    assert set(Category.objects.values_list("pk", flat=True)) == {parent.pk, child.pk}


def test_delete_a_leaf_category_answers_204_and_uncategorises_its_products(api, merchant):
    # given
    category = CategoryFactory(merchant=merchant)
    product = ProductFactory(merchant=merchant, category=category)

    # when
    response = api.delete(f"{CATEGORIES}{category.pk}/")

    # then
    assert response.status_code == 204
    assert not Category.objects.filter(pk=category.pk).exists()
    product.refresh_from_db()
    assert product.category_id is None


def test_categories_are_listed_by_name_for_the_merchant_only(api, merchant, other_merchant):
    # given
    shoes = CategoryFactory(merchant=merchant, name="Shoes", slug="shoes")
    bags = CategoryFactory(merchant=merchant, name="Bags", slug="bags")
    CategoryFactory(merchant=other_merchant, name="Anything", slug="anything")

    # then
    assert listed_ids(api, CATEGORIES) == [bags.pk, shoes.pk]
    assert listed_ids(api, CATEGORIES, {"ordering": "-name"}) == [shoes.pk, bags.pk]
