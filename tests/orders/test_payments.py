"""Payments from the gateways' webhooks: refused unless signed with the connection's own secret (nothing stored),
stored once per event, applied at once whatever order the events come in, matched to the merchant's orders only,
and the order's payment status derived from them; the payments API, scoped to the merchant."""

import hashlib
import hmac
import json
from decimal import Decimal

import pytest
import stripe as stripe_sdk
from rest_framework.test import APIClient

from orders.models import GatewayPaymentStatus, OrderEvent, Payment, PaymentEvent, PaymentStatus
from orders.services.payments import payment_link
from shopops.errors import DomainError
from tests.conftest import client_for
from tests.orders.factories import gateway_connection, make_order, make_payment
from tests.orders.test_payment_gateways import razorpay_event, razorpay_payment

SECRET = "rzp-webhook-secret"
STRIPE_SECRET = "whsec_test_secret"
PAYMENTS = "/api/v1/payments/"


@pytest.fixture
def razorpay(merchant):
    return gateway_connection(merchant, webhook_secret=SECRET)


@pytest.fixture
def order(merchant):
    return make_order(merchant, payment_status="pending")  # paid at the gateway; total ₹998.00, two tees at ₹499


def post_razorpay(connection, event: dict, *, event_id: str, secret: str = SECRET, body: bytes | None = None):
    body = json.dumps(event).encode() if body is None else body
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return APIClient().post(connection.webhook_path, body, content_type="application/json",
                            HTTP_X_RAZORPAY_SIGNATURE=signature, HTTP_X_RAZORPAY_EVENT_ID=event_id)  # fmt: skip


def paying(order, **fields) -> dict:
    """A Razorpay payment entity paying ``order`` in full, naming it in its notes."""
    return razorpay_payment(**{"amount": int(order.total * 100), "notes": {"shopops_order": order.number}, **fields})


# -- the webhook: who may send it ---------------------------------------------------------------------------------


def test_a_captured_payment_is_recorded_matched_and_pays_its_order(razorpay, order):
    response = post_razorpay(razorpay, razorpay_event("payment.captured", paying(order)), event_id="ev_1")

    assert (response.status_code, response.json()) == (200, {"received": True, "duplicate": False})
    payment = Payment.objects.get()
    assert (payment.order, payment.status, payment.amount, payment.method, payment.reference) == (
        order, "captured", Decimal("998.00"), "upi", order.number)  # fmt: skip
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID
    event = OrderEvent.objects.get(order=order, message__startswith="Payment status")
    assert event.message == "Payment status: pending → paid."
    assert PaymentEvent.objects.get().outcome == f"Recorded as captured; order {order.number}"


@pytest.mark.parametrize(
    "secret, body_change",
    [("another-merchant-s-secret", b""), (SECRET, b" ")],
    ids=["wrong-secret", "body-changed-after-signing"],
)
def test_a_request_not_signed_with_the_connection_s_secret_is_refused_and_nothing_stored(razorpay, order, secret,
                                                                                          body_change):  # fmt: skip
    body = json.dumps(razorpay_event("payment.captured", paying(order))).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    response = APIClient().post(razorpay.webhook_path, body + body_change, content_type="application/json",
                                HTTP_X_RAZORPAY_SIGNATURE=signature, HTTP_X_RAZORPAY_EVENT_ID="ev_1")  # fmt: skip

    assert (response.status_code, response.json()["code"]) == (401, "invalid_signature")
    assert (PaymentEvent.objects.count(), Payment.objects.count()) == (0, 0)
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PENDING


def test_another_merchant_s_secret_cannot_sign_for_this_connection(razorpay, order, other_merchant):
    theirs = gateway_connection(other_merchant, webhook_secret="their-secret")

    response = post_razorpay(razorpay, razorpay_event("payment.captured", paying(order)), event_id="ev_1",
                             secret="their-secret")  # fmt: skip

    assert response.status_code == 401
    assert theirs.webhook_path != razorpay.webhook_path and Payment.objects.count() == 0


def test_an_unknown_or_inactive_address_is_404(razorpay, order):
    razorpay.is_active = False
    razorpay.save()

    response = post_razorpay(razorpay, razorpay_event("payment.captured", paying(order)), event_id="ev_1")

    assert response.status_code == 404
    assert APIClient().post("/api/v1/webhooks/payments/0123abcd/", b"{}", content_type="application/json").status_code \
        == 404  # fmt: skip


