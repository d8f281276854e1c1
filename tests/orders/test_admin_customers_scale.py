"""The customer list built for a million customers per merchant: keyset pages, most recent buyers first through an
index, search by kind of term through indexes, a constant number of queries per page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.admin.channels import CustomerAdmin
from orders.models import Customer

CUSTOMERS = "/admin/orders/customer/"
START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
#: Queries of one customer list page: session, user, memberships, the page, its count, the user's permissions (two:
#: groups' and own). On PostgreSQL the count runs under a time limit: in a test's transaction that is SAVEPOINT,
#: set the limit, the count, put the limit back, RELEASE (4 more).
PAGE_QUERIES = 7


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(CustomerAdmin, "list_per_page", 3)


def customer(merchant, name: str, minutes: int | None, **fields) -> Customer:
    """A customer whose last order was ``minutes`` after START (None: no order yet)."""
    last = None if minutes is None else START + timedelta(minutes=minutes)
    return Customer.objects.create(merchant=merchant, name=name, last_order_at=last, **fields)


def listed(response) -> list[str]:
    return [row.name for row in response.context["cl"].result_list]


def sortable_headers(response) -> list[str]:
    return [header["text"] for header in result_headers(response.context["cl"]) if header["sortable"]]


def time_limit_queries() -> int:
    return 4 if connection.vendor == "postgresql" else 0


def queries_of(client, url: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


# -- pages ---------------------------------------------------------------------------------------------------------


def test_every_page_costs_the_same_queries(desk, merchant, small_pages):
    for minutes in range(10):
        customer(merchant, f"Customer {minutes}", minutes, phone=f"+91981230000{minutes}")

    first_queries, first = queries_of(desk, CUSTOMERS)
    second_queries, second = queries_of(desk, CUSTOMERS + first.context["cl"].next_url)

    assert listed(first) + listed(second) == [f"Customer {minutes}" for minutes in range(9, 3, -1)]
    assert first_queries == second_queries == PAGE_QUERIES + time_limit_queries()


def test_pages_list_every_customer_once_while_customers_are_added(desk, merchant, other_merchant, small_pages):
    for minutes in (10, 20, 30, 40, 50):
        customer(merchant, f"At {minutes}", minutes)
    customer(merchant, "No order A", None)
    customer(merchant, "No order B", None)
    customer(other_merchant, "Theirs", 45)

    first = desk.get(CUSTOMERS)
    # Customers arrive while the merchant reads: above the page read, below every dated row, and without an order.
    customer(merchant, "Newer", 500)
    customer(merchant, "Older", -500)
    customer(merchant, "No order C", None)
    second = desk.get(CUSTOMERS + first.context["cl"].next_url)
    customer(merchant, "Among the read", 35)
    third = desk.get(CUSTOMERS + second.context["cl"].next_url)

    assert [listed(first), listed(second), listed(third)] == [
        ["At 50", "At 40", "At 30"],
        ["At 20", "At 10", "Older"],
        ["No order C", "No order B", "No order A"],  # without an order: last, newest first
    ]
    assert third.context["cl"].next_url == ""
    assert listed(desk.get(CUSTOMERS + third.context["cl"].previous_url)) == ["At 20", "At 10", "Older"]


def test_the_last_order_column_alone_is_sortable_and_pages_either_way(desk, merchant, small_pages):
    for minutes in (10, 20, 30, 40):
        customer(merchant, f"At {minutes}", minutes)
    customer(merchant, "No order", None)

    column = str(desk.get(CUSTOMERS).context["cl"].list_display.index("last_order_at"))

    first = desk.get(CUSTOMERS, {"o": column})  # the last order, ascending (customers without one still last)
    second = desk.get(CUSTOMERS + first.context["cl"].next_url)

    assert listed(first) + listed(second) == ["At 10", "At 20", "At 30", "At 40", "No order"]
    assert f"o={column}" in first.context["cl"].next_url
    assert sortable_headers(first) == ["last order"]


def test_the_last_order_filter_reads_days_in_the_merchants_time_zone(desk, merchant):
    customer(merchant, "On the day", 0)
    customer(merchant, "Day before", -24 * 60)
    customer(merchant, "No order", None)
    day = START.astimezone(merchant.tzinfo).date().isoformat()

    response = desk.get(CUSTOMERS, {"last_order_after": day, "last_order_before": day})

    assert listed(response) == ["On the day"]


def test_a_cursor_that_is_not_ours_is_an_error_page_not_a_500(desk, merchant):
    customer(merchant, "Anita", 0)

    response = desk.get(CUSTOMERS, {"cursor": "not-a-cursor"})

    assert response.status_code == 302
    assert response.url == CUSTOMERS + "?e=1"


# -- search: each kind of term, exactly ----------------------------------------------------------------------------


@pytest.fixture
def searchable(merchant, other_merchant):
    """Two customers of the merchant, and the same people at another merchant: never found."""
    anita = {"name": "Anita Desai", "phone": "+919876543210", "email": "anita@example.in"}
    ravi = {"name": "Ravi Kumar", "phone": "+919812312312", "email": "ravi@example.in"}
    customer(other_merchant, minutes=30, **anita)
    customer(other_merchant, minutes=30, **ravi)
    return {"anita": customer(merchant, minutes=20, **anita), "ravi": customer(merchant, minutes=10, **ravi)}


@pytest.mark.parametrize(
    "term, expected",
    [
        ("anita@example.in", ["anita"]),
        ("ANITA@Example.in", ["anita"]),
        ("98765 43210", ["anita"]),
        ("+91 98123-12312", ["ravi"]),
        ("09876543210", ["anita"]),
        ("desai", ["anita"]),
        (" 'Ravi K' ", ["ravi"]),
        ("a", ["anita", "ravi"]),
        ("98765", []),  # part of a phone number is no phone, nor part of a name
        ("anita@example", []),  # an email is matched whole
        ("nobody@example.in", []),
    ],
    ids=["email", "email-any-case", "phone-national", "phone-international", "phone-trunk-zero", "name-part",
         "name-quoted", "name-two-customers", "part-of-a-phone", "part-of-an-email", "missing-email"],
)  # fmt: skip
def test_search_finds_each_kind_of_term_exactly(desk, searchable, term, expected):
    response = desk.get(CUSTOMERS, {"q": term})

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [searchable[key].pk for key in expected]


def test_the_search_box_says_what_it_searches(desk, merchant):
    page = desk.get(CUSTOMERS).content.decode()

    assert "An email or a phone number finds its customer exactly; otherwise part of a customer&#x27;s name." in page
