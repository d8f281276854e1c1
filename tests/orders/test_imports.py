"""File imports (orders.imports): reading, row errors, error policies, re-imports, resuming, round trips, catalog.

Files are built in memory and run through the service as the worker runs them: import_create, then import_run.
"""

import csv
import gc
import io
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files import File
from django.utils import timezone
from openpyxl import Workbook

from catalog.models import MovementKind, Product, StockLevel, StockMovement
from orders import selectors
from orders.imports import write
from orders.imports.jobs import import_create, import_fail_stuck, import_run
from orders.imports.parse import INVENTORY_COLUMNS, ORDER_COLUMNS, ORDER_REQUIRED, PRODUCT_COLUMNS
from orders.imports.presets import NOT_A_PRESET
from orders.models import (
    BulkImport,
    Customer,
    ErrorPolicy,
    ImportKind,
    ImportStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from orders.services.channels import channel_create
from orders.services.prepare import Catalog
from tests.catalog.factories import CategoryFactory, LocationFactory, ProductFactory, stock
from tests.orders.factories import make_order
from tests.shopops.factories import MerchantFactory

ACTOR = "user:1"
REJECT, SKIP = ErrorPolicy.REJECT_FILE, ErrorPolicy.SKIP_FAILED_ROWS
NOTHING_IMPORTED = "1 row(s) have errors; nothing was imported."

PRIYA = {
    "customer_name": "Priya Sharma", "customer_email": "priya@example.in", "customer_phone": "+919812345678",
    "shipping_name": "Priya Sharma", "shipping_phone": "+919812345678", "shipping_line1": "42 Residency Road",
    "shipping_city": "Bengaluru", "shipping_state": "Karnataka", "shipping_postcode": "560025",
    "shipping_country": "IN",
}  # fmt: skip
RAHUL = {
    "customer_name": "Rahul Mehta", "customer_email": "rahul@example.in", "customer_phone": "+919876543210",
    "shipping_name": "Rahul Mehta", "shipping_phone": "+919876543210", "shipping_line1": "7 Marine Drive",
    "shipping_city": "Mumbai", "shipping_state": "Maharashtra", "shipping_postcode": "400001",
    "shipping_country": "IN",
}  # fmt: skip


def order_row(channel_order_id: str, sku: str, quantity: str, unit_price: str, **values) -> dict[str, str]:
    """One row of an orders file: an order's columns (Priya's by default) and one line."""
    return {
        "channel": "Website", "channel_order_id": channel_order_id, "status": "new",
        "ordered_at": "2026-11-28T10:15:00+05:30", "payment_method": "cod", **PRIYA, "sku": sku,
        "quantity": quantity, "unit_price": unit_price, "pickup_location": "blr-wh", **values,
    }  # fmt: skip


#: 3 orders over 5 lines: WEB-1 has 3 lines (one of an SKU not in the catalog), WEB-3 is Priya's second order.
WEB_1 = {"shipping_charge": "49.00", "total": "1895.00"}
HAPPY_ROWS = [
    order_row("WEB-1", "TEE-RED-M", "2", "499.00", discount="50.00", **WEB_1),
    order_row("WEB-1", "TEE-BLU-L", "1", "599.00", **WEB_1),
    order_row("WEB-1", "MUG-01", "1", "299.00", name="Stoneware mug", tax_rate="18.00", hsn_code="6912", **WEB_1),
    order_row("WEB-2", "TEE-BLU-L", "3", "599.00", payment_method="prepaid", ordered_at="2026-11-28T11:00:00+05:30",
              total="1797.00", **RAHUL),
    order_row("WEB-3", "TEE-RED-M", "1", "499.00", ordered_at="2026-11-29T09:30:00+05:30"),
]  # fmt: skip
AT_1 = datetime(2026, 11, 28, 4, 45, tzinfo=UTC)
AT_2 = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
AT_3 = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
#: WEB-1's tax: its lines' 154.93 and its shipping's 2.33 (at 5%, the rate of its largest line, the red tees).
HAPPY_ORDERS = [
    ("SO-000001", "Website", "WEB-1", "new", "cod", "pending", "+919812345678", False, Decimal("1896.00"),
     Decimal("50.00"), Decimal("49.00"), Decimal("157.26"), Decimal("1895.00"), "INR", 580, "blr-wh", AT_1),
    ("SO-000002", "Website", "WEB-2", "new", "prepaid", "paid", "+919876543210", False, Decimal("1797.00"),
     Decimal("0.00"), Decimal("0.00"), Decimal("192.54"), Decimal("1797.00"), "INR", 660, "blr-wh", AT_2),
    ("SO-000003", "Website", "WEB-3", "new", "cod", "pending", "+919812345678", True, Decimal("499.00"),
     Decimal("0.00"), Decimal("0.00"), Decimal("23.76"), Decimal("499.00"), "INR", 180, "blr-wh", AT_3),
]  # fmt: skip
HAPPY_LINES = [
    ("SO-000001", "TEE-RED-M", "TEE-RED-M", "Cotton crew T-shirt (red, M)", 2, Decimal("499.00"), Decimal("50.00"),
     Decimal("5.00"), Decimal("45.14"), "6109", Decimal("948.00")),
    ("SO-000001", "TEE-BLU-L", "TEE-BLU-L", "Cotton crew T-shirt (blue, L)", 1, Decimal("599.00"), Decimal("0.00"),
     Decimal("12.00"), Decimal("64.18"), "6109", Decimal("599.00")),
    ("SO-000001", "MUG-01", None, "Stoneware mug", 1, Decimal("299.00"), Decimal("0.00"), Decimal("18.00"),
     Decimal("45.61"), "6912", Decimal("299.00")),
    ("SO-000002", "TEE-BLU-L", "TEE-BLU-L", "Cotton crew T-shirt (blue, L)", 3, Decimal("599.00"), Decimal("0.00"),
     Decimal("12.00"), Decimal("192.54"), "6109", Decimal("1797.00")),
    ("SO-000003", "TEE-RED-M", "TEE-RED-M", "Cotton crew T-shirt (red, M)", 1, Decimal("499.00"), Decimal("0.00"),
     Decimal("5.00"), Decimal("23.76"), "6109", Decimal("499.00")),
]  # fmt: skip
HAPPY_CUSTOMERS = [
    ("Priya Sharma", "priya@example.in", "+919812345678", 2, Decimal("2394.00"), AT_1, AT_3),
    ("Rahul Mehta", "rahul@example.in", "+919876543210", 1, Decimal("1797.00"), AT_2, AT_2),
]
HAPPY_EVENTS = [
    ("SO-000001", "created", "", "new", ACTOR, "Imported from Website", {"returning_customer": False,
                                                                        "unmapped_skus": ["MUG-01"]}),
    ("SO-000002", "created", "", "new", ACTOR, "Imported from Website", {"returning_customer": False,
                                                                        "unmapped_skus": []}),
    ("SO-000003", "created", "", "new", ACTOR, "Imported from Website", {"returning_customer": True,
                                                                        "unmapped_skus": []}),
]  # fmt: skip
PRIYA_ADDRESS = {
    "name": "Priya Sharma", "phone": "+919812345678", "line1": "42 Residency Road", "line2": "", "city": "Bengaluru",
    "state": "Karnataka", "postcode": "560025", "country": "IN",
}  # fmt: skip


# -- helpers ----------------------------------------------------------------------------


@pytest.fixture
def shop(merchant):
    """The merchant's default location blr-wh, its Website channel and two T-shirts."""
    LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    channel_create(merchant=merchant, name="Website")
    ProductFactory(merchant=merchant, sku="TEE-RED-M", title="Cotton crew T-shirt (red, M)", price=Decimal("499.00"),
                   mrp=Decimal("599.00"), tax_rate=Decimal("5.00"), weight_grams=180)  # fmt: skip
    ProductFactory(merchant=merchant, sku="TEE-BLU-L", title="Cotton crew T-shirt (blue, L)", price=Decimal("599.00"),
                   mrp=Decimal("699.00"), tax_rate=Decimal("12.00"), weight_grams=220)  # fmt: skip
    return merchant


def csv_bytes(rows: list[dict], columns: list[str] = ORDER_COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[row.get(name, "") for name in columns] for row in rows])
    return buffer.getvalue().encode()


