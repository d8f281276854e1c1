"""The courier services' webhook endpoint over HTTP: an account's own address, proved by its service's token, stored
once, applied by a worker to the account's own shipments only; everything else is refused before anything is
stored."""

import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from shipping.models import CourierWebhookDelivery, Shipment, ShipmentStatus, TrackingEvent
from tests.shipping.adapters.conftest import CREDENTIALS, account_courier, make_account
from tests.shipping.factories import make_shipment

HOOK_TOKEN = CREDENTIALS["delhivery"]["webhook_token"]
SCAN = (Path(__file__).parent / "adapters" / "recordings" / "delhivery" / "webhook_scan.json").read_text()


def url(account) -> str:
    return f"/api/v1/webhooks/couriers/{account.webhook_id}/"


def scan_of(awb: str) -> bytes:
    return json.dumps(json.loads(SCAN.replace("__REF__", "SO-1-1").replace("__AWB__", awb))).encode()


def awb_shipment(merchant, courier, awb: str) -> Shipment:
    """A shipment of ``courier`` in transit under ``awb`` (the booking itself is the adapters' tests' business)."""
    shipment = make_shipment(merchant, courier=courier)
    Shipment.objects.filter(pk=shipment.pk).update(awb=awb, status=ShipmentStatus.IN_TRANSIT)
    return Shipment.objects.get(pk=shipment.pk)


def post(account, body: bytes, token: str | None = HOOK_TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token is not None else {}
    return APIClient().post(url(account), body, content_type="application/json", **headers)


@pytest.fixture
def account(merchant):
    return make_account(merchant, "delhivery", options={"client_name": "ACME", "pickup_location": "Acme WH"})


@pytest.fixture
def courier(merchant, account):
    return account_courier(merchant, account, code="delhivery-surface", service_code="Surface")


def test_a_proved_push_is_stored_once_and_applied_by_the_worker(merchant, account, courier,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    shipment = awb_shipment(merchant, courier, "1490810000014")

    with django_capture_on_commit_callbacks(execute=True):
        first = post(account, scan_of("1490810000014"))
    with django_capture_on_commit_callbacks(execute=True):
        again = post(account, scan_of("1490810000014"))

    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"received": True, "duplicate": True})
    delivery = CourierWebhookDelivery.objects.get()
    assert (delivery.merchant_id, delivery.account_id, delivery.status, delivery.result["applied"]) == (
        merchant.pk, account.pk, "processed", 1)  # fmt: skip
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED
    assert TrackingEvent.objects.filter(shipment=shipment, source="webhook").count() == 1


@pytest.mark.parametrize("token", ["wrong-token", "", None])
def test_a_push_without_the_account_s_token_is_401_and_nothing_is_stored(merchant, account, courier, token):
    shipment = awb_shipment(merchant, courier, "1490810000014")

    response = post(account, scan_of("1490810000014"), token=token)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert CourierWebhookDelivery.objects.count() == 0
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.IN_TRANSIT


def test_an_unknown_or_inactive_address_is_404(merchant, account):
    account.is_active = False
    account.save(update_fields=["is_active"])

    assert post(account, scan_of("1490810000014")).status_code == 404
    response = APIClient().post("/api/v1/webhooks/couriers/not-an-address/", scan_of("1"),
                                content_type="application/json", HTTP_AUTHORIZATION=f"Token {HOOK_TOKEN}")  # fmt: skip
    assert response.status_code == 404
    assert CourierWebhookDelivery.objects.count() == 0


def test_a_body_that_is_not_a_json_object_is_400(merchant, account):
    for body in (b"not json", b"[1, 2]"):
        response = post(account, body)
        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"
    assert CourierWebhookDelivery.objects.count() == 0


def test_a_push_naming_another_merchant_s_awb_never_touches_it(merchant, other_merchant, account, courier,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    """A merchant knows its own account's address and token: a push through them naming another merchant's AWB
    (same service, same AWB format) is kept as an orphan of the sender's account, and the other shipment stays."""
    theirs_account = make_account(other_merchant, "delhivery", options={"client_name": "OTHER"})
    theirs = awb_shipment(other_merchant, account_courier(other_merchant, theirs_account, code="dlv"), "1490810000099")

    with django_capture_on_commit_callbacks(execute=True):
        response = post(account, scan_of("1490810000099"))

    assert response.status_code == 200
    delivery = CourierWebhookDelivery.objects.get()
    assert (delivery.merchant_id, delivery.result["orphans"], delivery.result["applied"]) == (merchant.pk, 1, 0)
    theirs.refresh_from_db()
    assert theirs.status == ShipmentStatus.IN_TRANSIT
    assert TrackingEvent.objects.filter(shipment=theirs).count() == 0
