"""The order desk: scoping, actions through the services, date-range filters, search, export, the change form."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.utils import timezone

from catalog.models import StockLevel
from orders.models import Channel, Order, OrderEvent, OrderStatus, Return, ReturnStatus
from orders.selectors import EXPORT_COLUMNS
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import ADDRESS, ChannelFactory, default_location, make_order, make_return
from tests.shopops.factories import MembershipFactory

ORDERS = "/admin/orders/order/"
EXPORT = "/admin/orders/order/export/"
RETURNS = "/admin/orders/return/"
CHANNELS = "/admin/orders/channel/"
CUSTOMERS = "/admin/orders/customer/"


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


def listed(response) -> list[int]:
    return [obj.pk for obj in response.context["cl"].result_list]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def act(client, url: str, action: str, objects, **extra):
    """Post an action from the changelist, as the browser does."""
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], "index": 0, **extra}
    return client.post(url, data)


def statuses(*objects) -> list[str]:
    return [type(obj).objects.get(pk=obj.pk).status for obj in objects]


def stocked_product(merchant, sku: str, on_hand: int = 1000):
    product = ProductFactory(merchant=merchant, sku=sku)
    stock(product, default_location(merchant), on_hand)
    return product


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def pack_at(order: Order, moment: datetime) -> Order:
    # order_pack stamps timezone.now(); a test of day boundaries needs chosen instants.
    Order.objects.filter(pk=order.pk).update(packed_at=moment)
    return order


def change_form_data(response, **fields) -> dict:
    """The order change form as a browser posts it: the editable fields and the read-only inlines' management."""
    order = response.context["original"]
    data = {
        "notes": order.notes, "weight_grams": order.weight_grams, "length_cm": order.length_cm,
        "breadth_cm": order.breadth_cm, "height_cm": order.height_cm, "eway_bill_number": order.eway_bill_number,
    }  # fmt: skip
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({f"{management.prefix}-{name}": value for name, value in management.initial.items()})
    data.update(fields)
    return data


# -- scoping -------------------------------------------------------------------------------------


def test_the_changelist_shows_only_the_users_merchants_orders(desk, merchant, other_merchant):
    ours = make_order(merchant)
    theirs = make_order(other_merchant)

    response = desk.get(ORDERS)

    assert response.status_code == 200
    assert listed(response) == [ours.pk]
    assert desk.get(f"{ORDERS}{theirs.pk}/change/").status_code == 302  # the admin's "does not exist" redirect


def test_the_channel_filter_offers_only_the_users_merchants_channels(desk, merchant, other_merchant):
    ChannelFactory(merchant=merchant, name="Our shop")
    ChannelFactory(merchant=merchant, name="Our marketplace")
    ChannelFactory(merchant=other_merchant, name="Their shop")

    response = desk.get(ORDERS)

    spec = next(s for s in response.context["cl"].filter_specs if getattr(s, "field_path", None) == "channel")
    assert [label for _, label in spec.lookup_choices] == ["Our marketplace", "Our shop"]


