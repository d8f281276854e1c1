"""Ship batches: shipping many orders as one resumable job, with one pickup, manifest and PDF per group."""

import contextlib
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orders.models import Order
from shipping.errors import BATCH_DONE
from shipping.eway import booking_warnings
from shipping.models import DocumentKind, ShipBatch, ShipBatchStatus, Shipment
from shipping.models import ShipmentStatus as S
from shipping.models.documents import SHIP_BATCH_STATES
from shipping.services.manifests import manifest_create
from shipping.services.pickups import pickup_schedule
from shipping.services.ship import (
    REFUSALS,
    ShipOptions,
    ShipRefused,
    ShipResult,
    book,
    document_now,
    failure,
    ship_courier,
)
from shopops.dispatch import send_on_commit
from shopops.errors import NOT_FOUND
from shopops.jobs import Job
from shopops.models import Merchant
from shopops.transitions import transition, transition_where

SHIP_BATCH_MAX = 500
#: A running batch whose worker gave no sign of life for this long was lost: running it again takes over.
SHIP_BATCH_STALE_AFTER = timedelta(minutes=10)


def ship_batch_create(*, merchant: Merchant, order_ids: list[int], actor: str, options: ShipOptions) -> ShipBatch:
    """Queue "ship these orders" (up to 500 of the merchant's; ``not_found`` naming any other) as one resumable job."""
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    if not ids:
        raise ValidationError({"order_ids": ["Name at least one order."]})
    if len(ids) > SHIP_BATCH_MAX:
        raise ValidationError({"order_ids": [f"At most {SHIP_BATCH_MAX} orders a batch, not {len(ids)}."]})
    known = set(Order.objects.filter(merchant=merchant, pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in known]
    if missing:
        raise NOT_FOUND(f"No orders with ids {', '.join(map(str, missing))}.")
    ship_courier(merchant, options)
    with transaction.atomic():
        batch = ShipBatch.objects.create(merchant=merchant, order_ids=ids, options=options.as_json(), total=len(ids),
                                         created_by=actor)  # fmt: skip
        send_on_commit("shipping.tasks.ship_batch_run", batch.pk)
    return batch


def ship_batch_resume(*, batch: ShipBatch) -> ShipBatch:
    """Queue a batch that is not done again (its worker was lost, it hit its time limit, it failed): the job
    resumes where it stopped. Refused: ``batch_done`` for a finished batch."""
    if batch.status == ShipBatchStatus.DONE:
        raise BATCH_DONE(f"Ship batch {batch.pk} is done; there is nothing left to run.",
                         {"status": batch.status})  # fmt: skip
    send_on_commit("shipping.tasks.ship_batch_run", batch.pk)
    return batch


def ship_batch_run(*, batch_id: int, claim: str = "") -> ShipBatch:
    """Run (or resume) a batch: book each order not yet booked, recording its outcome as it goes; then one pickup
    per courier and location, one label PDF and one invoice PDF for all, one manifest per courier and location.
    Run again, it skips what is done: booked orders keep their AWB, shipments their pickup and manifest, and the
    documents of unchanged data are the same documents. A batch running in a worker that still beats is left to
    it, unless ``claim`` is its claimer's own (its task's id: the task retried after a database error)."""
    now = timezone.now()
    with transaction.atomic():
        batch = ShipBatch.objects.select_for_update().select_related("merchant").get(pk=batch_id)
        if batch.status == ShipBatchStatus.DONE:
            return batch
        alive = batch.heartbeat_at is not None and batch.heartbeat_at > now - SHIP_BATCH_STALE_AFTER
        if batch.status == ShipBatchStatus.RUNNING and alive and not (claim and batch.claimed_by == claim):
            return batch  # another worker is on it ("run again" while it runs, a duplicate delivery)
        started = {"started_at": batch.started_at or now, "heartbeat_at": now, "claimed_by": claim}  # first start kept
        batch = transition(SHIP_BATCH_STATES, batch, ShipBatchStatus.RUNNING, locked=True, values=started)
    merchant, options = batch.merchant, ShipOptions.from_json(batch.options)
    orders = Order.objects.filter(merchant=merchant).in_bulk(batch.order_ids)
    for order_id in batch.order_ids:
        outcome = batch.results.get(str(order_id))
        if outcome and outcome["steps"]["awb_assigned"]:
            continue
        result = ShipResult()
        with contextlib.suppress(ShipRefused):  # the refusal (or the unexpected error) is in the result
            book(
                merchant=merchant,
                actor=batch.created_by,
                options=options,
                result=result,
                order=orders[order_id],
                record_errors=True,
                resume_calls=True,  # the batch's claim: no earlier run of it is under way
            )
        batch.results[str(order_id)] = _batch_outcome(result)
        _batch_progress(batch)
    booked = list(Shipment.objects.filter(merchant=merchant, order_id__in=batch.order_ids)
                  .exclude(status=S.CANCELLED).exclude(awb="")
                  .select_related("order__pickup_location", "courier").order_by("order_id"))  # fmt: skip
    ShipBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now())
    _batch_documents(batch, merchant, options, booked)
    done = {"finished_at": timezone.now(), "error": batch.error, "results": batch.results,
            "label_document": batch.label_document, "invoice_document": batch.invoice_document}  # fmt: skip
    return transition(SHIP_BATCH_STATES, batch, ShipBatchStatus.DONE, values=done)