def test_an_event_not_taken_in_is_answered_and_not_stored(razorpay, order):
    response = post_razorpay(razorpay, razorpay_event("payment.dispute.created", paying(order)), event_id="ev_9")

    assert response.status_code == 200
    assert response.json()["received"] is False and "payment.captured" in response.json()["ignored"]
    assert PaymentEvent.objects.count() == 0


def test_a_body_that_is_not_json_is_a_400_once_signed(razorpay):
    response = post_razorpay(razorpay, {}, event_id="ev_1", body=b"not json")

    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


def test_a_signed_event_without_a_usable_payment_is_kept_with_the_reason(razorpay, order):
    response = post_razorpay(razorpay, razorpay_event("payment.captured", paying(order, currency="")), event_id="ev_3")

    assert response.status_code == 200
    stored = PaymentEvent.objects.get()
    assert (stored.payment, stored.outcome) == (None, "Not applied: '' is not a currency code.")
    assert Payment.objects.count() == 0


# -- twice, and out of order ----------------------------------------------------------------------------------------


def test_a_repeated_event_changes_nothing_the_second_time(razorpay, order):
    event = razorpay_event("payment.captured", paying(order))
    post_razorpay(razorpay, event, event_id="ev_1")

    again = post_razorpay(razorpay, event, event_id="ev_1")

    assert again.json() == {"received": True, "duplicate": True}
    assert (PaymentEvent.objects.count(), Payment.objects.count()) == (1, 1)
    assert OrderEvent.objects.filter(order=order, message__startswith="Payment status").count() == 1


def test_authorized_after_captured_leaves_the_payment_captured(razorpay, order):
    post_razorpay(razorpay, razorpay_event("payment.captured", paying(order)), event_id="ev_2")

    post_razorpay(razorpay, razorpay_event("payment.authorized", paying(order, status="authorized", captured=False)),
                  event_id="ev_1")  # fmt: skip
    post_razorpay(razorpay, razorpay_event("payment.failed", paying(order, status="failed")), event_id="ev_0")

    assert Payment.objects.get().status == GatewayPaymentStatus.CAPTURED
    assert list(PaymentEvent.objects.order_by("id").values_list("outcome", flat=True)) == [
        f"Recorded as captured; order {order.number}", f"Still captured; order {order.number}",
        f"Still captured; order {order.number}"]  # fmt: skip


def test_authorized_then_captured_then_refunds_in_part_and_in_full(razorpay, order):
    post_razorpay(razorpay, razorpay_event("payment.authorized", paying(order, status="authorized")), event_id="e1")
    assert Payment.objects.get().status == "authorized"
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PENDING  # authorized is not paid yet

    post_razorpay(razorpay, razorpay_event("payment.captured", paying(order)), event_id="e2")
    refund = {"id": "rfnd_1", "entity": "refund", "amount": 30000, "currency": "INR", "status": "processed"}
    post_razorpay(razorpay, razorpay_event("refund.processed", paying(order, amount_refunded=30000), refund=refund),
                  event_id="e3")  # fmt: skip
    payment = Payment.objects.get()
    order.refresh_from_db()
    assert (payment.status, payment.amount_refunded, order.payment_status) == (
        "partially_refunded", Decimal("300.00"), PaymentStatus.PARTIALLY_REFUNDED)  # fmt: skip

    rest = {**refund, "id": "rfnd_2", "amount": 69800}
    post_razorpay(razorpay, razorpay_event("refund.processed", paying(order, amount_refunded=99800), refund=rest),
                  event_id="e4")  # fmt: skip
    older = {**refund, "id": "rfnd_1"}  # the first refund's event again, late, with the older total
    post_razorpay(razorpay, razorpay_event("refund.created", paying(order, amount_refunded=30000), refund=older),
                  event_id="e5")  # fmt: skip
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, payment.amount_refunded, order.payment_status) == (
        "refunded", Decimal("998.00"), PaymentStatus.REFUNDED)  # fmt: skip


def test_a_refund_arriving_before_the_capture_still_counts_as_captured(razorpay, order):
    refund = {"id": "rfnd_1", "entity": "refund", "amount": 10000, "currency": "INR", "status": "processed"}
    post_razorpay(razorpay, razorpay_event("refund.processed", paying(order, amount_refunded=10000), refund=refund),
                  event_id="e2")  # fmt: skip
    post_razorpay(razorpay, razorpay_event("payment.authorized", paying(order, status="authorized")), event_id="e1")

    assert (Payment.objects.get().status, Payment.objects.get().amount_refunded) == (
        "partially_refunded", Decimal("100.00"))  # fmt: skip