def xlsx_bytes(rows: list[list], columns: list[str]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def create(merchant, content: bytes, *, kind: str = ImportKind.ORDERS, name: str = "orders.csv", dry_run=False,
           error_policy: str = REJECT) -> BulkImport:  # fmt: skip
    return import_create(merchant=merchant, kind=kind, upload=File(io.BytesIO(content), name=name),
                                 file_name=name, dry_run=dry_run, error_policy=error_policy, actor=ACTOR)  # fmt: skip


def run(merchant, content: bytes, **options) -> BulkImport:
    return import_run(job_id=create(merchant, content, **options).pk)


def state(job: BulkImport) -> dict:
    job.refresh_from_db()
    return {
        "status": job.status, "total_rows": job.total_rows, "processed_rows": job.processed_rows,
        "created_count": job.created_count, "updated_count": job.updated_count, "skipped_count": job.skipped_count,
        "failed_count": job.failed_count, "error": job.error,
    }  # fmt: skip


def expected(status: str, total: int, processed: int | None = None, *, created=0, updated=0, skipped=0, failed=0,
             error="") -> dict:  # fmt: skip
    return {
        "status": status, "total_rows": total, "processed_rows": total if processed is None else processed,
        "created_count": created, "updated_count": updated, "skipped_count": skipped, "failed_count": failed,
        "error": error,
    }  # fmt: skip


def row_errors(job: BulkImport) -> list[tuple]:
    return list(job.row_errors.order_by("row", "id").values_list("row", "column", "value", "message"))


def written(merchant) -> dict[str, int]:
    """What an orders import writes, counted: "nothing half-written" compares these before and after."""
    return {
        "orders": Order.objects.filter(merchant=merchant).count(),
        "lines": OrderLine.objects.filter(merchant=merchant).count(),
        "customers": Customer.objects.filter(merchant=merchant).count(),
        "events": OrderEvent.objects.filter(merchant=merchant).count(),
    }


NOTHING = {"orders": 0, "lines": 0, "customers": 0, "events": 0}


ORDER_FIELDS = (
    "number", "channel__name", "channel_order_id", "status", "payment_method", "payment_status", "customer__phone",
    "is_returning_customer", "subtotal", "discount_total", "shipping_charge", "tax_total", "total", "currency",
    "weight_grams", "pickup_location__nickname", "ordered_at",
)  # fmt: skip
LINE_FIELDS = ("order__number", "sku", "product__sku", "name", "quantity", "unit_price", "discount", "tax_rate",
               "tax_amount", "hsn_code", "total")  # fmt: skip


def orders_of(merchant) -> list[tuple]:
    return list(Order.objects.filter(merchant=merchant).order_by("number").values_list(*ORDER_FIELDS))


def lines_of(merchant) -> list[tuple]:
    return list(OrderLine.objects.filter(merchant=merchant).order_by("order__number", "id").values_list(*LINE_FIELDS))


def customers_of(merchant) -> list[tuple]:
    return list(
        Customer.objects.filter(merchant=merchant)
        .order_by("phone")
        .values_list("name", "email", "phone", "orders_count", "total_spent", "first_order_at", "last_order_at")
    )


def events_of(merchant) -> list[tuple]:
    return list(
        OrderEvent.objects.filter(merchant=merchant)
        .order_by("order__number", "id")
        .values_list("order__number", "kind", "from_status", "to_status", "actor", "message", "data")
    )


def channel_order_ids(merchant) -> list[str]:
    return list(Order.objects.filter(merchant=merchant).order_by("number").values_list("channel_order_id", flat=True))


# -- the happy path and the formats read ------------------------------------------------------


def test_orders_file_creates_orders_lines_customers_and_events(shop):
    job = run(shop, csv_bytes(HAPPY_ROWS))

    assert state(job) == expected(ImportStatus.DONE, 5, created=3)
    assert row_errors(job) == []
    assert (job.next_row, job.created_by, job.started_at is not None, job.finished_at is not None) == (
        7, ACTOR, True, True)  # fmt: skip
    assert orders_of(shop) == HAPPY_ORDERS
    assert lines_of(shop) == HAPPY_LINES
    assert customers_of(shop) == HAPPY_CUSTOMERS
    assert events_of(shop) == HAPPY_EVENTS
    first = Order.objects.get(merchant=shop, number="SO-000001")
    assert (first.shipping_address, first.billing_address) == (PRIYA_ADDRESS, PRIYA_ADDRESS)
    assert (first.packed_at, first.shipped_at, first.delivered_at, first.cancelled_at, first.awb) == (
        None, None, None, None, "")  # fmt: skip


def test_bom_crlf_quoted_fields_and_loose_header_names_are_read(shop):
    """Excel's "CSV UTF-8": a BOM, CRLF line ends, quoted commas and newlines, headers as people type them."""
    headers = {"channel_order_id": "Channel Order ID", "sku": " SKU ", "payment_method": "Payment-Method",
               "shipping_line1": "SHIPPING  LINE1", "customer_name": "Customer Name"}  # fmt: skip
    rows = [dict(row) for row in HAPPY_ROWS]
    for row in rows[:3]:
        row.update(customer_name="Sharma, Priya", shipping_line1='Flat 4, "Rose" Apartments\nResidency Road')
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [[headers.get(name, name) for name in ORDER_COLUMNS]]
        + [[row.get(name, "") for name in ORDER_COLUMNS] for row in rows]
    )
    content = buffer.getvalue().encode("utf-8-sig")
    assert content.startswith(b"\xef\xbb\xbf") and b'"Flat 4, ""Rose"" Apartments\nResidency Road"' in content

    job = run(shop, content)

    assert state(job) == expected(ImportStatus.DONE, 5, created=3)
    assert orders_of(shop) == HAPPY_ORDERS
    assert lines_of(shop) == HAPPY_LINES
    first = Order.objects.get(merchant=shop, number="SO-000001")
    assert first.shipping_address["line1"] == 'Flat 4, "Rose" Apartments\nResidency Road'
    assert first.customer.name == "Sharma, Priya"


def test_xlsx_file_with_the_same_rows_gives_the_same_result(shop):
    """Numbers as spreadsheet numbers, postcodes as integers: read back as the CSV's text would be."""
    numeric = {"quantity": int, "unit_price": float, "discount": float, "tax_rate": float, "shipping_charge": float,
               "total": float, "shipping_postcode": int}  # fmt: skip
    cells = [
        [numeric.get(name, str)(row[name]) if row.get(name) else None for name in ORDER_COLUMNS] for row in HAPPY_ROWS
    ]

    job = run(shop, xlsx_bytes(cells, ORDER_COLUMNS), name="orders.xlsx")

    assert state(job) == expected(ImportStatus.DONE, 5, created=3)
    assert job.file_name == "orders.xlsx"
    assert orders_of(shop) == HAPPY_ORDERS
    assert lines_of(shop) == HAPPY_LINES
    assert customers_of(shop) == HAPPY_CUSTOMERS
    assert events_of(shop) == HAPPY_EVENTS


