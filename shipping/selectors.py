"""Rate shopping: which couriers can carry a parcel between two pincodes, what each charges, which is best.

A quote reads three things: the merchant's couriers with their rate card for
the zone (one query, a filtered LEFT JOIN), the couriers' serviceability of the
two pincodes (one query), and the merchant's blocked pincodes (one query).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, F, FilteredRelation, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.selectors import matching_customers
from shipping.adapters import Parcel
from shipping.calendar import pickup_day
from shipping.choices import CourierSort
from shipping.live_quotes import NOT_OFFERED, LiveQuotes, live_prices, live_total
from shipping.models import (
    NDR,
    AWBNumber,
    AWBPool,
    AWBPoolKind,
    BlockedPincode,
    Courier,
    Document,
    DocumentKind,
    DocumentStatus,
    Manifest,
    PickupRequest,
    PostcodeZone,
    ServiceablePincode,
    Shipment,
    ShipmentEvent,
    ShippingPreference,
    TrackingEvent,
)
from shipping.rates import charges, volumetric_grams
from shipping.zones import Zone, normalize_postcode, zone_between, zone_by_prefix
from shopops.models import Merchant

MAX_DIMENSION_CM = 500
#: Until ShopOps has shipped with a courier, it is rated as an average courier.
PRIOR_ON_TIME_RATE = Decimal("0.90")
PRIOR_RTO_RATE = Decimal("0.10")
#: Transit days of a live quote when the service gives none and the courier has no rate card for the zone.
LIVE_DEFAULT_DAYS = 5


@dataclass(frozen=True)
class Weights:
    """How much price, speed and performance count in the recommended order (they are normalised)."""

    price: Decimal = Decimal("0.5")
    speed: Decimal = Decimal("0.3")
    performance: Decimal = Decimal("0.2")


@dataclass
class CourierQuote:
    courier_id: int
    code: str
    name: str
    zone: str
    chargeable_weight_grams: int
    freight_charge: Decimal
    cod_charge: Decimal
    fuel_surcharge: Decimal
    tax: Decimal
    total_charge: Decimal
    estimated_delivery_days: int
    etd: date
    rating: Decimal
    score: Decimal = Decimal("0")
    #: Priced by the courier service itself (a live quote), not by the rate card.
    live: bool = False


@dataclass
class Quote:
    zone: str
    recommended_courier_id: int | None
    couriers: list[CourierQuote] = field(default_factory=list)
    blocked: list[dict] = field(default_factory=list)


def weights_for(merchant: Merchant) -> tuple[Weights, str]:
    """The merchant's ranking weights and default sort (the defaults until they set their own)."""
    preference = ShippingPreference.objects.filter(merchant=merchant).first()
    if preference is None:
        return Weights(), CourierSort.RECOMMENDED
    weights = Weights(preference.weight_price, preference.weight_speed, preference.weight_performance)
    return weights, preference.default_sort


def courier_rating(on_time_rate: Decimal = PRIOR_ON_TIME_RATE, rto_rate: Decimal = PRIOR_RTO_RATE) -> Decimal:
    """A 0-5 rating from on-time delivery and RTO rates (the neutral prior until shipments exist)."""
    return (Decimal(5) * on_time_rate * (1 - rto_rate)).quantize(Decimal("0.01"))


def courier_rates(on_time_rate: Decimal | None, rto_rate: Decimal | None, performance_shipments: int
                  ) -> tuple[Decimal, Decimal]:  # fmt: skip
    """The on-time and RTO rates a courier is judged by: its stored ones once computed from shipments, else the
    neutral prior."""
    if performance_shipments > 0 and on_time_rate is not None and rto_rate is not None:
        return on_time_rate, rto_rate
    return PRIOR_ON_TIME_RATE, PRIOR_RTO_RATE


