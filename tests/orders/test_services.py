"""The order services: the state machine pair by pair, and what each transition does to stock."""

import pytest
from django.utils import timezone

from catalog.errors import InsufficientStock
from catalog.models import MovementKind, StockLevel, StockMovement
from orders.models import ORDER_TRANSITIONS, OrderEvent, OrderStatus, Return, ReturnStatus
from orders.services.create import order_create
from orders.services.orders import (
    order_add_inventory,
    order_cancel,
    order_confirm,
    order_map_lines,
    order_mark_delivered,
    order_mark_rto,
    order_mark_rto_delivered,
    order_mark_shipped,
    order_pack,
)
from orders.services.returns import return_create, return_transition
from shopops.errors import DomainError, ErrorKind, state_refusal
from tests.catalog.factories import LocationFactory, ProductFactory, stock
from tests.orders.factories import default_location, make_order

ACTOR = "user:42"
TIMESTAMPS = ("confirmed_at", "packed_at", "shipped_at", "delivered_at", "cancelled_at")

#: The service that moves an order to each status (returns move it through return receipt, see below).
SERVICES = {
    OrderStatus.CONFIRMED: lambda order: order_confirm(order=order, actor=ACTOR),
    OrderStatus.PACKED: lambda order: order_pack(order=order, actor=ACTOR),
    OrderStatus.SHIPPED: lambda order: order_mark_shipped(order=order, actor=ACTOR),
    OrderStatus.DELIVERED: lambda order: order_mark_delivered(order=order, actor=ACTOR),
    OrderStatus.CANCELLED: lambda order: order_cancel(order=order, reason="customer asked", actor=ACTOR),
    OrderStatus.RTO: lambda order: order_mark_rto(order=order, actor=ACTOR),
    OrderStatus.RTO_DELIVERED: lambda order: order_mark_rto_delivered(order=order, actor=ACTOR),
}
STAMPED = {
    OrderStatus.CONFIRMED: "confirmed_at",
    OrderStatus.PACKED: "packed_at",
    OrderStatus.SHIPPED: "shipped_at",
    OrderStatus.DELIVERED: "delivered_at",
    OrderStatus.CANCELLED: "cancelled_at",
}
PAIRS = [(str(src), str(dst)) for src in OrderStatus for dst in SERVICES]
ALLOWED = [(src, dst) for src, dst in PAIRS if dst in ORDER_TRANSITIONS[src]]
REFUSED = [(src, dst) for src, dst in PAIRS if dst not in ORDER_TRANSITIONS[src]]
RETURN_TARGETS = (OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED)
RETURNABLE = (OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED)


def stock_state(merchant) -> tuple[list[tuple], int]:
    levels = StockLevel.objects.filter(merchant=merchant).order_by("pk")
    return list(levels.values_list("product_id", "location_id", "on_hand", "reserved")), StockMovement.objects.count()


def state_of(order) -> dict:
    """Everything a refused transition must leave alone."""
    order.refresh_from_db()
    return {
        "status": order.status,
        "timestamps": [getattr(order, name) for name in TIMESTAMPS],
        "events": list(order.events.values_list("pk", flat=True)),
        "stock": stock_state(order.merchant),
        "returns": Return.objects.filter(order=order).count(),
    }


def new_status_events(order, seen: list[int]) -> list[dict]:
    events = order.events.exclude(pk__in=seen).filter(kind="status_changed").order_by("pk")
    return list(events.values("kind", "from_status", "to_status", "actor"))


def level(product, location) -> tuple[int, int]:
    row = StockLevel.objects.get(product=product, location=location)
    return row.on_hand, row.reserved


def last_movement_id() -> int:
    return StockMovement.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def movements(**filters) -> list[tuple]:
    rows = StockMovement.objects.filter(**filters).order_by("pk")
    return list(rows.values_list("product_id", "location_id", "kind", "quantity", "on_hand_after", "reserved_after",
                                 "reference", "actor"))  # fmt: skip


# --- the state machine, every (from, to) pair -----------------------------------------------------


