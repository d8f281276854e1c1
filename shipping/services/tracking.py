"""Tracking: courier events ingested (webhooks, polls, CSV, by hand) moving shipments along, and each courier's
performance computed from its shipments."""

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shipping.adapters import TrackingUpdate, adapter_for, code_known, status_for
from shipping.models import (
    COURIER_MOVES,
    FINAL_STATUSES,
    RTO_STATUSES,
    Courier,
    Shipment,
    TrackingEvent,
)
from shipping.models import ShipmentStatus as S
from shipping.selectors import PRIOR_ON_TIME_RATE, PRIOR_RTO_RATE
from shipping.services.ndr import ndr_follow
from shipping.services.notifications import notify
from shipping.services.shipments import lock_order_of, order_follow, set_status
from shipping.webhooks import event_time_problem
from shopops.integrations import outside_transaction


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    orphans: int = 0
    applied: int = 0
    ignored: int = 0
    refused: int = 0
    unknown: int = 0
    errors: list[dict] = field(default_factory=list)


def event_key(update: TrackingUpdate) -> str:
    """The courier's event id with its AWB (couriers may number the scans of each parcel from 1), or without one
    a digest of what identifies the event."""
    if update.event_id:
        return f"{update.awb}|{update.event_id}"[:100]
    basis = f"{update.awb}|{update.code}|{update.occurred_at.isoformat()}|{update.location}|{update.description}"
    return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()


#: How far a scan may be dated before its order was placed (clocks of shops and couriers differ a little).
ORDER_CLOCK_SLACK = timedelta(hours=1)


def tracking_ingest(*, courier: Courier, updates: list[TrackingUpdate], source: str, actor: str = "",
                    now: datetime | None = None) -> IngestResult:  # fmt: skip
    """Store courier events and move shipments along, each event in its own transaction under the shipment's lock.

    An event already received (same courier event id, or the same content) is a duplicate and changes nothing.
    An event for an AWB no shipment of this courier has is kept as an orphan. An event older than the latest
    applied one, or one that would move the shipment backwards, is stored in the timeline but does not change
    the status. A status change drives the order (picked up: shipped, the stock leaves; delivered; RTO;
    RTO delivered: restocked), opens or updates the NDR, and queues the customer's notifications.

    A code in no status table (the courier's or its adapter's) is kept on its event, flagged ``unknown_code``
    and counted, and moves nothing.

    An event whose time cannot be true is refused (counted, not stored): before the year 2000, more than a day
    ahead of ``now`` (a poll's clock), or (for a shipment found) more than an hour before its order was placed."""
    result = IngestResult()
    actor = actor or f"courier:{courier.code}"
    now = now or timezone.now()
    for update in updates:
        if event_time_problem(update.occurred_at, now=now):
            result.refused += 1
            continue
        with transaction.atomic():
            live = Shipment.objects.filter(courier=courier, awb=update.awb).exclude(status=S.CANCELLED)
            found = live.values_list("pk", flat=True).first()
            if found is not None:
                lock_order_of(found)
            shipment = (live.select_for_update(of=("self",)).select_related("order", "merchant").filter(pk=found)
                        .first() if found is not None else None)  # fmt: skip
            if shipment is not None and update.occurred_at < shipment.order.ordered_at - ORDER_CLOCK_SLACK:
                result.refused += 1
                continue
            status = status_for(courier, update.code)
            key = event_key(update)
            if TrackingEvent.objects.filter(courier=courier, event_key=key).exists():
                result.duplicates += 1
                continue
            try:
                with transaction.atomic():  # the same event delivered twice at once (an orphan has no shipment lock
                    event = TrackingEvent.objects.create(  # to order the two): the second is a duplicate
                        merchant_id=courier.merchant_id, courier=courier, shipment=shipment, awb=update.awb,
                        event_key=key, status=status or "", code=update.code[:40],
                        description=update.description[:500], location=update.location[:120],
                        occurred_at=update.occurred_at, source=source, raw=update.raw,
                        unknown_code=not code_known(courier, update.code),
                    )  # fmt: skip
            except IntegrityError:
                result.duplicates += 1
                continue
            result.accepted += 1
            result.unknown += event.unknown_code
            if shipment is None:
                result.orphans += 1
                continue
            if status and _apply_event(shipment, event, status, actor):
                result.applied += 1
            else:
                result.ignored += 1
    return result


