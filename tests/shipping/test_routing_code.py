"""The courier's routing (sort) code: a booking answers a Booking (AWB and routing code; a bare AWB string still
works), ShopOps keeps it on the shipment, the API, the webhook and the admin show it and the label prints it. The
simulated courier answers one derived from the destination pincode; the offline courier none. A broken answer is the
booking call's failure, recorded, and books nothing."""

import pytest

from orders.models import OrderStatus
from shipping.adapters import ADAPTERS, Booking, CourierAdapter, OfflineAdapter, simulated_routing_code
from shipping.models import CourierCall, Shipment, ShipmentEvent
from shipping.services.shipments import shipment_assign_awb
from shopops.errors import DomainError
from shopops.webhooks.models import WebhookDelivery
from tests.orders.factories import ADDRESS, make_order
from tests.shipping.factories import make_shipment, shipping_courier
from tests.shopops.factories import MembershipFactory
from tests.shopops.webhooks import WebhookEndpointFactory

pytestmark = pytest.mark.django_db
MUMBAI = {**ADDRESS, "city": "Mumbai", "state": "Maharashtra", "postcode": "400050"}


class SortingCourier(CourierAdapter):
    """A courier whose booking answers what the test sets: a Booking, a bare AWB or something broken."""

    name = "sorting"
    answer: object = None

    def uses_pool(self, courier) -> bool:
        return False

    def assign_awb(self, shipment, allocate_from_pool, *, key):
        return self.answer


@pytest.fixture
def sorting(monkeypatch):
    monkeypatch.setitem(ADAPTERS, SortingCourier.name, SortingCourier)
    return SortingCourier


def _sorting_courier(merchant):
    """A courier with its own AWBs (no pool), booked through SortingCourier (set on the row, as a new adapter's
    courier would be once it is registered)."""
    courier = shipping_courier(merchant, code="sorting", name="Sorting Co", pool=None)
    courier.adapter = SortingCourier.name
    courier.save(update_fields=["adapter"])
    return courier


def test_the_simulated_courier_answers_a_routing_code_from_the_destination_pincode(merchant):
    courier = shipping_courier(merchant, code="demo", name="Demo Express", adapter="simulated")
    bengaluru = make_shipment(merchant, courier=courier)
    mumbai = make_shipment(merchant, courier=courier, shipping_address=MUMBAI)

    first = shipment_assign_awb(shipment=bengaluru, actor="system")
    second = shipment_assign_awb(shipment=mumbai, actor="system")

    assert (first.awb, first.routing_code) == ("DE10000000", "SIM/560/L12")
    assert (second.awb, second.routing_code) == ("DE10000001", "SIM/400/L24")
    assert [simulated_routing_code(p) for p in ("560025", "560025", "400050", "")] == [
        "SIM/560/L12", "SIM/560/L12", "SIM/400/L24", "SIM/000/L03"]  # fmt: skip
    call = CourierCall.objects.get(shipment=bengaluru)
    assert call.response == {"awb": "DE10000000", "routing_code": "SIM/560/L12"}
    event = ShipmentEvent.objects.get(shipment=bengaluru, kind="awb_assigned")
    assert event.data == {"awb": "DE10000000", "courier": "demo", "routing_code": "SIM/560/L12"}


def test_the_offline_courier_answers_no_routing_code(merchant):
    shipment = shipment_assign_awb(shipment=make_shipment(merchant), actor="system")

    assert (shipment.awb, shipment.routing_code) == ("BL10000000", "")
    assert CourierCall.objects.get().response == {"awb": "BL10000000"}


def test_the_api_shows_the_routing_code(api, merchant):
    courier = shipping_courier(merchant, code="demo", name="Demo Express", adapter="simulated")
    shipment = make_shipment(merchant, courier=courier)

    booked = api.post(f"/api/v1/shipments/{shipment.pk}/assign-awb/", {}, format="json")

    assert (booked.status_code, booked.json()["routing_code"]) == (200, "SIM/560/L12")
    assert api.get(f"/api/v1/shipments/{shipment.pk}/").json()["routing_code"] == "SIM/560/L12"
    assert [row["routing_code"] for row in api.get("/api/v1/shipments/").json()["results"]] == ["SIM/560/L12"]


