"""The shipment list built for a million shipments: keyset pages, search by kind of term through indexes, a date
filter read in its date's order, the open-NDR filter by ids, a constant number of queries per page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shipping.admin.shipments import ShipmentAdmin
from shipping.models import ShipmentStatus
from tests.shipping.factories import make_shipment, shipping_courier

S = ShipmentStatus
SHIPMENTS = "/admin/shipping/shipment/"
#: Queries of one shipment list page: session, user, memberships, the merchants' time zones, the courier filter's
#: choices, the page (shipments with order and courier, open NDRs as EXISTS), its count, the user's permissions
#: (two) and the actions' permission check. On PostgreSQL the count runs under a time limit: in a test's
#: transaction that is SAVEPOINT, set the limit, the count, put the limit back, RELEASE.
PAGE_QUERIES = 9


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(ShipmentAdmin, "list_per_page", 3)


def listed(response) -> list[int]:
    return [shipment.pk for shipment in response.context["cl"].result_list]


def queries_of(client, url: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


def test_every_page_costs_the_same_queries_and_lists_each_shipment_once_while_more_arrive(desk, merchant,
                                                                                          small_pages):  # fmt: skip
    shipping_courier(merchant)
    made = [make_shipment(merchant) for _ in range(7)]
    expected = [shipment.pk for shipment in reversed(made)]  # newest first

    first_queries, first = queries_of(desk, SHIPMENTS)
    arrived = make_shipment(merchant)  # newer than every row read: above the pages
    second_queries, second = queries_of(desk, SHIPMENTS + first.context["cl"].next_url)
    third = desk.get(SHIPMENTS + second.context["cl"].next_url)

    assert [listed(first), listed(second), listed(third)] == [expected[:3], expected[3:6], expected[6:]]
    assert arrived.pk not in listed(first) + listed(second) + listed(third)
    assert third.context["cl"].next_url == ""
    limit = 4 if connection.vendor == "postgresql" else 0
    assert first_queries == second_queries == PAGE_QUERIES + limit


@pytest.fixture
def searchable(merchant, other_merchant):
    shipping_courier(merchant)
    shipping_courier(other_merchant)
    anita = {"name": "Anita Desai", "phone": "+919876543210", "email": "anita@example.in"}
    made = {
        "booked": make_shipment(merchant, S.AWB_ASSIGNED, customer=anita),
        "new": make_shipment(merchant, S.NEW, customer={"name": "Ravi Kumar", "phone": "+919812312312"}),
    }
    make_shipment(other_merchant, S.AWB_ASSIGNED, customer=anita)  # another merchant's: never found
    return made


@pytest.mark.parametrize(
    "term, expected",
    [
        (lambda made: made["booked"].awb, ["booked"]),
        (lambda made: made["booked"].awb.lower(), ["booked"]),
        (lambda made: made["new"].order.number, ["new"]),
        (lambda made: f" '{made['new'].order.number.lower()}' ", ["new"]),
        (lambda made: "98765 43210", ["booked"]),
        (lambda made: "Anita@Example.in", ["booked"]),
        (lambda made: "kumar", ["new"]),
        (lambda made: "SO-999999", []),
    ],
    ids=["awb", "awb-lower-case", "order-number", "order-number-quoted", "phone", "email", "name-part", "missing"],
)
def test_search_finds_each_kind_of_term_exactly(desk, searchable, term, expected):
    response = desk.get(SHIPMENTS, {"q": term(searchable)})

    assert response.status_code == 200
    assert listed(response) == [searchable[key].pk for key in expected]


def test_a_date_filter_lists_by_that_date_newest_first(desk, merchant):
    shipping_courier(merchant)
    first, second = make_shipment(merchant, S.DELIVERED), make_shipment(merchant, S.DELIVERED)
    later = second.delivered_at + timedelta(hours=5)
    type(first).objects.filter(pk=first.pk).update(delivered_at=later)  # the older shipment delivered last
    day = first.shipped_at.astimezone(merchant.tzinfo).date().isoformat()

    by_created = listed(desk.get(SHIPMENTS))
    by_delivery = listed(desk.get(SHIPMENTS, {"delivered_date_after": day}))

    assert by_created == [second.pk, first.pk]
    assert by_delivery == [first.pk, second.pk]


def test_the_open_ndr_filter_and_a_foreign_cursor(desk, merchant):
    shipping_courier(merchant)
    ndr, delivered = make_shipment(merchant, S.NDR), make_shipment(merchant, S.DELIVERED)

    assert listed(desk.get(SHIPMENTS, {"open_ndr": "yes"})) == [ndr.pk]
    assert listed(desk.get(SHIPMENTS, {"open_ndr": "no"})) == [delivered.pk]
    assert desk.get(SHIPMENTS, {"cursor": "eyJwIjpbXX0"}).status_code == 302