def test_blank_rows_are_skipped_and_row_numbers_stay_the_spreadsheet_lines(shop):
    blank = dict.fromkeys(ORDER_COLUMNS, "")
    rows = [*HAPPY_ROWS[:3], blank, HAPPY_ROWS[3], order_row("BAD-1", "TEE-RED-M", "x", "499.00"), HAPPY_ROWS[4], blank]

    job = run(shop, csv_bytes(rows))

    assert row_errors(job) == [(7, "quantity", "x", "A valid integer is required.")]
    assert (job.status, job.failed_count) == (ImportStatus.FAILED, 1)
    assert written(shop) == NOTHING


@pytest.mark.parametrize("policy", [REJECT, SKIP])
def test_blank_rows_are_not_counted_as_rows(shop, policy):
    rows = [*HAPPY_ROWS[:3], dict.fromkeys(ORDER_COLUMNS, ""), *HAPPY_ROWS[3:]]

    job = run(shop, csv_bytes(rows), error_policy=policy)

    assert orders_of(shop) == HAPPY_ORDERS
    assert state(job) == expected(ImportStatus.DONE, 5, created=3)


def test_import_run_leaves_a_finished_job_as_it_is(shop):
    job = run(shop, csv_bytes(HAPPY_ROWS))
    before = state(job)

    again = import_run(job_id=job.pk)

    assert state(again) == before == expected(ImportStatus.DONE, 5, created=3)
    assert written(shop) == {"orders": 3, "lines": 5, "customers": 2, "events": 3}


# -- files refused as a whole -----------------------------------------------------------------


@pytest.mark.parametrize("policy", [REJECT, SKIP])
def test_missing_required_columns_reject_the_file_before_any_write(shop, policy):
    columns = [name for name in ORDER_COLUMNS if name not in ("quantity", "sku")]

    job = run(shop, csv_bytes(HAPPY_ROWS, columns), error_policy=policy)

    assert state(job) == expected(
        ImportStatus.FAILED, 0, error="Required columns are missing: sku, quantity." + NOT_A_PRESET
    )
    assert row_errors(job) == []
    assert written(shop) == NOTHING


def test_missing_columns_are_named_in_the_order_of_order_required(shop):
    columns = [name for name in ORDER_COLUMNS if name not in ORDER_REQUIRED]

    job = run(shop, csv_bytes(HAPPY_ROWS, columns))

    assert job.error == (
        "Required columns are missing: channel_order_id, payment_method, shipping_name, shipping_phone, "
        "shipping_line1, shipping_city, shipping_postcode, sku, quantity, unit_price." + NOT_A_PRESET
    )


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"  \r\n\n", "The file is empty."),
        (b",,,\n", "The file is empty."),
        (",".join(ORDER_COLUMNS).encode() + b"\n", "The file has a header but no rows."),
        (",".join(ORDER_COLUMNS).encode() + b"\n,,,\n\n", "The file has a header but no rows."),
        (PNG, "The file is not a CSV (UTF-8) or XLSX file."),
        (b"channel_order_id,sku\nWEB-1\x00,TEE\n", "The file is not a CSV (UTF-8) or XLSX file."),
        ("channel_order_id,shipping_name\nWEB-1,Zoë Café and more text\n".encode("latin-1"),
         "The file is not UTF-8 text; save it as CSV UTF-8 or XLSX."),
        (b"PK\x03\x04 not really a workbook", "The file is not a readable XLSX workbook."),
    ],
    ids=["empty", "blank-lines", "empty-header", "header-only", "header-and-blank-rows", "png", "nul-bytes", "latin-1",
         "broken-zip"],
)  # fmt: skip
def test_unreadable_files_fail_with_a_message(shop, content, message):
    job = run(shop, content)

    assert state(job) == expected(ImportStatus.FAILED, 0, error=message)
    assert row_errors(job) == []
    assert written(shop) == NOTHING


def test_a_refused_file_leaves_no_reader_failing_behind(shop, monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value}"))
    columns = [name for name in ORDER_COLUMNS if name != "sku"]

    job = run(shop, csv_bytes(HAPPY_ROWS, columns))
    gc.collect()

    assert job.error == "Required columns are missing: sku." + NOT_A_PRESET
    assert unraisable == []


def test_an_empty_workbook_fails_as_empty(shop):
    job = run(shop, xlsx_bytes([], []), name="orders.xlsx")

    assert state(job) == expected(ImportStatus.FAILED, 0, error="The file is empty.")


# -- row errors -------------------------------------------------------------------------------

GOOD_1 = order_row("GOOD-1", "TEE-RED-M", "1", "499.00")
GOOD_2 = order_row("GOOD-2", "TEE-BLU-L", "1", "599.00", **RAHUL)
TOTAL_MESSAGE = (
    "Does not match the computed total 499.00 (lines' quantity x unit_price - discount, plus shipping_charge and "
    "cod_charge)."
)
STATUS_MESSAGE = ("Import orders as new, delivered or cancelled; confirm and pack them in ShopOps, where stock is "
                  "reserved.")  # fmt: skip
DATE_MESSAGE = (
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)

#: (changes to a one-line order, its errors as (column, value, message)); the order sits on row 3.
BAD_ORDERS = {
    "unknown-location": ({"pickup_location": "nowhere"},
                         [("pickup_location", "nowhere", "Unknown pickup location 'nowhere'.")]),
    "unknown-channel": ({"channel": "Nope"}, [("channel", "Nope", "Unknown channel 'Nope'.")]),
    "quantity-text": ({"quantity": "abc"}, [("quantity", "abc", "A valid integer is required.")]),
    "quantity-zero": ({"quantity": "0"}, [("quantity", "0", "Ensure this value is greater than or equal to 1.")]),
    "quantity-negative": ({"quantity": "-1"},
                          [("quantity", "-1", "Ensure this value is greater than or equal to 1.")]),
    "price-3-decimals": ({"unit_price": "1.234"},
                         [("unit_price", "1.234", "Ensure that there are no more than 2 decimal places.")]),
    "price-text": ({"unit_price": "x"}, [("unit_price", "x", "A valid number is required.")]),
    "date": ({"ordered_at": "28/11/2026 10:15"}, [("ordered_at", "28/11/2026 10:15", DATE_MESSAGE)]),
    "postcode": ({"shipping_postcode": "5600"}, [("shipping_postcode", "5600", "Not valid for this country.")]),
    "phone": ({"shipping_phone": "12345"},
              [("shipping_phone", "12345", "'12345' is not a valid phone number for IN.")]),
    "customer-phone": ({"customer_phone": "98"},
                       [("customer_phone", "98", "'98' is not a valid phone number for IN.")]),
    "unknown-sku-without-name": ({"sku": "NEW-SKU"},
                                 [("name", "", "Required for a SKU that is not in the catalog.")]),
    "missing-quantity": ({"quantity": ""}, [("quantity", "", "This field is required.")]),
    "confirmed": ({"status": "confirmed"}, [("status", "confirmed", STATUS_MESSAGE)]),
    "shipped": ({"status": "shipped"}, [("status", "shipped", STATUS_MESSAGE)]),
    "total": ({"total": "999.00"}, [("total", "999.00", TOTAL_MESSAGE)]),
    "payment-method": ({"payment_method": "upi"}, [("payment_method", "upi", '"upi" is not a valid choice.')]),
    "eway-bill-short": ({"eway_bill_number": "33100123"},
                        [("eway_bill_number", "33100123", "An e-way bill number is 12 digits, e.g. 331001234567.")]),
    "eway-bill-spaced": ({"eway_bill_number": "3310 0123 4567"},
                         [("eway_bill_number", "3310 0123 4567",
                           "An e-way bill number is 12 digits, e.g. 331001234567.")]),
    "two-type-errors": ({"quantity": "abc", "unit_price": "x"},
                        [("quantity", "abc", "A valid integer is required."),
                         ("unit_price", "x", "A valid number is required.")]),
    "two-rule-errors": ({"shipping_postcode": "5600", "shipping_phone": "12345"},
                        [("shipping_postcode", "5600", "Not valid for this country."),
                         ("shipping_phone", "12345", "'12345' is not a valid phone number for IN.")]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_ORDERS))
