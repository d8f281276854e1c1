"""Returns through the API: requesting one on a delivered order, its state machine, restocking on receipt."""

from decimal import Decimal

import pytest

from catalog.models import MovementKind, StockLevel, StockMovement
from orders.models import RETURN_TRANSITIONS, Order, OrderEvent, OrderStatus, Return, ReturnStatus
from orders.services.create import order_create
from orders.services.returns import return_create, return_transition
from shopops.errors import state_refusal
from tests.api import NOT_FOUND, invalid
from tests.catalog.factories import LocationFactory, ProductFactory, stock
from tests.orders.factories import ADDRESS, advance, default_location, make_order

ORDERS = "/api/v1/orders/"
RETURNS = "/api/v1/returns/"

#: The API action that moves a return to each status.
ACTIONS = {
    "approve": ReturnStatus.APPROVED,
    "reject": ReturnStatus.REJECTED,
    "schedule-pickup": ReturnStatus.PICKUP_SCHEDULED,
    "in-transit": ReturnStatus.IN_TRANSIT,
    "receive": ReturnStatus.RECEIVED,
    "refund": ReturnStatus.REFUNDED,
    "close": ReturnStatus.CLOSED,
}
#: Service steps from "requested" to each status.
PATHS = {
    ReturnStatus.REQUESTED: [],
    ReturnStatus.APPROVED: [ReturnStatus.APPROVED],
    ReturnStatus.REJECTED: [ReturnStatus.REJECTED],
    ReturnStatus.PICKUP_SCHEDULED: [ReturnStatus.APPROVED, ReturnStatus.PICKUP_SCHEDULED],
    ReturnStatus.IN_TRANSIT: [ReturnStatus.APPROVED, ReturnStatus.IN_TRANSIT],
    ReturnStatus.RECEIVED: [ReturnStatus.APPROVED, ReturnStatus.RECEIVED],
    ReturnStatus.REFUNDED: [ReturnStatus.APPROVED, ReturnStatus.RECEIVED, ReturnStatus.REFUNDED],
    ReturnStatus.CLOSED: [ReturnStatus.REJECTED, ReturnStatus.CLOSED],
}


def actor_of(api) -> str:
    return f"app:{api.application.client_id}"


def level(product, location) -> tuple[int, int]:
    row = StockLevel.objects.get(product=product, location=location)
    return row.on_hand, row.reserved


@pytest.fixture
def main(merchant):
    return default_location(merchant)


@pytest.fixture
def south(merchant):
    return LocationFactory(merchant=merchant, nickname="south")


@pytest.fixture
def tee(merchant, main):
    product = ProductFactory(merchant=merchant, sku="TEE-1")
    stock(product, main, 10)
    return product


@pytest.fixture
def cap(merchant, main):
    product = ProductFactory(merchant=merchant, sku="CAP-1")
    stock(product, main, 10)
    return product


@pytest.fixture
def delivered(merchant, main, tee, cap):
    """A delivered order: 3 tees at 499.00 less 100.00 (line total 1397.00) and 1 cap at 299.00."""
    order = order_create(merchant=merchant, actor="system", data={
        "channel_order_id": "SHOP-7001", "payment_method": "prepaid", "shipping_address": dict(ADDRESS),
        "lines": [{"sku": "TEE-1", "quantity": 3, "unit_price": Decimal("499.00"), "discount": Decimal("100.00")},
                  {"sku": "CAP-1", "quantity": 1, "unit_price": Decimal("299.00")}],
    })  # fmt: skip
    for step in ("confirm", "pack", "ship", "deliver"):
        order = advance(order, step)
    order.refresh_from_db()
    return order


def lines_of(order) -> dict[str, int]:
    return {line.sku: line.pk for line in order.lines.all()}


def request_return(api, order, items, reason="too small", **extra):
    return api.post(f"{ORDERS}{order.pk}/return/", {"lines": items, "reason": reason, **extra}, format="json")


# --- requesting a return --------------------------------------------------------------------------


