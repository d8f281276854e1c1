"""The imports API: uploads of orders, products and inventory, the job, its error report, the templates."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from catalog.models import Product, StockLevel
from orders.imports.parse import INVENTORY_COLUMNS, ORDER_COLUMNS, PRODUCT_COLUMNS, TEMPLATES
from orders.models import BulkImport, Order, OrderLine
from tests.api import NOT_FOUND, invalid
from tests.catalog.factories import CategoryFactory, LocationFactory, ProductFactory, stock
from tests.conftest import client_for
from tests.orders.factories import ChannelFactory
from tests.shopops.factories import MembershipFactory

IMPORTS = "/api/v1/imports/"

ORDERS_HEADER = [
    "channel", "channel_order_id", "status", "payment_method", "customer_name", "customer_phone", "shipping_name",
    "shipping_phone", "shipping_line1", "shipping_city", "shipping_state", "shipping_postcode", "shipping_country",
    "sku", "quantity", "unit_price", "shipping_charge", "pickup_location",
]  # fmt: skip
PRIYA = ["Priya Sharma", "+919812345678", "Priya Sharma", "+919812345678", "42 Residency Road", "Bengaluru",
         "Karnataka", "560025", "IN"]  # fmt: skip
ARJUN = ["Arjun Rao", "+919876543210", "Arjun Rao", "+919876543210", "7 Park Street", "Kolkata", "West Bengal",
         "700016", "IN"]  # fmt: skip
#: Two orders, three lines: WEB-1 (two lines, new, COD) and WEB-2 (one line, delivered, prepaid).
ORDER_ROWS = [
    ["Website", "WEB-1", "new", "cod", *PRIYA, "TEE-RED-M", "2", "499.00", "49.00", "blr-wh"],
    ["Website", "WEB-1", "new", "cod", *PRIYA, "TEE-BLU-L", "1", "599.00", "49.00", "blr-wh"],
    ["Website", "WEB-2", "delivered", "prepaid", *ARJUN, "TEE-RED-M", "1", "499.00", "0.00", "blr-wh"],
]


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue().encode()


def xlsx_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def with_quantity(row: list[str], quantity: str) -> list[str]:
    changed = list(row)
    changed[ORDERS_HEADER.index("quantity")] = quantity
    return changed


@pytest.fixture
def shop(merchant):
    """The channel, location and products the order rows name."""
    ChannelFactory(merchant=merchant, name="Website")
    location = LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    ProductFactory(merchant=merchant, sku="TEE-RED-M", title="Cotton crew T-shirt (red, M)")
    ProductFactory(merchant=merchant, sku="TEE-BLU-L", title="Cotton crew T-shirt (blue, L)")
    return location


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """POST a file as multipart; the job's task is enqueued on commit and (eager Celery) run then."""

    def post(client, content: bytes, kind: str = "orders", name: str = "orders.csv", headers=None, **fields):
        body = {"file": SimpleUploadedFile(name, content), "kind": kind, **fields}
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = client.post(IMPORTS, body, format="multipart", headers=headers)
        assert len(callbacks) == (1 if response.status_code == 202 else 0)
        return response

    return post


def job_of(api, response) -> dict:
    """The job as GET /imports/{id}/ shows it after its worker ran."""
    assert response.status_code == 202, response.json()
    job = api.get(f"{IMPORTS}{response.json()['id']}/")
    assert job.status_code == 200
    return job.json()


def counts(job: dict) -> dict:
    names = ["status", "total_rows", "processed_rows", "created_count", "updated_count", "skipped_count",
             "failed_count"]  # fmt: skip
    return {name: job[name] for name in names}


def order_summary(merchant) -> list[tuple]:
    return list(Order.objects.filter(merchant=merchant).order_by("channel_order_id")
                .values_list("channel_order_id", "status", "payment_method", "total"))  # fmt: skip


# -- orders ------------------------------------------------------------------------------------


