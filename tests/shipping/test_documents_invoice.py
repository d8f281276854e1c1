"""Tax invoices: CGST + SGST within the seller's state, IGST to another state, exact to the paisa; totals and the
amount in words (lakh, crore); the merchant's GSTIN required; invoice numbers once per order, gap-free."""

from decimal import Decimal

import pytest

from catalog.models import Product
from orders.models import OrderStatus
from shipping.documents.data import (
    MissingMerchantSetting,
    amount_in_words,
    data_checksum,
    indian_grouping,
    invoice_context,
    invoice_queryset,
)
from shipping.documents.gst import TaxLine, gst_state_code, is_intra_state, split_tax
from shipping.documents.render import render_invoices
from shipping.models import Invoice
from shipping.services.documents import invoices_issue
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import ADDRESS, default_location, make_order
from tests.shipping.documents_helpers import SIZE_A4, barcodes_on_page, gst_merchant, page_size, page_texts, pdf_pages
from tests.shipping.documents_helpers import same_size as same

pytestmark = pytest.mark.django_db
MUMBAI = {**ADDRESS, "name": "Rahul Mehta", "line1": "7 Linking Road", "city": "Mumbai", "state": "Maharashtra",
          "postcode": "400050"}  # fmt: skip


def _order(merchant, address=ADDRESS, status=OrderStatus.PACKED, **overrides):
    """Three lines: 1 x 1,180.00 at 18%; 1 x 999.00 at 18% (odd paisa); 2 x 500.00 less 100.00 at 12%; shipping 50."""
    for sku in ("TEE-1", "TEE-2", "MUG-1"):
        if not Product.objects.filter(merchant=merchant, sku=sku).exists():
            stock(ProductFactory(merchant=merchant, sku=sku), default_location(merchant), 100)
    lines = [
        {"sku": "TEE-1", "quantity": 1, "unit_price": Decimal("1180.00"), "tax_rate": Decimal("18"),
         "hsn_code": "6109"},
        {"sku": "TEE-2", "quantity": 1, "unit_price": Decimal("999.00"), "tax_rate": Decimal("18"),
         "hsn_code": "6109"},
        {"sku": "MUG-1", "quantity": 2, "unit_price": Decimal("500.00"), "discount": Decimal("100.00"),
         "tax_rate": Decimal("12"), "hsn_code": "6912"},
    ]  # fmt: skip
    return make_order(merchant, status, products=[], lines=lines, shipping_address=dict(address),
                      shipping_charge=Decimal("50.00"), **overrides)  # fmt: skip


def _loaded(*orders):
    return list(invoice_queryset().filter(pk__in=[o.pk for o in orders]).order_by("pk"))


def _issued(merchant, *orders):
    """The orders loaded for their invoices and numbered, as the document job does before rendering."""
    loaded = _loaded(*orders)
    invoices_issue(merchant=merchant, orders=loaded)
    return loaded


def test_split_tax_halves_add_up_to_the_line_tax_to_the_paisa():
    assert split_tax(total=Decimal("1180.00"), tax_amount=Decimal("180.00"), intra_state=True) == TaxLine(
        Decimal("1000.00"), Decimal("90.00"), Decimal("90.00"), Decimal("0"))  # fmt: skip
    odd = split_tax(total=Decimal("999.00"), tax_amount=Decimal("152.39"), intra_state=True)
    assert (odd.taxable_value, odd.cgst, odd.sgst, odd.igst) == (
        Decimal("846.61"), Decimal("76.20"), Decimal("76.19"), Decimal("0"))  # fmt: skip
    inter = split_tax(total=Decimal("999.00"), tax_amount=Decimal("152.39"), intra_state=False)
    assert (inter.taxable_value, inter.cgst, inter.sgst, inter.igst) == (
        Decimal("846.61"), Decimal("0"), Decimal("0"), Decimal("152.39"))  # fmt: skip


def test_place_of_supply_compares_gst_state_codes():
    assert (gst_state_code("Karnataka"), gst_state_code("tamil  nadu"), gst_state_code("Orissa")) == ("29", "33", "21")
    assert gst_state_code("Jammu & Kashmir") == "01"
    assert gst_state_code("Atlantis") == ""


def test_same_state_invoice_splits_cgst_and_sgst_exactly(merchant):
    gst_merchant(merchant)
    [order] = _loaded(_order(merchant))

    context = invoice_context(order)

    assert context["intra_state"] is True
    assert [(ln["taxable"], ln["cgst"], ln["sgst"], ln["total"]) for ln in context["lines"]] == [
        ("1,000.00", "90.00 (9%)", "90.00 (9%)", "1,180.00"),
        ("846.61", "76.20 (9%)", "76.19 (9%)", "999.00"),
        ("803.57", "48.22 (6%)", "48.21 (6%)", "900.00"),
        ("42.37", "3.82 (9%)", "3.81 (9%)", "50.00"),  # shipping, at the principal supply's 18% (line 1)
    ]
    assert context["totals"] == {"taxable": "2,692.55", "cgst": "218.24", "sgst": "218.21", "igst": "0.00",
                                 "total": "3,129.00", "discount": "100.00"}  # fmt: skip
    assert context["grand_total"] == "₹3,129.00" and order.total == Decimal("3129.00")
    assert context["in_words"] == "Rupees three thousand, one hundred and twenty-nine only"
    assert context["place_of_supply"] == "Karnataka (29)"