def test_a_bad_row_is_reported_by_row_and_column_and_skipped(shop, case):
    changes, errors = BAD_ORDERS[case]
    rows = [GOOD_1, order_row("BAD-1", "TEE-RED-M", "1", "499.00") | changes, GOOD_2]

    job = run(shop, csv_bytes(rows), error_policy=SKIP)

    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 3, created=2, failed=1)
    assert row_errors(job) == [(3, *error) for error in errors]
    assert channel_order_ids(shop) == ["GOOD-1", "GOOD-2"]
    assert written(shop) == {"orders": 2, "lines": 2, "customers": 2, "events": 2}


@pytest.mark.parametrize("case", list(BAD_ORDERS))
def test_a_bad_row_rejects_the_whole_file(shop, case):
    changes, errors = BAD_ORDERS[case]
    rows = [GOOD_1, order_row("BAD-1", "TEE-RED-M", "1", "499.00") | changes, GOOD_2]

    job = run(shop, csv_bytes(rows), error_policy=REJECT)

    assert state(job) == expected(ImportStatus.FAILED, 3, failed=1, error=NOTHING_IMPORTED)
    assert row_errors(job) == [(3, *error) for error in errors]
    assert written(shop) == NOTHING


def test_errors_on_several_rows_are_all_reported_in_row_order(shop):
    rows = [
        GOOD_1,
        order_row("BAD-1", "TEE-RED-M", "abc", "499.00"),
        order_row("BAD-2", "TEE-RED-M", "1", "499.00"),
        order_row("BAD-2", "TEE-BLU-L", "1", "x"),
        order_row("BAD-3", "TEE-RED-M", "1", "499.00", channel="Nope"),
    ]

    job = run(shop, csv_bytes(rows))

    # failed_count: every row of the orders refused (BAD-2's good row 4 too); the message counts rows with errors
    assert state(job) == expected(ImportStatus.FAILED, 5, failed=4, error="3 row(s) have errors; nothing was imported.")
    assert row_errors(job) == [
        (3, "quantity", "abc", "A valid integer is required."),
        (5, "unit_price", "x", "A valid number is required."),
        (6, "channel", "Nope", "Unknown channel 'Nope'."),
    ]
    assert written(shop) == NOTHING


def test_a_line_error_points_at_the_row_of_that_line(shop):
    """An error of the third line of an order is reported on the third row of the order."""
    rows = [
        GOOD_1,
        order_row("MULTI", "TEE-RED-M", "1", "499.00"),
        order_row("MULTI", "TEE-BLU-L", "1", "599.00"),
        order_row("MULTI", "NEW-SKU", "1", "99.00"),
    ]

    job = run(shop, csv_bytes(rows))

    assert state(job) == expected(ImportStatus.FAILED, 4, failed=3, error=NOTHING_IMPORTED)
    assert row_errors(job) == [(5, "name", "", "Required for a SKU that is not in the catalog.")]
    assert written(shop) == NOTHING


def test_values_that_differ_between_the_rows_of_one_order_are_an_error_on_that_row(shop):
    rows = [
        GOOD_1,
        order_row("MIXED", "TEE-RED-M", "1", "499.00"),
        order_row("MIXED", "TEE-BLU-L", "1", "599.00", payment_method="prepaid"),
        GOOD_2,
    ]

    job = run(shop, csv_bytes(rows))

    assert state(job) == expected(ImportStatus.FAILED, 4, failed=2, error=NOTHING_IMPORTED)
    assert row_errors(job) == [(4, "payment_method", "prepaid", "Differs from row 3 of the same order ('cod').")]
    assert written(shop) == NOTHING


def test_an_order_whose_rows_differ_is_not_written_when_skipping_failed_rows(shop):
    rows = [
        GOOD_1,
        order_row("MIXED", "TEE-RED-M", "1", "499.00"),
        order_row("MIXED", "TEE-BLU-L", "1", "599.00", payment_method="prepaid"),
        GOOD_2,
    ]

    job = run(shop, csv_bytes(rows), error_policy=SKIP)

    assert row_errors(job) == [(4, "payment_method", "prepaid", "Differs from row 3 of the same order ('cod').")]
    assert channel_order_ids(shop) == ["GOOD-1", "GOOD-2"]
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 4, created=2, failed=2)


DUPLICATE_ROWS = [
    GOOD_1,
    order_row("DUP-1", "TEE-RED-M", "1", "499.00"),
    GOOD_2,
    order_row("DUP-1", "TEE-BLU-L", "2", "599.00"),
    order_row("GOOD-3", "TEE-RED-M", "3", "499.00"),
]
REPEATED = "The order appears again further down the file; keep its rows together."
DUPLICATE_ERROR = (5, "channel_order_id", "DUP-1", REPEATED)


def test_an_order_id_again_further_down_the_file_is_an_error_on_the_later_row(shop):
    job = run(shop, csv_bytes(DUPLICATE_ROWS), error_policy=SKIP)

    assert row_errors(job) == [DUPLICATE_ERROR]
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 5, created=4, failed=1)
    assert channel_order_ids(shop) == ["GOOD-1", "DUP-1", "GOOD-2", "GOOD-3"]
    assert list(OrderLine.objects.filter(order__channel_order_id="DUP-1").values_list("sku", "quantity")) == [
        ("TEE-RED-M", 1)
    ]


def test_an_order_id_again_further_down_the_file_rejects_the_file(shop):
    job = run(shop, csv_bytes(DUPLICATE_ROWS), error_policy=REJECT)

    assert row_errors(job) == [DUPLICATE_ERROR]
    assert (job.status, job.failed_count, job.error, job.created_count) == (
        ImportStatus.FAILED, 1, NOTHING_IMPORTED, 0)  # fmt: skip
    assert written(shop) == NOTHING


def test_rows_of_a_repeated_order_id_are_counted_when_rejecting(shop):
    job = run(shop, csv_bytes(DUPLICATE_ROWS), error_policy=REJECT)

    assert state(job) == expected(ImportStatus.FAILED, 5, failed=1, error=NOTHING_IMPORTED)


