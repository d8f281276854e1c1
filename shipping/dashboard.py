"""The merchant's dashboard (the admin's home): today's work at a glance and four charts.

One selector per widget, each a fixed number of queries whatever the merchant's size (counts are conditional
aggregates over the merchant's indexed rows, charts are one grouped query each). Days are the merchant's: "today"
runs from midnight to midnight in the merchant's time zone. Every number comes with the admin list that shows the
rows behind it (``Tile.url``), filtered the same way, so a click never shows a different figure.

``dashboard`` puts the widgets together and keeps the result for ``DASHBOARD_CACHE_SECONDS`` per merchant and chart
period: the page is opened often and its numbers may lag by that much.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import Count, DecimalField, F, IntegerField, Q, Subquery, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone

from catalog.models import StockLevel
from orders.models import (
    BulkImport,
    Channel,
    ChannelPush,
    ChannelWebhookDelivery,
    ConnectionStatus,
    ImportStatus,
    Order,
    OrderStatus,
)
from shipping.models import (
    NDR,
    Courier,
    Document,
    DocumentStatus,
    NDRStatus,
    ShipBatch,
    ShipBatchStatus,
    Shipment,
    ShipmentStatus,
)
from shopops.models import Merchant

S = ShipmentStatus
#: How long a merchant's dashboard is kept before it is read again (seconds).
DASHBOARD_CACHE_SECONDS = 60
#: The chart periods offered (days, today included).
PERIODS = (30, 90)
#: Shipments on their way to the customer (picked up, not yet out for delivery).
IN_TRANSIT = (S.PICKED_UP, S.IN_TRANSIT)
#: Shipments coming back to the merchant.
RTO_IN_FLIGHT = (S.RTO_INITIATED, S.RTO_IN_TRANSIT)
#: Shipments whose cash is still to be collected on delivery.
COD_OPEN = (S.AWB_ASSIGNED, S.PICKUP_SCHEDULED, S.PICKED_UP, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.NDR)
#: Shipments that ended at the customer or back at the merchant (the RTO rate's denominator).
RTO_ENDS = (S.RTO_INITIATED, S.RTO_IN_TRANSIT, S.RTO_DELIVERED)
#: States shown on the RTO chart (the ones with the most finished shipments).
RTO_STATES_SHOWN = 10


@dataclass(frozen=True)
class Tile:
    """One number of the dashboard and the list behind it; ``tone`` "warning" or "error" when it needs attention."""

    label: str
    count: int
    url: str
    amount: Decimal | None = None
    currency: str = ""
    tone: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | Decimal
    share: float  # of the longest bar, 0-100
    url: str = ""
    note: str = ""


@dataclass(frozen=True)
class DayColumn:
    day: date
    total: int
    segments: list[tuple[str, int, float, int]]  # (channel, orders, share of the tallest day 0-100, colour 0-7)


@dataclass
class Dashboard:
    merchant: Merchant
    today: date
    period: int
    todo: list[Tile] = field(default_factory=list)
    moving: list[Tile] = field(default_factory=list)
    pickups: list[Tile] = field(default_factory=list)
    stock: list[Tile] = field(default_factory=list)
    failures: list[Tile] = field(default_factory=list)
    orders_per_day: list[DayColumn] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    shipments_by_status: list[Bar] = field(default_factory=list)
    couriers: list[dict] = field(default_factory=list)
    rto_by_state: list[Bar] = field(default_factory=list)

    @property
    def legend(self) -> list[tuple[str, int]]:
        """The chart's channels with their colours (0-7, as in ``DayColumn.segments``)."""
        return [(name, index % 8) for index, name in enumerate(self.channels)]


def merchant_today(merchant: Merchant, now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), ZoneInfo(merchant.time_zone)).date()


def day_start(merchant: Merchant, day: date) -> datetime:
    """Midnight of ``day`` in the merchant's time zone."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(merchant.time_zone))


def admin_list(model, merchant: Merchant, **params) -> str:
    """The admin list of ``model`` for the merchant, filtered by ``params`` (list filter parameters)."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode({'merchant__id__exact': merchant.pk, **params})}"


# -- today's work -----------------------------------------------------------------------------------------------