def test_the_awb_assigned_webhook_carries_the_routing_code(merchant):
    courier = shipping_courier(merchant, code="demo", name="Demo Express", adapter="simulated")
    shipment = make_shipment(merchant, courier=courier)
    WebhookEndpointFactory(merchant=merchant, events=["shipment.awb_assigned"])

    shipment_assign_awb(shipment=shipment, actor="system")

    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.data["shipment"]["awb"], delivery.data["shipment"]["routing_code"]) == ("DE10000000",
                                                                                            "SIM/560/L12")  # fmt: skip


def test_an_adapter_answers_a_booking_or_a_bare_awb(merchant, sorting):
    courier = _sorting_courier(merchant)

    sorting.answer = Booking(awb=" SRT0001 ", routing_code=" BLR/HSR/A12 ")
    with_code = shipment_assign_awb(shipment=make_shipment(merchant, courier=courier), actor="system")
    sorting.answer = "SRT0002"
    bare = shipment_assign_awb(shipment=make_shipment(merchant, courier=courier), actor="system")

    assert [(s.awb, s.routing_code) for s in Shipment.objects.order_by("pk")] == [
        ("SRT0001", "BLR/HSR/A12"), ("SRT0002", "")]  # fmt: skip
    assert (with_code.routing_code, bare.routing_code) == ("BLR/HSR/A12", "")


@pytest.mark.parametrize(("answer", "error"), [
    (Booking(awb=""), "ValueError: The courier's booking has no AWB."),
    ("   ", "ValueError: The courier's booking has no AWB."),
    (Booking(awb="SRT0003", routing_code="X" * 41),
     f"ValueError: The routing code '{'X' * 41}' is longer than 40 characters."),
    (None, "ValueError: A booking's AWB and routing code are strings, not None."),
])  # fmt: skip
def test_a_broken_booking_answer_is_the_calls_failure_and_books_nothing(merchant, sorting, answer, error):
    courier = _sorting_courier(merchant)
    shipment = make_shipment(merchant, courier=courier)
    sorting.answer = answer

    with pytest.raises(DomainError) as refused:
        shipment_assign_awb(shipment=shipment, actor="system")

    assert refused.value.code == "courier_call_failed"
    call = CourierCall.objects.get()
    assert (call.status, call.error) == ("failed", error)
    shipment.refresh_from_db()
    assert (shipment.status, shipment.awb, shipment.routing_code) == ("new", "", "")


def test_moving_to_another_courier_drops_the_old_routing_code(merchant, sorting):
    demo = shipping_courier(merchant, code="demo", name="Demo Express", adapter="simulated")
    shipment = shipment_assign_awb(shipment=make_shipment(merchant, courier=demo), actor="system")
    assert shipment.routing_code == "SIM/560/L12"
    sorting.answer = Booking(awb="")  # the new courier's booking fails: the shipment waits, new, for it

    with pytest.raises(DomainError):
        shipment_assign_awb(shipment=shipment, courier=_sorting_courier(merchant), actor="system")

    moved = Shipment.objects.get(pk=shipment.pk)
    assert (moved.courier.code, moved.status, moved.awb, moved.routing_code) == ("sorting", "new", "", "")
    sorting.answer = "SRT0009"
    booked = shipment_assign_awb(shipment=moved, actor="system")
    assert (booked.awb, booked.routing_code) == ("SRT0009", "")


def test_the_admin_shows_the_routing_code(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="owner").user)
    demo = shipping_courier(merchant, code="demo", name="Demo Express", adapter="simulated")
    shipment = shipment_assign_awb(shipment=make_shipment(merchant, courier=demo), actor="system")

    changelist = client.get("/admin/shipping/shipment/")
    page = client.get(f"/admin/shipping/shipment/{shipment.pk}/change/")

    assert '<td class="field-routing_code">SIM/560/L12</td>' in changelist.content.decode()
    assert page.status_code == 200
    assert '<div class="readonly">SIM/560/L12</div>' in page.content.decode()


def test_the_offline_adapters_booking_is_a_booking():
    assert OfflineAdapter().assign_awb(None, lambda: "BL1", key="k") == Booking(awb="BL1")
    assert Booking.of("BL1") == Booking(awb="BL1", routing_code="")


def test_an_order_to_another_pincode_gets_its_own_code(merchant):
    demo = shipping_courier(merchant, code="demo", name="Demo Express", adapter="simulated")
    order = make_order(merchant, OrderStatus.PACKED, shipping_address=MUMBAI)

    shipment = shipment_assign_awb(shipment=make_shipment(merchant, courier=demo, order=order), actor="system")

    assert shipment.routing_code == "SIM/400/L24"