@pytest.mark.parametrize("chunk", [500, 2])
def test_a_repeated_order_id_on_the_last_row_is_reported_and_counted(shop, monkeypatch, chunk):
    monkeypatch.setattr(write, "CHUNK_ORDERS", chunk)
    rows = [GOOD_1, GOOD_2, order_row("GOOD-1", "TEE-BLU-L", "1", "599.00")]

    job = run(shop, csv_bytes(rows), error_policy=SKIP)

    assert channel_order_ids(shop) == ["GOOD-1", "GOOD-2"]
    assert row_errors(job) == [(4, "channel_order_id", "GOOD-1", REPEATED)]
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 3, created=2, failed=1)


def test_row_errors_after_the_first_chunk_are_recorded(shop, monkeypatch):
    monkeypatch.setattr(write, "CHUNK_ORDERS", 2)
    rows = [
        *[order_row(f"WEB-{n}", "TEE-RED-M", "1", "499.00") for n in (1, 2, 3)],
        order_row("BAD-1", "TEE-RED-M", "abc", "499.00"),
        order_row("WEB-4", "TEE-RED-M", "1", "499.00"),
    ]

    job = run(shop, csv_bytes(rows), error_policy=SKIP)

    assert channel_order_ids(shop) == ["WEB-1", "WEB-2", "WEB-3", "WEB-4"]
    assert row_errors(job) == [(5, "quantity", "abc", "A valid integer is required.")]
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 5, created=4, failed=1)


def test_every_row_of_an_order_refused_for_one_line_is_processed(shop):
    rows = [
        order_row("MULTI", "TEE-RED-M", "1", "499.00"),
        order_row("MULTI", "TEE-BLU-L", "abc", "599.00"),
        GOOD_2,
    ]

    job = run(shop, csv_bytes(rows), error_policy=SKIP)

    assert row_errors(job) == [(3, "quantity", "abc", "A valid integer is required.")]
    assert channel_order_ids(shop) == ["GOOD-2"]
    # failed_count: both rows of the refused order (row 2 has no error of its own but is not imported)
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 3, created=1, failed=2)


def test_an_invalid_customer_email_is_a_row_error(shop):
    rows = [GOOD_1, order_row("BAD-1", "TEE-RED-M", "1", "499.00", **RAHUL | {"customer_email": "not-an-email"})]

    job = run(shop, csv_bytes(rows), error_policy=SKIP)

    assert row_errors(job) == [(3, "customer_email", "not-an-email", "Enter a valid email address.")]
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 2, created=1, failed=1)
    assert list(Customer.objects.filter(merchant=shop).values_list("email", flat=True)) == ["priya@example.in"]


def test_packed_after_shipped_is_a_row_error(shop):
    delivered = {"status": "delivered", "packed_at": "2026-11-30T10:00:00+05:30",
                 "shipped_at": "2026-11-29T10:00:00+05:30", "delivered_at": "2026-12-01T10:00:00+05:30"}  # fmt: skip
    rows = [GOOD_1, order_row("BAD-1", "TEE-RED-M", "1", "499.00", **delivered)]

    job = run(shop, csv_bytes(rows), error_policy=SKIP)

    assert row_errors(job) == [(3, "packed_at", "2026-11-30T10:00:00+05:30", "Must not be after shipped_at.")]
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 2, created=1, failed=1)


# -- error policies and dry runs ---------------------------------------------------------------


def test_reject_file_with_one_bad_row_writes_nothing_and_uses_no_order_numbers(shop):
    rows = [*HAPPY_ROWS, order_row("BAD-1", "TEE-RED-M", "0", "499.00")]

    job = run(shop, csv_bytes(rows), error_policy=REJECT)

    assert state(job) == expected(ImportStatus.FAILED, 6, failed=1, error=NOTHING_IMPORTED)
    assert row_errors(job) == [(7, "quantity", "0", "Ensure this value is greater than or equal to 1.")]
    assert written(shop) == NOTHING
    assert run(shop, csv_bytes(HAPPY_ROWS)).status == ImportStatus.DONE
    assert orders_of(shop) == HAPPY_ORDERS


def test_skip_failed_rows_writes_exactly_the_good_orders(shop):
    rows = [
        *HAPPY_ROWS[:3],
        order_row("BAD-1", "TEE-RED-M", "1", "1.234"),
        *HAPPY_ROWS[3:],
        order_row("BAD-2", "TEE-RED-M", "1", "499.00", pickup_location="nowhere"),
    ]

    job = run(shop, csv_bytes(rows), error_policy=SKIP)

    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 7, created=3, failed=2)
    assert row_errors(job) == [
        (5, "unit_price", "1.234", "Ensure that there are no more than 2 decimal places."),
        (8, "pickup_location", "nowhere", "Unknown pickup location 'nowhere'."),
    ]
    assert orders_of(shop) == HAPPY_ORDERS
    assert lines_of(shop) == HAPPY_LINES
    assert customers_of(shop) == HAPPY_CUSTOMERS


@pytest.mark.parametrize("policy", [REJECT, SKIP])
def test_dry_run_checks_every_row_and_writes_nothing(shop, policy):
    job = run(shop, csv_bytes(HAPPY_ROWS), dry_run=True, error_policy=policy)

    assert state(job) == expected(ImportStatus.DONE, 5)
    assert row_errors(job) == []
    assert written(shop) == NOTHING
    assert BulkImport.objects.get(pk=job.pk).next_row == 0


def test_dry_run_with_reject_file_reports_the_errors(shop):
    rows = [*HAPPY_ROWS, order_row("BAD-1", "TEE-RED-M", "1", "499.00", shipping_postcode="5600")]

    job = run(shop, csv_bytes(rows), dry_run=True, error_policy=REJECT)

    assert state(job) == expected(ImportStatus.FAILED, 6, failed=1, error=NOTHING_IMPORTED)
    assert row_errors(job) == [(7, "shipping_postcode", "5600", "Not valid for this country.")]
    assert written(shop) == NOTHING


def test_dry_run_without_a_channel_column_creates_no_channel(shop):
    columns = [name for name in ORDER_COLUMNS if name != "channel"]
    channels = list(shop.channels.values_list("name", flat=True))

    job = run(shop, csv_bytes(HAPPY_ROWS, columns), dry_run=True)

    assert state(job) == expected(ImportStatus.DONE, 5)
    assert written(shop) == NOTHING
    assert list(shop.channels.values_list("name", flat=True)) == channels == ["Website"]


def test_rows_without_a_channel_go_to_the_default_api_channel(shop):
    columns = [name for name in ORDER_COLUMNS if name != "channel"]

    job = run(shop, csv_bytes(HAPPY_ROWS, columns))

    assert state(job) == expected(ImportStatus.DONE, 5, created=3)
    assert set(Order.objects.filter(merchant=shop).values_list("channel__name", "channel__is_default_api")) == {
        ("API", True)}  # fmt: skip
    assert [event[5] for event in events_of(shop)] == ["Imported from API"] * 3


def test_dry_run_with_skip_failed_rows_reports_a_partial_import(shop):
    rows = [*HAPPY_ROWS, order_row("BAD-1", "TEE-RED-M", "1", "499.00", shipping_postcode="5600")]

    job = run(shop, csv_bytes(rows), dry_run=True, error_policy=SKIP)

    assert row_errors(job) == [(7, "shipping_postcode", "5600", "Not valid for this country.")]
    assert written(shop) == NOTHING
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 6, failed=1)


# -- importing again ----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [REJECT, SKIP])
def test_importing_the_same_file_again_skips_every_order(shop, policy):
    run(shop, csv_bytes(HAPPY_ROWS))

    job = run(shop, csv_bytes(HAPPY_ROWS), error_policy=policy)

    assert state(job) == expected(ImportStatus.DONE, 5, skipped=5)
    assert orders_of(shop) == HAPPY_ORDERS
    assert customers_of(shop) == HAPPY_CUSTOMERS
    assert written(shop) == {"orders": 3, "lines": 5, "customers": 2, "events": 3}


