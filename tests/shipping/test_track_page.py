"""The public tracking pages: what a customer sees without logging in, only their own parcel, nothing personal."""

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from shipping.models import ShipmentStatus, TrackingEvent
from shopops.models import Merchant
from tests.shipping.factories import courier_event, make_shipment

pytestmark = pytest.mark.django_db

IST = ZoneInfo("Asia/Kolkata")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=IST)
CUSTOMER = {"name": "Priya Sharma", "email": "priya.sharma@example.in"}


def text(response) -> str:
    """The page's visible text, one space between words."""
    html = re.sub(r"<style.*?</style>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def journey(merchant, **overrides):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED, customer=dict(CUSTOMER), **overrides)
    courier_event(shipment, "picked_up", at=T0, event_id="p-1", description="Shipment picked up",
                  location="Bengaluru")  # fmt: skip
    courier_event(shipment, "in_transit", at=T0 + timedelta(hours=6), event_id="p-2",
                  description="Reached the sort centre", location="Hosur")  # fmt: skip
    shipment.refresh_from_db()
    return shipment


def link(shipment) -> str:
    return f"/track/{shipment.awb}/{shipment.tracking_token}/"


def test_the_page_shows_status_courier_date_and_timeline(merchant):
    shipment = journey(merchant)

    response = Client().get(link(shipment))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=60"
    expected_by = f"{shipment.expected_delivery_date:%A}, {shipment.expected_delivery_date.day} " \
                  f"{shipment.expected_delivery_date:%B %Y}"  # fmt: skip
    assert text(response) == (
        "Parcel BL10000000: In transit Tracking BL10000000 "
        "From Acme Retail · with Blue Dart In transit "
        "Picked up In transit Out for delivery Delivered "
        f"Courier Blue Dart Going to Bengaluru Expected by {expected_by} "
        "In transit Reached the sort centre Mon, 2 Mar 2026, 16:00 IST · Hosur "
        "Picked up Shipment picked up Mon, 2 Mar 2026, 10:00 IST · Bengaluru "
        "Times are in the sender's time zone. Tracking by ShopOps."
    )
    assert re.findall(r'<li( class="done")?>', response.content.decode())[:4] == [' class="done"', ' class="done"',
                                                                                  "", ""]  # fmt: skip


def test_each_shipment_has_its_own_unguessable_token(merchant):
    first, second = journey(merchant), journey(merchant)

    assert first.tracking_token != second.tracking_token
    assert len(first.tracking_token) == 22  # 128 random bits, URL-safe


def test_times_are_in_the_merchants_time_zone(merchant):
    Merchant.objects.filter(pk=merchant.pk).update(time_zone="Asia/Dubai")
    shipment = journey(merchant)

    page = text(Client().get(link(shipment)))

    assert "Mon, 2 Mar 2026, 08:30 +04 · Bengaluru" in page
    assert "Mon, 2 Mar 2026, 14:30 +04 · Hosur" in page


def test_the_page_leaks_no_personal_data(merchant):
    shipment = journey(merchant, payment_method="cod")
    order = shipment.order
    order.refresh_from_db()
    address = order.shipping_address
    assert (order.customer.name, order.customer.email, address["phone"]) == (
        "Priya Sharma", "priya.sharma@example.in", "+919812345678")  # fmt: skip

    html = Client().get(link(shipment)).content.decode()

    for personal in ("Priya", "Sharma", "priya.sharma@example.in", "+919812345678", "9812345678",
                     address["line1"], "Residency", address["postcode"], order.number, str(order.total),
                     order.channel_order_id):  # fmt: skip
        assert personal not in html, personal
    assert "Bengaluru" in html  # the destination city is the finest place shown


def test_a_wrong_token_gets_a_friendly_404_whether_or_not_the_awb_exists(merchant):
    shipment = journey(merchant)

    wrong = Client().get(f"/track/{shipment.awb}/{'x' * 22}/")
    unknown = Client().get(f"/track/NOPE12345/{shipment.tracking_token}/")

    for response, awb in ((wrong, shipment.awb), (unknown, "NOPE12345")):
        assert response.status_code == 404
        assert response["Cache-Control"] == "private, max-age=60"
        assert text(response) == (
            "Parcel not found We could not find this parcel This tracking link does not lead to a parcel. "
            "Please open the link in your latest shipping email or SMS, or look the parcel up with its tracking "
            "number and your order number. Times are in the sender's time zone. Tracking by ShopOps."
        )
        assert f'href="/track/{awb}/"' in response.content.decode()


def test_another_merchants_shipment_with_the_same_awb_never_shows_on_the_link(merchant, other_merchant):
    # given merchant B books a shipment under A's AWB and sends scans for it with its own courier
    ours = journey(merchant)
    theirs = make_shipment(other_merchant, ShipmentStatus.AWB_ASSIGNED)
    assert ours.awb == theirs.awb
    courier_event(theirs, "picked_up", at=T0 + timedelta(hours=8), event_id="b-1", description="B's scan")

    # when A's customer opens A's link
    page = text(Client().get(link(ours)))

    # then only A's parcel is shown
    assert page.count("From ") == 1
    assert "From Acme Retail · with Blue Dart In transit" in page
    assert "Other Shop" not in page and "B's scan" not in page


def test_the_page_reads_two_queries_whatever_the_scans(merchant, django_assert_num_queries):
    shipment = journey(merchant)
    for n in range(5):
        courier_event(shipment, "bagged", at=T0 + timedelta(hours=7 + n), event_id=f"b-{n}")

    with django_assert_num_queries(2):
        response = Client().get(link(shipment))

    assert text(response).count("bagged") == 5


def test_the_page_needs_no_login_and_refuses_writes(merchant):
    shipment = journey(merchant)

    assert Client().post(link(shipment)).status_code == 405
    assert Client().head(link(shipment)).status_code == 200


# --- lookup by AWB and a second proof ----------------------------------------------------------------


def lookup(awb: str, reference: str, client=None):
    return (client or Client()).post("/track/", {"awb": awb, "reference": reference})


def test_an_awb_alone_shows_the_same_form_whether_or_not_it_exists(merchant, django_assert_num_queries):
    shipment = journey(merchant)

    with django_assert_num_queries(0):
        known = Client().get(f"/track/{shipment.awb}/")
    unknown = Client().get("/track/NOPE12345/")

    assert known.status_code == unknown.status_code == 200
    assert known["Cache-Control"] == "private, no-store"
    assert (
        text(known)
        == text(unknown).replace("NOPE12345", shipment.awb)
        == (
            "Track your parcel Track your parcel Open the link in your shipping email or SMS, or enter the tracking "
            "number with your order number (or the last 4 digits of the phone number the parcel is addressed to). "
            "Tracking number (AWB) Order number, or the last 4 digits of your phone number Track "
            "Times are in the sender's time zone. Tracking by ShopOps."
        )
    )
    assert f'value="{shipment.awb}"' in known.content.decode()
    assert "Acme Retail" not in known.content.decode()


@pytest.mark.parametrize("reference", ["order number", "order number lower case", "channel order id", "5678"])
def test_the_awb_with_a_second_proof_leads_to_the_shipments_page(merchant, reference):
    shipment = journey(merchant)
    order = shipment.order
    value = {"order number": order.number, "order number lower case": order.number.lower(),
             "channel order id": order.channel_order_id, "5678": "5678"}[reference]  # fmt: skip

    response = lookup(shipment.awb, value)

    assert response.status_code == 302
    assert response["Location"] == link(shipment)


@pytest.mark.parametrize("reference", ["1234", "SO-999999", "678", "", "x" * 65])
def test_a_wrong_second_proof_shows_nothing(merchant, reference):
    shipment = journey(merchant)

    response = lookup(shipment.awb, reference)

    assert response.status_code in (400, 404)
    assert "Acme Retail" not in response.content.decode()
    assert shipment.tracking_token not in response.content.decode()


def test_an_unknown_awb_and_a_wrong_proof_answer_alike(merchant):
    shipment = journey(merchant)

    wrong = lookup(shipment.awb, "1234")
    unknown = lookup("NOPE12345", "1234")

    assert wrong.status_code == unknown.status_code == 404
    assert text(wrong) == text(unknown)
    assert "No parcel matches this tracking number and order number or phone digits." in text(wrong)


def test_a_proof_matching_shipments_of_two_merchants_leads_nowhere(merchant, other_merchant):
    # given B's shipment under A's AWB, addressed to a phone with the same last digits
    ours = journey(merchant)
    theirs = make_shipment(other_merchant, ShipmentStatus.AWB_ASSIGNED)
    assert ours.awb == theirs.awb
    assert ours.order.shipping_address["phone"][-4:] == theirs.order.shipping_address["phone"][-4:] == "5678"

    # then the phone digits lead to neither, nor does the order number both merchants' sequences gave; the
    # shop's own order id, which only A's order has, leads to A's parcel only
    assert ours.order.number == theirs.order.number == "SO-000001"
    assert lookup(ours.awb, "5678").status_code == 404
    assert lookup(ours.awb, "SO-000001").status_code == 404
    assert lookup(ours.awb, ours.order.channel_order_id)["Location"] == link(ours)


def test_lookups_are_throttled_per_address(merchant, settings):
    settings.TRACKING_LOOKUP_RATE = "3/hour"
    shipment = journey(merchant)
    client = Client(REMOTE_ADDR="203.0.113.7")

    answers = [lookup("NOPE1", "1234", client).status_code for _ in range(3)]
    throttled = lookup(shipment.awb, shipment.order.number, client)
    elsewhere = lookup(shipment.awb, shipment.order.number, Client(REMOTE_ADDR="203.0.113.8"))

    assert answers == [404, 404, 404]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert "Too many lookups from your connection" in text(throttled)
    assert elsewhere.status_code == 302


# --- scans dated where no scan can be ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1, tzinfo=ZoneInfo("Pacific/Kiritimati")),
        datetime(1999, 12, 31, 23, 59, tzinfo=IST),
        datetime(2024, 12, 31, 9, 0, tzinfo=IST),  # before the order was placed (2025-01-01)
        datetime(2099, 1, 1, tzinfo=IST),
    ],
)
def test_an_impossible_scan_time_is_refused_and_the_pages_keep_working(merchant, when):
    shipment = journey(merchant)

    result = courier_event(shipment, "delivered", at=when, event_id="forged")

    assert (result.accepted, result.refused) == (0, 1)
    assert not TrackingEvent.objects.filter(event_key__contains="forged").exists()
    assert Client().get(link(shipment)).status_code == 200


# --- with the cache down ------------------------------------------------------------------------------------------


def test_the_page_and_the_lookup_answer_while_the_cache_is_down(merchant, dead_cache, settings):
    # given a Redis cache that is not running and three lookups an hour per address
    settings.TRACKING_LOOKUP_RATE = "3/hour"
    shipment = journey(merchant)
    client = Client(REMOTE_ADDR="203.0.113.7")

    # when a visitor opens the page from its link, then looks parcels up by AWB
    page = client.get(link(shipment))
    answers = [lookup(shipment.awb, shipment.order.number, client).status_code] + [
        lookup("NOPE1", "1234", client).status_code for _ in range(2)
    ]
    throttled = lookup(shipment.awb, shipment.order.number, client)

    # then everything is answered, and the lookups are still throttled (in this process's memory)
    assert page.status_code == 200
    assert "Parcel BL10000000: In transit" in text(page)
    assert answers == [302, 404, 404]
    assert throttled.status_code == 429
    assert dead_cache.state.reason == "ConnectionError: Error 111 connecting to 127.0.0.1:1. Connection refused."