def test_other_state_invoice_charges_igst(merchant):
    gst_merchant(merchant)
    [order] = _loaded(_order(merchant, MUMBAI))

    context = invoice_context(order)

    assert context["intra_state"] is False
    assert [ln["igst"] for ln in context["lines"]] == ["180.00 (18%)", "152.39 (18%)", "96.43 (12%)", "7.63 (18%)"]
    assert (context["totals"]["igst"], context["totals"]["cgst"], context["totals"]["taxable"]) == (
        "436.45", "0.00", "2,692.55")  # fmt: skip
    assert context["place_of_supply"] == "Maharashtra (27)"


def test_the_gstin_state_code_decides_over_the_merchant_state_field(merchant):
    gst_merchant(merchant, tax_id="27ABCDE1234F1Z5", state="Karnataka")  # registered in Maharashtra
    assert is_intra_state(merchant, MUMBAI) is True
    assert is_intra_state(merchant, ADDRESS) is False
    assert is_intra_state(merchant, {**MUMBAI, "country": "AE"}) is False  # exports: IGST


def test_the_invoice_pdf_shows_the_split_the_totals_and_the_words(merchant):
    gst_merchant(merchant)
    same_state, other_state = _order(merchant), _order(merchant, MUMBAI)

    result = render_invoices(merchant=merchant, orders=_issued(merchant, same_state, other_state))

    assert (result.page_count, result.not_created) == (2, [])
    pages = pdf_pages(result.pdf)
    assert [same(page_size(p), SIZE_A4) for p in pages] == [True, True]
    first, second = page_texts(result.pdf)
    for text in (first, second):
        assert "TAX INVOICE" in text and "GSTIN: 29ABCDE1234F1Z5" in text and "Acme Retail Private Limited" in text
        assert "2,692.55" in text and "₹3,129.00" in text
        assert "Rupees three thousand, one hundred and twenty-nine only" in text
        assert "6109" in text and "6912" in text
    assert "INV-000001" in first and same_state.number in first
    assert "CGST" in first and "SGST" in first and "218.24" in first and "218.21" in first and "IGST" not in first
    assert "INV-000002" in second and other_state.number in second
    assert "IGST" in second and "436.45" in second and "SGST" not in second
    assert barcodes_on_page(result.pdf, 0, dpi=300) == [same_state.number]


def test_amount_in_words_uses_lakh_and_crore_with_paise():
    assert amount_in_words(Decimal("12345678.90")) == (
        "Rupees one crore, twenty-three lakh, forty-five thousand, six hundred and seventy-eight and ninety paise only"
    )
    assert amount_in_words(Decimal("100000")) == "Rupees one lakh only"
    assert amount_in_words(Decimal("0.05")) == "Rupees zero and five paise only"
    assert indian_grouping(Decimal("12345678.9")) == "1,23,45,678.90"
    assert indian_grouping(Decimal("999")) == "999.00"


def test_an_invoice_without_the_merchant_gstin_is_refused_naming_the_setting(merchant):
    gst_merchant(merchant, tax_id="")
    order = _order(merchant)

    with pytest.raises(MissingMerchantSetting) as caught:
        invoices_issue(merchant=merchant, orders=_loaded(order))

    assert caught.value.setting == "tax_id"
    assert str(caught.value) == "Set the merchant's GSTIN / tax id (Merchant.tax_id) before issuing tax invoices."
    assert Invoice.objects.count() == 0


def test_an_invoice_without_the_merchant_address_is_refused(merchant):
    gst_merchant(merchant, line1="", postcode="")

    with pytest.raises(MissingMerchantSetting) as caught:
        render_invoices(merchant=merchant, orders=[])

    assert caught.value.setting == "line1"
    assert str(caught.value) == (
        "Set the merchant's address (Merchant.line1, Merchant.postcode) before issuing tax invoices."
    )


def test_an_order_is_rendered_only_once_it_has_its_invoice_number(merchant):
    gst_merchant(merchant)
    order = _order(merchant)

    with pytest.raises(ValueError, match=f"Order {order.number} has no invoice number"):
        render_invoices(merchant=merchant, orders=_loaded(order))

    assert Invoice.objects.count() == 0


def test_a_reprint_keeps_the_number_and_the_bytes_and_cancelled_orders_get_none(merchant):
    gst_merchant(merchant)
    order = _order(merchant)
    cancelled = _order(merchant, status=OrderStatus.CANCELLED)
    first = render_invoices(merchant=merchant, orders=_issued(merchant, order, cancelled))
    checksum = data_checksum("invoice", "a4", _loaded(order))

    again = render_invoices(merchant=merchant, orders=_issued(merchant, order, cancelled))

    assert first.not_created == [{"id": cancelled.pk, "reason": "The order is cancelled: it has no invoice."}]
    assert again.pdf == first.pdf
    assert list(Invoice.objects.values_list("order_id", "number")) == [(order.pk, "INV-000001")]
    assert data_checksum("invoice", "a4", _loaded(order)) == checksum


def test_invoices_cost_constant_queries_once_numbered(merchant, django_assert_num_queries):
    gst_merchant(merchant)
    orders = [_order(merchant) for _ in range(4)]
    invoices_issue(merchant=merchant, orders=_loaded(*orders))

    for count in (1, 4):
        with django_assert_num_queries(2):  # orders with their invoice; lines with products
            render_invoices(merchant=merchant, orders=_loaded(*orders[:count]))