def quote(
    *,
    merchant: Merchant,
    pickup_postcode: str,
    delivery_postcode: str,
    weight_grams: int,
    cod: bool = False,
    declared_value: Decimal = Decimal("0"),
    length_cm: Decimal = Decimal("0"),
    breadth_cm: Decimal = Decimal("0"),
    height_cm: Decimal = Decimal("0"),
    mode: str | None = None,
    sort: str = CourierSort.RECOMMENDED,
    weights: Weights = Weights(),
    at: datetime | None = None,
    country: str = "IN",
    live: str = LiveQuotes.OFF,
) -> Quote:
    """Every courier of the merchant, quoted or blocked with its reason.

    ``live``: whether couriers of a courier service are priced by the service (see ``shipping.live_quotes``):
    a live price replaces the rate card's and the service's word on serviceability replaces the pincode table's.

    India uses the pincode directory; another ``country`` uses the merchant's PostcodeZone rules (a fourth
    query). Raises UnknownPincode for a pincode the directory does not know (or that no rule covers), and
    ValidationError for a weight under 1 g, a dimension over 500 cm or a negative value, and an unknown sort.
    """
    errors = {}
    if weight_grams < 1:
        errors["weight_grams"] = "At least 1 g."
    for name, value in (("length_cm", length_cm), ("breadth_cm", breadth_cm), ("height_cm", height_cm)):
        if not 0 <= Decimal(value) <= MAX_DIMENSION_CM:
            errors[name] = f"From 0 to {MAX_DIMENSION_CM} cm."
    if Decimal(declared_value) < 0:
        errors["declared_value"] = "Not negative."
    if sort not in CourierSort.values:
        errors["sort"] = f"One of {', '.join(CourierSort.values)}."
    if errors:
        raise ValidationError(errors)
    if country == "IN":
        pickup_postcode, delivery_postcode = str(pickup_postcode).strip(), str(delivery_postcode).strip()
        zone = zone_between(pickup_postcode, delivery_postcode)
    else:  # one more query: the merchant's zone table for that country
        pickup_postcode, delivery_postcode = normalize_postcode(pickup_postcode), normalize_postcode(delivery_postcode)
        rules = list(PostcodeZone.objects.filter(merchant=merchant, country=country)
                     .values_list("origin_prefix", "destination_prefix", "zone"))  # fmt: skip
        zone = zone_by_prefix(pickup_postcode, delivery_postcode, country, rules)
    couriers = (
        Courier.objects.filter(merchant=merchant)
        .annotate(card=FilteredRelation("rate_cards", condition=Q(rate_cards__zone=zone)))
        .values("id", "code", "name", "mode", "is_active", "supports_cod", "max_weight_grams", "volumetric_divisor",
                "pickup_cutoff", "on_time_rate", "rto_rate", "performance_shipments", "adapter", "account_id",
                "service_code", "card__id", "card__first_slab_grams", "card__first_slab_price",
                "card__additional_slab_grams", "card__additional_slab_price", "card__cod_fixed", "card__cod_percent",
                "card__fuel_surcharge_percent", "card__estimated_days")
        .order_by("name", "id")
    )  # fmt: skip
    served = {
        (row["courier_id"], row["pincode"]): row
        for row in ServiceablePincode.objects.filter(
            merchant=merchant, pincode__in={pickup_postcode, delivery_postcode}
        ).values("courier_id", "pincode", "pickup", "delivery", "cod", "oda")
    }
    blocked_pins = dict(
        BlockedPincode.objects.filter(merchant=merchant, pincode__in={pickup_postcode, delivery_postcode})
        .values_list("pincode", "reason")
    )  # fmt: skip
    result = Quote(zone=zone, recommended_courier_id=None)
    if delivery_postcode in blocked_pins:
        why = blocked_pins[delivery_postcode]
        reason = "delivery pincode blocked by the merchant" + (f": {why}" if why else "")
        result.blocked = [{"courier_id": c["id"], "reason": reason} for c in couriers]
        return result
    now = (at or timezone.now()).astimezone(merchant.tzinfo)
    couriers = list(couriers)
    parcel = Parcel(pickup_postcode=pickup_postcode, delivery_postcode=delivery_postcode, weight_grams=weight_grams,
                    cod=cod, declared_value=Decimal(declared_value), length_cm=int(length_cm),
                    breadth_cm=int(breadth_cm), height_cm=int(height_cm), country=country)  # fmt: skip
    prices = live_prices(couriers, parcel, live)
    for courier in couriers:
        price = prices.get(courier["id"])
        if courier["id"] in prices and price is None and courier["is_active"]:
            result.blocked.append({"courier_id": courier["id"], "reason": NOT_OFFERED})
            continue
        reason = _blocked_reason(courier, zone, served, pickup_postcode, delivery_postcode, weight_grams, cod, mode,
                                 live=price is not None)  # fmt: skip
        if reason:
            result.blocked.append({"courier_id": courier["id"], "reason": reason})
            continue
        volumetric = volumetric_grams(length_cm, breadth_cm, height_cm, courier["volumetric_divisor"])
        if max(weight_grams, volumetric) > courier["max_weight_grams"]:
            result.blocked.append(
                {
                    "courier_id": courier["id"],
                    "reason": f"volumetric weight over the maximum of {courier['max_weight_grams']} g",
                }
            )
            continue  # fmt: skip
        if price is not None:
            priced = {"chargeable_weight_grams": max(weight_grams, volumetric), **live_total(price)}
            days = price.estimated_days or courier["card__estimated_days"] or LIVE_DEFAULT_DAYS
        else:
            card = charges(_Card(courier), weight_grams=weight_grams, volumetric=volumetric, cod=cod,
                           declared_value=declared_value)  # fmt: skip
            priced = {name: getattr(card, name) for name in ("chargeable_weight_grams", "freight_charge", "cod_charge",
                                                             "fuel_surcharge", "tax", "total_charge")}  # fmt: skip
            days = courier["card__estimated_days"]
        result.couriers.append(CourierQuote(
            courier_id=courier["id"], code=courier["code"], name=courier["name"], zone=zone, **priced,
            estimated_delivery_days=days, etd=pickup_day(now, courier["pickup_cutoff"]) + timedelta(days=days),
            rating=courier_rating(*courier_rates(courier["on_time_rate"], courier["rto_rate"],
                                                 courier["performance_shipments"])),
            live=price is not None,
        ))  # fmt: skip
    _rank(result, sort, weights)
    return result


