"""Order import presets (orders.imports.presets) and channels created on import: a channel's own export, written
from its documented columns (Indian addresses, INR), imported through the service as the worker runs it."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.files import File

from orders import selectors
from orders.imports.jobs import import_create, import_run
from orders.imports.presets import AMAZON_NO_ADDRESS, NOT_A_PRESET
from orders.models import BulkImport, Channel, ErrorPolicy, Order
from orders.services.channels import channel_create
from tests.catalog.factories import LocationFactory, ProductFactory
from tests.shopops.factories import MerchantFactory

SKIP = ErrorPolicy.SKIP_FAILED_ROWS


@pytest.fixture
def shop(merchant):
    """Default location blr-wh and two T-shirts; no channel of any preset's."""
    LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    ProductFactory(merchant=merchant, sku="TEE-RED-M", title="Cotton crew T-shirt (red, M)", price=Decimal("499.00"),
                   tax_rate=Decimal("5.00"), weight_grams=180)  # fmt: skip
    ProductFactory(merchant=merchant, sku="TEE-BLU-L", title="Cotton crew T-shirt (blue, L)", price=Decimal("599.00"),
                   tax_rate=Decimal("12.00"), weight_grams=220)  # fmt: skip
    return merchant


def table(header: list[str], rows: list[dict], delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[row.get(name, "") for name in header] for row in rows])
    return buffer.getvalue().encode()


def run(merchant, content: bytes, *, name="orders.csv", error_policy=ErrorPolicy.REJECT_FILE, dry_run=False,
        **options) -> BulkImport:  # fmt: skip
    job = import_create(merchant=merchant, kind="orders", upload=File(io.BytesIO(content), name=name), file_name=name,
                        dry_run=dry_run, error_policy=error_policy, actor="user:1", **options)  # fmt: skip
    import_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def orders_of(merchant) -> list[tuple]:
    return [
        (o.channel.name, o.channel_order_id, o.status, o.payment_method, str(o.shipping_charge), str(o.cod_charge),
         str(o.total), o.shipping_address, [(ln.sku, ln.quantity, str(ln.unit_price), str(ln.discount))
                                            for ln in o.lines.order_by("id")])
        for o in Order.objects.filter(merchant=merchant).order_by("id")
    ]  # fmt: skip


def row_errors(job) -> list[tuple]:
    return list(job.row_errors.order_by("row", "id").values_list("row", "column", "value", "message"))


def address(name, phone, line1, line2, city, state, postcode) -> dict:
    return {"name": name, "phone": phone, "line1": line1, "line2": line2, "city": city, "state": state,
            "postcode": postcode, "country": "IN"}  # fmt: skip


PRIYA = address("Priya Sharma", "+919812345678", "42 Residency Road", "Ashok Nagar", "Bengaluru", "Karnataka", "560025")
RAHUL = address("Rahul Mehta", "+919876543210", "7 Marine Drive", "", "Mumbai", "Maharashtra", "400001")

# -- Shopify ------------------------------------------------------------------------------------

SHOPIFY = ["Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Currency", "Subtotal", "Shipping",
           "Taxes", "Total", "Discount Code", "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity",
           "Lineitem name", "Lineitem price", "Lineitem sku", "Lineitem discount", "Billing Name", "Billing Address1",
           "Billing City", "Billing Zip", "Billing Province", "Billing Country", "Billing Phone", "Shipping Name",
           "Shipping Address1", "Shipping Address2", "Shipping City", "Shipping Zip", "Shipping Province",
           "Shipping Country", "Shipping Phone", "Notes", "Cancelled at", "Payment Method", "Id", "Tax 1 Name",
           "Tax 1 Value"]  # fmt: skip
