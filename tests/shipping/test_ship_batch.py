"""Ship selected orders as one resumable job (ShipBatch): per-order outcomes with reasons, one pickup and one
manifest per courier and location, one label PDF and one invoice PDF; a re-run after a crash does no step twice;
and the batch API (POST /ship/batch/, GET /ship/batch/{id}/)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.db.models import Count
from django.utils import timezone

from catalog.models import StockLevel
from orders.models import Order, OrderEvent
from shipping.adapters import OfflineAdapter
from shipping.models import (
    AWBPool,
    CourierCall,
    Document,
    Manifest,
    PickupRequest,
    ShipBatch,
    Shipment,
    ShipmentEvent,
)
from shipping.services import batches, ship, shipments
from shipping.services.awb import awb_pool_create_range, awb_pool_remaining
from shipping.services.batches import ship_batch_create, ship_batch_run
from shipping.services.ship import ShipOptions
from shipping.services.shipments import shipment_assign_awb
from tests.api import invalid
from tests.catalog.factories import LocationFactory, ProductFactory, stock
from tests.conftest import client_for
from tests.orders.factories import ADDRESS, default_location, make_order
from tests.shipping.documents_helpers import barcodes_on_page, gst_merchant, pdf_pages
from tests.shipping.factories import make_courier, shipping_courier

pytestmark = pytest.mark.django_db
BATCH = "/api/v1/ship/batch/"
DELHI = {**ADDRESS, "city": "New Delhi", "state": "Delhi", "postcode": "110001"}
KOLKATA = {**ADDRESS, "city": "Kolkata", "state": "West Bengal", "postcode": "700001"}


class Desk:
    """A merchant shipping 100 orders: Blue Dart (560025, an AWB pool of 70) from two locations, Delhivery (Delhi)
    from the main one, ten orders of a product out of stock and five to a pincode no courier serves."""

    def __init__(self, merchant):
        gst_merchant(merchant)
        self.merchant = merchant
        self.bluedart = shipping_courier(merchant, pool=70)
        self.delhivery = make_courier(merchant, code="delhivery", name="Delhivery", pincodes=("560001", "110001"))
        awb_pool_create_range(courier=self.delhivery, name="dl pool", start=1, end=1000, prefix="DL", width=9)
        self.main, self.annex = default_location(merchant), LocationFactory(merchant=merchant, nickname="annex")
        self.tee, self.mug = ProductFactory(merchant=merchant, sku="TEE"), ProductFactory(merchant=merchant, sku="MUG")
        stock(self.tee, self.main, 500)
        stock(self.tee, self.annex, 500)
        stock(self.mug, self.main, 3)
        self.kinds: dict[int, str] = {}

    def orders(self, kind: str, count: int, product=None, quantity: int = 1, location=None, **overrides) -> list:
        made = [make_order(self.merchant, "new", products=[(product or self.tee, quantity)],
                           pickup_location=str((location or self.main).pk), **overrides)
                for _ in range(count)]  # fmt: skip
        self.kinds.update(dict.fromkeys((o.pk for o in made), kind))
        return made

    def hundred(self) -> list[int]:
        """100 order ids, failures interleaved; Blue Dart's pool runs out on its last 5 orders (the annex's)."""
        first = self.orders("bluedart-main", 30)
        short = self.orders("short", 10, product=self.mug, quantity=5)
        delhi = self.orders("delhivery-main", 10, shipping_address=DELHI)
        second = self.orders("bluedart-main", 25)
        nowhere = self.orders("nowhere", 5, shipping_address=KOLKATA)
        annex = self.orders("bluedart-annex", 20, location=self.annex)
        ids = [o.pk for o in [*first, *short, *delhi, *second, *nowhere, *annex]]
        for order_id in ids[-5:]:
            self.kinds[order_id] = "pool-empty"
        return ids


@pytest.fixture
def desk(merchant):
    return Desk(merchant)


def batch_of(merchant, order_ids, **options) -> ShipBatch:
    """A queued batch (the test transaction never commits, so nothing runs until the test calls the job)."""
    options = {"generate_manifest": True, **options}
    return ship_batch_create(merchant=merchant, order_ids=order_ids, actor="user:1", options=ShipOptions(**options))


def codes(batch: ShipBatch) -> dict[int, str]:
    """Each order's outcome: the refusal's code, or ok."""
    return {int(k): (v["error"] or {}).get("code", "ok") for k, v in batch.results.items()}


def state(merchant) -> dict:
    """Every write a step makes, counted: a re-run must leave all of them as they are."""
    shipments = Shipment.objects.filter(merchant=merchant)
    return {
        "orders": sorted(Order.objects.filter(merchant=merchant).values_list("pk", "status", "awb")),
        "order_events": Counter(OrderEvent.objects.filter(merchant=merchant).values_list("kind", "to_status")),
        "shipments": sorted(shipments.values_list("pk", "order_id", "awb", "status", "pickup_id", "manifest_id")),
        "shipment_events": Counter(ShipmentEvent.objects.filter(merchant=merchant).values_list("kind", "to_status")),
        "reserved": sorted(StockLevel.objects.filter(product__merchant=merchant).values_list("pk", "reserved")),
        "awbs_left": sorted((p.pk, awb_pool_remaining(p)) for p in AWBPool.objects.filter(courier__merchant=merchant)),
        "pickups": sorted(PickupRequest.objects.filter(merchant=merchant).values_list("pk", "token")),
        "manifests": sorted(Manifest.objects.filter(merchant=merchant).values_list("pk", "number")),
        "documents": sorted(Document.objects.filter(merchant=merchant).values_list("pk", "kind", "status")),
    }


def assert_nothing_done_twice(merchant, batch: ShipBatch) -> None:
    shipped = [int(k) for k, v in batch.results.items() if v["steps"]["awb_assigned"]]
    confirmations = Counter(OrderEvent.objects.filter(order_id__in=batch.order_ids, kind="status_changed")
                            .values_list("order_id", "to_status"))  # fmt: skip
    assert {k: n for k, n in confirmations.items() if n != 1} == {}
    assert {order_id for order_id, status in confirmations if status == "packed"} == set(shipped)
    assert list(Shipment.objects.values("order_id").annotate(n=Count("id")).filter(n__gt=1)) == []
    per_shipment = Counter(ShipmentEvent.objects.filter(shipment__order_id__in=batch.order_ids)
                           .values_list("shipment_id", "kind", "to_status"))  # fmt: skip
    assert {key: n for key, n in per_shipment.items() if n != 1} == {}
    assert Counter(kind for _, kind, _ in per_shipment) == {"created": len(shipped), "awb_assigned": len(shipped),
                                                            "status_changed": len(shipped),
                                                            "manifested": len(shipped)}  # fmt: skip
    assert OrderEvent.objects.filter(order_id__in=shipped, kind="awb_assigned").count() == len(shipped)


# -- 100 orders, a mix of failures ----------------------------------------------------------------------------------


def test_a_hundred_orders_ship_with_each_refusal_named_one_pickup_and_manifest_per_courier_and_location(desk):
    merchant = desk.merchant
    ids = desk.hundred()
    batch = batch_of(merchant, ids)

    batch = ship_batch_run(batch_id=batch.pk)

    expected = {"bluedart-main": "ok", "delhivery-main": "ok", "bluedart-annex": "ok", "short": "insufficient_stock",
                "nowhere": "not_serviceable", "pool-empty": "awb_pool_exhausted"}  # fmt: skip
    assert codes(batch) == {order_id: expected[desk.kinds[order_id]] for order_id in ids}
    assert (batch.status, batch.total, batch.processed, batch.shipped, batch.failed, batch.error) == (
        "done", 100, 100, 80, 20, "")  # fmt: skip
    assert batch.started_at is not None and batch.finished_at >= batch.started_at
    # one outcome of each kind, whole
    by_kind = {desk.kinds[int(k)]: v for k, v in batch.results.items()}
    first = Shipment.objects.get(order_id=ids[0])
    assert by_kind["bluedart-main"]["steps"] == {"confirmed": True, "awb_assigned": True}
    assert batch.results[str(ids[0])] == {"steps": {"confirmed": True, "awb_assigned": True},
                                          "shipment": first.pk, "awb": "BL10000000", "courier": "bluedart",
                                          "error": None, "warnings": []}  # fmt: skip
    assert by_kind["short"] == {
        "steps": {"confirmed": False, "awb_assigned": False}, "shipment": None, "awb": "", "courier": "",
        "error": {"step": "confirmed", "code": "insufficient_stock", "message": "Not enough stock for MUG.",
                  "details": {"lines": [{"sku": "MUG", "product": desk.mug.pk, "location": desk.main.pk,
                                         "requested": 5, "available": 3}]}},
        "warnings": [],
    }  # fmt: skip
    assert by_kind["nowhere"]["error"]["step"] == "awb_assigned"
    assert by_kind["nowhere"]["error"]["details"]["blocked"] == [
        {"courier_id": desk.bluedart.pk, "reason": "delivery pincode not serviceable"},
        {"courier_id": desk.delhivery.pk, "reason": "delivery pincode not serviceable"}]  # fmt: skip
    assert by_kind["pool-empty"]["error"] == {
        "step": "awb_assigned", "code": "awb_pool_exhausted",
        "message": "No AWB numbers left for Blue Dart; add a pool or a list of numbers.",
        "details": {"courier": "bluedart"}}  # fmt: skip

    # refused orders are left as they were: new, nothing reserved, no shipment
    refused = [i for i in ids if desk.kinds[i] in ("short", "nowhere", "pool-empty")]
    assert set(Order.objects.filter(pk__in=refused).values_list("status", flat=True)) == {"new"}
    assert Shipment.objects.filter(order_id__in=refused).count() == 0
    shipped = [i for i in ids if i not in refused]
    assert set(Order.objects.filter(pk__in=shipped).values_list("status", flat=True)) == {"packed"}
    assert StockLevel.objects.get(product=desk.mug).reserved == 0
    assert sorted(StockLevel.objects.filter(product=desk.tee).values_list("location__nickname", "reserved")) == [
        ("annex", 15), ("main", 65)]  # fmt: skip
    assert (awb_pool_remaining(desk.bluedart.awb_pools.get()), awb_pool_remaining(desk.delhivery.awb_pools.get())) == (
        0, 990)  # fmt: skip

    # one pickup and one manifest per courier and location, each holding its shipments
    groups = {("bluedart", "main"): 55, ("delhivery", "main"): 10, ("bluedart", "annex"): 15}
    pickups = PickupRequest.objects.filter(merchant=merchant).annotate(n=Count("shipments"))
    assert {(p.courier.code, p.location.nickname): p.n for p in pickups} == groups
    assert set(batch.pickups.values_list("pk", flat=True)) == {p.pk for p in pickups}
    manifests = Manifest.objects.filter(merchant=merchant).annotate(n=Count("shipments"))
    assert {(m.courier.code, m.location.nickname): m.n for m in manifests} == groups
    assert [m.pickup_id is not None for m in manifests] == [True, True, True]
    assert set(batch.manifests.values_list("pk", flat=True)) == {m.pk for m in manifests}
    assert set(Shipment.objects.values_list("status", flat=True)) == {"pickup_scheduled"}

    # one label PDF for the 80 shipments, one invoice PDF for their orders, a manifest PDF per manifest
    documents = Counter(Document.objects.filter(merchant=merchant).values_list("kind", flat=True))
    assert documents == {"label": 1, "invoice": 1, "manifest": 3}
    label, invoice = batch.label_document, batch.invoice_document
    assert (label.status, label.page_count, label.shipments.count(), label.not_created) == ("done", 80, 80, [])
    label_pdf = label.file.read()
    assert len(pdf_pages(label_pdf)) == 80
    assert barcodes_on_page(label_pdf, 0)[0] == "BL10000000"
    assert (invoice.status, invoice.orders.count(), invoice.not_created) == ("done", 80, [])
    assert sorted(invoice.orders.values_list("pk", flat=True)) == sorted(shipped)
    assert {(d.kind, d.status, d.manifest_id) for d in batch.manifest_documents.all()} == {
        ("manifest", "done", m.pk) for m in manifests}  # fmt: skip


def test_without_pickups_documents_or_manifests_the_batch_only_books(desk):
    ids = [o.pk for o in desk.orders("bluedart-main", 3)]
    batch = batch_of(desk.merchant, ids, request_pickup=False, print_label=False, print_invoice=False,
                     generate_manifest=False)  # fmt: skip

    batch = ship_batch_run(batch_id=batch.pk)

    assert (batch.status, batch.shipped, batch.failed) == ("done", 3, 0)
    assert (batch.label_document, batch.invoice_document, list(batch.pickups.all()), list(batch.manifests.all())) == (
        None, None, [], [])  # fmt: skip
    assert set(Shipment.objects.values_list("status", flat=True)) == {"awb_assigned"}
    assert Document.objects.count() == 0


def test_a_failed_document_is_named_in_the_error_and_the_rest_is_done(desk):
    ids = [o.pk for o in desk.orders("bluedart-main", 2)]
    desk.merchant.tax_id = ""
    desk.merchant.save()
    batch = batch_of(desk.merchant, ids)

    batch = ship_batch_run(batch_id=batch.pk)

    assert (batch.status, batch.shipped) == ("done", 2)
    assert batch.error == ("invoices: Set the merchant's GSTIN / tax id (Merchant.tax_id) before issuing tax "
                           "invoices.")  # fmt: skip
    assert (batch.invoice_document, batch.label_document.page_count, batch.pickups.count()) == (None, 2, 1)


def test_an_unexpected_error_booking_one_order_is_logged_as_internal_error_and_the_batch_goes_on(desk, monkeypatch,
                                                                                                   caplog):  # fmt: skip
    first, broken, last = desk.orders("bluedart-main", 3)
    uses_pool = OfflineAdapter.uses_pool

    def failing_for_broken(adapter, courier):  # asked while the booking is recorded, before any courier call
        if Shipment.objects.filter(order=broken, status="new").exists():
            raise RuntimeError("a bug while recording the booking")
        return uses_pool(adapter, courier)

    monkeypatch.setattr(OfflineAdapter, "uses_pool", failing_for_broken)
    batch = batch_of(desk.merchant, [first.pk, broken.pk, last.pk])

    batch = ship_batch_run(batch_id=batch.pk)

    assert (batch.status, batch.processed, batch.shipped, batch.failed, batch.error) == ("done", 3, 2, 1, "")
    assert codes(batch) == {first.pk: "ok", broken.pk: "internal_error", last.pk: "ok"}
    assert batch.results[str(broken.pk)] == {
        "steps": {"confirmed": False, "awb_assigned": False}, "shipment": None, "awb": "", "courier": "",
        "error": {"step": "awb_assigned", "code": "internal_error",
                  "message": "An unexpected error occurred (RuntimeError); it has been logged.", "details": {}},
        "warnings": [],
    }  # fmt: skip
    logged = [r for r in caplog.records if r.name == "shopops.errors"]
    assert [(r.levelname, r.getMessage(), r.exc_info[0]) for r in logged] == [
        ("ERROR", "Unexpected error in a batch item", RuntimeError)]  # fmt: skip
    broken.refresh_from_db()
    assert (broken.status, Shipment.objects.filter(order=broken).exists()) == ("new", False)  # nothing of it kept
    assert batch.label_document.page_count == 2


def test_a_courier_failing_to_book_one_order_leaves_it_packed_and_the_batch_goes_on(desk, monkeypatch):
    first, broken, last = desk.orders("bluedart-main", 3)
    assign_awb = OfflineAdapter.assign_awb

    def failing_for_broken(adapter, shipment, allocate_from_pool, *, key):
        if shipment.order_id == broken.pk:
            raise RuntimeError("the courier's booking call answered nonsense")
        return assign_awb(adapter, shipment, allocate_from_pool, key=key)

    monkeypatch.setattr(OfflineAdapter, "assign_awb", failing_for_broken)
    batch = batch_of(desk.merchant, [first.pk, broken.pk, last.pk])

    batch = ship_batch_run(batch_id=batch.pk)

    shipment, call = Shipment.objects.get(order=broken), CourierCall.objects.get(shipment__order=broken)
    assert (batch.status, batch.processed, batch.shipped, batch.failed, batch.error) == ("done", 3, 2, 1, "")
    assert batch.results[str(broken.pk)] == {
        "steps": {"confirmed": True, "awb_assigned": False}, "shipment": shipment.pk, "awb": "",
        "courier": "bluedart",
        "error": {"step": "awb_assigned", "code": "courier_call_failed",
                  "message": f"Blue Dart did not book shipment {shipment.pk}: RuntimeError: the courier's booking call "
                             "answered nonsense. Ask again to retry.",
                  "details": {"call": call.pk, "kind": "book", "courier": "bluedart",
                              "error": "RuntimeError: the courier's booking call answered nonsense"}},
        "warnings": [],
    }  # fmt: skip
    broken.refresh_from_db()
    assert (broken.status, shipment.status, call.status) == ("packed", "new", "failed")  # kept, waiting for a retry

    monkeypatch.undo()
    shipment = shipment_assign_awb(shipment=shipment, actor="user:1")  # the booking asked again, same key

    call.refresh_from_db()
    assert (shipment.status, call.status, call.attempts) == ("awb_assigned", "succeeded", 2)
    assert shipment.awb == call.request["pool_awb"]  # the number taken when the booking was first recorded


# -- resuming -------------------------------------------------------------------------------------------------------


class WorkerDied(BaseException):
    """The worker killed mid-batch (not an Exception: nothing in the job may catch it)."""


def crash_after(monkeypatch, name: str, calls: int) -> list:
    """Make ``shipping.services.batches.<name>`` run for real, then die on its ``calls``-th call (after its work
    was committed, before the job records it)."""
    real, seen = getattr(batches, name), []

    def dying(*args, **kwargs):
        seen.append(1)
        result = real(*args, **kwargs)  # a refusal raises here, as it would without the crash
        if len(seen) == calls:
            raise WorkerDied(f"{name} call {calls}")
        return result

    monkeypatch.setattr(batches, name, dying)
    return seen


def test_a_batch_resumed_after_its_worker_died_mid_booking_does_no_step_twice(desk, monkeypatch):
    merchant = desk.merchant
    ids = desk.hundred()
    batch = batch_of(merchant, ids)
    crash_after(monkeypatch, "book", 50)

    with pytest.raises(WorkerDied):
        ship_batch_run(batch_id=batch.pk)

    half = ShipBatch.objects.get(pk=batch.pk)
    assert (half.status, half.processed, half.label_document, half.pickups.count()) == ("running", 49, None, 0)
    assert Shipment.objects.filter(awb__gt="").count() == 40  # orders 1-50 less the 10 short: the 50th booked
    monkeypatch.undo()
    worker_gone(batch)

    done = ship_batch_run(batch_id=batch.pk)

    assert (done.status, done.processed, done.shipped, done.failed) == ("done", 100, 80, 20)
    assert done.results[str(ids[49])]["awb"] == Shipment.objects.get(order_id=ids[49]).awb  # booked before the crash
    assert_nothing_done_twice(merchant, done)
    assert awb_pool_remaining(desk.bluedart.awb_pools.get()) == 0
    assert 1000 - awb_pool_remaining(desk.delhivery.awb_pools.get()) == 10  # pool use = shipments booked
    assert Shipment.objects.count() == 80
    assert PickupRequest.objects.count() == Manifest.objects.count() == 3
    assert Counter(Document.objects.values_list("kind", flat=True)) == {"label": 1, "invoice": 1, "manifest": 3}


def test_a_batch_resumed_after_dying_between_pickups_and_labels_books_no_pickup_twice(desk, monkeypatch):
    merchant = desk.merchant
    ids = [o.pk for o in [*desk.orders("bluedart-main", 4), *desk.orders("bluedart-annex", 3, location=desk.annex)]]
    batch = batch_of(merchant, ids)
    crash_after(monkeypatch, "document_now", 2)  # the second manifest PDF

    with pytest.raises(WorkerDied):
        ship_batch_run(batch_id=batch.pk)

    assert (PickupRequest.objects.count(), Manifest.objects.count(), Document.objects.count()) == (2, 2, 2)
    before = state(merchant)
    monkeypatch.undo()
    worker_gone(batch)

    done = ship_batch_run(batch_id=batch.pk)

    assert (done.status, done.shipped, done.error) == ("done", 7, "")
    after = state(merchant)
    assert after["documents"][:2] == before["documents"]  # the two manifest PDFs reused, then label and invoice
    assert [kind for _, kind, _ in after["documents"]] == ["manifest", "manifest", "label", "invoice"]
    assert {k: v for k, v in after.items() if k != "documents"} == {k: v for k, v in before.items()
                                                                     if k != "documents"}  # fmt: skip
    assert_nothing_done_twice(merchant, done)
    assert done.label_document.page_count == 7


def worker_gone(batch: ShipBatch) -> None:
    """The crashed worker's last sign of life is older than SHIP_BATCH_STALE_AFTER: another may take over."""
    ShipBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=11))