class _Card:
    """A rate card read from the joined row (no model instance, no query)."""

    def __init__(self, row: dict):
        self.first_slab_grams = row["card__first_slab_grams"]
        self.first_slab_price = row["card__first_slab_price"]
        self.additional_slab_grams = row["card__additional_slab_grams"]
        self.additional_slab_price = row["card__additional_slab_price"]
        self.cod_fixed = row["card__cod_fixed"]
        self.cod_percent = row["card__cod_percent"]
        self.fuel_surcharge_percent = row["card__fuel_surcharge_percent"]


def _blocked_reason(courier: dict, zone: str, served: dict, pickup: str, delivery: str, weight_grams: int,
                    cod: bool, mode: str | None, *, live: bool = False) -> str | None:  # fmt: skip
    """Why the courier cannot take the parcel, if it cannot; a courier the service priced live (``live``) is not
    judged by a rate card or the pincode table (the service said it serves the pair)."""
    if not courier["is_active"]:
        return "inactive"
    if mode and courier["mode"] != mode:
        return f"not {mode}"
    if live:
        if cod and not courier["supports_cod"]:
            return "no COD"
        return f"over the maximum weight of {courier['max_weight_grams']} g" if (
            weight_grams > courier["max_weight_grams"]) else None  # fmt: skip
    if courier["card__id"] is None:
        return f"no rate card for the {Zone(zone).label.lower()} zone"
    origin, destination = served.get((courier["id"], pickup)), served.get((courier["id"], delivery))
    if origin is None or not origin["pickup"]:
        return "pickup pincode not serviceable"
    if destination is None or not destination["delivery"]:
        return "delivery pincode not serviceable"
    if cod and not courier["supports_cod"]:
        return "no COD"
    if cod and not destination["cod"]:
        return "no COD at the delivery pincode"
    if weight_grams > courier["max_weight_grams"]:
        return f"over the maximum weight of {courier['max_weight_grams']} g"
    return None


