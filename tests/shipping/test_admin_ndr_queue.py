"""The NDR queue opens on the failed deliveries awaiting the merchant (open, reattempt requested); resolved ones, or
all, are a click away."""

from shipping.models import NDR, NDRStatus, ShipmentStatus
from tests.shipping.factories import make_shipment, shipping_courier

NDRS = "/admin/shipping/ndr/"


def test_the_queue_shows_what_awaits_action_by_default(client, owner, merchant):
    courier = shipping_courier(merchant)
    ndrs = {}
    for status in NDRStatus.values:
        shipment = make_shipment(merchant, ShipmentStatus.NDR, courier=courier)
        NDR.objects.filter(shipment=shipment).update(status=status)
        ndrs[status] = NDR.objects.get(shipment=shipment).pk
    client.force_login(owner)

    def listed(**params) -> list[int]:
        return sorted(ndr.pk for ndr in client.get(NDRS, params).context["cl"].result_list)

    assert listed() == sorted([ndrs["open"], ndrs["reattempt"]])
    assert listed(queue="resolved") == sorted([ndrs["delivered"], ndrs["rto"]])
    assert listed(queue="all") == sorted(ndrs.values())
    page = client.get(NDRS).content.decode()
    assert '<li class="selected">\n    <a href="?queue=awaiting"' in page or 'href="?queue=awaiting"' in page