def ship_batch_fail(*, batch_id: int, error: str) -> bool:
    """Record that a running batch stopped (it ran out of time): failed, with why; run again, it resumes. A batch in
    another status is left as it is. Whether it was marked."""
    return bool(transition_where(SHIP_BATCH_STATES, ShipBatch.objects.filter(pk=batch_id), ShipBatchStatus.FAILED,
                                 error=Job.error_text(error)))  # fmt: skip


def _batch_outcome(result: ShipResult) -> dict:
    shipment = result.shipment
    booked = result.steps["awb_assigned"] and result.order is not None
    return {"steps": {name: result.steps[name] for name in ("confirmed", "awb_assigned")},
            "shipment": shipment.pk if shipment else None, "awb": shipment.awb if shipment else "",
            "courier": shipment.courier.code if shipment else "", "error": result.error,
            "warnings": booking_warnings(result.order) if booked else []}  # fmt: skip


def _batch_progress(batch: ShipBatch) -> None:
    outcomes = batch.results.values()
    batch.processed = len(batch.results)
    batch.shipped = sum(1 for o in outcomes if o["steps"]["awb_assigned"])
    batch.failed = batch.processed - batch.shipped
    batch.heartbeat_at = timezone.now()
    batch.save(update_fields=["results", "processed", "shipped", "failed", "heartbeat_at"])


def _batch_documents(batch: ShipBatch, merchant: Merchant, options: ShipOptions, booked: list[Shipment]) -> None:
    """One pickup and one manifest per courier and location, then the batch's label and invoice PDFs; what fails
    is named in ``batch.error`` and the rest still done."""
    actor, problems = batch.created_by, []

    def attempt(what: str, work):
        try:
            return work()
        except REFUSALS as exc:
            problems.append(f"{what}: {failure('', exc)['message']}")
            return None

    groups: dict[tuple[int, int], list[Shipment]] = {}
    for shipment in booked:
        groups.setdefault((shipment.courier_id, shipment.order.pickup_location_id), []).append(shipment)
    for group in groups.values():
        name = f"{group[0].courier.name} from {group[0].order.pickup_location.nickname}"
        waiting = [s.pk for s in group if s.status == S.AWB_ASSIGNED]
        if options.request_pickup and waiting:
            attempt(f"pickup of {name}", lambda ids=waiting: pickup_schedule(
                merchant=merchant, shipment_ids=ids, pickup_date=options.pickup_date, actor=actor))  # fmt: skip
        unlisted = [s.pk for s in group if not s.manifest_id]
        if options.generate_manifest and unlisted:
            attempt(f"manifest of {name}",
                    lambda ids=unlisted: manifest_create(merchant=merchant, shipment_ids=ids, actor=actor))  # fmt: skip
    placed = Shipment.objects.filter(pk__in=[s.pk for s in booked]).values_list("pickup_id", "manifest_id")
    batch.pickups.set({pickup for pickup, _ in placed if pickup})
    batch.manifests.set({manifest for _, manifest in placed if manifest})
    if options.generate_manifest:
        for manifest_id in sorted(batch.manifests.values_list("pk", flat=True)):
            render = lambda m=manifest_id: document_now(merchant, DocumentKind.MANIFEST, [m], actor)  # noqa: E731
            document = attempt(f"manifest {manifest_id} PDF", render)
            if document is not None:
                batch.manifest_documents.add(document)
    if options.print_label and booked:
        batch.label_document = attempt("labels", lambda: document_now(
            merchant, DocumentKind.LABEL, [s.pk for s in booked], actor, options.label_format))  # fmt: skip
    if options.print_invoice and booked:
        batch.invoice_document = attempt("invoices", lambda: document_now(
            merchant, DocumentKind.INVOICE, [s.order_id for s in booked], actor))  # fmt: skip
    batch.error = Job.error_text("; ".join(problems))
