"""Live quotes in the recommendation: a courier booked through a courier account is priced by its service when a
person or a partner asks (one call per account, cached), never by a call while a shipment is created, and by its rate
card whenever the service has no answer."""

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx

from orders.models import OrderStatus
from shipping.live_quotes import NOT_OFFERED, LiveQuotes
from shipping.selectors import quote, quote_for_order
from shipping.services.shipments import shipment_create
from tests.orders.factories import make_order
from tests.shipping.adapters.conftest import BASE_URLS, account_courier, make_account
from tests.shipping.factories import ORDERED_AT, shipping_courier

CHARGES = f"{BASE_URLS['delhivery']}/api/kinko/v1/invoice/charges/.json"
RECORDED = json.loads((Path(__file__).parent / "adapters" / "recordings" / "delhivery" / "invoice_charges.json")
                      .read_text())  # fmt: skip
QUOTE = "/api/v1/serviceability/"
PARCEL = {"pickup_postcode": "560001", "delivery_postcode": "560025", "weight_grams": 500, "cod": "true",
          "declared_value": "1180.00", "length_cm": 20, "breadth_cm": 15, "height_cm": 10}  # fmt: skip


@pytest.fixture(autouse=True)
def delhivery_host(settings):
    settings.COURIER_BASE_URLS = {**settings.COURIER_BASE_URLS, "delhivery.sandbox": BASE_URLS["delhivery"]}


@pytest.fixture
def live(merchant):
    account = make_account(merchant, "delhivery", options={"client_name": "ACME", "pickup_location": "Acme WH"})
    return account_courier(merchant, account, code="delhivery-surface", name="Delhivery Surface",
                           service_code="Surface")  # fmt: skip


@pytest.fixture
def card(merchant):
    return shipping_courier(merchant)


@pytest.fixture
def dlv():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def by_courier(body: dict) -> dict[int, dict]:
    return {row["courier_id"]: row for row in body["couriers"]}


def test_a_quote_asks_the_service_once_and_then_reads_the_cache(api, live, card, dlv):
    route = dlv.get(CHARGES).mock(return_value=httpx.Response(200, json=RECORDED))

    first = api.get(QUOTE, PARCEL)
    second = api.get(QUOTE, PARCEL)

    assert (first.status_code, second.status_code) == (200, 200)
    assert route.call_count == 1
    assert first.json() == second.json()
    priced = by_courier(first.json())
    # Delhivery's tax-inclusive total 123.90 with its COD charge 35.00: freight is the rest; no fuel or GST on top.
    assert {k: priced[live.pk][k] for k in ("freight_charge", "cod_charge", "fuel_surcharge", "tax", "total_charge",
                                            "live_quote")} == {
        "freight_charge": "88.90", "cod_charge": "35.00", "fuel_surcharge": "0.00", "tax": "0.00",
        "total_charge": "123.90", "live_quote": True}  # fmt: skip
    assert priced[card.pk]["live_quote"] is False


def test_a_service_that_fails_leaves_the_rate_card_price(api, merchant, live, card, dlv):
    dlv.get(CHARGES).mock(return_value=httpx.Response(503, text="upstream down"))
    off = quote(
        merchant=merchant,
        pickup_postcode="560001",
        delivery_postcode="560025",
        weight_grams=500,
        cod=True,
        declared_value=Decimal("1180.00"),
        length_cm=20,
        breadth_cm=15,
        height_cm=10,
        live=LiveQuotes.OFF,
    )

    response = api.get(QUOTE, PARCEL)

    assert response.status_code == 200
    priced = by_courier(response.json())
    card_price = next(q for q in off.couriers if q.courier_id == live.pk)
    assert (priced[live.pk]["live_quote"], priced[live.pk]["total_charge"]) == (False, str(card_price.total_charge))


def test_a_service_that_does_not_offer_the_parcel_blocks_its_courier(api, live, card, dlv):
    dlv.get(CHARGES).mock(return_value=httpx.Response(200, json=[]))

    body = api.get(QUOTE, PARCEL).json()

    assert live.pk not in by_courier(body)
    assert {"courier_id": live.pk, "reason": NOT_OFFERED} in body["blocked"]


def test_creating_a_shipment_never_calls_the_service_and_takes_a_cached_live_price(merchant, live, card, dlv):
    route = dlv.get(CHARGES).mock(return_value=httpx.Response(200, json=RECORDED))
    cold, warm = (make_order(merchant, OrderStatus.PACKED, ordered_at=ORDERED_AT) for _ in range(2))
    card_price = next(q for q in quote_for_order(cold, live=LiveQuotes.OFF).couriers if q.courier_id == live.pk)

    # Nothing cached: the rate card prices the shipment, and the service is not called under the order's lock.
    first = shipment_create(order=cold, courier=live, actor="system")
    assert (route.call_count, first.total_charge) == (0, card_price.total_charge)

    # A quote asked for the same parcel (a person's, a partner's) caches the service's price; the shipment takes it.
    quote_for_order(warm, live=LiveQuotes.FETCH)
    second = shipment_create(order=warm, courier=live, actor="system")
    assert route.call_count == 1
    assert (second.freight_charge, second.cod_charge, second.tax, second.total_charge) == (
        Decimal("88.90"), Decimal("35.00"), Decimal("0.00"), Decimal("123.90"))  # fmt: skip