def _rank(result: Quote, sort: str, weights: Weights) -> None:
    quotes = result.couriers
    if not quotes:
        return
    cheapest = min(q.total_charge for q in quotes)
    fastest = min(q.estimated_delivery_days for q in quotes)
    total = weights.price + weights.speed + weights.performance or Decimal(1)
    for q in quotes:
        price_score = cheapest / q.total_charge if q.total_charge else Decimal(1)
        speed_score = Decimal(fastest) / Decimal(q.estimated_delivery_days) if q.estimated_delivery_days else Decimal(1)
        score = (weights.price * price_score + weights.speed * speed_score + weights.performance * q.rating / 5) / total
        q.score = score.quantize(Decimal("0.0001"))
    keys = {
        CourierSort.RECOMMENDED: lambda q: (-q.score, q.total_charge, q.courier_id),
        CourierSort.CHEAPEST: lambda q: (q.total_charge, q.estimated_delivery_days, q.courier_id),
        CourierSort.FASTEST: lambda q: (q.estimated_delivery_days, q.total_charge, q.courier_id),
        CourierSort.RATING: lambda q: (-q.rating, q.total_charge, q.courier_id),
    }
    quotes.sort(key=keys[sort])
    result.recommended_courier_id = min(quotes, key=keys[CourierSort.RECOMMENDED]).courier_id


def order_parcel(order) -> dict:
    """The quote parameters of an order: its pickup and delivery postcodes, weight, box and COD value.

    Raises ValidationError naming what the order lacks (a postcode, a weight)."""
    pickup = (order.pickup_location.postcode or "").strip()
    address = order.shipping_address or {}
    delivery = str(address.get("postcode") or "").strip()
    problems = []
    if not pickup:
        problems.append("The order's pickup location has no postcode.")
    if not delivery:
        problems.append("The order's shipping address has no postcode.")
    if problems:
        raise ValidationError({"order": problems})
    values = {
        "pickup_postcode": pickup, "delivery_postcode": delivery, "cod": order.payment_method == "cod",
        "declared_value": order.total, "length_cm": order.length_cm, "breadth_cm": order.breadth_cm,
        "height_cm": order.height_cm, "country": address.get("country") or "IN",
    }  # fmt: skip
    if order.weight_grams:
        values["weight_grams"] = order.weight_grams
    return values


def quote_for_order(order, *, sort: str | None = None, at: datetime | None = None,
                    live: str = LiveQuotes.CACHED) -> Quote:  # fmt: skip
    """The couriers for an order's parcel, ranked by ``sort`` (default: the merchant's own order); live prices
    only as cached (a shipment is created under the order's lock: no courier is called)."""
    params = order_parcel(order)
    if "weight_grams" not in params:
        raise ValidationError({"order": ["The order has no weight; set weight_grams on the order."]})
    weights, default_sort = weights_for(order.merchant)
    return quote(merchant=order.merchant, weights=weights, sort=sort or default_sort, at=at, live=live, **params)


# -- shipments, AWB pools, pickups, manifests, NDRs ----------------------------------------------------------------
# Each list reads its page in one query (plus one for the label documents of shipments, one for the shipment ids
# of pickups and manifests and one for the manifest documents of manifests), whatever its size.


def _done_documents(kind: str) -> QuerySet:
    """Finished documents of ``kind``, newest first, with only what an output shows of them."""
    fields = ("id", "kind", "format", "status", "page_count", "not_created", "created_at", "manifest_id")
    return Document.objects.filter(kind=kind, status=DocumentStatus.DONE).order_by("-id").only(*fields)


def shipment_queryset() -> QuerySet:
    """Shipments with their courier, pickup and manifest joined, the order's number, and their finished label
    documents (``label_documents``, newest first: see ``shipment_label_of``)."""
    return (
        Shipment.objects.select_related("courier", "pickup", "manifest").annotate(order_number=F("order__number"))
        .prefetch_related(Prefetch("documents", queryset=_done_documents(DocumentKind.LABEL),
                                   to_attr="label_documents"))
    )  # fmt: skip


