"""Who made a job or took an action reads as a name on its page: a user by name, ShopOps for the system."""

import re

from orders.models import BulkImport
from shipping.models import PickupRequest, ShipmentStatus
from tests.shipping.factories import make_shipment, shipping_courier
from tests.shopops.factories import MembershipFactory, UserFactory


def shown(html: str, field: str) -> str:
    return re.search(r'<div class="readonly">(.*?)</div>', html[html.index(f"field-{field}") :]).group(1)


def test_a_job_s_maker_and_a_pickup_s_by_name(client, merchant):
    user = UserFactory(first_name="Priya", last_name="Sharma")
    MembershipFactory(merchant=merchant, user=user, role="owner")
    job = BulkImport.objects.create(merchant=merchant, kind="orders", file="imports/a.csv", file_name="a.csv",
                                    checksum="a", created_by=f"user:{user.pk}")  # fmt: skip
    make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED, courier=shipping_courier(merchant))
    pickup = PickupRequest.objects.get(merchant=merchant)
    client.force_login(user)

    job_page = client.get(f"/admin/orders/bulkimport/{job.pk}/change/").content.decode()
    pickup_page = client.get(f"/admin/shipping/pickuprequest/{pickup.pk}/change/").content.decode()

    assert shown(job_page, "created_by_name") == "Priya Sharma"
    assert shown(pickup_page, "created_by_name") == "ShopOps"
