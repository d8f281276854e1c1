"""A ship batch's outcome told in its own colour when it ran with the request (eager Celery): every order shipped is
a success, some refused a warning, all refused an error, never a green tick over refusals."""

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages

from tests.orders.factories import make_order
from tests.shipping.documents_helpers import gst_merchant
from tests.shipping.factories import shipping_courier
from tests.shipping.test_admin_ship_batches import OPTIONS, ORDERS, act

pytestmark = pytest.mark.django_db(transaction=True)


def told(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in get_messages(response.wsgi_request)]


def test_a_batch_whose_orders_were_all_refused_is_an_error(client, owner, merchant):
    order = make_order(merchant)  # the merchant has no courier: nothing can carry it
    client.force_login(owner)

    response = act(client, ORDERS, "ship_selected", [order], apply="1", **OPTIONS)

    [(level, text)] = told(response)
    assert level == messages.ERROR
    assert "for 1 order: done, 1 of 1 order refused. Its page shows" in text


def test_a_batch_with_some_orders_refused_is_a_warning(client, owner, merchant):
    gst_merchant(merchant)  # what the invoice needs
    shipping_courier(merchant)
    shipped = make_order(merchant)
    nowhere = make_order(merchant, shipping_address={"name": "Asha", "phone": "+919812345678", "line1": "1 Main Road",
                                                     "city": "Leh", "state": "Ladakh", "postcode": "194101",
                                                     "country": "IN"})  # fmt: skip
    client.force_login(owner)

    response = act(client, ORDERS, "ship_selected", [shipped, nowhere], apply="1", **OPTIONS)

    levels = [level for level, _ in told(response)]
    assert levels[0] == messages.WARNING
    assert "for 2 orders: done, 1 of 2 orders refused." in told(response)[0][1]