def order_work(merchant: Merchant) -> list[Tile]:
    """Orders to confirm, to pack, and confirmed or packed without an AWB yet (one query)."""
    waiting = (OrderStatus.CONFIRMED, OrderStatus.PACKED)
    counts = Order.objects.filter(merchant=merchant).aggregate(
        new=Count("pk", filter=Q(status=OrderStatus.NEW)),
        confirmed=Count("pk", filter=Q(status=OrderStatus.CONFIRMED)),
        no_awb=Count("pk", filter=Q(status__in=waiting, awb="")),
    )
    return [
        Tile("Orders to confirm", counts["new"], admin_list(Order, merchant, status__in=OrderStatus.NEW)),
        Tile("Orders to pack", counts["confirmed"], admin_list(Order, merchant, status__in=OrderStatus.CONFIRMED)),
        Tile("To ship: no AWB yet", counts["no_awb"],
             admin_list(Order, merchant, status__in=",".join(waiting), has_awb="no")),
    ]  # fmt: skip


def shipment_work(merchant: Merchant, today: date) -> list[Tile]:
    """AWB but no pickup, in transit, out for delivery, RTOs in flight, delivered today and COD to collect (one
    query)."""
    start = day_start(merchant, today)
    money = DecimalField(max_digits=14, decimal_places=2)
    counts = Shipment.objects.filter(merchant=merchant).aggregate(
        no_pickup=Count("pk", filter=Q(status=S.AWB_ASSIGNED)),
        in_transit=Count("pk", filter=Q(status__in=IN_TRANSIT)),
        out=Count("pk", filter=Q(status=S.OUT_FOR_DELIVERY)),
        rto=Count("pk", filter=Q(status__in=RTO_IN_FLIGHT)),
        delivered=Count("pk", filter=Q(delivered_at__gte=start, delivered_at__lt=start + timedelta(days=1))),
        cod=Count("pk", filter=Q(status__in=COD_OPEN, cod_amount__gt=0)),
        cod_amount=Coalesce(Sum("cod_amount", filter=Q(status__in=COD_OPEN, cod_amount__gt=0)), Value(0),
                            output_field=money),
    )  # fmt: skip
    return [
        Tile("To ship: AWB, no pickup", counts["no_pickup"], admin_list(Shipment, merchant, status__in=S.AWB_ASSIGNED)),
        Tile("In transit", counts["in_transit"], admin_list(Shipment, merchant, status__in=",".join(IN_TRANSIT))),
        Tile("Out for delivery", counts["out"], admin_list(Shipment, merchant, status__in=S.OUT_FOR_DELIVERY)),
        Tile("RTOs in flight", counts["rto"], admin_list(Shipment, merchant, status__in=",".join(RTO_IN_FLIGHT)),
             tone="warning" if counts["rto"] else ""),
        Tile("Delivered today", counts["delivered"], admin_list(Shipment, merchant, delivered_date="today")),
        Tile("COD to collect", counts["cod"],
             admin_list(Shipment, merchant, status__in=",".join(COD_OPEN), cod_amount__gt=0),
             amount=counts["cod_amount"], currency=merchant.default_currency,
             hint="Cash on delivery in shipments not yet delivered."),
    ]  # fmt: skip


def ndr_work(merchant: Merchant) -> Tile:
    """Failed deliveries waiting for the merchant's action (one query)."""
    count = NDR.objects.filter(merchant=merchant, status=NDRStatus.OPEN).count()
    return Tile("NDRs awaiting action", count, admin_list(NDR, merchant, status__exact=NDRStatus.OPEN),
                tone="warning" if count else "")  # fmt: skip


def pickups_today(merchant: Merchant, today: date) -> list[Tile]:
    """Shipments waiting for today's pickups, by courier, with the number of pickups (one query)."""
    rows = (
        Shipment.objects.filter(merchant=merchant, status=S.PICKUP_SCHEDULED, pickup_date=today)
        .values("courier_id", "courier__name")
        .annotate(shipments=Count("pk"), pickups=Count("pickup", distinct=True))
        .order_by("courier__name", "courier_id")
    )
    return [
        Tile(row["courier__name"], row["shipments"],
             admin_list(Shipment, merchant, status__in=S.PICKUP_SCHEDULED, pickup_date="today",
                        courier__id__exact=row["courier_id"]),
             hint=f"{row['pickups']} pickup{'s' if row['pickups'] != 1 else ''}")
        for row in rows
    ]  # fmt: skip


