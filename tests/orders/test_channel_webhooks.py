"""Stores' order webhooks received: verified on the raw body with the channel's own secrets (the previous one too
during a rotation), stored once, answered at once; WooCommerce's ping answered and not stored; everything else
refused before anything is stored."""

import base64
import hashlib
import hmac
import json

import pytest
from rest_framework.test import APIClient

from orders.models import ChannelKind, ChannelWebhookDelivery, ConnectionStatus
from orders.services.channel_webhooks import WEBHOOK_MAX_BYTES
from orders.services.channels import channel_create, channel_pause, channel_resume

SECRET = "shpss_3c2f0e9b7a1d"
OLD_SECRET = "shpss_old_51ab"
WOO_SECRET = "wc-s3cret&amp;x"  # WooCommerce signs with the secret decoded: "wc-s3cret&x"
ORDER = {"id": 450789469, "name": "#1001", "updated_at": "2026-12-01T10:15:00+05:30", "line_items": []}
WOO_ORDER = {"id": 727, "number": "727", "date_modified_gmt": "2026-12-01T04:45:00", "line_items": []}


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def shopify(merchant):
    return channel_create(merchant=merchant, name="Shopify store", kind=ChannelKind.SHOPIFY,
                          store_url="https://acme.myshopify.com", credentials={"webhook_secret": SECRET})  # fmt: skip


@pytest.fixture
def woo(merchant):
    return channel_create(merchant=merchant, name="Woo store", kind=ChannelKind.WOOCOMMERCE,
                          store_url="https://shop.acme.in", credentials={"webhook_secret": WOO_SECRET})  # fmt: skip


def post_shopify(channel, payload=ORDER, *, secret=SECRET, topic="orders/create", webhook_id="b54557e4-1",
                 shop="acme.myshopify.com", body: bytes | None = None):  # fmt: skip
    body = json.dumps(payload).encode() if body is None else body
    headers = {"HTTP_X_SHOPIFY_TOPIC": topic, "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id,
               "HTTP_X_SHOPIFY_SHOP_DOMAIN": shop}  # fmt: skip
    if secret is not None:
        headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = sign(body, secret)
    return APIClient().post(f"/api/v1/webhooks/channels/{channel.webhook_id}/", body,
                            content_type="application/json", **headers)  # fmt: skip


def post_woo(channel, payload=WOO_ORDER, *, secret="wc-s3cret&x", topic="order.updated"):
    body = json.dumps(payload).encode()
    return APIClient().post(f"/api/v1/webhooks/channels/{channel.webhook_id}/", body, content_type="application/json",
                            HTTP_X_WC_WEBHOOK_TOPIC=topic, HTTP_X_WC_WEBHOOK_ID="12",
                            HTTP_X_WC_WEBHOOK_SIGNATURE=sign(body, secret))  # fmt: skip


def test_a_signed_shopify_order_is_stored_once_and_queued(shopify, merchant):
    first = post_shopify(shopify)
    again = post_shopify(shopify)  # Shopify's retry: the same X-Shopify-Webhook-Id

    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"received": True, "duplicate": True})
    delivery = ChannelWebhookDelivery.objects.get()
    assert (delivery.merchant_id, delivery.channel_id, delivery.delivery_id, delivery.topic, delivery.status) == (
        merchant.pk, shopify.pk, "b54557e4-1", "orders/create", "pending")  # fmt: skip
    assert json.loads(delivery.body) == ORDER


def test_the_previous_secret_is_accepted_during_a_rotation(shopify):
    shopify.credentials = {"webhook_secret": SECRET, "previous_webhook_secret": OLD_SECRET}
    shopify.save()

    assert post_shopify(shopify, secret=OLD_SECRET, webhook_id="w-old").status_code == 200
    assert post_shopify(shopify, secret=SECRET, webhook_id="w-new").status_code == 200
    assert post_shopify(shopify, secret="shpss_someone_else", webhook_id="w-x").status_code == 401
    assert sorted(ChannelWebhookDelivery.objects.values_list("delivery_id", flat=True)) == ["w-new", "w-old"]


@pytest.mark.parametrize("case", ["missing", "wrong secret", "body changed", "not base64", "other shop"])
def test_an_unproved_shopify_request_is_401_and_nothing_is_stored(shopify, case):
    body = json.dumps(ORDER).encode()
    if case == "missing":
        response = post_shopify(shopify, secret=None)
    elif case == "wrong secret":
        response = post_shopify(shopify, secret="shpss_wrong")
    elif case == "body changed":
        headers = {"HTTP_X_SHOPIFY_TOPIC": "orders/create", "HTTP_X_SHOPIFY_HMAC_SHA256": sign(body, SECRET)}
        response = APIClient().post(f"/api/v1/webhooks/channels/{shopify.webhook_id}/", body.replace(b"1001", b"1002"),
                                    content_type="application/json", **headers)  # fmt: skip
    elif case == "not base64":
        headers = {"HTTP_X_SHOPIFY_TOPIC": "orders/create", "HTTP_X_SHOPIFY_HMAC_SHA256": "%%%not-base64%%%"}
        response = APIClient().post(f"/api/v1/webhooks/channels/{shopify.webhook_id}/", body,
                                    content_type="application/json", **headers)  # fmt: skip
    else:
        response = post_shopify(shopify, shop="other-shop.myshopify.com")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert ChannelWebhookDelivery.objects.count() == 0


