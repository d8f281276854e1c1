"""Dates and times in the dashboard are written one way, in the merchant's time zone: "4 Dec 2026, 14:30"."""

from datetime import UTC, datetime

from django.utils import formats, timezone

from orders.models import Order
from tests.orders.factories import make_order


def test_one_format_for_dates_and_times():
    moment = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    with timezone.override("Asia/Kolkata"):
        local = timezone.localtime(moment)
        assert formats.date_format(local, "DATETIME_FORMAT") == "4 Dec 2026, 14:30"
        assert formats.date_format(local.date(), "DATE_FORMAT") == "4 Dec 2026"
        assert formats.localize(local) == "4 Dec 2026, 14:30"


def test_the_order_list_shows_the_order_time_in_the_merchant_s_zone(client, owner, merchant):
    order = make_order(merchant)
    Order.objects.filter(pk=order.pk).update(ordered_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    client.force_login(owner)

    html = client.get("/admin/orders/order/").content.decode()

    assert '<td class="field-ordered_at nowrap">4 Dec 2026, 14:30</td>' in html