def test_the_transitions_are_those_of_the_design_and_the_matrix_covers_every_pair():
    allowed = {(str(src), str(dst)) for src, targets in ORDER_TRANSITIONS.items() for dst in targets}

    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    assert allowed == {
        ("new", "confirmed"), ("new", "cancelled"), ("confirmed", "packed"), ("confirmed", "cancelled"),
        ("packed", "shipped"), ("packed", "cancelled"), ("shipped", "delivered"), ("shipped", "rto"),
        ("rto", "rto_delivered"), ("delivered", "partially_returned"), ("delivered", "returned"),
        ("partially_returned", "partially_returned"), ("partially_returned", "returned"),
    }  # fmt: skip
    # Pairs into "new" have no service (nothing moves back to new); pairs into the return statuses go
    # through return receipt. Together with the service pairs they are all 100.
    assert len(PAIRS) + len(OrderStatus) * len(RETURN_TARGETS) + len(OrderStatus) == len(OrderStatus) ** 2
    assert len(ALLOWED) == 9


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_an_allowed_transition_sets_its_timestamp_and_writes_one_event(merchant, from_status, to_status):
    # Given an order in from_status
    order = make_order(merchant, from_status)
    before = state_of(order)
    started = timezone.now()

    # When
    SERVICES[to_status](order)

    # Then
    order.refresh_from_db()
    assert order.status == to_status
    assert new_status_events(order, before["events"]) == [
        {"kind": "status_changed", "from_status": from_status, "to_status": to_status, "actor": ACTOR}
    ]
    assert order.events.exclude(pk__in=before["events"]).count() == 1
    for name, previous in zip(TIMESTAMPS, before["timestamps"], strict=True):
        if name == STAMPED.get(to_status):
            assert previous is None
            assert started <= getattr(order, name) <= timezone.now()
        else:
            assert getattr(order, name) == previous, name


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_a_refused_transition_is_409_transition_not_allowed_and_changes_nothing(merchant, from_status, to_status):
    # Given an order in from_status
    order = make_order(merchant, from_status)
    before = state_of(order)
    allowed = [str(s) for s in ORDER_TRANSITIONS[from_status]]

    # When
    with pytest.raises(DomainError) as refused:
        SERVICES[to_status](order)

    # Then
    assert refused.value.kind == ErrorKind.CONFLICT
    assert refused.value.code == "transition_not_allowed"
    assert refused.value.details == {"status": from_status, "allowed": allowed, "requested": to_status}
    assert refused.value.message == state_refusal(noun=f"Order {order.number}", status=from_status,
                                                  to_status=to_status, allowed=allowed,
                                                  labels=dict(OrderStatus.choices)).message  # fmt: skip
    assert state_of(order) == before


#: Units returned to move an order of 3 units from a status to a return status
#: (a partially returned order from make_order has 1 of its 3 units back).
RETURNED_UNITS = {
    (OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED): 1,
    (OrderStatus.DELIVERED, OrderStatus.RETURNED): 3,
    (OrderStatus.PARTIALLY_RETURNED, OrderStatus.PARTIALLY_RETURNED): 1,
    (OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED): 2,
}


def three_units(merchant):
    product = ProductFactory(merchant=merchant)
    stock(product, default_location(merchant), 100)
    return [(product, 3)]


def test_return_targets_are_allowed_exactly_from_returnable_statuses():
    allowed = {(str(src), str(dst)) for src in OrderStatus for dst in RETURN_TARGETS if dst in ORDER_TRANSITIONS[src]}

    assert allowed == {(str(src), str(dst)) for src, dst in RETURNED_UNITS}


@pytest.mark.parametrize(("from_status", "to_status"), [(str(s), str(d)) for s, d in RETURNED_UNITS])
def test_return_receipt_moves_the_order_to_its_return_status_with_one_event(merchant, from_status, to_status):
    # Given a 3-unit order in from_status
    order = make_order(merchant, from_status, products=three_units(merchant))
    before = state_of(order)
    line = order.lines.get()

    # When the returned units are received
    ret = return_create(order=order, lines=[{"line_id": line.pk, "quantity": RETURNED_UNITS[from_status,
                                 to_status]}], reason="too small", actor=ACTOR)  # fmt: skip
    return_transition(return_request=ret, to_status=ReturnStatus.APPROVED, actor=ACTOR)
    return_transition(return_request=ret, to_status=ReturnStatus.RECEIVED, actor=ACTOR)

    # Then
    order.refresh_from_db()
    assert order.status == to_status
    assert new_status_events(order, before["events"]) == [
        {"kind": "status_changed", "from_status": from_status, "to_status": to_status, "actor": ACTOR}
    ]
    assert [getattr(order, name) for name in TIMESTAMPS] == before["timestamps"]


