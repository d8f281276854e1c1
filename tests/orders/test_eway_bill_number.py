"""The e-way bill number of an order: 12 digits, set on creation (API, bulk) or by an edit before the order ships, shown
in the order's representation; anything else is a 400 naming the field, another merchant's order a 404."""

import pytest
from django.db import IntegrityError, transaction

from orders.models import Order, OrderEvent, OrderStatus
from tests.api import NOT_FOUND, invalid
from tests.orders.factories import make_order, order_data

pytestmark = pytest.mark.django_db
ORDERS = "/api/v1/orders/"
EWAY = "331001234567"
WRONG = "An e-way bill number is 12 digits, e.g. 331001234567."


def _body(merchant, **overrides) -> dict:
    data = order_data(merchant, **overrides)
    data["lines"] = [{**line, "unit_price": str(line["unit_price"])} for line in data["lines"]]
    return data


def test_an_order_is_created_with_its_e_way_bill_number(api, merchant):
    response = api.post(ORDERS, _body(merchant, eway_bill_number=EWAY), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["eway_bill_number"] == EWAY
    assert Order.objects.get(pk=response.json()["id"]).eway_bill_number == EWAY
    assert api.get(f"{ORDERS}{response.json()['id']}/").json()["eway_bill_number"] == EWAY
    assert api.get(ORDERS).json()["results"][0]["eway_bill_number"] == EWAY  # the list's hand-shaped rows too


@pytest.mark.parametrize("value", ["33100123456", "3310012345678", "3310 0123 456", "ABCDEFGHIJKL",
                                   "\uff13\uff13\uff11\uff10\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17",
                                   "9" * 5000])  # fmt: skip
def test_anything_but_12_digits_is_a_400_on_create_and_nothing_is_written(api, merchant, value):
    response = api.post(ORDERS, _body(merchant, eway_bill_number=value), format="json")

    assert (response.status_code, response.json()) == (400, invalid({"eway_bill_number": [WRONG]}))
    assert Order.objects.count() == 0


def test_a_number_that_is_not_a_string_is_a_400(api, merchant):
    response = api.post(ORDERS, _body(merchant, eway_bill_number={"no": 1}), format="json")

    assert (response.status_code, response.json()["details"]) == (400, {"eway_bill_number": ["Not a valid string."]})


def test_the_number_is_set_and_cleared_by_an_edit_until_the_order_ships(api, merchant):
    order = make_order(merchant, OrderStatus.PACKED)

    set_ = api.patch(f"{ORDERS}{order.pk}/", {"eway_bill_number": EWAY}, format="json")
    cleared = api.patch(f"{ORDERS}{order.pk}/", {"eway_bill_number": ""}, format="json")

    assert (set_.status_code, set_.json()["eway_bill_number"]) == (200, EWAY)
    assert (cleared.status_code, cleared.json()["eway_bill_number"]) == (200, "")
    assert list(OrderEvent.objects.filter(order=order, kind="updated").values_list("message", flat=True)) == [
        "Changed eway_bill_number", "Changed eway_bill_number"]  # fmt: skip
    shipped = make_order(merchant, OrderStatus.SHIPPED)
    late = api.patch(f"{ORDERS}{shipped.pk}/", {"eway_bill_number": EWAY}, format="json")
    assert (late.status_code, late.json()["code"]) == (409, "order_not_editable")


def test_a_wrong_number_in_an_edit_is_a_400_and_keeps_the_old_one(api, merchant):
    order = make_order(merchant, OrderStatus.CONFIRMED, eway_bill_number=EWAY)

    response = api.patch(f"{ORDERS}{order.pk}/", {"eway_bill_number": "12345"}, format="json")

    assert (response.status_code, response.json()) == (400, invalid({"eway_bill_number": [WRONG]}))
    order.refresh_from_db()
    assert order.eway_bill_number == EWAY


def test_another_merchants_order_is_a_404_and_keeps_its_number(merchant, other_merchant, other_api):
    order = make_order(merchant, OrderStatus.PACKED)

    response = other_api.patch(f"{ORDERS}{order.pk}/", {"eway_bill_number": EWAY}, format="json")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    order.refresh_from_db()
    assert order.eway_bill_number == ""
    assert not OrderEvent.objects.filter(order=order, kind="updated").exists()


def test_bulk_creation_takes_the_number_and_reports_a_wrong_one_per_item(api, merchant):
    orders = [_body(merchant, eway_bill_number=EWAY), _body(merchant, eway_bill_number="1")]

    response = api.post(f"{ORDERS}bulk/", {"orders": orders}, format="json")

    results = response.json()["results"]
    assert [(r["status"], r["error"] and r["error"]["details"]) for r in results] == [
        ("created", None), ("failed", {"eway_bill_number": [WRONG]})]  # fmt: skip
    assert list(Order.objects.values_list("eway_bill_number", flat=True)) == [EWAY]


def test_the_database_refuses_a_malformed_number(merchant):
    order = make_order(merchant)

    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(eway_bill_number="12345")