def test_a_return_of_a_delivered_order_is_201_requested_with_its_refund(api, merchant, delivered, tee, main):
    line_ids = lines_of(delivered)

    response = request_return(api, delivered, [{"line_id": line_ids["TEE-1"], "quantity": 2}])

    assert response.status_code == 201, response.json()
    created = Return.objects.get()
    body = response.json()
    assert body == {
        "id": created.pk, "number": "RET-000001", "order": delivered.pk, "order_number": delivered.number,
        "status": "requested", "reason": "too small", "location": main.pk,
        "refund_amount": "931.33",  # 1397.00 / 3 x 2
        "lines": [{"line_id": line_ids["TEE-1"], "sku": "TEE-1", "quantity": 2}],
        "received_at": None, "created_at": body["created_at"], "updated_at": body["updated_at"],
    }  # fmt: skip
    assert dict(delivered.lines.values_list("sku", "returned_quantity")) == {"TEE-1": 2, "CAP-1": 0}
    event = delivered.events.last()
    assert (event.kind, event.actor, event.message, event.data) == (
        "return_requested", actor_of(api), "Return RET-000001: too small",
        {"return": "RET-000001", "lines": [{"line_id": line_ids["TEE-1"], "quantity": 2}]},
    )  # fmt: skip
    # Requesting moves no stock and leaves the order delivered
    assert level(tee, main) == (7, 0)
    delivered.refresh_from_db()
    assert delivered.status == OrderStatus.DELIVERED


def test_a_return_to_another_location_is_named_by_nickname(api, delivered, south):
    response = request_return(api, delivered, [{"line_id": lines_of(delivered)["CAP-1"], "quantity": 1}],
                              location="south")  # fmt: skip

    assert (response.status_code, response.json()["location"], response.json()["refund_amount"]) == (
        201, south.pk, "299.00",
    )  # fmt: skip


def test_a_return_to_an_unknown_location_is_400(api, delivered, other_merchant):
    foreign = LocationFactory(merchant=other_merchant, nickname="theirs")

    response = request_return(api, delivered, [{"line_id": lines_of(delivered)["CAP-1"], "quantity": 1}],
                              location=str(foreign.pk))  # fmt: skip

    assert response.json() == invalid({"location": [f"Unknown location '{foreign.pk}'."]})
    assert Return.objects.count() == 0


def test_returning_more_than_delivered_minus_already_returned_is_400(api, delivered):
    # Given 2 of the 3 tees are already being returned
    tee_line = lines_of(delivered)["TEE-1"]
    assert request_return(api, delivered, [{"line_id": tee_line, "quantity": 2}]).status_code == 201

    # When 2 more are asked for
    response = request_return(api, delivered, [{"line_id": tee_line, "quantity": 2}])

    # Then
    assert response.status_code == 400
    assert response.json() == invalid({"lines.0.quantity": ["At most 1 of TEE-1 can be returned."]})
    assert Return.objects.count() == 1
    assert delivered.lines.get(sku="TEE-1").returned_quantity == 2


def test_the_same_line_twice_in_one_request_counts_both(api, delivered):
    tee_line, cap_line = lines_of(delivered)["TEE-1"], lines_of(delivered)["CAP-1"]

    response = request_return(api, delivered, [{"line_id": tee_line, "quantity": 2}, {"line_id": cap_line,
                              "quantity": 1}, {"line_id": tee_line, "quantity": 2}])  # fmt: skip

    assert response.json() == invalid({"lines.2.quantity": ["At most 3 of TEE-1 can be returned."]})
    assert Return.objects.count() == 0


def test_a_line_of_another_order_is_400(api, merchant, delivered):
    other = make_order(merchant, OrderStatus.DELIVERED)
    foreign_line = other.lines.get().pk

    response = request_return(api, delivered, [{"line_id": foreign_line, "quantity": 1}])

    assert response.json() == invalid({"lines.0.line_id": [f"Order {delivered.number} has no line {foreign_line}."]})
    assert Return.objects.count() == 0


@pytest.mark.parametrize(
    ("items", "details"),
    [
        ([], {"lines": ["This list may not be empty."]}),
        ([{"line_id": 1, "quantity": 0}], {"lines.0.quantity": ["Ensure this value is greater than or equal to 1."]}),
        ([{"line_id": 1, "quantity": 1, "colour": "red"}], {"lines.0.colour": ["Unknown field."]}),
    ],
)
def test_bad_return_input_is_400(api, delivered, items, details):
    response = request_return(api, delivered, items)

    assert response.json() == invalid(details)
    assert Return.objects.count() == 0


@pytest.mark.parametrize(
    "status", ["new", "confirmed", "packed", "shipped", "cancelled", "rto", "rto_delivered", "returned"]
)
def test_a_return_of_an_order_that_is_not_delivered_is_409(api, merchant, status):
    order = make_order(merchant, status)
    line = order.lines.get()
    returned = line.returned_quantity

    response = request_return(api, order, [{"line_id": line.pk, "quantity": 1}])

    assert response.status_code == 409
    assert response.json() == {
        "code": "order_not_returnable",
        "message": f"Order {order.number} is {status}; only delivered orders can be returned.",
        "details": {"status": status},
    }
    line.refresh_from_db()
    assert line.returned_quantity == returned
    assert Return.objects.filter(order=order).count() == (1 if status == "returned" else 0)


