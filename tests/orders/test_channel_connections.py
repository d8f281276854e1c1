"""Channel connections in the API and the dashboard: credentials write-only (never answered, never on a page), the
webhook address, pause and resume, the delivery log, SKU mappings in bulk, and "Process again"; each scoped to its
merchant."""

import json

import pytest
from django.core.exceptions import ValidationError

from orders.models import Channel, ChannelKind, ChannelWebhookDelivery, ConnectionStatus, SkuMapping
from orders.services.channels import channel_create
from orders.services.sku_mappings import sku_mapping_set
from tests.catalog.factories import LocationFactory, ProductFactory

URL = "/api/v1/channels/"
TOKEN = "shpat_8f1b2c3d4e5f6a7b"
SECRET = "shpss_3c2f0e9b7a1d"


@pytest.fixture
def staff_client(client, owner):
    client.force_login(owner)
    return client


def test_connect_a_shopify_store_the_credentials_are_never_answered(api, merchant):
    warehouse = LocationFactory(merchant=merchant, nickname="blr-wh")

    response = api.post(URL, {"name": "Shopify store", "kind": "shopify", "store_url": "https://acme.myshopify.com",
                              "credentials": {"access_token": TOKEN, "webhook_secret": SECRET},
                              "pickup_location": "blr-wh", "payment_mapping": {"Cash on Delivery (COD)": "cod"}},
                        format="json")  # fmt: skip

    assert response.status_code == 201, response.json()
    body = response.json()
    channel_pk = body["id"]
    webhook_id = Channel.objects.get(pk=channel_pk).webhook_id
    assert {k: body[k] for k in ("kind", "store_url", "credentials_set", "webhook_url", "connection_status",
                                 "status_message", "failing_since", "sync_cursor", "last_synced_at",
                                 "pickup_location", "payment_mapping")} == {
        "kind": "shopify", "store_url": "https://acme.myshopify.com",
        "credentials_set": ["access_token", "webhook_secret"],
        "webhook_url": f"http://testserver/api/v1/webhooks/channels/{webhook_id}/",
        "connection_status": "unverified", "status_message": "", "failing_since": None, "sync_cursor": "",
        "last_synced_at": None, "pickup_location": warehouse.pk,
        "payment_mapping": {"Cash on Delivery (COD)": "cod"}}  # fmt: skip
    for text in (response.content.decode(), api.get(URL).content.decode(), api.get(f"{URL}{channel_pk}/").content
                 .decode()):  # fmt: skip
        assert TOKEN not in text and SECRET not in text


def test_a_change_keeps_the_credentials_left_out(api, merchant):
    channel = channel_create(merchant=merchant, name="Woo", kind=ChannelKind.WOOCOMMERCE,
                             credentials={"consumer_key": "ck_1", "consumer_secret": "cs_1"})  # fmt: skip

    response = api.patch(f"{URL}{channel.pk}/", {"credentials": {"consumer_secret": "", "webhook_secret": "wh-2"}},
                         format="json")  # fmt: skip

    assert response.status_code == 200, response.json()
    channel.refresh_from_db()
    assert channel.credentials == {"consumer_key": "ck_1", "consumer_secret": "cs_1", "webhook_secret": "wh-2"}


@pytest.mark.parametrize("body,errors", [
    ({"name": "S", "kind": "shopify", "credentials": {"password": "x"}},
     {"credentials.password": ["Not a shopify credential; these are: access_token, webhook_secret, "
                               "previous_webhook_secret."]}),
    ({"name": "M", "kind": "manual", "credentials": {"access_token": "x"}},
     {"credentials": ["A manual channel has no credentials; stores have (shopify, woocommerce, magento, amazon)."]}),
    ({"name": "S", "kind": "shopify", "pickup_location": "nowhere"},
     {"pickup_location": ["Unknown pickup location 'nowhere'."]}),
    ({"name": "S", "kind": "shopify", "store_url": "not a url"}, {"store_url": ["Enter a valid URL."]}),
    ({"name": "W", "kind": "woocommerce", "options": {"shipped_status": "done"}},
     {"options.shipped_status": ["Must be one of completed, processing."]}),
    ({"name": "W", "kind": "woocommerce", "options": {"location_id": "1"}},
     {"options.location_id": ["Not a woocommerce option; these are: shipped_status."]}),
])  # fmt: skip
def test_bad_connection_input_is_a_clear_400(api, body, errors):
    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["details"] == errors


