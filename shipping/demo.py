"""Demo shipping for ``manage.py seed_demo``: 6 couriers with rate cards for every zone and serviceability over
251 real pincodes across India (metros, state capitals and towns, the North-East, Jammu and Kashmir, Ladakh and the
islands). Coverage differs per courier so quotes differ and some couriers are blocked for some pincodes.

Then shipments in every status, carried by a simulated courier (Demo Express): its adapter computes each parcel's
journey, so the histories are the ones polling would have produced, made by polling at chosen moments of the past
(``tracking_refresh(now=...)``), with the merchant's NDR decisions in between and a lost parcel recorded by hand.
Which parcels fail their deliveries follows from their AWBs (``simulated_failures``): the AWBs are picked for each
story and uploaded as the courier's list of numbers. AWB pools for every offline courier, and the merchant's
notification settings, complete it.
"""

import io
import time as clock
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone

from catalog.models import Location, Product
from orders.demo import CUSTOMERS
from orders.models import Order
from orders.services import orders as order_services
from orders.services.create import order_create
from shipping.adapters import SIM_PICKUP_HOUR, simulated_failures
from shipping.models import (
    NDR,
    AWBPool,
    Courier,
    NDRAction,
    NDRStatus,
    NotificationSetting,
    PickupRequest,
    ServiceablePincode,
    Shipment,
    ShipmentEvent,
    TrackingEvent,
)
from shipping.models import ShipmentStatus as S
from shipping.services.awb import awb_pool_create_list, awb_pool_create_range
from shipping.services.couriers import courier_create, serviceability_import
from shipping.services.manifests import manifest_create
from shipping.services.ndr import ndr_action
from shipping.services.notifications import notification_setting_set
from shipping.services.pickups import pickup_schedule
from shipping.services.shipments import shipment_assign_awb, shipment_cancel, shipment_create
from shipping.services.tracking import tracking_record, tracking_refresh
from shipping.zones import SPECIAL_STATES, Zone, place
from shopops.models import Merchant

#: Real pincodes, by region; they include the demo locations (562114, 400050) and the demo customers' pincodes.
_BY_REGION = """
    110001 110002 110003 110005 110006 110008 110011 110016 110017 110019 110020 110024 110025 110027 110029 110030
    110034 110044 110048 110051 110059 110062 110065 110070 110075 110085 110092 110096
    122001 122002 122018 201301 201303 201010 121001
    400001 400005 400012 400014 400016 400020 400022 400028 400049 400050 400053 400058 400063 400066 400069 400070
    400076 400080 400092 400097 400101 400601 400703 401107 421301
    411001 411004 411006 411014 411021 411028 411038 411045 411057
    440001 440010 422001 431001 416001 413001
    560001 560002 560004 560008 560011 560017 560025 560029 560034 560037 560038 560066 560076 560095 560100 560103
    562114 562125
    570001 575001 580020 590001 583101 577201 585101 581301
    600001 600004 600017 600020 600028 600040 600041 600042 600090 600096 600100 600119
    641001 641018 625001 620001 636001 627001 632001
    500001 500003 500016 500032 500033 500034 500072 500081 500084 501401 506001 505001
    520001 530001 530017 522001 515001 517501
    700001 700016 700019 700020 700029 700053 700064 700091 700107 700156 711101 713101 734001 721101
    380001 380006 380009 380015 380054 382421 390001 390007 395001 395007 360001 364001
    695001 695003 682001 682016 682024 673001 680001 686001 691001
    302001 302017 302020 313001 342001 324001 305001 334001
    226001 226010 208001 221001 282001 250001 211001 243001 273001 202001
    452001 452010 462001 462016 474001 482001
    160017 160022 141001 143001 144001 147001 134109 132001 124001 125001
    800001 800020 842001 846004 812001 834001 831001 826001
    751001 751024 753001 768001 760001 492001 495001 490001
    248001 263139 249401 171001 176215 175131 403001 403601 403802
    180001 190001 190015 182301 194101
    781001 781005 781028 786001 785001 793001 795001 797001 796001 799001 737101 791111 744101 605001
"""
PINCODES = _BY_REGION.split()