def test_an_orders_csv_is_accepted_queued_and_imported(api, merchant, shop, upload):
    response = upload(api, csv_bytes(ORDERS_HEADER, ORDER_ROWS))

    assert response.status_code == 202
    accepted = response.json()
    assert response["Location"] == f"http://testserver{IMPORTS}{accepted['id']}/"
    assert {key: accepted[key] for key in ("kind", "status", "file_name", "dry_run", "error_policy", "errors_url")} == {
        "kind": "orders", "status": "queued", "file_name": "orders.csv", "dry_run": False,
        "error_policy": "reject_file", "errors_url": None,
    }  # fmt: skip
    job = job_of(api, response)
    assert counts(job) == {"status": "done", "total_rows": 3, "processed_rows": 3, "created_count": 2,
                           "updated_count": 0, "skipped_count": 0, "failed_count": 0}  # fmt: skip
    assert job["errors_url"] is None
    assert job["error"] == ""
    assert job["started_at"] is not None
    assert job["finished_at"] is not None
    assert order_summary(merchant) == [
        ("WEB-1", "new", "cod", Decimal("1646.00")),  # 2 x 499 + 599 + 49 shipping
        ("WEB-2", "delivered", "prepaid", Decimal("499.00")),
    ]
    lines = OrderLine.objects.filter(order__merchant=merchant).order_by("order__channel_order_id", "id")
    assert list(lines.values_list("order__channel_order_id", "sku", "quantity")) == [
        ("WEB-1", "TEE-RED-M", 2), ("WEB-1", "TEE-BLU-L", 1), ("WEB-2", "TEE-RED-M", 1),
    ]  # fmt: skip
    assert BulkImport.objects.get(pk=job["id"]).created_by == f"app:{api.application.client_id}"


def test_a_dry_run_reports_the_counts_and_writes_nothing(api, merchant, shop, upload):
    response = upload(api, csv_bytes(ORDERS_HEADER, ORDER_ROWS), dry_run="true")

    job = job_of(api, response)
    assert job["dry_run"] is True
    assert counts(job) == {"status": "done", "total_rows": 3, "processed_rows": 3, "created_count": 0,
                           "updated_count": 0, "skipped_count": 0, "failed_count": 0}  # fmt: skip
    assert Order.objects.count() == 0


def test_reject_file_with_one_bad_row_writes_nothing_and_reports_the_row(api, merchant, shop, upload):
    rows = [ORDER_ROWS[0], ORDER_ROWS[1], with_quantity(ORDER_ROWS[2], "two")]

    response = upload(api, csv_bytes(ORDERS_HEADER, rows), error_policy="reject_file")

    job = job_of(api, response)
    assert counts(job) == {"status": "failed", "total_rows": 3, "processed_rows": 3, "created_count": 0,
                           "updated_count": 0, "skipped_count": 0, "failed_count": 1}  # fmt: skip
    assert job["error"] == "1 row(s) have errors; nothing was imported."
    assert job["errors_url"] == f"http://testserver{IMPORTS}{job['id']}/errors/"
    assert Order.objects.count() == 0
    report = api.get(job["errors_url"])
    assert report.status_code == 200
    assert report["Content-Type"] == "text/csv; charset=utf-8"
    assert report["Content-Disposition"] == f'attachment; filename="import-{job["id"]}-errors.csv"'
    assert csv_rows(report) == [
        ["row", "column", "value", "message"],
        ["4", "quantity", "two", "A valid integer is required."],  # row 4: the header is line 1
    ]


def test_skip_failed_rows_writes_exactly_the_good_orders(api, merchant, shop, upload):
    rows = [ORDER_ROWS[0], ORDER_ROWS[1], with_quantity(ORDER_ROWS[2], "0")]

    response = upload(api, csv_bytes(ORDERS_HEADER, rows), error_policy="skip_failed_rows")

    job = job_of(api, response)
    assert counts(job) == {"status": "partially_failed", "total_rows": 3, "processed_rows": 3, "created_count": 1,
                           "updated_count": 0, "skipped_count": 0, "failed_count": 1}  # fmt: skip
    assert order_summary(merchant) == [("WEB-1", "new", "cod", Decimal("1646.00"))]
    assert csv_rows(api.get(job["errors_url"])) == [
        ["row", "column", "value", "message"],
        ["4", "quantity", "0", "Ensure this value is greater than or equal to 1."],
    ]