def test_pause_resume_and_the_delivery_log(api, merchant):
    channel = channel_create(merchant=merchant, name="Shopify", kind=ChannelKind.SHOPIFY,
                             credentials={"webhook_secret": SECRET})  # fmt: skip
    ChannelWebhookDelivery.objects.create(merchant=merchant, channel=channel, delivery_id="w-1",
                                          topic="orders/create", body="{}", status="failed", result="Refused",
                                          error={"currency": ["USD"]})  # fmt: skip

    paused = api.post(f"{URL}{channel.pk}/pause/")
    resumed = api.post(f"{URL}{channel.pk}/resume/")
    log = api.get(f"{URL}{channel.pk}/deliveries/")

    assert (paused.json()["connection_status"], resumed.json()["connection_status"]) == ("paused", "unverified")
    assert [(d["delivery_id"], d["status"], d["error"]) for d in log.json()["results"]] == [
        ("w-1", "failed", {"currency": ["USD"]})]  # fmt: skip


def test_sku_mappings_in_bulk_answer_per_item(api, merchant):
    channel = channel_create(merchant=merchant, name="Shopify", kind=ChannelKind.SHOPIFY)
    ProductFactory(merchant=merchant, sku="KURTA-IND-M")

    response = api.post("/api/v1/sku-mappings/bulk/", {"mappings": [
        {"channel": channel.channel_id, "channel_sku": "SHOP-KURTA-M", "sku": "KURTA-IND-M"},
        {"channel": channel.channel_id, "channel_sku": "SHOP-X", "sku": "NOPE"},
        {"channel": "Nowhere", "channel_sku": "SHOP-Y", "sku": "KURTA-IND-M"},
    ]}, format="json")  # fmt: skip

    assert response.status_code == 200, response.json()
    mapping = SkuMapping.objects.get()
    assert response.json() == {"results": [
        {"index": 0, "id": mapping.pk, "created": True, "orders_mapped": 0},
        {"index": 1, "errors": {"sku": ["Unknown SKU 'NOPE'."]}},
        {"index": 2, "errors": {"channel": ["Unknown channel 'Nowhere'."]}},
    ]}  # fmt: skip
    listed = api.get("/api/v1/sku-mappings/", {"channel": channel.pk}).json()["results"]
    assert [(m["channel_sku"], m["sku"]) for m in listed] == [("SHOP-KURTA-M", "KURTA-IND-M")]


def test_another_merchant_s_channel_and_products_are_out_of_reach(api, merchant, other_merchant):
    theirs = channel_create(merchant=other_merchant, name="Their Shopify", kind=ChannelKind.SHOPIFY)
    ProductFactory(merchant=other_merchant, sku="THEIR-SKU")
    ProductFactory(merchant=merchant, sku="MINE")

    onto_theirs = api.post("/api/v1/sku-mappings/", {"channel": theirs.channel_id, "channel_sku": "X", "sku": "MINE"},
                           format="json")  # fmt: skip
    mine = channel_create(merchant=merchant, name="Mine", kind=ChannelKind.SHOPIFY)
    their_product = api.post("/api/v1/sku-mappings/", {"channel": mine.pk, "channel_sku": "X", "sku": "THEIR-SKU"},
                             format="json")  # fmt: skip

    assert onto_theirs.json()["details"] == {"channel": [f"Unknown channel '{theirs.channel_id}'."]}
    assert their_product.json()["details"] == {"sku": ["Unknown SKU 'THEIR-SKU'."]}
    assert api.post(f"{URL}{theirs.pk}/pause/").status_code == 404
    assert SkuMapping.objects.count() == 0


