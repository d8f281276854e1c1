from io import StringIO

from django.core.management import call_command
from django.db.models import F

from orders.models import Channel, Order, OrderEvent, OrderStatus


def test_seed_demo_creates_200_orders_in_every_status_once(db):
    call_command("seed_demo", stdout=StringIO())
    events = OrderEvent.objects.count()

    out = StringIO()
    call_command("seed_demo", stdout=out)

    demo_orders = Order.objects.exclude(channel__is_default_api=True)  # the shipping demo's orders come by API
    assert demo_orders.count() == 200
    assert OrderEvent.objects.count() == events
    assert set(demo_orders.values_list("status", flat=True)) == set(OrderStatus.values)
    assert sorted(Channel.objects.exclude(is_default_api=True).values_list("name", flat=True)) == [
        "Shopify store", "Website"]  # fmt: skip
    assert demo_orders.filter(packed_at__isnull=False).count() == 148  # packed and every later stage
    assert demo_orders.filter(shipped_at__isnull=False).count() == 128
    assert not Order.objects.filter(packed_at__lt=F("ordered_at")).exists()
    assert "Demo orders:   200 orders (0 new) on 2 channels" in out.getvalue()
