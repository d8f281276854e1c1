"""The inventory API: stock levels, a SKU's totals, adjustments, and the stock-movement ledger."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum

from catalog import services
from catalog.models import ON_HAND_KINDS, StockLevel, StockMovement
from catalog.services import StockLine
from tests.api import NOT_FOUND, invalid, listed_ids, walk
from tests.catalog.factories import LocationFactory, ProductFactory, stock

INVENTORY = "/api/v1/inventory/"
MOVEMENTS = "/api/v1/stock-movements/"


def ledger(merchant) -> list[tuple]:
    return list(
        StockMovement.objects.filter(merchant=merchant)
        .order_by("pk")
        .values_list("product_id", "location_id", "kind", "quantity", "on_hand_after", "reserved_after")
    )


def levels(merchant) -> list[tuple]:
    return list(
        StockLevel.objects.filter(merchant=merchant)
        .order_by("pk")
        .values_list("product_id", "location_id", "on_hand", "reserved", "low_stock_threshold")
    )


@pytest.fixture
def north(merchant):
    return LocationFactory(merchant=merchant, nickname="north", is_default=True)


@pytest.fixture
def south(merchant):
    return LocationFactory(merchant=merchant, nickname="south")


# --- list, filters, orderings ---------------------------------------------------------------------


@pytest.fixture
def stocked(merchant, other_merchant, north, south):
    """Five levels of three SKUs at two locations, and another merchant's decoy level.

    label  sku  location  on_hand  reserved  available  threshold  low?
    a_n    P-A  north     10       2         8          5          no
    a_s    P-A  south     3        0         3          5          yes
    b_n    P-B  north     0        0         0          0          yes
    b_s    P-B  south     3        0         3          0          no
    c_s    P-C  south     20       15        5          5          yes
    """
    a, b, c = (ProductFactory(merchant=merchant, sku=sku) for sku in ("P-A", "P-B", "P-C"))
    rows = {
        "a_n": stock(a, north, 10, reserved=2),
        "a_s": stock(a, south, 3),
        "b_n": stock(b, north, 0),
        "b_s": stock(b, south, 3),
        "c_s": stock(c, south, 20, reserved=15),
    }
    for label in ("a_n", "a_s", "c_s"):
        StockLevel.objects.filter(pk=rows[label].pk).update(low_stock_threshold=5)
    base = datetime(2026, 3, 9, 18, 0, tzinfo=UTC)  # 23:30 on 9 March in Kolkata
    for label, minutes in {"a_n": 0, "a_s": 30, "b_n": 60, "b_s": 30, "c_s": 1500}.items():
        StockLevel.objects.filter(pk=rows[label].pk).update(updated_at=base + timedelta(minutes=minutes))
    decoy_location = LocationFactory(merchant=other_merchant, nickname="north")
    stock(ProductFactory(merchant=other_merchant, sku="P-A"), decoy_location, 1)
    for level in rows.values():
        level.refresh_from_db()
    return rows


def labels_to_ids(stocked, labels: str) -> list[int]:
    return [stocked[label].pk for label in labels.split()]


def test_list_answers_every_level_with_its_fields(api, stocked, north):
    # when
    response = api.get(INVENTORY, {"sku": "P-A"})

    # then
    assert response.status_code == 200
    a_n, a_s = stocked["a_n"], stocked["a_s"]
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "id": a_n.pk,
                "sku": "P-A",
                "product": a_n.product_id,
                "location": north.pk,
                "on_hand": 10,
                "reserved": 2,
                "available": 8,
                "low_stock_threshold": 5,
                "updated_at": "2026-03-09T23:30:00+05:30",
            },
            {
                "id": a_s.pk,
                "sku": "P-A",
                "product": a_s.product_id,
                "location": a_s.location_id,
                "on_hand": 3,
                "reserved": 0,
                "available": 3,
                "low_stock_threshold": 5,
                "updated_at": "2026-03-10T00:00:00+05:30",
            },
        ],
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "a_n a_s b_n b_s c_s"),
        ({"sku": "P-B"}, "b_n b_s"),
        ({"sku": "P-A,P-C"}, "a_n a_s c_s"),
        ({"sku": "P"}, ""),
        ({"location": "north"}, "a_n b_n"),
        ({"location": "south"}, "a_s b_s c_s"),
        ({"location": "nowhere"}, ""),
        ({"low_stock": "true"}, "a_s b_n c_s"),
        ({"low_stock": "false"}, "a_n b_s"),
        ({"available_min": "3"}, "a_n a_s b_s c_s"),
        ({"available_max": "3"}, "a_s b_n b_s"),
        ({"available_min": "1", "available_max": "5"}, "a_s b_s c_s"),
        ({"available_min": "9"}, ""),
        ({"updated_since": "2026-03-10"}, "a_s b_n b_s c_s"),
        ({"updated_since": "2026-03-11"}, "c_s"),
        ({"updated_since": "2026-03-09T18:45:00Z"}, "b_n c_s"),
        ({"updated_since": "2026-03-10T00:00:00+05:30"}, "a_s b_n b_s c_s"),
        ({"sku": "P-A", "low_stock": "true", "location": "south"}, "a_s"),
    ],
)
def test_inventory_filters(api, stocked, params, expected):
    assert listed_ids(api, INVENTORY, params) == labels_to_ids(stocked, expected)


def test_location_filter_takes_the_id_too(api, stocked, north, south):
    assert listed_ids(api, INVENTORY, {"location": north.pk}) == labels_to_ids(stocked, "a_n b_n")
    assert listed_ids(api, INVENTORY, {"location": south.pk}) == labels_to_ids(stocked, "a_s b_s c_s")


def test_location_filter_with_another_merchants_location_lists_nothing(api, stocked, other_merchant):
    theirs = LocationFactory(merchant=other_merchant, nickname="theirs")

    assert listed_ids(api, INVENTORY, {"location": theirs.pk}) == []
    assert listed_ids(api, INVENTORY, {"location": "theirs"}) == []


def test_location_filter_by_id_ignores_a_numeric_nickname(api, merchant, north):
    # given a location whose nickname is north's id, holding stock
    numeric = LocationFactory(merchant=merchant, nickname=str(north.pk))
    at_north = stock(ProductFactory(merchant=merchant, sku="N-1"), north, 1)
    stock(ProductFactory(merchant=merchant, sku="N-2"), numeric, 2)

    # then
    assert listed_ids(api, INVENTORY, {"location": north.pk}) == [at_north.pk]


def test_low_stock_that_is_not_a_boolean_answers_400(api, stocked):
    response = api.get(INVENTORY, {"low_stock": "yes"})

    assert response.status_code == 400
    assert response.json() == invalid({"low_stock": ["Use true or false."]})


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({"available_min": "few"}, {"available_min": ["Enter a number."]}),
        (
            {"updated_since": "10/03/2026"},
            {"updated_since": ["Use YYYY-MM-DD or an ISO 8601 timestamp such as 2026-11-28T09:30:00+05:30."]},
        ),
    ],
)
def test_bad_inventory_filter_value_answers_400(api, stocked, params, details):
    response = api.get(INVENTORY, params)

    assert response.status_code == 400
    assert response.json() == invalid(details)


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("sku", "a_n a_s b_n b_s c_s"),
        ("-sku", "c_s b_s b_n a_s a_n"),
        ("available", "b_n a_s b_s c_s a_n"),
        ("-available", "a_n c_s b_s a_s b_n"),
        ("on_hand", "b_n a_s b_s a_n c_s"),
        ("-on_hand", "c_s a_n b_s a_s b_n"),
        ("updated_at", "a_n a_s b_s b_n c_s"),
        ("-updated_at", "c_s b_n b_s a_s a_n"),
    ],
)
def test_inventory_ordering_is_kept_across_keyset_pages(api, stocked, ordering, expected):
    # when walking pages of two
    ids, sizes = walk(api, INVENTORY, {"ordering": ordering, "page_size": 2})

    # then ties (available 3, on_hand 3, updated_at) are broken by id in the ordering's direction
    assert ids == labels_to_ids(stocked, expected)
    assert sizes == [2, 2, 1]


def test_inventory_list_query_count_does_not_grow_with_pages(
    api, merchant, north, south, django_assert_max_num_queries, django_assert_num_queries
):
    def levels_of(count, prefix):
        for n in range(count):
            stock(ProductFactory(merchant=merchant, sku=f"{prefix}-{n:03d}"), north if n % 2 else south, n + 1)

    # given 3 levels: token, merchant, the page
    levels_of(3, "S")
    with django_assert_max_num_queries(3) as small:
        assert len(api.get(INVENTORY).json()["results"]) == 3
    expected = len(small.captured_queries)

    # when there are more than two pages of 20
    levels_of(40, "T")
    with django_assert_num_queries(expected):
        first = api.get(INVENTORY, {"page_size": 20}).json()
    with django_assert_num_queries(expected):
        second = api.get(first["next"]).json()

    # then
    assert (len(first["results"]), len(second["results"])) == (20, 20)
    assert second["next"] is not None


# --- a SKU's totals -------------------------------------------------------------------------------


def test_sku_totals_over_two_locations(api, merchant, north, south):
    # given
    product = ProductFactory(merchant=merchant, sku="TOT-1")
    stock(product, north, 10, reserved=4)
    stock(product, south, 7, reserved=1)
    StockLevel.objects.filter(product=product, location=south).update(low_stock_threshold=3)

    # when
    response = api.get(f"{INVENTORY}TOT-1/")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "sku": "TOT-1",
        "product": product.pk,
        "total_on_hand": 17,
        "total_reserved": 5,
        "total_available": 12,
        "locations": [
            {
                "location": north.pk,
                "nickname": "north",
                "on_hand": 10,
                "reserved": 4,
                "available": 6,
                "low_stock_threshold": 0,
            },
            {
                "location": south.pk,
                "nickname": "south",
                "on_hand": 7,
                "reserved": 1,
                "available": 6,
                "low_stock_threshold": 3,
            },
        ],
    }


def test_sku_without_stock_answers_zero_totals(api, merchant):
    # given
    product = ProductFactory(merchant=merchant, sku="EMPTY-1")

    # when
    response = api.get(f"{INVENTORY}EMPTY-1/")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "sku": "EMPTY-1",
        "product": product.pk,
        "total_on_hand": 0,
        "total_reserved": 0,
        "total_available": 0,
        "locations": [],
    }


def test_unknown_sku_answers_404(api, merchant, other_merchant, north):
    # given the SKU exists only at another merchant
    stock(ProductFactory(merchant=other_merchant, sku="THEIRS-1"), LocationFactory(merchant=other_merchant), 5)

    # then
    assert (api.get(f"{INVENTORY}NOPE-1/").status_code, api.get(f"{INVENTORY}NOPE-1/").json()) == (404, NOT_FOUND)
    assert api.get(f"{INVENTORY}THEIRS-1/").json() == NOT_FOUND


def test_a_renamed_sku_follows_its_stock(api, merchant, north):
    # given stock of a product that is then renamed through the API
    product = ProductFactory(merchant=merchant, sku="OLD-SKU")
    level = stock(product, north, 4)

    # when
    assert api.patch(f"/api/v1/products/{product.pk}/", {"sku": "NEW-SKU"}, format="json").status_code == 200

    # then
    assert listed_ids(api, INVENTORY, {"sku": "NEW-SKU"}) == [level.pk]
    assert listed_ids(api, INVENTORY, {"sku": "OLD-SKU"}) == []
    assert api.get(f"{INVENTORY}NEW-SKU/").json()["total_on_hand"] == 4
    assert api.get(f"{INVENTORY}OLD-SKU/").status_code == 404


# --- adjust ---------------------------------------------------------------------------------------


def adjust_url(sku: str) -> str:
    return f"{INVENTORY}{sku}/adjust/"


def test_add_remove_and_set_change_on_hand_and_write_the_ledger(api, merchant, north):
    # given a product without stock
    product = ProductFactory(merchant=merchant, sku="ADJ-1")
    actor = f"app:{api.application.client_id}"

    # when adding 5 (location by id), removing 2 (by nickname), then setting 10
    added = api.post(
        adjust_url("ADJ-1"), {"location": north.pk, "action": "add", "quantity": 5, "reason": "PO-17"}, format="json"
    )
    removed = api.post(
        adjust_url("ADJ-1"),
        {"location": "north", "action": "remove", "quantity": 2, "reason": "Damaged"},
        format="json",
    )
    counted = api.post(
        adjust_url("ADJ-1"),
        {"location": "north", "action": "set", "quantity": 10, "reason": "Cycle count"},
        format="json",
    )

    # then each answers the SKU's totals
    assert [r.status_code for r in (added, removed, counted)] == [200, 200, 200]
    assert [r.json()["total_on_hand"] for r in (added, removed, counted)] == [5, 3, 10]
    assert counted.json() == {
        "sku": "ADJ-1",
        "product": product.pk,
        "total_on_hand": 10,
        "total_reserved": 0,
        "total_available": 10,
        "locations": [
            {
                "location": north.pk,
                "nickname": "north",
                "on_hand": 10,
                "reserved": 0,
                "available": 10,
                "low_stock_threshold": 0,
            }
        ],
    }
    # and a ledger row each: receipt for add, adjustment for remove and set, quantities signed
    rows = list(
        StockMovement.objects.filter(product=product)
        .order_by("pk")
        .values("kind", "quantity", "on_hand_after", "reserved_after", "reason", "reference", "actor", "location")
    )
    assert rows == [
        {
            "kind": "receipt",
            "quantity": 5,
            "on_hand_after": 5,
            "reserved_after": 0,
            "reason": "PO-17",
            "reference": "",
            "actor": actor,
            "location": north.pk,
        },
        {
            "kind": "adjustment",
            "quantity": -2,
            "on_hand_after": 3,
            "reserved_after": 0,
            "reason": "Damaged",
            "reference": "",
            "actor": actor,
            "location": north.pk,
        },
        {
            "kind": "adjustment",
            "quantity": 7,
            "on_hand_after": 10,
            "reserved_after": 0,
            "reason": "Cycle count",
            "reference": "",
            "actor": actor,
            "location": north.pk,
        },
    ]
    assert StockLevel.objects.get(product=product, location=north).on_hand == 10


def test_set_downwards_writes_a_negative_adjustment(api, merchant, north):
    # given 10 on hand
    product = ProductFactory(merchant=merchant, sku="ADJ-2")
    stock(product, north, 10)

    # when
    response = api.post(
        adjust_url("ADJ-2"), {"location": "north", "action": "set", "quantity": 4, "reason": "Count"}, format="json"
    )

    # then
    assert response.status_code == 200
    assert response.json()["total_on_hand"] == 4
    last = StockMovement.objects.filter(product=product).latest("pk")
    assert (last.kind, last.quantity, last.on_hand_after) == ("adjustment", -6, 4)


def test_set_to_the_same_quantity_writes_no_ledger_row(api, merchant, north):
    # given 10 on hand
    product = ProductFactory(merchant=merchant, sku="ADJ-3")
    stock(product, north, 10)
    before = ledger(merchant)

    # when
    response = api.post(
        adjust_url("ADJ-3"), {"location": "north", "action": "set", "quantity": 10, "reason": "Count"}, format="json"
    )

    # then
    assert response.status_code == 200
    assert response.json()["total_on_hand"] == 10
    assert ledger(merchant) == before


def test_set_to_zero_empties_the_location(api, merchant, north):
    # given
    product = ProductFactory(merchant=merchant, sku="ADJ-4")
    stock(product, north, 6)

    # when
    response = api.post(
        adjust_url("ADJ-4"), {"location": "north", "action": "set", "quantity": 0, "reason": "Lost"}, format="json"
    )

    # then
    assert response.status_code == 200
    assert response.json()["total_on_hand"] == 0
    last = StockMovement.objects.filter(product=product).latest("pk")
    assert (last.kind, last.quantity, last.on_hand_after) == ("adjustment", -6, 0)


@pytest.mark.parametrize(
    ("action", "quantity"),
    [("remove", 3), ("set", 7)],
)
def test_going_below_reserved_answers_409_insufficient_stock(api, merchant, north, action, quantity):
    # given 10 on hand, 8 of them reserved
    product = ProductFactory(merchant=merchant, sku="RES-1")
    stock(product, north, 10, reserved=8)
    before_levels, before_ledger = levels(merchant), ledger(merchant)

    # when
    response = api.post(
        adjust_url("RES-1"),
        {"location": "north", "action": action, "quantity": quantity, "reason": "Count"},
        format="json",
    )

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_stock",
        "message": "Not enough stock for RES-1.",
        "details": {
            "lines": [
                {
                    "sku": "RES-1",
                    "product": product.pk,
                    "location": north.pk,
                    "requested": quantity,
                    "available": 2,
                    "reserved": 8,
                }
            ]
        },
    }
    assert (levels(merchant), ledger(merchant)) == (before_levels, before_ledger)


def test_removing_down_to_reserved_is_allowed(api, merchant, north):
    # given 10 on hand, 8 reserved
    product = ProductFactory(merchant=merchant, sku="RES-2")
    stock(product, north, 10, reserved=8)

    # when
    response = api.post(
        adjust_url("RES-2"),
        {"location": "north", "action": "remove", "quantity": 2, "reason": "Damaged"},
        format="json",
    )

    # then
    assert response.status_code == 200
    assert (response.json()["total_on_hand"], response.json()["total_available"]) == (8, 0)


def test_stale_expected_on_hand_answers_409_stock_conflict(api, merchant, north):
    # given 10 on hand
    product = ProductFactory(merchant=merchant, sku="CAS-1")
    stock(product, north, 10)
    before_levels, before_ledger = levels(merchant), ledger(merchant)

    # when the caller still believes 7
    response = api.post(
        adjust_url("CAS-1"),
        {"location": "north", "action": "add", "quantity": 5, "reason": "PO", "expected_on_hand": 7},
        format="json",
    )

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "stock_conflict",
        "message": "On hand is 10, not the expected 7; reload and retry.",
        "details": {"expected_on_hand": 7, "on_hand": 10, "sku": "CAS-1"},
    }
    assert (levels(merchant), ledger(merchant)) == (before_levels, before_ledger)


def test_matching_expected_on_hand_applies(api, merchant, north):
    # given 10 on hand
    product = ProductFactory(merchant=merchant, sku="CAS-2")
    stock(product, north, 10)

    # when
    response = api.post(
        adjust_url("CAS-2"),
        {"location": "north", "action": "set", "quantity": 12, "reason": "Count", "expected_on_hand": 10},
        format="json",
    )

    # then
    assert response.status_code == 200
    assert StockLevel.objects.get(product=product).on_hand == 12


def test_expected_on_hand_zero_on_a_new_level(api, merchant, north):
    # given a product with no stock record at the location
    ProductFactory(merchant=merchant, sku="CAS-3")

    # when
    response = api.post(
        adjust_url("CAS-3"),
        {"location": "north", "action": "add", "quantity": 4, "reason": "PO", "expected_on_hand": 0},
        format="json",
    )

    # then
    assert response.status_code == 200
    assert response.json()["total_on_hand"] == 4


@pytest.mark.parametrize(
    ("changes", "details"),
    [
        ({"quantity": -1}, {"quantity": ["Ensure this value is greater than or equal to 0."]}),
        ({"quantity": 1.5}, {"quantity": ["A valid integer is required."]}),
        ({"quantity": "abc"}, {"quantity": ["A valid integer is required."]}),
        ({"quantity": None}, {"quantity": ["This field may not be null."]}),
        ({"quantity": 0}, {"quantity": ["Must be a positive integer (zero only with set)."]}),
        ({"quantity": 10_000_001}, {"quantity": ["Ensure this value is less than or equal to 10000000."]}),
        ({"action": "move"}, {"action": ['"move" is not a valid choice.']}),
        ({"reason": ""}, {"reason": ["This field may not be blank."]}),
        ({"location": "nowhere"}, {"location": ["Unknown location 'nowhere'."]}),
        ({"expected_on_hand": -1}, {"expected_on_hand": ["Ensure this value is greater than or equal to 0."]}),
        ({"low_stock_threshold": "low"}, {"low_stock_threshold": ["A valid integer is required."]}),
    ],
    ids=[
        "negative-quantity",
        "fractional-quantity",
        "text-quantity",
        "null-quantity",
        "zero-add",
        "huge-quantity",
        "unknown-action",
        "blank-reason",
        "unknown-location",
        "negative-expected",
        "text-threshold",
    ],
)
def test_bad_adjustment_answers_400_and_writes_nothing(api, merchant, north, changes, details):
    # given a product with 3 on hand
    product = ProductFactory(merchant=merchant, sku="BAD-1")
    stock(product, north, 3)
    before_levels, before_ledger = levels(merchant), ledger(merchant)
    body = {"location": "north", "action": "add", "quantity": 2, "reason": "PO", **changes}

    # when
    response = api.post(adjust_url("BAD-1"), body, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid(details)
    assert (levels(merchant), ledger(merchant)) == (before_levels, before_ledger)


def test_missing_fields_answer_400(api, merchant, north):
    # given
    ProductFactory(merchant=merchant, sku="BAD-2")

    # when
    response = api.post(adjust_url("BAD-2"), {}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid(
        {
            "location": ["This field is required."],
            "action": ["This field is required."],
            "quantity": ["This field is required."],
            "reason": ["This field is required."],
        }
    )
    assert levels(merchant) == []


def test_zero_add_at_a_new_location_creates_no_level(api, merchant, north, south):
    # given stock only at north
    product = ProductFactory(merchant=merchant, sku="BAD-3")
    stock(product, north, 3)
    before = levels(merchant)

    # when
    response = api.post(
        adjust_url("BAD-3"), {"location": "south", "action": "add", "quantity": 0, "reason": "PO"}, format="json"
    )

    # then
    assert response.status_code == 400
    assert levels(merchant) == before


def test_another_merchants_location_is_unknown(api, merchant, other_merchant, north):
    # given a location of another merchant
    ProductFactory(merchant=merchant, sku="LOC-1")
    theirs = LocationFactory(merchant=other_merchant, nickname="theirs")

    # when named by id and by nickname
    by_id = api.post(
        adjust_url("LOC-1"), {"location": theirs.pk, "action": "add", "quantity": 1, "reason": "PO"}, format="json"
    )
    by_name = api.post(
        adjust_url("LOC-1"), {"location": "theirs", "action": "add", "quantity": 1, "reason": "PO"}, format="json"
    )

    # then
    assert by_id.status_code == by_name.status_code == 400
    assert by_id.json() == invalid({"location": [f"Unknown location '{theirs.pk}'."]})
    assert by_name.json() == invalid({"location": ["Unknown location 'theirs'."]})
    assert StockLevel.objects.count() == 0


def test_a_location_id_is_not_mistaken_for_a_numeric_nickname(api, merchant, north):
    # given a second location whose nickname is north's id
    numeric = LocationFactory(merchant=merchant, nickname=str(north.pk))
    product = ProductFactory(merchant=merchant, sku="AMB-1")

    # when stock is added at north, named by its id
    response = api.post(
        adjust_url("AMB-1"), {"location": north.pk, "action": "add", "quantity": 1, "reason": "PO"}, format="json"
    )

    # then
    assert response.status_code == 200
    assert list(StockLevel.objects.filter(product=product).values_list("location_id", "on_hand")) == [(north.pk, 1)]
    assert not StockLevel.objects.filter(location=numeric).exists()


def test_adjusting_an_unknown_sku_answers_404(api, merchant, other_merchant, north):
    # given the SKU exists only at another merchant
    ProductFactory(merchant=other_merchant, sku="THEIRS-2")

    # when
    responses = [
        api.post(adjust_url(sku), {"location": "north", "action": "add", "quantity": 1, "reason": "PO"}, format="json")
        for sku in ("NOPE-2", "THEIRS-2")
    ]

    # then
    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 2
    assert StockLevel.objects.count() == 0


def test_low_stock_threshold_is_set_with_an_adjustment(api, merchant, north):
    # given
    product = ProductFactory(merchant=merchant, sku="LOW-1")
    stock(product, north, 10)

    # when
    response = api.post(
        adjust_url("LOW-1"),
        {"location": "north", "action": "remove", "quantity": 6, "reason": "Sold offline", "low_stock_threshold": 4},
        format="json",
    )

    # then
    assert response.status_code == 200
    assert response.json()["locations"] == [
        {
            "location": north.pk,
            "nickname": "north",
            "on_hand": 4,
            "reserved": 0,
            "available": 4,
            "low_stock_threshold": 4,
        }
    ]
    assert StockLevel.objects.get(product=product).low_stock_threshold == 4
    assert listed_ids(api, INVENTORY, {"low_stock": "true"}) == [StockLevel.objects.get(product=product).pk]


def test_low_stock_threshold_alone_with_a_set_to_the_same_quantity(api, merchant, north):
    # given
    product = ProductFactory(merchant=merchant, sku="LOW-2")
    stock(product, north, 10)
    before = ledger(merchant)

    # when only the threshold changes
    response = api.post(
        adjust_url("LOW-2"),
        {"location": "north", "action": "set", "quantity": 10, "reason": "Threshold", "low_stock_threshold": 12},
        format="json",
    )

    # then
    assert response.status_code == 200
    assert StockLevel.objects.get(product=product).low_stock_threshold == 12
    assert ledger(merchant) == before


def test_sku_with_a_dot_and_spaces_is_addressable(api, merchant, north):
    # given
    ProductFactory(merchant=merchant, sku="TEE v1.2")

    # when
    response = api.post(
        adjust_url("TEE%20v1.2"), {"location": "north", "action": "add", "quantity": 2, "reason": "PO"}, format="json"
    )

    # then
    assert response.status_code == 200
    assert response.json()["sku"] == "TEE v1.2"
    assert api.get(f"{INVENTORY}TEE%20v1.2/").json()["total_on_hand"] == 2


# --- stock movements ------------------------------------------------------------------------------


@pytest.fixture
def history(api, merchant, north, south):
    """Adjustments through the API and reservations, releases, shipments and restocks through the services."""
    a = ProductFactory(merchant=merchant, sku="MOV-A")
    b = ProductFactory(merchant=merchant, sku="MOV-B")

    def adjust(sku, location, action, quantity):
        body = {"location": location, "action": action, "quantity": quantity, "reason": f"{action} {quantity}"}
        assert api.post(adjust_url(sku), body, format="json").status_code == 200
        return StockMovement.objects.latest("pk")

    def line(product, location, quantity):
        return [StockLine(product.pk, location.pk, quantity)]

    rows = {
        "receipt_a": adjust("MOV-A", "north", "add", 10),
        "remove_a": adjust("MOV-A", "north", "remove", 2),
        "set_a": adjust("MOV-A", north.pk, "set", 12),
        "receipt_b": adjust("MOV-B", "south", "add", 5),
    }
    services.stock_reserve(merchant=merchant, lines=line(a, north, 5), reference="order:1", actor="system")
    rows["reserve_a"] = StockMovement.objects.latest("pk")
    services.stock_release(merchant=merchant, lines=line(a, north, 2), reference="order:1", actor="system")
    rows["release_a"] = StockMovement.objects.latest("pk")
    services.stock_ship(merchant=merchant, lines=line(a, north, 3), reference="order:1", actor="system")
    rows["ship_a"] = StockMovement.objects.latest("pk")
    services.stock_restock(
        merchant=merchant,
        lines=line(a, north, 1),
        kind="return",
        reference="return:1",
        actor="system",
        reason="Customer return",
    )
    rows["return_a"] = StockMovement.objects.latest("pk")
    services.stock_reserve(merchant=merchant, lines=line(b, south, 2), reference="order:2", actor="system")
    rows["reserve_b"] = StockMovement.objects.latest("pk")
    services.stock_ship(merchant=merchant, lines=line(b, south, 2), reference="order:2", actor="system")
    rows["ship_b"] = StockMovement.objects.latest("pk")
    services.stock_restock(merchant=merchant, lines=line(b, north, 1), kind="rto", reference="order:2", actor="system")
    rows["rto_b"] = StockMovement.objects.latest("pk")
    return rows


def names_to_ids(history, names: str) -> list[int]:
    return [history[name].pk for name in names.split()]


def test_movements_are_listed_newest_first_with_every_field(api, merchant, history, north):
    # when
    response = api.get(MOVEMENTS)

    # then
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["results"]] == names_to_ids(
        history,
        "rto_b ship_b reserve_b return_a ship_a release_a reserve_a receipt_b set_a remove_a receipt_a",
    )
    assert [(row["kind"], row["quantity"], row["on_hand_after"], row["reserved_after"]) for row in body["results"]] == [
        ("rto", 1, 1, 0),
        ("shipment", -2, 3, 0),
        ("reservation", 2, 5, 2),
        ("return", 1, 10, 0),
        ("shipment", -3, 9, 0),
        ("release", -2, 12, 3),
        ("reservation", 5, 12, 5),
        ("receipt", 5, 5, 0),
        ("adjustment", 4, 12, 0),
        ("adjustment", -2, 8, 0),
        ("receipt", 10, 10, 0),
    ]
    receipt = history["receipt_a"]
    assert body["results"][-1] == {
        "id": receipt.pk,
        "sku": "MOV-A",
        "product": receipt.product_id,
        "location": north.pk,
        "location_nickname": "north",
        "kind": "receipt",
        "quantity": 10,
        "on_hand_after": 10,
        "reserved_after": 0,
        "reason": "add 10",
        "reference": "",
        "actor": f"app:{api.application.client_id}",
        "created_at": body["results"][-1]["created_at"],
    }
    assert body["results"][-1]["created_at"].endswith("+05:30")
    assert body["results"][3]["reason"] == "Customer return"


def test_on_hand_movements_of_each_level_sum_to_its_on_hand(merchant, history):
    # then for every level, the on-hand kinds add up to on_hand and the last row records both counters
    for level in StockLevel.objects.filter(merchant=merchant):
        movements = StockMovement.objects.filter(stock_level=level)
        on_hand_sum = movements.filter(kind__in=ON_HAND_KINDS).aggregate(total=Sum("quantity"))["total"]
        last = movements.latest("pk")
        assert on_hand_sum == level.on_hand
        assert (last.on_hand_after, last.reserved_after) == (level.on_hand, level.reserved)
    assert sorted(
        StockLevel.objects.filter(merchant=merchant).values_list("sku", "location__nickname", "on_hand", "reserved")
    ) == [
        ("MOV-A", "north", 10, 0),
        ("MOV-B", "north", 1, 0),
        ("MOV-B", "south", 3, 0),
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sku": "MOV-B"}, "rto_b ship_b reserve_b receipt_b"),
        ({"sku": "MOV-A,MOV-B", "kind": "rto"}, "rto_b"),
        ({"location": "south"}, "ship_b reserve_b receipt_b"),
        ({"kind": "receipt"}, "receipt_b receipt_a"),
        ({"kind": ["reservation", "release"]}, "reserve_b release_a reserve_a"),
        ({"kind": ["shipment", "return", "rto"], "sku": "MOV-A"}, "return_a ship_a"),
        ({"reference": "order:1"}, "ship_a release_a reserve_a"),
        ({"reference": "return:1"}, "return_a"),
        ({"reference": "order"}, ""),
    ],
)
def test_movement_filters(api, history, params, expected):
    assert listed_ids(api, MOVEMENTS, params) == names_to_ids(history, expected)


def test_movement_location_filter_takes_the_id(api, history, north):
    assert listed_ids(api, MOVEMENTS, {"location": north.pk}) == names_to_ids(
        history, "rto_b return_a ship_a release_a reserve_a set_a remove_a receipt_a"
    )


def test_movement_created_filters_read_days_in_the_merchants_time_zone(api, history):
    # given movements recorded around midnight 10 March in Kolkata (18:30 UTC on the 9th)
    moments = {
        "receipt_a": datetime(2026, 3, 9, 18, 29, tzinfo=UTC),  # 23:59 on the 9th in Kolkata
        "remove_a": datetime(2026, 3, 9, 18, 30, tzinfo=UTC),  # 00:00 on the 10th
        "set_a": datetime(2026, 3, 10, 18, 29, 59, tzinfo=UTC),  # 23:59:59 on the 10th
        "receipt_b": datetime(2026, 3, 10, 18, 30, tzinfo=UTC),  # 00:00 on the 11th
    }
    StockMovement.objects.update(created_at=datetime(2026, 4, 1, 6, 0, tzinfo=UTC))
    for name, moment in moments.items():
        StockMovement.objects.filter(pk=history[name].pk).update(created_at=moment)
    later = "rto_b ship_b reserve_b return_a ship_a release_a reserve_a"  # on 1 April

    # then
    assert listed_ids(api, MOVEMENTS, {"created_before": "2026-03-09"}) == names_to_ids(history, "receipt_a")
    assert listed_ids(api, MOVEMENTS, {"created_after": "2026-03-10", "created_before": "2026-03-10"}) == (
        names_to_ids(history, "set_a remove_a")
    )
    assert listed_ids(api, MOVEMENTS, {"created_after": "2026-03-11", "created_before": "2026-03-31"}) == (
        names_to_ids(history, "receipt_b")
    )
    assert listed_ids(api, MOVEMENTS, {"created_after": "2026-03-10"}) == names_to_ids(
        history, f"{later} receipt_b set_a remove_a"
    )
    assert listed_ids(
        api, MOVEMENTS, {"created_after": "2026-03-09T18:30:00Z", "created_before": "2026-03-10T18:30:00Z"}
    ) == names_to_ids(history, "receipt_b set_a remove_a")


def test_bad_movement_kind_answers_400(api, history):
    response = api.get(MOVEMENTS, {"kind": "theft"})

    assert response.status_code == 400
    assert response.json() == invalid({"kind": ["Select a valid choice. theft is not one of the available choices."]})


def test_movements_of_another_merchant_are_not_listed(api, other_merchant, history):
    # given another merchant's movement
    stock(ProductFactory(merchant=other_merchant, sku="MOV-A"), LocationFactory(merchant=other_merchant), 3)
    theirs = StockMovement.objects.get(merchant=other_merchant)

    # then
    assert theirs.pk not in listed_ids(api, MOVEMENTS, {"sku": "MOV-A"})
    assert api.get(f"{MOVEMENTS}{theirs.pk}/").json() == NOT_FOUND


def test_the_ledger_is_read_only(api, history):
    # when
    receipt = history["receipt_a"]
    responses = [
        api.post(MOVEMENTS, {"kind": "receipt"}, format="json"),
        api.patch(f"{MOVEMENTS}{receipt.pk}/", {"quantity": 99}, format="json"),
        api.delete(f"{MOVEMENTS}{receipt.pk}/"),
    ]

    # then
    assert [r.status_code for r in responses] == [405, 405, 405]
    assert StockMovement.objects.get(pk=receipt.pk).quantity == 10


def test_movement_list_query_count_does_not_grow_with_pages(
    api, merchant, north, south, django_assert_max_num_queries, django_assert_num_queries
):
    def movements(count, prefix):
        for n in range(count):
            stock(ProductFactory(merchant=merchant, sku=f"{prefix}-{n:03d}"), north if n % 2 else south, n + 1)

    # given 3 movements: token, merchant, the page (product and location joined)
    movements(3, "S")
    with django_assert_max_num_queries(3) as small:
        assert len(api.get(MOVEMENTS).json()["results"]) == 3
    expected = len(small.captured_queries)

    # when there are more than two pages of 20
    movements(40, "T")
    with django_assert_num_queries(expected):
        first = api.get(MOVEMENTS, {"page_size": 20}).json()
    with django_assert_num_queries(expected):
        second = api.get(first["next"]).json()

    # then
    assert (len(first["results"]), len(second["results"])) == (20, 20)
    assert {row["sku"][:2] for row in first["results"] + second["results"]} == {"T-"}