def test_a_channel_without_a_secret_refuses_every_request(merchant):
    bare = channel_create(merchant=merchant, name="Bare", kind=ChannelKind.SHOPIFY)

    response = post_shopify(bare, secret="")

    assert response.status_code == 401
    assert response.json()["message"] == "The channel 'Bare' has no webhook secret: set the one the channel signs with."


def test_another_topic_is_answered_and_not_stored(shopify):
    response = post_shopify(shopify, topic="products/create")

    assert (response.status_code, response.json()) == (200, {
        "received": False, "duplicate": False,
        "ignored": "The topic 'products/create' is not an order's; ShopOps takes in orders/cancelled, orders/create, "
                   "orders/updated."})  # fmt: skip
    assert ChannelWebhookDelivery.objects.count() == 0


def test_woocommerce_s_ping_gets_200_and_stores_nothing(woo):
    response = APIClient().post(f"/api/v1/webhooks/channels/{woo.webhook_id}/", b"webhook_id=12",
                                content_type="application/x-www-form-urlencoded")  # fmt: skip

    assert (response.status_code, response.json()) == (200, {
        "received": False, "duplicate": False, "ignored": "WooCommerce's ping on saving the webhook."})  # fmt: skip
    assert ChannelWebhookDelivery.objects.count() == 0


def test_woocommerce_deliveries_are_told_apart_by_order_and_modification_time(woo):
    assert post_woo(woo).json() == {"received": True, "duplicate": False}
    assert post_woo(woo).json() == {"received": True, "duplicate": True}  # a retry (a new delivery id each time)
    assert post_woo(woo, {**WOO_ORDER, "date_modified_gmt": "2026-12-01T05:00:00"}).json()["duplicate"] is False
    assert post_woo(woo, secret=WOO_SECRET + "x").status_code == 401

    assert list(ChannelWebhookDelivery.objects.order_by("id").values_list("delivery_id", flat=True)) == [
        "12:727:2026-12-01T04:45:00", "12:727:2026-12-01T05:00:00"]  # fmt: skip


def test_unknown_inactive_and_storeless_addresses_are_404(merchant, shopify):
    custom = channel_create(merchant=merchant, name="Custom", kind=ChannelKind.CUSTOM)
    shopify.is_active = False
    shopify.save()

    assert post_shopify(shopify).status_code == 404
    assert post_shopify(custom).status_code == 404
    response = APIClient().post("/api/v1/webhooks/channels/0123456789abcdef/", b"{}", content_type="application/json")
    assert response.status_code == 404
    assert ChannelWebhookDelivery.objects.count() == 0


def test_a_body_that_is_not_a_json_object_is_400_and_too_large_is_413(shopify):
    assert post_shopify(shopify, body=b"[1, 2]").json()["code"] == "parse_error"
    assert post_shopify(shopify, body=b"{not json").status_code == 400
    huge = json.dumps({**ORDER, "note": "x" * WEBHOOK_MAX_BYTES}).encode()
    response = post_shopify(shopify, body=huge)
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    assert ChannelWebhookDelivery.objects.count() == 0


def test_one_merchant_s_secret_opens_no_other_merchant_s_channel(shopify, other_merchant):
    """Another merchant on the same install knows its own channel's secret, and may even know this channel's address:
    a request signed with its secret is refused here."""
    theirs = channel_create(merchant=other_merchant, name="Their Shopify", kind=ChannelKind.SHOPIFY,
                            credentials={"webhook_secret": "shpss_theirs_77"})  # fmt: skip

    response = post_shopify(shopify, secret="shpss_theirs_77", shop="")

    assert response.status_code == 401
    assert post_shopify(theirs, secret="shpss_theirs_77", shop="").status_code == 200
    assert list(ChannelWebhookDelivery.objects.values_list("merchant_id", flat=True)) == [other_merchant.pk]


def test_a_paused_channel_stores_its_webhooks_and_resume_sends_them(shopify, django_capture_on_commit_callbacks):
    channel_pause(channel=shopify)
    with django_capture_on_commit_callbacks() as paused:
        assert post_shopify(shopify).status_code == 200
    assert paused == []  # stored, not sent to a worker

    with django_capture_on_commit_callbacks() as resumed:
        channel = channel_resume(channel=shopify)

    assert channel.connection_status == ConnectionStatus.UNVERIFIED
    assert len(resumed) == 1
    assert ChannelWebhookDelivery.objects.get().status == "pending"