@pytest.mark.parametrize("from_status", [str(s) for s in OrderStatus if s not in RETURNABLE])
def test_orders_that_are_not_delivered_cannot_be_returned(merchant, from_status):
    order = make_order(merchant, from_status)
    before = state_of(order)
    line = order.lines.get()
    returned = line.returned_quantity

    with pytest.raises(DomainError) as refused:
        return_create(order=order, lines=[{"line_id": line.pk, "quantity": 1}], reason="x", actor=ACTOR)

    assert refused.value.code == "order_not_returnable"
    assert refused.value.details == {"status": from_status}
    assert state_of(order) == before
    assert order.lines.get().returned_quantity == returned


# --- stock effects --------------------------------------------------------------------------------


def test_confirm_reserves_every_line_at_the_pickup_location(merchant):
    # Given stock at the default location and at the order's pickup location "south"
    main = default_location(merchant)
    south = LocationFactory(merchant=merchant, nickname="south")
    shirt, cap = ProductFactory(merchant=merchant), ProductFactory(merchant=merchant)
    stock(shirt, main, 10)
    stock(shirt, south, 5)
    stock(cap, south, 4)
    order = make_order(merchant, products=[(shirt, 2), (cap, 3)], pickup_location="south")
    seen = last_movement_id()

    # When
    order_confirm(order=order, actor=ACTOR)

    # Then only south is reserved, with one reservation row per line
    assert (level(shirt, main), level(shirt, south), level(cap, south)) == ((10, 0), (5, 2), (4, 3))
    reference = f"order:{order.number}"
    assert movements(pk__gt=seen) == [
        (shirt.pk, south.pk, MovementKind.RESERVATION, 2, 5, 2, reference, ACTOR),
        (cap.pk, south.pk, MovementKind.RESERVATION, 3, 4, 3, reference, ACTOR),
    ]


def test_confirm_with_short_stock_names_the_short_lines_and_reserves_nothing(merchant):
    # Given: shirt has plenty, cap has 5 on hand of which 4 are reserved elsewhere, scarf has no stock record
    main = default_location(merchant)
    shirt, cap, scarf = (ProductFactory(merchant=merchant) for _ in range(3))
    stock(shirt, main, 10)
    stock(cap, main, 5, reserved=4)
    order = make_order(merchant, products=[(shirt, 2), (cap, 3), (scarf, 1)])
    before = state_of(order)

    with pytest.raises(InsufficientStock) as short:
        order_confirm(order=order, actor=ACTOR)

    assert short.value.code == "insufficient_stock"
    assert short.value.message == f"Not enough stock for {cap.sku}, {scarf.sku}."
    assert short.value.details == {
        "lines": [
            {"sku": cap.sku, "product": cap.pk, "location": main.pk, "requested": 3, "available": 1},
            {"sku": scarf.sku, "product": scarf.pk, "location": main.pk, "requested": 1, "available": 0},
        ]
    }
    assert state_of(order) == before
    assert (level(shirt, main), level(cap, main)) == ((10, 0), (5, 4))


@pytest.mark.parametrize("from_status", [OrderStatus.CONFIRMED, OrderStatus.PACKED])
def test_cancel_after_confirmation_releases_the_reservation(merchant, from_status):
    order = make_order(merchant, from_status)
    line = order.lines.get()
    assert level(line.product, order.pickup_location) == (100, 2)
    seen = last_movement_id()

    order_cancel(order=order, reason="customer asked", actor=ACTOR)

    assert level(line.product, order.pickup_location) == (100, 0)
    assert movements(pk__gt=seen) == [
        (line.product_id, order.pickup_location_id, MovementKind.RELEASE, -2, 100, 0, f"order:{order.number}", ACTOR)
    ]
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "customer asked")


def test_cancel_of_a_new_order_moves_no_stock(merchant):
    order = make_order(merchant)
    before = stock_state(merchant)

    order_cancel(order=order, reason="duplicate", actor=ACTOR)

    assert stock_state(merchant) == before


def test_ship_drops_on_hand_and_reserved(merchant):
    order = make_order(merchant, OrderStatus.PACKED)
    line = order.lines.get()
    seen = last_movement_id()

    order_mark_shipped(order=order, actor=ACTOR, awb="AWB123", courier="delhivery")

    assert level(line.product, order.pickup_location) == (98, 0)
    assert movements(pk__gt=seen) == [
        (line.product_id, order.pickup_location_id, MovementKind.SHIPMENT, -2, 98, 0, f"order:{order.number}", ACTOR)
    ]
    order.refresh_from_db()
    assert (order.awb, order.courier) == ("AWB123", "delhivery")