def test_the_same_file_uploaded_again_creates_nothing(api, merchant, shop, upload):
    content = csv_bytes(ORDERS_HEADER, ORDER_ROWS)
    job_of(api, upload(api, content))

    again = job_of(api, upload(api, content))

    assert counts(again) == {"status": "done", "total_rows": 3, "processed_rows": 3, "created_count": 0,
                             "updated_count": 0, "skipped_count": 3, "failed_count": 0}  # fmt: skip
    assert Order.objects.filter(merchant=merchant).count() == 2
    assert OrderLine.objects.filter(order__merchant=merchant).count() == 3


def test_an_xlsx_file_imports_like_the_csv(api, merchant, shop, upload):
    response = upload(api, xlsx_bytes(ORDERS_HEADER, ORDER_ROWS), name="orders.xlsx")

    job = job_of(api, response)
    assert job["file_name"] == "orders.xlsx"
    assert counts(job) == {"status": "done", "total_rows": 3, "processed_rows": 3, "created_count": 2,
                           "updated_count": 0, "skipped_count": 0, "failed_count": 0}  # fmt: skip
    assert order_summary(merchant) == [
        ("WEB-1", "new", "cod", Decimal("1646.00")),
        ("WEB-2", "delivered", "prepaid", Decimal("499.00")),
    ]


# -- products and inventory ----------------------------------------------------------------------


def test_a_products_csv_creates_and_updates_by_sku(api, merchant, upload):
    CategoryFactory(merchant=merchant, slug="apparel", name="Apparel")
    ProductFactory(merchant=merchant, sku="TEE-RED-M", title="Old title", price=Decimal("450.00"))
    header = ["sku", "title", "category", "price", "mrp", "tax_rate", "weight_grams"]
    rows = [
        ["TEE-RED-M", "Cotton crew T-shirt (red, M)", "apparel", "499.00", "699.00", "5.00", "180"],
        ["TEE-GRN-M", "Cotton crew T-shirt (green, M)", "Apparel", "519.00", "699.00", "5.00", "180"],
        ["MUG-01", "Stoneware mug", "", "299.00", "", "", "350"],
    ]

    job = job_of(api, upload(api, csv_bytes(header, rows), kind="products", name="products.csv"))

    assert counts(job) == {"status": "done", "total_rows": 3, "processed_rows": 3, "created_count": 2,
                           "updated_count": 1, "skipped_count": 0, "failed_count": 0}  # fmt: skip
    products = Product.objects.filter(merchant=merchant).order_by("sku")
    assert list(products.values_list("sku", "title", "category__slug", "price", "weight_grams")) == [
        ("MUG-01", "Stoneware mug", None, Decimal("299.00"), 350),
        ("TEE-GRN-M", "Cotton crew T-shirt (green, M)", "apparel", Decimal("519.00"), 180),
        ("TEE-RED-M", "Cotton crew T-shirt (red, M)", "apparel", Decimal("499.00"), 180),
    ]


def test_a_products_csv_with_a_bad_row_reports_it(api, merchant, upload):
    header = ["sku", "title", "price"]
    rows = [["MUG-01", "Stoneware mug", "299.00"], ["MUG-02", "Enamel mug", "cheap"]]

    job = job_of(api, upload(api, csv_bytes(header, rows), kind="products", error_policy="skip_failed_rows"))

    assert counts(job) == {"status": "partially_failed", "total_rows": 2, "processed_rows": 2, "created_count": 1,
                           "updated_count": 0, "skipped_count": 0, "failed_count": 1}  # fmt: skip
    assert list(Product.objects.filter(merchant=merchant).values_list("sku", flat=True)) == ["MUG-01"]
    assert csv_rows(api.get(job["errors_url"])) == [
        ["row", "column", "value", "message"],
        ["3", "price", "cheap", "A valid number is required."],
    ]


