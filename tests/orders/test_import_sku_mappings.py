"""SKU mappings imported from a file (the import job kind ``sku_mappings``): each row maps a channel's SKU to a catalog
SKU and the lines waiting for it; a bad row is its own error, with its row number, and the others land."""

from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from orders.imports.jobs import import_create, import_run
from orders.models import ChannelKind, Order, SkuMapping
from orders.services.channels import channel_create
from tests.catalog.factories import ProductFactory
from tests.orders.factories import make_order


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("mappings.csv", text.encode(), content_type="text/csv")


def test_a_file_of_mappings_maps_skus_and_the_lines_waiting_for_them(merchant):
    shopify = channel_create(merchant=merchant, name="Shopify", kind=ChannelKind.SHOPIFY)
    kurta = ProductFactory(merchant=merchant, sku="KURTA-M")
    ProductFactory(merchant=merchant, sku="SCARF")
    waiting = make_order(merchant, channel=shopify.channel_id,
                         lines=[{"sku": "shopify-variant-77", "name": "Kurta (M)", "quantity": 1,
                                 "unit_price": Decimal("999.00")}])  # fmt: skip
    SkuMapping.objects.create(merchant=merchant, channel=shopify, channel_sku="SH-SCARF", product=kurta)
    job = import_create(merchant=merchant, kind="sku_mappings", file_name="mappings.csv", dry_run=False,
                        error_policy="skip_failed_rows", actor="user:1", upload=upload(
                            "channel,channel_sku,sku\n"
                            "Shopify,shopify-variant-77,KURTA-M\n"
                            f"{shopify.channel_id},SH-SCARF,SCARF\n"
                            "Shopify,SH-X,NOPE\n"
                            "Nowhere,SH-Y,KURTA-M\n"))  # fmt: skip

    job = import_run(job_id=job.pk)

    assert (job.status, job.total_rows, job.created_count, job.updated_count, job.failed_count) == (
        "partially_failed", 4, 1, 1, 2)  # fmt: skip
    assert sorted(SkuMapping.objects.values_list("channel_sku", "product__sku")) == [
        ("SH-SCARF", "SCARF"), ("shopify-variant-77", "KURTA-M")]  # fmt: skip
    assert list(job.row_errors.order_by("row").values_list("row", "column", "value", "message")) == [
        (4, "sku", "NOPE", "Unknown SKU 'NOPE'."),
        (5, "channel", "Nowhere", "Unknown channel 'Nowhere'."),
    ]
    assert Order.objects.get(pk=waiting.pk).lines.get().product_id == kurta.pk