def test_a_running_batch_whose_worker_is_alive_is_left_to_it(desk, monkeypatch):
    ids = desk.hundred()[:10]
    batch = batch_of(desk.merchant, ids)
    crash_after(monkeypatch, "book", 3)
    with pytest.raises(WorkerDied):
        ship_batch_run(batch_id=batch.pk)
    monkeypatch.undo()
    before = (state(desk.merchant), ShipBatch.objects.filter(pk=batch.pk).values().get())

    second = ship_batch_run(batch_id=batch.pk)  # the first worker's heartbeat is seconds old

    assert (second.status, second.processed) == ("running", 2)
    assert (state(desk.merchant), ShipBatch.objects.filter(pk=batch.pk).values().get()) == before


def test_a_database_error_while_booking_is_raised_for_the_task_to_retry_and_its_retry_resumes(desk, monkeypatch):
    ids = desk.hundred()[:10]
    batch = batch_of(desk.merchant, ids)
    real_intent, calls = ship.book_intent, []

    def database_gone_at_the_third(**kwargs):
        calls.append(1)
        if len(calls) == 3:  # the third order's booking finds the database gone
            raise OperationalError("terminating connection due to administrator command")
        return real_intent(**kwargs)

    monkeypatch.setattr(ship, "book_intent", database_gone_at_the_third)
    with pytest.raises(OperationalError):  # not recorded as the order's internal_error: the task retries
        ship_batch_run(batch_id=batch.pk, claim="task-1")
    monkeypatch.undo()
    other = ship_batch_run(batch_id=batch.pk, claim="task-2")  # another delivery while the first's claim is fresh

    assert (other.status, other.processed, other.claimed_by) == ("running", 2, "task-1")
    retried = ship_batch_run(batch_id=batch.pk, claim="task-1")  # the claimer's own retry resumes it
    assert (retried.status, retried.processed, retried.shipped, retried.failed) == ("done", 10, 10, 0)
    assert_nothing_done_twice(desk.merchant, retried)


