"""Ship in one call (POST /ship/): order to label PDF, and what is left when a step fails."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Product, StockLevel
from orders.models import Customer, Order, OrderEvent
from shipping.models import AWBPool, Document, PickupRequest, Shipment, ShipmentEvent
from shipping.services.awb import awb_pool_create_range, awb_pool_remaining
from tests.api import invalid
from tests.catalog.factories import ProductFactory, stock
from tests.conftest import client_for
from tests.orders.factories import ADDRESS, default_location, make_order, order_data
from tests.shipping.documents_helpers import barcodes_on_page, gst_merchant, page_texts, pdf_pages
from tests.shipping.factories import CITY_CARD, make_courier, make_shipment, shipping_courier

pytestmark = pytest.mark.django_db(transaction=True)
SHIP = "/api/v1/ship/"


def _body(merchant, quantity: int = 2, **overrides) -> dict:
    """An order body for 2 of TEE-RED-M (10 in stock at the default location; the product made once)."""
    product = Product.objects.filter(merchant=merchant, sku="TEE-RED-M").first()
    if product is None:
        product = ProductFactory(merchant=merchant, sku="TEE-RED-M")
        stock(product, default_location(merchant), 10)
    data = order_data(merchant, [(product, quantity)], **{"channel_order_id": "WEB-1001", **overrides})
    data["lines"] = [{**line, "unit_price": str(line["unit_price"])} for line in data["lines"]]
    return data


def test_one_call_takes_an_order_to_a_label_whose_barcode_reads_as_its_awb(merchant):
    gst_merchant(merchant)
    courier = shipping_courier(merchant)
    api = client_for(merchant)

    response = api.post(SHIP, _body(merchant), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["steps"] == {"order_created": True, "confirmed": True, "awb_assigned": True,
                             "pickup_scheduled": True, "label_generated": True, "invoice_generated": True,
                             "manifest_generated": False}  # fmt: skip
    assert (body["awb"], body["courier"], body["error"]) == ("BL10000000", "bluedart", None)
    assert body["order"]["status"] == "packed"
    assert body["pickup"]["pickup_token"].startswith("PU-")
    label = Document.objects.get(pk=body["documents"]["label"]["id"])
    pdf = label.file.read()
    assert len(pdf_pages(pdf)) == 1
    assert barcodes_on_page(pdf, 0)[0] == "BL10000000"
    assert body["documents"]["invoice"]["status"] == "done"
    assert awb_pool_remaining(courier.awb_pools.get()) == 999


def test_a_refused_confirmation_keeps_nothing_and_spends_no_awb(merchant):
    courier = shipping_courier(merchant)
    api = client_for(merchant)
    body = _body(merchant)
    body["lines"][0]["quantity"] = 50

    response = api.post(SHIP, body, format="json")

    assert response.status_code == 409
    error = response.json()
    assert error["code"] == "insufficient_stock"
    assert error["details"]["step"] == "confirmed"
    assert error["details"]["steps"] == dict.fromkeys(
        ("order_created", "confirmed", "awb_assigned", "pickup_scheduled", "label_generated", "invoice_generated",
         "manifest_generated"), False)  # fmt: skip
    assert Order.objects.filter(merchant=merchant).count() == 0
    assert Shipment.objects.count() == 0
    assert StockLevel.objects.get().reserved == 0
    assert awb_pool_remaining(courier.awb_pools.get()) == 1000


def test_a_failed_invoice_leaves_the_awb_and_the_label(merchant):
    shipping_courier(merchant)
    api = client_for(merchant)

    response = api.post(SHIP, _body(merchant), format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["steps"]["awb_assigned"], body["steps"]["label_generated"], body["steps"]["invoice_generated"]) == (
        True, True, False)  # fmt: skip
    assert body["error"] == {"step": "invoice_generated", "code": "missing_merchant_setting",
                             "message": "Set the merchant's GSTIN / tax id (Merchant.tax_id) before issuing tax "
                                        "invoices.", "details": {"setting": "tax_id"}}  # fmt: skip
    assert Shipment.objects.get().awb == "BL10000000"


def test_replaying_the_call_with_its_idempotency_key_returns_the_same_awb(merchant):
    gst_merchant(merchant)
    shipping_courier(merchant)
    api = client_for(merchant)
    body = _body(merchant)

    first = api.post(SHIP, body, format="json", HTTP_IDEMPOTENCY_KEY="ship-1001")
    again = api.post(SHIP, body, format="json", HTTP_IDEMPOTENCY_KEY="ship-1001")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["awb"] == first.json()["awb"] == "BL10000000"
    assert Shipment.objects.count() == 1


# -- helpers for the cases below --------------------------------------------------------------------------------------

STEPS = ("order_created", "confirmed", "awb_assigned", "pickup_scheduled", "label_generated", "invoice_generated",
         "manifest_generated")  # fmt: skip
NOTHING_DONE = dict.fromkeys(STEPS, False)


def steps(*done: str) -> dict:
    return {name: name in done for name in STEPS}


def order_status_events(order) -> list[tuple[str, str]]:
    return list(OrderEvent.objects.filter(order=order, kind="status_changed").values_list("from_status", "to_status"))


def snapshot(merchant) -> dict:
    """What a refused call must not change: orders, shipments, reservations, AWBs, pickups, documents, events."""
    return {
        "orders": sorted(Order.objects.filter(merchant=merchant).values_list("pk", "status", "awb")),
        "shipments": Shipment.objects.filter(merchant=merchant).count(),
        "reserved": sorted(StockLevel.objects.filter(product__merchant=merchant).values_list("pk", "reserved")),
        "awbs": sorted((p.pk, awb_pool_remaining(p)) for p in AWBPool.objects.filter(courier__merchant=merchant)),
        "pickups": PickupRequest.objects.filter(merchant=merchant).count(),
        "documents": Document.objects.filter(merchant=merchant).count(),
        "order_events": OrderEvent.objects.filter(merchant=merchant).count(),
        "shipment_events": ShipmentEvent.objects.filter(merchant=merchant).count(),
        "customers": Customer.objects.filter(merchant=merchant).count(),
    }


# -- an existing order --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "moves"), [
    ("new", [("new", "confirmed"), ("confirmed", "packed")]),
    ("confirmed", [("new", "confirmed"), ("confirmed", "packed")]),
    ("packed", [("new", "confirmed"), ("confirmed", "packed")]),
])  # fmt: skip
def test_an_existing_order_is_taken_from_where_it_stands_to_its_label(merchant, status, moves):
    gst_merchant(merchant)
    courier = shipping_courier(merchant)
    order = make_order(merchant, status)

    response = client_for(merchant).post(SHIP, {"order_id": order.pk}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["steps"] == steps("confirmed", "awb_assigned", "pickup_scheduled", "label_generated",
                                  "invoice_generated")  # fmt: skip
    assert (body["order"], body["awb"], body["courier"], body["error"]) == (
        {"id": order.pk, "number": order.number, "status": "packed"}, "BL10000000", "bluedart", None)  # fmt: skip
    assert order_status_events(order) == moves  # each move made once, by the factory or by the call
    assert (Order.objects.filter(merchant=merchant).count(), Shipment.objects.get().order_id) == (1, order.pk)
    assert StockLevel.objects.get(product__merchant=merchant).reserved == 2
    assert awb_pool_remaining(courier.awb_pools.get()) == 999


def test_calling_again_for_an_order_with_its_awb_books_nothing_twice(merchant):
    gst_merchant(merchant)
    courier = shipping_courier(merchant)
    order = make_order(merchant, "packed")
    api = client_for(merchant)
    first = api.post(SHIP, {"order_id": order.pk}, format="json").json()

    again = api.post(SHIP, {"order_id": order.pk}, format="json")

    assert again.status_code == 201
    body = again.json()
    assert (body["awb"], body["pickup"], body["steps"], body["error"]) == (
        first["awb"], first["pickup"], first["steps"], None)  # fmt: skip
    assert body["documents"]["label"]["id"] == first["documents"]["label"]["id"]  # the same label, reused
    assert ShipmentEvent.objects.filter(kind="awb_assigned").count() == 1
    assert PickupRequest.objects.count() == 1
    assert awb_pool_remaining(courier.awb_pools.get()) == 999


def test_an_order_already_shipped_is_refused_at_confirmation_and_left_as_it_was(merchant):
    gst_merchant(merchant)
    shipment = make_shipment(merchant, "picked_up")
    before = snapshot(merchant)

    response = client_for(merchant).post(SHIP, {"order_id": shipment.order_id}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "transition_not_allowed",
        "message": f"Order {shipment.order.number} is shipped; it can only become delivered or return to origin, not "
                   "packed.",
        "details": {"status": "shipped", "allowed": ["delivered", "rto"], "requested": "packed",
                    "step": "confirmed", "steps": NOTHING_DONE},
    }  # fmt: skip
    assert snapshot(merchant) == before


def test_another_merchants_order_id_is_a_404_and_changes_nothing(merchant, other_merchant):
    shipping_courier(merchant)
    shipping_courier(other_merchant)
    theirs = make_order(other_merchant, "packed")
    before = (snapshot(merchant), snapshot(other_merchant))

    response = client_for(merchant).post(SHIP, {"order_id": theirs.pk}, format="json")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": f"No order {theirs.pk}.",
                               "details": {"step": "order_created"}}  # fmt: skip
    assert (snapshot(merchant), snapshot(other_merchant)) == before


# -- a refused booking keeps nothing ------------------------------------------------------------------------------


def test_a_pincode_no_courier_serves_is_refused_at_the_awb_with_no_order_and_no_reservation(merchant):
    courier = shipping_courier(merchant)
    delhi = {**ADDRESS, "city": "New Delhi", "state": "Delhi", "postcode": "110001"}
    body = _body(merchant, shipping_address=delhi)
    before = snapshot(merchant)

    response = client_for(merchant).post(SHIP, body, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "not_serviceable",
        "message": "No courier can carry order SO-000001.",
        "details": {"blocked": [{"courier_id": courier.pk, "reason": "delivery pincode not serviceable"}],
                    "step": "awb_assigned", "steps": NOTHING_DONE},
    }  # fmt: skip
    assert snapshot(merchant) == before
    assert (Order.objects.count(), StockLevel.objects.get().reserved) == (0, 0)


def test_an_empty_awb_pool_is_refused_with_no_order_and_the_pool_unchanged(merchant):
    gst_merchant(merchant)
    courier = shipping_courier(merchant, pool=1)
    api = client_for(merchant)
    assert api.post(SHIP, _body(merchant), format="json").status_code == 201  # spends the only number
    before = snapshot(merchant)

    response = api.post(SHIP, _body(merchant, channel_order_id="WEB-1002"), format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "awb_pool_exhausted",
        "message": "No AWB numbers left for Blue Dart; add a pool or a list of numbers.",
        "details": {"courier": "bluedart", "step": "awb_assigned", "steps": NOTHING_DONE},
    }  # fmt: skip
    assert snapshot(merchant) == before
    assert (awb_pool_remaining(courier.awb_pools.get()), StockLevel.objects.get().reserved) == (0, 2)
    assert list(Order.objects.values_list("channel_order_id", flat=True)) == ["WEB-1001"]


def test_an_unknown_courier_code_is_a_400_before_anything_is_made(merchant):
    shipping_courier(merchant)
    body = {**_body(merchant), "options": {"courier": "dhl"}}
    before = snapshot(merchant)

    response = client_for(merchant).post(SHIP, body, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Unknown courier 'dhl'.",
        "details": {"courier": ["Unknown courier 'dhl'."], "step": "order_created", "steps": NOTHING_DONE},
    }  # fmt: skip
    assert snapshot(merchant) == before


def test_a_repeated_channel_order_id_is_a_409_naming_the_order_and_nothing_else_is_made(merchant):
    gst_merchant(merchant)
    shipping_courier(merchant)
    existing = make_order(merchant, "new", channel_order_id="WEB-1001")
    body = _body(merchant)
    before = snapshot(merchant)

    response = client_for(merchant).post(SHIP, body, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "duplicate_order",
        "message": f"Channel order 'WEB-1001' is already order {existing.number} (new).",
        "details": {"existing_order": existing.pk, "number": existing.number, "status": "new",
                    "channel": existing.channel.channel_id, "channel_order_id": "WEB-1001",
                    "step": "order_created", "steps": NOTHING_DONE},
    }  # fmt: skip
    assert snapshot(merchant) == before


def test_an_invalid_order_body_is_a_400_with_its_field_errors(merchant):
    shipping_courier(merchant)
    body = _body(merchant)
    del body["payment_method"]
    body["lines"][0]["quantity"] = 0
    before = snapshot(merchant)

    response = client_for(merchant).post(SHIP, body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(
        {
            "payment_method": ["This field is required."],
            "lines.0.quantity": ["Ensure this value is greater than or equal to 1."],
        }
    )
    assert snapshot(merchant) == before


@pytest.mark.parametrize(("options", "details"), [
    ({"sort": "nearest"}, {"options.sort": ['"nearest" is not a valid choice.']}),
    ({"pickup_date": "tomorrow"}, {"options.pickup_date": ["Date has wrong format. Use one of these formats instead: "
                                                           "YYYY-MM-DD."]}),
    ({"label_format": "a5"}, {"options.label_format": ['"a5" is not a valid choice.']}),
    ({"print_labels": True}, {"options.print_labels": ["Unknown field."]}),
    ({"request_pickup": "sometimes"}, {"options.request_pickup": ["Must be a valid boolean."]}),
])  # fmt: skip
def test_invalid_options_are_a_400_naming_the_option(merchant, options, details):
    shipping_courier(merchant)
    body = {**_body(merchant), "options": options}
    before = snapshot(merchant)

    response = client_for(merchant).post(SHIP, body, format="json")

    assert (response.status_code, response.json()) == (400, invalid(details))
    assert snapshot(merchant) == before


def test_an_existing_order_id_takes_the_options_and_nothing_of_an_order_body(merchant):
    api = client_for(merchant)

    mixed = api.post(SHIP, {"order_id": 1, "lines": []}, format="json")
    bad = api.post(SHIP, {"order_id": 0, "options": {"courier": ""}}, format="json")

    assert (mixed.status_code, mixed.json()) == (400, invalid({"lines": ["Unknown field."]}))
    assert (bad.status_code, bad.json()) == (400, invalid({
        "order_id": ["Ensure this value is greater than or equal to 1."],
        "options.courier": ["This field may not be blank."]}))  # fmt: skip


# -- later steps: each may fail, the booking stays ----------------------------------------------------------------


def test_a_pickup_date_in_the_past_fails_that_step_only_the_awb_and_the_label_stay(merchant):
    gst_merchant(merchant)
    courier = shipping_courier(merchant)
    yesterday = (timezone.now().astimezone(merchant.tzinfo) - timedelta(days=1)).date()

    response = client_for(merchant).post(SHIP, {**_body(merchant), "options": {"pickup_date": yesterday.isoformat()}},
                                         format="json")  # fmt: skip

    assert response.status_code == 201
    body = response.json()
    assert body["steps"] == steps("order_created", "confirmed", "awb_assigned", "label_generated",
                                  "invoice_generated")  # fmt: skip
    assert body["error"] == {"step": "pickup_scheduled", "code": "invalid",
                             "message": "The pickup date is in the past.",
                             "details": {"pickup_date": ["The pickup date is in the past."]}}  # fmt: skip
    assert (body["pickup"], body["shipment"]["status"], body["awb"]) == (None, "awb_assigned", "BL10000000")
    shipment = Shipment.objects.get()
    assert (shipment.status, shipment.awb, shipment.pickup_id, PickupRequest.objects.count()) == (
        "awb_assigned", "BL10000000", None, 0)  # fmt: skip
    assert Order.objects.get().status == "packed"
    label = Document.objects.get(pk=body["documents"]["label"]["id"])
    assert (label.status, label.page_count) == ("done", 1)
    assert barcodes_on_page(label.file.read(), 0) == ["BL10000000", "SO-000001"]  # the AWB, then the order number
    assert awb_pool_remaining(courier.awb_pools.get()) == 999


def test_no_pickup_and_no_documents_when_not_asked(merchant):
    shipping_courier(merchant)
    options = {"request_pickup": False, "print_label": False, "print_invoice": False}

    response = client_for(merchant).post(SHIP, {**_body(merchant), "options": options}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["steps"], body["error"], body["pickup"]) == (
        steps("order_created", "confirmed", "awb_assigned"), None, None)  # fmt: skip
    assert body["documents"] == {"label": None, "invoice": None, "manifest": None}
    assert (Shipment.objects.get().status, Document.objects.count()) == ("awb_assigned", 0)


def test_generate_manifest_lists_the_shipment_and_renders_the_manifest_pdf(merchant):
    gst_merchant(merchant)
    shipping_courier(merchant)

    response = client_for(merchant).post(SHIP, {**_body(merchant), "options": {"generate_manifest": True}},
                                         format="json")  # fmt: skip

    assert response.status_code == 201
    body = response.json()
    assert body["steps"] == dict.fromkeys(STEPS, True)
    shipment = Shipment.objects.select_related("manifest", "pickup").get()
    assert (shipment.manifest.number, shipment.manifest.pickup_id) == ("MAN-000001", shipment.pickup_id)
    assert body["shipment"]["manifest"] == {"id": shipment.manifest_id, "number": "MAN-000001"}
    document = Document.objects.get(pk=body["documents"]["manifest"]["id"])
    assert (document.kind, document.status, document.manifest_id, document.page_count) == (
        "manifest", "done", shipment.manifest_id, 1)  # fmt: skip
    pdf = document.file.read()
    assert "MAN-000001" in page_texts(pdf)[0]
    assert barcodes_on_page(pdf, 0, dpi=300) == ["BL10000000"]


@pytest.mark.parametrize(("sort", "chosen"), [("cheapest", "xpressbees"), ("fastest", "bluedart")])
def test_sort_picks_the_cheapest_or_the_fastest_courier(merchant, sort, chosen):
    gst_merchant(merchant)
    shipping_courier(merchant)  # within city: 30.00 + fuel, 2 days
    slow_card = CITY_CARD | {"first_slab_price": Decimal("20.00"), "estimated_days": 5}
    slow = make_courier(merchant, code="xpressbees", name="Xpressbees", pincodes=("560001", "560025"),
                        rate_cards=[slow_card])  # fmt: skip
    awb_pool_create_range(courier=slow, name="xb pool", start=500, end=599, prefix="XB", width=8)

    response = client_for(merchant).post(SHIP, {**_body(merchant), "options": {"sort": sort}}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["courier"], body["awb"]) == {"xpressbees": ("xpressbees", "XB00000500"),
                                              "bluedart": ("bluedart", "BL10000000")}[chosen]  # fmt: skip
    assert body["charges"] == {"xpressbees": {"freight": "20.00", "cod": "0.00", "fuel_surcharge": "2.00",
                                              "tax": "3.96", "total": "25.96", "currency": "INR"},
                               "bluedart": {"freight": "30.00", "cod": "0.00", "fuel_surcharge": "3.00",
                                            "tax": "5.94", "total": "38.94", "currency": "INR"}}[chosen]  # fmt: skip


def test_a_named_courier_is_used_even_when_another_is_cheaper(merchant):
    gst_merchant(merchant)
    shipping_courier(merchant)
    cheap = make_courier(merchant, code="xpressbees", name="Xpressbees", pincodes=("560001", "560025"),
                         rate_cards=[CITY_CARD | {"first_slab_price": Decimal("20.00")}])  # fmt: skip
    awb_pool_create_range(courier=cheap, name="xb pool", start=500, end=599, prefix="XB", width=8)

    response = client_for(merchant).post(
        SHIP, {**_body(merchant), "options": {"courier": "bluedart", "sort": "cheapest"}}, format="json"
    )

    assert (response.status_code, response.json()["courier"]) == (201, "bluedart")


def test_the_query_count_does_not_grow_with_the_order_lines(merchant, django_assert_max_num_queries):
    gst_merchant(merchant)
    shipping_courier(merchant)
    api = client_for(merchant)
    products = [ProductFactory(merchant=merchant, sku=f"SKU-{n}") for n in range(5)]
    for product in products:
        stock(product, default_location(merchant), 10)
    one = order_data(merchant, [(products[0], 1)], channel_order_id="WEB-1")
    five = order_data(merchant, [(p, 1) for p in products], channel_order_id="WEB-5")
    for body in (one, five):
        body["lines"] = [{**line, "unit_price": str(line["unit_price"])} for line in body["lines"]]
    with CaptureQueriesContext(connection) as small:
        assert api.post(SHIP, one, format="json").status_code == 201

    with django_assert_max_num_queries(len(small.captured_queries)):  # lines are bulk-written, stock reserved at once
        assert api.post(SHIP, five, format="json").status_code == 201

    # 184 measured: order, booking, pickup, label and invoice rendered; 8 of them ask whether a webhook endpoint
    # wants an event (order created, confirmed, packed, AWB on the shipment and on the order, pickup, two PDFs),
    # 4 open and commit the transactions that mark each PDF done with its document.ready outbox row, and 35 record
    # the two courier calls (the booking, the pickup): each intent, attempt and outcome, the outcomes in
    # transactions of their own after the calls
    assert len(small.captured_queries) <= 190
