"""Ship in one call (POST /ship/): order to label PDF, and what is left when a step fails."""

import pytest

from catalog.models import StockLevel
from orders.models import Order
from shipping.models import Document, Shipment
from shipping.services import awb_pool_remaining
from tests.catalog.factories import ProductFactory, stock
from tests.conftest import client_for
from tests.orders.factories import default_location, order_data
from tests.shipping.documents_helpers import barcodes_on_page, gst_merchant, pdf_pages
from tests.shipping.factories import shipping_courier

pytestmark = pytest.mark.django_db(transaction=True)
SHIP = "/api/v1/ship/"


def _body(merchant, **overrides) -> dict:
    product = ProductFactory(merchant=merchant, sku="TEE-RED-M")
    stock(product, default_location(merchant), 10)
    data = order_data(merchant, [(product, 2)], channel_order_id="WEB-1001", **overrides)
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
