"""The fast path of order imports: chunks committed one by one, values checked once per distinct value.

The tests in test_imports.py run inside the test's transaction; the ones here commit for real (PostgreSQL), so
each chunk's own transaction and the customers the import remembers between chunks (after each commit) are
exercised.
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from orders.imports import write
from orders.imports.jobs import import_run
from orders.imports.parse import ORDER_COLUMNS
from orders.models import BulkImport, Customer, ImportStatus, Order, OrderEvent, OrderLine
from orders.services.channels import channel_create
from orders.services.prepare import Catalog, prepare_line
from orders.validation import clean_address
from shopops.bulk import copy_rows, pg_array, pg_cursor
from tests.catalog.factories import LocationFactory, ProductFactory
from tests.orders.test_imports import (
    RAHUL,
    REJECT,
    SKIP,
    create,
    csv_bytes,
    expected,
    order_row,
    row_errors,
    run,
    state,
    written,
)

committed = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")


@pytest.fixture
def shop(merchant):
    """As in test_imports.py: the default location blr-wh, the Website channel and two T-shirts."""
    LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    channel_create(merchant=merchant, name="Website")
    ProductFactory(merchant=merchant, sku="TEE-RED-M", title="Cotton crew T-shirt (red, M)", price=Decimal("499.00"),
                   tax_rate=Decimal("5.00"), weight_grams=180)  # fmt: skip
    ProductFactory(merchant=merchant, sku="TEE-BLU-L", title="Cotton crew T-shirt (blue, L)", price=Decimal("599.00"),
                   tax_rate=Decimal("12.00"), weight_grams=220)  # fmt: skip
    return merchant


#: 7 orders over 9 rows, Priya's and Rahul's alternately; BAD-1 (row 6) has a quantity of 0.
PIPELINE_ROWS = [
    order_row("WEB-1", "TEE-RED-M", "1", "499.00"),
    order_row("WEB-2", "TEE-RED-M", "1", "499.00", **RAHUL),
    order_row("WEB-2", "TEE-BLU-L", "2", "599.00", **RAHUL),
    order_row("WEB-3", "TEE-RED-M", "2", "499.00"),
    order_row("BAD-1", "TEE-RED-M", "0", "499.00"),
    order_row("WEB-4", "TEE-BLU-L", "1", "599.00", **RAHUL),
    order_row("WEB-5", "TEE-RED-M", "1", "499.00"),
    order_row("WEB-5", "TEE-BLU-L", "1", "599.00"),
    order_row("WEB-6", "TEE-BLU-L", "3", "599.00", **RAHUL),
]
PIPELINE_RETURNING = [("WEB-1", False), ("WEB-2", False), ("WEB-3", True), ("WEB-4", True), ("WEB-5", True),
                      ("WEB-6", True)]  # fmt: skip


#: Priya: 499 + 998 + 1098; Rahul: 1697 + 599 + 1797
COUNTERS = [("+919812345678", 3, Decimal("2595.00")), ("+919876543210", 3, Decimal("4093.00"))]


def returning_of(merchant) -> list[tuple[str, bool]]:
    orders = Order.objects.filter(merchant=merchant).order_by("number")
    return list(orders.values_list("channel_order_id", "is_returning_customer"))


def counters_of(merchant) -> list[tuple]:
    customers = Customer.objects.filter(merchant=merchant).order_by("phone")
    return list(customers.values_list("phone", "orders_count", "total_spent"))


@committed
@pytest.mark.parametrize("chunk", [1, 2, 500])
def test_committed_chunks_write_every_good_order_once_with_its_customer_counters(shop, postgres, monkeypatch, chunk):
    monkeypatch.setattr(write, "CHUNK_ORDERS", chunk)

    job = run(shop, csv_bytes(PIPELINE_ROWS), error_policy=SKIP)

    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 9, created=6, failed=1)
    assert row_errors(job) == [(6, "quantity", "0", "Ensure this value is greater than or equal to 1.")]
    assert job.next_row == 11
    assert returning_of(shop) == PIPELINE_RETURNING
    assert counters_of(shop) == COUNTERS
    assert written(shop) == {"orders": 6, "lines": 8, "customers": 2, "events": 6}
    assert list(Order.objects.filter(merchant=shop).order_by("number").values_list("number", flat=True)) == [
        f"SO-{n:06d}" for n in range(1, 7)
    ]


@committed
def test_a_chunk_that_fails_stops_the_import_and_it_resumes_after_the_last_commit(shop, postgres, monkeypatch):
    monkeypatch.setattr(write, "CHUNK_ORDERS", 2)
    real_write, calls = write.write_orders, []

    def write_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(write, "write_orders", write_then_crash)
    job = create(shop, csv_bytes(PIPELINE_ROWS), error_policy=SKIP)

    with pytest.raises(RuntimeError, match="worker lost"):
        import_run(job_id=job.pk, claim="task-1")

    job.refresh_from_db()
    assert (job.status, job.next_row, job.created_count, job.processed_rows) == (ImportStatus.IMPORTING, 5, 2, 3)
    assert written(shop) == {"orders": 2, "lines": 3, "customers": 2, "events": 2}

    monkeypatch.setattr(write, "write_orders", real_write)
    job = import_run(job_id=job.pk, claim="task-1")  # its message redelivered: the same task id

    assert len(calls) == 2  # nothing was written after the failed chunk
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 9, created=6, failed=1)
    assert returning_of(shop) == PIPELINE_RETURNING
    assert counters_of(shop) == COUNTERS


@committed
def test_importing_the_file_again_in_committed_chunks_skips_every_order(shop, postgres, monkeypatch):
    monkeypatch.setattr(write, "CHUNK_ORDERS", 2)
    run(shop, csv_bytes(PIPELINE_ROWS), error_policy=SKIP)

    job = run(shop, csv_bytes(PIPELINE_ROWS), error_policy=SKIP)

    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 9, skipped=8, failed=1)
    assert written(shop) == {"orders": 6, "lines": 8, "customers": 2, "events": 6}
    assert BulkImport.objects.filter(merchant=shop).count() == 2


@committed
def test_reject_file_checks_first_then_commits_chunk_by_chunk(shop, postgres, monkeypatch):
    monkeypatch.setattr(write, "CHUNK_ORDERS", 2)
    good = [row for row in PIPELINE_ROWS if row["channel_order_id"] != "BAD-1"]

    job = run(shop, csv_bytes(good), error_policy=REJECT)

    assert state(job) == expected(ImportStatus.DONE, 8, created=6)
    assert returning_of(shop) == PIPELINE_RETURNING
    assert OrderEvent.objects.filter(merchant=shop, kind="created").count() == 6


def test_a_bad_value_repeated_on_several_orders_is_reported_on_each_row(shop):
    """Cells are converted once per distinct value; their errors still go to every row that has them."""
    rows = [
        order_row("BAD-1", "TEE-RED-M", "1", "499.00", shipping_postcode="5600"),
        order_row("BAD-2", "TEE-RED-M", "x", "499.00", shipping_postcode="5600"),
        order_row("BAD-2", "TEE-BLU-L", "x", "599.00", shipping_postcode="5600"),
        order_row("BAD-3", "TEE-RED-M", "x", "499.00", customer_email="nope"),
        order_row("BAD-4", "TEE-BLU-L", "1", "599.00", customer_email="nope"),
        order_row("GOOD-1", "TEE-RED-M", "1", "499.00"),
    ]

    job = run(shop, csv_bytes(rows), error_policy=SKIP)

    assert row_errors(job) == [
        (2, "shipping_postcode", "5600", "Not valid for this country."),
        (3, "quantity", "x", "A valid integer is required."),
        (4, "quantity", "x", "A valid integer is required."),
        (5, "customer_email", "nope", "Enter a valid email address."),
        (5, "quantity", "x", "A valid integer is required."),
        (6, "customer_email", "nope", "Enter a valid email address."),
    ]
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 6, created=1, failed=5)
    assert list(OrderLine.objects.filter(merchant=shop).values_list("sku", "quantity")) == [("TEE-RED-M", 1)]


def test_rows_shorter_or_longer_than_the_header_read_as_blank_or_are_cut(shop):
    columns = ORDER_COLUMNS
    full = csv_bytes([order_row("WEB-1", "TEE-RED-M", "1", "499.00")]).decode().splitlines()
    short = full[1].rsplit(",", 3)[0]  # the last columns (blank in this row) left out
    long = full[1] + ",extra,cells"
    content = "\n".join([",".join(columns), short, long.replace("WEB-1", "WEB-2")]).encode()

    job = run(shop, content, error_policy=SKIP)

    assert row_errors(job) == []
    assert state(job) == expected(ImportStatus.DONE, 2, created=2)


# -- the shared services remember addresses and lines per catalog ---------------------------------------


ADDRESS = {"name": "Priya Sharma", "phone": "+919812345678", "line1": "42 Residency Road", "city": "Bengaluru",
           "state": "karnataka", "postcode": "560025", "country": "IN"}  # fmt: skip


def test_a_remembered_address_is_the_same_result_and_a_copy_each_time(merchant):
    catalog = Catalog(merchant)

    first = clean_address(ADDRESS, "shipping_address", phone_required=True, memo=catalog)
    first["line1"] = "changed by its caller"
    second = clean_address(ADDRESS, "shipping_address", phone_required=True, memo=catalog)

    assert second == clean_address(ADDRESS, "shipping_address", phone_required=True)
    assert (second["state"], second["line1"]) == ("Karnataka", "42 Residency Road")
    assert second is not first


def test_an_invalid_address_is_refused_every_time(merchant):
    catalog = Catalog(merchant)
    bad = ADDRESS | {"postcode": "5600"}

    for _ in range(2):
        with pytest.raises(ValidationError) as refused:
            clean_address(bad, "shipping_address", phone_required=True, memo=catalog)
        assert refused.value.message_dict == {"shipping_address.postcode": ["Not valid for this country."]}


def test_a_remembered_line_follows_the_catalog_product_of_its_sku(shop):
    line = {"sku": "TEE-RED-M", "quantity": 2, "unit_price": Decimal("499.00")}
    catalog = Catalog.for_orders(shop, [{"lines": [line]}])
    known = prepare_line(line, 0, catalog)

    assert prepare_line(dict(line), 3, catalog) is known
    assert (known.product_id, known.tax_amount, known.total) == (
        catalog.products["TEE-RED-M"].pk, Decimal("47.52"), Decimal("998.00"))  # fmt: skip
    del catalog.products["TEE-RED-M"]
    with pytest.raises(ValidationError) as refused:
        prepare_line(line, 3, catalog)
    assert refused.value.message_dict == {"lines.3.name": ["Required for a SKU that is not in the catalog."]}


def test_the_memo_of_a_catalog_is_bounded(merchant, monkeypatch):
    monkeypatch.setattr(Catalog, "MEMO_MAX", 2)
    catalog = Catalog(merchant)

    for postcode in ("560025", "560001", "560002"):
        clean_address(ADDRESS | {"postcode": postcode}, "shipping_address", phone_required=True, memo=catalog)

    assert len(catalog._memo) == 1


# -- helpers of shopops.bulk -------------------------------------------------------------------------


def test_pg_array_passes_values_with_quotes_commas_and_backslashes_as_they_are(db, postgres):
    values = ["plain", "with,comma", 'with "quotes"', "back\\slash", "{braces}", "", "NULL", "spa ce"]

    with pg_cursor() as cursor:
        cursor.execute("SELECT unnest(%s::text[])", [pg_array(values)])
        assert [row[0] for row in cursor.fetchall()] == values
        cursor.execute("SELECT unnest(%s::numeric[])", [pg_array([Decimal("1.50"), 2])])
        assert [row[0] for row in cursor.fetchall()] == [Decimal("1.50"), Decimal("2")]


def test_copy_rows_writes_text_with_tabs_newlines_and_backslashes_and_every_value_type_as_it_is(merchant, postgres):
    ordered = timezone.now().replace(microsecond=123456)
    name = "tab\there, new\nline, cr\rreturn, back\\slash \\N and \u00e9"
    columns = ("merchant_id", "name", "phone", "email", "total_spent", "first_order_at", "last_order_at")

    [pk] = copy_rows(Customer, columns, [(merchant.pk, name, "+919812345678", "", Decimal("12.50"), ordered, None)])

    customer = Customer.objects.get(pk=pk)
    assert (customer.name, customer.total_spent, customer.first_order_at, customer.last_order_at) == (
        name, Decimal("12.50"), ordered, None)  # fmt: skip
    assert (customer.orders_count, customer.email) == (0, "")
