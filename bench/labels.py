"""Shipping labels: 1,000 4x6 labels with Code128 barcodes into one PDF.

Builds 1,000 COD and prepaid orders with shipments and AWBs through the services (kept between runs), then times
``render_labels`` (loading the shipments with ``label_queryset()`` included) for 10 and for 1,000 labels, after a
warm-up, taking the median of several runs. The floor is the per-label time at 10 labels.
Targets (DESIGN.md section 8): >= 100 labels/s at 1,000; per-label time at 1,000 <= 1.5x per-label time at 10.

Why the labels are drawn with ReportLab's canvas rather than WeasyPrint: measured on this machine (2 shared cores),
WeasyPrint laid out the same 4x6 label at 13-16 labels/s in one document of 100 or 1,000 pages and 9 labels/s
rendered per chunk of 25-100 and merged with pypdf; even a bare page of eight paragraphs and one barcode reached
only 26-37 labels/s. The canvas draws a label in 2-5 ms.
"""

import os
import resource
import statistics
import time
from decimal import Decimal

LABELS = int(os.environ.get("BENCH_LABELS", 1000))
SMALL = 10
SLUG = "bench-labels"


def _setup():
    import io

    from catalog.models import Location, Product
    from catalog.services import stock_adjust
    from orders.services.create import order_create
    from orders.services.orders import order_confirm, order_pack
    from shipping.models import Shipment
    from shipping.services.awb import awb_pool_create_range
    from shipping.services.couriers import courier_create, serviceability_import
    from shipping.services.shipments import shipment_assign_awb, shipment_create
    from shopops.models import Merchant

    merchant = Merchant.objects.filter(slug=SLUG).first()
    if merchant and Shipment.objects.filter(merchant=merchant).exclude(awb="").count() >= LABELS:
        return merchant
    if merchant:  # an interrupted setup: protected rows first
        from catalog.models import StockMovement
        from orders.models import Order

        Shipment.objects.filter(merchant=merchant).delete()
        Order.objects.filter(merchant=merchant).delete()
        StockMovement.objects.filter(merchant=merchant).delete()
        merchant.delete()
    merchant = Merchant.objects.create(name="Bench labels", slug=SLUG, legal_name="Bench Labels Private Limited")
    location = Location.objects.create(merchant=merchant, nickname="wh", name="Warehouse", line1="1 MG Road",
                                       city="Bengaluru", state="Karnataka", postcode="560001", phone="+918041234567",
                                       is_default=True)  # fmt: skip
    for sku, title, price, grams in (("TEE", "Cotton tee", "499.00", 300), ("MUG", "Ceramic mug", "349.00", 450)):
        product = Product.objects.create(merchant=merchant, sku=sku, title=title, price=Decimal(price),
                                         weight_grams=grams, tax_rate=Decimal("12"))  # fmt: skip
        stock_adjust(merchant=merchant, product=product, location=location, action="set", quantity=LABELS * 3,
                     reason="bench", actor="bench")  # fmt: skip
    courier = courier_create(merchant=merchant, data={"code": "bluedart", "name": "Blue Dart"}, rate_cards=[{
        "zone": zone, "first_slab_grams": 500, "first_slab_price": Decimal("40"), "additional_slab_grams": 500,
        "additional_slab_price": Decimal("35"), "cod_fixed": Decimal("30"), "cod_percent": Decimal("2")}
        for zone in ("within_city", "within_state", "metro", "rest_of_india", "special")])  # fmt: skip
    pincodes = ("560001", "560025", "400050", "110001", "600001")
    result = serviceability_import(courier=courier, fileobj=io.BytesIO(
        ("pincode,pickup,delivery,cod\n" + "".join(f"{p},Y,Y,Y\n" for p in pincodes)).encode()))  # fmt: skip
    assert result.errors == []
    awb_pool_create_range(courier=courier, name="bench", start=10_000_000, end=10_000_000 + LABELS + 99, prefix="BD")
    places = [("Bengaluru", "Karnataka", "560025"), ("Mumbai", "Maharashtra", "400050"),
              ("New Delhi", "Delhi", "110001"), ("Chennai", "Tamil Nadu", "600001")]  # fmt: skip
    print(f"generating {LABELS:,} orders with shipments and AWBs through the services ...", flush=True)
    started = time.perf_counter()
    for n in range(LABELS):
        city, state, pincode = places[n % len(places)]
        order = order_create(merchant=merchant, actor="bench", data={
            "channel_order_id": f"B-{n}", "payment_method": "cod" if n % 3 else "prepaid",
            "shipping_address": {"name": f"Customer {n}", "phone": f"+9198{n:08d}", "line1": f"{n} Long Street Name",
                                 "line2": "Near the market", "city": city, "state": state, "postcode": pincode,
                                 "country": "IN"},
            "lines": [{"sku": "TEE", "quantity": 1 + n % 3, "unit_price": Decimal("499.00")},
                      {"sku": "MUG", "quantity": 1, "unit_price": Decimal("349.00")}][: 1 + n % 2],
            "length_cm": Decimal("25"), "breadth_cm": Decimal("20"), "height_cm": Decimal("8")})  # fmt: skip
        order = order_pack(order=order_confirm(order=order, actor="bench"), actor="bench")
        shipment = shipment_create(order=order, courier=courier, actor="bench")
        shipment_assign_awb(shipment=shipment, actor="bench")
    print(f"  ... in {time.perf_counter() - started:.0f} s")
    return merchant