ZONES = [Zone.WITHIN_CITY, Zone.WITHIN_STATE, Zone.METRO, Zone.REST_OF_INDIA, Zone.SPECIAL]

# code, name, mode, supports COD, supports reverse, max weight (g), COD (fixed, %), fuel %,
# per zone (in ZONES order; None: no card): (first 500 g, each additional 500 g, estimated days)
COURIERS = [
    ("delhivery-surface", "Delhivery Surface", "surface", True, True, 50_000, ("30", "1.75"), "12",
     [(32, 28, 1), (38, 33, 2), (45, 40, 4), (52, 45, 5), (68, 60, 8)]),
    ("delhivery-air", "Delhivery Air", "air", True, False, 20_000, ("35", "2.00"), "15",
     [(45, 40, 1), (55, 50, 2), (65, 60, 2), (75, 68, 3), (90, 80, 4)]),
    ("bluedart-express", "Blue Dart Express", "express", True, True, 30_000, ("40", "2.00"), "14",
     [(50, 45, 1), (60, 52, 1), (72, 65, 2), (82, 74, 2), (89, 78, 3)]),
    ("ecom-express", "Ecom Express", "surface", True, True, 30_000, ("30", "1.50"), "10",
     [(30, 26, 1), (36, 30, 3), (42, 38, 4), (49, 44, 5), (65, 58, 7)]),
    ("xpressbees", "Xpressbees", "surface", True, False, 25_000, ("29", "1.60"), "11",
     [(31, 27, 1), (37, 32, 2), (44, 39, 4), (50, 45, 5), None]),
    ("shadowfax", "Shadowfax", "surface", False, True, 10_000, ("0", "0"), "10",
     [(30, 25, 1), (35, 30, 2), (44, 40, 3), (55, 48, 5), (70, 62, 8)]),
]  # fmt: skip


def _serves(code: str, index: int, pincode: str) -> str | None:
    """The CSV row of a courier's serviceability of a pincode (pickup, delivery, cod, reverse, oda), or None."""
    where = place(pincode)
    special = where.state in SPECIAL_STATES
    if code == "delhivery-surface":
        return f"{pincode},Y,Y,Y,Y,{'Y' if special else 'N'}"
    if code == "delhivery-air":
        return f"{pincode},Y,Y,Y,N,N" if where.metro or special or index % 3 == 0 else None
    if code == "bluedart-express":
        return None if index % 7 == 3 else f"{pincode},Y,Y,{'N' if index % 4 == 1 else 'Y'},Y,N"
    if code == "ecom-express":
        return None if special else f"{pincode},Y,Y,Y,Y,N"
    if code == "xpressbees":
        return None if index % 5 == 4 and pincode not in ALWAYS else f"{pincode},Y,Y,Y,N,N"
    # Shadowfax: metros and the west and south.
    return f"{pincode},{'Y' if where.metro or pincode in ALWAYS else 'N'},Y,N,Y,N" if where.metro or where.state in (
        "KARNATAKA", "MAHARASHTRA", "TAMIL NADU", "KERALA", "TELANGANA", "GUJARAT") else None  # fmt: skip


#: The demo locations' pincodes: every courier picks up there (see seed()).
ALWAYS = frozenset({"562114", "400050"})