#: #1001: COD, prices with GST, two lines (the second a continuation row); #1002: prepaid, prices without tax.
SHOPIFY_ROWS = [
    {"Name": "#1001", "Email": "priya@example.in", "Financial Status": "pending", "Currency": "INR",
     "Subtotal": "1247.00", "Shipping": "49.00", "Taxes": "93.76", "Total": "1296.00", "Discount Code": "DIWALI50",
     "Discount Amount": "50.00", "Shipping Method": "Standard", "Created at": "2026-11-28 10:15:00 +0530",
     "Lineitem quantity": "2", "Lineitem name": "Cotton crew T-shirt (red, M)", "Lineitem price": "499.00",
     "Lineitem sku": "TEE-RED-M", "Lineitem discount": "50.00", "Billing Name": "Priya Sharma",
     "Billing Phone": "+91 98123 45678", "Shipping Name": "Priya Sharma", "Shipping Address1": "42 Residency Road",
     "Shipping Address2": "Ashok Nagar", "Shipping City": "Bengaluru", "Shipping Zip": "'560025",
     "Shipping Province": "KA", "Shipping Country": "IN", "Shipping Phone": "+91 98123 45678",
     "Payment Method": "Cash on Delivery (COD)", "Id": "5501234567890", "Tax 1 Name": "IGST 5%",
     "Tax 1 Value": "93.76"},
    {"Name": "#1001", "Lineitem quantity": "1", "Lineitem name": "Stoneware mug", "Lineitem price": "299.00",
     "Lineitem sku": "MUG-01", "Lineitem discount": "0.00"},
    {"Name": "#1002", "Email": "rahul@example.in", "Financial Status": "paid", "Currency": "INR",
     "Subtotal": "1000.00", "Shipping": "0.00", "Taxes": "120.00", "Total": "1120.00", "Discount Amount": "0.00",
     "Created at": "2026-11-28 11:00:00 +0530", "Lineitem quantity": "2",
     "Lineitem name": "Cotton crew T-shirt (blue, L)", "Lineitem price": "500.00", "Lineitem sku": "TEE-BLU-L",
     "Lineitem discount": "0.00", "Billing Name": "Rahul Mehta", "Billing Phone": "+919876543210",
     "Shipping Name": "Rahul Mehta", "Shipping Address1": "7 Marine Drive", "Shipping City": "Mumbai",
     "Shipping Zip": "400001", "Shipping Province": "MH", "Shipping Country": "IN", "Payment Method": "Razorpay",
     "Id": "5501234567891", "Tax 1 Name": "IGST 12%", "Tax 1 Value": "120.00"},
]  # fmt: skip
SHOPIFY_ORDERS = [
    ("Shopify", "5501234567890", "new", "cod", "49.00", "0.00", "1296.00", PRIYA,
     [("TEE-RED-M", 2, "499.00", "50.00"), ("MUG-01", 1, "299.00", "0.00")]),
    ("Shopify", "5501234567891", "new", "prepaid", "0.00", "0.00", "1120.00", RAHUL,
     [("TEE-BLU-L", 2, "560.00", "0.00")]),
]  # fmt: skip


def test_a_shopify_export_is_detected_and_imported_with_its_continuation_rows(shop):
    job = run(shop, table(SHOPIFY, SHOPIFY_ROWS), create_channels=True)

    assert (job.status, job.preset, job.total_rows, job.created_count, job.failed_count) == ("done", "shopify", 3, 2, 0)
    assert job.created_channels == ["Shopify"]
    assert orders_of(shop) == SHOPIFY_ORDERS
    assert Channel.objects.get(merchant=shop, name="Shopify").kind == "shopify"


def test_a_shopify_total_that_disagrees_is_the_rows_error(shop):
    channel_create(merchant=shop, name="Shopify", kind="shopify")
    rows = [SHOPIFY_ROWS[0], SHOPIFY_ROWS[1], {**SHOPIFY_ROWS[2], "Total": "1100.00"}]

    job = run(shop, table(SHOPIFY, rows), error_policy=SKIP)

    assert (job.status, job.created_count, job.failed_count) == ("partially_failed", 1, 1)
    assert row_errors(job) == [(4, "total", "1100.00", "Does not match the computed total 1000.00 (lines' quantity x "
                                "unit_price - discount, plus shipping_charge and cod_charge).")]  # fmt: skip


def test_without_create_channels_each_order_is_an_unknown_channel(shop):
    job = run(shop, table(SHOPIFY, SHOPIFY_ROWS), error_policy=SKIP)

    assert (job.status, job.created_count, job.failed_count, job.created_channels) == ("partially_failed", 0, 3, [])
    assert row_errors(job) == [(2, "channel", "Shopify", "Unknown channel 'Shopify'."),
                               (4, "channel", "Shopify", "Unknown channel 'Shopify'.")]  # fmt: skip
    assert not Channel.objects.filter(merchant=shop).exists()


