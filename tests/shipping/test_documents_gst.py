"""What a GST auditor reads on an invoice: shipping and COD charges as taxable lines at the principal supply's rate
(CGST + SGST within the state, IGST across), each line's quantity with its unit quantity code, the reverse-charge
statement, and exports: place of supply 96 (Other Countries), zero-rated under the merchant's LUT or charged IGST,
with the export statement. Exact to the paisa."""

from decimal import Decimal

import pytest

from catalog.models import UQC, Product
from orders.models import OrderStatus
from orders.services.orders import order_cancel
from shipping.documents.data import EXPORT_UNDER_LUT, EXPORT_WITH_IGST, invoice_context, invoice_queryset
from shipping.documents.render import render_invoices
from shipping.services.documents import invoices_issue
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import ADDRESS, default_location, make_order
from tests.shipping.documents_helpers import gst_merchant, page_texts

pytestmark = pytest.mark.django_db
D = Decimal
MUMBAI = {**ADDRESS, "line1": "7 Linking Road", "city": "Mumbai", "state": "Maharashtra", "postcode": "400050"}
LONDON = {"name": "Oliver Smith", "phone": "+442079460958", "line1": "10 Downing Street", "line2": "",
          "city": "London", "state": "", "postcode": "SW1A 2AA", "country": "GB"}  # fmt: skip
LUT = "AD290426000123X"


def _order(merchant, address=ADDRESS, status=OrderStatus.PACKED):
    """2 x TEE at 18% (998.00, PCS) and 1 x MUG at 12% (1,000.00: the principal supply, taxable 892.86 against
    845.76), shipping 59.00 and COD 45.00: total 2,102.00."""
    location = default_location(merchant)
    for sku, title, rate, hsn, uqc in (("TEE", "Cotton tee", "18", "6109", UQC.PCS),
                                       ("MUG", "Stoneware mug", "12", "6912", UQC.NOS)):  # fmt: skip
        if not Product.objects.filter(merchant=merchant, sku=sku).exists():
            stock(ProductFactory(merchant=merchant, sku=sku, title=title, mrp=None, tax_rate=D(rate), hsn_code=hsn,
                                 uqc=uqc), location, 10)  # fmt: skip
    lines = [{"sku": "TEE", "quantity": 2, "unit_price": D("499.00")},
             {"sku": "MUG", "quantity": 1, "unit_price": D("1000.00")}]  # fmt: skip
    return make_order(merchant, status, products=[], lines=lines, shipping_address=dict(address),
                      payment_method="cod", shipping_charge=D("59.00"), cod_charge=D("45.00"))  # fmt: skip


def _context(order):
    [loaded] = invoice_queryset().filter(pk=order.pk)
    return invoice_context(loaded)


def _rows(context, *keys):
    return [tuple(row[key] for key in keys) for row in context["lines"]]


def test_within_the_state_the_charges_are_lines_split_into_cgst_and_sgst_at_the_principal_rate(merchant):
    gst_merchant(merchant)

    context = _context(_order(merchant))

    assert _rows(context, "name", "hsn", "quantity", "uqc", "taxable", "cgst", "sgst", "total") == [
        ("Cotton tee", "6109", 2, "PCS", "845.76", "76.12 (9%)", "76.12 (9%)", "998.00"),
        ("Stoneware mug", "6912", 1, "NOS", "892.86", "53.57 (6%)", "53.57 (6%)", "1,000.00"),
        ("Shipping charges", "6912", "", "", "52.68", "3.16 (6%)", "3.16 (6%)", "59.00"),
        ("Cash-on-delivery charges", "6912", "", "", "40.18", "2.41 (6%)", "2.41 (6%)", "45.00"),
    ]
    assert context["totals"] == {"taxable": "1,831.48", "cgst": "135.26", "sgst": "135.26", "igst": "0.00",
                                 "total": "2,102.00", "discount": "0.00"}  # fmt: skip
    assert (context["grand_total"], context["place_of_supply"], context["reverse_charge"]) == (
        "₹2,102.00", "Karnataka (29)", "No")  # fmt: skip
    assert (context["export"], context["export_statement"]) == (False, "")