def test_a_booking_cut_short_by_a_database_error_is_asked_again_at_once_by_the_batch_retry(desk, monkeypatch):
    ids = desk.hundred()[:10]
    batch = batch_of(desk.merchant, ids)
    unused = awb_pool_remaining(desk.bluedart.awb_pools.get())
    real_outcome, calls = shipments.book_outcome, []

    def database_gone_at_the_third(call, awb, **kwargs):  # the courier answered; recording it finds no database
        calls.append(call.pk)
        if len(calls) == 3:
            raise OperationalError("terminating connection due to administrator command")
        return real_outcome(call, awb, **kwargs)

    monkeypatch.setattr(shipments, "book_outcome", database_gone_at_the_third)
    with pytest.raises(OperationalError):
        ship_batch_run(batch_id=batch.pk, claim="task-1")
    cut = CourierCall.objects.get(pk=calls[2])
    assert (cut.status, cut.attempts) == ("pending", 1)  # its attempt began moments ago
    monkeypatch.undo()

    retried = ship_batch_run(batch_id=batch.pk, claim="task-1")

    cut.refresh_from_db()
    assert (retried.status, retried.shipped, retried.failed) == ("done", 10, 0)
    assert (cut.status, cut.attempts, cut.shipment.awb) == ("succeeded", 2, cut.request["pool_awb"])  # same number
    assert unused - awb_pool_remaining(desk.bluedart.awb_pools.get()) == 10  # one AWB per shipment
    assert_nothing_done_twice(desk.merchant, retried)


