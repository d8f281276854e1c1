"""What couriers ask of a label, read back from the PDF: the invoice number and value (rupees, lakh grouping), the
seller's GSTIN and the e-way bill in one row; the invoice number issued when the label is rendered (when the merchant
can issue tax invoices, else the value alone); the customer's phone masked to its last 4 digits when the merchant asks;
the courier's routing code in place of the zone route. The AWB barcode still decodes, 4x6 and 4-up, and the queries
stay constant in the number of labels."""

from decimal import Decimal

import pytest

from shipping.documents.data import data_checksum, label_context, label_queryset, mask_phone
from shipping.documents.render import LABEL_ROWS, render_labels
from shipping.models import Document, DocumentKind, DocumentStatus, Invoice, Shipment, ShipmentStatus
from shipping.services.documents import document_render, document_request, label_invoices_issue
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import default_location
from tests.shipping.documents_helpers import barcodes_on_page, gst_merchant, page_texts
from tests.shipping.factories import make_shipment, shipping_courier

pytestmark = pytest.mark.django_db
EWAY = "331001234567"


def _labelled(merchant, count: int = 1, **order) -> list[Shipment]:
    shipping_courier(merchant)
    ids = [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, **order).pk for _ in range(count)]
    return list(label_queryset().filter(pk__in=ids).order_by("pk"))


def _worth(merchant, price: str, quantity: int = 2):
    """Order lines of one product at ``price`` a unit (stocked): the order's total is price x quantity."""
    product = ProductFactory(merchant=merchant, price=Decimal(price), mrp=Decimal(price))
    stock(product, default_location(merchant), 10)
    return [(product, quantity)]


def _label_text(merchant, shipments, format="4x6") -> list[str]:
    return page_texts(render_labels(merchant=merchant, shipments=shipments, format=format).pdf)


def _render_job(merchant, shipments, format="4x6") -> Document:
    """A label document as the API asks for it and a worker renders it."""
    document = document_request(merchant=merchant, kind=DocumentKind.LABEL, ids=[s.pk for s in shipments],
                                actor="user:1", format=format, enqueue=False)  # fmt: skip
    return document_render(document_id=document.pk)


def test_the_rows_still_make_144_mm():
    assert sum(height for _, height in LABEL_ROWS) == 144
    assert [name for name, _ in LABEL_ROWS] == ["head", "awb", "route", "ship_to", "order", "invoice", "items",
                                                "return"]  # fmt: skip


def test_a_label_prints_the_invoice_number_and_value_the_gstin_and_the_e_way_bill(merchant):
    gst_merchant(merchant)
    shipments = _labelled(merchant, products=_worth(merchant, "61728.00"), eway_bill_number=EWAY)
    label_invoices_issue(merchant=merchant, shipments=shipments)

    [text] = _label_text(merchant, shipments)

    assert ("ITEMS\n2\nINVOICE\nINV-000001\nVALUE\n₹1,23,456.00\nGSTIN\n29ABCDE1234F1Z5\nE-WAY BILL\n"
            f"{EWAY}\n2 x ") in text  # fmt: skip
    assert Invoice.objects.get(order=shipments[0].order).number == "INV-000001"


def test_the_awb_and_order_barcodes_still_decode_with_every_field_filled(merchant):
    gst_merchant(merchant, mask_phone_on_label=True)
    shipments = _labelled(merchant, 4, products=_worth(merchant, "61728.00"), eway_bill_number=EWAY,
                          payment_method="cod")  # fmt: skip
    Shipment.objects.filter(pk__in=[s.pk for s in shipments]).update(routing_code="DEL/BLR-WFD/HUB-07/L12")
    shipments = list(label_queryset().filter(pk__in=[s.pk for s in shipments]).order_by("pk"))
    label_invoices_issue(merchant=merchant, shipments=shipments)

    single = render_labels(merchant=merchant, shipments=shipments[:1], format="4x6").pdf
    sheet = render_labels(merchant=merchant, shipments=shipments, format="a4-4up").pdf

    assert barcodes_on_page(single, 0) == [shipments[0].awb, shipments[0].order.number]
    codes = [code for s in shipments for code in (s.awb, s.order.number)]
    assert sorted(barcodes_on_page(sheet, 0)) == sorted(codes)
    [text] = page_texts(sheet)
    assert text.count("INVOICE\nINV-") == 4 and text.count("E-WAY BILL\n331001234567") == 4


