"""Delivering webhooks: the POST and its signature, retries on the exact schedule, the failing state, resends,
per-object ordering, the SSRF guard and the sweep. Deliveries go to a real HTTP server on 127.0.0.1."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from shopops.webhooks import services, signing
from shopops.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.shopops.factories import MembershipFactory
from tests.shopops.webhooks import SECRET, WebhookEndpointFactory, make_delivery

MIDDLE = lambda: 0.5  # noqa: E731  (jitter 0: the base delay exactly)


@pytest.fixture
def endpoint(merchant, receiver):
    return WebhookEndpointFactory(merchant=merchant, url=receiver.url)


def _attempt(delivery, now=None, rand=MIDDLE):
    return services.delivery_attempt(delivery_id=delivery.pk, now=now, rand=rand)


def test_a_delivery_posts_the_signed_event_json(endpoint, receiver):
    delivery = make_delivery(endpoint, event_type="order.created", object_key="order:5", data={"order": {"id": 5}})

    assert _attempt(delivery) == "succeeded"

    [request] = receiver.requests
    body = json.loads(request.body)
    assert body == {
        "id": delivery.event_id,
        "type": "order.created",
        "created_at": delivery.event_created_at.isoformat().replace("+00:00", "Z"),
        "data": {"order": {"id": 5}},
    }
    assert request.path == "/hooks"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["ShopOps-Event-Id"] == delivery.event_id
    assert request.headers["ShopOps-Event-Type"] == "order.created"
    assert request.headers["ShopOps-Delivery-Attempt"] == "1"
    assert signing.verify(SECRET, request.headers["ShopOps-Signature"], request.body) is True
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.last_response_status) == ("succeeded", 1, 200)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.response_status, attempt.response_body, attempt.error) == (
        1,
        200,
        '{"received": 1}',
        "",
    )
    assert attempt.request_body.encode() == request.body
    assert attempt.duration_ms is not None


def test_retries_follow_the_exact_schedule_then_the_delivery_fails(endpoint, receiver):
    receiver.statuses.extend([500] * 8)
    delivery = make_delivery(endpoint)
    now = timezone.now()
    due_times = []

    for number in range(1, 9):
        status = _attempt(delivery, now=now)
        delivery.refresh_from_db()
        assert delivery.attempt_count == number
        if number < 8:
            assert status == "pending"
            assert _attempt(delivery, now=delivery.next_attempt_at - timedelta(seconds=1)) is None  # not due yet
            due_times.append(delivery.next_attempt_at)
            now = delivery.next_attempt_at

    assert status == "failed"
    started = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("started_at", flat=True))
    assert started[1:] == due_times
    assert [b - a for a, b in zip(started, started[1:], strict=False)] == [
        timedelta(minutes=m) for m in (2, 4, 8, 16, 32, 64, 128)
    ]
    assert started[-1] - started[0] == timedelta(hours=4, minutes=14)
    assert tuple(timedelta(minutes=m) for m in (2, 4, 8, 16, 32, 64, 128)) == services.RETRY_DELAYS
    assert sum(services.RETRY_DELAYS, timedelta()) == timedelta(hours=4, minutes=14)
    assert len(receiver.requests) == 8
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "response_status")) == [
        (n, 500) for n in range(1, 9)
    ]
    assert _attempt(delivery, now=now + timedelta(days=1)) is None  # failed: never sent again by itself


def test_jitter_stays_within_ten_percent_and_a_seeded_random_gives_the_same_schedule():
    import random

    assert services.retry_delay(1, rand=lambda: 0.0) == timedelta(minutes=2) * 0.9
    assert services.retry_delay(7, rand=lambda: 0.999999) < timedelta(minutes=128) * 1.1
    assert services.retry_delay(7, rand=lambda: 0.5) == timedelta(minutes=128)
    first = [services.retry_delay(n, rand=random.Random(7).random) for n in range(1, 8)]
    second = [services.retry_delay(n, rand=random.Random(7).random) for n in range(1, 8)]
    assert first == second
    assert all(
        timedelta(minutes=2**n) * 0.9 <= d <= timedelta(minutes=2**n) * 1.1
        for n, d in zip(range(1, 8), first, strict=True)
    )


def test_the_last_failure_marks_the_endpoint_failing_and_emails_the_owners_once(
    merchant, endpoint, receiver, django_capture_on_commit_callbacks
):
    owner = MembershipFactory(merchant=merchant, role="owner").user
    MembershipFactory(merchant=merchant, role="staff")
    receiver.statuses.extend([503] * 16)
    first, second = make_delivery(endpoint, object_key="order:1"), make_delivery(endpoint, object_key="order:2")
    for delivery in (first, second):
        delivery.attempt_count = 7
        delivery.save()

    with django_capture_on_commit_callbacks(execute=True):
        assert _attempt(first) == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        assert _attempt(second) == "failed"

    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email]
    assert mail.outbox[0].subject == f"Webhooks to {endpoint.url} are failing"
    assert f"The {first.event_type} event {first.event_id} failed 8 times" in mail.outbox[0].body
    assert "HTTP 503" in mail.outbox[0].body


def test_a_success_clears_the_failing_state(endpoint, receiver):
    endpoint.failing_since = timezone.now() - timedelta(hours=1)
    endpoint.save()

    assert _attempt(make_delivery(endpoint)) == "succeeded"

    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_a_later_event_of_the_same_object_waits_for_an_earlier_one_that_is_retrying(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses.append(500)
    earlier = make_delivery(endpoint, object_key="shipment:9", data={"status": "in_transit"})
    later = make_delivery(endpoint, object_key="shipment:9", data={"status": "delivered"})
    other = make_delivery(endpoint, object_key="shipment:10", data={"status": "delivered"})

    assert _attempt(earlier) == "pending"  # 500: retried in 2 minutes
    assert _attempt(later) is None  # waits behind it
    assert _attempt(other) == "succeeded"  # another shipment is not held up
    assert services.deliveries_sweep() == 0  # nothing due: the later one is not first in line

    with django_capture_on_commit_callbacks(execute=True):  # the retry succeeds: the later one follows at once
        assert _attempt(earlier, now=timezone.now() + timedelta(minutes=3)) == "succeeded"

    later.refresh_from_db()
    assert later.status == "succeeded"
    assert [json.loads(r.body)["data"] for r in receiver.requests] == [
        {"status": "in_transit"},
        {"status": "delivered"},
        {"status": "in_transit"},
        {"status": "delivered"},
    ]
    assert [json.loads(r.body)["id"] for r in receiver.requests] == [
        earlier.event_id,
        other.event_id,
        earlier.event_id,
        later.event_id,
    ]


def test_an_earlier_delivery_that_failed_for_good_no_longer_holds_the_later_ones(endpoint, receiver):
    make_delivery(endpoint, object_key="order:3", status="failed", attempt_count=8)
    later = make_delivery(endpoint, object_key="order:3")

    assert _attempt(later) == "succeeded"


def test_resend_queues_a_new_delivery_of_the_same_event(endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.statuses.append(410)
    original = make_delivery(endpoint, status="failed", attempt_count=8, last_response_status=410)

    with django_capture_on_commit_callbacks(execute=True):
        copy = services.delivery_resend(delivery=original)

    copy.refresh_from_db()
    assert (copy.event_id, copy.resent_from_id, copy.status, copy.attempt_count) == (
        original.event_id,
        original.pk,
        "pending",
        1,
    )  # the 410 is retried on the schedule
    assert json.loads(receiver.requests[0].body)["id"] == original.event_id
    with pytest.raises(Exception) as refused:
        services.delivery_resend(delivery=copy)
    assert refused.value.code == "delivery_in_progress"


def test_no_request_to_a_loopback_address_unless_the_setting_allows_it(endpoint, receiver, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    delivery = make_delivery(endpoint)

    assert _attempt(delivery) == "pending"

    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.response_status is None
    assert attempt.error == ("Not sent: Use an https:// URL: plain http is allowed only in development.")


@pytest.mark.parametrize(
    ("addresses", "refusal"),
    [
        (["127.0.0.1"], "hooks.partner.example resolves to 127.0.0.1 (loopback address)"),
        (["10.1.2.3"], "hooks.partner.example resolves to 10.1.2.3 (private address)"),
        (["169.254.169.254"], "hooks.partner.example resolves to 169.254.169.254 (link-local address)"),
        (["93.184.216.34", "192.168.0.5"], "hooks.partner.example resolves to 192.168.0.5 (private address)"),
        (["::ffff:127.0.0.1"], "hooks.partner.example resolves to ::ffff:7f00:1 (loopback address)"),
        (["100.64.0.1"], "hooks.partner.example resolves to 100.64.0.1 (not public address)"),
    ],
)
def test_a_name_that_resolves_to_a_private_address_is_not_called(merchant, dns, addresses, refusal):
    dns["hooks.partner.example"] = addresses
    delivery = make_delivery(WebhookEndpointFactory(merchant=merchant, url="https://hooks.partner.example/in"))

    assert _attempt(delivery) == "pending"

    assert WebhookAttempt.objects.get(delivery=delivery).error == (
        f"Not sent: {refusal}: webhooks go to public addresses only."
    )


def test_redirects_are_not_followed(endpoint, receiver):
    receiver.statuses.append(302)

    assert _attempt(make_delivery(endpoint)) == "pending"

    assert len(receiver.requests) == 1
    assert WebhookAttempt.objects.get().response_status == 302


def test_a_disabled_endpoint_holds_its_deliveries(endpoint, receiver):
    endpoint.is_enabled = False
    endpoint.save()
    delivery = make_delivery(endpoint)

    assert _attempt(delivery) is None
    assert services.deliveries_sweep() == 0
    assert receiver.requests == []


def test_the_sweep_sends_due_retries_and_lost_messages_but_not_fresh_ones(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    now = timezone.now()
    fresh = make_delivery(endpoint, object_key="order:1", next_attempt_at=now - timedelta(seconds=5))
    WebhookDelivery.objects.filter(pk=fresh.pk).update(queued_at=now - timedelta(seconds=5))  # its task just went
    lost = make_delivery(endpoint, object_key="order:2", next_attempt_at=now - timedelta(minutes=6))
    WebhookDelivery.objects.filter(pk=lost.pk).update(queued_at=now - timedelta(minutes=6))
    retry = make_delivery(endpoint, object_key="order:3", attempt_count=1, next_attempt_at=now - timedelta(seconds=1))
    WebhookDelivery.objects.filter(pk=retry.pk).update(queued_at=now - timedelta(minutes=3))
    later = make_delivery(endpoint, object_key="order:4", next_attempt_at=now + timedelta(minutes=1))

    assert services.deliveries_sweep(now=now) == 2  # eager tasks: sent at once

    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {fresh.pk: "pending", lost.pk: "succeeded", retry.pk: "succeeded", later.pk: "pending"}


def test_a_worker_lost_mid_attempt_counts_as_a_failed_attempt(endpoint, receiver):
    now = timezone.now()
    lease_end = now - timedelta(seconds=1)
    delivery = make_delivery(endpoint, status="delivering", attempt_count=1, lease_expires_at=lease_end)

    services.deliveries_sweep(now=now, rand=MIDDLE)

    delivery.refresh_from_db()
    started = lease_end - services.LEASE
    assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == (
        "pending",
        1,
        started + timedelta(minutes=2),
    )
    assert WebhookAttempt.objects.get(delivery=delivery).error == "The worker stopped before recording the outcome."
    assert receiver.requests == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_a_delivery_once(merchant, receiver):
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")
    delivery = make_delivery(WebhookEndpointFactory(merchant=merchant, url=receiver.url))
    outcomes, barrier = [], threading.Barrier(6)

    def worker():
        try:
            barrier.wait(timeout=10)
            outcomes.append(services.delivery_attempt(delivery_id=delivery.pk))
        finally:
            connection.close()

    with transaction.atomic():  # a worker holding the row: the others skip it instead of waiting
        WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        held = threading.Thread(target=lambda: (outcomes.append(services.delivery_attempt(delivery_id=delivery.pk)),
                                                connection.close()))  # fmt: skip
        held.start()
        held.join(timeout=10)
    assert outcomes == [None]
    outcomes.clear()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes, key=str) == [None, None, None, None, None, "succeeded"]
    assert len(receiver.requests) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1