# -- matching -------------------------------------------------------------------------------------------------------


def test_a_payment_naming_another_merchant_s_order_waits_unmatched(razorpay, other_merchant):
    theirs = make_order(other_merchant, payment_status="pending")

    post_razorpay(razorpay, razorpay_event("payment.captured", paying(theirs)), event_id="e1")

    payment = Payment.objects.get()
    assert (payment.merchant_id, payment.order) == (razorpay.merchant_id, None)
    theirs.refresh_from_db()
    assert theirs.payment_status == PaymentStatus.PENDING
    assert PaymentEvent.objects.get().outcome == "Recorded as captured; no order matched yet"


def test_a_later_payment_of_the_same_gateway_order_follows_the_first(razorpay, order):
    post_razorpay(razorpay, razorpay_event("payment.failed", paying(order, id="pay_first", status="failed")),
                  event_id="e1")  # fmt: skip
    second = paying(order, id="pay_second", notes=[])  # the retry carries no notes, only the Razorpay order

    post_razorpay(razorpay, razorpay_event("payment.captured", second), event_id="e2")

    assert Payment.objects.get(payment_id="pay_second").order == order
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID


def test_matching_by_hand(razorpay, merchant, order):
    post_razorpay(razorpay, razorpay_event("payment.captured", paying(order, notes=[], order_id="")), event_id="e1")
    payment = Payment.objects.get()
    assert payment.order is None

    payment_link(payment=payment, order=order, actor="user:1")

    order.refresh_from_db()
    assert (Payment.objects.get().order, order.payment_status) == (order, PaymentStatus.PAID)
    with pytest.raises(DomainError) as refused:
        payment_link(payment=payment, order=make_order(merchant), actor="user:1")
    assert refused.value.code == "payment_already_matched"


def test_a_stripe_payment_intent_and_its_refund(merchant, order):
    connection = gateway_connection(merchant, gateway="stripe", webhook_secret=STRIPE_SECRET)
    intent = {"id": "pi_3Mtw", "object": "payment_intent", "amount": int(order.total * 100), "currency": "inr",
              "payment_method_types": ["card"], "metadata": {"shopops_order": order.number}}  # fmt: skip
    charge = {"id": "ch_3Mtw", "object": "charge", "amount": int(order.total * 100), "amount_refunded": 49900,
              "currency": "inr", "payment_intent": "pi_3Mtw", "payment_method_details": {"type": "card"}}  # fmt: skip

    for event_id, event_type, obj in [
        ("evt_1", "payment_intent.succeeded", intent),
        ("evt_2", "charge.refunded", charge),
    ]:
        body = json.dumps({"id": event_id, "object": "event", "type": event_type, "created": 1686089970,
                           "data": {"object": obj}})  # fmt: skip
        header = stripe_sdk.WebhookSignature.generate_signature_header(body, STRIPE_SECRET)
        response = APIClient().post(connection.webhook_path, body.encode(), content_type="application/json",
                                    HTTP_STRIPE_SIGNATURE=header)  # fmt: skip
        assert response.status_code == 200

    payment = Payment.objects.get()
    order.refresh_from_db()
    assert (payment.payment_id, payment.status, payment.amount_refunded, order.payment_status) == (
        "pi_3Mtw", "partially_refunded", Decimal("499.00"), PaymentStatus.PARTIALLY_REFUNDED)  # fmt: skip


# -- the API ----------------------------------------------------------------------------------------------------------


def test_the_payments_api_lists_the_merchant_s_payments_and_the_unmatched_ones(merchant, other_merchant, order):
    matched = make_payment(merchant, order=order)
    waiting = make_payment(merchant)
    make_payment(other_merchant)
    api = client_for(merchant, ["payments:read"])

    listed = api.get(PAYMENTS).json()["results"]
    unmatched = api.get(PAYMENTS, {"matched": "false"}).json()["results"]
    detail = api.get(f"{PAYMENTS}{matched.pk}/").json()

    assert [row["id"] for row in listed] == [waiting.pk, matched.pk]
    assert [row["id"] for row in unmatched] == [waiting.pk]
    assert (detail["order"], detail["order_number"], detail["amount"], detail["events"]) == (
        order.pk, order.number, "499.00", [])  # fmt: skip


def test_the_payments_api_needs_its_scope(merchant):
    make_payment(merchant)

    assert client_for(merchant, ["orders:read"]).get(PAYMENTS).json()["code"] == "missing_scope"
