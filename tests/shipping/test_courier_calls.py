"""Calls to couriers: recorded before (pending) and after (succeeded or failed), made with no transaction open and
no row lock held, retried with the same idempotency key; a failure is shown to the merchant and asked again."""

import threading
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.utils import timezone

from orders.models import Order, OrderStatus
from shipping.adapters import ADAPTERS, Booking, CourierAdapter
from shipping.models import NDR, Courier, CourierCall, Shipment, ShipmentEvent, ShipmentStatus
from shipping.services.awb import awb_pool_remaining
from shipping.services.calls import CALL_RETRY_AFTER, call_run
from shipping.services.ndr import ndr_action
from shipping.services.pickups import pickup_schedule
from shipping.services.shipments import book_intent, shipment_assign_awb, shipment_cancel, shipment_create
from shopops.errors import DomainError
from shopops.integrations import TransactionOpen, outside_transaction
from tests.catalog.factories import ProductFactory, stock
from tests.conftest import client_for
from tests.orders.factories import default_location, make_order
from tests.shipping.factories import make_shipment, shipping_courier


class RemoteCourier(CourierAdapter):
    """A courier over the network as the tests drive it: its own AWBs and pickup tokens, the same answer for the
    same key; each call is logged with its key, and may be made to fail or to wait for ``gate``."""

    name = "remote"
    state = None  # set by the fixture

    def uses_pool(self, courier) -> bool:
        return False

    def _answer(self, operation: str, key: str):
        state = self.state
        state.log.append((operation, key))
        state.entered.set()
        if state.gate is not None:
            assert state.gate.wait(timeout=30)
        if state.failing is not None:
            raise state.failing

    def assign_awb(self, shipment, allocate_from_pool, *, key):
        self._answer("book", key)
        return self.state.answers.setdefault(key, f"RM{len(self.state.answers) + 1:08d}")

    def schedule_pickup(self, *, courier, location, pickup_date, awbs, key):
        self._answer("schedule_pickup", key)
        return self.state.answers.setdefault(key, f"RPU-{len(self.state.answers) + 1}")

    def cancel(self, shipment, *, awb, key):
        self._answer("cancel", key)

    def cancel_pickup(self, *, pickup, key):
        self._answer("cancel_pickup", key)

    def ndr_action(self, shipment, *, action, reattempt_date=None, comment="", key):
        self._answer("ndr_action", key)


class PooledRemoteCourier(RemoteCourier):
    """A remote courier whose AWBs come from the merchant's pool (taken when the booking is recorded)."""

    name = "remote-pooled"

    def uses_pool(self, courier) -> bool:
        return True

    def assign_awb(self, shipment, allocate_from_pool, *, key):
        self._answer("book", key)
        return allocate_from_pool()


class State:
    def __init__(self):
        self.log, self.answers, self.failing, self.gate = [], {}, None, None
        self.entered = threading.Event()


@pytest.fixture
def remote(monkeypatch):
    state = State()
    monkeypatch.setattr(RemoteCourier, "state", state)
    monkeypatch.setitem(ADAPTERS, RemoteCourier.name, RemoteCourier)
    monkeypatch.setitem(ADAPTERS, PooledRemoteCourier.name, PooledRemoteCourier)
    return state


def _courier(merchant, adapter: str = RemoteCourier.name):
    courier = shipping_courier(merchant)
    courier.adapter = adapter
    courier.save(update_fields=["adapter"])
    return courier


def _shipment(merchant, courier) -> Shipment:
    product = ProductFactory(merchant=merchant)
    stock(product, default_location(merchant), 5)
    order = make_order(merchant, OrderStatus.PACKED, products=[(product, 1)])
    return shipment_create(order=order, courier=courier, actor="system")


def _age(call: CourierCall) -> None:
    """Time passes: the call's attempt began longer ago than a call takes (its process died)."""
    CourierCall.objects.filter(pk=call.pk).update(started_at=timezone.now() - CALL_RETRY_AFTER - timedelta(seconds=1))


# -- the guard -------------------------------------------------------------------------------------------------------


def test_the_guard_refuses_a_call_inside_a_transaction_but_not_in_the_tests_own(db):
    outside_transaction("a call")  # the test case's wrapping transaction is not the code's

    with pytest.raises(TransactionOpen), transaction.atomic():
        outside_transaction("a call")


