"""Razorpay's and Stripe's webhooks read offline: signatures checked with the SDKs' helpers (the documented schemes:
Razorpay's hex HMAC-SHA256 of the raw body, Stripe's ``t=...,v1=...`` over ``"<t>.<body>"`` within 300 s), and
events read into one shape, money in the currency's units. Samples follow the gateways' documented payloads."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import stripe as stripe_sdk

from orders.payments import razorpay, stripe
from orders.payments.base import Refund, SignatureRefused, UnreadableEvent, from_minor_units

RAZORPAY_SECRET = "rzp-webhook-secret"
STRIPE_SECRET = "whsec_test_secret"


def razorpay_payment(**fields) -> dict:
    """A payment entity as Razorpay's payment.captured webhook sends it (amounts in paise)."""
    return {
        "id": "pay_DESlfW9H8K9uqM", "entity": "payment", "amount": 129900, "currency": "INR", "status": "captured",
        "order_id": "order_DESlLckIVRkHWj", "invoice_id": None, "international": False, "method": "upi",
        "amount_refunded": 0, "refund_status": None, "captured": True, "description": None, "card_id": None,
        "bank": None, "wallet": None, "vpa": "gaurav.kumar@upi", "email": "gaurav.kumar@example.com",
        "contact": "+919876543210", "notes": {"shopops_order": "SO-000031"}, "fee": 2598, "tax": 396,
        "error_code": None, "error_description": None, "created_at": 1567674599, **fields,
    }  # fmt: skip


def razorpay_event(event: str, payment: dict, **entities) -> dict:
    contains = ["payment", *entities]
    payload = {"payment": {"entity": payment}, **{name: {"entity": value} for name, value in entities.items()}}
    return {"entity": "event", "account_id": "acc_BFQ7uQEaa7j2z7", "event": event, "contains": contains,
            "payload": payload, "created_at": 1567674606}  # fmt: skip