def test_running_a_done_batch_again_changes_nothing(desk):
    ids = desk.hundred()[:20]
    batch = ship_batch_run(batch_id=batch_of(desk.merchant, ids).pk)
    before = (state(desk.merchant), ShipBatch.objects.filter(pk=batch.pk).values().get())

    again = ship_batch_run(batch_id=batch.pk)

    assert again.status == "done"
    assert (state(desk.merchant), ShipBatch.objects.filter(pk=batch.pk).values().get()) == before


def test_the_task_runs_the_job_by_id(desk):
    from shipping.tasks import ship_batch_run as task

    ids = [o.pk for o in desk.orders("bluedart-main", 2)]
    batch = batch_of(desk.merchant, ids)

    assert task(batch.pk) == "done"
    assert ShipBatch.objects.get(pk=batch.pk).shipped == 2


# -- the API --------------------------------------------------------------------------------------------------------


def test_post_queues_the_batch_on_commit_and_answers_202(desk, django_capture_on_commit_callbacks):
    ids = [o.pk for o in desk.orders("bluedart-main", 3)]
    api = client_for(desk.merchant)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(BATCH, {"order_ids": ids, "options": {"print_invoice": False}}, format="json")

    assert response.status_code == 202
    batch = ShipBatch.objects.get()
    assert response.json() == {
        "id": batch.pk, "status": "queued", "order_ids": ids,
        "options": {"courier": "recommended", "sort": None, "request_pickup": True, "pickup_date": None,
                    "print_label": True, "label_format": "4x6", "print_invoice": False, "generate_manifest": False},
        "total": 3, "processed": 0, "shipped": 0, "failed": 0, "results": {}, "pickups": [], "manifests": [],
        "label_document": None, "invoice_document": None, "manifest_documents": [], "error": "",
        "created_at": response.json()["created_at"], "started_at": None, "finished_at": None,
    }  # fmt: skip
    assert batch.created_by == f"app:{api.application.client_id}"
    assert len(callbacks) == 1
    assert Shipment.objects.count() == 0  # nothing runs before the commit


