"""The webhooks in the merchant dashboard: endpoints (the secret shown once), the delivery log and resends."""

import pytest
from django.contrib.messages import get_messages

from shopops.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.shopops.factories import MembershipFactory
from tests.shopops.webhooks import WebhookEndpointFactory, make_delivery

ENDPOINTS_URL = "/admin/shopops/webhookendpoint/"
DELIVERIES_URL = "/admin/shopops/webhookdelivery/"


@pytest.fixture
def owner_client(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="owner").user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_adding_an_endpoint_shows_its_secret_once(owner_client, merchant, dns):
    dns["hooks.partner.example"] = ["93.184.216.34"]

    response = owner_client.post(f"{ENDPOINTS_URL}add/", {
        "merchant": merchant.pk, "url": "https://hooks.partner.example/in", "description": "ERP",
        "events": ["order.created", "shipment.ndr"], "is_enabled": "on"}, follow=True)  # fmt: skip

    endpoint = WebhookEndpoint.objects.get()
    user = response.wsgi_request.user
    assert (endpoint.url, endpoint.events, endpoint.created_by) == (
        "https://hooks.partner.example/in", ["order.created", "shipment.ndr"], f"user:{user.pk}")  # fmt: skip
    assert any(f"<code>{endpoint.secret}</code>" in m for m in _messages(response))
    page = owner_client.get(f"{ENDPOINTS_URL}{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in page
    assert "shown only when created or rotated" in page


def test_a_private_url_is_refused_on_the_form(owner_client, merchant):
    response = owner_client.post(f"{ENDPOINTS_URL}add/", {
        "merchant": merchant.pk, "url": "https://10.0.0.1/in", "events": ["*"], "is_enabled": "on"})  # fmt: skip

    assert response.status_code == 200
    assert "10.0.0.1 (private address): webhooks go to public addresses only." in response.content.decode()
    assert WebhookEndpoint.objects.count() == 0


def test_staff_cannot_manage_endpoints(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role="staff").user)
    endpoint = WebhookEndpointFactory(merchant=merchant)

    assert client.get(f"{ENDPOINTS_URL}add/").status_code == 403
    assert client.post(f"{ENDPOINTS_URL}{endpoint.pk}/delete/", {"post": "yes"}).status_code == 403
    assert WebhookEndpoint.objects.count() == 1


def test_the_endpoint_list_shows_a_failing_endpoint(owner_client, merchant):
    from django.utils import timezone

    WebhookEndpointFactory(merchant=merchant, failing_since=timezone.now())
    WebhookEndpointFactory(merchant=merchant, url="https://ok.partner.example/in")

    page = owner_client.get(ENDPOINTS_URL).content.decode()
    failing = owner_client.get(ENDPOINTS_URL, {"failing": "yes"})

    assert "Failing since" in page
    assert [e.url for e in failing.context["cl"].result_list] == ["https://hooks.partner.example/shopops"]


def test_the_delivery_log_filters_and_costs_constant_queries(owner_client, merchant, other_merchant,
                                                             django_assert_max_num_queries):  # fmt: skip
    endpoint = WebhookEndpointFactory(merchant=merchant)
    for n in range(30):
        make_delivery(endpoint, object_key=f"order:{n}", status="failed" if n % 3 == 0 else "succeeded")
    make_delivery(WebhookEndpointFactory(merchant=other_merchant), status="failed")

    with django_assert_max_num_queries(12):
        response = owner_client.get(DELIVERIES_URL, {"status__exact": "failed", "endpoint__id__exact": endpoint.pk})

    rows = response.context["cl"].result_list
    assert len(rows) == 10
    assert {d.endpoint_id for d in rows} == {endpoint.pk}


def test_a_delivery_page_shows_the_request_body_and_attempts(owner_client, merchant):
    delivery = make_delivery(WebhookEndpointFactory(merchant=merchant), event_type="order.created",
                             data={"order": {"number": "SO-000042"}}, status="failed", attempt_count=8)  # fmt: skip
    delivery.attempts.create(merchant=merchant, number=1, url="https://hooks.partner.example/shopops",
                             request_body="{}", response_status=502, response_body="Bad gateway", duration_ms=31,
                             started_at=delivery.created_at)  # fmt: skip

    page = owner_client.get(f"{DELIVERIES_URL}{delivery.pk}/change/").content.decode()

    assert "SO-000042" in page
    assert "Bad gateway" in page
    assert "502" in page


def test_the_resend_action_queues_failed_deliveries_and_names_the_refused(owner_client, merchant):
    endpoint = WebhookEndpointFactory(merchant=merchant)
    failed = make_delivery(endpoint, status="failed", attempt_count=8)
    pending = make_delivery(endpoint)

    response = owner_client.post(DELIVERIES_URL, {"action": "resend_selected", "_selected_action": [failed.pk,
                                                                                                 pending.pk]},
                                 follow=True)  # fmt: skip

    copy = WebhookDelivery.objects.get(resent_from=failed)
    assert (copy.event_id, copy.status) == (failed.event_id, "pending")
    [message] = _messages(response)
    assert message.startswith("Queued again 1 delivery; refused 1:")
    assert "is still pending" in message