def test_without_an_e_way_bill_or_a_gstin_the_label_shows_what_it_has(merchant):
    shipments = _labelled(merchant)  # the merchant has no GSTIN: it cannot issue tax invoices yet

    document = _render_job(merchant, shipments)

    assert document.status == DocumentStatus.DONE
    [text] = page_texts(document.file.read())
    assert "ITEMS\n2\nVALUE\n₹998.00\n2 x Product" in text  # no invoice number, GSTIN or e-way bill
    assert ("INVOICE" not in text, "GSTIN" not in text, "E-WAY BILL" not in text) == (True, True, True)
    assert Invoice.objects.count() == 0


def test_rendering_the_label_issues_the_invoice_number_kept_for_the_invoice_and_reprints(merchant):
    gst_merchant(merchant)
    shipments = _labelled(merchant, 2)
    checksum = data_checksum("label", "4x6", shipments)

    document = _render_job(merchant, shipments)

    invoices = dict(Invoice.objects.values_list("order_id", "number"))
    assert invoices == {shipments[0].order_id: "INV-000001", shipments[1].order_id: "INV-000002"}
    texts = page_texts(document.file.read())
    assert ["INVOICE\nINV-000001\nVALUE\n₹998.00\nGSTIN\n29ABCDE1234F1Z5\n" in texts[0],
            "INVOICE\nINV-000002\nVALUE\n₹998.00\nGSTIN\n29ABCDE1234F1Z5\n" in texts[1]] == [True, True]  # fmt: skip
    # The number is issued now, the data unchanged: asking again answers the same document, then the invoice has it.
    again = list(label_queryset().filter(pk__in=[s.pk for s in shipments]).order_by("pk"))
    assert data_checksum("label", "4x6", again) == checksum
    assert _render_job(merchant, again).pk == document.pk
    invoice = document_render(document_id=document_request(
        merchant=merchant, kind=DocumentKind.INVOICE, ids=[shipments[0].order_id], actor="user:1",
        enqueue=False).pk)  # fmt: skip
    assert "Invoice no. INV-000001" in page_texts(invoice.file.read())[0]
    assert Invoice.objects.count() == 2


def test_the_label_checksum_changes_when_the_merchant_becomes_able_to_issue_invoices(merchant):
    gst_merchant(merchant, line1="")  # a GSTIN but no address: no tax invoice yet
    shipments = _labelled(merchant)
    before = data_checksum("label", "4x6", shipments)
    _render_job(merchant, shipments)
    assert Invoice.objects.count() == 0

    gst_merchant(merchant)  # the address is set: the next label prints the invoice number
    shipments = list(label_queryset().filter(pk__in=[s.pk for s in shipments]))

    assert data_checksum("label", "4x6", shipments) != before
    document = _render_job(merchant, shipments)
    assert "INVOICE\nINV-000001\n" in page_texts(document.file.read())[0]


def test_a_cancelled_shipment_gets_no_invoice_number(merchant):
    gst_merchant(merchant)
    shipping_courier(merchant)
    cancelled = make_shipment(merchant, ShipmentStatus.CANCELLED)
    live = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)

    _render_job(merchant, [cancelled, live])

    assert list(Invoice.objects.values_list("order_id", flat=True)) == [live.order_id]


def test_the_phone_is_masked_to_its_last_4_digits_when_the_merchant_asks(merchant):
    shipments = _labelled(merchant)
    assert "Phone: +919812345678" in _label_text(merchant, shipments)[0]  # not masked by default

    merchant.mask_phone_on_label = True
    merchant.save(update_fields=["mask_phone_on_label"])
    shipments = list(label_queryset().filter(pk__in=[s.pk for s in shipments]))
    [text] = _label_text(merchant, shipments)

    assert "Phone: XXXXXX5678\n" in text
    assert "9812345678" not in text and "98123" not in text
    assert label_context(shipments[0])["ship_to"]["phone"] == "XXXXXX5678"  # the raw number is not in the data


def test_mask_phone_keeps_the_last_4_digits_only():
    assert [mask_phone(p) for p in ("+919812345678", "+14155550123", "5678", "", "+91 98123 45678")] == [
        "XXXXXX5678", "XXXXXX0123", "XXXXXX5678", "", "XXXXXX5678"]  # fmt: skip


def test_masking_changes_the_checksum_so_a_reprint_is_not_the_unmasked_pdf(merchant):
    shipments = _labelled(merchant)
    unmasked = data_checksum("label", "4x6", shipments)

    merchant.mask_phone_on_label = True
    merchant.save(update_fields=["mask_phone_on_label"])

    assert data_checksum("label", "4x6", list(label_queryset().filter(pk__in=[s.pk for s in shipments]))) != unmasked