def test_a_dry_run_creates_no_channel_and_a_file_naming_a_channel_keeps_it(shop):
    job = run(shop, table(["channel", *SHOPIFY], [{**r, "channel": "Shopify IN"} for r in SHOPIFY_ROWS]),
              create_channels=True)  # fmt: skip

    assert (job.status, job.created_count, job.created_channels) == ("done", 2, ["Shopify IN"])
    assert {o.channel.name for o in Order.objects.filter(merchant=shop)} == {"Shopify IN"}

    other = MerchantFactory()
    LocationFactory(merchant=other, nickname="blr-wh", is_default=True)
    dry = run(other, table(SHOPIFY, SHOPIFY_ROWS), dry_run=True, error_policy=SKIP, create_channels=True)
    assert (dry.status, dry.failed_count, dry.created_channels) == ("done", 0, [])
    assert not Channel.objects.filter(merchant=other).exists()


def test_an_explicit_preset_is_checked_against_the_header(shop):
    job = run(shop, table(SHOPIFY, SHOPIFY_ROWS), preset="amazon")

    assert job.status == "failed"
    assert job.error == (
        "The file is not an export of Amazon (preset amazon): columns missing: amazon_order_id, "
        "item_price, quantity, sku."
    )


def test_a_file_of_no_known_layout_fails_naming_the_presets(shop):
    job = run(shop, table(["Order", "Item", "Qty"], [{"Order": "A1", "Item": "TEE-RED-M", "Qty": "1"}]))

    assert job.status == "failed"
    assert job.error == ("Required columns are missing: channel_order_id, payment_method, shipping_name, "
                         "shipping_phone, shipping_line1, shipping_city, shipping_postcode, sku, quantity, "
                         "unit_price." + NOT_A_PRESET)  # fmt: skip


# -- WooCommerce --------------------------------------------------------------------------------

WOO = ["order_id", "order_number", "order_date", "status", "shipping_total", "shipping_tax_total", "fee_total",
       "fee_tax_total", "tax_total", "discount_total", "order_total", "order_currency", "payment_method",
       "shipping_method", "billing_first_name", "billing_last_name", "billing_email", "billing_phone",
       "billing_address_1", "billing_address_2", "billing_postcode", "billing_city", "billing_state", "billing_country",
       "shipping_first_name", "shipping_last_name", "shipping_address_1", "shipping_address_2", "shipping_postcode",
       "shipping_city", "shipping_state", "shipping_country", "customer_note", "item_name", "item_sku",
       "item_quantity", "item_total", "item_tax"]  # fmt: skip
WOO_ORDER = {"order_id": "4821", "order_number": "4821", "order_date": "2026-11-28 10:15:00", "status": "processing",
             "shipping_total": "42.37", "shipping_tax_total": "7.63", "fee_total": "30.00", "fee_tax_total": "0.00",
             "order_total": "1379.00", "order_currency": "INR", "payment_method": "cod",
             "billing_first_name": "Priya", "billing_last_name": "Sharma", "billing_email": "priya@example.in",
             "billing_phone": "9812345678", "shipping_first_name": "Priya", "shipping_last_name": "Sharma",
             "shipping_address_1": "42 Residency Road", "shipping_address_2": "Ashok Nagar",
             "shipping_postcode": "560025", "shipping_city": "Bengaluru", "shipping_state": "KA",
             "shipping_country": "IN"}  # fmt: skip


def test_a_woocommerce_export_gives_lines_with_their_tax_and_the_cod_fee(shop):
    rows = [
        {**WOO_ORDER, "item_name": "Cotton crew T-shirt (red, M)", "item_sku": "TEE-RED-M", "item_quantity": "2",
         "item_total": "855.24", "item_tax": "42.76"},
        {**WOO_ORDER, "item_name": "Stoneware mug", "item_sku": "MUG-01", "item_quantity": "3", "item_total": "339.83",
         "item_tax": "61.17"},
    ]  # fmt: skip

    job = run(shop, table(WOO, rows), create_channels=True)

    assert (job.status, job.preset, job.created_count, job.created_channels) == ("done", "woocommerce", 1,
                                                                                 ["WooCommerce"])  # fmt: skip
    assert orders_of(shop) == [
        ("WooCommerce", "4821", "new", "cod", "50.00", "30.00", "1379.00", PRIYA,
         [("TEE-RED-M", 2, "449.00", "0.00"), ("MUG-01", 3, "133.67", "0.01")]),
    ]  # fmt: skip


# -- Amazon -------------------------------------------------------------------------------------

