"""File imports in the admin: the upload page, the scoped changelist and job page, the error report, templates."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.imports.jobs import import_create, import_run
from orders.imports.parse import INVENTORY_COLUMNS, ORDER_COLUMNS, PRODUCT_COLUMNS, TEMPLATES
from orders.models import BulkImport, ImportRowError, Order
from tests.catalog.factories import LocationFactory, ProductFactory
from tests.shopops.factories import MembershipFactory, UserFactory

IMPORTS = "/admin/orders/bulkimport/"
UPLOAD = "/admin/orders/bulkimport/add/"

ORDERS_CSV = (
    b"channel_order_id,payment_method,shipping_name,shipping_phone,shipping_line1,shipping_city,shipping_state,"
    b"shipping_postcode,sku,quantity,unit_price\n"
    b"WEB-1,cod,Priya Sharma,+919812345678,42 Residency Road,Bengaluru,Karnataka,560025,TEE-RED-M,2,499.00\n"
    b"WEB-1,cod,Priya Sharma,+919812345678,42 Residency Road,Bengaluru,Karnataka,560025,TEE-BLU-L,1,599.00\n"
    b"WEB-2,prepaid,Arjun Rao,+919876543210,7 Park Street,Kolkata,West Bengal,700016,TEE-RED-M,1,499.00\n"
)
#: Rows 2 and 4 have errors.
PRODUCTS_CSV = b"sku,title,price\nMUG-01,Stoneware mug,cheap\nMUG-02,Enamel mug,199.00\nMUG-03,,=SUM(A1)\n"


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def shop(merchant):
    LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    ProductFactory(merchant=merchant, sku="TEE-RED-M")
    ProductFactory(merchant=merchant, sku="TEE-BLU-L")


def run_job(merchant, content: bytes, kind: str = "orders", error_policy: str = "skip_failed_rows") -> BulkImport:
    """A job created and run through the import service, as the worker runs it."""
    job = import_create(merchant=merchant, kind=kind, upload=SimpleUploadedFile("file.csv", content),
                                file_name=f"{kind}.csv", dry_run=False, error_policy=error_policy,
                                actor="system")  # fmt: skip
    return import_run(job_id=job.pk)


def listed(response) -> list[int]:
    return [obj.pk for obj in response.context["cl"].result_list]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# -- the upload page ---------------------------------------------------------------------------


def test_the_upload_page_asks_for_kind_file_dry_run_policy_preset_and_channels(desk, merchant):
    response = desk.get(UPLOAD)

    assert response.status_code == 200
    assert list(response.context["form"].fields) == ["kind", "file", "dry_run", "error_policy", "preset",
                                                     "create_channels"]  # one merchant  # fmt: skip
    assert [value for value, _ in response.context["form"].fields["preset"].choices] == [
        "", "shopops", "shopify", "woocommerce", "amazon", "opencart"]  # fmt: skip
    assert [label for label, _ in response.context["template_links"]] == [
        "Orders",
        "Products",
        "Inventory",
        "SKU mappings",
    ]


def test_uploading_creates_the_job_runs_it_on_commit_and_shows_it(desk, merchant, owner, shop,
                                                                   django_capture_on_commit_callbacks):  # fmt: skip
    body = {"kind": "orders", "file": SimpleUploadedFile("orders.csv", ORDERS_CSV), "error_policy": "reject_file"}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = desk.post(UPLOAD, body)

    job = BulkImport.objects.get()
    assert len(callbacks) == 1
    assert response.status_code == 302
    assert response["Location"] == f"{IMPORTS}{job.pk}/change/"
    assert (job.merchant, job.kind, job.file_name, job.dry_run, job.error_policy, job.created_by) == (
        merchant, "orders", "orders.csv", False, "reject_file", f"user:{owner.pk}",
    )  # fmt: skip
    assert (job.status, job.total_rows, job.created_count, job.failed_count) == ("done", 3, 2, 0)
    assert list(Order.objects.filter(merchant=merchant).order_by("channel_order_id")
                .values_list("channel_order_id", "total")) == [("WEB-1", Decimal("1597.00")),
                                                               ("WEB-2", Decimal("499.00"))]  # fmt: skip
    page = desk.get(response["Location"])
    assert page.status_code == 200
    assert messages_of(page) == [f"Uploaded orders.csv: import {job.pk} is Queued."]  # read before the commit


def test_a_dry_run_upload_writes_nothing(desk, merchant, shop, django_capture_on_commit_callbacks):
    body = {"kind": "orders", "file": SimpleUploadedFile("orders.csv", ORDERS_CSV), "dry_run": "on",
            "error_policy": "reject_file"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        desk.post(UPLOAD, body)

    job = BulkImport.objects.get()
    assert (job.dry_run, job.status, job.total_rows, job.created_count) == (True, "done", 3, 0)
    assert Order.objects.count() == 0


def test_a_file_that_is_not_an_import_is_a_form_error(desk, merchant, django_capture_on_commit_callbacks):
    binary = SimpleUploadedFile("orders.csv", b"\x00\x01binary")
    body = {"kind": "orders", "file": binary, "error_policy": "reject_file"}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = desk.post(UPLOAD, body)

    assert response.status_code == 200
    assert response.context["form"].errors == {"file": ["The file is not a CSV (UTF-8) or XLSX file."]}
    assert callbacks == []
    assert BulkImport.objects.count() == 0


def test_a_user_of_several_merchants_picks_one_of_theirs(client, merchant, other_merchant, shop,
                                                         django_capture_on_commit_callbacks):  # fmt: skip
    user = MembershipFactory(merchant=merchant, role="owner").user
    MembershipFactory(merchant=other_merchant, user=user, role="manager")
    client.force_login(user)

    form = client.get(UPLOAD).context["form"]
    body = {"merchant": merchant.pk, "kind": "orders", "file": SimpleUploadedFile("orders.csv", ORDERS_CSV),
            "error_policy": "reject_file"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        client.post(UPLOAD, body)

    assert list(form.fields["merchant"].queryset) == sorted([merchant, other_merchant], key=lambda m: m.name)
    assert list(BulkImport.objects.values_list("merchant", "status")) == [(merchant.pk, "done")]


def test_a_user_cannot_upload_for_a_merchant_they_only_view(client, merchant, other_merchant):
    user = MembershipFactory(merchant=merchant, role="owner").user
    MembershipFactory(merchant=other_merchant, user=user, role="viewer")
    client.force_login(user)

    form = client.get(UPLOAD).context["form"]

    assert "merchant" not in form.fields  # only one merchant to write to
    assert form.merchant == merchant


def test_a_viewer_cannot_upload(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)

    response = client.post(UPLOAD, {"kind": "orders", "file": SimpleUploadedFile("orders.csv", ORDERS_CSV)})

    assert response.status_code == 403
    assert BulkImport.objects.count() == 0


# -- the changelist and the job page ---------------------------------------------------------------


def test_the_changelist_shows_only_the_users_merchants_jobs(desk, merchant, other_merchant):
    ours = run_job(merchant, PRODUCTS_CSV, kind="products")
    theirs = run_job(other_merchant, PRODUCTS_CSV, kind="products")

    response = desk.get(IMPORTS)

    assert response.status_code == 200
    assert listed(response) == [ours.pk]
    assert desk.get(f"{IMPORTS}{theirs.pk}/change/").status_code == 302  # the admin's "does not exist" redirect
    row = response.context["cl"].model_admin
    assert row.progress(ours) == "3/3"
    assert str(row.error_report(ours)) == (
        f'<a href="/admin/orders/importrowerror/?job__id__exact={ours.pk}">Row errors</a> · '
        f'<a href="{IMPORTS}{ours.pk}/errors/">Download CSV (2 rows)</a>'
    )


def test_the_changelist_offers_upload_and_the_templates(desk, merchant):
    response = desk.get(IMPORTS)

    content = response.content.decode()
    assert f'href="{UPLOAD}" class="addlink">Upload file</a>' in content
    for kind in ("orders", "products", "inventory"):
        assert f'href="{IMPORTS}templates/{kind}/"' in content


def test_the_job_page_shows_the_first_200_row_errors_read_only(desk, merchant):
    job = run_job(merchant, PRODUCTS_CSV, kind="products")
    ImportRowError.objects.bulk_create([
        ImportRowError(job=job, row=n, column="price", value="x", message="A valid number is required.")
        for n in range(10, 260)
    ])  # fmt: skip

    response = desk.get(f"{IMPORTS}{job.pk}/change/")

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    formset = response.context["inline_admin_formsets"][0].formset
    shown = [(e.row, e.column, e.value, e.message) for e in formset.get_queryset()]
    assert len(shown) == 200
    assert shown[:3] == [
        (2, "price", "cheap", "A valid number is required."),
        (4, "price", "=SUM(A1)", "A valid number is required."),
        (4, "title", "", "This field is required."),
    ]
    assert shown[-1] == (206, "price", "x", "A valid number is required.")


def test_jobs_cannot_be_changed_or_deleted(desk, merchant):
    job = run_job(merchant, PRODUCTS_CSV, kind="products")

    assert desk.post(f"{IMPORTS}{job.pk}/change/", {"file_name": "renamed.csv"}).status_code == 403
    assert desk.post(f"{IMPORTS}{job.pk}/delete/", {"post": "yes"}).status_code == 403
    job.refresh_from_db()
    assert job.file_name == "products.csv"


# -- the error report and the templates ----------------------------------------------------------


def test_the_error_report_downloads_every_row_error(desk, merchant):
    job = run_job(merchant, PRODUCTS_CSV, kind="products")

    response = desk.get(f"{IMPORTS}{job.pk}/errors/")

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="import-{job.pk}-errors.csv"'
    assert csv_rows(response) == [
        ["row", "column", "value", "message"],
        ["2", "price", "cheap", "A valid number is required."],
        ["4", "price", "'=SUM(A1)", "A valid number is required."],  # a formula is neutralised
        ["4", "title", "", "This field is required."],
    ]


def test_another_merchants_error_report_is_not_found(desk, other_merchant):
    theirs = run_job(other_merchant, PRODUCTS_CSV, kind="products")

    assert desk.get(f"{IMPORTS}{theirs.pk}/errors/").status_code == 404


def test_a_superuser_downloads_any_merchants_error_report(client, other_merchant):
    client.force_login(UserFactory(is_superuser=True))
    theirs = run_job(other_merchant, PRODUCTS_CSV, kind="products")

    assert len(csv_rows(client.get(f"{IMPORTS}{theirs.pk}/errors/"))) == 4


@pytest.mark.parametrize(
    ("kind", "columns"), [("orders", ORDER_COLUMNS), ("products", PRODUCT_COLUMNS), ("inventory", INVENTORY_COLUMNS)]
)
def test_each_kinds_template_downloads(desk, kind, columns):
    response = desk.get(f"{IMPORTS}templates/{kind}/")

    assert response.status_code == 200
    assert csv_rows(response) == [columns, *TEMPLATES[kind][1]]


def test_an_unknown_template_is_not_found(desk):
    assert desk.get(f"{IMPORTS}templates/stock/").status_code == 404


# -- query count ---------------------------------------------------------------------------------


def test_changelist_query_count_does_not_grow_with_rows(desk, merchant, django_assert_max_num_queries):
    run_job(merchant, PRODUCTS_CSV, kind="products")
    for _ in range(4):
        BulkImport.objects.create(merchant=merchant, kind="orders", file_name="orders.csv", checksum="x",
                                  created_by="system", failed_count=1)  # fmt: skip
    with django_assert_max_num_queries(20) as small:
        desk.get(IMPORTS)

    BulkImport.objects.bulk_create([
        BulkImport(merchant=merchant, kind="orders", file_name="orders.csv", checksum="x", created_by="system",
                   failed_count=n % 3)
        for n in range(120)
    ])  # fmt: skip
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = desk.get(IMPORTS)

    assert response.context["cl"].result_count == 125
    assert len(response.context["cl"].result_list) == 100