def test_a_file_overlapping_an_earlier_one_creates_only_the_new_orders(shop):
    run(shop, csv_bytes(HAPPY_ROWS[:4]))
    assert channel_order_ids(shop) == ["WEB-1", "WEB-2"]
    web_4 = order_row("WEB-4", "TEE-BLU-L", "1", "599.00", ordered_at="2026-11-30T12:00:00+05:30", **RAHUL)

    job = run(shop, csv_bytes([*HAPPY_ROWS[3:], web_4]))

    assert state(job) == expected(ImportStatus.DONE, 3, created=2, skipped=1)
    assert list(Order.objects.filter(merchant=shop).order_by("number").values_list("number", "channel_order_id")) == [
        ("SO-000001", "WEB-1"), ("SO-000002", "WEB-2"), ("SO-000003", "WEB-3"), ("SO-000004", "WEB-4"),
    ]  # fmt: skip
    assert orders_of(shop)[:3] == HAPPY_ORDERS
    assert Order.objects.get(channel_order_id="WEB-4").is_returning_customer is True
    assert customers_of(shop) == [
        HAPPY_CUSTOMERS[0],
        ("Rahul Mehta", "rahul@example.in", "+919876543210", 2, Decimal("2396.00"), AT_2,
         datetime(2026, 11, 30, 6, 30, tzinfo=UTC)),
    ]  # fmt: skip


def test_an_order_created_through_the_api_is_skipped_by_the_import(shop):
    channel = Catalog.for_orders(shop, []).channels["Website"]
    make_order(shop, channel=channel.channel_id, channel_order_id="WEB-2")

    job = run(shop, csv_bytes(HAPPY_ROWS))

    assert state(job) == expected(ImportStatus.DONE, 5, created=2, skipped=1)
    assert list(Order.objects.filter(merchant=shop).order_by("number").values_list("number", "channel_order_id")) == [
        ("SO-000001", "WEB-2"), ("SO-000002", "WEB-1"), ("SO-000003", "WEB-3"),
    ]  # fmt: skip


# -- resuming after a crash -------------------------------------------------------------------------


RESUME_ROWS = [
    order_row("WEB-1", "TEE-RED-M", "1", "499.00"),
    order_row("WEB-2", "TEE-RED-M", "1", "499.00", **RAHUL),
    order_row("WEB-2", "TEE-BLU-L", "1", "599.00", **RAHUL),
    order_row("WEB-3", "TEE-RED-M", "2", "499.00"),
    order_row("WEB-4", "TEE-BLU-L", "1", "599.00"),
    order_row("WEB-5", "TEE-RED-M", "1", "499.00", **RAHUL),
    order_row("WEB-6", "TEE-BLU-L", "2", "599.00"),
]


@pytest.mark.parametrize(("policy", "total_after_crash"), [(REJECT, 7), (SKIP, 5)])
def test_a_job_that_crashed_resumes_after_its_last_committed_chunk(shop, monkeypatch, policy, total_after_crash):
    monkeypatch.setattr(write, "CHUNK_ORDERS", 2)
    real_write, calls = write.write_orders, []

    def write_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(write, "write_orders", write_then_crash)
    job = create(shop, csv_bytes(RESUME_ROWS), error_policy=policy)

    with pytest.raises(RuntimeError, match="worker lost"):
        import_run(job_id=job.pk, claim="task-1")

    job.refresh_from_db()
    assert (job.next_row, job.status, job.finished_at) == (7, ImportStatus.IMPORTING, None)
    assert state(job) == expected(ImportStatus.IMPORTING, total_after_crash, 5, created=4)
    assert channel_order_ids(shop) == ["WEB-1", "WEB-2", "WEB-3", "WEB-4"]
    assert written(shop) == {"orders": 4, "lines": 5, "customers": 2, "events": 4}

    monkeypatch.undo()
    job = import_run(job_id=job.pk, claim="task-1")  # its message redelivered: the same task id

    assert len(calls) == 3
    assert state(job) == expected(ImportStatus.DONE, 7, created=6)
    assert job.next_row == 9
    assert list(Order.objects.filter(merchant=shop).order_by("number").values_list("number", "channel_order_id")) == [
        (f"SO-{n:06d}", f"WEB-{n}") for n in range(1, 7)
    ]
    assert written(shop) == {"orders": 6, "lines": 7, "customers": 2, "events": 6}
    returning = Order.objects.filter(merchant=shop).order_by("number").values_list("is_returning_customer", flat=True)
    assert list(returning) == [False, False, True, True, True, True]
    assert list(Customer.objects.filter(merchant=shop).order_by("phone").values_list("orders_count", flat=True)) == [
        4, 2]  # fmt: skip


def test_import_fail_stuck_fails_silent_jobs_and_leaves_fresh_ones(shop):
    now = timezone.now()
    stale = create(shop, csv_bytes(HAPPY_ROWS))
    fresh = create(shop, csv_bytes(HAPPY_ROWS))
    validating = create(shop, csv_bytes(HAPPY_ROWS))
    finished = create(shop, csv_bytes(HAPPY_ROWS))
    for job, status, silent_for in [
        (stale, ImportStatus.IMPORTING, timedelta(minutes=6)),
        (fresh, ImportStatus.IMPORTING, timedelta(minutes=4)),
        (validating, ImportStatus.VALIDATING, timedelta(hours=1)),
        (finished, ImportStatus.DONE, timedelta(hours=1)),
    ]:
        BulkImport.objects.filter(pk=job.pk).update(status=status, heartbeat_at=now - silent_for)

    assert import_fail_stuck(older_than=timedelta(minutes=5)) == 2

    lost = "The import stopped making progress (worker lost or time limit)."
    jobs = {job.pk: job for job in BulkImport.objects.all()}
    assert [(jobs[j.pk].status, jobs[j.pk].error) for j in (stale, fresh, validating, finished)] == [
        (ImportStatus.FAILED, lost), (ImportStatus.IMPORTING, ""), (ImportStatus.FAILED, lost),
        (ImportStatus.DONE, ""),
    ]  # fmt: skip
    assert jobs[stale.pk].finished_at is not None and jobs[fresh.pk].finished_at is None


def test_the_e_way_bill_number_is_imported_with_its_order(shop):
    rows = [order_row("EWB-1", "TEE-RED-M", "1", "499.00", eway_bill_number="331001234567"), GOOD_2]

    job = run(shop, csv_bytes(rows))

    assert state(job) == expected(ImportStatus.DONE, 2, created=2)
    assert list(Order.objects.filter(merchant=shop).order_by("number").values_list(
        "channel_order_id", "eway_bill_number")) == [("EWB-1", "331001234567"), ("GOOD-2", "")]  # fmt: skip


# -- round trip: export, import elsewhere, export again -------------------------------------------


FORMULA = '=HYPERLINK("https://evil.example/","Click")'


def export_csv(merchant) -> list[list[str]]:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        selectors.order_export_rows(Order.objects.filter(merchant=merchant).order_by("ordered_at", "id"))
    )
    return list(csv.reader(io.StringIO(buffer.getvalue())))


