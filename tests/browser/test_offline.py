"""The admin loads nothing from another host: every request the pages of the merchant's day make (stylesheets,
scripts, images, icons, fonts) goes to the ShopOps server itself. (Each browser test checks its own pages the same
way when it ends; this one walks the pages of every flow.)"""

from urllib.parse import urlsplit

import pytest

from orders.models import OrderStatus
from shipping.models import NDR
from shipping.models import ShipmentStatus as S
from tests.orders.factories import make_order
from tests.shipping.factories import make_shipment

pytestmark = pytest.mark.browser


def test_no_page_of_the_admin_asks_another_host_for_anything(visit, owner, merchant):
    shipment = make_shipment(merchant, S.NDR)
    ndr = NDR.objects.get(shipment=shipment)
    order = make_order(merchant, OrderStatus.NEW)
    desk = visit("offline")
    pages = {
        "dashboard": "/admin/",
        "orders": "/admin/orders/order/",
        "order": f"/admin/orders/order/{order.pk}/change/",
        "upload": "/admin/orders/bulkimport/add/",
        "imports": "/admin/orders/bulkimport/",
        "shipments": "/admin/shipping/shipment/",
        "shipment": f"/admin/shipping/shipment/{shipment.pk}/change/",
        "ndr-queue": "/admin/shipping/ndr/",
        "ndr": f"/admin/shipping/ndr/{ndr.pk}/change/",
        "ship-batches": "/admin/shipping/shipbatch/",
        "documents": "/admin/shipping/document/",
    }

    desk.open("/admin/login/", "login")
    desk.log_in(owner)
    statuses = {name: desk.open(path, name).status for name, path in pages.items()}

    assert statuses == dict.fromkeys(pages, 200)
    host = urlsplit(desk.base_url).netloc
    assert {urlsplit(url).netloc for url in desk.requests if urlsplit(url).scheme in ("http", "https")} == {host}
    loaded = {urlsplit(url).path for url in desk.requests}
    # the recorder saw the pages' own assets, not just the documents
    assert {"/static/admin/css/base.css", "/static/admin/js/nav_sidebar.js", "/static/shopops/favicon.svg"} <= loaded
    assert {urlsplit(f"{desk.base_url}{path}").path for path in pages.values()} <= loaded
    assert desk.outside_requests() == []