def test_a_return_of_another_merchants_order_is_404(api, other_merchant):
    theirs = make_order(other_merchant, OrderStatus.DELIVERED)

    response = request_return(api, theirs, [{"line_id": theirs.lines.get().pk, "quantity": 1}])

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert Return.objects.count() == 0


# --- the return state machine ---------------------------------------------------------------------


def return_in(delivered, status: str) -> Return:
    ret = return_create(order=delivered, lines=[{"line_id": lines_of(delivered)["TEE-1"], "quantity": 1}],
                                 reason="damaged", actor="system")  # fmt: skip
    for step in PATHS[status]:
        ret = return_transition(return_request=ret, to_status=step, actor="system")
    return ret


def snapshot(ret: Return) -> dict:
    ret.refresh_from_db()
    order = Order.objects.get(pk=ret.order_id)
    return {
        "status": ret.status,
        "received_at": ret.received_at,
        "order_status": order.status,
        "returned_quantities": list(order.lines.order_by("pk").values_list("returned_quantity", flat=True)),
        "events": OrderEvent.objects.filter(order=order).count(),
        "stock": list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
    }


def test_the_return_transitions_are_those_of_the_design():
    assert {(str(src), str(dst)) for src, targets in RETURN_TRANSITIONS.items() for dst in targets} == {
        ("requested", "approved"), ("requested", "rejected"), ("approved", "pickup_scheduled"),
        ("approved", "in_transit"), ("approved", "received"), ("pickup_scheduled", "in_transit"),
        ("pickup_scheduled", "received"), ("in_transit", "received"), ("received", "refunded"),
        ("received", "closed"), ("refunded", "closed"), ("rejected", "closed"),
    }  # fmt: skip
    assert set(PATHS) == set(ReturnStatus) == set(RETURN_TRANSITIONS)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("from_status", [str(s) for s in ReturnStatus])
def test_return_actions_move_allowed_returns_and_refuse_the_others_with_409(api, delivered, from_status, action):
    # Given
    ret = return_in(delivered, from_status)
    to_status = ACTIONS[action]
    before = snapshot(ret)

    # When
    response = api.post(f"{RETURNS}{ret.pk}/{action}/", format="json")

    # Then
    after = snapshot(ret)
    if to_status in RETURN_TRANSITIONS[from_status]:
        assert response.status_code == 200, response.json()
        assert (response.json()["id"], response.json()["status"], after["status"]) == (ret.pk, to_status, to_status)
        event = OrderEvent.objects.filter(kind="return_status_changed").order_by("pk").last()
        assert (event.from_status, event.to_status, event.actor, event.data) == (
            from_status, to_status, actor_of(api), {"return": ret.number},
        )  # fmt: skip
    else:
        allowed = [str(s) for s in RETURN_TRANSITIONS[from_status]]
        assert response.status_code == 409
        assert response.json() == {
            "code": "transition_not_allowed",
            "message": state_refusal(
                noun=f"Return {ret.number}",
                status=from_status,
                to_status=to_status,
                allowed=allowed,
                labels=dict(ReturnStatus.choices),
            ).message,
            "details": {"status": from_status, "allowed": allowed, "requested": to_status},
        }
        assert after == before


def test_another_merchants_return_is_404(api, other_merchant):
    order = make_order(other_merchant, OrderStatus.DELIVERED)
    theirs = return_create(order=order, lines=[{"line_id": order.lines.get().pk, "quantity": 1}],
                                    reason="damaged", actor="system")  # fmt: skip

    response = api.post(f"{RETURNS}{theirs.pk}/approve/", format="json")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    theirs.refresh_from_db()
    assert theirs.status == ReturnStatus.REQUESTED


# --- receipt --------------------------------------------------------------------------------------