# -- the dashboard -------------------------------------------------------------------------------------------------


def test_connect_a_store_in_the_admin_credentials_never_shown_again(staff_client, merchant):
    response = staff_client.post("/admin/orders/channel/add/", {
        "merchant": str(merchant.pk), "name": "Woo store", "kind": "woocommerce", "is_active": "on",
        "store_url": "https://shop.acme.in", "payment_mapping": json.dumps({"cod": "cod"}),
        "credential_consumer_key": "ck_live_123456", "credential_webhook_secret": "wh-secret-987"})  # fmt: skip

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else None
    channel = merchant.channels.get(name="Woo store")
    assert (channel.credentials, channel.connection_status) == (
        {"consumer_key": "ck_live_123456", "webhook_secret": "wh-secret-987"},
        ConnectionStatus.UNVERIFIED,
    )
    page = staff_client.get(f"/admin/orders/channel/{channel.pk}/change/").content.decode()
    assert "ck_live_123456" not in page and "wh-secret-987" not in page
    assert "(stored; leave blank to keep it)" in page
    assert f"/api/v1/webhooks/channels/{channel.webhook_id}/" in page

    kept = staff_client.post(f"/admin/orders/channel/{channel.pk}/change/", {
        "name": "Woo store", "kind": "woocommerce", "is_active": "on", "store_url": "https://shop.acme.in",
        "payment_mapping": "{}", "credential_consumer_key": ""})  # fmt: skip
    assert kept.status_code == 302
    channel.refresh_from_db()
    assert channel.credentials == {"consumer_key": "ck_live_123456", "webhook_secret": "wh-secret-987"}


def test_process_again_sends_failed_deliveries_back(staff_client, merchant, django_capture_on_commit_callbacks):
    channel = channel_create(merchant=merchant, name="Shopify", kind=ChannelKind.SHOPIFY)
    failed = ChannelWebhookDelivery.objects.create(merchant=merchant, channel=channel, delivery_id="w-1",
                                                   topic="orders/create", body="{}", status="failed",
                                                   error={"currency": ["USD"]})  # fmt: skip
    done = ChannelWebhookDelivery.objects.create(merchant=merchant, channel=channel, delivery_id="w-2",
                                                 topic="orders/create", body="{}", status="processed")  # fmt: skip

    with django_capture_on_commit_callbacks() as sent:
        response = staff_client.post("/admin/orders/channelwebhookdelivery/", {
            "action": "process_again", "_selected_action": [failed.pk, done.pk]})  # fmt: skip

    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.error, len(sent)) == ("pending", {}, 1)
    page = staff_client.get(f"/admin/orders/channelwebhookdelivery/{done.pk}/change/")
    assert page.status_code == 200


def test_a_sku_mapping_saved_in_the_admin(staff_client, merchant):
    channel = channel_create(merchant=merchant, name="Shopify", kind=ChannelKind.SHOPIFY)
    product = ProductFactory(merchant=merchant, sku="KURTA-IND-M")

    response = staff_client.post("/admin/orders/skumapping/add/", {
        "merchant": str(merchant.pk), "channel": str(channel.pk), "channel_sku": "SHOP-KURTA-M",
        "product": str(product.pk)})  # fmt: skip

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else None
    assert list(SkuMapping.objects.values_list("channel_id", "channel_sku", "product_id")) == [
        (channel.pk, "SHOP-KURTA-M", product.pk)]  # fmt: skip


def test_a_mapping_onto_another_merchant_s_channel_is_refused(merchant, other_merchant):
    theirs = channel_create(merchant=other_merchant, name="Their Shopify", kind=ChannelKind.SHOPIFY)
    ProductFactory(merchant=merchant, sku="MINE")

    with pytest.raises(ValidationError) as refused:
        sku_mapping_set(merchant=merchant, channel=theirs, channel_sku="X", sku="MINE", actor="user:1")

    assert refused.value.message_dict == {"channel": ["The channel 'Their Shopify' is another merchant's."]}
    assert SkuMapping.objects.count() == 0
