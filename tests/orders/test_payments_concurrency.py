"""Gateway events arriving at the same moment (PostgreSQL, real threads): two first events of one payment make one
payment with both applied; one event delivered twice at once is applied once."""

import hashlib
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from orders.models import OrderEvent, Payment, PaymentEvent, PaymentStatus
from orders.services.payments import payment_webhook_receive
from tests.orders.factories import gateway_connection, make_order
from tests.orders.test_payment_gateways import razorpay_event, razorpay_payment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SECRET = "rzp-webhook-secret"


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real concurrent inserts: set DATABASE_URL (CI does)")


def race(*calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def delivery(gateway, event: dict, event_id: str):
    body = json.dumps(event).encode()
    headers = {"X-Razorpay-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
               "X-Razorpay-Event-Id": event_id}  # fmt: skip
    return lambda: payment_webhook_receive(webhook_id=gateway.webhook_id, headers=headers, body=body)


def test_two_first_events_of_one_payment_at_once_make_one_payment_with_both_applied(merchant):
    gateway = gateway_connection(merchant, webhook_secret=SECRET)
    order = make_order(merchant, payment_status="pending")
    entity = {"amount": int(order.total * 100), "notes": {"shopops_order": order.number}}

    received = race(
        delivery(gateway, razorpay_event("payment.authorized", razorpay_payment(status="authorized", **entity)), "e1"),
        delivery(gateway, razorpay_event("payment.captured", razorpay_payment(**entity)), "e2"),
    )

    assert [r.new for r in received] == [True, True]
    assert Payment.objects.count() == 1 and PaymentEvent.objects.count() == 2
    assert Payment.objects.get().status == "captured"  # whichever came first
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID
    assert OrderEvent.objects.filter(order=order, message__startswith="Payment status").count() == 1


def test_one_event_delivered_twice_at_once_is_applied_once(merchant):
    gateway = gateway_connection(merchant, webhook_secret=SECRET)
    order = make_order(merchant, payment_status="pending")
    event = razorpay_event("payment.captured", razorpay_payment(amount=int(order.total * 100),
                                                                  notes={"shopops_order": order.number}))  # fmt: skip

    received = race(delivery(gateway, event, "e1"), delivery(gateway, event, "e1"))

    assert sorted(r.new for r in received) == [False, True]
    assert (Payment.objects.count(), PaymentEvent.objects.count()) == (1, 1)
    assert OrderEvent.objects.filter(order=order, message__startswith="Payment status").count() == 1