def seed(*, merchant: Merchant, stdout) -> None:
    existing = {c.code: c for c in Courier.objects.filter(merchant=merchant)}
    created = 0
    for code, name, mode, cod, reverse, max_grams, (cod_fixed, cod_percent), fuel, slabs in COURIERS:
        courier = existing.get(code)
        if courier is None:
            cards = [
                {"zone": zone, "first_slab_grams": 500, "first_slab_price": Decimal(first),
                 "additional_slab_grams": 500, "additional_slab_price": Decimal(additional),
                 "cod_fixed": Decimal(cod_fixed), "cod_percent": Decimal(cod_percent),
                 "fuel_surcharge_percent": Decimal(fuel), "rto_charge": Decimal(first), "estimated_days": days}
                for zone, slab in zip(ZONES, slabs, strict=True) if slab for first, additional, days in [slab]
            ]  # fmt: skip
            courier = courier_create(merchant=merchant, data={"code": code, "name": name, "mode": mode,
                                     "supports_cod": cod, "supports_reverse": reverse, "max_weight_grams": max_grams},
                                     rate_cards=cards)  # fmt: skip
            created += 1
        if not ServiceablePincode.objects.filter(courier=courier).exists():
            rows = [
                row
                for index, pin in enumerate(PINCODES)
                if (row := _serves(code, index, pin) or (f"{pin},Y,Y,Y,N,N" if pin in ALWAYS else None))
            ]
            text = "pincode,pickup,delivery,cod,reverse,oda\n" + "\n".join(rows) + "\n"
            serviceability_import(courier=courier, fileobj=io.BytesIO(text.encode()))
    started = clock.perf_counter()
    simulated, new_courier = _simulated_courier(merchant)
    created += new_courier
    pools = _offline_pools(merchant)
    served = ServiceablePincode.objects.filter(merchant=merchant).count()
    stdout.write(f"Demo shipping: {len(COURIERS) + 1} couriers ({created} new), {served} serviceable pincode rows over "
                 f"{len(PINCODES)} pincodes; {pools} new AWB pools")  # fmt: skip
    made = _shipments(merchant, simulated)
    statuses = Shipment.objects.filter(merchant=merchant).values("status").distinct().count()
    total = Shipment.objects.filter(merchant=merchant).count()
    stdout.write(f"Demo shipments: {total} shipments ({made} new) in {statuses} statuses with {simulated.name}, "
                 f"{clock.perf_counter() - started:.1f} s")  # fmt: skip


# -- the simulated courier, AWB pools, notification settings -------------------------------------------------------

SIM_CODE = "demo-express"
SIM_NAME = "Demo Express (simulated)"
#: Its prices (first 500 g, each additional 500 g, estimated days) per zone, in ZONES order.
SIM_SLABS = [(34, 30, 1), (40, 35, 2), (48, 42, 3), (55, 48, 4), (72, 64, 6)]
ACTOR = "system"


def _simulated_courier(merchant: Merchant) -> tuple[Courier, int]:
    courier = Courier.objects.filter(merchant=merchant, code=SIM_CODE).first()
    if courier is not None:
        return courier, 0
    cards = [{"zone": zone, "first_slab_grams": 500, "first_slab_price": Decimal(first), "additional_slab_grams": 500,
              "additional_slab_price": Decimal(additional), "cod_fixed": Decimal("35"), "cod_percent": Decimal("1.80"),
              "fuel_surcharge_percent": Decimal("12"), "rto_charge": Decimal(first), "estimated_days": days}
             for zone, (first, additional, days) in zip(ZONES, SIM_SLABS, strict=True)]  # fmt: skip
    courier = courier_create(merchant=merchant, data={
        "code": SIM_CODE, "name": SIM_NAME, "mode": "express", "supports_cod": True, "supports_reverse": True,
        "max_weight_grams": 30_000, "adapter": "simulated", "poll_limit_per_minute": 120,
        "tracking_url_template": "",
    }, rate_cards=cards)  # fmt: skip
    text = "pincode,pickup,delivery,cod,reverse,oda\n" + "".join(f"{pin},Y,Y,Y,Y,N\n" for pin in PINCODES)
    serviceability_import(courier=courier, fileobj=io.BytesIO(text.encode()))
    return courier, 1


#: A range pool for each offline courier (name, courier, prefix, first number); Delhivery Surface instead has a
#: short uploaded list, shown as low.
RANGE_POOLS = [
    ("Blue Dart Express 2026", "bluedart-express", "BDX", 70_000_000),
    ("Delhivery Air 2026", "delhivery-air", "DLA", 51_000_000),
    ("Ecom Express 2026", "ecom-express", "ECX", 33_000_000),
    ("Xpressbees 2026", "xpressbees", "XPB", 14_000_000),
    ("Shadowfax 2026", "shadowfax", "SFX", 90_000_000),
]