def test_across_states_the_charges_carry_igst_at_the_principal_rate(merchant):
    gst_merchant(merchant)

    context = _context(_order(merchant, MUMBAI))

    assert _rows(context, "taxable", "igst", "total") == [
        ("845.76", "152.24 (18%)", "998.00"), ("892.86", "107.14 (12%)", "1,000.00"),
        ("52.68", "6.32 (12%)", "59.00"), ("40.18", "4.82 (12%)", "45.00"),
    ]  # fmt: skip
    assert (context["totals"]["igst"], context["totals"]["taxable"], context["totals"]["cgst"]) == (
        "270.52", "1,831.48", "0.00")  # fmt: skip
    assert context["place_of_supply"] == "Maharashtra (27)"


def test_an_export_under_the_lut_is_zero_rated_with_place_of_supply_96(merchant):
    gst_merchant(merchant, lut_reference=LUT)

    context = _context(_order(merchant, LONDON))

    assert _rows(context, "taxable", "igst", "total") == [
        ("998.00", "0.00 (0%)", "998.00"), ("1,000.00", "0.00 (0%)", "1,000.00"),
        ("59.00", "0.00 (0%)", "59.00"), ("45.00", "0.00 (0%)", "45.00"),
    ]  # fmt: skip
    assert (context["totals"]["taxable"], context["totals"]["igst"], context["grand_total"]) == (
        "2,102.00", "0.00", "₹2,102.00")  # fmt: skip
    assert (context["place_of_supply"], context["destination_country"], context["intra_state"]) == (
        "96 - Other Countries", "GB", False)  # fmt: skip
    assert context["export_statement"] == f"{EXPORT_UNDER_LUT} (LUT {LUT})"


def test_an_export_without_an_lut_is_charged_igst(merchant):
    gst_merchant(merchant)

    context = _context(_order(merchant, LONDON))

    assert _rows(context, "igst") == [("152.24 (18%)",), ("107.14 (12%)",), ("6.32 (12%)",), ("4.82 (12%)",)]
    assert (context["totals"]["taxable"], context["totals"]["igst"]) == ("1,831.48", "270.52")
    assert (context["place_of_supply"], context["export_statement"]) == ("96 - Other Countries", EXPORT_WITH_IGST)


def test_the_pdf_prints_the_charges_the_units_the_reverse_charge_and_the_export_statement(merchant):
    gst_merchant(merchant, lut_reference=LUT)
    domestic, export = _order(merchant), _order(merchant, LONDON)
    loaded = list(invoice_queryset().filter(pk__in=[domestic.pk, export.pk]).order_by("pk"))
    invoices_issue(merchant=merchant, orders=loaded)

    first, second = page_texts(render_invoices(merchant=merchant, orders=loaded).pdf)

    for text in (first, second):
        assert "Shipping charges" in text and "Cash-on-delivery charges" in text
        assert "2 PCS" in text and "1 NOS" in text
        assert "Tax payable on reverse charge: No" in text
    assert "Karnataka (29)" in first and "135.26" in first and "EXPORT" not in first
    assert "96 - Other Countries" in second and "Country of destination: GB" in second
    assert EXPORT_UNDER_LUT in " ".join(second.split()) and LUT in second
    assert "Zero-rated export: no IGST" in second and "₹2,102.00" in second


def test_an_order_cancelled_after_its_invoice_still_prints_that_invoice(merchant):
    gst_merchant(merchant)
    order = _order(merchant)
    loaded = list(invoice_queryset().filter(pk=order.pk))
    invoices_issue(merchant=merchant, orders=loaded)
    order_cancel(order=order, reason="Out of stock", actor="system")

    result = render_invoices(merchant=merchant, orders=list(invoice_queryset().filter(pk=order.pk)))

    assert (result.page_count, result.not_created) == (1, [])
    assert "INV-000001" in page_texts(result.pdf)[0]