def low_stock(merchant: Merchant) -> Tile:
    """Stock levels at or below their low-stock threshold (one query)."""
    count = StockLevel.objects.filter(merchant=merchant, available__lte=F("low_stock_threshold")).count()
    return Tile("Low-stock SKUs", count, admin_list(StockLevel, merchant, low_stock="yes"),
                tone="warning" if count else "")  # fmt: skip


def _count_of(queryset) -> Subquery:
    return Coalesce(Subquery(queryset.order_by().values("merchant_id").annotate(n=Count("pk")).values("n")[:1]),
                    Value(0), output_field=IntegerField())  # fmt: skip


def failures(merchant: Merchant) -> list[Tile]:
    """Work that failed and waits for the merchant: imports, documents, ship batches, channel webhooks and write-backs,
    and channels that cannot be reached (one query)."""
    failed_imports = BulkImport.objects.filter(
        merchant_id=merchant.pk, status__in=(ImportStatus.FAILED, ImportStatus.PARTIALLY_FAILED)
    )
    subqueries = {
        "imports": _count_of(failed_imports),
        "documents": _count_of(Document.objects.filter(merchant_id=merchant.pk, status=DocumentStatus.FAILED)),
        "batches": _count_of(ShipBatch.objects.filter(merchant_id=merchant.pk, status=ShipBatchStatus.FAILED)),
        "webhooks": _count_of(ChannelWebhookDelivery.objects.filter(merchant_id=merchant.pk,
                                                                    status=ChannelWebhookDelivery.Status.FAILED)),
        "pushes": _count_of(ChannelPush.objects.filter(merchant_id=merchant.pk, status=ChannelPush.Status.FAILED)),
        "channels": _count_of(Channel.objects.filter(merchant_id=merchant.pk,
                                                     connection_status=ConnectionStatus.FAILING)),
    }  # fmt: skip
    named = {f"failed_{key}": query for key, query in subqueries.items()}  # not the names of Merchant's relations
    row = Merchant.objects.filter(pk=merchant.pk).annotate(**named).values(*named).get()
    counts = {key: row[f"failed_{key}"] for key in subqueries}
    tiles = [
        ("Imports with errors", "imports", BulkImport,
         {"status__in": f"{ImportStatus.FAILED},{ImportStatus.PARTIALLY_FAILED}"}),
        ("Documents failed", "documents", Document, {"status__exact": DocumentStatus.FAILED}),
        ("Ship batches failed", "batches", ShipBatch, {"status__exact": ShipBatchStatus.FAILED}),
        ("Channel webhooks failed", "webhooks", ChannelWebhookDelivery,
         {"status__exact": ChannelWebhookDelivery.Status.FAILED}),
        ("Channel write-backs failed", "pushes", ChannelPush, {"status__exact": ChannelPush.Status.FAILED}),
        ("Channels failing", "channels", Channel, {"connection_status__exact": ConnectionStatus.FAILING}),
    ]  # fmt: skip
    return [Tile(label, counts[key] or 0, admin_list(model, merchant, **params), tone="error" if counts[key] else "")
            for label, key, model, params in tiles]  # fmt: skip


# -- charts -----------------------------------------------------------------------------------------------------


def orders_per_day(merchant: Merchant, today: date, days: int) -> tuple[list[DayColumn], list[str]]:
    """Orders placed on each of the last ``days`` days (today included) by channel, and the channels (one query)."""
    first = today - timedelta(days=days - 1)
    zone = ZoneInfo(merchant.time_zone)
    rows = (
        Order.objects.filter(merchant=merchant, ordered_at__gte=day_start(merchant, first),
                             ordered_at__lt=day_start(merchant, today + timedelta(days=1)))
        .annotate(day=TruncDate("ordered_at", tzinfo=zone))
        .values("day", "channel__name")
        .annotate(orders=Count("pk"))
        .order_by()
    )  # fmt: skip
    by_day: dict[date, dict[str, int]] = {}
    for row in rows:
        by_day.setdefault(row["day"], {})[row["channel__name"]] = row["orders"]
    channels = sorted({name for counts in by_day.values() for name in counts})
    tallest = max((sum(counts.values()) for counts in by_day.values()), default=0) or 1
    columns = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        counts = by_day.get(day, {})
        segments = [(name, counts[name], 100 * counts[name] / tallest, index % 8)
                    for index, name in enumerate(channels) if counts.get(name)]  # fmt: skip
        columns.append(DayColumn(day, sum(counts.values()), segments))
    return columns, channels