def _render(merchant, ids: list[int]):
    from shipping.documents.data import label_queryset
    from shipping.documents.render import render_labels

    shipments = list(label_queryset().filter(pk__in=ids).order_by("pk"))
    return render_labels(merchant=merchant, shipments=shipments, format="4x6")


def _time(merchant, ids: list[int], runs: int) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = _render(merchant, ids)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def run() -> str:
    from shipping.models import Shipment

    merchant = _setup()
    ids = list(Shipment.objects.filter(merchant=merchant).exclude(awb="").order_by("pk").values_list("pk", flat=True))
    ids = ids[:LABELS]
    _render(merchant, ids[:SMALL])  # warm-up: fonts, imports, templates
    small_s, small = _time(merchant, ids[:SMALL], runs=9)
    large_s, large = _time(merchant, ids, runs=3)
    assert (small.page_count, large.page_count, large.not_created) == (SMALL, LABELS, [])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_small, per_large = small_s / SMALL * 1000, large_s / LABELS * 1000
    rate_small, rate_large = SMALL / small_s, LABELS / large_s
    ratio = per_large / per_small
    print(f"labels: 4x6, Code128 AWB and order barcodes, loading included (median of 9 runs at {SMALL}, 3 at {LABELS})")
    print(f"  {SMALL:>5} labels: {small_s * 1000:8.1f} ms, {per_small:.2f} ms a label, {rate_small:,.0f} labels/s, "
          f"{len(small.pdf) / 1024:,.0f} kB")  # fmt: skip
    print(f"  {LABELS:>5} labels: {large_s * 1000:8.1f} ms, {per_large:.2f} ms a label, {rate_large:,.0f} labels/s, "
          f"{len(large.pdf) / 1024:,.0f} kB (target >= 100 labels/s)")  # fmt: skip
    print(f"  per label at {LABELS} / at {SMALL}: {ratio:.2f}x (target <= 1.5x); peak RSS {peak_mb:,.0f} MB")
    return (f"bench labels: {rate_large:,.0f} labels/s at {LABELS}, {rate_small:,.0f} labels/s at {SMALL}, "
            f"peak RSS {peak_mb:,.0f} MB; ratio {ratio:.2f}x vs per-label time at {SMALL} "
            f"({per_small:.2f} ms)")  # fmt: skip