def _apply_event(shipment: Shipment, event: TrackingEvent, status: str, actor: str) -> bool:
    """Move the locked shipment to ``status`` if the event is the newest and the move goes forward."""
    if shipment.last_event_at is not None and event.occurred_at < shipment.last_event_at:
        return False
    repeat_ndr = status == S.NDR == shipment.status
    if status == shipment.status and not repeat_ndr:
        return False  # a second scan of the same status (kept in the timeline)
    if status not in COURIER_MOVES[shipment.status] and not repeat_ndr:
        return False
    previous = shipment.status
    if repeat_ndr:
        shipment.last_event_at = event.occurred_at
        shipment.save(update_fields=["last_event_at", "updated_at"])
    else:
        set_status(shipment, status, actor, at=event.occurred_at, message=event.description,
                   data={"tracking_event": event.pk, "code": event.code},
                   values={"last_event_at": event.occurred_at})  # fmt: skip
    TrackingEvent.objects.filter(pk=event.pk).update(applied=True)
    ndr_follow(shipment, status, event, previous)
    order_follow(shipment, status, actor)
    notify(shipment, status, event)
    return True


def tracking_record(*, shipment: Shipment, code: str, actor: str, occurred_at: datetime | None = None,
                    description: str = "", location: str = "") -> IngestResult:  # fmt: skip
    """A scan entered by hand (offline couriers): stored and applied like a courier's event."""
    if not shipment.awb:  # an empty AWB would match another unbooked shipment of the courier
        raise ValidationError({"awb": ["The shipment has no AWB yet: assign one first."]})
    if status_for(shipment.courier, code) is None:
        raise ValidationError({"code": [f"{code!r} is not a status ShopOps knows for {shipment.courier.name}."]})
    occurred_at = occurred_at or timezone.now()
    if problem := event_time_problem(occurred_at) or (
        "The time is before the order was placed." if occurred_at < shipment.order.ordered_at - ORDER_CLOCK_SLACK
        else None
    ):  # fmt: skip
        raise ValidationError({"occurred_at": [problem]})
    update = TrackingUpdate(awb=shipment.awb, code=code, occurred_at=occurred_at,
                            description=description, location=location,
                            event_id=f"manual-{secrets.token_hex(8)}")  # fmt: skip
    return tracking_ingest(courier=shipment.courier, updates=[update], source="manual", actor=actor)


TRACKING_CSV_COLUMNS = ("awb", "status", "occurred_at", "description", "location", "event_id")


def tracking_import(*, courier: Courier, fileobj, actor: str) -> IngestResult:
    """Tracking updates from a CSV (awb, status, occurred_at ISO 8601; optional description, location, event_id).

    Checked whole first: a file with a bad row applies nothing and names up to 100 bad rows in ``errors``."""
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="")
    updates, errors = [], []
    try:
        reader = csv.DictReader(text)
        header = [(h or "").strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in ("awb", "status", "occurred_at") if c not in header]
        if missing:
            raise ValidationError({"file": [f"Missing columns: {', '.join(missing)}."]})
        reader.fieldnames = header
        for number, row in enumerate(reader, start=2):
            cells = {k: (v or "").strip() for k, v in row.items() if k}
            if not any(cells.values()):
                continue
            problem, when = None, parse_datetime(cells["occurred_at"]) if cells["occurred_at"] else None
            if not cells["awb"]:
                problem = ("awb", "The AWB is missing.")
            elif status_for(courier, cells["status"]) is None:
                problem = ("status", f"{cells['status']!r} is not a status ShopOps knows for {courier.name}.")
            elif when is None or timezone.is_naive(when):
                problem = ("occurred_at", "A date and time with its offset, e.g. 2026-11-28T14:05:00+05:30.")
            elif late := event_time_problem(when):
                problem = ("occurred_at", late)
            if problem:
                if len(errors) < 100:
                    errors.append({"row": number, "column": problem[0], "value": cells.get(problem[0], ""),
                                   "message": problem[1]})  # fmt: skip
                continue
            updates.append(TrackingUpdate(awb=cells["awb"], code=cells["status"], occurred_at=when,
                                          description=cells.get("description", ""),
                                          location=cells.get("location", ""), event_id=cells.get("event_id", ""),
                                          raw=cells))  # fmt: skip
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": ["The file is not UTF-8 CSV."]}) from exc
    except csv.Error as exc:
        raise ValidationError({"file": [f"The CSV is malformed: {exc}."]}) from exc
    finally:
        text.detach()
    if errors:
        return IngestResult(errors=errors)
    return tracking_ingest(courier=courier, updates=updates, source="csv", actor=actor)


#: Shipments polled for news: booked with the courier and not yet at a final status.
POLLED_STATUSES = [s for s in S.values if s not in (*FINAL_STATUSES, S.NEW)]