def test_receive_restocks_at_the_return_location_and_the_order_follows(api, delivered, tee, cap, main, south):
    line_ids = lines_of(delivered)

    # Given a return of 2 of the 3 tees to "south", approved
    first = request_return(api, delivered, [{"line_id": line_ids["TEE-1"], "quantity": 2}], location="south").json()
    api.post(f"{RETURNS}{first['id']}/approve/", format="json")

    # When it is received
    received = api.post(f"{RETURNS}{first['id']}/receive/", format="json")

    # Then the tees are back in stock at south (a "return" ledger row), and the order is partially returned
    assert received.status_code == 200, received.json()
    assert received.json()["status"] == "received"
    assert received.json()["received_at"] is not None
    assert (level(tee, main), level(tee, south)) == ((7, 0), (2, 0))
    movement = StockMovement.objects.order_by("pk").last()
    assert (movement.product_id, movement.location_id, movement.kind, movement.quantity, movement.on_hand_after,
            movement.reference, movement.actor) == (
        tee.pk, south.pk, MovementKind.RETURN, 2, 2, "return:RET-000001", actor_of(api),
    )  # fmt: skip
    delivered.refresh_from_db()
    assert delivered.status == OrderStatus.PARTIALLY_RETURNED

    # When the last tee and the cap come back too, to the pickup location
    second = request_return(api, delivered, [{"line_id": line_ids["TEE-1"], "quantity": 1},
                                             {"line_id": line_ids["CAP-1"], "quantity": 1}]).json()  # fmt: skip
    for action in ("approve", "schedule-pickup", "in-transit", "receive"):
        assert api.post(f"{RETURNS}{second['id']}/{action}/", format="json").status_code == 200

    # Then the order is returned
    assert (level(tee, main), level(cap, main), level(tee, south)) == ((8, 0), (10, 0), (2, 0))
    delivered.refresh_from_db()
    assert delivered.status == OrderStatus.RETURNED
    assert list(delivered.events.filter(kind="status_changed").values_list("from_status", "to_status"))[-2:] == [
        ("delivered", "partially_returned"),
        ("partially_returned", "returned"),
    ]


def test_refund_and_close_after_receipt_move_no_stock(api, delivered, tee, main):
    ret = return_in(delivered, ReturnStatus.RECEIVED)
    before = level(tee, main)

    refunded = api.post(f"{RETURNS}{ret.pk}/refund/", format="json")
    closed = api.post(f"{RETURNS}{ret.pk}/close/", format="json")

    assert (refunded.json()["status"], closed.json()["status"]) == ("refunded", "closed")
    assert level(tee, main) == before == (8, 0)
    delivered.refresh_from_db()
    assert delivered.status == OrderStatus.PARTIALLY_RETURNED


def test_reject_frees_the_returnable_quantity_again(api, delivered):
    # Given all 3 tees are being returned, so none more can be
    tee_line = lines_of(delivered)["TEE-1"]
    first = request_return(api, delivered, [{"line_id": tee_line, "quantity": 3}]).json()
    assert request_return(api, delivered, [{"line_id": tee_line, "quantity": 1}]).json() == invalid(
        {"lines.0.quantity": ["At most 0 of TEE-1 can be returned."]}
    )

    # When the return is rejected
    rejected = api.post(f"{RETURNS}{first['id']}/reject/", format="json")

    # Then the 3 tees can be returned again, and the order stays delivered
    assert rejected.json()["status"] == "rejected"
    assert delivered.lines.get(pk=tee_line).returned_quantity == 0
    again = request_return(api, delivered, [{"line_id": tee_line, "quantity": 3}])
    assert (again.status_code, again.json()["number"]) == (201, "RET-000002")
    delivered.refresh_from_db()
    assert delivered.status == OrderStatus.DELIVERED


def test_a_rejected_then_closed_return_does_not_count_as_received(api, delivered, tee, main):
    # Given a rejected and closed return of 2 tees, and then a received return of the 3 tees
    tee_line, cap_line = lines_of(delivered)["TEE-1"], lines_of(delivered)["CAP-1"]
    closed = request_return(api, delivered, [{"line_id": tee_line, "quantity": 2}]).json()
    for action in ("reject", "close"):
        api.post(f"{RETURNS}{closed['id']}/{action}/", format="json")
    ret = request_return(api, delivered, [{"line_id": tee_line, "quantity": 3}]).json()
    for action in ("approve", "receive"):
        api.post(f"{RETURNS}{ret['id']}/{action}/", format="json")

    # Then the cap is still out: the order is partially returned, and only the 3 received tees were restocked
    delivered.refresh_from_db()
    assert delivered.status == OrderStatus.PARTIALLY_RETURNED
    assert level(tee, main) == (10, 0)
    assert delivered.lines.get(pk=cap_line).returned_quantity == 0


def test_returns_list_filters_by_status_and_order(api, merchant, delivered):
    requested = return_in(delivered, ReturnStatus.REQUESTED)
    approved = return_in(delivered, ReturnStatus.APPROVED)
    other = make_order(merchant, OrderStatus.DELIVERED)
    elsewhere = return_create(order=other, lines=[{"line_id": other.lines.get().pk, "quantity": 1}],
                                       reason="damaged", actor="system")  # fmt: skip

    def ids(params):
        return [row["id"] for row in api.get(RETURNS, params).json()["results"]]

    assert ids({}) == [elsewhere.pk, approved.pk, requested.pk]
    assert ids({"status": "requested"}) == [elsewhere.pk, requested.pk]
    assert ids({"order": delivered.pk}) == [approved.pk, requested.pk]
