"""Uploading an orders file with a bad row under "reject the file": the job's page says Failed, in an error message
(red), never a green success, and nothing was imported."""

import pytest

from orders.models import BulkImport, ImportRowError, Order
from tests.catalog.factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.browser

#: Two orders; WEB-2's line (row 4) names a SKU the catalog does not have, and no product name to create it by.
ORDERS_CSV = (
    "channel_order_id,payment_method,shipping_name,shipping_phone,shipping_line1,shipping_city,shipping_state,"
    "shipping_postcode,sku,quantity,unit_price\n"
    "WEB-1,cod,Priya Sharma,+919812345678,42 Residency Road,Bengaluru,Karnataka,560025,TEE-RED-M,2,499.00\n"
    "WEB-1,cod,Priya Sharma,+919812345678,42 Residency Road,Bengaluru,Karnataka,560025,TEE-BLU-L,1,599.00\n"
    "WEB-2,prepaid,Arjun Rao,+919876543210,7 Park Street,Kolkata,West Bengal,700016,TEE-NONE,1,499.00\n"
)
#: Django admin's message backgrounds in its light theme (--message-error-bg #ffefef, --message-success-bg #dfd).
ERROR_BACKGROUND, SUCCESS_BACKGROUND = "rgb(255, 239, 239)", "rgb(221, 255, 221)"


def test_an_upload_with_a_bad_row_rejected_whole_is_shown_failed_in_red(visit, owner, merchant, tmp_path):
    LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    ProductFactory(merchant=merchant, sku="TEE-RED-M")
    ProductFactory(merchant=merchant, sku="TEE-BLU-L")
    upload = tmp_path / "orders.csv"
    upload.write_text(ORDERS_CSV)
    desk = visit("import")
    page = desk.page
    desk.log_in(owner)

    desk.open("/admin/orders/bulkimport/add/", "upload-form")
    page.get_by_label("Kind").select_option("orders")
    page.get_by_label("File:", exact=True).set_input_files(upload)
    page.get_by_label("Reject the file if any row fails").check()
    desk.follow(page.get_by_role("button", name="Upload and import"))
    desk.shot("job")

    job = BulkImport.objects.get()
    assert page.url == f"{desk.base_url}/admin/orders/bulkimport/{job.pk}/change/"
    assert (job.merchant_id, job.file_name, job.error_policy, job.status) == (merchant.pk, "orders.csv",
                                                                              "reject_file", "failed")  # fmt: skip
    assert (job.created_count, job.updated_count) == (0, 0)
    assert Order.objects.filter(merchant=merchant).count() == 0
    assert list(ImportRowError.objects.filter(job=job).values_list("row", "column", "message")) == [
        (4, "name", "Required for a SKU that is not in the catalog.")]  # fmt: skip
    assert desk.messages() == [("error", f"Uploaded orders.csv: import {job.pk} is Failed: nothing was imported, "
                                         "the reasons are on its page.")]  # fmt: skip
    shown = page.locator("ul.messagelist li").evaluate("item => getComputedStyle(item).backgroundColor")
    assert (shown, shown == SUCCESS_BACKGROUND) == (ERROR_BACKGROUND, False)
    assert page.locator("ul.messagelist li.success").count() == 0
    assert page.locator("div.field-status div.readonly").inner_text() == "Failed"
    assert page.locator("div.field-error div.readonly").inner_text() == "1 row(s) have errors; nothing was imported."
    assert page.locator("td.field-row").all_inner_texts() == ["4"]
    assert page.locator("td.field-message").all_inner_texts() == ["Required for a SKU that is not in the catalog."]