def tracking_poll(*, courier: Courier, now: datetime | None = None, limit: int | None = None) -> IngestResult:
    """Ask the courier's adapter for news of up to ``limit`` (default: its per-minute limit) live shipments, the
    longest unpolled first, in the adapter's batch size; stores and applies what comes back."""
    adapter = adapter_for(courier)
    result = IngestResult()
    if not adapter.polls:
        return result
    now = now or timezone.now()
    limit = courier.poll_limit_per_minute if limit is None else limit
    ids = list(
        Shipment.objects.filter(courier=courier, status__in=POLLED_STATUSES)
        .order_by(F("last_polled_at").asc(nulls_first=True), "id")
        .values_list("pk", flat=True)[:limit]
    )
    for start in range(0, len(ids), adapter.batch_size):
        batch = list(Shipment.objects.filter(pk__in=ids[start:start + adapter.batch_size])
                     .select_related("courier", "merchant", "order__pickup_location")
                     .prefetch_related("ndrs", "tracking_events").order_by("pk"))  # fmt: skip
        _poll(courier, adapter, batch, now, result)
    return result


def tracking_refresh(*, shipments: list[Shipment], now: datetime | None = None) -> IngestResult:
    """Poll the couriers for news of these shipments now (the admin's "refresh tracking"), whatever their turn in
    the polling queue; shipments of couriers that do not poll, or at a final status, are left alone."""
    now = now or timezone.now()
    result = IngestResult()
    ids = sorted({s.pk for s in shipments})
    live = list(Shipment.objects.filter(pk__in=ids, status__in=POLLED_STATUSES)
                .select_related("courier", "merchant", "order__pickup_location")
                .prefetch_related("ndrs", "tracking_events").order_by("courier_id", "pk"))  # fmt: skip
    by_courier: dict[int, list[Shipment]] = {}
    for shipment in live:
        by_courier.setdefault(shipment.courier_id, []).append(shipment)
    for group in by_courier.values():
        courier = group[0].courier
        adapter = adapter_for(courier)
        if not adapter.polls:
            continue
        for start in range(0, len(group), adapter.batch_size):
            _poll(courier, adapter, group[start : start + adapter.batch_size], now, result)
    return result


def _poll(courier: Courier, adapter, batch: list[Shipment], now: datetime, result: IngestResult) -> None:
    """Ask the adapter for news of ``batch``, mark it polled, store and apply the events; ``result`` adds the
    counts. The courier is asked with no transaction open; each event is then stored in its own."""
    outside_transaction(f"poll {courier.name} for {len(batch)} shipments")
    updates = adapter.fetch_tracking(batch, now=now)
    Shipment.objects.filter(pk__in=[s.pk for s in batch]).update(last_polled_at=now)
    part = tracking_ingest(courier=courier, updates=updates, source="poll", now=now)
    for name in ("accepted", "duplicates", "orphans", "applied", "ignored", "refused", "unknown"):
        setattr(result, name, getattr(result, name) + getattr(part, name))


PERFORMANCE_WINDOW = timedelta(days=90)
#: Shipments' worth of weight the neutral prior keeps: a courier's own record takes over as its shipments grow.
PRIOR_WEIGHT = 20


def courier_performance_refresh(*, courier: Courier, now: datetime | None = None) -> Courier:
    """On-time and RTO rates and average transit days from the courier's shipments that ended in the last 90 days
    (delivered or returned), smoothed towards the neutral prior while they are few."""
    now = now or timezone.now()
    since = now - PERFORMANCE_WINDOW
    finished = Shipment.objects.filter(courier=courier).filter(
        Q(status=S.DELIVERED, delivered_at__gte=since) | Q(status__in=RTO_STATUSES, rto_initiated_at__gte=since)
    )
    delivered = finished.filter(status=S.DELIVERED)
    stats = finished.aggregate(total=Count("id"), rto=Count("id", filter=Q(status__in=RTO_STATUSES)))
    deliveries = list(delivered.values_list("shipped_at", "delivered_at", "expected_delivery_date"))
    tz = courier.merchant.tzinfo
    on_time = sum(1 for _, done, expected in deliveries
                  if expected is None or done.astimezone(tz).date() <= expected)  # fmt: skip
    transit = [(done - shipped).total_seconds() / 86400 for shipped, done, _ in deliveries if shipped]
    total, prior = stats["total"], Decimal(PRIOR_WEIGHT)
    on_time_rate = (PRIOR_ON_TIME_RATE * prior + on_time) / (prior + len(deliveries))
    rto_rate = (PRIOR_RTO_RATE * prior + stats["rto"]) / (prior + total)
    Courier.objects.filter(pk=courier.pk).update(
        on_time_rate=on_time_rate.quantize(Decimal("0.0001")), rto_rate=rto_rate.quantize(Decimal("0.0001")),
        avg_transit_days=Decimal(sum(transit) / len(transit)).quantize(Decimal("0.01")) if transit else None,
        performance_shipments=total, performance_updated_at=now,
    )  # fmt: skip
    courier.refresh_from_db()
    return courier
