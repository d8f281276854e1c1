"""Ship batches in the admin: the order desk's "Ship selected orders…" (options page, one batch per merchant, a link
to it), the batches' list (progress) and page (each order's outcome, pickups, manifests, PDFs), and "Run again"."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.utils import timezone

from orders.models import Order, OrderStatus
from shipping.admin import ship_batches as ship_batch_admin
from shipping.models import Document, Manifest, PickupRequest, ShipBatch, Shipment
from shipping.services.batches import ship_batch_create, ship_batch_run
from shipping.services.ship import ShipOptions
from tests.orders.factories import ADDRESS, make_order
from tests.shipping.documents_helpers import gst_merchant
from tests.shipping.factories import shipping_courier
from tests.shopops.factories import MembershipFactory

pytestmark = pytest.mark.django_db
ORDERS = "/admin/orders/order/"
BATCHES = "/admin/shipping/shipbatch/"
KOLKATA = {**ADDRESS, "city": "Kolkata", "state": "West Bengal", "postcode": "700001"}
OPTIONS = {"ship-sort": "", "ship-request_pickup": "on", "ship-pickup_date": "", "ship-print_label": "on",
           "ship-label_format": "4x6", "ship-print_invoice": "on", "ship-generate_manifest": "on"}  # fmt: skip


@pytest.fixture
def desk(client, owner, merchant):
    gst_merchant(merchant)
    client.force_login(owner)
    return client


@pytest.fixture
def bluedart(merchant):
    return shipping_courier(merchant)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def act(client, url: str, action: str, objects, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], "index": 0, **extra}
    return client.post(url, data)


def batch_of(merchant, orders, **options) -> ShipBatch:
    return ship_batch_create(merchant=merchant, order_ids=[o.pk for o in orders], actor="user:1",
                             options=ShipOptions(**options))  # fmt: skip


# -- "Ship selected orders…" ------------------------------------------------------------------------------------


def test_the_action_first_asks_for_the_options_listing_the_selected_orders(desk, merchant, bluedart):
    orders = [make_order(merchant), make_order(merchant, OrderStatus.PACKED)]

    response = act(desk, ORDERS, "ship_selected", orders)

    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == ["admin/orders/order/ship_selected.html",
                                                        "admin/shopops/action_form.html"]  # fmt: skip
    assert list(response.context["form"].fields) == ["courier", "sort", "request_pickup", "pickup_date", "print_label",
                                                     "label_format", "print_invoice", "generate_manifest"]  # fmt: skip
    assert [o.pk for o in response.context["orders"]] == [o.pk for o in orders]
    content = response.content.decode()
    assert "Ship 2 orders as one batch" in content
    assert f"<td>{orders[0].number}</td>" in content and f"<td>{orders[1].number}</td>" in content
    assert 'value="Ship 2 orders"' in content
    assert ShipBatch.objects.count() == 0


def test_applying_creates_the_batch_runs_it_and_leads_to_its_page(desk, merchant, bluedart,
                                                                  django_capture_on_commit_callbacks):  # fmt: skip
    orders = [make_order(merchant), make_order(merchant, OrderStatus.CONFIRMED)]
    day = timezone.now().astimezone(merchant.tzinfo).date() + timedelta(days=1)
    if day.weekday() == 6:
        day += timedelta(days=1)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # the job runs on commit, here eagerly
        response = act(desk, ORDERS, "ship_selected", orders, apply="1",
                       **{**OPTIONS, "ship-sort": "cheapest", "ship-pickup_date": day.isoformat()})  # fmt: skip

    batch = ShipBatch.objects.get()
    assert len(callbacks) == 1
    assert (response.status_code, response["Location"]) == (302, f"{BATCHES}{batch.pk}/change/")
    assert messages_of(response) == [
        f'<a href="{BATCHES}{batch.pk}/change/">Ship batch {batch.pk}</a> for 2 orders: queued. Its page shows each '
        "order's outcome, the pickups and the PDFs."]  # fmt: skip
    assert (batch.merchant_id, batch.order_ids, batch.created_by) == (
        merchant.pk,
        [o.pk for o in orders],
        f"user:{desk.session['_auth_user_id']}",
    )
    assert batch.options == {"courier": "recommended", "sort": "cheapest", "request_pickup": True,
                             "pickup_date": day.isoformat(), "print_label": True, "label_format": "4x6",
                             "print_invoice": True, "generate_manifest": True}  # fmt: skip
    assert (batch.status, batch.shipped, batch.failed) == ("done", 2, 0)
    assert list(PickupRequest.objects.values_list("pickup_date", flat=True)) == [day]
    assert sorted(Document.objects.values_list("kind", flat=True)) == ["invoice", "label", "manifest"]


def test_without_a_commit_the_batch_waits_queued(desk, merchant, bluedart):
    order = make_order(merchant)

    response = act(desk, ORDERS, "ship_selected", [order], apply="1", **OPTIONS)

    batch = ShipBatch.objects.get()
    assert (response.status_code, batch.status, batch.processed) == (302, "queued", 0)
    assert messages_of(response)[0].endswith("for 1 order: queued. Its page shows each order's outcome, the pickups "
                                             "and the PDFs.")  # fmt: skip
    assert Order.objects.get(pk=order.pk).status == "new"


def test_an_invalid_option_shows_the_page_again_and_ships_nothing(desk, merchant, bluedart):
    order = make_order(merchant)

    response = act(desk, ORDERS, "ship_selected", [order], apply="1",
                   **{**OPTIONS, "ship-pickup_date": "someday", "ship-sort": "slowest"})  # fmt: skip

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "sort": ["Select a valid choice. slowest is not one of the available choices."],
        "pickup_date": ["Enter a valid date."],
    }
    assert ShipBatch.objects.count() == 0


def test_orders_of_several_merchants_make_one_batch_each(client, merchant, other_merchant, bluedart,
                                                         django_user_model):  # fmt: skip
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)
    shipping_courier(other_merchant)
    mine, theirs = make_order(merchant), make_order(other_merchant)

    response = act(client, ORDERS, "ship_selected", [mine, theirs], apply="1", **OPTIONS)

    batches = list(ShipBatch.objects.order_by("pk"))
    assert [(b.merchant_id, b.order_ids) for b in batches] == [(merchant.pk, [mine.pk]), (other_merchant.pk,
                                                                                          [theirs.pk])]  # fmt: skip
    assert response.status_code == 302 and response["Location"] == ORDERS  # two batches: back to the orders
    assert [m.split("</a>")[0] for m in messages_of(response)] == [
        f'<a href="{BATCHES}{b.pk}/change/">Ship batch {b.pk}' for b in batches]  # fmt: skip


def test_more_orders_than_a_batch_takes_are_refused(desk, merchant, bluedart, monkeypatch):
    monkeypatch.setattr(ship_batch_admin, "SHIP_BATCH_MAX", 2)  # 500 in production
    orders = [make_order(merchant) for _ in range(3)]

    response = act(desk, ORDERS, "ship_selected", orders, apply="1", **OPTIONS)

    assert messages_of(response) == ["Select at most 2 orders a batch, not 3."]
    assert ShipBatch.objects.count() == 0


def test_orders_no_courier_can_carry_are_named_on_the_batch_not_a_500(desk, merchant,
                                                                      django_capture_on_commit_callbacks):  # fmt: skip
    order = make_order(merchant)  # the merchant has no courier yet

    with django_capture_on_commit_callbacks(execute=True):
        response = act(desk, ORDERS, "ship_selected", [order], apply="1", **OPTIONS)

    batch = ShipBatch.objects.get()
    assert (response.status_code, batch.status, batch.shipped, batch.failed) == (302, "done", 0, 1)
    assert batch.results[str(order.pk)]["error"]["code"] == "not_serviceable"
    assert (batch.label_document, batch.invoice_document, Order.objects.get(pk=order.pk).status) == (None, None, "new")


def test_a_viewer_is_not_offered_the_action(client, merchant, bluedart):
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)
    order = make_order(merchant)

    response = act(client, ORDERS, "ship_selected", [order], apply="1", **OPTIONS)

    assert (response.status_code, messages_of(response)) == (302, ["No action selected."])
    assert ShipBatch.objects.count() == 0


# -- the batches ----------------------------------------------------------------------------------------------------


def test_the_list_shows_the_merchants_batches_with_their_progress(desk, merchant, other_merchant, bluedart):
    shipping_courier(other_merchant)
    done = ship_batch_run(batch_id=batch_of(merchant, [make_order(merchant),
                                                       make_order(merchant, shipping_address=KOLKATA)],
                                            print_invoice=False, print_label=False).pk)  # fmt: skip
    queued = batch_of(merchant, [make_order(merchant)])
    batch_of(other_merchant, [make_order(other_merchant)])

    response = desk.get(BATCHES)

    assert response.status_code == 200
    assert [b.pk for b in response.context["cl"].result_list] == [queued.pk, done.pk]
    content = response.content.decode()
    assert '<td class="field-progress">2/2</td>' in content
    assert '<td class="field-shipped">1</td><td class="field-failed">1</td>' in content
    assert '<td class="field-progress">0/1</td>' in content
    assert response.context["cl"].model_admin.has_add_permission(response.wsgi_request) is False


def test_the_list_query_count_does_not_grow_with_rows(desk, merchant, bluedart, django_assert_max_num_queries):
    order = make_order(merchant)
    for _ in range(3):
        batch_of(merchant, [order])
    with django_assert_max_num_queries(20) as small:
        desk.get(BATCHES)

    for _ in range(100):  # two pages of 100
        batch_of(merchant, [order])
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = desk.get(BATCHES)

    assert (response.context["cl"].result_count, len(response.context["cl"].result_list)) == (103, 100)


def test_the_page_shows_each_orders_outcome_and_links_the_pickups_manifests_and_pdfs(desk, merchant, bluedart):
    shipped, nowhere = make_order(merchant), make_order(merchant, shipping_address=KOLKATA)
    waiting = make_order(merchant)
    batch = batch_of(merchant, [shipped, nowhere], generate_manifest=True)
    batch = ship_batch_run(batch_id=batch.pk)
    batch.order_ids.append(waiting.pk)  # an order the job has not reached yet
    batch.save(update_fields=["order_ids"])
    shipment = Shipment.objects.get()
    pickup, manifest = PickupRequest.objects.get(), Manifest.objects.get()
    label, invoice = batch.label_document, batch.invoice_document
    manifest_pdf = batch.manifest_documents.get()

    response = desk.get(f"{BATCHES}{batch.pk}/change/")

    assert response.status_code == 200
    content = response.content.decode()
    assert (
        f'<tr><td><a href="/admin/orders/order/{shipped.pk}/change/">{shipped.number}</a></td><td>shipped</td>'
        f"<td>{shipment.awb}</td><td>bluedart</td><td></td></tr>"
    ) in content
    assert (
        f'<tr><td><a href="/admin/orders/order/{nowhere.pk}/change/">{nowhere.number}</a></td><td>refused</td>'
        f"<td>-</td><td>-</td><td>awb_assigned: No courier can carry order {nowhere.number}.</td></tr>"
    ) in content
    assert (
        f'<tr><td><a href="/admin/orders/order/{waiting.pk}/change/">{waiting.number}</a></td><td>waiting</td>'
        "<td>-</td><td>-</td><td></td></tr>"
    ) in content
    assert (
        f'<a href="/admin/shipping/pickuprequest/{pickup.pk}/change/">{pickup.token}</a> (Blue Dart from '
        f"{shipment.order.pickup_location.nickname} on {pickup.pickup_date})"
    ) in content
    assert f'<a href="/admin/shipping/manifest/{manifest.pk}/change/">{manifest.number}</a>' in content
    links = ", ".join(f'<a href="/admin/shipping/document/{document.pk}/download/">{text} PDF (1 page)</a>'
                      for document, text in ((label, "Shipping labels"), (invoice, "Tax invoices"),
                                             (manifest_pdf, "Manifest")))  # fmt: skip
    assert f'<div class="readonly">{links}</div>' in content
    assert "courier: recommended; sort: the merchant default; pickup: next; labels (4x6); invoices; manifests" in (
        content)  # fmt: skip


def test_another_merchants_batch_is_not_shown(desk, other_merchant):
    shipping_courier(other_merchant)
    theirs = batch_of(other_merchant, [make_order(other_merchant)])

    response = desk.get(f"{BATCHES}{theirs.pk}/change/")

    assert response.status_code == 302  # the admin's "does not exist" redirect to the index
    assert response["Location"] == "/admin/"


def test_run_again_resumes_batches_not_done_and_refuses_done_ones(desk, merchant, bluedart,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    queued = batch_of(merchant, [make_order(merchant)], print_invoice=False)
    failed = batch_of(merchant, [make_order(merchant)], print_invoice=False)
    ShipBatch.objects.filter(pk=failed.pk).update(status="failed", error="The batch exceeded its time limit.")
    done = ship_batch_run(batch_id=batch_of(merchant, [make_order(merchant)], print_invoice=False).pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = act(desk, BATCHES, "run_again_selected", [queued, failed, done])

    assert len(callbacks) == 2
    assert messages_of(response) == [f"Queued again 2 ship jobs; refused 1: Ship batch {done.pk} (Ship batch "
                                     f"{done.pk} is done; there is nothing left to run)."]  # fmt: skip
    assert [ShipBatch.objects.get(pk=b.pk).status for b in (queued, failed, done)] == ["done", "done", "done"]
    assert Shipment.objects.count() == 3


def test_a_viewer_cannot_run_a_batch_again(client, merchant, bluedart):
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)
    queued = batch_of(merchant, [make_order(merchant)])

    response = act(client, BATCHES, "run_again_selected", [queued])

    assert (response.status_code, response.context["action_form"]) == (200, None)
    assert ShipBatch.objects.get().status == "queued"