def test_no_courier_is_called_from_inside_a_transaction(merchant, remote):
    shipment = _shipment(merchant, _courier(merchant))

    with pytest.raises(TransactionOpen), transaction.atomic():
        shipment_assign_awb(shipment=shipment, actor="system")

    assert remote.log == []
    assert (CourierCall.objects.count(), Shipment.objects.get().status) == (0, "new")


# -- failures the merchant sees and retries --------------------------------------------------------------------------


def test_a_failed_booking_is_recorded_shown_and_retried_with_the_same_key(merchant, remote):
    shipment = _shipment(merchant, _courier(merchant))
    api = client_for(merchant)
    remote.failing = ConnectionError("courier API timed out")

    refused = api.post(f"/api/v1/shipments/{shipment.pk}/assign-awb/", {}, format="json")

    call = CourierCall.objects.get()
    assert refused.status_code == 409
    assert refused.json() == {
        "code": "courier_call_failed",
        "message": f"Blue Dart did not book shipment {shipment.pk}: ConnectionError: courier API timed out. Ask "
                   "again to retry.",
        "details": {"call": call.pk, "kind": "book", "courier": "bluedart",
                    "error": "ConnectionError: courier API timed out"},
    }  # fmt: skip
    assert (call.kind, call.status, call.attempts, call.error) == (
        "book", "failed", 1, "ConnectionError: courier API timed out")  # fmt: skip
    shipment.refresh_from_db()
    assert (shipment.status, shipment.awb) == ("new", "")
    assert list(ShipmentEvent.objects.filter(shipment=shipment).values_list("kind", flat=True)) == [
        "created", "courier_call_failed"]  # fmt: skip
    assert ShipmentEvent.objects.get(kind="courier_call_failed").message == (
        "Book (AWB): ConnectionError: courier API timed out")  # fmt: skip

    remote.failing = None
    retried = api.post(f"/api/v1/shipments/{shipment.pk}/assign-awb/", {}, format="json")

    assert retried.status_code == 200, retried.json()
    assert (retried.json()["awb"], retried.json()["status"]) == ("RM00000001", "awb_assigned")
    call.refresh_from_db()
    assert (call.status, call.attempts, call.response, call.error) == ("succeeded", 2, {"awb": "RM00000001"}, "")
    assert remote.log == [("book", call.key), ("book", call.key)]
    assert CourierCall.objects.count() == 1
    assert Order.objects.get().awb == "RM00000001"