def test_get_shows_the_progress_and_the_outcome(desk, django_capture_on_commit_callbacks):
    ids = [*(o.pk for o in desk.orders("bluedart-main", 2)), desk.orders("nowhere", 1, shipping_address=KOLKATA)[0].pk]
    api = client_for(desk.merchant)
    with django_capture_on_commit_callbacks(execute=True):  # the task runs eagerly, as without a broker
        batch_id = api.post(BATCH, {"order_ids": ids}, format="json").json()["id"]

    response = api.get(f"{BATCH}{batch_id}/")

    assert response.status_code == 200
    body = response.json()
    batch = ShipBatch.objects.get()
    shipments = list(Shipment.objects.order_by("order_id"))
    assert (body["status"], body["total"], body["processed"], body["shipped"], body["failed"]) == (
        "done", 3, 3, 2, 1)  # fmt: skip
    assert body["results"][str(ids[0])] == {"steps": {"confirmed": True, "awb_assigned": True},
                                            "shipment": shipments[0].pk, "awb": "BL10000000",
                                            "courier": "bluedart", "error": None, "warnings": []}  # fmt: skip
    assert body["results"][str(ids[2])]["error"]["code"] == "not_serviceable"
    assert body["pickups"] == [shipments[0].pickup_id]
    assert (body["label_document"]["id"], body["label_document"]["page_count"]) == (batch.label_document_id, 2)
    assert (
        body["label_document"]["download_url"]
        == f"http://testserver/api/v1/documents/{batch.label_document_id}/download/"
    )
    assert body["invoice_document"]["order_ids"] == ids[:2]


