"""E-way bills at booking: an INR order whose total is over EWAY_BILL_THRESHOLD (50,000.00 by default) and has no e-way
bill number is booked all the same, with an "E-way bill required" warning in the answers of the shipment create and
assign-awb API, POST /ship/ and the ship batch, on the shipment's and the order's timelines, and as an admin message.
A total equal to the threshold needs none; one paisa more needs one. The invoice prints the number when it has one."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from orders.models import OrderEvent, OrderStatus
from orders.services.orders import order_update
from shipping.documents.data import invoice_context, invoice_queryset
from shipping.eway import booking_warnings, eway_bill_required
from shipping.models import DocumentKind, Shipment, ShipmentEvent, ShipmentStatus
from shipping.services.batches import ship_batch_create, ship_batch_run
from shipping.services.documents import document_render, document_request
from shipping.services.ship import ShipOptions
from shipping.services.shipments import shipment_assign_awb
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import default_location, make_order
from tests.shipping.documents_helpers import gst_merchant, page_texts
from tests.shipping.factories import make_shipment, shipping_courier

pytestmark = pytest.mark.django_db
SHIPMENTS = "/api/v1/shipments/"
EWAY = "331001234567"


def _order(merchant, total: str, status=OrderStatus.PACKED, **overrides):
    """An order of 2 units at 25,000.00 whose total is ``total`` (the difference is its shipping charge)."""
    product = ProductFactory(merchant=merchant, price=Decimal("25000.00"), mrp=Decimal("25000.00"))
    stock(product, default_location(merchant), 10)
    order = make_order(merchant, status, products=[(product, 2)],
                       shipping_charge=Decimal(total) - Decimal("50000.00"), **overrides)  # fmt: skip
    assert order.total == Decimal(total)
    return order


def _warning(order) -> dict:
    return {"code": "eway_bill_required",
            "message": f"E-way bill required: order {order.number} is worth ₹{order.total:,.2f}, over the ₹50,000.00 "
                       "threshold; add its e-way bill number (12 digits) to the order before the courier picks it "
                       "up."}  # fmt: skip


def test_the_threshold_itself_needs_no_e_way_bill_and_one_paisa_more_does(merchant):
    at, above = _order(merchant, "50000.00"), _order(merchant, "50000.01")

    assert (eway_bill_required(at), eway_bill_required(above)) == (False, True)
    assert booking_warnings(at) == []
    assert booking_warnings(above) == [{
        "code": "eway_bill_required",
        "message": f"E-way bill required: order {above.number} is worth ₹50,000.01, over the ₹50,000.00 threshold; "
                   "add its e-way bill number (12 digits) to the order before the courier picks it up.",
    }]  # fmt: skip


def test_an_order_with_its_e_way_bill_or_in_another_currency_needs_none(merchant):
    assert eway_bill_required(_order(merchant, "90000.00", eway_bill_number=EWAY)) is False
    assert eway_bill_required(_order(merchant, "90000.00", currency="USD")) is False  # the threshold is in rupees


def test_the_threshold_is_a_setting(merchant, settings):
    order = _order(merchant, "50000.00")
    settings.EWAY_BILL_THRESHOLD = Decimal("49999.99")

    assert booking_warnings(order) == [{
        "code": "eway_bill_required",
        "message": f"E-way bill required: order {order.number} is worth ₹50,000.00, over the ₹49,999.99 threshold; "
                   "add its e-way bill number (12 digits) to the order before the courier picks it up.",
    }]  # fmt: skip


def test_assign_awb_books_above_the_threshold_with_the_warning_and_not_at_it(api, merchant):
    shipping_courier(merchant)
    at = make_shipment(merchant, order=_order(merchant, "50000.00"))
    above = make_shipment(merchant, order=_order(merchant, "50000.01"))

    at_response = api.post(f"{SHIPMENTS}{at.pk}/assign-awb/", {}, format="json")
    above_response = api.post(f"{SHIPMENTS}{above.pk}/assign-awb/", {}, format="json")

    assert (at_response.status_code, above_response.status_code) == (200, 200)
    assert (at_response.json()["status"], at_response.json()["warnings"]) == ("awb_assigned", [])
    assert (above_response.json()["status"], above_response.json()["awb"]) == ("awb_assigned", "BL10000001")
    assert above_response.json()["warnings"] == [_warning(above.order)]


def test_the_booking_records_the_warning_on_the_shipment_and_order_timelines(api, merchant):
    shipping_courier(merchant)
    above = make_shipment(merchant, order=_order(merchant, "50000.01"))
    at = make_shipment(merchant, order=_order(merchant, "50000.00"))

    booked = shipment_assign_awb(shipment=above, actor="user:7")
    shipment_assign_awb(shipment=at, actor="user:7")

    message = _warning(above.order)["message"]
    assert list(ShipmentEvent.objects.filter(shipment=above).values_list("kind", "actor", "message", "data")) [-1:] == [
        ("eway_bill_required", "user:7", message, {"code": "eway_bill_required", "total": "50000.01"})]  # fmt: skip
    assert list(OrderEvent.objects.filter(order=above.order, kind="eway_bill_required").values_list(
        "actor", "message", "data")) == [
        ("user:7", message, {"code": "eway_bill_required", "shipment": above.pk, "awb": booked.awb})]  # fmt: skip
    assert not ShipmentEvent.objects.filter(shipment=at, kind="eway_bill_required").exists()
    assert not OrderEvent.objects.filter(order=at.order, kind="eway_bill_required").exists()
    timeline = api.get(f"{SHIPMENTS}{above.pk}/events/").json()
    assert [(e["kind"], e["description"]) for e in timeline][-1] == ("eway_bill_required", message)
    order_events = api.get(f"/api/v1/orders/{above.order_id}/events/").json()
    assert [(e["kind"], e["message"]) for e in order_events][-1] == ("eway_bill_required", message)


def test_once_the_number_is_set_the_warning_is_gone(api, merchant):
    shipping_courier(merchant)
    order = _order(merchant, "75000.00", status=OrderStatus.CONFIRMED)
    order_update(order=order, data={"eway_bill_number": EWAY}, actor="user:1")
    shipment = make_shipment(merchant, order=order)

    response = api.post(f"{SHIPMENTS}{shipment.pk}/assign-awb/", {}, format="json")

    assert (response.status_code, response.json()["warnings"]) == (200, [])
    assert not ShipmentEvent.objects.filter(kind="eway_bill_required").exists()


def test_creating_the_shipment_warns_before_the_booking(api, merchant):
    shipping_courier(merchant)
    order = _order(merchant, "50000.01")

    response = api.post(SHIPMENTS, {"order": order.pk}, format="json")

    assert response.status_code == 201, response.json()
    assert (response.json()["status"], response.json()["warnings"]) == ("new", [_warning(order)])
    assert not ShipmentEvent.objects.filter(kind="eway_bill_required").exists()  # the booking records it


def test_another_merchants_shipment_is_a_404_and_is_not_booked(merchant, other_merchant, other_api):
    shipping_courier(merchant)
    shipment = make_shipment(merchant, order=_order(merchant, "50000.01"))

    response = other_api.post(f"{SHIPMENTS}{shipment.pk}/assign-awb/", {}, format="json")

    assert response.status_code == 404
    shipment.refresh_from_db()
    assert (shipment.status, shipment.awb) == ("new", "")
    assert not ShipmentEvent.objects.filter(kind="eway_bill_required").exists()


def test_ship_in_one_call_answers_the_warning(api, merchant):
    shipping_courier(merchant)
    above, at = _order(merchant, "50000.01", status=OrderStatus.NEW), _order(merchant, "50000.00", OrderStatus.NEW)
    options = {"request_pickup": False, "print_label": False, "print_invoice": False}

    above_body = api.post("/api/v1/ship/", {"order_id": above.pk, "options": options}, format="json").json()
    at_body = api.post("/api/v1/ship/", {"order_id": at.pk, "options": options}, format="json").json()

    assert (above_body["steps"]["awb_assigned"], above_body["warnings"]) == (True, [_warning(above)])
    assert (at_body["steps"]["awb_assigned"], at_body["warnings"]) == (True, [])


def test_a_ship_batch_names_the_warning_of_each_booked_order(merchant):
    shipping_courier(merchant)
    above, at = _order(merchant, "50000.01", OrderStatus.NEW), _order(merchant, "50000.00", OrderStatus.NEW)
    options = ShipOptions(request_pickup=False, print_label=False, print_invoice=False)
    batch = ship_batch_create(merchant=merchant, order_ids=[above.pk, at.pk], actor="user:1", options=options)

    batch = ship_batch_run(batch_id=batch.pk)

    assert (batch.status, batch.shipped) == ("done", 2)
    assert batch.results[str(above.pk)]["warnings"] == [_warning(above)]
    assert batch.results[str(at.pk)]["warnings"] == []


def test_the_invoice_prints_the_e_way_bill_number_in_its_title_block(merchant):
    gst_merchant(merchant)
    with_bill, without = _order(merchant, "60000.00", eway_bill_number=EWAY), _order(merchant, "60000.00")

    [first, second] = invoice_queryset().filter(pk__in=[with_bill.pk, without.pk]).order_by("pk")
    assert (invoice_context(first)["eway_bill"], invoice_context(second)["eway_bill"]) == (EWAY, "")
    document = document_render(document_id=document_request(
        merchant=merchant, kind=DocumentKind.INVOICE, ids=[with_bill.pk, without.pk], actor="user:1",
        enqueue=False).pk)  # fmt: skip

    texts = page_texts(document.file.read())
    assert f"Order no. {with_bill.number} of " in texts[0]
    assert f"E-way bill no. {EWAY}" in texts[0]
    assert "E-way bill" not in texts[1]


# -- the admin ------------------------------------------------------------------------------------------------------


def _act(client, url: str, action: str, objects, **extra):
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objects], "index": 0, **extra})


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_admins_assign_awb_books_and_warns(client, owner, merchant):
    client.force_login(owner)
    shipping_courier(merchant)
    above = make_shipment(merchant, order=_order(merchant, "64500.00"))
    at = make_shipment(merchant, order=_order(merchant, "50000.00"))

    response = _act(client, "/admin/shipping/shipment/", "assign_awb_selected", [above, at])

    assert response.status_code == 302
    assert [s.status for s in Shipment.objects.filter(pk__in=[above.pk, at.pk])] == [ShipmentStatus.AWB_ASSIGNED] * 2
    assert _messages(response) == [
        "Assigned AWBs to 2 shipments.",
        f"E-way bill required: {above.order.number} (₹64,500.00) is worth over ₹50,000.00. Booked all the same: add "
        "each order's e-way bill number (order page, Shipping) before the courier picks it up.",
    ]  # fmt: skip


def test_the_admins_create_shipments_warns_too(client, owner, merchant):
    client.force_login(owner)
    shipping_courier(merchant)
    orders = [_order(merchant, "50000.01"), _order(merchant, "123456.00")]

    response = _act(client, "/admin/orders/order/", "create_shipments_selected", orders)

    assert _messages(response) == [
        "Created shipments for 2 orders.",
        f"E-way bill required: {orders[0].number} (₹50,000.01), {orders[1].number} (₹1,23,456.00) are worth over "
        "₹50,000.00. Booked all the same: add each order's e-way bill number (order page, Shipping) before the "
        "courier picks it up.",
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_admins_ship_action_warns_once_its_batch_has_run(client, owner, merchant):
    client.force_login(owner)
    shipping_courier(merchant)
    above, at = _order(merchant, "50000.01", OrderStatus.NEW), _order(merchant, "50000.00", OrderStatus.NEW)

    no_pickup_nor_documents = {"ship-sort": "", "ship-pickup_date": "", "ship-label_format": "4x6"}

    response = _act(client, "/admin/orders/order/", "ship_selected", [above, at], apply="1",
                    **no_pickup_nor_documents)  # fmt: skip

    messages = _messages(response)
    assert messages[0].endswith("for 2 orders: done. Its page shows each order's outcome, the pickups and the PDFs.")
    assert messages[1:] == [
        f"E-way bill required: {above.number} (₹50,000.01) is worth over ₹50,000.00. Booked all the same: add each "
        "order's e-way bill number (order page, Shipping) before the courier picks it up."]  # fmt: skip
    page = client.get(response["Location"]).content.decode()
    assert _warning(above)["message"] in page
