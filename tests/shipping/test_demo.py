import re
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from orders.models import Order
from shipping.demo import SIM_CODE, status_counts
from shipping.models import (
    NDR,
    AWBPool,
    Courier,
    Manifest,
    Notification,
    NotificationSetting,
    PickupRequest,
    RateCard,
    ServiceablePincode,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    TrackingEvent,
)
from shipping.selectors import quote
from shipping.services.awb import awb_pool_remaining
from shopops.models import Merchant


def test_seed_demo_builds_couriers_with_rate_cards_and_serviceability_and_running_it_again_changes_nothing(db):
    call_command("seed_demo", stdout=StringIO())
    counts = (Courier.objects.count(), RateCard.objects.count(), ServiceablePincode.objects.count())
    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert counts[:2] == (7, 34)  # 7 couriers x 5 zones, less Xpressbees' special zone
    assert (Courier.objects.count(), RateCard.objects.count(), ServiceablePincode.objects.count()) == counts
    assert "Demo shipping: 7 couriers (0 new)" in out.getvalue()
    merchant = Merchant.objects.get(slug="demo")
    # Bengaluru warehouse to Gangtok (Sikkim): a special zone, some couriers blocked with their reasons.
    result = quote(merchant=merchant, pickup_postcode="562114", delivery_postcode="737101", weight_grams=800, cod=True,
                   declared_value=1500)  # fmt: skip
    assert result.zone == "special"
    assert len(result.couriers) >= 2 and result.recommended_courier_id is not None
    assert all(q.total_charge > 0 for q in result.couriers)
    assert len(result.blocked) >= 2


def _shipping_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Shipment, ShipmentEvent, TrackingEvent, NDR,
            PickupRequest, Manifest, AWBPool, Notification, NotificationSetting, Order)}  # fmt: skip


def _codes(shipment) -> list[str]:
    return list(
        TrackingEvent.objects.filter(shipment=shipment).order_by("occurred_at", "id").values_list("code", flat=True)
    )


def test_seed_demo_shows_shipments_in_every_status_with_simulated_histories_once(db):
    first = StringIO()
    call_command("seed_demo", stdout=first)
    counts = _shipping_counts()

    out = StringIO()
    call_command("seed_demo", stdout=out)

    merchant = Merchant.objects.get(slug="demo")
    S = ShipmentStatus
    assert status_counts(merchant) == {
        S.NEW: 1, S.AWB_ASSIGNED: 1, S.PICKUP_SCHEDULED: 2, S.PICKED_UP: 1, S.IN_TRANSIT: 1, S.OUT_FOR_DELIVERY: 1,
        S.DELIVERED: 4, S.NDR: 2, S.RTO_INITIATED: 1, S.RTO_IN_TRANSIT: 1, S.RTO_DELIVERED: 1, S.CANCELLED: 1,
        S.LOST: 1,
    }  # fmt: skip
    assert set(status_counts(merchant)) == set(ShipmentStatus.values)
    assert _shipping_counts() == counts  # seeding again adds nothing
    assert "Demo shipments: 18 shipments (0 new) in 13 statuses" in out.getvalue()
    assert re.search(r"Demo shipments: 18 shipments \(18 new\) in 13 statuses .*, [0-9.]+ s", first.getvalue())

    shipments = Shipment.objects.filter(merchant=merchant, courier__code=SIM_CODE).select_related("order")
    by_status = {}
    for shipment in shipments.order_by("id"):
        by_status.setdefault(shipment.status, []).append(shipment)
    journey = ["picked_up", "in_transit", "out_for_delivery"]
    assert sorted(_codes(s) for s in by_status[S.DELIVERED]) == sorted(
        [[*journey, "delivered"]] * 3 + [[*journey, "ndr", "out_for_delivery", "delivered"]])  # fmt: skip
    assert _codes(by_status[S.RTO_DELIVERED][0]) == [*journey, "ndr", "rto_initiated", "rto_in_transit",
                                                     "rto_delivered"]  # fmt: skip
    assert _codes(by_status[S.RTO_IN_TRANSIT][0]) == [*journey, "ndr", "rto_initiated", "rto_in_transit"]
    assert _codes(by_status[S.RTO_INITIATED][0]) == [*journey, "ndr"]  # the merchant's decision, not a scan
    assert _codes(by_status[S.LOST][0]) == ["picked_up", "in_transit", "lost"]
    assert [_codes(s) for s in by_status[S.NDR]] == [[*journey, "ndr"]] * 2
    assert _codes(by_status[S.OUT_FOR_DELIVERY][0]) == journey
    assert _codes(by_status[S.IN_TRANSIT][0]) == journey[:2]
    assert _codes(by_status[S.PICKED_UP][0]) == journey[:1]
    assert all(_codes(s) == [] for status in (S.NEW, S.AWB_ASSIGNED, S.PICKUP_SCHEDULED, S.CANCELLED)
               for s in by_status[status])  # fmt: skip
    assert TrackingEvent.objects.filter(merchant=merchant, applied=False).count() == 0
    assert not TrackingEvent.objects.filter(occurred_at__gt=timezone.now()).exists()

    ndrs = NDR.objects.filter(shipment__merchant=merchant)
    assert sorted((n.shipment.status, n.status, n.action) for n in ndrs) == [
        (S.DELIVERED, "delivered", "reattempt"), (S.NDR, "open", ""), (S.NDR, "reattempt", "reattempt"),
        (S.RTO_DELIVERED, "rto", ""), (S.RTO_IN_TRANSIT, "rto", ""), (S.RTO_INITIATED, "rto", "rto")]  # fmt: skip
    tomorrow = timezone.now().astimezone(merchant.tzinfo).date() + timedelta(days=1)
    assert ndrs.get(status="reattempt").reattempt_date == tomorrow

    orders = {status: [s.order.status for s in items] for status, items in by_status.items()}
    assert orders[S.DELIVERED] == ["delivered"] * 4
    assert (orders[S.RTO_DELIVERED], orders[S.RTO_INITIATED], orders[S.LOST]) == (["rto_delivered"], ["rto"],
                                                                                   ["shipped"])  # fmt: skip
    assert (orders[S.NEW], orders[S.CANCELLED]) == (["packed"], ["packed"])
    assert all(s.order.shipped_at == s.shipped_at for s in shipments if s.shipped_at)
    assert all(s.created_at <= s.shipped_at for s in shipments if s.shipped_at)

    pools = {p.name: (p.courier.code, p.kind, awb_pool_remaining(p)) for p in AWBPool.objects.filter(merchant=merchant)}
    assert pools == {
        "Blue Dart Express 2026": ("bluedart-express", "range", 5000),
        "Delhivery Air 2026": ("delhivery-air", "range", 5000),
        "Ecom Express 2026": ("ecom-express", "range", 5000),
        "Xpressbees 2026": ("xpressbees", "range", 5000),
        "Shadowfax 2026": ("shadowfax", "range", 5000),
        "Delhivery Surface list": ("delhivery-surface", "list", 40),
        "Demo Express (demo stories)": (SIM_CODE, "list", 0),
        "Demo Express range": (SIM_CODE, "range", 10_000),
    }
    setting = NotificationSetting.objects.get(merchant=merchant)
    assert (setting.email_enabled, setting.sms_enabled, setting.on_delivered) == (True, True, True)
    assert Notification.objects.count() == 0  # the history is the past: no customer was messaged today
    assert Manifest.objects.filter(merchant=merchant).count() == PickupRequest.objects.filter(merchant=merchant).count()
