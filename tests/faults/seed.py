"""Seed the fault drills' database: one merchant with two products in stock, a courier with rate cards,
serviceable pincodes and an AWB pool, shipments with AWBs to print labels for, new orders to ship as a batch, a
webhook endpoint for the jobs' events (each finished job writes one), and a partner application per client of the
drills.

Run by tests/faults/stack.py as ``python -m tests.faults.seed`` in the drills' environment (``FAULTS_WEBHOOK_URL``
is the endpoint's address, ``FAULTS_CLIENTS`` the applications' names, comma-separated); prints what the drills
need as JSON. Built through the services, as bench/labels.py and the demo seeds build theirs.
"""

import io
import json
import os
import sys
from decimal import Decimal

SLUG = "drills"
COURIER = "bluedart"
SKUS = {"TEE": "499.00", "MUG": "349.00"}
STOCK = 100_000
LABEL_SHIPMENTS = 8  # the labels drill prints them two by two
BATCH_ORDERS = 40  # the ship batch of the database drill
ACTOR = "drills"
#: Places the courier serves (the pickup location is in 560001).
PLACES = [("Bengaluru", "Karnataka", "560025"), ("Mumbai", "Maharashtra", "400050"),
          ("New Delhi", "Delhi", "110001"), ("Chennai", "Tamil Nadu", "600001")]  # fmt: skip


def order_data(channel_order_id: str, n: int) -> dict:
    """A new order's body, as ``POST /api/v1/orders/`` takes it (the drills post the same)."""
    city, state, postcode = PLACES[n % len(PLACES)]
    lines = [{"sku": "TEE", "quantity": 1 + n % 3, "unit_price": SKUS["TEE"]},
             {"sku": "MUG", "quantity": 1, "unit_price": SKUS["MUG"]}][: 1 + n % 2]  # fmt: skip
    return {"channel_order_id": channel_order_id, "payment_method": "cod" if n % 3 else "prepaid",
            "shipping_address": {"name": f"Customer {n}", "phone": f"+9198{n % 10**8:08d}", "line1": f"{n} Main Road",
                                 "city": city, "state": state, "postcode": postcode, "country": "IN"},
            "lines": lines, "length_cm": "25", "breadth_cm": "20", "height_cm": "8"}  # fmt: skip


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")
    import django

    django.setup()
    from catalog.models import Location, Product
    from catalog.services import stock_adjust
    from orders.services.create import order_create
    from orders.services.orders import order_confirm, order_pack
    from shipping.services.awb import awb_pool_create_range
    from shipping.services.couriers import courier_create, serviceability_import
    from shipping.services.notifications import notification_setting_set
    from shipping.services.shipments import shipment_assign_awb, shipment_create
    from shopops.services import merchant_create, partner_application_create
    from shopops.webhooks.services import endpoint_create

    merchant = merchant_create(name="Drills Store", slug=SLUG, legal_name="Drills Store Private Limited",
                               tax_id="29ABCDE1234F1Z5", email="ops@drills.example", phone="+918041234567",
                               line1="1 MG Road", city="Bengaluru", state="Karnataka", postcode="560001",
                               country="IN")  # fmt: skip
    location = Location.objects.create(merchant=merchant, nickname="wh", name="Warehouse", line1="1 MG Road",
                                       city="Bengaluru", state="Karnataka", postcode="560001", phone="+918041234567",
                                       is_default=True)  # fmt: skip
    for sku, price in SKUS.items():
        product = Product.objects.create(merchant=merchant, sku=sku, title=sku.title(), price=Decimal(price),
                                         weight_grams=400, tax_rate=Decimal("12"))  # fmt: skip
        stock_adjust(merchant=merchant, product=product, location=location, action="set", quantity=STOCK,
                     reason="drills", actor=ACTOR)  # fmt: skip
    courier = courier_create(merchant=merchant, data={"code": COURIER, "name": "Blue Dart"}, rate_cards=[{
        "zone": zone, "first_slab_grams": 500, "first_slab_price": Decimal("40"), "additional_slab_grams": 500,
        "additional_slab_price": Decimal("35"), "cod_fixed": Decimal("30"), "cod_percent": Decimal("2")}
        for zone in ("within_city", "within_state", "metro", "rest_of_india", "special")])  # fmt: skip
    pincodes = ["560001", *(postcode for _, _, postcode in PLACES)]
    result = serviceability_import(courier=courier, fileobj=io.BytesIO(
        ("pincode,pickup,delivery,cod\n" + "".join(f"{p},Y,Y,Y\n" for p in pincodes)).encode()))  # fmt: skip
    assert result.errors == [], result.errors
    awb_pool_create_range(courier=courier, name="drills", start=10_000_000, end=19_999_999, prefix="BD")
    notification_setting_set(merchant=merchant, data={"email_enabled": False, "sms_enabled": False})
    endpoint_create(merchant=merchant, url=os.environ["FAULTS_WEBHOOK_URL"], actor=ACTOR,
                    events=["import.finished", "document.ready"])  # fmt: skip

    def new_order(channel_order_id: str, n: int):
        data = order_data(channel_order_id, n)  # the JSON body; the service takes decimals
        data["lines"] = [{**line, "unit_price": Decimal(line["unit_price"])} for line in data["lines"]]
        data.update({name: Decimal(data[name]) for name in ("length_cm", "breadth_cm", "height_cm")})
        return order_create(merchant=merchant, actor=ACTOR, data=data)

    label_shipments = []
    for n in range(LABEL_SHIPMENTS):
        order = new_order(f"LABEL-{n}", n)
        order = order_pack(order=order_confirm(order=order, actor=ACTOR), actor=ACTOR)
        shipment = shipment_assign_awb(shipment=shipment_create(order=order, courier=courier, actor=ACTOR),
                                       actor=ACTOR)  # fmt: skip
        label_shipments.append(shipment.pk)
    batch_orders = [new_order(f"BATCH-{n}", n).pk for n in range(BATCH_ORDERS)]

    clients = {}
    for name in os.environ["FAULTS_CLIENTS"].split(","):
        credentials = partner_application_create(merchant=merchant, name=f"Drills {name}")
        clients[name] = [credentials.client_id, credentials.client_secret]
    json.dump({"clients": clients, "label_shipments": label_shipments, "batch_orders": batch_orders,
               "courier": COURIER}, sys.stdout)  # fmt: skip


if __name__ == "__main__":
    main()