def sign_razorpay(body: bytes, secret: str = RAZORPAY_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- Razorpay: signatures --------------------------------------------------------------------------------------


def test_razorpay_accepts_the_hex_hmac_of_the_raw_body():
    body = json.dumps(razorpay_event("payment.captured", razorpay_payment())).encode()

    razorpay.verify(body, sign_razorpay(body), [RAZORPAY_SECRET])  # no exception


def test_razorpay_accepts_the_previous_secret_during_a_rotation():
    body = b'{"event":"payment.captured"}'

    razorpay.verify(body, sign_razorpay(body, "old-secret"), [RAZORPAY_SECRET, "old-secret"])


@pytest.mark.parametrize(
    "signature, body_sent",
    [
        (lambda body: sign_razorpay(body, "another-merchant-s-secret"), lambda body: body),
        (lambda body: sign_razorpay(body), lambda body: body.replace(b"129900", b"1")),  # the body changed
        (lambda body: sign_razorpay(body).upper(), lambda body: body),  # hex, lower case, as Razorpay sends it
        (lambda body: "", lambda body: body),
    ],
    ids=["wrong-secret", "tampered-body", "not-its-hex", "missing"],
)
def test_razorpay_refuses_any_other_signature(signature, body_sent):
    body = json.dumps(razorpay_event("payment.captured", razorpay_payment())).encode()

    with pytest.raises(SignatureRefused):
        razorpay.verify(body_sent(body), signature(body), [RAZORPAY_SECRET])


# -- Razorpay: events ------------------------------------------------------------------------------------------


def test_a_captured_payment_is_read_in_rupees_with_its_reference():
    event = razorpay.read({"X-Razorpay-Event-Id": "KFh5IzY5bGIzwr"},
                          razorpay_event("payment.captured", razorpay_payment()))  # fmt: skip

    assert event == razorpay.GatewayEvent(
        event_id="KFh5IzY5bGIzwr", event_type="payment.captured", payment_id="pay_DESlfW9H8K9uqM",
        gateway_order_id="order_DESlLckIVRkHWj", method="upi", amount=Decimal("1299.00"), currency="INR",
        status="captured", amount_refunded=Decimal("0.00"), reference="SO-000031",
        occurred_at=datetime(2019, 9, 5, 9, 10, 6, tzinfo=UTC),
    )  # fmt: skip


def test_order_paid_names_the_order_by_its_receipt_when_the_payment_has_no_notes():
    payment = razorpay_payment(notes=[])  # Razorpay sends an empty list, not an object, for no notes
    order = {"id": "order_DESlLckIVRkHWj", "entity": "order", "amount": 129900, "amount_paid": 129900,
             "currency": "INR", "receipt": "SO-000042", "status": "paid"}  # fmt: skip

    event = razorpay.read({"X-Razorpay-Event-Id": "ev1"}, razorpay_event("order.paid", payment, order=order))

    assert (event.status, event.reference, event.gateway_order_id) == ("captured", "SO-000042", "order_DESlLckIVRkHWj")


def test_a_processed_refund_carries_the_refund_and_the_payment_s_refunded_total():
    payment = razorpay_payment(amount_refunded=50000, refund_status="partial")
    refund = {"id": "rfnd_FP8QHiV938haTz", "entity": "refund", "amount": 50000, "currency": "INR",
              "payment_id": "pay_DESlfW9H8K9uqM", "status": "processed", "speed_processed": "normal"}  # fmt: skip

    event = razorpay.read({"X-Razorpay-Event-Id": "ev2"}, razorpay_event("refund.processed", payment, refund=refund))

    assert (event.status, event.amount_refunded, event.refund) == (
        None, Decimal("500.00"), Refund("rfnd_FP8QHiV938haTz", Decimal("500.00"), "processed"))  # fmt: skip


def test_a_failed_payment_and_an_event_not_taken_in():
    failed = razorpay.read({}, razorpay_event("payment.failed", razorpay_payment(status="failed", method="card")))

    assert (failed.status, failed.method) == ("failed", "card")
    assert failed.event_id == "payment.failed:pay_DESlfW9H8K9uqM:1567674606"  # no header: made from the event
    assert razorpay.read({}, razorpay_event("payment.dispute.created", razorpay_payment())) is None


@pytest.mark.parametrize(
    "payment",
    [razorpay_payment(id=""), razorpay_payment(amount=-5), razorpay_payment(amount="1299"),
     razorpay_payment(currency="")],
    ids=["no-id", "negative-amount", "amount-as-text", "no-currency"],
)  # fmt: skip
def test_a_payment_without_id_amount_or_currency_is_unreadable(payment):
    with pytest.raises(UnreadableEvent):
        razorpay.read({}, razorpay_event("payment.captured", payment))


# -- Stripe: signatures ------------------------------------------------------------------------------------------


def stripe_event(event_type: str, obj: dict, event_id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy") -> dict:
    return {"id": event_id, "object": "event", "api_version": "2024-06-20", "created": 1686089970,
            "data": {"object": obj}, "livemode": False, "pending_webhooks": 1, "type": event_type}  # fmt: skip


def payment_intent(**fields) -> dict:
    return {"id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "object": "payment_intent", "amount": 250000, "amount_received":
            250000, "currency": "inr", "status": "succeeded", "payment_method_types": ["card"],
            "latest_charge": "ch_3MtwBwLkdIwHu7ix2bD7nFbB", "metadata": {"shopops_order": "SO-000007"},
            "created": 1680800504, **fields}  # fmt: skip


def stripe_header(body: str, secret: str = STRIPE_SECRET, at: int | None = None) -> str:
    return stripe_sdk.WebhookSignature.generate_signature_header(body, secret, timestamp=at)


def test_stripe_accepts_a_fresh_v1_signature_and_any_of_several():
    body = json.dumps(stripe_event("payment_intent.succeeded", payment_intent()))
    now = int(time.time())
    expected = hmac.new(STRIPE_SECRET.encode(), f"{now}.{body}".encode(), hashlib.sha256).hexdigest()

    stripe.verify(body.encode(), f"t={now},v1={expected}", [STRIPE_SECRET])
    stripe.verify(body.encode(), f"t={now},v1={'0' * 64},v1={expected}", [STRIPE_SECRET])  # rolling secrets
    assert stripe_header(body, at=now) == f"t={now},v1={expected}"  # the SDK's test helper signs the same way


@pytest.mark.parametrize(
    "header",
    [
        lambda body: stripe_header(body, "whsec_another_merchant"),
        lambda body: stripe_header(body, at=int(time.time()) - 301),  # older than the 300 s tolerance
        lambda body: stripe_header(body).replace("v1=", "v0="),  # only v1 counts
        lambda body: "",
    ],
    ids=["wrong-secret", "too-old", "v0-only", "missing"],
)
def test_stripe_refuses_any_other_signature(header):
    body = json.dumps(stripe_event("payment_intent.succeeded", payment_intent()))

    with pytest.raises(SignatureRefused):
        stripe.verify(body.encode(), header(body), [STRIPE_SECRET])


# -- Stripe: events ----------------------------------------------------------------------------------------------


def test_a_succeeded_payment_intent_is_captured_in_rupees():
    event = stripe.read(stripe_event("payment_intent.succeeded", payment_intent()))

    assert event == stripe.GatewayEvent(
        event_id="evt_1NG8Du2eZvKYlo2CUI79vXWy", event_type="payment_intent.succeeded",
        payment_id="pi_3MtwBwLkdIwHu7ix28a3tqPa", gateway_order_id="", method="card", amount=Decimal("2500.00"),
        currency="INR", status="captured", amount_refunded=None, reference="SO-000007",
        occurred_at=datetime(2023, 6, 6, 22, 19, 30, tzinfo=UTC),
    )  # fmt: skip


def test_a_refunded_charge_reports_the_refunded_total_of_its_payment_intent():
    charge = {"id": "ch_3MtwBwLkdIwHu7ix2bD7nFbB", "object": "charge", "amount": 250000, "amount_refunded": 100000,
              "currency": "inr", "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "refunded": False,
              "payment_method_details": {"type": "card"}, "metadata": {}}  # fmt: skip

    event = stripe.read(stripe_event("charge.refunded", charge))

    assert (event.payment_id, event.status, event.amount_refunded) == (
        "pi_3MtwBwLkdIwHu7ix28a3tqPa", None, Decimal("1000.00"))  # fmt: skip


def test_a_completed_checkout_session_names_its_order_by_client_reference_id():
    session = {"id": "cs_test_a1b2", "object": "checkout.session", "amount_total": 99900, "currency": "inr",
               "client_reference_id": "SO-000011", "payment_intent": "pi_3Mtw", "payment_status": "paid",
               "payment_method_types": ["card", "upi"], "metadata": {}}  # fmt: skip

    event = stripe.read(stripe_event("checkout.session.completed", session))

    assert (event.payment_id, event.gateway_order_id, event.reference, event.status, event.amount) == (
        "pi_3Mtw", "cs_test_a1b2", "SO-000011", "captured", Decimal("999.00"))  # fmt: skip
    unpaid = stripe.read(stripe_event("checkout.session.completed", {**session, "payment_status": "unpaid"}))
    assert unpaid.status is None  # a delayed method: the PaymentIntent's own event will say
    assert stripe.read(stripe_event("checkout.session.completed", {**session, "payment_intent": None})) is None


def test_stripe_events_not_taken_in_and_unreadable_ones():
    assert stripe.read(stripe_event("customer.created", {"id": "cus_1", "currency": "inr"})) is None
    with pytest.raises(UnreadableEvent):
        stripe.read(stripe_event("payment_intent.succeeded", payment_intent(amount=None)))
    with pytest.raises(UnreadableEvent):
        stripe.read(stripe_event("payment_intent.succeeded", payment_intent(), event_id=""))


def test_minor_units_follow_the_currency():
    assert from_minor_units(129900, "INR") == Decimal("1299.00")
    assert from_minor_units(1500, "JPY") == Decimal("1500")  # yen have no minor unit
    assert from_minor_units(1000, "KWD") == Decimal("1.000")
    with pytest.raises(UnreadableEvent):
        from_minor_units(100, "XYZQ")
