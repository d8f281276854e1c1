"""Manifests and packing slips, read back from the PDF."""

import pytest

from orders.models import OrderStatus
from shipping.documents.data import manifest_queryset, packing_slip_queryset
from shipping.documents.render import render_manifest, render_packing_slips
from shipping.models import ShipmentStatus
from shipping.services.manifests import manifest_create
from tests.orders.factories import make_order
from tests.shipping.documents_helpers import SIZE_A4, SIZE_A5, barcodes_on_page, page_size, page_texts, pdf_pages
from tests.shipping.documents_helpers import same_size as same
from tests.shipping.factories import make_shipment, shipping_courier

pytestmark = pytest.mark.django_db


def test_the_manifest_lists_every_shipment_with_counts_and_signature_boxes(merchant):
    shipping_courier(merchant)
    shipments = [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, payment_method="cod" if n < 3 else "prepaid")
                 for n in range(18)]  # fmt: skip
    manifest = manifest_create(merchant=merchant, actor="system", shipment_ids=[s.pk for s in shipments])

    result = render_manifest(merchant=merchant, manifest=manifest_queryset().get(pk=manifest.pk))

    pages = pdf_pages(result.pdf)
    assert (result.page_count, len(pages), result.not_created) == (2, 2, [])  # 16 rows a page
    assert [same(page_size(p), SIZE_A4) for p in pages] == [True, True]
    text = "\n".join(page_texts(result.pdf))
    assert [s.awb in text and s.order.number in text for s in shipments] == [True] * 18
    assert "MAN-000001" in text and "Blue Dart" in text and "Warehouse" in text
    assert "Shipments\n18" in text and "COD\n3" in text and "Prepaid\n15" in text
    assert "₹2,994.00" in text  # 3 x 998.00 to collect
    assert "HANDED OVER BY (SELLER)" in text and "RECEIVED BY (COURIER)" in text
    decoded = barcodes_on_page(result.pdf, 1, dpi=300)
    assert decoded == [shipments[16].awb, shipments[17].awb]


def test_manifest_rendering_costs_two_queries(merchant, django_assert_num_queries):
    shipping_courier(merchant)
    ids = [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED).pk for _ in range(3)]
    manifest = manifest_create(merchant=merchant, actor="system", shipment_ids=ids)

    with django_assert_num_queries(2):  # manifest, courier, location, pickup; its shipments with orders
        render_manifest(merchant=merchant, manifest=manifest_queryset().get(pk=manifest.pk))


@pytest.mark.parametrize(("format", "size"), [("a4", SIZE_A4), ("a5", SIZE_A5)])
def test_packing_slips_show_sku_quantity_and_picking_location(merchant, format, size):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    plain = make_order(merchant, OrderStatus.CONFIRMED)
    orders = list(packing_slip_queryset().filter(pk__in=[shipment.order_id, plain.pk]).order_by("pk"))

    result = render_packing_slips(merchant=merchant, orders=orders, format=format)

    pages = pdf_pages(result.pdf)
    assert (result.page_count, len(pages)) == (2, 2)
    assert [same(page_size(p), size) for p in pages] == [True, True]
    for order, text in zip(orders, page_texts(result.pdf), strict=True):
        line = order.lines.get()
        assert order.number in text and line.sku in text and line.name in text
        assert f"main ({order.pickup_location.name})" in text  # the picking location of the line
        assert f"{line.quantity} items in 1 line." in text
    first, second = page_texts(result.pdf)
    assert shipment.awb in first and "AWB" not in second
    assert barcodes_on_page(result.pdf, 0, dpi=300) == [orders[0].number]


def test_packing_slips_cost_constant_queries(merchant, django_assert_num_queries):
    orders = [make_order(merchant, OrderStatus.CONFIRMED) for _ in range(4)]

    for count in (1, 4):
        with django_assert_num_queries(3):  # orders with merchant and location; lines with products; shipments
            loaded = list(packing_slip_queryset().filter(pk__in=[o.pk for o in orders[:count]]))
            render_packing_slips(merchant=merchant, orders=loaded, format="a4")