def test_an_inventory_csv_adds_removes_and_sets_stock(api, merchant, upload):
    main = LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    red, blue = ProductFactory(merchant=merchant, sku="TEE-RED-M"), ProductFactory(merchant=merchant, sku="TEE-BLU-L")
    stock(red, main, 10)
    stock(blue, main, 10)
    header = ["sku", "location", "action", "quantity", "reason", "low_stock_threshold"]
    rows = [
        ["TEE-RED-M", "blr-wh", "add", "5", "PO 1182", ""],
        ["TEE-BLU-L", "blr-wh", "remove", "3", "damaged", ""],
        ["TEE-RED-M", "blr-wh", "set", "24", "count", "6"],
        ["TEE-GRN-M", "blr-wh", "set", "1", "count", ""],
    ]

    job = job_of(api, upload(api, csv_bytes(header, rows), kind="inventory", error_policy="skip_failed_rows"))

    assert counts(job) == {"status": "partially_failed", "total_rows": 4, "processed_rows": 4, "created_count": 0,
                           "updated_count": 3, "skipped_count": 0, "failed_count": 1}  # fmt: skip
    levels = StockLevel.objects.filter(product__merchant=merchant).order_by("product__sku")
    assert list(levels.values_list("product__sku", "on_hand", "low_stock_threshold")) == [
        ("TEE-BLU-L", 7, StockLevel._meta.get_field("low_stock_threshold").default),
        ("TEE-RED-M", 24, 6),
    ]
    assert csv_rows(api.get(job["errors_url"])) == [
        ["row", "column", "value", "message"],
        ["5", "sku", "TEE-GRN-M", "Unknown SKU."],
    ]


# -- scopes ------------------------------------------------------------------------------------


def test_a_catalog_token_cannot_import_orders(merchant, shop, upload):
    catalog_only = client_for(merchant, scopes=["catalog:write"])

    response = upload(catalog_only, csv_bytes(ORDERS_HEADER, ORDER_ROWS))

    assert response.status_code == 403
    assert response.json() == {
        "code": "missing_scope",
        "message": "This request needs the scope orders:write.",
        "details": {"required_scopes": ["orders:write"], "missing_scopes": ["orders:write"]},
    }
    assert BulkImport.objects.count() == 0
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("kind", "scope", "header"),
    [("orders", "orders:write", ORDERS_HEADER), ("products", "catalog:write", ["sku", "title", "price"]),
     ("inventory", "inventory:write", ["sku", "location", "quantity"])],
)  # fmt: skip
def test_each_kind_needs_its_own_write_scope(merchant, upload, kind, scope, header):
    others = [s for s in ("orders:write", "catalog:write", "inventory:write") if s != scope]
    content = csv_bytes(header, [["X"] * len(header)])

    refused = upload(client_for(merchant, scopes=others), content, kind=kind)
    accepted = upload(client_for(merchant, scopes=[scope]), content, kind=kind)

    assert refused.status_code == 403
    assert refused.json()["details"] == {"required_scopes": [scope], "missing_scopes": [scope]}
    assert accepted.status_code == 202
    assert list(BulkImport.objects.values_list("kind", flat=True)) == [kind]


def test_reading_jobs_needs_orders_read(api, merchant, shop, upload):
    job = job_of(api, upload(api, csv_bytes(ORDERS_HEADER, ORDER_ROWS)))
    writer = client_for(merchant, scopes=["orders:write", "catalog:write", "inventory:write"])

    response = writer.get(f"{IMPORTS}{job['id']}/")

    assert response.status_code == 403
    assert response.json()["details"] == {"required_scopes": ["orders:read"], "missing_scopes": ["orders:read"]}


def test_a_viewer_cannot_upload(merchant, shop, upload):
    viewer = client_for(merchant, user=MembershipFactory(merchant=merchant, role="viewer").user)

    response = upload(viewer, csv_bytes(ORDERS_HEADER, ORDER_ROWS))

    assert response.status_code == 403
    assert response.json()["code"] == "role_forbidden"
    assert BulkImport.objects.count() == 0


# -- bad uploads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"\x00\x01\x02binary", "The file is not a CSV (UTF-8) or XLSX file."),
        (b"PK\x03\x04not really a workbook", "The file is not a readable XLSX workbook."),
        (b"sku,title,price\n", "The file has a header but no rows."),
        ("sku,title\nTEE,Caf\xe9\n".encode("latin-1"), "The file is not UTF-8 text; save it as CSV UTF-8 or XLSX."),
    ],
    ids=["empty", "binary", "broken-xlsx", "header-only", "latin-1"],
)
def test_a_file_that_is_not_an_import_is_a_400(api, upload, content, message):
    response = upload(api, content, kind="products")

    assert response.status_code == 400
    assert response.json() == invalid({"file": [message]})
    assert BulkImport.objects.count() == 0


