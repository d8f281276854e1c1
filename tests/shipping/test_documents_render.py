"""Shipping labels, read back from the PDF: pages and their size, the AWB in the text layer, the barcodes decoded
from a page rendered at 203 dpi, 4-up sheets, shipments left out with their reason, deterministic bytes."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from shipping.documents.barcodes import barcode_modules, barcode_svg
from shipping.documents.data import data_checksum, label_queryset, money
from shipping.documents.render import render_labels
from shipping.models import Shipment, ShipmentStatus
from tests.shipping.documents_helpers import (
    SIZE_4X6,
    SIZE_A4,
    barcodes_on_page,
    page_size,
    page_texts,
    pdf_pages,
    same_size,
)
from tests.shipping.factories import make_shipment, shipping_courier

pytestmark = pytest.mark.django_db


def _labelled(merchant, count: int, **order) -> list[Shipment]:
    shipping_courier(merchant)
    ids = [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, **order).pk for _ in range(count)]
    return list(label_queryset().filter(pk__in=ids).order_by("pk"))


def test_a_4x6_label_per_shipment_100_by_150_mm_with_the_awb_in_text_and_barcodes(merchant):
    shipments = _labelled(merchant, 2, payment_method="cod")

    result = render_labels(merchant=merchant, shipments=shipments, format="4x6")

    assert (result.page_count, result.not_created) == (2, [])
    pages = pdf_pages(result.pdf)
    assert len(pages) == 2
    assert all(same_size(page_size(page), SIZE_4X6) for page in pages), [page_size(p) for p in pages]
    texts = page_texts(result.pdf)
    for shipment, text in zip(shipments, texts, strict=True):
        assert shipment.awb in text
        assert shipment.order.number in text
        assert "PIN 560025" in text
        assert "COD" in text
        assert money(shipment.cod_amount) in text
        assert "Blue Dart" in text
    for index, shipment in enumerate(shipments):
        assert barcodes_on_page(result.pdf, index) == [shipment.awb, shipment.order.number]


def test_a_prepaid_label_shows_prepaid_and_no_amount(merchant):
    [shipment] = _labelled(merchant, 1)

    text = page_texts(render_labels(merchant=merchant, shipments=[shipment], format="4x6").pdf)[0]

    assert "PREPAID" in text
    assert "Collect" not in text
    assert shipment.cod_amount == Decimal("0.00")


def test_a4_4up_puts_four_labels_on_a_sheet(merchant):
    shipments = _labelled(merchant, 9)

    result = render_labels(merchant=merchant, shipments=shipments, format="a4-4up")

    pages = pdf_pages(result.pdf)
    assert (result.page_count, len(pages)) == (3, 3)
    assert all(same_size(page_size(page), SIZE_A4) for page in pages)
    texts = page_texts(result.pdf)
    on_pages = [[s.awb for s in shipments if s.awb in text] for text in texts]
    assert on_pages == [[s.awb for s in shipments[0:4]], [s.awb for s in shipments[4:8]], [shipments[8].awb]]
    assert sorted(barcodes_on_page(result.pdf, 2)) == sorted([shipments[8].awb, shipments[8].order.number])


def test_shipments_without_an_awb_or_cancelled_are_not_created_and_the_rest_rendered(merchant):
    shipping_courier(merchant)
    good = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    new = make_shipment(merchant, ShipmentStatus.NEW)
    cancelled = make_shipment(merchant, ShipmentStatus.CANCELLED)
    shipments = list(label_queryset().filter(pk__in=[good.pk, new.pk, cancelled.pk]).order_by("pk"))

    result = render_labels(merchant=merchant, shipments=shipments, format="4x6")

    assert result.not_created == [
        {"id": new.pk, "reason": "The shipment has no AWB yet: assign one first."},
        {"id": cancelled.pk, "reason": "The shipment is cancelled."},
    ]
    assert result.page_count == 1
    assert [good.awb in text for text in page_texts(result.pdf)] == [True]


def test_no_printable_shipment_gives_no_pdf(merchant):
    shipping_courier(merchant)
    new = make_shipment(merchant, ShipmentStatus.NEW)

    result = render_labels(merchant=merchant, shipments=[new], format="4x6")

    assert (result.pdf, result.page_count, len(result.not_created)) == (b"", 0, 1)


def test_an_unknown_format_is_refused(merchant):
    with pytest.raises(ValidationError) as caught:
        render_labels(merchant=merchant, shipments=[], format="a3")
    assert caught.value.message_dict == {"format": ["Labels come in 4x6, a4-4up, not 'a3'."]}


def test_the_same_data_renders_the_same_bytes_and_a_change_changes_the_checksum(merchant):
    shipments = _labelled(merchant, 2)
    first = render_labels(merchant=merchant, shipments=shipments, format="4x6")
    checksum = data_checksum("label", "4x6", shipments)

    again = list(label_queryset().filter(pk__in=[s.pk for s in shipments]).order_by("pk"))
    assert render_labels(merchant=merchant, shipments=again, format="4x6").pdf == first.pdf
    assert data_checksum("label", "4x6", again) == checksum
    assert data_checksum("label", "a4-4up", again) != checksum

    order = again[0].order
    order.shipping_address = {**order.shipping_address, "phone": "+919800000000"}
    order.save(update_fields=["shipping_address"])
    changed = list(label_queryset().filter(pk__in=[s.pk for s in shipments]).order_by("pk"))
    assert data_checksum("label", "4x6", changed) != checksum
    assert render_labels(merchant=merchant, shipments=changed, format="4x6").pdf != first.pdf


def test_labels_cost_the_same_queries_for_2_or_8_shipments(merchant, django_assert_num_queries):
    shipments = _labelled(merchant, 8)
    ids = [s.pk for s in shipments]

    for count in (2, 8):
        with django_assert_num_queries(2):  # shipments with courier, order, location; the order lines
            loaded = list(label_queryset().filter(pk__in=ids[:count]))
            render_labels(merchant=merchant, shipments=loaded, format="4x6")
            data_checksum("label", "4x6", loaded)


def test_barcode_modules_are_whole_dots_at_203_dpi_with_10_module_quiet_zones():
    modules = barcode_modules("BL10000000")
    svg = barcode_svg("BL10000000", height_mm=16, max_width_mm=90)
    total = len(modules) + 20
    assert f'viewBox="0 0 {total} ' in svg
    assert f'width="{total * 3 * 25.4 / 203:.3f}mm"' in svg  # 3 dots a module: it fits
    narrow = barcode_svg("BL10000000", height_mm=16, max_width_mm=40)
    assert f'width="{total * 2 * 25.4 / 203:.3f}mm"' in narrow  # 2 dots: 3 would not fit in 40 mm
    assert svg.count("M") == modules.count("01") + modules.startswith("1")  # one path segment a bar
    assert 'd="M10 0h' in svg  # the first bar after the 10-module quiet zone


def test_shipments_of_another_merchant_are_a_programming_error(merchant, other_merchant):
    [shipment] = _labelled(merchant, 1)

    with pytest.raises(ValueError, match=f"Objects \\[{shipment.pk}\\] do not belong to merchant {other_merchant.pk}"):
        render_labels(merchant=other_merchant, shipments=[shipment], format="4x6")