def test_the_courier_routing_code_replaces_the_zone_route(merchant):
    shipments = _labelled(merchant, 2)
    assert "\nWC/560-560\nWithin city · " in _label_text(merchant, shipments[:1])[0]  # no routing code: the zone

    Shipment.objects.filter(pk=shipments[0].pk).update(routing_code="BLR/HSR/A12")
    Shipment.objects.filter(pk=shipments[1].pk).update(routing_code="DEL/BLR-WFD/HUB-07/LANE-12/BAY-3")
    shipments = list(label_queryset().filter(pk__in=[s.pk for s in shipments]).order_by("pk"))
    short, long = _label_text(merchant, shipments)

    assert "\nBLR/HSR/A12\nWithin city · " in short and "WC/560-560" not in short
    assert "\nDEL/BLR-WFD/HUB-07/LANE-12/BAY-3\nSHIP TO\n" in long  # printed whole: the row is its own


def test_labels_with_every_field_cost_the_same_queries_for_2_or_8(merchant, django_assert_num_queries):
    gst_merchant(merchant, mask_phone_on_label=True)
    shipments = _labelled(merchant, 8, eway_bill_number=EWAY)
    Shipment.objects.filter(pk__in=[s.pk for s in shipments]).update(routing_code="BLR/HSR/A12")
    label_invoices_issue(merchant=merchant, shipments=shipments)
    ids = [s.pk for s in shipments]

    for count in (2, 8):
        with django_assert_num_queries(2):  # shipments with courier, order, location and invoice; the order lines
            loaded = list(label_queryset().filter(pk__in=ids[:count]))
            label_invoices_issue(merchant=merchant, shipments=loaded)  # numbered already: nothing to issue
            render_labels(merchant=merchant, shipments=loaded, format="4x6")
            data_checksum("label", "4x6", loaded)


def test_a_crowded_label_keeps_every_address_line_the_items_summary_and_readable_barcodes(merchant):
    gst_merchant(merchant)
    location = default_location(merchant)
    location.name = "Peenya warehouse"
    location.line1 = "Plot 14, Second Phase, Peenya Industrial Area, Near the Big Water Tank"
    location.line2 = "Opposite Government Tool Room and Training Centre"
    location.save()
    products = []
    for n in range(5):
        product = ProductFactory(merchant=merchant, title=f"Handwoven silk saree with zari border {n}",
                                 price=Decimal("246913.58"), mrp=Decimal("246913.58"))  # fmt: skip
        stock(product, location, 10)
        products.append((product, 1))
    address = {"name": "Priya Sharma", "phone": "+919812345678", "city": "Bengaluru", "state": "Karnataka",
               "postcode": "560025", "country": "IN",
               "line1": "Flat 1204, Tower B, Prestige Shantiniketan Apartments, Whitefield Main Road",
               "line2": "Near Hope Farm Junction, Opposite ITPL Back Gate, Hoodi Village"}  # fmt: skip
    shipments = _labelled(merchant, products=products, shipping_address=address, eway_bill_number=EWAY,
                          length_cm=Decimal("40"), breadth_cm=Decimal("30"), height_cm=Decimal("12.5"))  # fmt: skip
    label_invoices_issue(merchant=merchant, shipments=shipments)

    pdf = render_labels(merchant=merchant, shipments=shipments, format="4x6").pdf

    [text] = page_texts(pdf)
    assert ("SHIP TO\nPriya Sharma\nFlat 1204, Tower B, Prestige Shantiniketan Apartments,\nWhitefield Main Road\n"
            "Near Hope Farm Junction, Opposite ITPL Back Gate,\nHoodi Village\nPIN 560025\n") in text  # fmt: skip
    assert "DIMS\n40x30x12.5 cm\nITEMS\n5\nINVOICE\nINV-000001\nVALUE\n₹12,34,567.90\n" in text
    assert "\n+ 2 more\nIF UNDELIVERED, RETURN TO\n" in text
    assert text.endswith(
        "IF UNDELIVERED, RETURN TO\nAcme Retail Private Limited, Peenya warehouse, Plot 14, Second "
        "Phase,\nPeenya Industrial Area, Near the Big Water Tank, Opposite Government\nTool Room and "
        "Training Centre, Bengaluru, Karnataka, PIN 560001\n"
    )  # three lines: all of it
    assert barcodes_on_page(pdf, 0) == [shipments[0].awb, shipments[0].order.number]