def _offline_pools(merchant: Merchant) -> int:
    """A 5,000-number range pool for each offline courier but Delhivery Surface, which has a nearly used-up list."""
    made = 0
    for name, code, prefix, start in RANGE_POOLS:
        if not AWBPool.objects.filter(merchant=merchant, name=name).exists():
            courier = Courier.objects.get(merchant=merchant, code=code)
            awb_pool_create_range(courier=courier, name=name, start=start, end=start + 4_999, prefix=prefix,
                                  low_watermark=500)  # fmt: skip
            made += 1
    delhivery = Courier.objects.get(merchant=merchant, code="delhivery-surface")
    if not AWBPool.objects.filter(merchant=merchant, name="Delhivery Surface list").exists():
        awb_pool_create_list(courier=delhivery, name="Delhivery Surface list", low_watermark=50,
                             numbers=[f"DLV{1_480_000 + n}" for n in range(40)])  # fmt: skip
        made += 1
    return made


# -- shipments in every status -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """One demo shipment: where it ends, how its deliveries go, and when things happen.

    ``pickup_days_ago``: the courier collected it that many days ago, at SIM_PICKUP_HOUR (None: not collected);
    ``polled_at``: hours after the pickup of the (last) poll, None for the present; ``failures``: "none", "once"
    or "always" (picks the AWB); ``steps``: what the merchant does.
    """

    status: str
    failures: str = "none"
    pickup_days_ago: int | None = None
    polled_at: float | None = None
    steps: tuple[str, ...] = ()
    location: str = "blr-wh"
    cod: bool = False


#: Hours after pickup of the simulated journey (adapters.SIM_HOURS): out for delivery at 36, delivered at 40 or
#: first NDR at 42; without the merchant's decision, RTO at 114, RTO in transit at 126, back home at 174.
STORIES = [
    Story(S.DELIVERED, pickup_days_ago=12, cod=True),
    Story(S.DELIVERED, failures="once", pickup_days_ago=9, polled_at=43, steps=("reattempt_next_day", "poll")),
    Story(S.DELIVERED, pickup_days_ago=7, location="mum-store"),
    Story(S.DELIVERED, pickup_days_ago=5, cod=True),
    Story(S.RTO_DELIVERED, failures="always", pickup_days_ago=10, cod=True),
    Story(S.RTO_IN_TRANSIT, failures="always", pickup_days_ago=6, polled_at=130),
    Story(S.RTO_INITIATED, failures="always", pickup_days_ago=4, polled_at=43, steps=("rto",), cod=True),
    Story(S.LOST, pickup_days_ago=4, polled_at=10, steps=("lost",)),
    Story(S.NDR, failures="always", pickup_days_ago=3, polled_at=44, cod=True),
    Story(S.NDR, failures="once", pickup_days_ago=3, polled_at=43, steps=("reattempt_tomorrow",)),
    Story(S.OUT_FOR_DELIVERY, pickup_days_ago=3, polled_at=37, cod=True),
    Story(S.IN_TRANSIT, pickup_days_ago=1, polled_at=8),
    Story(S.PICKED_UP, pickup_days_ago=1, polled_at=2, location="mum-store"),
    Story(S.PICKUP_SCHEDULED, steps=("pickup",)),
    Story(S.PICKUP_SCHEDULED, steps=("pickup",), cod=True),
    Story(S.AWB_ASSIGNED, steps=("awb",)),
    Story(S.CANCELLED, steps=("awb", "cancel")),
    Story(S.NEW, steps=("new",), cod=True),
]
FAILURES = {"none": 0, "once": 1, "always": 99}


def _awbs_for(stories: list[Story]) -> list[str]:
    """One AWB per story that books one, in story order, whose simulated deliveries fail as the story needs."""
    awbs, number = [], 41_000_000
    for story in stories:
        if "new" in story.steps:
            continue
        while simulated_failures(f"DX{number}") != FAILURES[story.failures]:
            number += 1
        awbs.append(f"DX{number}")
        number += 1
    return awbs


def _shipments(merchant: Merchant, courier: Courier) -> int:
    if Shipment.objects.filter(merchant=merchant, courier=courier).exists():
        return 0
    quiet = not NotificationSetting.objects.filter(merchant=merchant).exists()
    if quiet:  # the history is the past: its customers are not messaged today
        notification_setting_set(merchant=merchant, data={"email_enabled": False, "sms_enabled": False})
    awb_pool_create_list(courier=courier, name="Demo Express (demo stories)", numbers=_awbs_for(STORIES),
                         low_watermark=0)  # fmt: skip
    if not AWBPool.objects.filter(merchant=merchant, name="Demo Express range").exists():
        awb_pool_create_range(courier=courier, name="Demo Express range", start=42_000_000,
                              end=42_009_999, prefix="DXR", low_watermark=200)  # fmt: skip
    now = timezone.now()
    tz = timezone.get_current_timezone()  # the simulated courier's clock
    locations = {loc.nickname: loc for loc in Location.objects.filter(merchant=merchant)}
    products = list(Product.objects.filter(merchant=merchant, status="active").order_by("sku")[:12])
    today = now.astimezone(tz).date()
    made = []
    for index, story in enumerate(STORIES):
        pickup_at = None
        if story.pickup_days_ago is not None:
            day = today - timedelta(days=story.pickup_days_ago)
            pickup_at = datetime.combine(day, time(SIM_PICKUP_HOUR), tzinfo=tz)
        booked_at = (pickup_at - timedelta(hours=7)) if pickup_at else now - timedelta(hours=3 + index % 5)
        order = _order(merchant, index, story, locations[story.location], products[index % len(products)],
                       booked_at - timedelta(hours=5))  # fmt: skip
        shipment = shipment_create(order=order, courier=courier, actor=ACTOR, at=booked_at)
        if "new" not in story.steps:
            shipment = shipment_assign_awb(shipment=shipment, actor=ACTOR)
        if pickup_at is not None:
            pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor=ACTOR,
                            pickup_date=pickup_at.date(), now=booked_at + timedelta(hours=1))  # fmt: skip
        elif "pickup" in story.steps:
            pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor=ACTOR)
        elif "cancel" in story.steps:
            shipment_cancel(shipment=shipment, actor=ACTOR, reason="Customer changed the delivery address")
        made.append((story, shipment, pickup_at, booked_at))
    for pickup in PickupRequest.objects.filter(courier=courier).order_by("pickup_date", "id"):
        manifest_create(merchant=merchant, actor=ACTOR, pickup=pickup)
    for story, shipment, pickup_at, _ in made:
        if pickup_at is not None:
            _travel(story, shipment, pickup_at, now)
    _backdate(made)
    if quiet:
        notification_setting_set(merchant=merchant, data={"email_enabled": True, "sms_enabled": True})
    return len(made)


def _order(merchant: Merchant, index: int, story: Story, location: Location, product: Product, at: datetime) -> Order:
    name, phone, line1, city, state, postcode = CUSTOMERS[index % len(CUSTOMERS)]
    order = order_create(merchant=merchant, data={
        "channel_order_id": f"API-{50001 + index}", "payment_method": "cod" if story.cod else "prepaid",
        "customer": {"name": name, "phone": phone, "email": f"{name.split()[0].lower()}@example.in"},
        "shipping_address": {"name": name, "phone": phone, "line1": line1, "city": city, "state": state,
                             "postcode": postcode, "country": "IN"},
        "lines": [{"sku": product.sku, "quantity": 1, "unit_price": product.price}],
        "pickup_location": str(location.pk), "ordered_at": at,
    }, actor=ACTOR)  # fmt: skip
    order = order_services.order_confirm(order=order, actor=ACTOR)
    return order_services.order_pack(order=order, actor=ACTOR)


def _travel(story: Story, shipment: Shipment, pickup_at: datetime, now: datetime) -> None:
    """Poll the simulated courier at the story's moments, with the merchant's decisions in between."""
    last_poll = now if story.polled_at is None else min(now, pickup_at + timedelta(hours=story.polled_at))
    failed_at = pickup_at + timedelta(hours=43)  # just after the first failed attempt
    if story.failures != "none" and last_poll > failed_at:
        # The courier reports the failed attempt; what follows depends on the NDR it opens (the next polls).
        tracking_refresh(shipments=[shipment], now=failed_at)
    tracking_refresh(shipments=[shipment], now=last_poll)
    ndr = NDR.objects.filter(shipment=shipment, status=NDRStatus.OPEN).first()
    decided_at = last_poll + timedelta(hours=1)
    tomorrow = now.astimezone(shipment.merchant.tzinfo).date() + timedelta(days=1)
    if "reattempt_next_day" in story.steps:
        ndr_action(ndr=ndr, action=NDRAction.REATTEMPT, actor=ACTOR, now=decided_at,
                   comment="Customer asked for delivery after 6 pm",
                   reattempt_date=ndr.last_attempt_at.astimezone(shipment.merchant.tzinfo).date()
                   + timedelta(days=1))  # fmt: skip
    if "reattempt_tomorrow" in story.steps:
        ndr_action(ndr=ndr, action=NDRAction.REATTEMPT, actor=ACTOR, now=decided_at,
                   comment="Landmark: opposite the metro station",
                   reattempt_date=tomorrow)  # fmt: skip
    if "rto" in story.steps:
        ndr_action(ndr=ndr, action=NDRAction.RTO, actor=ACTOR, now=decided_at,
                   comment="Customer refused the parcel twice")  # fmt: skip
    if "lost" in story.steps:
        tracking_record(shipment=shipment, code=S.LOST, actor=ACTOR, occurred_at=pickup_at + timedelta(days=3),
                        description="Declared lost by the courier after a search",
                        location="Sort centre")  # fmt: skip
    if "poll" in story.steps:
        tracking_refresh(shipments=[shipment], now=now)


def _backdate(made: list[tuple[Story, Shipment, datetime | None, datetime]]) -> None:
    """Date the shipments' own records when their stories happened, as a real desk would have them (services
    stamp the present): booking, AWB, pickup booking and manifest; each courier event's status change at the
    event's time; the merchant's NDR decisions when they were taken."""
    ids = [shipment.pk for _, shipment, _, _ in made]
    scans = dict(TrackingEvent.objects.filter(shipment_id__in=ids).values_list("pk", "occurred_at"))
    decided = NDR.objects.filter(shipment_id__in=ids).exclude(action_at=None)
    decisions = dict(decided.values_list("pk", "action_at"))
    rto_decisions = dict(decided.filter(action=NDRAction.RTO).values_list("shipment_id", "action_at"))
    booked = {shipment.pk: booked_at for _, shipment, _, booked_at in made}
    steps = {"created": 0, "awb_assigned": 0.5, "manifested": 1.5}
    events = list(ShipmentEvent.objects.filter(shipment_id__in=ids))
    for event in events:
        start = booked[event.shipment_id]
        if event.kind in steps:
            event.created_at = start + timedelta(hours=steps[event.kind])
        elif event.kind == "ndr_action":
            event.created_at = decisions.get(event.data.get("ndr"), event.created_at)
        elif event.data.get("tracking_event") in scans:
            event.created_at = scans[event.data["tracking_event"]]
        elif event.to_status in (S.PICKUP_SCHEDULED, S.CANCELLED):
            event.created_at = start + timedelta(hours=1)
        elif event.to_status == S.RTO_INITIATED:  # the merchant's RTO decision
            event.created_at = rto_decisions.get(event.shipment_id, event.created_at)
    ShipmentEvent.objects.bulk_update(events, ["created_at"], batch_size=500)
    for _, shipment, _, booked_at in made:
        shipment.refresh_from_db(fields=["awb", "shipped_at", "delivered_at", "cancelled_at"])
        Shipment.objects.filter(pk=shipment.pk).update(
            created_at=booked_at, awb_assigned_at=booked_at + timedelta(minutes=30) if shipment.awb else None,
            cancelled_at=booked_at + timedelta(hours=1) if shipment.cancelled_at else None,
        )  # fmt: skip
        moments = {"confirmed_at": booked_at - timedelta(hours=4), "packed_at": booked_at - timedelta(hours=1)}
        if shipment.shipped_at:
            moments["shipped_at"] = shipment.shipped_at
        if shipment.delivered_at:
            moments["delivered_at"] = shipment.delivered_at
        Order.objects.filter(pk=shipment.order_id).update(**moments)


def status_counts(merchant: Merchant) -> dict[str, int]:
    """How many of the merchant's shipments are in each status (for the demo's checks)."""
    rows = Shipment.objects.filter(merchant=merchant).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}
