"""The order page as a workspace: its buttons follow the order's state (confirm, pack, ship, print), the AWB links to
its shipment and the customer's tracking page, a viewer gets the links and no action, each button runs its action on
this order alone, and the timeline reads in words (the merchant's time, statuses by their labels, users by name)."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from orders.models import Order, OrderStatus
from shipping.models import ShipmentStatus
from shopops.money import format_money
from tests.orders.factories import ADDRESS, make_order
from tests.shipping.factories import make_shipment, shipping_courier
from tests.shopops.factories import MembershipFactory, UserFactory

ORDERS = "/admin/orders/order/"


@pytest.fixture
def desk(client, merchant):
    user = UserFactory(first_name="Priya", last_name="Sharma")
    MembershipFactory(merchant=merchant, user=user, role="owner")
    client.force_login(user)
    return client


def labels(response) -> list[str]:
    return [tool["label"] for tool in response.context["order_tools"]]


def test_a_new_order_offers_its_next_steps(desk, merchant):
    order = make_order(merchant, OrderStatus.NEW)

    page = desk.get(f"{ORDERS}{order.pk}/change/")

    assert labels(page) == ["Confirm", "Cancel…", "Ship…", "Print invoice", "Print packing slip"]
    html = page.content.decode()
    assert f'<input type="hidden" name="_selected_action" value="{order.pk}">' in html
    assert '<input type="hidden" name="action" value="confirm_selected">' in html


def test_a_booked_order_links_its_awb_and_tracking_page(desk, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, courier=shipping_courier(merchant))

    page = desk.get(f"{ORDERS}{shipment.order_id}/change/")

    assert labels(page) == ["Cancel…", "Print label", "Print invoice", "Print packing slip", f"AWB {shipment.awb}",
                            "Tracking page"]  # fmt: skip
    tools = page.context["order_tools"]
    assert tools[4]["url"] == f"/admin/shipping/shipment/{shipment.pk}/change/"
    assert tools[5]["url"] == f"http://127.0.0.1:8000/track/{shipment.awb}/{shipment.tracking_token}/"


def test_a_delivered_order_offers_no_step_and_a_viewer_only_links(client, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.DELIVERED, courier=shipping_courier(merchant))
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    client.force_login(viewer)

    page = client.get(f"{ORDERS}{shipment.order_id}/change/")

    assert labels(page) == [f"AWB {shipment.awb}", "Tracking page"]
    assert 'name="action"' not in page.content.decode()


def test_the_confirm_button_confirms_this_order_alone(desk, merchant):
    order, other = make_order(merchant), make_order(merchant)

    response = desk.post(ORDERS, {"action": "confirm_selected", ACTION_CHECKBOX_NAME: [order.pk], "index": 0})

    assert response.status_code == 302
    assert (Order.objects.get(pk=order.pk).status, Order.objects.get(pk=other.pk).status) == ("confirmed", "new")


def test_the_ship_button_opens_the_ship_form_for_this_order(desk, merchant):
    order = make_order(merchant)
    shipping_courier(merchant)

    response = desk.post(ORDERS, {"action": "ship_selected", ACTION_CHECKBOX_NAME: [order.pk], "index": 0})

    assert response.status_code == 200
    assert [o.pk for o in response.context["orders"]] == [order.pk]


def test_the_timeline_reads_in_words(desk, merchant):
    order = make_order(merchant, OrderStatus.NEW)
    desk.post(ORDERS, {"action": "confirm_selected", ACTION_CHECKBOX_NAME: [order.pk], "index": 0})

    html = desk.get(f"{ORDERS}{order.pk}/change/").content.decode()

    cells = re.findall(r'<td class="field-(what|who)">\s*<p>(.*?)</p>', html)
    assert cells == [("what", "Created: New"), ("who", "ShopOps"), ("what", "Status changed: New → Confirmed"),
                     ("who", "Priya Sharma")]  # fmt: skip


def test_the_page_costs_the_same_queries_with_more_events(desk, merchant, django_assert_max_num_queries):
    order = make_order(merchant, OrderStatus.PACKED)
    order.events.create(merchant=merchant, kind="updated", actor="user:899", message="one note")
    with django_assert_max_num_queries(60) as captured:
        desk.get(f"{ORDERS}{order.pk}/change/")
    few = len(captured)
    more = make_order(merchant, OrderStatus.PACKED)
    for note in range(5):  # by five users
        Order.objects.get(pk=more.pk).events.create(merchant=merchant, kind="updated", actor=f"user:{900 + note}",
                                                   message=f"note {note}")  # fmt: skip
    with django_assert_max_num_queries(few):
        desk.get(f"{ORDERS}{more.pk}/change/")


def test_a_channel_s_change_is_by_the_channel_s_name(desk, merchant):
    order = make_order(merchant, OrderStatus.NEW)
    order.events.create(merchant=merchant, kind="channel_update", actor=f"channel:{order.channel.channel_id}",
                        message="New address")  # fmt: skip

    html = desk.get(f"{ORDERS}{order.pk}/change/").content.decode()

    who = re.findall(r'<td class="field-who">\s*<p>(.*?)</p>', html)
    assert who == ["ShopOps", f"channel {order.channel.name}"]


def test_the_customer_s_history_and_the_total_with_its_symbol(desk, merchant):
    first = make_order(merchant, OrderStatus.CANCELLED)
    Order.objects.filter(pk=first.pk).update(ordered_at=datetime(2024, 10, 4, 6, 0, tzinfo=UTC))
    delivered = make_shipment(merchant, ShipmentStatus.DELIVERED, courier=shipping_courier(merchant)).order
    latest = make_order(merchant, OrderStatus.NEW)
    lone = make_order(merchant, OrderStatus.NEW, shipping_address={**ADDRESS, "name": "Arjun Rao",
                                                                    "phone": "+919876543210"})  # fmt: skip

    page = desk.get(f"{ORDERS}{latest.pk}/change/").content.decode()
    alone = desk.get(f"{ORDERS}{lone.pk}/change/").content.decode()
    listing = desk.get(ORDERS).content.decode()

    assert latest.customer_id == delivered.customer_id == first.customer_id != lone.customer_id
    assert ("Returning customer: 3 orders since 4 Oct 2024, 1 delivered, 0 returned to origin, 1 cancelled."
            in page)  # fmt: skip
    assert "New customer: this is their first order." in alone
    assert f'<td class="field-total_display">{format_money(latest.total, "INR")}</td>' in listing
    assert "₹" in format_money(latest.total, "INR")
