"""Who made a job or took an action reads as a name on its page: a user by name, ShopOps for the system."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

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


def test_the_list_names_every_maker_with_one_query_for_the_page(client, merchant):
    owner = UserFactory(first_name="Priya", last_name="Sharma")
    MembershipFactory(merchant=merchant, user=owner, role="owner")
    staff = [UserFactory(first_name="Staff", last_name=str(n)) for n in range(6)]
    for n, user in enumerate(staff):
        BulkImport.objects.create(merchant=merchant, kind="orders", file=f"imports/{n}.csv", file_name=f"{n}.csv",
                                  checksum=str(n), created_by=f"user:{user.pk}")  # fmt: skip
    BulkImport.objects.create(merchant=merchant, kind="orders", file="imports/s.csv", file_name="s.csv",
                              checksum="s", created_by="system")  # fmt: skip
    client.force_login(owner)

    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/orders/bulkimport/").content.decode()

    cells = re.findall(r'<td class="field-created_by_name">(.*?)</td>', page)
    assert sorted(cells) == ["ShopOps", *sorted(f"Staff {n}" for n in range(6))]
    user_lookups = [q for q in queries.captured_queries if 'FROM "auth_user"' in q["sql"] and '"id" IN' in q["sql"]]
    assert len(user_lookups) == 1