def test_rto_delivered_restocks_the_pickup_location(merchant):
    order = make_order(merchant, OrderStatus.RTO)
    line = order.lines.get()
    assert level(line.product, order.pickup_location) == (98, 0)
    seen = last_movement_id()

    order_mark_rto_delivered(order=order, actor=ACTOR)

    assert level(line.product, order.pickup_location) == (100, 0)
    assert movements(pk__gt=seen) == [
        (line.product_id, order.pickup_location_id, MovementKind.RTO, 2, 100, 0, f"order:{order.number}", ACTOR)
    ]


def test_the_ledger_still_sums_to_on_hand_after_a_whole_lifecycle(merchant):
    order = make_order(merchant, OrderStatus.RTO_DELIVERED)
    line = order.lines.get()
    on_hand_kinds = [MovementKind.RECEIPT, MovementKind.ADJUSTMENT, MovementKind.SHIPMENT, MovementKind.RETURN,
                     MovementKind.RTO]  # fmt: skip

    quantities = StockMovement.objects.filter(product=line.product, kind__in=on_hand_kinds)

    assert sum(quantities.values_list("quantity", flat=True)) == level(line.product, order.pickup_location)[0] == 100


def test_add_inventory_receives_stock_for_a_short_order_and_confirms_it(merchant):
    # Given an order of 3 with 1 on hand: confirming it fails
    main = default_location(merchant)
    shirt = ProductFactory(merchant=merchant)
    stock(shirt, main, 1)
    order = make_order(merchant, products=[(shirt, 3)])
    with pytest.raises(InsufficientStock):
        order_confirm(order=order, actor=ACTOR)
    line = order.lines.get()

    # When the 2 missing units are received for it
    confirmed = order_add_inventory(order=order, lines=[{"line_id": line.pk, "quantity": 2}], actor=ACTOR)

    # Then
    assert confirmed.status == OrderStatus.CONFIRMED
    assert level(shirt, main) == (3, 3)
    assert list(order.events.order_by("pk").values_list("kind", "to_status")) == [
        ("created", "new"),
        ("inventory_added", ""),
        ("status_changed", "confirmed"),
    ]


def test_confirm_with_an_unmapped_line_is_refused_until_it_is_mapped(merchant):
    # Given an order whose second line has a SKU unknown to the catalog
    main = default_location(merchant)
    shirt, gift = ProductFactory(merchant=merchant), ProductFactory.build(merchant=merchant, sku="GIFT-BOX")
    stock(shirt, main, 10)
    data_lines = [(shirt, 1), (gift, 1)]
    order = order_create(merchant=merchant, actor=ACTOR, data={
        "channel_order_id": "PO-UNMAPPED", "payment_method": "cod",
        "shipping_address": {"name": "Priya Sharma", "phone": "+919812345678", "line1": "42 Residency Road",
                             "city": "Bengaluru", "state": "Karnataka", "postcode": "560025", "country": "IN"},
        "lines": [{"sku": p.sku, "name": "Gift box", "quantity": q, "unit_price": p.price} for p, q in data_lines],
    })  # fmt: skip
    before = state_of(order)

    with pytest.raises(DomainError) as unmapped:
        order_confirm(order=order, actor=ACTOR)

    assert (unmapped.value.code, unmapped.value.details) == ("unmapped_lines", {"skus": ["GIFT-BOX"]})
    assert unmapped.value.message == "Map these SKUs to products first: GIFT-BOX."
    assert state_of(order) == before

    # When the line is mapped to a stocked product, the order confirms
    box = ProductFactory(merchant=merchant, sku="BOX-01", hsn_code="4819")
    stock(box, main, 5)
    gift_line = order.lines.get(sku="GIFT-BOX")
    order_map_lines(order=order, mappings=[{"line_id": gift_line.pk, "sku": "BOX-01"}], actor=ACTOR)
    order_confirm(order=order, actor=ACTOR)

    gift_line.refresh_from_db()
    assert (gift_line.product_id, gift_line.sku, gift_line.hsn_code) == (box.pk, "GIFT-BOX", "4819")
    assert (level(shirt, main), level(box, main)) == ((10, 1), (5, 1))
    assert OrderEvent.objects.filter(order=order, kind="lines_mapped").get().message == "GIFT-BOX -> BOX-01"
