"""The orders' state tables (shopops/transitions.py): declared next to their models from the transitions the
design gives, every move through the helper, its timestamp and its timeline event written by the table."""

import pytest

from orders.models import (
    ORDER_STATES,
    ORDER_TRANSITIONS,
    PAYMENT_STATES,
    RETURN_STATES,
    RETURN_TRANSITIONS,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
    PaymentStatus,
    Return,
    ReturnStatus,
)
from orders.services.orders import order_update
from orders.services.returns import return_create, return_transition
from shopops.errors import DomainError
from shopops.transitions import TABLES
from tests.orders.factories import make_order

pytestmark = pytest.mark.django_db


def test_the_order_and_return_tables_are_their_transitions():
    assert TABLES[(Order, "status")] is ORDER_STATES
    assert ORDER_STATES.listed == ORDER_TRANSITIONS
    assert ORDER_STATES.moves == {status: set(moves) for status, moves in ORDER_TRANSITIONS.items()}
    assert TABLES[(Return, "status")] is RETURN_STATES
    assert RETURN_STATES.listed == RETURN_TRANSITIONS
    assert RETURN_STATES.moves == {status: set(moves) for status, moves in RETURN_TRANSITIONS.items()}


def test_any_payment_status_may_follow_any_other():
    assert TABLES[(Order, "payment_status")] is PAYMENT_STATES
    assert PAYMENT_STATES.moves == {status: set(PaymentStatus) for status in PaymentStatus}


def test_the_event_kinds_are_the_fields_choices():
    assert OrderEvent._meta.get_field("kind").choices == OrderEventKind.choices


def test_an_edit_of_the_payment_status_moves_it_with_the_other_changes_and_one_event(merchant):
    order = make_order(merchant, OrderStatus.CONFIRMED)
    last = order.events.order_by("pk").last().pk

    edited = order_update(order=order, data={"notes": "paid by UPI", "payment_status": "paid"}, actor="user:7")

    edited.refresh_from_db()
    assert (edited.payment_status, edited.notes, edited.status) == ("paid", "paid by UPI", "confirmed")
    events = edited.events.filter(pk__gt=last).values_list("kind", "from_status", "to_status", "actor", "message",
                                                           "data")  # fmt: skip
    assert list(events) == [("updated", "", "", "user:7", "Changed notes, payment_status",
                             {"fields": ["notes", "payment_status"]})]  # fmt: skip


def test_a_return_and_its_order_write_their_moves_on_the_orders_timeline(merchant):
    order = make_order(merchant, OrderStatus.DELIVERED)
    line = order.lines.get()
    last = order.events.order_by("pk").last().pk

    ret = return_create(order=order, lines=[{"line_id": line.pk, "quantity": line.quantity}], reason="too small",
                        actor="user:7")  # fmt: skip
    for status in (ReturnStatus.APPROVED, ReturnStatus.RECEIVED, ReturnStatus.REFUNDED):
        ret = return_transition(return_request=ret, to_status=status, actor="user:7")

    ret.refresh_from_db()
    order.refresh_from_db()
    assert (ret.status, ret.received_at is not None, order.status) == ("refunded", True, "returned")
    number = ret.number
    assert list(order.events.filter(pk__gt=last).order_by("pk").values_list("kind", "from_status", "to_status",
                                                                           "message")) == [
        ("return_requested", "", "", f"Return {number}: too small"),
        ("return_status_changed", "requested", "approved", f"Return {number}: requested -> approved"),
        ("status_changed", "delivered", "returned", f"Return {number} received"),
        ("return_status_changed", "approved", "received", f"Return {number}: approved -> received"),
        ("return_status_changed", "received", "refunded", f"Return {number}: received -> refunded"),
    ]  # fmt: skip


def test_a_refused_return_move_names_the_allowed_moves_in_the_tables_order(merchant):
    order = make_order(merchant, OrderStatus.DELIVERED)
    ret = return_create(order=order, lines=[{"line_id": order.lines.get().pk, "quantity": 1}], reason="damaged",
                        actor="user:7")  # fmt: skip
    ret = return_transition(return_request=ret, to_status=ReturnStatus.APPROVED, actor="user:7")

    with pytest.raises(DomainError) as refused:
        return_transition(return_request=ret, to_status=ReturnStatus.REFUNDED, actor="user:7")

    assert refused.value.as_dict() == {
        "code": "transition_not_allowed",
        "message": f"Return {ret.number} is approved; it can only become pickup scheduled, in transit or received, "
        "not refunded.",
        "details": {"status": "approved", "allowed": ["pickup_scheduled", "in_transit", "received"],
                    "requested": "refunded"},
    }  # fmt: skip