def test_orders_cannot_be_added_or_deleted_in_the_admin(desk, merchant):
    order = make_order(merchant)

    assert desk.get(f"{ORDERS}add/").status_code == 403
    assert desk.post(f"{ORDERS}{order.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_an_action_on_another_merchants_orders_changes_nothing(desk, merchant, other_merchant):
    theirs = make_order(other_merchant)

    response = act(desk, ORDERS, "confirm_selected", [theirs])

    assert messages_of(response) == ["Confirmed 0 orders."]
    assert statuses(theirs) == ["new"]


def test_a_viewer_cannot_run_the_status_actions(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)
    order = make_order(merchant)

    response = act(client, ORDERS, "confirm_selected", [order])

    assert messages_of(response) == ["No action selected."]  # the action is not offered to a viewer
    assert statuses(order) == ["new"]


# -- actions -------------------------------------------------------------------------------------


def test_confirm_moves_the_orders_that_may_move_and_names_the_refused(desk, merchant):
    ready = make_order(merchant)
    short = make_order(merchant, products=[(ProductFactory(merchant=merchant, sku="TEE-RED-M"), 1)])  # no stock
    packed = make_order(merchant, OrderStatus.PACKED)

    response = act(desk, ORDERS, "confirm_selected", [ready, short, packed])

    assert response.status_code == 302
    assert statuses(ready, short, packed) == ["confirmed", "new", "packed"]
    assert messages_of(response) == [
        f"Confirmed 1 order; refused 2: {short.number} (insufficient stock for TEE-RED-M), {packed.number} (is packed)."
    ]
    assert list(OrderEvent.objects.filter(order=ready, to_status="confirmed").values_list("actor", flat=True)) == [
        f"user:{response.wsgi_request.user.pk}"
    ]


def test_pack_moves_confirmed_orders_only(desk, merchant):
    confirmed = make_order(merchant, OrderStatus.CONFIRMED)
    new = make_order(merchant)
    cancelled = make_order(merchant, OrderStatus.CANCELLED)

    response = act(desk, ORDERS, "pack_selected", [confirmed, new, cancelled])

    assert statuses(confirmed, new, cancelled) == ["packed", "new", "cancelled"]
    assert Order.objects.get(pk=confirmed.pk).packed_at is not None
    assert messages_of(response) == [
        f"Packed 1 order; refused 2: {new.number} (is new), {cancelled.number} (is cancelled)."
    ]


def test_an_action_that_moves_every_order_reports_success(desk, merchant):
    orders = [make_order(merchant), make_order(merchant)]

    response = act(desk, ORDERS, "confirm_selected", orders)

    assert statuses(*orders) == ["confirmed", "confirmed"]
    assert messages_of(response) == ["Confirmed 2 orders."]


def test_cancel_asks_for_a_reason_first(desk, merchant):
    order = make_order(merchant)

    response = act(desk, ORDERS, "cancel_selected", [order])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/orders/order/cancel_selected.html"
    assert [o.pk for o in response.context["orders"]] == [order.pk]
    assert statuses(order) == ["new"]


def test_cancel_with_a_reason_cancels_the_cancellable_and_releases_their_stock(desk, merchant):
    product = stocked_product(merchant, "MUG-1", on_hand=10)
    new = make_order(merchant, products=[(product, 1)])
    confirmed = make_order(merchant, OrderStatus.CONFIRMED, products=[(product, 2)])
    shipped = make_order(merchant, OrderStatus.SHIPPED)

    reason = {"cancel-reason": "Customer changed their mind"}
    response = act(desk, ORDERS, "cancel_selected", [new, confirmed, shipped], apply="1", **reason)

    assert response.status_code == 302
    assert statuses(new, confirmed, shipped) == ["cancelled", "cancelled", "shipped"]
    assert messages_of(response) == [f"Cancelled 2 orders; refused 1: {shipped.number} (is shipped)."]
    reasons = dict(Order.objects.filter(pk__in=[new.pk, confirmed.pk, shipped.pk]).values_list("pk", "cancel_reason"))
    assert reasons == {
        new.pk: "Customer changed their mind",
        confirmed.pk: "Customer changed their mind",
        shipped.pk: "",
    }
    events = OrderEvent.objects.filter(to_status="cancelled").order_by("order_id")
    assert [(e.order_id, e.from_status, e.message) for e in events] == [
        (new.pk, "new", "Customer changed their mind"),
        (confirmed.pk, "confirmed", "Customer changed their mind"),
    ]
    assert StockLevel.objects.get(product=product).reserved == 0


def test_cancel_without_a_reason_shows_the_page_again_and_changes_nothing(desk, merchant):
    new = make_order(merchant)
    confirmed = make_order(merchant, OrderStatus.CONFIRMED)
    events_before = OrderEvent.objects.count()

    response = act(desk, ORDERS, "cancel_selected", [new, confirmed], apply="1", **{"cancel-reason": "  "})

    assert response.status_code == 200
    assert response.templates[0].name == "admin/orders/order/cancel_selected.html"
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert statuses(new, confirmed) == ["new", "confirmed"]
    assert OrderEvent.objects.count() == events_before


def test_export_action_streams_the_selected_orders_lines(desk, merchant):
    chosen = make_order(
        merchant, products=[(stocked_product(merchant, "A-1"), 1), (stocked_product(merchant, "B-1"), 2)]
    )
    make_order(merchant)

    response = act(desk, ORDERS, "export_selected", [chosen])

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv_rows(response)
    sku = EXPORT_COLUMNS.index("sku")
    assert rows[0] == EXPORT_COLUMNS
    assert [(row[0], row[sku]) for row in rows[1:]] == [(chosen.number, "A-1"), (chosen.number, "B-1")]


# -- returns -----------------------------------------------------------------------------------------


def test_approve_follows_the_return_state_machine(desk, merchant):
    requested = make_return(merchant, ReturnStatus.REQUESTED)
    rejected = make_return(merchant, ReturnStatus.REJECTED)

    response = act(desk, RETURNS, "approve_selected", [requested, rejected])

    assert statuses(requested, rejected) == ["approved", "rejected"]
    assert messages_of(response) == [f"Approved 1 return; refused 1: {rejected.number} (is rejected)."]


def test_reject_refuses_approved_returns(desk, merchant):
    requested = make_return(merchant, ReturnStatus.REQUESTED)
    approved = make_return(merchant, ReturnStatus.APPROVED)

    response = act(desk, RETURNS, "reject_selected", [requested, approved])

    assert statuses(requested, approved) == ["rejected", "approved"]
    assert messages_of(response) == [f"Rejected 1 return; refused 1: {approved.number} (is approved)."]


def test_close_refuses_returns_not_yet_received_or_rejected(desk, merchant):
    approved = make_return(merchant, ReturnStatus.APPROVED)
    rejected = make_return(merchant, ReturnStatus.REJECTED)

    response = act(desk, RETURNS, "close_selected", [approved, rejected])

    assert statuses(approved, rejected) == ["approved", "closed"]
    assert messages_of(response) == [f"Closed 1 return; refused 1: {approved.number} (is approved)."]


def test_receiving_a_return_restocks_its_lines(desk, merchant):
    ret = make_return(merchant, ReturnStatus.APPROVED)
    line = ret.lines.select_related("order_line").get().order_line
    level = StockLevel.objects.get(product_id=line.product_id, location=ret.location)
    on_hand_before = level.on_hand

    response = act(desk, RETURNS, "receive_selected", [ret])

    assert messages_of(response) == ["Received 1 return."]
    assert statuses(ret) == ["received"]
    level.refresh_from_db()
    assert level.on_hand == on_hand_before + 1
    assert Order.objects.get(pk=ret.order_id).status == "partially_returned"


def test_the_return_change_page_is_read_only(desk, merchant):
    ret = make_return(merchant)

    page = desk.get(f"{RETURNS}{ret.pk}/change/")
    post = desk.post(f"{RETURNS}{ret.pk}/change/", {"status": "closed", "reason": "changed"})

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert post.status_code == 403
    assert Return.objects.filter(pk=ret.pk).values_list("status", "reason").get() == ("requested", "damaged")


# -- date-range filters --------------------------------------------------------------------------


@pytest.fixture
def kolkata(merchant, settings):
    settings.TIME_ZONE = "UTC"  # the project's zone differs, so the merchant's zone is what decides
    merchant.time_zone = "Asia/Kolkata"
    merchant.save(update_fields=["time_zone"])
    return merchant


def test_pack_date_range_is_read_in_the_merchants_time_zone(desk, kolkata):
    evening_utc = pack_at(
        make_order(kolkata, OrderStatus.PACKED), datetime(2026, 3, 10, 18, 45, tzinfo=UTC)
    )  # 11th 00:15
    day_utc = pack_at(make_order(kolkata, OrderStatus.PACKED), datetime(2026, 3, 10, 10, 0, tzinfo=UTC))  # 10th 15:30
    last_minute = pack_at(make_order(kolkata, OrderStatus.PACKED), datetime(2026, 3, 11, 18, 29, tzinfo=UTC))  # 23:59
    pack_at(make_order(kolkata, OrderStatus.PACKED), datetime(2026, 3, 11, 18, 30, tzinfo=UTC))  # 12th 00:00
    make_order(kolkata, OrderStatus.CONFIRMED)  # not packed

    on_11th = desk.get(ORDERS, {"pack_date_after": "2026-03-11", "pack_date_before": "2026-03-11"})
    on_10th = desk.get(ORDERS, {"pack_date_after": "2026-03-10", "pack_date_before": "2026-03-10"})

    assert sorted(listed(on_11th)) == [evening_utc.pk, last_minute.pk]
    assert listed(on_10th) == [day_utc.pk]


def test_an_open_ended_range_has_one_bound(desk, kolkata):
    early = pack_at(make_order(kolkata, OrderStatus.PACKED), datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    late = pack_at(make_order(kolkata, OrderStatus.PACKED), datetime(2026, 3, 10, 18, 45, tzinfo=UTC))

    since_11th = desk.get(ORDERS, {"pack_date_after": "2026-03-11", "pack_date_before": ""})
    until_10th = desk.get(ORDERS, {"pack_date_before": "2026-03-10"})

    assert listed(since_11th) == [late.pk]
    assert listed(until_10th) == [early.pk]


def test_each_order_is_read_in_its_own_merchants_time_zone(client, kolkata, other_merchant):
    user = MembershipFactory(merchant=kolkata, role="owner").user
    MembershipFactory(merchant=other_merchant, user=user, role="owner")
    other_merchant.time_zone = "America/New_York"
    other_merchant.save(update_fields=["time_zone"])
    client.force_login(user)
    kolkata_11th = pack_at(make_order(kolkata, OrderStatus.PACKED), datetime(2026, 3, 10, 18, 45, tzinfo=UTC))
    new_york_10th = pack_at(make_order(other_merchant, OrderStatus.PACKED), datetime(2026, 3, 11, 3, 0, tzinfo=UTC))

    on_10th = client.get(ORDERS, {"pack_date_after": "2026-03-10", "pack_date_before": "2026-03-10"})
    on_11th = client.get(ORDERS, {"pack_date_after": "2026-03-11", "pack_date_before": "2026-03-11"})

    assert listed(on_10th) == [new_york_10th.pk]
    assert listed(on_11th) == [kolkata_11th.pk]


def test_quick_choices_count_days_in_the_merchants_time_zone(desk, kolkata):
    now = timezone.now()
    today = pack_at(make_order(kolkata, OrderStatus.PACKED), now)
    three_days_ago = pack_at(make_order(kolkata, OrderStatus.PACKED), now - timedelta(days=3))
    pack_at(make_order(kolkata, OrderStatus.PACKED), now - timedelta(days=8))

    assert listed(desk.get(ORDERS, {"pack_date": "today"})) == [today.pk]
    assert sorted(listed(desk.get(ORDERS, {"pack_date": "last_7_days"}))) == [today.pk, three_days_ago.pk]


def test_order_and_ship_date_filters(desk, kolkata):
    shipped = make_order(kolkata, OrderStatus.SHIPPED)
    Order.objects.filter(pk=shipped.pk).update(
        ordered_at=datetime(2026, 3, 1, 20, 0, tzinfo=UTC),  # the 2nd in Kolkata
        packed_at=datetime(2026, 3, 3, 12, 0, tzinfo=UTC),
        shipped_at=datetime(2026, 3, 4, 20, 0, tzinfo=UTC),  # the 5th in Kolkata
    )
    make_order(kolkata, OrderStatus.PACKED)

    assert listed(desk.get(ORDERS, {"order_date_after": "2026-03-02", "order_date_before": "2026-03-02"})) == [
        shipped.pk
    ]
    assert listed(desk.get(ORDERS, {"order_date_after": "2026-03-01", "order_date_before": "2026-03-01"})) == []
    assert listed(desk.get(ORDERS, {"ship_date_after": "2026-03-05", "ship_date_before": "2026-03-05"})) == [shipped.pk]


def test_a_malformed_date_is_reported_not_a_crash(desk, merchant):
    response = desk.get(ORDERS, {"pack_date_after": "2026-02-30"})

    assert response.status_code == 302
    assert response["Location"] == f"{ORDERS}?e=1"


# -- search --------------------------------------------------------------------------------------


def test_search_by_sku_lists_an_order_once_however_many_lines_match(desk, merchant):
    tee = stocked_product(merchant, "TEE-RED-M")
    twice = make_order(merchant, products=[(tee, 1), (tee, 2)])
    make_order(merchant, products=[(stocked_product(merchant, "MUG-1"), 1)])

    response = desk.get(ORDERS, {"q": "tee-red-m"})

    assert listed(response) == [twice.pk]
    assert response.context["cl"].result_count == 1


def test_search_by_phone_number_and_awb(desk, merchant):
    called = make_order(merchant, shipping_address={**ADDRESS, "phone": "+919900011122"})
    shipped = make_order(merchant, OrderStatus.SHIPPED)
    make_order(merchant)

    assert listed(desk.get(ORDERS, {"q": "9900011122"})) == [called.pk]
    assert listed(desk.get(ORDERS, {"q": called.number})) == [called.pk]
    assert listed(desk.get(ORDERS, {"q": shipped.awb})) == [shipped.pk]


# -- query count ---------------------------------------------------------------------------------


def test_changelist_query_count_does_not_grow_with_rows(desk, merchant, django_assert_max_num_queries):
    product = stocked_product(merchant, "BULK-1", on_hand=10_000)
    for _ in range(5):
        make_order(merchant, products=[(product, 1)])
    with django_assert_max_num_queries(25) as small:
        desk.get(ORDERS)

    for _ in range(120):  # two pages of 100
        make_order(merchant, products=[(product, 1)])
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = desk.get(ORDERS)

    assert response.context["cl"].result_count == 125
    assert len(response.context["cl"].result_list) == 100


# -- export of the filtered changelist ----------------------------------------------------------


def test_export_of_the_filtered_changelist_has_one_row_per_line(desk, merchant, other_merchant):
    a, b = stocked_product(merchant, "A-1"), stocked_product(merchant, "B-1")
    two_lines = make_order(merchant, OrderStatus.CONFIRMED, products=[(a, 1), (b, 3)])
    one_line = make_order(merchant, OrderStatus.CONFIRMED, products=[(stocked_product(merchant, "C-1"), 2)])
    make_order(merchant, OrderStatus.NEW)
    make_order(other_merchant, OrderStatus.CONFIRMED)

    changelist = desk.get(ORDERS, {"status__exact": "confirmed"})
    response = desk.get(EXPORT, {"status__exact": "confirmed"})

    assert f'href="{EXPORT}?status__exact=confirmed"' in changelist.content.decode()
    assert response.status_code == 200
    rows = csv_rows(response)
    sku, quantity = EXPORT_COLUMNS.index("sku"), EXPORT_COLUMNS.index("quantity")
    assert rows[0] == EXPORT_COLUMNS
    assert sorted((row[0], row[sku], row[quantity]) for row in rows[1:]) == [
        (two_lines.number, "A-1", "1"),
        (two_lines.number, "B-1", "3"),
        (one_line.number, "C-1", "2"),
    ]


def test_export_follows_search_and_date_filters(desk, kolkata):
    packed = pack_at(make_order(kolkata, OrderStatus.PACKED), datetime(2026, 3, 10, 18, 45, tzinfo=UTC))
    pack_at(make_order(kolkata, OrderStatus.PACKED), datetime(2026, 3, 10, 10, 0, tzinfo=UTC))

    response = desk.get(EXPORT, {"pack_date_after": "2026-03-11", "q": packed.number.lower()})

    assert [row[0] for row in csv_rows(response)[1:]] == [packed.number]


# -- the change form -------------------------------------------------------------------------------


def test_status_cannot_be_changed_through_the_change_form(desk, merchant):
    order = make_order(merchant)
    page = desk.get(f"{ORDERS}{order.pk}/change/")
    events_before = OrderEvent.objects.filter(order=order).count()

    response = desk.post(f"{ORDERS}{order.pk}/change/", change_form_data(page, status="delivered"))

    assert response.status_code == 302
    assert statuses(order) == ["new"]
    assert OrderEvent.objects.filter(order=order).count() == events_before


def test_the_change_form_edits_notes_and_parcel_through_order_update(desk, merchant):
    order = make_order(merchant, OrderStatus.CONFIRMED)
    page = desk.get(f"{ORDERS}{order.pk}/change/")

    data = change_form_data(page, notes="Leave at the door", weight_grams=900)
    response = desk.post(f"{ORDERS}{order.pk}/change/", data)

    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.notes, order.weight_grams, order.status) == ("Leave at the door", 900, "confirmed")
    event = OrderEvent.objects.filter(order=order).last()
    assert (event.kind, event.data) == ("updated", {"fields": ["notes", "weight_grams"]})


def test_the_change_form_records_the_e_way_bill_number_and_refuses_a_wrong_one(desk, merchant):
    order = make_order(merchant, OrderStatus.PACKED)
    page = desk.get(f"{ORDERS}{order.pk}/change/")
    assert "eway_bill_number" in page.context["adminform"].form.fields

    wrong = desk.post(f"{ORDERS}{order.pk}/change/", change_form_data(page, eway_bill_number="33100123456X"))
    right = desk.post(f"{ORDERS}{order.pk}/change/", change_form_data(page, eway_bill_number="331001234567"))

    assert wrong.status_code == 200
    assert wrong.context["adminform"].form.errors == {
        "eway_bill_number": ["An e-way bill number is 12 digits, e.g. 331001234567."]}  # fmt: skip
    assert right.status_code == 302
    order.refresh_from_db()
    assert order.eway_bill_number == "331001234567"
    event = OrderEvent.objects.filter(order=order).last()
    assert (event.kind, event.message, event.data) == ("updated", "Changed eway_bill_number",
                                                       {"fields": ["eway_bill_number"]})  # fmt: skip


def test_a_shipped_order_is_read_only(desk, merchant):
    order = make_order(merchant, OrderStatus.SHIPPED)
    page = desk.get(f"{ORDERS}{order.pk}/change/")

    desk.post(f"{ORDERS}{order.pk}/change/", change_form_data(page, notes="too late"))

    assert list(page.context["adminform"].form.fields) == []
    order.refresh_from_db()
    assert order.notes == ""


def test_the_change_page_shows_lines_addresses_and_the_timeline(desk, merchant):
    order = make_order(merchant, OrderStatus.PACKED, products=[(stocked_product(merchant, "TEE-RED-M"), 2)])

    response = desk.get(f"{ORDERS}{order.pk}/change/")

    content = response.content.decode()
    assert "42 Residency Road<br>Bengaluru Karnataka 560025" in content
    lines, events, *_shipping = response.context["inline_admin_formsets"]  # shipping adds its documents
    assert [form.instance.sku for form in lines.formset.forms] == ["TEE-RED-M"]
    assert [(form.instance.kind, form.instance.to_status) for form in events.formset.forms] == [
        ("created", "new"),
        ("status_changed", "confirmed"),
        ("status_changed", "packed"),
    ]


# -- channels and customers ---------------------------------------------------------------------------


def test_a_channel_is_created_and_renamed_through_the_services(desk, merchant):
    data = {"merchant": merchant.pk, "name": "Web store", "kind": "shopify", "is_active": "on"}
    response = desk.post(f"{CHANNELS}add/", data)

    assert response.status_code == 302
    channel = Channel.objects.get(merchant=merchant, name="Web store")
    assert channel.channel_id.startswith("ch_")
    assert len(channel.channel_id) == 19

    desk.post(f"{CHANNELS}{channel.pk}/change/", {"name": "Storefront", "kind": "woocommerce", "is_active": "on"})

    channel.refresh_from_db()
    assert (channel.name, channel.kind, channel.merchant_id) == ("Storefront", "woocommerce", merchant.pk)


def test_a_duplicate_channel_name_is_a_form_error(desk, merchant):
    ChannelFactory(merchant=merchant, name="Web store")
    other = ChannelFactory(merchant=merchant, name="Marketplace")

    response = desk.post(f"{CHANNELS}{other.pk}/change/", {"name": "Web store", "kind": "shopify", "is_active": "on"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"name": ["A channel named 'Web store' already exists."]}
    other.refresh_from_db()
    assert other.name == "Marketplace"


def test_customers_are_listed_for_the_merchant_and_read_only(desk, merchant, other_merchant):
    order = make_order(merchant)
    make_order(other_merchant)

    response = desk.get(CUSTOMERS, {"q": "9812345678"})

    assert listed(response) == [order.customer_id]
    assert response.context["cl"].result_list[0].orders_count == 1
    assert desk.post(f"{CUSTOMERS}{order.customer_id}/change/", {"name": "Someone"}).status_code == 403
