"""The order list in the browser: the ship-date range filter and the working tabs' counts; shipping selected orders
as one batch, from the list's action to the batch's page and its label PDF."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pypdf
import pytest

from orders.models import Order, OrderStatus
from shipping.models import ShipBatch, Shipment
from tests.orders.factories import make_order
from tests.shipping.documents_helpers import gst_merchant
from tests.shipping.factories import shipping_courier

pytestmark = pytest.mark.browser
ORDERS = "/admin/orders/order/"


@pytest.fixture
def shipped_in_march(merchant, other_merchant):
    """Orders shipped around 1-5 March 2026 in the merchant's time zone (Kolkata, UTC+5:30), orders not shipped
    yet, and one of another merchant shipped in the range; the orders inside the range by name."""
    zone = ZoneInfo(merchant.time_zone)
    when = {
        "before": datetime(2026, 2, 28, 23, 59, tzinfo=zone),
        "first_day": datetime(2026, 3, 1, 0, 0, tzinfo=zone),  # still 28 February in UTC
        "middle": datetime(2026, 3, 3, 12, 0, tzinfo=zone),
        "last_day": datetime(2026, 3, 5, 23, 59, tzinfo=zone),
        "after": datetime(2026, 3, 6, 0, 30, tzinfo=zone),  # still 5 March in UTC: the merchant's day counts
    }
    orders = {}
    for name, shipped_at in when.items():
        orders[name] = ship_on(make_order(merchant, OrderStatus.SHIPPED), shipped_at)
    make_order(merchant, OrderStatus.NEW)
    make_order(merchant, OrderStatus.PACKED)
    make_order(merchant, OrderStatus.DELIVERED)
    ship_on(make_order(other_merchant, OrderStatus.SHIPPED), when["middle"])
    return orders


def ship_on(order: Order, shipped_at: datetime) -> Order:
    """The order placed, confirmed and packed in the hours before ``shipped_at``, and shipped then."""
    hour = timedelta(hours=1)
    Order.objects.filter(pk=order.pk).update(ordered_at=shipped_at - 3 * hour, confirmed_at=shipped_at - 2 * hour,
                                             packed_at=shipped_at - hour, shipped_at=shipped_at)  # fmt: skip
    return order


def tab_counts(page) -> dict[str, int]:
    """The working tabs as shown: label -> count."""
    shown = {}
    for tab in page.locator("ul.order-tabs a").all():
        count = tab.locator("span.count").inner_text()
        shown[tab.inner_text().removesuffix(count).strip()] = int(count)
    return shown


def test_the_ship_date_range_lists_exactly_the_orders_shipped_in_it_and_the_tabs_count(visit, owner, merchant,
                                                                                       shipped_in_march):  # fmt: skip
    mine = Order.objects.filter(merchant=merchant)
    desk = visit("orders")
    page = desk.page
    desk.log_in(owner)

    desk.open(ORDERS, "list")

    assert sorted(desk.rows()) == sorted(mine.values_list("pk", flat=True))
    waiting = (OrderStatus.CONFIRMED, OrderStatus.PACKED)
    expected_tabs = {
        "New": mine.filter(status=OrderStatus.NEW).count(),
        "Ready to ship": mine.filter(status__in=waiting, awb="").count(),
        "Pickups": mine.filter(status__in=waiting).exclude(awb="").count(),
        "In transit": mine.filter(status=OrderStatus.SHIPPED).count(),
        "Delivered": mine.filter(status=OrderStatus.DELIVERED).count(),
        "RTO": mine.filter(status__in=(OrderStatus.RTO, OrderStatus.RTO_DELIVERED)).count(),
        "All": mine.count(),
    }
    assert expected_tabs == {"New": 1, "Ready to ship": 1, "Pickups": 0, "In transit": 5, "Delivered": 1, "RTO": 0,
                             "All": 8}  # fmt: skip
    assert tab_counts(page) == expected_tabs

    ship_date = page.locator('#changelist-filter details[data-filter-title="ship date"] form.date-range-filter')
    ship_date.get_by_label("From").fill("2026-03-01")
    ship_date.get_by_label("To").fill("2026-03-05")
    desk.follow(ship_date.get_by_role("button", name="Filter"))
    desk.shot("shipped-1-to-5-march")

    expected = [shipped_in_march[name].pk for name in ("first_day", "middle", "last_day")]
    assert sorted(desk.rows()) == sorted(expected)
    assert page.url == f"{desk.base_url}{ORDERS}?ship_date_after=2026-03-01&ship_date_before=2026-03-05"
    assert tab_counts(page) == expected_tabs  # the tabs count the merchant's orders, whatever the filters
    assert page.locator("#result_list tbody tr").count() == 3

    desk.follow(page.locator("ul.order-tabs a", has_text="In transit"))
    desk.shot("in-transit-tab")

    assert page.url == f"{desk.base_url}{ORDERS}?status__in=shipped"  # a tab starts from its own filters
    assert sorted(desk.rows()) == sorted(mine.filter(status=OrderStatus.SHIPPED).values_list("pk", flat=True))
    assert len(desk.rows()) == expected_tabs["In transit"]
    assert page.locator("ul.order-tabs a.current").inner_text().startswith("In transit")


def test_shipping_selected_orders_leads_to_the_batch_and_its_label_pdf(visit, owner, merchant):
    gst_merchant(merchant)
    shipping_courier(merchant)
    chosen = [make_order(merchant), make_order(merchant, OrderStatus.CONFIRMED), make_order(merchant)]
    left = make_order(merchant)
    desk = visit("ship")
    page = desk.page
    desk.log_in(owner)
    desk.open(ORDERS, "list")

    desk.run_action([order.pk for order in chosen], "Ship selected orders…")
    desk.shot("options")

    assert page.locator("h1").inner_text() == "Ship selected orders"
    assert page.locator("#content table tbody tr").count() == 3
    assert ShipBatch.objects.count() == 0
    page.get_by_label("Generate manifests").uncheck()
    desk.follow(page.get_by_role("button", name="Ship 3 orders"))
    desk.shot("batch")

    batch = ShipBatch.objects.get()
    assert page.url == f"{desk.base_url}/admin/shipping/shipbatch/{batch.pk}/change/"
    # eager Celery: the job ran when the batch committed, before the action answered
    assert desk.messages() == [("success", f"Ship batch {batch.pk} for 3 orders: done. Its page shows each order's "
                                           "outcome, the pickups and the PDFs.")]  # fmt: skip
    assert (batch.merchant_id, batch.order_ids, batch.status, batch.shipped, batch.failed) == (
        merchant.pk, [order.pk for order in chosen], "done", 3, 0)  # fmt: skip
    assert batch.options["generate_manifest"] is False
    shipments = list(Shipment.objects.filter(merchant=merchant).order_by("order_id"))
    assert [s.order_id for s in shipments] == [order.pk for order in chosen]
    awbs = dict(Order.objects.filter(pk__in=[o.pk for o in chosen]).values_list("pk", "awb"))
    assert awbs == {s.order_id: s.awb for s in shipments}
    assert all(awbs.values())
    assert (Order.objects.get(pk=left.pk).status, Order.objects.get(pk=left.pk).awb) == (OrderStatus.NEW, "")
    results = page.locator("table.ship-batch-results tbody tr")
    assert [results.nth(n).locator("td").nth(1).inner_text() for n in range(results.count())] == ["shipped"] * 3
    assert [results.nth(n).locator("td").nth(2).inner_text() for n in range(results.count())] == [
        s.awb for s in shipments]  # fmt: skip

    label = batch.label_document
    link = page.get_by_role("link", name=f"Shipping labels PDF ({len(shipments)} pages)")
    assert link.get_attribute("href") == f"/admin/shipping/document/{label.pk}/download/"
    with page.expect_download() as download:
        link.click()
    pdf = download.value.path().read_bytes()

    assert download.value.suggested_filename == f"label-{label.pk}.pdf"
    assert pdf.startswith(b"%PDF")
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == len(shipments) == 3