AMAZON_UNSHIPPED = ["order-id", "order-item-id", "purchase-date", "payments-date", "buyer-email", "buyer-name",
                    "buyer-phone-number", "sku", "product-name", "quantity-purchased", "currency", "item-price",
                    "item-tax", "shipping-price", "shipping-tax", "ship-service-level", "recipient-name",
                    "ship-address-1", "ship-address-2", "ship-address-3", "ship-city", "ship-state",
                    "ship-postal-code", "ship-country", "payment-method"]  # fmt: skip
AMAZON_ALL = ["amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
              "fulfillment-channel", "sales-channel", "order-channel", "ship-service-level", "product-name", "sku",
              "asin", "item-status", "quantity", "currency", "item-price", "item-tax", "shipping-price", "shipping-tax",
              "gift-wrap-price", "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
              "ship-state", "ship-postal-code", "ship-country", "promotion-ids"]  # fmt: skip


def test_an_amazon_unshipped_orders_report_imports_from_tab_separated_text(shop):
    order = {"order-id": "405-1234567-1234567", "purchase-date": "2026-11-28T04:45:00+00:00",
             "buyer-email": "abc123@marketplace.amazon.in", "buyer-name": "Rahul Mehta",
             "buyer-phone-number": "+91 98765 43210", "currency": "INR", "ship-service-level": "Standard",
             "recipient-name": "Rahul Mehta", "ship-address-1": "7 Marine Drive", "ship-address-2": "Churchgate",
             "ship-address-3": "Near Oval Maidan", "ship-city": "MUMBAI", "ship-state": "Maharashtra",
             "ship-postal-code": "400001", "ship-country": "IN", "payment-method": "COD"}  # fmt: skip
    rows = [
        {**order, "order-item-id": "11111111111111", "sku": "TEE-BLU-L", "product-name": "Cotton crew T-shirt",
         "quantity-purchased": "2", "item-price": "1198.00", "item-tax": "128.36", "shipping-price": "40.00"},
        {**order, "order-item-id": "22222222222222", "sku": "MUG-01", "product-name": "Stoneware mug",
         "quantity-purchased": "1", "item-price": "299.00", "item-tax": "45.61", "shipping-price": "0.00"},
    ]  # fmt: skip

    job = run(shop, table(AMAZON_UNSHIPPED, rows, delimiter="\t"), name="unshipped.txt", create_channels=True)

    assert (job.status, job.preset, job.created_count, job.created_channels) == ("done", "amazon", 1, ["Amazon"])
    assert orders_of(shop) == [
        ("Amazon", "405-1234567-1234567", "new", "cod", "40.00", "0.00", "1537.00",
         {**RAHUL, "line2": "Churchgate, Near Oval Maidan", "city": "MUMBAI"},
         [("TEE-BLU-L", 2, "599.00", "0.00"), ("MUG-01", 1, "299.00", "0.00")]),
    ]  # fmt: skip


def test_an_amazon_all_orders_report_has_no_address_each_row_says_so(shop):
    order = {"amazon-order-id": "171-7654321-7654321", "purchase-date": "2026-11-28T04:45:00+00:00",
             "order-status": "Pending", "fulfillment-channel": "Merchant", "sales-channel": "Amazon.in",
             "currency": "INR", "ship-city": "BENGALURU", "ship-state": "KARNATAKA", "ship-postal-code": "560025",
             "ship-country": "IN"}  # fmt: skip
    rows = [{**order, "sku": "TEE-RED-M", "quantity": "1", "item-price": "499.00"},
            {**order, "sku": "TEE-BLU-L", "quantity": "1", "item-price": "599.00"}]  # fmt: skip

    job = run(shop, table(AMAZON_ALL, rows, delimiter="\t"), error_policy=SKIP, create_channels=True)

    assert (job.status, job.preset, job.total_rows, job.created_count, job.failed_count) == (
        "partially_failed", "amazon", 2, 0, 2)  # fmt: skip
    assert row_errors(job) == [
        (2, "ship-address-1", "", AMAZON_NO_ADDRESS),
        (3, "ship-address-1", "", AMAZON_NO_ADDRESS),
    ]


# -- OpenCart -----------------------------------------------------------------------------------

OPENCART = ["order_id", "date_added", "order_status", "firstname", "lastname", "email", "telephone", "payment_method",
            "payment_code", "shipping_firstname", "shipping_lastname", "shipping_address_1", "shipping_address_2",
            "shipping_city", "shipping_postcode", "shipping_zone", "shipping_country", "shipping_iso_code_2",
            "shipping_cost", "total", "currency_code", "model", "name", "quantity", "price", "tax"]  # fmt: skip


