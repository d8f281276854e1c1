"""The import_file management command: the same import service, run now, with a progress bar on stderr."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Product
from orders.imports.parse import PRODUCT_COLUMNS
from orders.models import BulkImport, ImportKind, ImportStatus
from orders.services.channels import channel_create
from tests.catalog.factories import LocationFactory, ProductFactory
from tests.orders.test_imports import HAPPY_ORDERS, HAPPY_ROWS, NOTHING, csv_bytes, order_row, orders_of, written

FULL, EMPTY = "#" * 40, "." * 40


@pytest.fixture
def shop(merchant):
    """As in test_imports: location blr-wh, the Website channel, TEE-RED-M and TEE-BLU-L."""
    LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    channel_create(merchant=merchant, name="Website")
    ProductFactory(merchant=merchant, sku="TEE-RED-M", title="Cotton crew T-shirt (red, M)", price=Decimal("499.00"),
                   mrp=Decimal("599.00"), tax_rate=Decimal("5.00"), weight_grams=180)  # fmt: skip
    ProductFactory(merchant=merchant, sku="TEE-BLU-L", title="Cotton crew T-shirt (blue, L)", price=Decimal("599.00"),
                   mrp=Decimal("699.00"), tax_rate=Decimal("12.00"), weight_grams=220)  # fmt: skip
    return merchant


@pytest.fixture
def orders_csv(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_bytes(HAPPY_ROWS))
    return path


def import_file(*args: str) -> str:
    out = StringIO()
    call_command("import_file", *map(str, args), stdout=out)
    return out.getvalue()


def test_import_file_imports_and_prints_counts_and_a_progress_bar(shop, orders_csv, capsys):
    out = import_file(orders_csv, "--merchant", shop.slug, "--kind", "orders")

    job = BulkImport.objects.get()
    assert out == f"Import {job.pk}: done; 5 rows read, 3 created, 0 updated, 0 rows skipped as existing, 0 failed.\n"
    # the file is checked first (reject_file), then imported: the bar runs twice
    assert capsys.readouterr().err == f"\r[{FULL}] 5/5 rows\r[{EMPTY}] 0/5 rows\r[{FULL}] 5/5 rows\n"
    assert (job.status, job.kind, job.file_name, job.created_by, job.dry_run) == (
        ImportStatus.DONE, ImportKind.ORDERS, "orders.csv", "system", False)  # fmt: skip
    assert orders_of(shop) == HAPPY_ORDERS


def test_import_file_skip_failed_rows_lists_the_row_errors(shop, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_bytes([*HAPPY_ROWS, order_row("BAD-1", "TEE-RED-M", "abc", "499.00")]))

    out = import_file(path, "--merchant", shop.slug, "--kind", "orders", "--error-policy", "skip_failed_rows")

    job = BulkImport.objects.get()
    assert out == (
        f"Import {job.pk}: partially_failed; 6 rows read, 3 created, 0 updated, 0 rows skipped as existing, "
        "1 failed.\n"
        "  row 7 quantity: A valid integer is required. ('abc')\n"
    )
    assert capsys.readouterr().err == f"\r[{EMPTY}] 0/6 rows\r[{FULL}] 6/6 rows\n"
    assert written(shop) == {"orders": 3, "lines": 5, "customers": 2, "events": 3}


def test_import_file_rejecting_a_file_prints_why(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_bytes([*HAPPY_ROWS, order_row("BAD-1", "TEE-RED-M", "1", "499.00", pickup_location="x")]))

    out = import_file(path, "--merchant", shop.slug, "--kind", "orders")

    job = BulkImport.objects.get()
    assert out == (
        f"Import {job.pk}: failed; 6 rows read, 0 created, 0 updated, 0 rows skipped as existing, 1 failed.\n"
        "1 row(s) have errors; nothing was imported.\n"
        "  row 7 pickup_location: Unknown pickup location 'x'. ('x')\n"
    )
    assert written(shop) == NOTHING


def test_import_file_dry_run_writes_nothing(shop, orders_csv, capsys):
    out = import_file(orders_csv, "--merchant", shop.slug, "--kind", "orders", "--dry-run")

    job = BulkImport.objects.get()
    assert out == f"Import {job.pk}: done; 5 rows read, 0 created, 0 updated, 0 rows skipped as existing, 0 failed.\n"
    assert capsys.readouterr().err == f"\r[{FULL}] 5/5 rows\n"
    assert job.dry_run is True
    assert written(shop) == NOTHING


def test_import_file_again_skips_the_existing_orders(shop, orders_csv):
    import_file(orders_csv, "--merchant", shop.slug, "--kind", "orders")

    out = import_file(orders_csv, "--merchant", shop.slug, "--kind", "orders")

    job = BulkImport.objects.order_by("-pk").first()
    assert out == f"Import {job.pk}: done; 5 rows read, 0 created, 0 updated, 5 rows skipped as existing, 0 failed.\n"
    assert written(shop) == {"orders": 3, "lines": 5, "customers": 2, "events": 3}


def test_import_file_products(shop, tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(csv_bytes([{"sku": "TEE-GRN-M", "title": "Green tee", "price": "449.00"},
                                {"sku": "TEE-RED-M", "price": "459.00"}], PRODUCT_COLUMNS))  # fmt: skip

    out = import_file(path, "--merchant", shop.slug, "--kind", "products")

    job = BulkImport.objects.get()
    assert out == f"Import {job.pk}: done; 2 rows read, 1 created, 1 updated, 0 rows skipped as existing, 0 failed.\n"
    assert sorted(Product.objects.filter(merchant=shop).values_list("sku", "price")) == [
        ("TEE-BLU-L", 599), ("TEE-GRN-M", 449), ("TEE-RED-M", 459)]  # fmt: skip


def test_import_file_refuses_an_unknown_merchant(shop, orders_csv):
    with pytest.raises(CommandError, match=r"^No merchant with slug 'nope'\.$"):
        import_file(orders_csv, "--merchant", "nope", "--kind", "orders")

    assert BulkImport.objects.count() == 0
    assert written(shop) == NOTHING


def test_import_file_refuses_a_missing_file(shop, tmp_path):
    missing = tmp_path / "nowhere.csv"

    with pytest.raises(CommandError) as raised:
        import_file(missing, "--merchant", shop.slug, "--kind", "orders")

    assert str(raised.value) == f"No file at {missing}."
    assert BulkImport.objects.count() == 0


def test_import_file_refuses_a_directory(shop, tmp_path):
    with pytest.raises(CommandError) as raised:
        import_file(tmp_path, "--merchant", shop.slug, "--kind", "orders")

    assert str(raised.value) == f"No file at {tmp_path}."


def test_import_file_refuses_an_unknown_kind(shop, orders_csv):
    with pytest.raises(CommandError, match="invalid choice: 'customers'"):
        import_file(orders_csv, "--merchant", shop.slug, "--kind", "customers")