def test_an_export_imported_into_another_merchant_exports_the_same(merchant):
    """Orders new, delivered and cancelled go from merchant A to B and come back out column for column."""
    shop_a, shop_b = merchant, MerchantFactory(name="Branch", slug="branch")
    for shop in (shop_a, shop_b):
        LocationFactory(merchant=shop, nickname="blr-wh", is_default=True)
    website = channel_create(merchant=shop_a, name="Website")
    red = ProductFactory(merchant=shop_a, sku="TEE-RED-M", price=Decimal("499.00"), tax_rate=Decimal("5.00"))
    mug = ProductFactory(merchant=shop_a, sku="MUG-01", price=Decimal("299.00"), hsn_code="6912", weight_grams=400)
    for product in (red, mug):
        stock(product, product.merchant.locations.get(), 100)
    formula_customer = {"name": FORMULA, "email": "buyer@example.in", "phone": "+919900112233"}
    make_order(shop_a, OrderStatus.NEW, products=[(red, 2), (mug, 1)], channel=website.channel_id)
    make_order(shop_a, OrderStatus.DELIVERED, products=[(red, 1)], payment_method="cod")
    make_order(shop_a, OrderStatus.CANCELLED, products=[(mug, 3)], channel=website.channel_id)
    make_order(shop_a, OrderStatus.DELIVERED, products=[(red, 1), (mug, 2)], channel=website.channel_id,
               customer=formula_customer)  # fmt: skip
    make_order(shop_a, OrderStatus.NEW, products=[(mug, 1)], shipping_charge=Decimal("40.00"),
               eway_bill_number="331001234567")  # fmt: skip
    make_order(shop_a, OrderStatus.CANCELLED, products=[(red, 4)], payment_method="cod")
    exported = export_csv(shop_a)
    assert [row[-1] for row in exported] == ["eway_bill_number", "", "", "", "", "", "", "331001234567", ""]
    assert len(exported) == 1 + 8
    assert {row[3] for row in exported[1:]} == {"new", "delivered", "cancelled"}
    assert [row[7] for row in exported[1:] if row[9] == "+919900112233"] == [f"'{FORMULA}", f"'{FORMULA}"]

    for name in ("Website", "API"):
        channel_create(merchant=shop_b, name=name)
    for product in (red, mug):
        ProductFactory(merchant=shop_b, sku=product.sku, title=product.title, price=product.price,
                       tax_rate=product.tax_rate, hsn_code=product.hsn_code,
                       weight_grams=product.weight_grams)  # fmt: skip
    content = io.StringIO()
    csv.writer(content, lineterminator="\n").writerows(exported)

    job = run(shop_b, content.getvalue().encode())

    assert state(job) == expected(ImportStatus.DONE, 8, created=6)
    assert row_errors(job) == []
    again = export_csv(shop_b)
    assert [row[1:] for row in again] == [row[1:] for row in exported]
    assert [row[0] for row in again[1:]] == [
        "SO-000001", "SO-000001", "SO-000002", "SO-000003", "SO-000004", "SO-000004", "SO-000005", "SO-000006",
    ]  # fmt: skip
    assert Customer.objects.get(merchant=shop_b, phone="+919900112233").name == FORMULA
    delivered = Order.objects.filter(merchant=shop_b, status=OrderStatus.DELIVERED).order_by("ordered_at")
    assert [(o.packed_at is not None, o.shipped_at is not None, o.delivered_at is not None) for o in delivered] == [
        (True, True, True), (True, True, True)]  # fmt: skip
    assert StockLevel.objects.filter(merchant=shop_b).count() == 0


def test_an_exported_order_without_a_weight_imports_back(merchant):
    shop_b = MerchantFactory(name="Branch", slug="branch")
    for shop in (merchant, shop_b):
        LocationFactory(merchant=shop, nickname="blr-wh", is_default=True)
    channel_create(merchant=shop_b, name="API")
    make_order(merchant, products=[], lines=[{"sku": "GIFT-WRAP", "name": "Gift wrap", "quantity": 1,
                                              "unit_price": Decimal("30.00")}])  # fmt: skip
    exported = export_csv(merchant)
    assert exported[1][ORDER_COLUMNS.index("weight_grams")] == "0"
    content = io.StringIO()
    csv.writer(content, lineterminator="\n").writerows(exported)

    job = run(shop_b, content.getvalue().encode())

    assert row_errors(job) == []
    assert state(job) == expected(ImportStatus.DONE, 1, created=1)
    assert [row[1:] for row in export_csv(shop_b)] == [row[1:] for row in exported]


# -- products -------------------------------------------------------------------------------


def products_of(merchant) -> list[tuple]:
    return list(
        Product.objects.filter(merchant=merchant)
        .order_by("sku")
        .values_list(
            "sku",
            "title",
            "brand",
            "category__slug",
            "hsn_code",
            "tax_rate",
            "mrp",
            "price",
            "weight_grams",
            "barcode",
            "status",
        )  # fmt: skip
    )


def test_products_are_created_and_updated_by_sku(shop):
    CategoryFactory(merchant=shop, name="Apparel", slug="apparel")
    rows = [
        {"sku": "TEE-GRN-M", "title": "Cotton crew T-shirt (green, M)", "description": "100% cotton",
         "brand": "Loomwear", "category": "apparel", "hsn_code": "6109", "tax_rate": "5.00", "mrp": "699.00",
         "price": "499.00", "currency": "INR", "weight_grams": "180", "barcode": "5901234123457", "status": "active"},
        {"sku": "TEE-RED-M", "title": "Cotton crew T-shirt (red, M), new fit", "price": "449.00",
         "category": "Apparel"},
        {"sku": "TEE-YLW-S", "title": "Yellow tee", "price": "399.00", "category": "shoes"},
        {"sku": "TEE-PNK-S", "title": "Pink tee", "price": "399.00", "barcode": "5901234123458"},
        {"sku": "TEE-BLK-S", "title": "Black tee"},
    ]  # fmt: skip

    job = run(shop, csv_bytes(rows, PRODUCT_COLUMNS), kind=ImportKind.PRODUCTS, error_policy=SKIP)

    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 5, created=1, updated=1, failed=3)
    assert row_errors(job) == [
        (4, "category", "shoes", "Unknown category."),
        (5, "barcode", "5901234123458", "Wrong check digit: a barcode starting 590123412345 ends in 7."),
        (6, "price", "", "This field is required."),
    ]
    assert products_of(shop) == [
        ("TEE-BLU-L", "Cotton crew T-shirt (blue, L)", "", None, "6109", Decimal("12.00"), Decimal("699.00"),
         Decimal("599.00"), 220, "", "active"),
        ("TEE-GRN-M", "Cotton crew T-shirt (green, M)", "Loomwear", "apparel", "6109", Decimal("5.00"),
         Decimal("699.00"), Decimal("499.00"), 180, "5901234123457", "active"),
        ("TEE-RED-M", "Cotton crew T-shirt (red, M), new fit", "", "apparel", "6109", Decimal("5.00"),
         Decimal("599.00"), Decimal("449.00"), 180, "", "active"),
    ]  # fmt: skip


def test_products_reject_file_with_one_bad_row_writes_and_counts_nothing(shop):
    rows = [
        {"sku": "TEE-GRN-M", "title": "Green tee", "price": "499.00"},
        {"sku": "TEE-RED-M", "price": "449.00"},
        {"sku": "TEE-YLW-S", "title": "Yellow tee", "price": "x"},
    ]

    job = run(shop, csv_bytes(rows, PRODUCT_COLUMNS), kind=ImportKind.PRODUCTS, error_policy=REJECT)

    assert row_errors(job) == [(4, "price", "x", "A valid number is required.")]
    assert sorted(Product.objects.filter(merchant=shop).values_list("sku", "price")) == [
        ("TEE-BLU-L", Decimal("599.00")), ("TEE-RED-M", Decimal("499.00"))]  # fmt: skip
    assert state(job) == expected(ImportStatus.FAILED, 3, failed=1, error=NOTHING_IMPORTED)


