"""Payments in the dashboard: gateway accounts connected with their secrets write-only (stored encrypted, never on a
page) and their webhook address shown; payments and their events listed for the user's merchants only, the
unmatched ones matched to an order by hand; an order's payments on its page; a constant number of queries a page."""

import hashlib
import hmac
import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from orders.admin.payments import PaymentAdmin
from orders.models import GatewayConnection, OrderEvent, OrderEventKind, Payment, PaymentEvent, PaymentStatus
from orders.services.payments import payment_webhook_receive
from tests.orders.factories import gateway_connection, make_order
from tests.orders.test_payment_gateways import razorpay_event, razorpay_payment
from tests.shopops.factories import MembershipFactory

GATEWAYS = "/admin/orders/gatewayconnection/"
PAYMENTS = "/admin/orders/payment/"
EVENTS = "/admin/orders/paymentevent/"
ORDERS = "/admin/orders/order/"
SECRET = "rzp-webhook-secret"
KEY_SECRET = "rzp-key-secret-4f9a1c"
WEBHOOK_SECRET = "rzp-webhook-secret-8b2e7d"


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def razorpay(merchant):
    return gateway_connection(merchant, webhook_secret=SECRET)


def receive(connection, *, payment_id: str, reference: str, event_id: str, event: str = "payment.captured",
            amount: int = 99800, entities: dict | None = None, **fields) -> Payment:  # fmt: skip
    """The payment as ``connection``'s Razorpay webhook reports it (with ``entities``, e.g. a refund), signed with
    the connection's secret."""
    entity = razorpay_payment(id=payment_id, amount=amount, notes={"shopops_order": reference},
                              order_id=f"order_{payment_id[4:]}", **fields)  # fmt: skip
    body = json.dumps(razorpay_event(event, entity, **(entities or {}))).encode()
    signature = hmac.new(connection.credentials["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
    received = payment_webhook_receive(webhook_id=connection.webhook_id, body=body, headers={
        "X-Razorpay-Signature": signature, "X-Razorpay-Event-Id": event_id})  # fmt: skip
    return received.event.payment


def listed(response) -> list[str]:
    return [str(row) for row in response.context["cl"].result_list]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def match(client, payments, number: str | None = None):
    """The "Match to an order…" action on ``payments``: its form page, or (with ``number``) the form sent."""
    data = {"action": "match_selected", ACTION_CHECKBOX_NAME: [payment.pk for payment in payments], "index": 0}
    if number is not None:
        data.update({"apply": "Match to the order", "match-number": number})
    return client.post(PAYMENTS, data)


def stored_token(connection: GatewayConnection) -> str:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT credentials FROM {GatewayConnection._meta.db_table} WHERE id = %s", [connection.pk])
        return cursor.fetchone()[0]


# -- gateway connections ----------------------------------------------------------------------------------------


def test_a_gateway_connected_in_the_admin_keeps_its_secrets_encrypted_and_never_shows_them(desk, merchant):
    response = desk.post(f"{GATEWAYS}add/", {
        "merchant": str(merchant.pk), "name": "Razorpay live", "gateway": "razorpay", "is_live": "on",
        "is_active": "on", "credential_key_id": "rzp_live_ILgsfZCZoFIKMb", "credential_key_secret": KEY_SECRET,
        "credential_webhook_secret": WEBHOOK_SECRET})  # fmt: skip

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else None
    connection = merchant.gateway_connections.get(name="Razorpay live")
    assert (connection.gateway, connection.is_live, connection.credentials) == ("razorpay", True, {
        "key_id": "rzp_live_ILgsfZCZoFIKMb", "key_secret": KEY_SECRET, "webhook_secret": WEBHOOK_SECRET})  # fmt: skip
    token = stored_token(connection)
    assert KEY_SECRET not in token and WEBHOOK_SECRET not in token and "rzp_live" not in token
    page = desk.get(f"{GATEWAYS}{connection.pk}/change/").content.decode()
    assert KEY_SECRET not in page and WEBHOOK_SECRET not in page
    assert 'value="rzp_live_ILgsfZCZoFIKMb"' in page  # the key ID is not secret
    assert page.count("(stored; leave blank to keep it)") == 2
    assert f"<code>http://127.0.0.1:8000/api/v1/webhooks/payments/{connection.webhook_id}/</code>" in page
    assert "Paste this address into Razorpay's dashboard as the webhook URL, with the events order.paid, " in page


def test_a_secret_left_blank_keeps_the_stored_one_and_a_new_one_replaces_it(desk, merchant, razorpay):
    response = desk.post(f"{GATEWAYS}{razorpay.pk}/change/", {
        "name": "Razorpay (test)", "is_active": "on", "credential_key_id": "rzp_test_1DP5mmOlF5G5ag",
        "credential_key_secret": "", "credential_webhook_secret": "",
        "credential_previous_webhook_secret": ""})  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else None
    razorpay.refresh_from_db()
    assert (razorpay.name, razorpay.credentials) == ("Razorpay (test)", {
        "key_id": "rzp_test_1DP5mmOlF5G5ag", "key_secret": "rzp-key-secret", "webhook_secret": SECRET})  # fmt: skip

    desk.post(f"{GATEWAYS}{razorpay.pk}/change/", {
        "name": "Razorpay (test)", "is_active": "on", "credential_key_id": "rzp_test_1DP5mmOlF5G5ag",
        "credential_webhook_secret": "new-secret", "credential_previous_webhook_secret": SECRET})  # fmt: skip

    razorpay.refresh_from_db()
    assert razorpay.credentials == {"key_id": "rzp_test_1DP5mmOlF5G5ag", "key_secret": "rzp-key-secret",
                                    "webhook_secret": "new-secret", "previous_webhook_secret": SECRET}  # fmt: skip


def test_another_gateway_s_credential_and_a_name_in_use_are_form_errors(desk, merchant, razorpay):
    stripe = gateway_connection(merchant, "stripe")

    wrong_key = desk.post(f"{GATEWAYS}add/", {
        "merchant": str(merchant.pk), "name": "Stripe EU", "gateway": "stripe", "is_active": "on",
        "credential_key_secret": "typed-for-the-wrong-gateway"})  # fmt: skip
    name_in_use = desk.post(f"{GATEWAYS}{stripe.pk}/change/", {"name": razorpay.name, "is_active": "on"})

    assert wrong_key.status_code == name_in_use.status_code == 200
    assert wrong_key.context["adminform"].form.errors == {
        "credential_key_secret": ["Stripe has no key secret; that is Razorpay's."]}  # fmt: skip
    assert name_in_use.context["adminform"].form.errors == {
        "name": ["A payment gateway named 'razorpay account' already exists."]}  # fmt: skip
    assert sorted(GatewayConnection.objects.values_list("name", flat=True)) == ["razorpay account", "stripe account"]


def test_another_merchant_s_gateway_is_out_of_reach(desk, other_merchant):
    theirs = gateway_connection(other_merchant)

    assert listed(desk.get(GATEWAYS)) == []
    assert desk.get(f"{GATEWAYS}{theirs.pk}/change/").status_code == 302  # the admin's "does not exist" redirect
    assert desk.post(f"{GATEWAYS}{theirs.pk}/change/", {"name": "Mine now", "is_active": "on"}).status_code == 302
    theirs.refresh_from_db()
    assert theirs.name == "razorpay account"


# -- payments and events ----------------------------------------------------------------------------------------


def test_the_payments_list_shows_the_user_s_merchants_payments_only(desk, merchant, other_merchant, razorpay):
    order = make_order(merchant, payment_status="pending")
    ours = receive(razorpay, payment_id="pay_OURS00000001", reference=order.number, event_id="ev_1")
    theirs = receive(gateway_connection(other_merchant, webhook_secret="their-secret"), payment_id="pay_THEIRS000001",
                     reference="SO-000001", event_id="ev_1")  # fmt: skip

    response = desk.get(PAYMENTS)

    assert listed(response) == ["pay_OURS00000001"]
    page = response.content.decode()
    assert f'<a href="{ORDERS}{order.pk}/change/">{order.number}</a>' in page
    assert "₹998.00" in page and "₹0.00" in page
    assert '<td class="field-last_event_at nowrap">5 Sep 2019, 14:40</td>' in page  # in the merchant's zone (IST)
    assert ("match_selected", "Match to an order…") in response.context["action_form"].fields["action"].choices
    assert desk.get(f"{PAYMENTS}{ours.pk}/change/").status_code == 200
    assert desk.get(f"{PAYMENTS}{theirs.pk}/change/").status_code == 302
    assert desk.get(f"{EVENTS}{theirs.events.get().pk}/change/").status_code == 302
    assert [event.event_id for event in desk.get(EVENTS).context["cl"].result_list] == ["ev_1"]
    assert listed(desk.get(PAYMENTS, {"q": "pay_THEIRS000001"})) == []


def test_the_matched_filter_and_the_exact_search(desk, merchant, razorpay):
    order = make_order(merchant)
    matched = receive(razorpay, payment_id="pay_MATCHED00001", reference=order.number, event_id="ev_1")
    unmatched = receive(razorpay, payment_id="pay_UNMATCHED001", reference="WEB-77", event_id="ev_2")

    assert listed(desk.get(PAYMENTS, {"matched": "no"})) == [unmatched.payment_id]
    assert listed(desk.get(PAYMENTS, {"matched": "yes"})) == [matched.payment_id]
    assert "Unmatched" in desk.get(PAYMENTS, {"matched": "no"}).content.decode()
    assert listed(desk.get(PAYMENTS, {"q": " pay_UNMATCHED001 "})) == [unmatched.payment_id]
    assert listed(desk.get(PAYMENTS, {"q": "order_MATCHED00001"})) == [matched.payment_id]
    assert listed(desk.get(PAYMENTS, {"q": "web-77"})) == [unmatched.payment_id]  # the reference, as typed or upper
    assert listed(desk.get(PAYMENTS, {"q": "pay_UNMATCHED"})) == []  # exact, not a part


def test_the_payment_page_is_read_only_with_its_events_oldest_first(desk, merchant, razorpay):
    payment = receive(razorpay, payment_id="pay_EVENTS000001", reference="WEB-1", event_id="ev_auth",
                      event="payment.authorized", status="authorized")  # fmt: skip
    receive(razorpay, payment_id="pay_EVENTS000001", reference="WEB-1", event_id="ev_capture")

    response = desk.get(f"{PAYMENTS}{payment.pk}/change/")

    (events,) = response.context["inline_admin_formsets"]
    assert [form.instance.event_id for form in events.formset.forms] == ["ev_auth", "ev_capture"]
    assert response.context["has_change_permission"] is False
    assert 'name="_save"' not in response.content.decode()
    assert desk.post(f"{PAYMENTS}{payment.pk}/change/", {"reference": "changed"}).status_code == 403
    payment.refresh_from_db()
    assert (payment.status, payment.reference) == ("captured", "WEB-1")


def test_the_event_page_shows_its_payload_and_links_its_payment(desk, merchant, razorpay):
    payment = receive(razorpay, payment_id="pay_PAYLOAD00001", reference="WEB-1", event_id="ev_1")
    event = PaymentEvent.objects.get()

    page = desk.get(f"{EVENTS}{event.pk}/change/").content.decode()

    assert '<pre style="white-space: pre-wrap; max-width: 60em; margin: 0">{\n  &quot;account_id&quot;' in page
    assert f'<a href="{PAYMENTS}{payment.pk}/change/">pay_PAYLOAD00001</a>' in page
    assert "Recorded as captured; no order matched yet" in page
    assert listed(desk.get(EVENTS, {"q": "ev_1"})) == [str(event)]
    assert listed(desk.get(EVENTS, {"event_type": "payment.failed"})) == []
    assert listed(desk.get(EVENTS, {"connection__id__exact": razorpay.pk})) == [str(event)]


# -- matching by hand -------------------------------------------------------------------------------------------


def test_matching_an_unmatched_captured_payment_pays_its_order(desk, merchant, razorpay):
    order = make_order(merchant, payment_status="pending")
    payment = receive(razorpay, payment_id="pay_LATE00000001", reference="WEB-1001", event_id="ev_1")
    assert payment.order is None

    form_page = match(desk, [payment])
    assert form_page.status_code == 200
    assert "Match 1 payment to an order of its merchant." in form_page.content.decode()

    response = match(desk, [payment], order.number.lower())

    assert response.status_code == 302
    assert messages_of(response) == ["Matched 1 payment."]
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.order, order.payment_status) == (order, PaymentStatus.PAID)
    events = OrderEvent.objects.filter(order=order, kind__in=[OrderEventKind.PAYMENT, OrderEventKind.UPDATED])
    assert list(events.order_by("id").values_list("message", flat=True)) == [
        "Payment pay_LATE00000001 matched to the order.", "Payment status: pending → paid."]  # fmt: skip


def test_another_merchant_s_order_number_is_no_order(desk, merchant, other_merchant, razorpay):
    theirs = make_order(other_merchant)
    payment = receive(razorpay, payment_id="pay_LATE00000001", reference="WEB-1001", event_id="ev_1")

    response = match(desk, [payment], theirs.number)

    assert response.status_code == 200  # the form again, to correct the number
    assert response.context["form"].errors == {"number": [f"No order {theirs.number}."]}
    payment.refresh_from_db()
    assert payment.order is None


def test_an_already_matched_payment_or_another_currency_is_refused_in_words(desk, merchant, razorpay):
    order, other = make_order(merchant), make_order(merchant)
    matched = receive(razorpay, payment_id="pay_MATCHED00001", reference=order.number, event_id="ev_1")
    dollars = receive(razorpay, payment_id="pay_DOLLARS00001", reference="WEB-1", event_id="ev_2", currency="USD")
    late = receive(razorpay, payment_id="pay_LATE00000001", reference="WEB-2", event_id="ev_3")

    response = match(desk, [matched, dollars, late], other.number)

    assert messages_of(response) == [
        "Matched 1 payment; refused 2: pay_MATCHED00001 (is already matched to an order), pay_DOLLARS00001 (is in "
        f"USD; order {other.number} is in INR)."]  # fmt: skip
    assert list(Payment.objects.order_by("pk").values_list("order__number", flat=True)) == [
        order.number, None, other.number]  # fmt: skip


def test_a_viewer_reads_the_lists_and_is_not_offered_the_match_action(client, merchant, razorpay):
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    order = make_order(merchant)
    payment = receive(razorpay, payment_id="pay_LATE00000001", reference="WEB-1001", event_id="ev_1")
    client.force_login(viewer)

    response = client.get(PAYMENTS)

    assert listed(response) == [payment.payment_id]
    assert response.context["action_form"] is None  # no action it may run
    assert client.get(EVENTS).status_code == client.get(GATEWAYS).status_code == 200
    assert client.get(f"{PAYMENTS}{payment.pk}/change/").status_code == 200
    assert client.get(f"{GATEWAYS}add/").status_code == 403
    gateway_page = client.get(f"{GATEWAYS}{razorpay.pk}/change/")
    assert gateway_page.status_code == 200
    assert SECRET not in gateway_page.content.decode() and "rzp-key-secret" not in gateway_page.content.decode()
    match(client, [payment], order.number)
    payment.refresh_from_db()
    assert payment.order is None


# -- the order's page -------------------------------------------------------------------------------------------


def test_the_order_page_shows_its_payments(desk, merchant, razorpay):
    order = make_order(merchant)
    payment = receive(razorpay, payment_id="pay_ORDERPAGE001", reference=order.number, event_id="ev_1")
    refund = {"id": "rfnd_FP8QHiV938haTz", "entity": "refund", "amount": 20000, "currency": "INR",
              "payment_id": payment.payment_id, "status": "processed"}  # fmt: skip
    receive(razorpay, payment_id=payment.payment_id, reference=order.number, event_id="ev_2", amount_refunded=20000,
            event="refund.processed", entities={"refund": refund})  # fmt: skip
    receive(razorpay, payment_id="pay_SOMEONEELSE1", reference="WEB-9", event_id="ev_3")  # not this order's

    response = desk.get(f"{ORDERS}{order.pk}/change/")

    (payments,) = [inline for inline in response.context["inline_admin_formsets"]
                   if inline.formset.model is Payment]  # fmt: skip
    assert [form.instance for form in payments.formset.forms] == [payment]
    page = response.content.decode()
    assert f'<a href="{PAYMENTS}{payment.pk}/change/">pay_ORDERPAGE001</a>' in page
    assert "₹998.00" in page and "₹200.00" in page and "Partially refunded" in page


# -- queries per page -------------------------------------------------------------------------------------------


#: Queries of one payments page: session, user, memberships, the merchants' time zones, the page (payments with
#: their order and gateway), its count, the user's permissions (two: groups' and own).
PAGE_QUERIES = 8


def count_limit_queries() -> int:
    """On PostgreSQL the list's count runs under a time limit: SAVEPOINT, set the limit, the count, put the limit
    back, RELEASE (shopops.counting)."""
    return 4 if db.vendor == "postgresql" else 0


def len_queries(client, url: str) -> int:
    with CaptureQueriesContext(db) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_every_payments_page_costs_the_same_queries_however_many_rows(desk, merchant, razorpay, monkeypatch):
    monkeypatch.setattr(PaymentAdmin, "list_per_page", 5)
    orders = [make_order(merchant) for _ in range(3)]
    receive(razorpay, payment_id="pay_FIRST0000001", reference=orders[0].number, event_id="ev_0")
    one_row, one_event = len_queries(desk, PAYMENTS), len_queries(desk, EVENTS)
    for n in range(1, 12):
        receive(razorpay, payment_id=f"pay_MORE{n:09d}", reference=orders[n % 3].number if n % 2 else f"WEB-{n}",
                event_id=f"ev_{n}")  # fmt: skip

    first = desk.get(PAYMENTS)
    assert len(first.context["cl"].result_list) == 5
    full_page = len_queries(desk, PAYMENTS)
    next_page = len_queries(desk, PAYMENTS + first.context["cl"].next_url)

    assert one_row == full_page == next_page == PAGE_QUERIES + count_limit_queries()
    # the events list adds its gateway filter's choices
    assert one_event == len_queries(desk, EVENTS) == PAGE_QUERIES + 1 + count_limit_queries()