def test_more_than_500_orders_is_a_400_and_nothing_is_queued(merchant):
    response = client_for(merchant).post(BATCH, {"order_ids": list(range(1, 502))}, format="json")

    assert (response.status_code, response.json()) == (400, invalid(
        {"order_ids": ["Ensure this field has no more than 500 elements."]}))  # fmt: skip
    assert ShipBatch.objects.count() == 0


@pytest.mark.parametrize(("body", "details"), [
    ({"order_ids": []}, {"order_ids": ["This list may not be empty."]}),
    ({}, {"order_ids": ["This field is required."]}),
    ({"order_ids": [1], "options": {"sort": "slowest"}}, {"options.sort": ['"slowest" is not a valid choice.']}),
])  # fmt: skip
def test_invalid_batch_bodies_are_400s(merchant, body, details):
    response = client_for(merchant).post(BATCH, body, format="json")

    assert (response.status_code, response.json()) == (400, invalid(details))
    assert ShipBatch.objects.count() == 0


def test_an_unknown_courier_is_a_400_and_nothing_is_queued(desk):
    order = desk.orders("bluedart-main", 1)[0]

    response = client_for(desk.merchant).post(BATCH, {"order_ids": [order.pk], "options": {"courier": "dhl"}},
                                              format="json")  # fmt: skip

    assert (response.status_code, response.json()) == (400, invalid({"courier": ["Unknown courier 'dhl'."]}))
    assert ShipBatch.objects.count() == 0