def test_products_reject_file_writes_nothing_when_the_bad_row_is_past_the_first_chunk(shop):
    rows = [{"sku": f"BULK-{n:03d}", "title": f"Bulk {n}", "price": "10.00"} for n in range(100)]
    rows.append({"sku": "BULK-BAD", "title": "Bad", "price": "x"})

    job = run(shop, csv_bytes(rows, PRODUCT_COLUMNS), kind=ImportKind.PRODUCTS, error_policy=REJECT)

    assert row_errors(job) == [(102, "price", "x", "A valid number is required.")]
    assert Product.objects.filter(merchant=shop).count() == 2
    assert state(job) == expected(ImportStatus.FAILED, 101, failed=1, error=NOTHING_IMPORTED)


def test_products_dry_run_writes_nothing(shop):
    rows = [{"sku": "TEE-GRN-M", "title": "Green tee", "price": "499.00"}, {"sku": "TEE-RED-M", "price": "449.00"}]
    before = products_of(shop)

    job = run(shop, csv_bytes(rows, PRODUCT_COLUMNS), kind=ImportKind.PRODUCTS, dry_run=True)

    assert state(job) == expected(ImportStatus.DONE, 2)
    assert products_of(shop) == before


def test_products_dry_run_with_skip_failed_rows_reports_a_partial_import(shop):
    rows = [{"sku": "TEE-GRN-M", "title": "Green tee", "price": "499.00"}, {"sku": "TEE-RED-M", "price": "x"}]
    before = products_of(shop)

    job = run(shop, csv_bytes(rows, PRODUCT_COLUMNS), kind=ImportKind.PRODUCTS, dry_run=True, error_policy=SKIP)

    assert row_errors(job) == [(3, "price", "x", "A valid number is required.")]
    assert products_of(shop) == before
    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 2, failed=1)


def test_products_file_without_required_columns_is_rejected(shop):
    job = run(shop, csv_bytes([{"sku": "X"}], ["sku", "brand"]), kind=ImportKind.PRODUCTS)

    assert state(job) == expected(ImportStatus.FAILED, 0, error="Required columns are missing: title, price.")


# -- inventory ------------------------------------------------------------------------------


def test_inventory_rows_set_add_and_remove_stock_with_ledger_rows(shop):
    location = shop.locations.get()
    red, blue = Product.objects.get(sku="TEE-RED-M"), Product.objects.get(sku="TEE-BLU-L")
    stock(red, location, 10, reserved=3)
    rows = [
        {"sku": "TEE-BLU-L", "location": "blr-wh", "action": "set", "quantity": "24", "reason": "Stock count",
         "low_stock_threshold": "5"},
        {"sku": "TEE-RED-M", "location": "blr-wh", "action": "add", "quantity": "5", "reason": "Supplier delivery"},
        {"sku": "TEE-RED-M", "location": str(location.pk), "action": "Remove", "quantity": "2"},
        {"sku": "NOPE", "location": "blr-wh", "action": "add", "quantity": "1"},
        {"sku": "TEE-RED-M", "location": "nowhere", "action": "add", "quantity": "1"},
        {"sku": "TEE-RED-M", "location": "blr-wh", "action": "remove", "quantity": "11"},
        {"sku": "TEE-RED-M", "location": "blr-wh", "action": "move", "quantity": "-1"},
        {"sku": "TEE-RED-M", "location": "blr-wh", "action": "add", "quantity": "0"},
        {"sku": "TEE-BLU-L", "location": "blr-wh", "quantity": "20"},
    ]  # fmt: skip

    job = run(shop, csv_bytes(rows, INVENTORY_COLUMNS), kind=ImportKind.INVENTORY, error_policy=SKIP)

    assert state(job) == expected(ImportStatus.PARTIALLY_FAILED, 9, updated=4, failed=5)
    assert row_errors(job) == [
        (5, "sku", "NOPE", "Unknown SKU."),
        (6, "location", "nowhere", "Unknown location."),
        (7, "quantity", "11", "Not enough stock for TEE-RED-M."),
        (8, "action", "move", "Use add, remove or set."),
        (8, "quantity", "-1", "A whole number of units, 0 or more."),
        (9, "quantity", "0", "Must be a positive integer (zero only with set)."),
    ]
    levels = StockLevel.objects.filter(merchant=shop).order_by("sku")
    assert list(levels.values_list("sku", "on_hand", "reserved", "low_stock_threshold")) == [
        ("TEE-BLU-L", 20, 0, 5), ("TEE-RED-M", 13, 3, 0)]  # fmt: skip
    movements = StockMovement.objects.filter(reference=f"import:{job.pk}").order_by("pk")
    assert [
        (m.product.sku, m.kind, m.quantity, m.on_hand_after, m.reserved_after, m.reason, m.reference, m.actor)
        for m in movements
    ] == [
        ("TEE-BLU-L", MovementKind.ADJUSTMENT, 24, 24, 0, "Stock count", f"import:{job.pk}", ACTOR),
        ("TEE-RED-M", MovementKind.RECEIPT, 5, 15, 3, "Supplier delivery", f"import:{job.pk}", ACTOR),
        ("TEE-RED-M", MovementKind.ADJUSTMENT, -2, 13, 3, f"Import {job.pk}", f"import:{job.pk}", ACTOR),
        ("TEE-BLU-L", MovementKind.ADJUSTMENT, -4, 20, 0, f"Import {job.pk}", f"import:{job.pk}", ACTOR),
    ]
    assert blue.stock_levels.get().available == 20


def test_inventory_dry_run_changes_no_stock(shop):
    red = Product.objects.get(sku="TEE-RED-M")
    stock(red, shop.locations.get(), 10)
    seen = StockMovement.objects.count()
    rows = [{"sku": "TEE-RED-M", "location": "blr-wh", "action": "add", "quantity": "5"}]

    job = run(shop, csv_bytes(rows, INVENTORY_COLUMNS), kind=ImportKind.INVENTORY, dry_run=True)

    assert state(job) == expected(ImportStatus.DONE, 1)
    assert (red.stock_levels.get().on_hand, StockMovement.objects.count()) == (10, seen)


def test_inventory_reject_file_keeps_the_stock_as_it_was(shop):
    red = Product.objects.get(sku="TEE-RED-M")
    stock(red, shop.locations.get(), 10)
    seen = StockMovement.objects.count()
    rows = [
        {"sku": "TEE-RED-M", "location": "blr-wh", "action": "add", "quantity": "5"},
        {"sku": "NOPE", "location": "blr-wh", "action": "add", "quantity": "1"},
    ]

    job = run(shop, csv_bytes(rows, INVENTORY_COLUMNS), kind=ImportKind.INVENTORY, error_policy=REJECT)

    assert row_errors(job) == [(3, "sku", "NOPE", "Unknown SKU.")]
    assert (job.status, job.failed_count, job.error) == (ImportStatus.FAILED, 1, NOTHING_IMPORTED)
    assert (red.stock_levels.get().on_hand, StockMovement.objects.count()) == (10, seen)
