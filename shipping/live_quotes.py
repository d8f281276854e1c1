"""Live quotes: a courier service's own prices for a parcel, merged with the rate cards in the recommendation.

A courier booked through a courier account (Shiprocket, Delhivery, EasyPost) may be priced by the service itself
at quote time. One call per account answers for every courier the service offers (``Courier.service_code`` picks
each one's price), and the answer is kept in the cache for ``COURIER_LIVE_QUOTE_TTL`` seconds, per account and
parcel.

Where the network may be used: a quote asked by a person or a partner (``GET /serviceability/``, the admin's rate
calculator) fetches (``LiveQuotes.FETCH``); creating a shipment reads only what is cached (``LiveQuotes.CACHED``),
because it runs under the order's row lock and a courier's call must never run while one is held. Without a live
price the rate card prices the courier as before, so an outage of the service only loses the live figure.
"""

import hashlib
import logging
from dataclasses import asdict
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import TextChoices

from shipping.adapters import ADAPTERS, LiveQuote, Parcel, adapter_for
from shipping.models import Courier
from shopops.errors import DomainError

logger = logging.getLogger(__name__)


class LiveQuotes(TextChoices):
    OFF = "off", "Rate cards only"
    CACHED = "cached", "Cached live prices only (no call)"
    FETCH = "fetch", "Ask the services (cached briefly)"


#: What a merged quote knows of each remote courier: its live price, or why it has none.
NOT_OFFERED = "not offered by the service for this parcel"


def remote_adapters() -> set[str]:
    return {name for name, adapter in ADAPTERS.items() if adapter.remote}


def _key(account_id: int, parcel: Parcel) -> str:
    fields = asdict(parcel)
    text = "|".join(f"{name}={fields[name]}" for name in sorted(fields))
    return f"live-quotes:{account_id}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def live_prices(rows: list[dict], parcel: Parcel, mode: str) -> dict[int, LiveQuote | None]:
    """For each remote courier in ``rows`` (quote rows with id, adapter, account_id, service_code) whose account
    answered: its live quote, or None when the service does not offer it for this parcel. A courier whose account
    was not asked (``mode`` off, nothing cached) or failed is absent: its rate card prices it."""
    if mode == LiveQuotes.OFF:
        return {}
    remote = remote_adapters()
    by_account: dict[int, list[dict]] = {}
    for row in rows:
        if row["adapter"] in remote and row["account_id"] and row["is_active"]:
            by_account.setdefault(row["account_id"], []).append(row)
    prices: dict[int, LiveQuote | None] = {}
    for account_id, couriers in by_account.items():
        quotes = _account_quotes(account_id, couriers[0]["id"], parcel, mode)
        if quotes is None:
            continue
        by_code = {q.service_code.strip().lower(): q for q in quotes}
        for row in couriers:
            prices[row["id"]] = by_code.get((row["service_code"] or "").strip().lower())
    return prices


def _account_quotes(account_id: int, courier_id: int, parcel: Parcel, mode: str) -> list[LiveQuote] | None:
    key = _key(account_id, parcel)
    cached = cache.get(key)
    if cached is not None or mode != LiveQuotes.FETCH:
        return cached
    courier = Courier.objects.select_related("account").get(pk=courier_id)
    if not courier.account.is_active:
        return None
    try:
        quotes = adapter_for(courier).live_quotes(courier, parcel)
    except DomainError as exc:  # the rate card stands; the account's health and HTTP log show the failure
        logger.warning("Live quotes from %s failed: %s", courier.account.name, exc.message)
        return None
    cache.set(key, quotes, settings.COURIER_LIVE_QUOTE_TTL)
    return quotes


def live_total(live: LiveQuote) -> dict:
    """A live quote as the charges of a courier quote: the service's total, its COD charge, and the freight as the
    rest (the services quote tax-inclusive totals, so no tax or fuel is added)."""
    total = Decimal(live.total).quantize(Decimal("0.01"))
    cod = Decimal(live.cod_charge).quantize(Decimal("0.01"))
    return {"freight_charge": total - cod, "cod_charge": cod, "fuel_surcharge": Decimal("0.00"),
            "tax": Decimal("0.00"), "total_charge": total}  # fmt: skip