def test_a_file_without_the_required_columns_fails_as_a_whole(api, upload):
    job = job_of(api, upload(api, b"sku,title\nMUG-01,Stoneware mug\n", kind="products"))

    assert counts(job) == {"status": "failed", "total_rows": 0, "processed_rows": 0, "created_count": 0,
                           "updated_count": 0, "skipped_count": 0, "failed_count": 0}  # fmt: skip
    assert job["error"] == "Required columns are missing: price."
    assert job["errors_url"] is None
    assert Product.objects.count() == 0


def test_missing_and_unknown_fields_are_400s(api, upload):
    response = upload(api, b"sku,title,price\nA,B,1\n", kind="stock", error_policy="ignore", colour="red")

    assert response.status_code == 400
    assert response.json() == invalid({"colour": ["Unknown field."]})

    response = upload(api, b"sku,title,price\nA,B,1\n", kind="stock", error_policy="ignore")

    assert response.json() == invalid({
        "kind": ['"stock" is not a valid choice.'], "error_policy": ['"ignore" is not a valid choice.'],
    })  # fmt: skip
    assert BulkImport.objects.count() == 0


def test_a_file_over_the_upload_limit_is_a_413(api, upload, settings):
    settings.API_MAX_UPLOAD_BYTES = 1000

    response = upload(api, b"sku,title,price\n" + b"A,B,1\n" * 200, kind="products")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert BulkImport.objects.count() == 0


def test_a_json_body_is_refused(api):
    response = api.post(IMPORTS, {"kind": "orders"}, format="json")

    assert response.status_code == 415
    assert BulkImport.objects.count() == 0


def test_an_upload_replayed_with_its_idempotency_key_makes_one_job(api, merchant, shop, upload):
    content = csv_bytes(ORDERS_HEADER, ORDER_ROWS)
    first = upload(api, content, headers={"Idempotency-Key": "upload-1"})

    replay = api.post(IMPORTS, {"file": SimpleUploadedFile("orders.csv", content), "kind": "orders"},
                      format="multipart", headers={"Idempotency-Key": "upload-1"})  # fmt: skip

    assert replay.status_code == 202
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert BulkImport.objects.count() == 1
    assert Order.objects.count() == 2


# -- reading jobs -----------------------------------------------------------------------------------


def test_list_and_retrieve(api, other_api, merchant, shop, upload):
    orders_job = job_of(api, upload(api, csv_bytes(ORDERS_HEADER, ORDER_ROWS)))
    products_job = job_of(api, upload(api, b"sku,title,price\nMUG-01,Mug,299.00\n", kind="products"))
    job_of(other_api, upload(other_api, b"sku,title,price\nMUG-01,Mug,299.00\n", kind="products"))

    listed = api.get(IMPORTS)

    assert listed.status_code == 200
    assert listed.json()["next"] is None
    assert listed.json()["results"] == [products_job, orders_job]  # newest first
    assert [row["id"] for row in api.get(IMPORTS, {"ordering": "created_at"}).json()["results"]] == [
        orders_job["id"], products_job["id"],
    ]  # fmt: skip
    assert [row["id"] for row in api.get(IMPORTS, {"kind": "orders"}).json()["results"]] == [orders_job["id"]]
    assert [row["id"] for row in api.get(IMPORTS, {"status": "done"}).json()["results"]] == [
        products_job["id"], orders_job["id"],
    ]  # fmt: skip
    assert api.get(IMPORTS, {"status": "failed"}).json()["results"] == []
    assert api.get(IMPORTS, {"kind": "stock"}).status_code == 400
    retrieved = api.get(f"{IMPORTS}{orders_job['id']}/").json()
    assert list(retrieved) == ["id", "kind", "status", "file_name", "dry_run", "error_policy", "preset",
                               "create_channels", "created_channels", "total_rows", "processed_rows", "created_count",
                               "updated_count", "skipped_count", "failed_count",
                               "errors_url", "error", "started_at", "finished_at", "created_at"]  # fmt: skip


