"""The public tracking page: what a customer sees without logging in, and nothing personal."""

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from shipping.models import ShipmentStatus
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


def test_the_page_shows_status_courier_date_and_timeline(merchant):
    shipment = journey(merchant)

    response = Client().get(f"/track/{shipment.awb}/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=60"
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


def test_times_are_in_the_merchants_time_zone(merchant):
    Merchant.objects.filter(pk=merchant.pk).update(time_zone="Asia/Dubai")
    shipment = journey(merchant)

    page = text(Client().get(f"/track/{shipment.awb}/"))

    assert "Mon, 2 Mar 2026, 08:30 +04 · Bengaluru" in page
    assert "Mon, 2 Mar 2026, 14:30 +04 · Hosur" in page


def test_the_page_leaks_no_personal_data(merchant):
    shipment = journey(merchant, payment_method="cod")
    order = shipment.order
    order.refresh_from_db()
    address = order.shipping_address
    assert (order.customer.name, order.customer.email, address["phone"]) == (
        "Priya Sharma", "priya.sharma@example.in", "+919812345678")  # fmt: skip

    html = Client().get(f"/track/{shipment.awb}/").content.decode()

    for personal in ("Priya", "Sharma", "priya.sharma@example.in", "+919812345678", "9812345678",
                     address["line1"], "Residency", address["postcode"], order.number, str(order.total),
                     order.channel_order_id):  # fmt: skip
        assert personal not in html, personal
    assert "Bengaluru" in html  # the destination city is the finest place shown


def test_an_unknown_awb_gets_a_friendly_404(db):
    response = Client().get("/track/NOPE12345/")

    assert response.status_code == 404
    assert response["Cache-Control"] == "public, max-age=60"
    assert text(response) == (
        "Parcel not found We could not find this parcel No parcel has the tracking number NOPE12345 . "
        "Please check the number in your shipping email or SMS. A parcel booked in the last few minutes may not "
        "show yet; try again shortly. Times are in the sender's time zone. Tracking by ShopOps."
    )


def test_an_awb_of_several_merchants_shows_each(merchant, other_merchant):
    ours = journey(merchant)
    theirs = make_shipment(other_merchant, ShipmentStatus.AWB_ASSIGNED)
    assert ours.awb == theirs.awb

    page = text(Client().get(f"/track/{ours.awb}/"))

    assert "From Acme Retail · with Blue Dart In transit" in page
    assert ("From Other Shop · with Blue Dart AWB assigned Picked up In transit Out for delivery Delivered "
            "Courier Blue Dart Going to Bengaluru") in page  # fmt: skip
    assert page.count("From ") == 2
    assert "No scans from the courier yet: they appear here once the parcel is picked up." in page


def test_the_page_reads_two_queries_whatever_the_scans(merchant, django_assert_num_queries):
    shipment = journey(merchant)
    for n in range(5):
        courier_event(shipment, "bagged", at=T0 + timedelta(hours=7 + n), event_id=f"b-{n}")

    with django_assert_num_queries(2):
        response = Client().get(f"/track/{shipment.awb}/")

    assert text(response).count("bagged") == 5


def test_the_page_needs_no_login_and_refuses_writes(merchant):
    shipment = journey(merchant)

    assert Client().post(f"/track/{shipment.awb}/").status_code == 405
    assert Client().head(f"/track/{shipment.awb}/").status_code == 200