def shipment_search(queryset: QuerySet, term: str, merchant_ids: list[int] | None = None) -> QuerySet:
    """The shipments of ``queryset`` a merchant means by ``term``, each found through an index: an AWB or order
    number (any case) exactly, otherwise the orders of the customers it names (orders.selectors.matching_customers:
    phone, email or part of a name). ``merchant_ids`` narrows the customer look-up (None: every merchant)."""
    term = term.strip()
    if not term:
        return queryset
    candidates = {term, term.upper()}
    identifiers = queryset.filter(Q(awb__in=candidates) | Q(order__number__in=candidates))
    if identifiers.exists():
        return identifiers
    customers = matching_customers(term, merchant_ids)
    return queryset.none() if customers is None else queryset.filter(order__customer__in=customers)


def shipment_label_of(shipment: Shipment) -> Document | None:
    """The latest finished label document that prints the shipment's current AWB, of a shipment read through
    ``shipment_queryset`` (no query): not one that left the shipment out (``not_created``: no AWB yet,
    cancelled), nor one requested before the shipment's AWB was (re)assigned (it prints the old AWB)."""
    for document in shipment.label_documents:
        if any(item.get("id") == shipment.pk for item in document.not_created):
            continue
        if shipment.awb_assigned_at is not None and document.created_at < shipment.awb_assigned_at:
            continue
        return document
    return None


def shipment_timeline(shipment: Shipment) -> list[dict]:
    """The shipment's own events and its courier's scans, merged by time (oldest first; two queries)."""
    rows = [
        {"source": "shipment", "id": e.pk, "kind": e.kind, "occurred_at": e.created_at, "from_status": e.from_status,
         "to_status": e.to_status, "code": "", "description": e.message, "location": "", "actor": e.actor,
         "via": None, "applied": None}
        for e in ShipmentEvent.objects.filter(shipment=shipment).order_by("id")
    ] + [
        {"source": "courier", "id": t.pk, "kind": "scan", "occurred_at": t.occurred_at, "from_status": "",
         "to_status": t.status, "code": t.code, "description": t.description, "location": t.location,
         "actor": f"courier:{shipment.courier.code}", "via": t.source, "applied": t.applied}
        for t in TrackingEvent.objects.filter(shipment=shipment).order_by("occurred_at", "id")
    ]  # fmt: skip
    rows.sort(key=lambda row: (row["occurred_at"], row["source"] == "shipment", row["id"]))
    return rows


def awb_pool_queryset() -> QuerySet:
    """Pools with their courier and, for list pools, how many numbers are still free (a subquery)."""
    free = (
        AWBNumber.objects.filter(pool=OuterRef("pk"), used_at__isnull=True).order_by().values("pool")
        .annotate(n=Count("id")).values("n")
    )  # fmt: skip
    return AWBPool.objects.select_related("courier").annotate(free_numbers=Coalesce(Subquery(free), 0))


def awb_pool_remaining_of(pool: AWBPool) -> int:
    """The numbers left in a pool read through ``awb_pool_queryset`` (no query)."""
    if pool.kind == AWBPoolKind.RANGE:
        return max(0, pool.range_end - pool.next_number + 1)
    return pool.free_numbers


def _shipment_ids() -> QuerySet:
    return Shipment.objects.order_by("id").only("id", "pickup_id", "manifest_id")


def pickup_queryset() -> QuerySet:
    return PickupRequest.objects.select_related("courier", "location").prefetch_related(
        Prefetch("shipments", queryset=_shipment_ids())
    )


def manifest_queryset() -> QuerySet:
    """Manifests with their courier and location, their shipment ids, and their finished manifest documents
    (``manifest_documents``, newest first: see ``manifest_document_of``)."""
    return Manifest.objects.select_related("courier", "location").prefetch_related(
        Prefetch("shipments", queryset=_shipment_ids()),
        Prefetch("documents", queryset=_done_documents(DocumentKind.MANIFEST), to_attr="manifest_documents"),
    )


def manifest_document_of(manifest: Manifest) -> Document | None:
    """The latest finished PDF of a manifest read through ``manifest_queryset`` (no query)."""
    return manifest.manifest_documents[0] if manifest.manifest_documents else None


def ndr_queryset() -> QuerySet:
    """NDRs with what the queue shows of their shipment: AWB, order, courier."""
    return NDR.objects.annotate(
        shipment_awb=F("shipment__awb"), order_id=F("shipment__order_id"), order_number=F("shipment__order__number"),
        courier_code=F("shipment__courier__code"),
    )  # fmt: skip
