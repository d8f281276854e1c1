"""The shipment's timeline reads in words, as the order's does: statuses by their labels, who by name."""

import re

from shipping.models import ShipmentStatus
from tests.shipping.factories import make_shipment, shipping_courier

SHIPMENTS = "/admin/shipping/shipment/"


def test_the_shipment_timeline_reads_in_words(client, owner, merchant):
    shipment = make_shipment(merchant, ShipmentStatus.IN_TRANSIT, courier=shipping_courier(merchant))
    client.force_login(owner)

    html = client.get(f"{SHIPMENTS}{shipment.pk}/change/").content.decode()

    what = re.findall(r'<td class="field-what">\s*<p>(.*?)</p>', html)
    who = set(re.findall(r'<td class="field-who">\s*<p>(.*?)</p>', html))
    assert "Status changed: Picked up → In transit" in what
    assert what[0].startswith("Created")
    assert "user:" not in "".join(who) and "system" not in who
    assert who <= {"ShopOps", "courier bluedart"}
