"""The shipments dashboard: changelists scoped to the merchant with bounded queries, the actions through the services
(each object's outcome reported, refusals named), the action form pages, the tracking CSV upload, AWB pools, pickups,
manifests, the NDR queue, tracking events, notifications, and the order desk's "Create shipments" action."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import OrderStatus
from shipping.adapters import TrackingUpdate
from shipping.models import (
    NDR,
    AWBNumber,
    AWBPool,
    Courier,
    Manifest,
    NDRStatus,
    Notification,
    NotificationSetting,
    PickupRequest,
    PickupStatus,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    TrackingEvent,
)
from shipping.services.awb import awb_pool_create_list, awb_pool_create_range
from shipping.services.manifests import manifest_create
from shipping.services.tracking import courier_performance_refresh, tracking_ingest
from tests.orders.factories import make_order
from tests.shipping.factories import courier_event, make_shipment, shipping_courier
from tests.shopops.factories import MembershipFactory

S = ShipmentStatus
SHIPMENTS = "/admin/shipping/shipment/"
POOLS = "/admin/shipping/awbpool/"
PICKUPS = "/admin/shipping/pickuprequest/"
MANIFESTS = "/admin/shipping/manifest/"
NDRS = "/admin/shipping/ndr/"
EVENTS = "/admin/shipping/trackingevent/"
SETTINGS = "/admin/shipping/notificationsetting/"
NOTIFICATIONS = "/admin/shipping/notification/"
ORDERS = "/admin/orders/order/"
UPLOAD = "/admin/shipping/shipment/tracking-import/"


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def bluedart(merchant):
    return shipping_courier(merchant)


def listed(response) -> list[int]:
    return [obj.pk for obj in response.context["cl"].result_list]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def act(client, url: str, action: str, objects, **extra):
    """Post an action from the changelist, as the browser does."""
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], "index": 0, **extra}
    return client.post(url, data)


def statuses(*shipments) -> list[str]:
    return [Shipment.objects.get(pk=s.pk).status for s in shipments]


def today(merchant):
    return timezone.now().astimezone(merchant.tzinfo).date()


# -- the shipments changelist ---------------------------------------------------------------------------------------


def test_the_changelist_lists_the_users_merchants_shipments_only(desk, merchant, other_merchant, bluedart):
    mine = [make_shipment(merchant, status) for status in (S.NEW, S.AWB_ASSIGNED, S.NDR)]
    make_shipment(other_merchant, S.AWB_ASSIGNED)

    response = desk.get(SHIPMENTS)

    assert response.status_code == 200
    assert listed(response) == [s.pk for s in reversed(mine)]
    rows = {s.pk: s for s in response.context["cl"].result_list}
    assert [rows[s.pk].has_open_ndr for s in mine] == [False, False, True]
    content = response.content.decode()
    assert f'href="/admin/orders/order/{mine[0].order_id}/change/">{mine[0].order.number}</a>' in content
    assert 'href="/admin/shipping/shipment/tracking-import/">Upload tracking CSV</a>' in content


def test_the_changelist_query_count_does_not_grow_with_rows(desk, merchant, bluedart):
    for status in (S.NEW, S.AWB_ASSIGNED, S.PICKUP_SCHEDULED, S.NDR, S.DELIVERED):
        make_shipment(merchant, status)
    with CaptureQueriesContext(connection) as small:
        desk.get(SHIPMENTS)

    for _ in range(100):  # two pages of 100
        make_shipment(merchant, S.NEW)
    with CaptureQueriesContext(connection) as first_page:
        response = desk.get(SHIPMENTS + "?status__in=new")
    with CaptureQueriesContext(connection) as second_page:
        second = desk.get(SHIPMENTS + response.context["cl"].next_url)

    assert response.context["cl"].result_count == 101
    assert len(response.context["cl"].result_list) == 100
    assert len(second.context["cl"].result_list) == 1
    assert len(small) == len(first_page) == len(second_page)


def test_search_by_awb_order_number_and_customer_phone(desk, merchant, bluedart):
    booked = make_shipment(merchant, S.AWB_ASSIGNED)
    other = make_shipment(merchant, S.NEW, shipping_address={**booked.order.shipping_address, "phone": "+919000000001"})

    assert listed(desk.get(SHIPMENTS, {"q": booked.awb})) == [booked.pk]
    assert listed(desk.get(SHIPMENTS, {"q": other.order.number})) == [other.pk]
    assert (
        listed(desk.get(SHIPMENTS, {"q": other.order.customer.phone}))
        == sorted(s.pk for s in Shipment.objects.filter(order__customer=other.order.customer))[::-1]
    )


def test_filters_by_status_open_ndr_courier_and_date_ranges(desk, merchant, bluedart):
    new = make_shipment(merchant, S.NEW)
    scheduled = make_shipment(merchant, S.PICKUP_SCHEDULED)
    ndr = make_shipment(merchant, S.NDR)
    delivered = make_shipment(merchant, S.DELIVERED)
    dtdc = shipping_courier(merchant, code="dtdc", name="DTDC")
    other_courier = make_shipment(merchant, S.NEW, courier=dtdc)
    day = scheduled.pickup_date.isoformat()
    shipped_day = delivered.shipped_at.astimezone(merchant.tzinfo).date().isoformat()
    delivered_day = delivered.delivered_at.astimezone(merchant.tzinfo).date().isoformat()

    assert listed(desk.get(SHIPMENTS, {"status__exact": "new"})) == [other_courier.pk, new.pk]
    assert listed(desk.get(SHIPMENTS, {"open_ndr": "yes"})) == [ndr.pk]
    assert listed(desk.get(SHIPMENTS, {"open_ndr": "no"})) == [other_courier.pk, delivered.pk, scheduled.pk, new.pk]
    assert listed(desk.get(SHIPMENTS, {"courier__id__exact": dtdc.pk})) == [other_courier.pk]
    assert listed(desk.get(SHIPMENTS, {"pickup_date_after": day, "pickup_date_before": day})) == [
        delivered.pk, ndr.pk, scheduled.pk]  # fmt: skip
    assert listed(desk.get(SHIPMENTS, {"ship_date_after": shipped_day, "ship_date_before": shipped_day})) == [
        delivered.pk, ndr.pk]  # fmt: skip
    assert listed(desk.get(SHIPMENTS, {"delivered_date_after": delivered_day})) == [delivered.pk]


def test_the_change_page_shows_the_shipment_with_its_timelines_read_only(desk, merchant, bluedart):
    shipment = make_shipment(merchant, S.NDR)
    url = f"{SHIPMENTS}{shipment.pk}/change/"

    response = desk.get(url)

    assert response.status_code == 200
    inlines = {f.formset.prefix: f.formset for f in response.context["inline_admin_formsets"]}
    assert [e.code for e in inlines["tracking_events"].queryset] == [
        "picked_up", "in_transit", "out_for_delivery", "ndr"]  # fmt: skip
    assert [e.kind for e in inlines["events"].queryset] == list(
        ShipmentEvent.objects.filter(shipment=shipment).order_by("id").values_list("kind", flat=True))  # fmt: skip
    assert [(n.status, n.attempts) for n in inlines["ndrs"].queryset] == [("open", 1)]
    assert [(n.event, n.channel, n.recipient) for n in inlines["notifications"].queryset] == [
        ("shipped", "sms", "+919812345678"), ("out_for_delivery", "sms", "+919812345678"),
        ("ndr", "sms", "+919812345678")]  # fmt: skip
    assert response.context["has_change_permission"] is False
    assert f'href="/track/{shipment.awb}/{shipment.tracking_token}/"' in response.content.decode()
    assert desk.post(url, {"awb": "X"}).status_code == 403
    assert desk.get(f"{SHIPMENTS}add/").status_code == 403


def test_another_merchants_shipment_page_is_not_shown(desk, other_merchant):
    shipment = make_shipment(other_merchant, S.NEW)

    response = desk.get(f"{SHIPMENTS}{shipment.pk}/change/")

    assert (response.status_code, response.url) == (302, "/admin/")


# -- the shipment actions -------------------------------------------------------------------------------------------


def test_assign_awb_books_the_new_shipments_and_names_the_refused(desk, merchant, bluedart):
    booked = make_shipment(merchant, S.AWB_ASSIGNED)
    new = make_shipment(merchant, S.NEW)

    response = act(desk, SHIPMENTS, "assign_awb_selected", [booked, new])

    assert response.status_code == 302
    new.refresh_from_db()
    assert (new.status, new.awb) == (S.AWB_ASSIGNED, "BL10000001")
    assert messages_of(response) == [f"Assigned AWBs to 1 shipment; refused 1: {booked.awb} (already has AWB "
                                     f"{booked.awb})."]  # fmt: skip


def test_reassign_asks_for_the_courier_then_moves_the_shipments_before_pickup(desk, merchant, other_merchant,
                                                                                bluedart):  # fmt: skip
    dtdc = shipping_courier(merchant, code="dtdc", name="DTDC")
    shipping_courier(other_merchant, code="theirs", name="Theirs")
    booked = make_shipment(merchant, S.AWB_ASSIGNED)
    picked = make_shipment(merchant, S.PICKED_UP)

    page = act(desk, SHIPMENTS, "reassign_selected", [booked, picked])

    assert page.status_code == 200
    assert page.templates[0].name == "admin/shipping/shipment/reassign_selected.html"
    assert [s.pk for s in page.context["shipments"]] == [booked.pk, picked.pk]
    assert list(page.context["form"].fields["courier"].queryset) == [bluedart, dtdc]

    response = act(desk, SHIPMENTS, "reassign_selected", [booked, picked], apply="1",
                   **{"reassign-courier": dtdc.pk})  # fmt: skip

    assert response.status_code == 302
    booked.refresh_from_db()
    assert (booked.courier_id, booked.awb, booked.status) == (dtdc.pk, "DT10000000", S.AWB_ASSIGNED)
    assert messages_of(response) == [f"Reassigned to DTDC 1 shipment; refused 1: {picked.awb} (is picked up)."]


def test_reassign_without_a_courier_shows_the_page_again(desk, merchant, bluedart):
    booked = make_shipment(merchant, S.AWB_ASSIGNED)

    response = act(desk, SHIPMENTS, "reassign_selected", [booked], apply="1")

    assert response.status_code == 200
    assert response.context["form"].errors == {"courier": ["This field is required."]}
    assert statuses(booked) == [S.AWB_ASSIGNED]


def test_schedule_pickup_books_one_pickup_per_courier_and_location(desk, merchant, bluedart):
    dtdc = shipping_courier(merchant, code="dtdc", name="DTDC")
    first, second = make_shipment(merchant, S.AWB_ASSIGNED), make_shipment(merchant, S.AWB_ASSIGNED)
    third = make_shipment(merchant, S.AWB_ASSIGNED, courier=dtdc)
    new = make_shipment(merchant, S.NEW)
    day = today(merchant) + timedelta(days=2)

    page = act(desk, SHIPMENTS, "schedule_pickup_selected", [first, second, third, new])
    assert page.templates[0].name == "admin/shipping/shipment/schedule_pickup_selected.html"
    assert page.context["count"] == 4

    response = act(desk, SHIPMENTS, "schedule_pickup_selected", [first, second, third, new], apply="1",
                   **{"pickup-pickup_date": day.isoformat()})  # fmt: skip

    pickups = list(PickupRequest.objects.filter(merchant=merchant).order_by("courier__name"))
    assert [(p.courier.code, p.pickup_date, p.shipments.count()) for p in pickups] == [
        ("bluedart", day, 2), ("dtdc", day, 1)]  # fmt: skip
    assert statuses(first, second, third, new) == [S.PICKUP_SCHEDULED] * 3 + [S.NEW]
    blue, dt = pickups
    assert messages_of(response) == [
        f"Scheduled the pickup of 3 shipments; refused 1: shipment {new.pk} (is new).",
        f"Pickups: {blue.token} (Blue Dart from main on {day}: 2 shipments); {dt.token} (DTDC from main on {day}: "
        "1 shipment).",
    ]


def test_a_pickup_date_in_the_past_is_refused_per_group(desk, merchant, bluedart):
    booked = make_shipment(merchant, S.AWB_ASSIGNED)
    yesterday = today(merchant) - timedelta(days=1)

    response = act(desk, SHIPMENTS, "schedule_pickup_selected", [booked], apply="1",
                   **{"pickup-pickup_date": yesterday.isoformat()})  # fmt: skip

    assert statuses(booked) == [S.AWB_ASSIGNED]
    assert messages_of(response) == ["Scheduled the pickup of 0 shipments; refused 1: Blue Dart from main (The "
                                     "pickup date is in the past)."]  # fmt: skip


def test_create_manifests_lists_the_shipments_waiting_for_pickup(desk, merchant, bluedart):
    scheduled, booked = make_shipment(merchant, S.PICKUP_SCHEDULED), make_shipment(merchant, S.AWB_ASSIGNED)
    delivered = make_shipment(merchant, S.DELIVERED)

    response = act(desk, SHIPMENTS, "manifest_selected", [scheduled, booked, delivered])

    manifest = Manifest.objects.get(merchant=merchant)
    assert sorted(manifest.shipments.values_list("pk", flat=True)) == [scheduled.pk, booked.pk]
    assert messages_of(response) == [
        f"Listed 2 shipments; refused 1: {delivered.awb} (is delivered).",
        f"Manifests: {manifest.number} (Blue Dart from main: 2 shipments).",
    ]
    again = act(desk, SHIPMENTS, "manifest_selected", [booked])
    assert messages_of(again)[-1:] == [f"Listed 0 shipments; refused 1: {booked.awb} (already on a manifest)."]


def test_cancel_asks_for_a_reason_then_cancels_before_pickup(desk, merchant, bluedart):
    booked, picked = make_shipment(merchant, S.AWB_ASSIGNED), make_shipment(merchant, S.PICKED_UP)

    page = act(desk, SHIPMENTS, "cancel_selected", [booked, picked])
    assert page.templates[0].name == "admin/shipping/shipment/cancel_selected.html"
    blank = act(desk, SHIPMENTS, "cancel_selected", [booked], apply="1", **{"cancel-reason": " "})
    assert blank.context["form"].errors == {"reason": ["This field is required."]}
    assert statuses(booked) == [S.AWB_ASSIGNED]

    response = act(desk, SHIPMENTS, "cancel_selected", [booked, picked], apply="1",
                   **{"cancel-reason": "Address changed"})  # fmt: skip

    booked.refresh_from_db()
    assert (booked.status, booked.cancel_reason) == (S.CANCELLED, "Address changed")
    assert statuses(picked) == [S.PICKED_UP]
    assert messages_of(response) == [f"Cancelled 1 shipment; refused 1: {picked.awb} (is picked up)."]


def test_refresh_tracking_polls_simulated_couriers_and_refuses_the_others(desk, merchant, bluedart):
    simulated = shipping_courier(merchant, code="sim", name="Sim Express", adapter="simulated")
    moving = make_shipment(merchant, S.AWB_ASSIGNED, courier=simulated)
    Shipment.objects.filter(pk=moving.pk).update(awb_assigned_at=timezone.now() - timedelta(days=5))
    offline = make_shipment(merchant, S.AWB_ASSIGNED)
    delivered = make_shipment(merchant, S.DELIVERED)

    response = act(desk, SHIPMENTS, "refresh_tracking_selected", [moving, offline, delivered])

    moving.refresh_from_db()
    assert moving.last_polled_at is not None
    codes = list(TrackingEvent.objects.filter(shipment=moving).values_list("code", flat=True))
    assert moving.status == codes[-1] and codes[:3] == ["picked_up", "in_transit", "out_for_delivery"]
    assert messages_of(response) == [
        f"Refreshed the tracking of 1 shipment; refused 2: {offline.awb} (Blue Dart is not polled: record its scans "
        f"or upload its tracking CSV), {delivered.awb} (is delivered).",
        f"{len(codes)} new courier events, {len(codes)} moving a shipment.",
    ]


def test_record_a_scan_asks_for_it_then_applies_it(desk, merchant, bluedart):
    picked = make_shipment(merchant, S.PICKED_UP)
    new = make_shipment(merchant, S.NEW)
    at = timezone.now() - timedelta(hours=1)

    page = act(desk, SHIPMENTS, "record_event_selected", [picked])
    assert page.templates[0].name == "admin/shipping/shipment/record_event_selected.html"

    response = act(desk, SHIPMENTS, "record_event_selected", [picked, new], apply="1", **{
        "scan-code": "in_transit", "scan-occurred_at": timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S"),
        "scan-description": "Reached the hub", "scan-location": "Hoskote"})  # fmt: skip

    assert statuses(picked) == [S.IN_TRANSIT]
    event = TrackingEvent.objects.get(shipment=picked, code="in_transit")
    assert (event.source, event.description, event.location, event.applied) == ("manual", "Reached the hub",
                                                                                 "Hoskote", True)  # fmt: skip
    assert messages_of(response) == [f"Recorded the scan on 1 shipment; refused 1: shipment {new.pk} (The shipment "
                                     "has no AWB yet: assign one first)."]  # fmt: skip


def test_a_scan_going_backwards_is_kept_without_moving_and_an_unknown_code_is_refused(desk, merchant, bluedart):
    transit = make_shipment(merchant, S.IN_TRANSIT)

    kept = act(desk, SHIPMENTS, "record_event_selected", [transit], apply="1", **{"scan-code": "picked_up"})
    unknown = act(desk, SHIPMENTS, "record_event_selected", [transit], apply="1", **{"scan-code": "XYZ"})

    assert statuses(transit) == [S.IN_TRANSIT]
    assert messages_of(kept) == [
        "Recorded the scan on 1 shipment.",
        f"Kept in the timeline without moving the shipment (older than its latest event, or not a step forward): "
        f"{transit.awb}.",
    ]
    assert messages_of(unknown)[-1:] == [f"Recorded the scan on 0 shipments; refused 1: {transit.awb} ('XYZ' is not a "
                                    "status ShopOps knows for Blue Dart)."]  # fmt: skip


def test_a_viewer_cannot_run_the_actions(client, merchant, bluedart):
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    client.force_login(viewer)
    new = make_shipment(merchant, S.NEW)

    response = act(client, SHIPMENTS, "assign_awb_selected", [new])

    assert statuses(new) == [S.NEW]
    assert response.status_code == 200  # the changelist again: no such action for a viewer
    assert response.context["action_form"] is None


# -- the tracking CSV upload ----------------------------------------------------------------------------------------


def test_the_tracking_upload_applies_a_good_file_and_reports_counts(desk, merchant, other_merchant, bluedart):
    shipping_courier(other_merchant, code="theirs", name="Theirs")
    picked = make_shipment(merchant, S.PICKED_UP)
    page = desk.get(UPLOAD)
    assert page.status_code == 200
    assert list(page.context["form"].fields["courier"].queryset) == [bluedart]

    rows = (f"awb,status,occurred_at,location\n{picked.awb},in_transit,2026-01-01T10:00:00+05:30,Hub\n"
            "UNKNOWN1,delivered,2026-01-01T11:00:00+05:30,\n")  # fmt: skip
    response = desk.post(UPLOAD, {"courier": bluedart.pk, "file": SimpleUploadedFile("t.csv", rows.encode())})

    assert response.status_code == 200
    result = response.context["result"]
    assert (result.accepted, result.applied, result.orphans, result.errors) == (2, 0, 1, [])
    assert messages_of(response) == ["Blue Dart: 2 new events (0 moving a shipment, 1 for unknown AWBs), 0 already "
                                     "received."]  # fmt: skip


def test_the_tracking_upload_lists_bad_rows_and_applies_nothing(desk, merchant, bluedart):
    picked = make_shipment(merchant, S.PICKED_UP)
    rows = f"awb,status,occurred_at\n{picked.awb},in_transit,2026-01-01T10:00:00+05:30\n{picked.awb},teleported,x\n"

    response = desk.post(UPLOAD, {"courier": bluedart.pk, "file": SimpleUploadedFile("t.csv", rows.encode())})

    assert response.context["result"].errors == [{"row": 3, "column": "status", "value": "teleported",
                                                  "message": "'teleported' is not a status ShopOps knows for Blue "
                                                             "Dart."}]  # fmt: skip
    assert messages_of(response) == ["The file has 1 bad row(s) shown below; nothing was applied."]
    assert TrackingEvent.objects.filter(source="csv").count() == 0
    missing = desk.post(UPLOAD, {"courier": bluedart.pk, "file": SimpleUploadedFile("t.csv", b"awb,code\n")})
    assert missing.context["form"].errors == {"file": ["Missing columns: status, occurred_at."]}


# -- the order desk's action ---------------------------------------------------------------------------------------


def test_create_shipments_from_the_order_changelist_with_the_recommended_courier(desk, merchant, bluedart):
    packed, confirmed = make_order(merchant, OrderStatus.PACKED), make_order(merchant, OrderStatus.CONFIRMED)
    new = make_order(merchant)
    shipped = make_shipment(merchant, S.NEW).order

    response = act(desk, ORDERS, "create_shipments_selected", [packed, confirmed, new, shipped])

    assert response.status_code == 302
    made = Shipment.objects.filter(order__in=[packed, confirmed]).order_by("order_id")
    assert [(s.order_id, s.courier_id, s.status) for s in made] == [(packed.pk, bluedart.pk, "new"),
                                                                     (confirmed.pk, bluedart.pk, "new")]  # fmt: skip
    live = Shipment.objects.get(order=shipped)
    assert messages_of(response) == [f"Created shipments for 2 orders; refused 2: {new.number} (is new), "
                                     f"{shipped.number} (already has shipment {live.pk} (new))."]  # fmt: skip


# -- AWB pools -----------------------------------------------------------------------------------------------------


def test_pools_list_the_remaining_numbers_and_flag_the_low_ones(desk, merchant, other_merchant, bluedart,
                                                               django_assert_max_num_queries):  # fmt: skip
    make_shipment(merchant, S.AWB_ASSIGNED)
    listed_pool = awb_pool_create_list(courier=bluedart, name="list", numbers=["AB1234", "AB1235"],
                                       low_watermark=5)  # fmt: skip
    shipping_courier(other_merchant, code="theirs")
    for n in range(3):
        awb_pool_create_range(courier=bluedart, name=f"extra {n}", start=n * 100, end=n * 100 + 9,
                              prefix="X", width=6, low_watermark=0)  # fmt: skip

    with django_assert_max_num_queries(12):
        response = desk.get(POOLS)

    pools = {p.name: p for p in response.context["cl"].result_list}
    assert sorted(pools) == ["bluedart pool", "extra 0", "extra 1", "extra 2", "list"]
    assert (pools["bluedart pool"].remaining_count, pools["list"].remaining_count) == (999, 2)
    content = response.content.decode()
    assert content.count('class="awb-pool-low"') == 1
    assert "Low: 2 left" in content
    assert "X000100 … X000109" in content
    assert listed_pool.pk in [p.pk for p in response.context["cl"].result_list]


def test_add_a_range_pool(desk, merchant, bluedart):
    page = desk.get(f"{POOLS}add/")
    assert page.status_code == 200 and page.context["kind"] == "range"

    response = desk.post(f"{POOLS}add/", {"courier": bluedart.pk, "name": "BD 2027", "prefix": "BD", "width": "8",
                                          "range_start": "1", "range_end": "500", "low_watermark": "50"})  # fmt: skip

    assert (response.status_code, response.url) == (302, POOLS)
    pool = AWBPool.objects.get(name="BD 2027")
    assert (pool.merchant_id, pool.kind, pool.prefix, pool.width, pool.range_start, pool.range_end, pool.next_number,
            pool.low_watermark) == (merchant.pk, "range", "BD", 8, 1, 500, 1, 50)  # fmt: skip
    assert messages_of(response) == ["Added pool BD 2027 of Blue Dart."]


def test_an_overlapping_range_or_a_taken_name_is_a_form_error(desk, merchant, bluedart):
    data = {"courier": bluedart.pk, "name": "again", "prefix": "BL", "width": "0", "range_start": "10000500",
            "range_end": "10002000", "low_watermark": "10"}  # fmt: skip

    overlap = desk.post(f"{POOLS}add/", data)
    taken = desk.post(f"{POOLS}add/", {**data, "name": "bluedart pool", "range_start": "1", "range_end": "2"})

    assert overlap.context["form"].errors == {"range_start": ["The range overlaps pool 'bluedart pool' of this "
                                                              "courier."]}  # fmt: skip
    assert taken.context["form"].errors == {"name": ["A pool named 'bluedart pool' already exists."]}
    assert AWBPool.objects.count() == 1


def test_add_a_list_pool_from_a_file_and_pasted_numbers(desk, merchant, bluedart):
    page = desk.get(f"{POOLS}add/?kind=list")
    assert page.context["kind"] == "list"

    upload = SimpleUploadedFile("awbs.txt", b"LS0001\nLS0002\n\n")
    response = desk.post(f"{POOLS}add/?kind=list", {"courier": bluedart.pk, "name": "list", "file": upload,
                                                     "numbers": "LS0003\n", "low_watermark": "1"})  # fmt: skip

    assert response.status_code == 302
    pool = AWBPool.objects.get(name="list")
    assert list(AWBNumber.objects.filter(pool=pool).values_list("awb", flat=True)) == ["LS0003", "LS0001", "LS0002"]


def test_a_bad_list_is_refused_with_its_numbers_named(desk, merchant, bluedart):
    empty = desk.post(f"{POOLS}add/?kind=list", {"courier": bluedart.pk, "name": "l", "low_watermark": "1"})
    bad = desk.post(f"{POOLS}add/?kind=list", {"courier": bluedart.pk, "name": "l", "low_watermark": "1",
                                                "numbers": "LS0001\nLS0001\nx\n"})  # fmt: skip

    assert empty.context["form"].errors == {"numbers": ["Upload a file or paste the numbers."]}
    assert bad.context["form"].errors == {"numbers": ["'x' is not an AWB (4 to 40 letters, digits or dashes)",
                                                      "LS0001 is listed twice"]}  # fmt: skip
    assert AWBPool.objects.filter(name="l").count() == 0


def test_pools_are_activated_and_deactivated_and_not_edited(desk, merchant, bluedart):
    pool = AWBPool.objects.get(courier=bluedart)

    off = act(desk, POOLS, "deactivate_selected", [pool])
    assert AWBPool.objects.get(pk=pool.pk).is_active is False
    on = act(desk, POOLS, "activate_selected", [pool])

    assert AWBPool.objects.get(pk=pool.pk).is_active is True
    assert (messages_of(off), messages_of(on)[-1:]) == (["Deactivated 1 pool."], ["Activated 1 pool."])
    assert desk.post(f"{POOLS}{pool.pk}/change/", {"next_number": "1"}).status_code == 403
    assert desk.get(f"{POOLS}{pool.pk}/delete/").status_code == 403


# -- pickups and manifests -----------------------------------------------------------------------------------------


def test_pickups_list_their_shipments_and_cancel(desk, merchant, other_merchant, bluedart):
    scheduled = make_shipment(merchant, S.PICKUP_SCHEDULED)
    collected = make_shipment(merchant, S.PICKED_UP)
    make_shipment(other_merchant, S.PICKUP_SCHEDULED)
    waiting = scheduled.pickup
    assert collected.pickup_id == waiting.pk  # both joined the day's pickup

    response = desk.get(PICKUPS)
    page = desk.get(f"{PICKUPS}{waiting.pk}/change/")
    refused = act(desk, PICKUPS, "cancel_selected", [waiting])

    assert listed(response) == [waiting.pk]
    assert [p.shipments_count for p in response.context["cl"].result_list] == [2]
    assert [s.pk for s in page.context["inline_admin_formsets"][0].formset.queryset] == [scheduled.pk, collected.pk]
    assert PickupRequest.objects.get(pk=waiting.pk).status == PickupStatus.SCHEDULED
    assert messages_of(refused) == [f"Cancelled 0 pickups; refused 1: {waiting.token} (Some shipments of this "
                                      "pickup are already picked up)."]  # fmt: skip


def test_cancel_a_pickup_sends_its_shipments_back_to_waiting(desk, merchant, bluedart):
    scheduled = make_shipment(merchant, S.PICKUP_SCHEDULED)

    response = act(desk, PICKUPS, "cancel_selected", [scheduled.pickup])

    assert PickupRequest.objects.get(pk=scheduled.pickup_id).status == PickupStatus.CANCELLED
    assert statuses(scheduled) == [S.AWB_ASSIGNED]
    assert messages_of(response) == ["Cancelled 1 pickup."]


def test_manifests_list_with_their_shipments(desk, merchant, other_merchant, bluedart):
    scheduled = make_shipment(merchant, S.PICKUP_SCHEDULED)
    manifest = manifest_create(merchant=merchant, actor="system", pickup=scheduled.pickup)
    theirs = make_shipment(other_merchant, S.AWB_ASSIGNED)
    manifest_create(merchant=other_merchant, actor="system", shipment_ids=[theirs.pk])

    response = desk.get(MANIFESTS)
    page = desk.get(f"{MANIFESTS}{manifest.pk}/change/")

    assert listed(response) == [manifest.pk]
    assert [m.shipments_count for m in response.context["cl"].result_list] == [1]
    assert [s.pk for s in page.context["inline_admin_formsets"][0].formset.queryset] == [scheduled.pk]


# -- the NDR queue -------------------------------------------------------------------------------------------------


def test_the_ndr_queue_lists_and_filters_by_status_and_age(desk, merchant, other_merchant, bluedart,
                                                          django_assert_max_num_queries):  # fmt: skip
    fresh = make_shipment(merchant, S.NDR)
    old = make_shipment(merchant, S.NDR)
    make_shipment(other_merchant, S.NDR)
    fresh_ndr, old_ndr = NDR.objects.get(shipment=fresh), NDR.objects.get(shipment=old)
    NDR.objects.filter(pk=fresh_ndr.pk).update(first_attempt_at=timezone.now() - timedelta(hours=30))
    NDR.objects.filter(pk=old_ndr.pk).update(first_attempt_at=timezone.now() - timedelta(days=9))

    with django_assert_max_num_queries(15):
        response = desk.get(NDRS)

    assert listed(response) == [old_ndr.pk, fresh_ndr.pk]
    assert [n.pk for n in response.context["cl"].result_list if n.shipment.awb] == [old_ndr.pk, fresh_ndr.pk]
    assert listed(desk.get(NDRS, {"age": "0-1"})) == [fresh_ndr.pk]
    assert listed(desk.get(NDRS, {"age": "2-3"})) == []
    assert listed(desk.get(NDRS, {"age": "older"})) == [old_ndr.pk]
    assert listed(desk.get(NDRS, {"status__exact": "open"})) == [old_ndr.pk, fresh_ndr.pk]
    assert listed(desk.get(NDRS, {"q": old.awb})) == [old_ndr.pk]
    assert '<td class="field-age">9</td>' in desk.get(NDRS).content.decode()


def test_reattempt_asks_for_a_date_then_records_the_decision(desk, merchant, bluedart):
    ndr = NDR.objects.get(shipment=make_shipment(merchant, S.NDR))
    day = today(merchant) + timedelta(days=2)

    page = act(desk, NDRS, "reattempt_selected", [ndr])
    assert page.templates[0].name == "admin/shipping/ndr/reattempt_selected.html"
    assert [n.pk for n in page.context["ndrs"]] == [ndr.pk]

    response = act(desk, NDRS, "reattempt_selected", [ndr], apply="1",
                   **{"reattempt-reattempt_date": day.isoformat(), "reattempt-comment": "Call first"})  # fmt: skip
    again = act(desk, NDRS, "reattempt_selected", [ndr], apply="1")

    ndr.refresh_from_db()
    assert (ndr.status, ndr.action, ndr.reattempt_date, ndr.action_comment) == ("reattempt", "reattempt", day,
                                                                                "Call first")  # fmt: skip
    assert messages_of(response) == ["Requested a reattempt for 1 NDR."]
    assert messages_of(again)[-1:] == [f"Requested a reattempt for 0 NDRs; refused 1: {ndr} (a reattempt on {day} is "
                                  "already requested)."]  # fmt: skip


def test_return_to_origin_moves_the_shipment_and_refuses_resolved_ndrs(desk, merchant, bluedart):
    shipment = make_shipment(merchant, S.NDR)
    ndr = NDR.objects.get(shipment=shipment)

    page = act(desk, NDRS, "rto_selected", [ndr])
    assert page.templates[0].name == "admin/shipping/ndr/rto_selected.html"
    response = act(desk, NDRS, "rto_selected", [ndr], apply="1", **{"rto-comment": "Refused twice"})
    again = act(desk, NDRS + "?queue=all", "rto_selected", [ndr], apply="1")  # resolved: listed under "All"

    ndr.refresh_from_db()
    assert (ndr.status, ndr.action, ndr.action_comment) == (NDRStatus.RTO, "rto", "Refused twice")
    assert statuses(shipment) == [S.RTO_INITIATED]
    assert messages_of(response) == ["Returned to origin 1 NDR."]
    assert messages_of(again)[-1:] == [f"Returned to origin 0 NDRs; refused 1: {ndr} (is resolved (rto))."]
    assert desk.get(f"{NDRS}{ndr.pk}/change/").context["has_change_permission"] is False


# -- tracking events, notification settings, notifications, couriers ----------------------------------------------


def test_tracking_events_list_with_the_orphans_filter(desk, merchant, other_merchant, bluedart):
    shipment = make_shipment(merchant, S.PICKED_UP)
    applied = courier_event(shipment, "in_transit")
    make_shipment(other_merchant, S.PICKED_UP)
    tracking_ingest(courier=bluedart, source="webhook", updates=[
        TrackingUpdate(awb="NOPE0001", code="delivered", occurred_at=timezone.now())])  # fmt: skip

    response = desk.get(EVENTS)
    orphans = desk.get(EVENTS, {"orphan": "yes"})

    mine = TrackingEvent.objects.filter(merchant=merchant)
    assert applied.applied == 1
    assert sorted(listed(response)) == sorted(mine.values_list("pk", flat=True))
    assert [e.awb for e in orphans.context["cl"].result_list] == ["NOPE0001"]
    assert "orphan" in orphans.content.decode()
    assert desk.get(f"{EVENTS}add/").status_code == 403


def test_notification_settings_are_set_through_the_service(desk, merchant):
    fields = {"email_enabled": "on", "on_shipped": "on", "on_delivered": "on"}

    response = desk.post(f"{SETTINGS}add/", {"merchant": merchant.pk, **fields})

    assert response.status_code == 302
    setting = NotificationSetting.objects.get(merchant=merchant)
    assert (setting.email_enabled, setting.sms_enabled, setting.on_shipped, setting.on_ndr) == (True, False, True,
                                                                                               False)  # fmt: skip
    change = desk.post(f"{SETTINGS}{setting.pk}/change/", {"sms_enabled": "on", "on_ndr": "on"})
    assert change.status_code == 302
    setting.refresh_from_db()
    assert (setting.email_enabled, setting.sms_enabled, setting.on_ndr) == (False, True, True)
    assert listed(desk.get(SETTINGS)) == [setting.pk]


def test_notifications_are_a_read_only_log_of_the_merchant(desk, merchant, other_merchant, bluedart):
    mine = make_shipment(merchant, S.PICKED_UP)
    theirs = make_shipment(other_merchant, S.PICKED_UP)
    sent = Notification.objects.filter(shipment=mine).order_by("-id")

    response = desk.get(NOTIFICATIONS)

    assert listed(response) == list(sent.values_list("pk", flat=True))
    assert [(n.event, n.channel) for n in response.context["cl"].result_list] == [("shipped", "sms")]
    assert Notification.objects.filter(shipment=theirs).count() == 1
    assert desk.get(f"{NOTIFICATIONS}{sent[0].pk}/change/").context["has_change_permission"] is False


def test_the_courier_form_sets_the_integration_and_shows_performance_read_only(desk, merchant, bluedart):
    courier_performance_refresh(courier=bluedart)
    page = desk.get(f"/admin/shipping/courier/{bluedart.pk}/change/")
    assert page.status_code == 200
    assert {"on_time_rate", "rto_rate", "avg_transit_days", "performance_shipments"} <= set(
        page.context["adminform"].readonly_fields)  # fmt: skip
    data = {
        "code": "bluedart", "name": "Blue Dart", "mode": "surface", "supports_cod": "on",
        "max_weight_grams": "30000", "volumetric_divisor": "5000", "pickup_cutoff": "23:59:59", "is_active": "on",
        "adapter": "simulated", "webhook_secret": "s3cret", "status_codes": '{"DL": "delivered"}',
        "tracking_url_template": "https://bd.example/track/{awb}", "poll_limit_per_minute": "30",
        "rate_cards-TOTAL_FORMS": "0", "rate_cards-INITIAL_FORMS": "0", "rate_cards-MIN_NUM_FORMS": "0",
        "rate_cards-MAX_NUM_FORMS": "1000",
    }  # fmt: skip

    bad = desk.post(f"/admin/shipping/courier/{bluedart.pk}/change/", {**data, "status_codes": '{"DL": "gone"}'})
    response = desk.post(f"/admin/shipping/courier/{bluedart.pk}/change/", data)

    assert bad.context["adminform"].form.errors["status_codes"][0].startswith("Unknown statuses: gone; one of new,")
    assert response.status_code == 302
    courier = Courier.objects.get(pk=bluedart.pk)
    assert (courier.adapter, courier.webhook_secret, courier.status_codes, courier.tracking_url_template,
            courier.poll_limit_per_minute) == ("simulated", "s3cret", {"DL": "delivered"},
                                               "https://bd.example/track/{awb}", 30)  # fmt: skip