def test_the_list_pages_with_a_constant_query_count(api, merchant, django_assert_max_num_queries):
    for n in range(3):
        BulkImport.objects.create(merchant=merchant, kind="orders", file_name=f"{n}.csv", checksum="x",
                                  created_by="system")  # fmt: skip
    with django_assert_max_num_queries(20) as small:
        assert len(api.get(IMPORTS, {"page_size": 2}).json()["results"]) == 2

    BulkImport.objects.bulk_create([
        BulkImport(merchant=merchant, kind="orders", file_name=f"{n}.csv", checksum="x", created_by="system")
        for n in range(3, 250)
    ])  # fmt: skip
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = api.get(IMPORTS, {"page_size": 200}).json()

    assert len(page["results"]) == 200
    assert page["next"] is not None


def test_another_merchants_job_is_not_found(api, other_api, merchant, shop, upload):
    job = job_of(api, upload(api, csv_bytes(ORDERS_HEADER, [with_quantity(ORDER_ROWS[0], "two")])))

    for url in (f"{IMPORTS}{job['id']}/", f"{IMPORTS}{job['id']}/errors/"):
        response = other_api.get(url)
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    assert other_api.get(IMPORTS).json()["results"] == []


def test_the_error_report_of_a_job_without_errors_is_its_header(api, merchant, shop, upload):
    job = job_of(api, upload(api, csv_bytes(ORDERS_HEADER, ORDER_ROWS)))

    report = api.get(f"{IMPORTS}{job['id']}/errors/")

    assert csv_rows(report) == [["row", "column", "value", "message"]]


def test_the_error_report_neutralises_spreadsheet_formulas(api, merchant, shop, upload):
    rows = [with_quantity(ORDER_ROWS[0], "=1+1")]

    job = job_of(api, upload(api, csv_bytes(ORDERS_HEADER, rows)))

    assert csv_rows(api.get(job["errors_url"]))[1] == ["2", "quantity", "'=1+1", "A valid integer is required."]


# -- templates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "columns"), [("orders", ORDER_COLUMNS), ("products", PRODUCT_COLUMNS), ("inventory", INVENTORY_COLUMNS)]
)
def test_the_template_of_each_kind_has_its_columns_and_example(api, kind, columns):
    response = api.get(f"{IMPORTS}templates/{kind}/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{kind}-import-template.csv"'
    rows = csv_rows(response)
    assert rows[0] == columns
    assert rows[1:] == TEMPLATES[kind][1]


def test_an_unknown_template_is_not_found(api):
    response = api.get(f"{IMPORTS}templates/stock/")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_the_orders_template_imports_as_it_is(api, merchant, upload):
    """The example row is a valid order once its channel, product and location exist."""
    ChannelFactory(merchant=merchant, name="Website")
    LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    ProductFactory(merchant=merchant, sku="TEE-RED-M")
    template = b"".join(api.get(f"{IMPORTS}templates/orders/").streaming_content)

    job = job_of(api, upload(api, template))

    assert counts(job) == {"status": "done", "total_rows": 1, "processed_rows": 1, "created_count": 1,
                           "updated_count": 0, "skipped_count": 0, "failed_count": 0}  # fmt: skip
    assert order_summary(merchant) == [("WEB-10492", "new", "cod", Decimal("1047.00"))]


# -- round trip --------------------------------------------------------------------------------------


def test_an_orders_export_imports_into_another_merchant(api, other_api, merchant, other_merchant, shop, upload):
    job_of(api, upload(api, csv_bytes(ORDERS_HEADER, ORDER_ROWS)))
    exported = b"".join(api.get("/api/v1/orders/export/").streaming_content)
    ChannelFactory(merchant=other_merchant, name="Website")  # channels by name, locations by nickname
    LocationFactory(merchant=other_merchant, nickname="blr-wh", is_default=True)

    job = job_of(other_api, upload(other_api, exported))

    assert counts(job) == {"status": "done", "total_rows": 3, "processed_rows": 3, "created_count": 2,
                           "updated_count": 0, "skipped_count": 0, "failed_count": 0}  # fmt: skip
    assert order_summary(other_merchant) == order_summary(merchant)
    lines = OrderLine.objects.filter(order__merchant=other_merchant).order_by("order__channel_order_id", "id")
    assert list(lines.values_list("sku", "name", "product")) == [  # the SKUs are not in its catalog: unmapped
        ("TEE-RED-M", "Cotton crew T-shirt (red, M)", None),
        ("TEE-BLU-L", "Cotton crew T-shirt (blue, L)", None),
        ("TEE-RED-M", "Cotton crew T-shirt (red, M)", None),
    ]