def test_an_opencart_file_of_its_order_tables_columns_imports(shop):
    order = {"order_id": "27", "date_added": "2026-11-28 10:15:00", "order_status": "Pending", "firstname": "Priya",
             "lastname": "Sharma", "email": "priya@example.in", "telephone": "9812345678",
             "payment_method": "Cash On Delivery", "payment_code": "cod", "shipping_firstname": "Priya",
             "shipping_lastname": "Sharma", "shipping_address_1": "42 Residency Road",
             "shipping_address_2": "Ashok Nagar", "shipping_city": "Bengaluru", "shipping_postcode": "560025",
             "shipping_zone": "Karnataka", "shipping_country": "India", "shipping_iso_code_2": "IN",
             "shipping_cost": "60.0000", "total": "1058.0000", "currency_code": "INR"}  # fmt: skip
    rows = [{**order, "model": "TEE-RED-M", "name": "Cotton crew T-shirt (red, M)", "quantity": "2",
             "price": "475.2381", "tax": "23.7619"}]  # fmt: skip

    job = run(shop, table(OPENCART, rows), preset="opencart", create_channels=True)

    assert (job.status, job.preset, job.created_count, job.created_channels) == ("done", "opencart", 1, ["OpenCart"])
    assert orders_of(shop) == [
        ("OpenCart", "27", "new", "cod", "60.00", "0.00", "1058.00", PRIYA, [("TEE-RED-M", 2, "499.00", "0.00")]),
    ]


# -- create_channels: one merchant's export into another ---------------------------------------


def test_one_merchants_export_imports_into_another_with_create_channels(shop):
    first = run(shop, table(SHOPIFY, SHOPIFY_ROWS), create_channels=True)
    assert first.created_count == 2
    exported = io.StringIO()
    csv.writer(exported).writerows(selectors.order_export_rows(Order.objects.filter(merchant=shop)))
    content = exported.getvalue().encode()

    other = MerchantFactory()
    LocationFactory(merchant=other, nickname="blr-wh", is_default=True)
    refused = run(other, content, error_policy=SKIP)
    assert (refused.preset, refused.created_count, refused.failed_count) == ("shopops", 0, 3)
    assert {m for *_, m in row_errors(refused)} == {"Unknown channel 'Shopify'."}

    job = run(other, content, create_channels=True)

    assert (job.status, job.preset, job.created_count, job.created_channels) == ("done", "shopops", 2, ["Shopify"])
    assert Channel.objects.get(merchant=other, name="Shopify").kind == "custom"
    assert sorted(o[:7] for o in orders_of(other)) == [o[:7] for o in SHOPIFY_ORDERS]


def test_a_channel_another_import_created_meanwhile_is_used_not_created_again(shop):
    from orders.services.channels import channel_get_or_create

    created = channel_get_or_create(merchant=shop, name="Shopify", kind="shopify")
    again = channel_get_or_create(merchant=shop, name="Shopify", kind="custom")

    assert created[1] is True and again == (created[0], False)
    job = run(shop, table(SHOPIFY, SHOPIFY_ROWS), create_channels=True)
    assert (job.created_count, job.created_channels) == (2, [])


# -- the API and the admin ----------------------------------------------------------------------


def test_the_api_takes_and_shows_preset_and_create_channels(api, shop, django_capture_on_commit_callbacks):
    upload = io.BytesIO(table(SHOPIFY, SHOPIFY_ROWS))
    upload.name = "orders_export.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/imports/", {"file": upload, "kind": "orders", "preset": "shopify",
                                                 "create_channels": "true"}, format="multipart")  # fmt: skip

    assert response.status_code == 202, response.content
    body = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert {k: body[k] for k in ("status", "preset", "create_channels", "created_channels", "created_count")} == {
        "status": "done", "preset": "shopify", "create_channels": True, "created_channels": ["Shopify"],
        "created_count": 2}  # fmt: skip

    products = io.BytesIO(b"sku,title,price\nTEE-GRN-M,Green tee,499.00\n")
    products.name = "products.csv"
    refused = api.post("/api/v1/imports/", {"file": products, "kind": "products", "preset": "shopify"},
                       format="multipart")  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] if "error" in refused.json() else refused.json()
    assert BulkImport.objects.filter(kind="products").count() == 0
