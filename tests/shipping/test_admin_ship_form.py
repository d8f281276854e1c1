"""The "Ship selected orders…" form: for one order, each courier that can carry it with its price and estimate (the
courier chosen is the batch's); orders that cannot ship (delivered, cancelled, already booked) are named with the
reason in words and left out, and the form never offers to ship them."""

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages

from orders.models import OrderStatus
from shipping.choices import CourierSort
from shipping.models import ShipBatch, ShipmentStatus
from shipping.selectors import quote_for_order
from shopops.money import format_money
from tests.orders.factories import make_order
from tests.shipping.documents_helpers import gst_merchant
from tests.shipping.factories import make_shipment, shipping_courier
from tests.shipping.test_admin_ship_batches import OPTIONS, ORDERS, act


@pytest.fixture
def desk(client, owner, merchant):
    gst_merchant(merchant)
    client.force_login(owner)
    return client


def told(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in get_messages(response.wsgi_request)]


def test_one_order_lists_the_couriers_that_carry_it_with_price_and_estimate(desk, merchant):
    shipping_courier(merchant)
    shipping_courier(merchant, code="delhivery", name="Delhivery")
    order = make_order(merchant)
    quote = quote_for_order(order, sort=CourierSort.CHEAPEST)

    page = act(desk, ORDERS, "ship_selected", [order])

    choices = page.context["form"].fields["courier"].choices
    assert choices[0] == ("recommended", "The recommended courier of each order")
    assert choices[1:] == [
        (q.code, f"{q.name}: {format_money(q.total_charge, 'INR')}, {q.estimated_delivery_days} "
                 f"day{'' if q.estimated_delivery_days == 1 else 's'}"
                 f"{' (recommended)' if q.courier_id == quote.recommended_courier_id else ''}")
        for q in quote.couriers
    ]  # fmt: skip
    assert sorted(code for code, _ in choices[1:]) == ["bluedart", "delhivery"]
    assert "₹" in choices[1][1]


def test_the_courier_chosen_is_the_batch_s(desk, merchant):
    shipping_courier(merchant)
    shipping_courier(merchant, code="delhivery", name="Delhivery")
    order = make_order(merchant)

    act(desk, ORDERS, "ship_selected", [order], apply="1", **OPTIONS, **{"ship-courier": "delhivery"})

    assert ShipBatch.objects.get().options["courier"] == "delhivery"


def test_orders_that_cannot_ship_are_named_in_words_and_left_out(desk, merchant):
    courier = shipping_courier(merchant)
    delivered = make_shipment(merchant, ShipmentStatus.DELIVERED, courier=courier).order
    booked = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, courier=courier)
    cancelled = make_order(merchant, OrderStatus.CANCELLED)
    fresh = make_order(merchant)

    page = act(desk, ORDERS, "ship_selected", [delivered, booked.order, cancelled, fresh])

    assert page.status_code == 200
    assert [order.pk for order in page.context["orders"]] == [fresh.pk]
    assert page.context["count"] == 1
    expected = (f"Not shipped: {delivered.number} is already delivered: only returns are possible; "
                f"{booked.order.number} already has AWB {booked.awb}; {cancelled.number} is cancelled; the others "
                "can be shipped.")  # fmt: skip
    assert told(page) == [(messages.WARNING, expected)]


def test_nothing_shippable_is_an_error_and_no_form(desk, merchant):
    delivered = make_shipment(merchant, ShipmentStatus.DELIVERED, courier=shipping_courier(merchant)).order

    response = act(desk, ORDERS, "ship_selected", [delivered], apply="1", **OPTIONS)

    assert response.status_code == 302
    assert told(response) == [(messages.ERROR, f"Not shipped: {delivered.number} is already delivered: only returns "
                                               "are possible; nothing to ship.")]  # fmt: skip
    assert ShipBatch.objects.count() == 0