def test_another_merchants_order_id_is_a_404_and_nothing_is_queued(desk, other_merchant):
    mine = desk.orders("bluedart-main", 1)[0]
    theirs = make_order(other_merchant)

    response = client_for(desk.merchant).post(BATCH, {"order_ids": [mine.pk, theirs.pk]}, format="json")

    assert (response.status_code, response.json()) == (404, {
        "code": "not_found", "message": f"No orders with ids {theirs.pk}.", "details": {}})  # fmt: skip
    assert (ShipBatch.objects.count(), Shipment.objects.count()) == (0, 0)
    assert [Order.objects.get(pk=o.pk).status for o in (mine, theirs)] == ["new", "new"]


def test_another_merchants_batch_is_a_404(desk, other_merchant):
    batch = batch_of(desk.merchant, [desk.orders("bluedart-main", 1)[0].pk])

    response = client_for(other_merchant).get(f"{BATCH}{batch.pk}/")

    assert (response.status_code, response.json()) == (404, {"code": "not_found", "message": "Not found.",
                                                             "details": {}})  # fmt: skip


@pytest.mark.parametrize(("scopes", "post", "get"), [
    (["orders:write", "shipping:write", "orders:read", "shipping:read"], 202, 200),
    (["orders:write", "orders:read", "shipping:read"], 403, 200),
    (["shipping:write", "orders:read", "shipping:read"], 403, 200),
    (["orders:write", "shipping:write"], 202, 403),
    (["orders:read"], 403, 403),
])  # fmt: skip
def test_writing_needs_orders_and_shipping_write_reading_both_reads(desk, scopes, post, get):
    batch = batch_of(desk.merchant, [desk.orders("bluedart-main", 1)[0].pk])
    api = client_for(desk.merchant, scopes=scopes)

    created = api.post(BATCH, {"order_ids": batch.order_ids}, format="json")
    read = api.get(f"{BATCH}{batch.pk}/")

    assert (created.status_code, read.status_code) == (post, get)
    assert ShipBatch.objects.count() == (2 if post == 202 else 1)