def shipments_by_status(merchant: Merchant) -> list[Bar]:
    """Shipments in each status, in the order of the shipment's life (one query)."""
    counts = dict(Shipment.objects.filter(merchant=merchant).values_list("status").annotate(n=Count("pk")).order_by())
    longest = max(counts.values(), default=0) or 1
    return [Bar(label, counts[value], 100 * counts[value] / longest,
                admin_list(Shipment, merchant, status__in=value))
            for value, label in ShipmentStatus.choices if counts.get(value)]  # fmt: skip


def courier_performance(merchant: Merchant) -> list[dict]:
    """The merchant's active couriers with their on-time and RTO rates over the last 90 days (refreshed nightly;
    one query)."""
    couriers = (Courier.objects.filter(merchant=merchant, is_active=True)
                .order_by("-performance_shipments", "name").values("pk", "name", "on_time_rate", "rto_rate",
                                                                   "performance_shipments"))  # fmt: skip
    return [
        {**row, "on_time_pct": None if row["on_time_rate"] is None else float(row["on_time_rate"]) * 100,
         "rto_pct": None if row["rto_rate"] is None else float(row["rto_rate"]) * 100,
         "url": admin_list(Shipment, merchant, courier__id__exact=row["pk"])}
        for row in couriers
    ]  # fmt: skip


def rto_by_state(merchant: Merchant, today: date, days: int) -> list[Bar]:
    """The RTO rate of shipments that ended (delivered or returned) in the period, by the destination's state, for the
    states with the most such shipments (one query)."""
    since = day_start(merchant, today - timedelta(days=days - 1))
    ended = Q(delivered_at__gte=since) | Q(rto_initiated_at__gte=since)
    rows = (
        Shipment.objects.filter(ended, merchant=merchant, status__in=(S.DELIVERED, *RTO_ENDS))
        .annotate(state=KeyTextTransform("state", "order__shipping_address"))
        .values("state")
        .annotate(ended=Count("pk"), rto=Count("pk", filter=Q(status__in=RTO_ENDS)))
        .order_by("-ended", "state")[:RTO_STATES_SHOWN]
    )
    return [Bar(row["state"] or "(no state)", round(100 * row["rto"] / row["ended"], 1),
                100 * row["rto"] / row["ended"], note=f"{row['rto']} of {row['ended']}") for row in rows]  # fmt: skip


# -- the whole page ---------------------------------------------------------------------------------------------


def dashboard(merchant: Merchant, *, period: int = 30, now: datetime | None = None, cached: bool = True) -> Dashboard:
    """Every widget of the merchant's dashboard for a chart period of ``period`` days."""
    period = period if period in PERIODS else PERIODS[0]
    today = merchant_today(merchant, now)
    key = f"dashboard:{merchant.pk}:{period}:{today.isoformat()}"
    if cached and (kept := cache.get(key)) is not None:
        return kept
    shipments = shipment_work(merchant, today)
    columns, channels = orders_per_day(merchant, today, period)
    board = Dashboard(
        merchant=merchant, today=today, period=period,
        todo=[*order_work(merchant), shipments[0], ndr_work(merchant)], moving=shipments[1:],
        pickups=pickups_today(merchant, today), stock=[low_stock(merchant)], failures=failures(merchant),
        orders_per_day=columns, channels=channels, shipments_by_status=shipments_by_status(merchant),
        couriers=courier_performance(merchant), rto_by_state=rto_by_state(merchant, today, period),
    )  # fmt: skip
    if cached:
        cache.set(key, board, DASHBOARD_CACHE_SECONDS)
    return board
