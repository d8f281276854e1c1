"""The order list built for a million orders: keyset pages, counts bounded and said as such, search by kind of
term through indexes, a constant number of queries per page."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import orders.selectors
from orders.admin.orders import OrderAdmin
from orders.models import Order, OrderStatus
from orders.selectors import order_tab_counts
from shopops.counting import ResultCount, bounded_count, capped_counts
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import default_location, make_order
from tests.shopops.factories import MembershipFactory

ORDERS = "/admin/orders/order/"
START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(OrderAdmin, "list_per_page", 3)


def listed(response) -> list[str]:
    return [order.number for order in response.context["cl"].result_list]


def order_at(merchant, minutes: int, **overrides) -> Order:
    return make_order(merchant, ordered_at=START + timedelta(minutes=minutes), **overrides)


def with_sku(merchant, sku: str, quantity: int = 1) -> list:
    product = ProductFactory(merchant=merchant, sku=sku)
    stock(product, default_location(merchant), 100)
    return [(product, quantity)]


# -- pages by keyset ---------------------------------------------------------------------------------------------


def test_pages_list_every_order_once_while_orders_are_added(desk, merchant, small_pages):
    made = [order_at(merchant, minutes) for minutes in range(0, 80, 10)]  # 8 orders, newest listed first
    expected = [order.number for order in reversed(made)]

    first = desk.get(ORDERS)
    # Orders arrive while the merchant reads: newer ones (above the page read) and older ones (below every page).
    newer = order_at(merchant, 500)
    older = order_at(merchant, -500)
    second = desk.get(ORDERS + first.context["cl"].next_url)
    order_at(merchant, 35)  # between the rows of the second page, already read
    third = desk.get(ORDERS + second.context["cl"].next_url)

    assert [listed(first), listed(second), listed(third)] == [
        expected[:3], expected[3:6], [*expected[6:], older.number]]  # fmt: skip
    assert third.context["cl"].next_url == ""
    assert newer.number not in listed(first) + listed(second) + listed(third)


def test_previous_goes_back_to_the_same_rows_and_first_to_the_start(desk, merchant, small_pages):
    made = [order_at(merchant, minutes) for minutes in range(0, 70, 10)]
    numbers = [order.number for order in reversed(made)]
    first = desk.get(ORDERS)
    second = desk.get(ORDERS + first.context["cl"].next_url)
    third = desk.get(ORDERS + second.context["cl"].next_url)

    back = desk.get(ORDERS + third.context["cl"].previous_url)

    assert listed(third) == [numbers[6]]
    assert listed(back) == numbers[3:6]
    assert listed(desk.get(ORDERS + back.context["cl"].previous_url)) == numbers[:3]
    assert first.context["cl"].previous_url == "" and first.context["cl"].first_url == ""
    assert third.context["cl"].first_url == "?"


def test_pages_follow_a_chosen_column_and_keep_filters(desk, merchant, small_pages):
    totals = [Decimal(value) for value in ("100.00", "300.00", "200.00", "500.00", "400.00")]
    made = [order_at(merchant, n, shipping_charge=value) for n, value in enumerate(totals)]
    make_order(merchant, OrderStatus.CONFIRMED)  # filtered out

    first = desk.get(ORDERS, {"o": "7", "status__in": "new"})  # column 7: the total, ascending
    second = desk.get(ORDERS + first.context["cl"].next_url)

    by_total = [order.number for order in sorted(made, key=lambda order: order.total)]
    assert listed(first) + listed(second) == by_total
    assert "status__in=new" in first.context["cl"].next_url and "o=7" in first.context["cl"].next_url


def test_a_column_no_index_serves_is_not_sorted_by_even_when_asked(desk, merchant):
    made = [order_at(merchant, minutes, customer={"name": name}) for minutes, name in
            enumerate(["Bela", "Anil", "Chitra"])]  # fmt: skip

    page = desk.get(ORDERS, {"o": "4"})  # column 4: the customer's name, which no index of orders serves

    assert listed(page) == [order.number for order in reversed(made)]  # newest first, as without ?o=
    assert "o=" not in page.context["cl"].get_query_string()


def test_a_cursor_that_is_not_ours_is_an_error_page_not_a_500(desk, merchant):
    order_at(merchant, 0)

    response = desk.get(ORDERS, {"cursor": "not-a-cursor"})

    assert response.status_code == 302
    assert response.url == ORDERS + "?e=1"


def test_a_cursor_of_another_ordering_is_refused(desk, merchant, small_pages):
    for minutes in range(5):
        order_at(merchant, minutes)
    by_date = desk.get(ORDERS).context["cl"].next_url.removeprefix("?")

    assert desk.get(ORDERS + "?o=7&" + by_date).status_code == 302


# -- counts ------------------------------------------------------------------------------------------------------


def test_the_count_is_exact_under_the_cap(desk, merchant, small_pages):
    for minutes in range(4):
        order_at(merchant, minutes)

    page = desk.get(ORDERS)

    assert page.context["cl"].count == ResultCount(4)
    assert "3 on this page of 4 orders" in page.content.decode()


def test_over_the_cap_the_count_is_labelled_as_an_estimate_or_a_minimum(desk, merchant, small_pages, monkeypatch):
    monkeypatch.setattr(OrderAdmin, "count_cap", 3)
    for minutes in range(6):
        order_at(merchant, minutes)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Order._meta.db_table}")

    page = desk.get(ORDERS).content.decode()

    if connection.vendor == "postgresql":  # the planner's estimate, from the statistics ANALYZE gathered
        assert "3 on this page of about 6 orders (estimated)" in page
    else:
        assert "3 on this page of more than 3 orders" in page
    assert "Select all: " in page


def test_result_count_labels():
    assert ResultCount(1).label("order", "orders") == "1 order"
    assert ResultCount(12345).label("order", "orders") == "12,345 orders"
    assert ResultCount(1_000_000, "estimate").label("order", "orders") == "about 1,000,000 orders (estimated)"
    assert ResultCount(10_000, "at_least").label("order", "orders") == "more than 10,000 orders"


def test_capped_counts_count_up_to_one_past_the_cap_in_one_query(merchant, django_assert_num_queries):
    for minutes in range(5):
        order_at(merchant, minutes)
    orders = Order.objects.filter(merchant=merchant)

    with django_assert_num_queries(1):
        counts = capped_counts({"all": orders, "none": orders.none(), "new": orders.filter(status="new")}, cap=3)

    assert counts == {"all": 4, "none": 0, "new": 4}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's")
def test_a_count_past_its_time_limit_gives_way_to_the_estimate_and_leaves_the_transaction_as_it_was(merchant):
    order_at(merchant, 0)
    slow = Order.objects.extra(where=["pg_sleep(0.2) IS NOT NULL"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        before = cursor.fetchone()[0]

    assert capped_counts({"rows": slow}, cap=10, timeout_ms=20) is None
    assert bounded_count(slow, cap=10, timeout_ms=20).kind == "at_least"  # the planner guesses below the cap
    with connection.cursor() as cursor:  # the transaction goes on, with its own time limit
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone()[0] == before
    assert bounded_count(Order.objects.all(), cap=10, timeout_ms=1000) == ResultCount(1)


def test_tab_counts_stop_one_past_the_cap(merchant):
    for minutes in range(4):
        order_at(merchant, minutes)

    counts = order_tab_counts(Order.objects.filter(merchant=merchant), cap=2)

    assert counts == {"new": 3, "ready": 0, "pickups": 0, "in_transit": 0, "delivered": 0, "rto": 0, "all": 3}


# -- search: each kind of term, exactly ----------------------------------------------------------------------------


@pytest.fixture
def searchable(merchant, other_merchant):
    """Orders of two customers, an order with a rare SKU on two lines, and look-alikes at another merchant."""
    anita = {"name": "Anita Desai", "phone": "+919876543210", "email": "anita@example.in"}
    ravi = {"name": "Ravi Kumar", "phone": "+919812312312", "email": "ravi@example.in"}
    made = {
        "anita": make_order(merchant, customer=anita, channel_order_id="SHOP-1001"),
        "anita_again": make_order(merchant, customer=anita),
        "ravi": make_order(merchant, OrderStatus.SHIPPED, customer=ravi),
        "mug": make_order(merchant, products=with_sku(merchant, "MUG-RED") + with_sku(merchant, "TEE-RED"),
                          customer=ravi),
    }  # fmt: skip
    # Another merchant's orders share the SKU, the customer and the channel order id: never found.
    make_order(other_merchant, products=with_sku(other_merchant, "MUG-RED"), customer=anita,
               channel_order_id="SHOP-1001")  # fmt: skip
    return made


@pytest.mark.parametrize(
    "term, expected",
    [
        (lambda made: made["anita"].number, ["anita"]),
        (lambda made: made["anita"].number.lower(), ["anita"]),
        (lambda made: f'"{made["anita"].number}"', ["anita"]),
        (lambda made: "SHOP-1001", ["anita"]),
        (lambda made: made["ravi"].awb, ["ravi"]),
        (lambda made: "98765 43210", ["anita_again", "anita"]),
        (lambda made: "+91 98765-43210", ["anita_again", "anita"]),
        (lambda made: "ANITA@example.in", ["anita_again", "anita"]),
        (lambda made: "mug-red", ["mug"]),
        (lambda made: "TEE-RED", ["mug"]),
        (lambda made: "desai", ["anita_again", "anita"]),
        (lambda made: "kumar", ["mug", "ravi"]),
        (lambda made: "MUG", []),  # an SKU is matched whole
        (lambda made: "SO-999999", []),
        (lambda made: "nobody@example.in", []),
    ],
    ids=["number", "number-lower-case", "number-quoted", "channel-order-id", "awb", "phone-national",
         "phone-international", "email", "sku", "sku-second-line", "name-part", "name-two-customers",
         "part-of-a-sku", "missing-number", "missing-email"],
)  # fmt: skip
def test_search_finds_each_kind_of_identifier_exactly(desk, searchable, term, expected):
    response = desk.get(ORDERS, {"q": term(searchable)})

    assert response.status_code == 200
    assert listed(response) == [searchable[key].number for key in expected]


def test_a_sku_on_many_lines_is_searched_order_by_order_with_the_same_result(desk, searchable, monkeypatch):
    monkeypatch.setattr(orders.selectors, "COMMON_SKU_LINES", 0)

    assert listed(desk.get(ORDERS, {"q": "mug-red"})) == [searchable["mug"].number]


def test_the_search_box_says_what_it_searches(desk, merchant):
    page = desk.get(ORDERS).content.decode()

    assert (
        "An order number, channel order id or AWB finds its order; otherwise an exact SKU, a customer&#x27;s phone "
        "or email, or part of a customer&#x27;s name."
    ) in page


def test_a_search_costs_the_same_queries_whatever_it_finds(desk, searchable):
    counts = {}
    for term in (searchable["anita"].number, "desai", "mug-red", "nothing-like-this"):
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(ORDERS, {"q": term}).status_code == 200
        counts[term] = len(queries)

    # An identifier is found by its first probe; other terms add the SKU and the customer probes, and a term that
    # finds nothing needs no page query.
    number, name, sku, nothing = counts.values()
    assert (name - number, sku - number, nothing - number) == (2, 2, 1)


# -- queries per page ---------------------------------------------------------------------------------------------


def test_every_page_of_the_list_costs_the_same_queries(desk, merchant, small_pages):
    for minutes in range(10):
        order_at(merchant, minutes, customer={"name": f"Customer {minutes}", "phone": f"+91981230000{minutes}"})

    first_page = len_queries(desk, ORDERS)
    first = desk.get(ORDERS)
    second_page = len_queries(desk, ORDERS + first.context["cl"].next_url)

    assert first_page == second_page == PAGE_QUERIES + time_limit_queries()


def test_a_member_of_two_merchants_and_a_superuser_see_the_same_page(
    client, merchant, other_merchant, owner, small_pages, admin_user
):
    MembershipFactory(merchant=other_merchant, user=owner)
    for minutes in range(4):
        order_at(merchant, minutes)
        order_at(other_merchant, minutes)
    client.force_login(owner)
    member = client.get(ORDERS)
    client.force_login(admin_user)
    superuser = client.get(ORDERS)

    assert len(member.context["cl"].result_list) == len(superuser.context["cl"].result_list) == 3
    assert member.context["cl"].count == superuser.context["cl"].count == ResultCount(8)


#: Queries of one order list page: session, user, memberships, the tab counts, the merchants' time zones, the channel
#: filter's choices, the page (orders with channel and customer), its count, the user's permissions (two: groups'
#: and own). On PostgreSQL the count adds nothing while it is exact.
PAGE_QUERIES = 10


def time_limit_queries() -> int:
    """On PostgreSQL the tab counts and the list's count each run under a time limit: inside a test's transaction
    that is SAVEPOINT, set the limit, the count, put the limit back, RELEASE (a request outside a transaction sets
    the limit in the count's own transaction: one query more)."""
    return 2 * 4 if connection.vendor == "postgresql" else 0


def len_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)
