"""The stock ledger's list built for a million movements per merchant: keyset pages, newest first through an index,
search by exact SKU or reference through indexes, a constant number of queries per page."""

from datetime import timedelta

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import services
from catalog.admin import StockMovementAdmin
from catalog.models import StockMovement
from tests.catalog.factories import LocationFactory, ProductFactory

MOVEMENTS = "/admin/catalog/stockmovement/"
#: Queries of one ledger page: session, user, memberships, the location filter's choices, the page (movements with
#: product and location), its count, the user's permissions (two: groups' and own). On PostgreSQL the count runs
#: under a time limit: in a test's transaction that is SAVEPOINT, set the limit, the count, put the limit back,
#: RELEASE (4 more).
PAGE_QUERIES = 8


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(StockMovementAdmin, "list_per_page", 3)


@pytest.fixture
def shelf(merchant):
    """A product of the merchant and a location to move it at."""
    return ProductFactory(merchant=merchant, sku="MUG-RED"), LocationFactory(merchant=merchant)


def receive(product, location, reference: str = "") -> StockMovement:
    """One unit received through the service: one new ledger row."""
    services.stock_adjust(merchant=product.merchant, product=product, location=location, action="add", quantity=1,
                          reason="test", actor="system", reference=reference)  # fmt: skip
    return StockMovement.objects.filter(product=product).latest("id")


def listed(response) -> list[int]:
    return [movement.pk for movement in response.context["cl"].result_list]


def time_limit_queries() -> int:
    return 4 if connection.vendor == "postgresql" else 0


def queries_of(client, url: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


# -- pages ---------------------------------------------------------------------------------------------------------


def test_every_page_costs_the_same_queries(desk, merchant, shelf, small_pages):
    product, location = shelf
    # Each movement of another product and location, so the page shows several of each.
    made = [receive(ProductFactory(merchant=merchant), LocationFactory(merchant=merchant)) for _ in range(4)]
    made += [receive(product, location) for _ in range(4)]

    first_queries, first = queries_of(desk, MOVEMENTS)
    second_queries, second = queries_of(desk, MOVEMENTS + first.context["cl"].next_url)

    assert listed(first) + listed(second) == [movement.pk for movement in reversed(made)][:6]
    assert first_queries == second_queries == PAGE_QUERIES + time_limit_queries()


def test_pages_list_every_movement_once_while_movements_are_added(desk, merchant, other_merchant, shelf, small_pages):
    product, location = shelf
    made = [receive(product, location) for _ in range(7)]
    receive(ProductFactory(merchant=other_merchant), LocationFactory(merchant=other_merchant))
    expected = [movement.pk for movement in reversed(made)]  # newest first

    first = desk.get(MOVEMENTS)
    newer = receive(product, location)  # above the page read: not listed
    older = receive(product, location)
    StockMovement.objects.filter(pk=older.pk).update(created_at=made[0].created_at - timedelta(days=1))
    second = desk.get(MOVEMENTS + first.context["cl"].next_url)
    among = receive(product, location)  # dated among the rows already read: not listed again
    StockMovement.objects.filter(pk=among.pk).update(created_at=made[5].created_at)
    third = desk.get(MOVEMENTS + second.context["cl"].next_url)

    assert [listed(first), listed(second), listed(third)] == [expected[:3], expected[3:6], [expected[6], older.pk]]
    assert third.context["cl"].next_url == ""
    assert {newer.pk, among.pk}.isdisjoint(listed(first) + listed(second) + listed(third))
    assert listed(desk.get(MOVEMENTS + third.context["cl"].previous_url)) == expected[3:6]


def test_the_time_alone_is_sortable(desk, merchant, shelf, small_pages):
    made = [receive(*shelf) for _ in range(4)]
    column = str(desk.get(MOVEMENTS).context["cl"].list_display.index("created_at"))

    first = desk.get(MOVEMENTS, {"o": column})  # oldest first
    second = desk.get(MOVEMENTS + first.context["cl"].next_url)

    assert listed(first) + listed(second) == [movement.pk for movement in made]
    assert [header["text"] for header in result_headers(first.context["cl"]) if header["sortable"]] == ["created"]


def test_the_date_filter_narrows_to_days(desk, merchant, shelf):
    old, new = receive(*shelf), receive(*shelf)
    StockMovement.objects.filter(pk=old.pk).update(created_at=new.created_at - timedelta(days=60))
    page = desk.get(MOVEMENTS)
    spec = next(spec for spec in page.context["cl"].filter_specs if getattr(spec, "field_path", "") == "created_at")
    past_week = next(choice for choice in spec.choices(page.context["cl"]) if choice["display"] == "Past 7 days")

    response = desk.get(MOVEMENTS + past_week["query_string"])

    assert listed(page) == [new.pk, old.pk]
    assert listed(response) == [new.pk]
    assert page.context["cl"].date_hierarchy is None  # no DISTINCT over every row of the merchant


def test_a_cursor_that_is_not_ours_is_an_error_page_not_a_500(desk, merchant, shelf):
    receive(*shelf)

    response = desk.get(MOVEMENTS, {"cursor": "not-a-cursor"})

    assert response.status_code == 302
    assert response.url == MOVEMENTS + "?e=1"


# -- search: each kind of term, exactly ----------------------------------------------------------------------------


@pytest.fixture
def searchable(merchant, other_merchant, shelf):
    """Movements of two products (one by an order), and the same SKU and reference at another merchant."""
    mug, location = shelf
    tee = ProductFactory(merchant=merchant, sku="Tee-Blue")
    made = {
        "mug": receive(mug, location),
        "tee": receive(tee, location),
        "order": receive(tee, location, reference="order:SO-000123"),
    }
    theirs = LocationFactory(merchant=other_merchant)
    receive(ProductFactory(merchant=other_merchant, sku="MUG-RED"), theirs, reference="order:SO-000123")
    return made


@pytest.mark.parametrize(
    "term, expected",
    [
        ("MUG-RED", ["mug"]),
        ("mug-red", ["mug"]),
        (" TEE-BLUE ", ["order", "tee"]),
        ("order:SO-000123", ["order"]),
        ("MUG", []),  # an SKU is matched whole
        ("SO-000123", []),  # a reference too
        ("order:so-000123", []),  # and exactly
    ],
    ids=["sku", "sku-lower-case", "sku-any-case", "reference", "part-of-a-sku", "part-of-a-reference",
         "reference-in-another-case"],
)  # fmt: skip
def test_search_finds_each_kind_of_term_exactly(desk, searchable, term, expected):
    response = desk.get(MOVEMENTS, {"q": term})

    assert response.status_code == 200
    assert listed(response) == [searchable[key].pk for key in expected]


def test_the_search_box_says_what_it_searches(desk, merchant):
    page = desk.get(MOVEMENTS).content.decode()

    assert "An SKU (any case) finds its product&#x27;s movements; a reference (e.g. order:SO-000123) exactly." in page