def test_a_cancel_the_courier_did_not_hear_keeps_the_shipment_cancelled_and_cancelling_again_asks_again(
    merchant, remote
):
    shipment = shipment_assign_awb(shipment=_shipment(merchant, _courier(merchant)), actor="system")
    api = client_for(merchant)
    remote.failing = TimeoutError("no answer in 10 s")

    response = api.post(f"/api/v1/shipments/{shipment.pk}/cancel/", {"reason": "Address changed"}, format="json")

    assert (response.status_code, response.json()["status"]) == (200, "cancelled")  # ShopOps's decision stands
    cancel = CourierCall.objects.get(kind="cancel")
    assert (cancel.status, cancel.request, cancel.error) == ("failed", {"awb": "RM00000001"},
                                                             "TimeoutError: no answer in 10 s")  # fmt: skip
    assert Order.objects.get().awb == ""

    remote.failing = None
    again = api.post(f"/api/v1/shipments/{shipment.pk}/cancel/", {"reason": "Address changed"}, format="json")

    assert (again.status_code, again.json()["status"]) == (200, "cancelled")
    cancel.refresh_from_db()
    assert (cancel.status, cancel.attempts) == ("succeeded", 2)
    assert [entry for entry in remote.log if entry[0] == "cancel"] == [("cancel", cancel.key)] * 2
    refused = api.post(f"/api/v1/shipments/{shipment.pk}/cancel/", {"reason": "Again"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "transition_not_allowed")  # told: nothing to retry


def test_a_failed_pickup_booking_leaves_the_shipments_waiting_and_scheduling_again_reuses_its_key(merchant, remote):
    shipment = shipment_assign_awb(shipment=_shipment(merchant, _courier(merchant)), actor="system")
    remote.failing = ConnectionError("503 from the courier")

    with pytest.raises(DomainError) as refused:
        pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system")

    call = CourierCall.objects.get(kind="schedule_pickup")
    assert (refused.value.code, call.status, Shipment.objects.get().status) == (
        "courier_call_failed", "failed", "awb_assigned")  # fmt: skip

    remote.failing = None
    pickup = pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system")

    call.refresh_from_db()
    assert (pickup.token, call.status, call.pickup_id, call.attempts) == ("RPU-2", "succeeded", pickup.pk, 2)
    assert [entry for entry in remote.log if entry[0] == "schedule_pickup"] == [("schedule_pickup", call.key)] * 2
    assert (Shipment.objects.get().status, Shipment.objects.get().pickup_id) == ("pickup_scheduled", pickup.pk)


def test_ship_in_one_call_keeps_the_packed_order_when_the_courier_refuses_the_booking(merchant, remote):
    from tests.shipping.test_ship import SHIP, _body

    _courier(merchant)
    api = client_for(merchant)
    remote.failing = ConnectionError("courier API down")

    response = api.post(SHIP, _body(merchant), format="json")

    order, shipment, call = Order.objects.get(), Shipment.objects.get(), CourierCall.objects.get()
    assert response.status_code == 409
    assert response.json()["code"] == "courier_call_failed"
    assert (response.json()["details"]["step"], response.json()["details"]["steps"]) == ("awb_assigned", {
        "order_created": True, "confirmed": True, "awb_assigned": False, "pickup_scheduled": False,
        "label_generated": False, "invoice_generated": False, "manifest_generated": False})  # fmt: skip
    assert (order.status, shipment.status, shipment.awb, call.status) == ("packed", "new", "", "failed")

    remote.failing = None
    again = api.post(SHIP, {"order_id": order.pk, "options": {"print_label": False, "print_invoice": False}},
                     format="json")  # fmt: skip

    assert again.status_code == 201, again.json()
    assert (again.json()["awb"], again.json()["shipment"]["id"]) == ("RM00000001", shipment.pk)
    call.refresh_from_db()
    assert (call.status, call.attempts) == ("succeeded", 2)


def test_an_ndr_decision_stands_when_the_courier_cannot_be_told_and_the_same_action_tells_it_again(merchant, remote):
    shipment = make_shipment(merchant, ShipmentStatus.NDR)
    Courier.objects.filter(pk=shipment.courier_id).update(adapter=RemoteCourier.name)
    ndr = NDR.objects.get(shipment=shipment)
    remote.failing = ConnectionError("courier API down")

    decided = ndr_action(ndr=ndr, action="rto", actor="user:1")

    call = CourierCall.objects.get(kind="ndr_action")
    shipment.refresh_from_db()
    assert (decided.status, shipment.status, call.status, call.request["action"]) == (
        "rto", "rto_initiated", "failed", "rto")  # fmt: skip

    remote.failing = None
    again = ndr_action(ndr=ndr, action="rto", actor="user:1")  # resolved: only the courier is told again

    call.refresh_from_db()
    assert (again.status, call.status, call.attempts) == ("rto", "succeeded", 2)
    assert CourierCall.objects.filter(kind="ndr_action").count() == 1
    with pytest.raises(DomainError) as refused:
        ndr_action(ndr=ndr, action="rto", actor="user:1")
    assert refused.value.code == "ndr_resolved"


# -- a crash between the call and its outcome ------------------------------------------------------------------------


def test_a_booking_whose_outcome_was_lost_is_recorded_on_retry_without_a_second_booking(merchant, remote):
    courier = _courier(merchant, PooledRemoteCourier.name)
    shipment = _shipment(merchant, courier)
    _, call = book_intent(shipment=shipment, actor="system")
    booking = call_run(call)  # the courier booked it; the process died before recording the answer
    assert (booking, CourierCall.objects.get().status, Shipment.objects.get().status) == (
        Booking(awb="BL10000000"), "pending", "new")  # fmt: skip

    with pytest.raises(DomainError) as in_progress:  # the first attempt may still be under way
        shipment_assign_awb(shipment=shipment, actor="system")
    assert in_progress.value.code == "courier_call_in_progress"

    _age(call)
    shipment = shipment_assign_awb(shipment=shipment, actor="system")

    call.refresh_from_db()
    assert (shipment.awb, shipment.status) == ("BL10000000", "awb_assigned")
    assert (call.status, call.attempts, call.response) == ("succeeded", 2, {"awb": "BL10000000"})
    assert remote.log == [("book", call.key), ("book", call.key)]  # the same key: the courier books once
    assert awb_pool_remaining(courier.awb_pools.get()) == 999  # one number spent
    assert ShipmentEvent.objects.filter(shipment=shipment, kind="awb_assigned").count() == 1


def test_a_shipment_cancelled_while_the_courier_booked_it_stays_cancelled_and_the_booking_is_called_off(
    merchant, remote
):
    shipment = _shipment(merchant, _courier(merchant))
    _, call = book_intent(shipment=shipment, actor="system")
    awb = call_run(call)
    shipment_cancel(shipment=shipment, actor="user:1", reason="Customer cancelled")  # before the outcome

    _age(call)
    with pytest.raises(DomainError) as refused:
        shipment_assign_awb(shipment=shipment, actor="system")
    assert refused.value.code == "shipment_cancelled"  # nothing is booked again for a cancelled shipment
    from shipping.services.shipments import book_outcome

    with pytest.raises(DomainError) as late:  # the first attempt's answer arrives after all
        book_outcome(call, awb, actor="system")

    assert late.value.code == "shipment_cancelled"
    shipment.refresh_from_db()
    assert (shipment.status, shipment.awb) == ("cancelled", "")
    assert list(CourierCall.objects.order_by("id").values_list("kind", "status", "request")) == [
        ("book", "succeeded", {}), ("cancel", "succeeded", {"awb": "RM00000001"})]  # fmt: skip
    assert remote.log[-1] == ("cancel", CourierCall.objects.get(kind="cancel").key)


# -- the admin -------------------------------------------------------------------------------------------------------


def test_the_admin_lists_courier_calls_and_retries_a_failed_one(client, owner, merchant, remote,
                                                                django_assert_max_num_queries):  # fmt: skip
    client.force_login(owner)
    courier = _courier(merchant)
    remote.failing = ConnectionError("down")
    for _ in range(3):
        with pytest.raises(DomainError):
            shipment_assign_awb(shipment=_shipment(merchant, courier), actor="system")
    failed = CourierCall.objects.order_by("id").first()
    remote.failing = None

    with django_assert_max_num_queries(12):
        listing = client.get("/admin/shipping/couriercall/?status=failed")
    response = client.post(
        "/admin/shipping/couriercall/", {"action": "retry_selected", "_selected_action": [failed.pk]}
    )

    assert listing.status_code == 200
    assert listing.content.decode().count("ConnectionError: down") == 3
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Asked again 1 courier call."]
    failed.refresh_from_db()
    assert (failed.status, failed.shipment.status, failed.shipment.awb) == ("succeeded", "awb_assigned", "RM00000001")
    page = client.get(f"/admin/shipping/shipment/{failed.shipment_id}/change/")
    assert page.status_code == 200
    assert "courier calls" in page.content.decode().lower()


# -- no row lock is held while the courier answers (PostgreSQL) ------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("operation", ["assign_awb", "schedule_pickup", "cancel"])
def test_the_order_and_shipment_rows_are_free_while_the_courier_answers(merchant, remote, operation):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")
    shipment = _shipment(merchant, _courier(merchant))
    if operation != "assign_awb":
        shipment = shipment_assign_awb(shipment=shipment, actor="system")
    remote.entered.clear()
    remote.gate = threading.Event()
    run = {
        "assign_awb": lambda: shipment_assign_awb(shipment=shipment, actor="system"),
        "schedule_pickup": lambda: pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system"),
        "cancel": lambda: shipment_cancel(shipment=shipment, actor="system", reason="Address changed"),
    }[operation]
    outcome = {}

    def call_the_courier():
        try:
            outcome["result"] = run()
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc
        finally:
            connection.close()

    worker = threading.Thread(target=call_the_courier)
    worker.start()
    try:
        assert remote.entered.wait(timeout=30)  # the courier is answering now
        with transaction.atomic():  # would raise if the service held either row lock during the call
            Order.objects.select_for_update(nowait=True).get(pk=shipment.order_id)
            Shipment.objects.select_for_update(nowait=True).get(pk=shipment.pk)
    finally:
        remote.gate.set()
        worker.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    expected = {"assign_awb": "awb_assigned", "schedule_pickup": "pickup_scheduled", "cancel": "cancelled"}
    assert Shipment.objects.get(pk=shipment.pk).status == ShipmentStatus(expected[operation])
