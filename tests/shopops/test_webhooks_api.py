"""The webhooks API: endpoints (secret shown once, URL checks, scopes, roles), the delivery log and resends."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shopops.webhooks import services
from shopops.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import client_for
from tests.shopops.factories import MembershipFactory
from tests.shopops.webhooks import WebhookEndpointFactory, make_delivery

ENDPOINTS = "/api/v1/webhook-endpoints/"
DELIVERIES = "/api/v1/webhook-deliveries/"
PUBLIC_URL = "https://hooks.partner.example/shopops"


@pytest.fixture
def partner_dns(dns):
    dns["hooks.partner.example"] = ["93.184.216.34"]  # a public address; nothing is sent in these tests
    return dns


def test_creating_an_endpoint_shows_its_secret_once(api, merchant, partner_dns):
    response = api.post(ENDPOINTS, {"url": PUBLIC_URL, "events": ["order.created", "shipment.ndr", "order.created"],
                                    "description": "ERP"}, format="json")  # fmt: skip

    assert response.status_code == 201
    body = response.json()
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert body["secret"] == endpoint.secret
    assert body["secret"].startswith("whsec_") and len(body["secret"]) == 49
    assert {k: body[k] for k in ("url", "events", "description", "is_enabled", "failing_since", "has_secret")} == {
        "url": PUBLIC_URL, "events": ["order.created", "shipment.ndr"], "description": "ERP", "is_enabled": True,
        "failing_since": None, "has_secret": True}  # fmt: skip
    assert endpoint.merchant == merchant
    assert endpoint.created_by == f"app:{api.application.client_id}"
    shown = api.get(f"{ENDPOINTS}{endpoint.pk}/").json()
    assert "secret" not in shown and shown["has_secret"] is True
    assert all("secret" not in row for row in api.get(ENDPOINTS).json()["results"])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.partner.example/in", "Use an https:// URL: plain http is allowed only in development."),
        ("https://127.0.0.1/in", "The URL names 127.0.0.1 (loopback address): webhooks go to public addresses only."),
        ("https://[::1]:8443/in", "The URL names ::1 (loopback address): webhooks go to public addresses only."),
        ("https://10.0.0.8/in", "The URL names 10.0.0.8 (private address): webhooks go to public addresses only."),
        ("https://169.254.169.254/latest", "The URL names 169.254.169.254 (link-local address): webhooks go to "
                                           "public addresses only."),
        ("https://0.0.0.0/in", "The URL names 0.0.0.0 (unspecified address): webhooks go to public addresses only."),
        ("https://224.0.0.1/in", "The URL names 224.0.0.1 (multicast address): webhooks go to public addresses only."),
        ("https://localhost/in", "localhost resolves to 127.0.0.1 (loopback address): webhooks go to public "
                                 "addresses only."),
        ("https://intranet.partner.example/in", "intranet.partner.example resolves to 192.168.1.20 (private "
                                                "address): webhooks go to public addresses only."),
        ("https://nowhere.partner.example/in", "The host nowhere.partner.example could not be resolved."),
        ("https://user:pw@hooks.partner.example/in", "Credentials in the URL are not allowed: requests are signed "
                                                     "instead."),
        ("ftp://hooks.partner.example/in", "Use an https:// URL."),
    ],
)  # fmt: skip
def test_a_url_that_is_not_https_on_a_public_address_is_refused(api, partner_dns, url, message):
    partner_dns["intranet.partner.example"] = ["192.168.1.20"]

    response = api.post(ENDPOINTS, {"url": url, "events": ["*"]}, format="json")

    assert response.status_code == 400
    assert response.json()["details"] == {"url": [message]}
    assert WebhookEndpoint.objects.count() == 0


def test_private_urls_are_accepted_when_the_setting_allows_them(api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True

    response = api.post(ENDPOINTS, {"url": "http://127.0.0.1:9000/in", "events": ["*"]}, format="json")

    assert response.status_code == 201


def test_unknown_events_are_refused(api, partner_dns):
    response = api.post(ENDPOINTS, {"url": PUBLIC_URL, "events": ["order.deleted"]}, format="json")

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["events.0"]


def test_subscribing_needs_the_read_scope_of_the_events(merchant, partner_dns):
    partner = client_for(merchant, scopes=["webhooks:read", "webhooks:write", "orders:read"])

    refused = partner.post(ENDPOINTS, {"url": PUBLIC_URL, "events": ["order.created", "shipment.ndr"]}, format="json")
    everything = partner.post(ENDPOINTS, {"url": PUBLIC_URL, "events": ["*"]}, format="json")
    allowed = partner.post(ENDPOINTS, {"url": PUBLIC_URL, "events": ["order.created", "import.finished"]},
                           format="json")  # fmt: skip

    assert (refused.status_code, everything.status_code, allowed.status_code) == (403, 403, 201)
    assert refused.json()["code"] == "missing_scope"
    assert refused.json()["details"] == {"required_scopes": ["orders:read", "shipping:read"],
                                         "missing_scopes": ["shipping:read"]}  # fmt: skip
    assert WebhookEndpoint.objects.count() == 1


def test_managing_endpoints_takes_an_owner_or_manager(merchant, partner_dns):
    staff = client_for(merchant, user=MembershipFactory(merchant=merchant, role="staff").user)
    manager = client_for(merchant, user=MembershipFactory(merchant=merchant, role="manager").user)

    refused = staff.post(ENDPOINTS, {"url": PUBLIC_URL, "events": ["*"]}, format="json")
    allowed = manager.post(ENDPOINTS, {"url": PUBLIC_URL, "events": ["*"]}, format="json")

    assert (refused.status_code, refused.json()["code"]) == (403, "role_forbidden")
    assert allowed.status_code == 201


def test_patch_changes_events_and_checks_a_new_url(api, merchant, partner_dns):
    endpoint = WebhookEndpointFactory(merchant=merchant, events=["order.created"])

    changed = api.patch(f"{ENDPOINTS}{endpoint.pk}/", {"events": ["document.ready"], "is_enabled": False},
                        format="json")  # fmt: skip
    refused = api.patch(f"{ENDPOINTS}{endpoint.pk}/", {"url": "https://127.0.0.2/"}, format="json")

    assert changed.status_code == 200
    assert (changed.json()["events"], changed.json()["is_enabled"]) == (["document.ready"], False)
    assert refused.status_code == 400
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.is_enabled) == (PUBLIC_URL, ["document.ready"], False)


def test_rotating_the_secret_shows_the_new_one_and_keeps_the_old_one_signing_for_a_day(api, merchant):
    endpoint = WebhookEndpointFactory(merchant=merchant)
    old = endpoint.secret

    response = api.post(f"{ENDPOINTS}{endpoint.pk}/rotate-secret/", {}, format="json")

    assert response.status_code == 200
    new = response.json()["secret"]
    endpoint.refresh_from_db()
    assert new == endpoint.secret != old
    now = timezone.now()
    assert services.signing_secrets(endpoint, now) == [new, old]
    assert services.signing_secrets(endpoint, now + timedelta(hours=25)) == [new]
    assert response.json()["secret_rotating_until"] is not None
    api.post(f"{ENDPOINTS}{endpoint.pk}/rotate-secret/", {"keep_previous": False}, format="json")
    endpoint.refresh_from_db()
    assert services.signing_secrets(endpoint, now) == [endpoint.secret]


def test_ping_queues_a_test_event_to_that_endpoint_only(api, merchant):
    endpoint, other = WebhookEndpointFactory(merchant=merchant), WebhookEndpointFactory(merchant=merchant)

    response = api.post(f"{ENDPOINTS}{endpoint.pk}/ping/")

    assert response.status_code == 202
    assert response.json()["event_type"] == "webhook.ping"
    assert list(WebhookDelivery.objects.values_list("endpoint_id", "event_type", "status")) == [
        (endpoint.pk, "webhook.ping", "pending")]  # fmt: skip
    assert other.deliveries.count() == 0


def test_delete_removes_the_endpoint_and_its_log(api, merchant):
    endpoint = WebhookEndpointFactory(merchant=merchant)
    make_delivery(endpoint)

    assert api.delete(f"{ENDPOINTS}{endpoint.pk}/").status_code == 204
    assert (WebhookEndpoint.objects.count(), WebhookDelivery.objects.count()) == (0, 0)


# -- the delivery log -----------------------------------------------------------------------------------------


def test_the_log_lists_an_endpoints_deliveries_with_filters_in_constant_queries(api, merchant,
                                                                               django_assert_num_queries):  # fmt: skip
    endpoint, other = WebhookEndpointFactory(merchant=merchant), WebhookEndpointFactory(merchant=merchant)
    for n in range(7):
        make_delivery(endpoint, object_key=f"order:{n}", status="failed" if n % 2 else "succeeded")
    make_delivery(other, status="failed")

    with django_assert_num_queries(3):  # the token with its application, the merchant; the page
        first = api.get(DELIVERIES, {"endpoint": endpoint.pk, "status": "failed", "page_size": 2})
    with django_assert_num_queries(3):
        second = api.get(first.json()["next"])

    rows = first.json()["results"] + second.json()["results"]
    assert [row["object_key"] for row in rows] == ["order:5", "order:3", "order:1"]
    assert {row["status"] for row in rows} == {"failed"}
    assert api.get(DELIVERIES, {"status": "lost"}).status_code == 400


def test_a_delivery_shows_its_body_and_attempts(api, merchant, receiver):
    endpoint = WebhookEndpointFactory(merchant=merchant, url=receiver.url)
    receiver.statuses.append(500)
    delivery = make_delivery(endpoint, event_type="shipment.ndr", object_key="shipment:3", data={"ndr": {"id": 1}})
    services.delivery_attempt(delivery_id=delivery.pk)
    services.delivery_attempt(delivery_id=delivery.pk, now=timezone.now() + timedelta(minutes=3))

    body = api.get(f"{DELIVERIES}{delivery.pk}/").json()

    assert (body["status"], body["attempt_count"], body["last_response_status"], body["next_attempt_at"]) == (
        "succeeded", 2, 200, None)  # fmt: skip
    assert body["body"] == {"id": delivery.event_id, "type": "shipment.ndr", "data": {"ndr": {"id": 1}},
                            "created_at": delivery.event_created_at.isoformat().replace("+00:00", "Z")}  # fmt: skip
    assert [(a["number"], a["response_status"], a["error"]) for a in body["attempts"]] == [(1, 500, ""), (2, 200, "")]
    assert body["attempts"][0]["request_headers"]["ShopOps-Event-Type"] == "shipment.ndr"


def test_resend_answers_the_new_delivery_and_refuses_a_pending_one(api, merchant):
    endpoint = WebhookEndpointFactory(merchant=merchant)
    failed = make_delivery(endpoint, status="failed", attempt_count=8)
    pending = make_delivery(endpoint)

    resent = api.post(f"{DELIVERIES}{failed.pk}/resend/")
    refused = api.post(f"{DELIVERIES}{pending.pk}/resend/")

    assert resent.status_code == 201
    assert (resent.json()["event_id"], resent.json()["resent_from"], resent.json()["status"]) == (
        failed.event_id, failed.pk, "pending")  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (409, "delivery_in_progress")


def test_another_merchants_endpoint_and_deliveries_are_404(api, other_merchant):
    endpoint = WebhookEndpointFactory(merchant=other_merchant)
    delivery = make_delivery(endpoint, status="failed")

    assert api.get(f"{ENDPOINTS}{endpoint.pk}/").status_code == 404
    assert api.post(f"{ENDPOINTS}{endpoint.pk}/rotate-secret/", {}, format="json").status_code == 404
    assert api.post(f"{DELIVERIES}{delivery.pk}/resend/").status_code == 404
    assert api.get(DELIVERIES, {"endpoint": endpoint.pk}).json()["results"] == []
    assert WebhookDelivery.objects.count() == 1
