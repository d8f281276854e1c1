"""The NDR queue and its actions, and the customer notification settings, through the API."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from shipping.models import NDR, NotificationSetting
from tests.api import NOT_FOUND, invalid, listed_ids
from tests.shipping.factories import courier_event, make_shipment, shipping_courier

IST = ZoneInfo("Asia/Kolkata")
URL = "/api/v1/ndr/"


def iso(value) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


def failed_delivery(merchant, reason: str = "Customer not available", days_ago: float = 0, courier=None) -> NDR:
    """An NDR whose first attempt failed ``days_ago`` days ago."""
    shipment = make_shipment(merchant, "pickup_scheduled", courier=courier)
    at = timezone.now() - timedelta(days=days_ago)
    for hours, code in ((3, "picked_up"), (2, "in_transit"), (1, "out_for_delivery")):
        courier_event(shipment, code, at=at - timedelta(hours=hours))
    courier_event(shipment, "ndr", at=at, description=reason)
    return NDR.objects.get(shipment=shipment)


def test_the_queue_shows_the_shipment_and_the_age(api, merchant):
    ndr = failed_delivery(merchant, days_ago=2.5)
    shipment = ndr.shipment

    response = api.get(URL)

    assert response.status_code == 200
    assert response.json()["results"] == [{
        "id": ndr.pk, "shipment": shipment.pk, "awb": shipment.awb, "order": shipment.order_id,
        "order_number": shipment.order.number, "courier": "bluedart", "status": "open",
        "reason": "Customer not available", "attempts": 1, "first_attempt_at": iso(ndr.first_attempt_at),
        "last_attempt_at": iso(ndr.last_attempt_at), "age_days": 2, "action": "", "action_comment": "",
        "reattempt_date": None, "action_by": "", "action_at": None, "resolved_at": None,
    }]  # fmt: skip
    assert api.get(f"{URL}{ndr.pk}/").json() == response.json()["results"][0]


def test_filter_by_age_reason_status_and_courier(api, merchant):
    fresh = failed_delivery(merchant, "Customer not available", days_ago=0.5)
    middle = failed_delivery(merchant, "Address incomplete", days_ago=4.2)
    old = failed_delivery(merchant, "Customer refused delivery", days_ago=10.1,
                          courier=shipping_courier(merchant, code="dtdc", name="DTDC"))  # fmt: skip
    old.shipment.refresh_from_db()
    done = failed_delivery(merchant, "Customer not available", days_ago=1)
    courier_event(done.shipment, "out_for_delivery", at=timezone.now() - timedelta(hours=2))
    courier_event(done.shipment, "delivered", at=timezone.now() - timedelta(hours=1))

    assert listed_ids(api, URL, {"age_min_days": 4}) == [middle.pk, old.pk]
    assert listed_ids(api, URL, {"age_max_days": 4}) == [fresh.pk, done.pk, middle.pk]
    assert listed_ids(api, URL, {"age_min_days": 1, "age_max_days": 9}) == [done.pk, middle.pk]
    assert listed_ids(api, URL, {"age_max_days": 0}) == [fresh.pk]
    assert listed_ids(api, URL, {"reason": "CUSTOMER"}) == [fresh.pk, done.pk, old.pk]
    assert listed_ids(api, URL, {"reason": "customer", "status": "open"}) == [fresh.pk, old.pk]
    assert listed_ids(api, URL, {"status": "delivered,rto"}) == [done.pk]
    assert listed_ids(api, URL, {"courier": "dtdc"}) == [old.pk]
    assert listed_ids(api, URL, {"awb": middle.shipment.awb}) == [middle.pk]


def test_orderings(api, merchant):
    first = failed_delivery(merchant, days_ago=3)
    second = failed_delivery(merchant, days_ago=2)
    courier_event(first.shipment, "ndr", at=timezone.now() - timedelta(hours=1), description="Again not there",
                  event_id="second-attempt")  # fmt: skip

    assert listed_ids(api, URL) == [first.pk, second.pk]  # the latest attempt first
    assert listed_ids(api, URL, {"ordering": "first_attempt_at"}) == [first.pk, second.pk]
    assert listed_ids(api, URL, {"ordering": "-first_attempt_at"}) == [second.pk, first.pk]
    assert listed_ids(api, URL, {"ordering": "attempts"}) == [second.pk, first.pk]
    assert api.get(f"{URL}{first.pk}/").json()["attempts"] == 2


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({"status": "open,lost"}, {"status": ["Unknown status lost; one of open, reattempt, delivered, rto."]}),
        ({"age_min_days": -1}, {"age_min_days": ["Ensure this value is greater than or equal to 0."]}),
        ({"age_max_days": 10**9}, {"age_max_days": ["Ensure this value is less than or equal to 36500."]}),
        ({"age_max_days": "1.5"}, {"age_max_days": ["Enter a whole number."]}),
        ({"ordering": "reason"}, {"ordering": ["Choose from: attempts, first_attempt_at, last_attempt_at."]}),
    ],
)
def test_bad_filters_are_a_400(api, merchant, params, details):
    response = api.get(URL, params)

    assert response.status_code == 400
    assert response.json()["details"] == details


def test_list_query_count_is_constant(api, merchant):
    for n in range(6):
        failed_delivery(merchant, days_ago=n)

    counts = []
    for size in (2, 6):
        with CaptureQueriesContext(connection) as queries:
            assert len(api.get(URL, {"page_size": size}).json()["results"]) == size
        counts.append(len(queries))

    assert counts == [3, 3]


# -- actions ------------------------------------------------------------------------------------------------------


def test_reattempt_then_rto(api, merchant):
    ndr = failed_delivery(merchant)
    day = (timezone.now().astimezone(IST).date() + timedelta(days=2)).isoformat()

    response = api.post(f"{URL}{ndr.pk}/action/", {"action": "reattempt", "comment": "Call before 6 pm",
                                                   "reattempt_date": day}, format="json")  # fmt: skip

    assert response.status_code == 200, response.json()
    ndr.refresh_from_db()
    body = response.json()
    assert {k: body[k] for k in ("status", "action", "action_comment", "reattempt_date", "action_by", "action_at",
                                 "resolved_at")} == {
        "status": "reattempt", "action": "reattempt", "action_comment": "Call before 6 pm", "reattempt_date": day,
        "action_by": ndr.action_by, "action_at": iso(ndr.action_at), "resolved_at": None}  # fmt: skip
    assert ndr.action_by.startswith("app:")

    again = api.post(f"{URL}{ndr.pk}/action/", {"action": "reattempt"}, format="json")
    assert again.status_code == 409
    assert again.json() == {"code": "ndr_action_taken", "message": f"A reattempt on {day} is already requested.",
                            "details": {"status": "reattempt", "reattempt_date": day}}  # fmt: skip

    rto = api.post(f"{URL}{ndr.pk}/action/", {"action": "rto", "comment": "Customer refused"}, format="json")
    assert rto.status_code == 200, rto.json()
    assert (rto.json()["status"], rto.json()["action"], rto.json()["reattempt_date"]) == ("rto", "rto", None)
    ndr.shipment.refresh_from_db()
    assert ndr.shipment.status == "rto_initiated"

    resolved = api.post(f"{URL}{ndr.pk}/action/", {"action": "reattempt"}, format="json")
    assert resolved.status_code == 409
    assert resolved.json() == {"code": "ndr_resolved", "message": f"NDR {ndr.pk} is resolved (rto).",
                               "details": {"status": "rto"}}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"action": "fly"}, {"action": ['"fly" is not a valid choice.']}),
        ({}, {"action": ["This field is required."]}),
        ({"action": "reattempt", "reattempt_date": "2020-01-01"},
         {"reattempt_date": ["The reattempt date is in the past."]}),
        ({"action": "rto", "reattempt_date": "2099-01-01"}, {"reattempt_date": ["Only with action reattempt."]}),
        ({"action": "rto", "comment": "x" * 501}, {"comment": ["Ensure this field has no more than 500 characters."]}),
    ],
)  # fmt: skip
def test_bad_action_input_is_a_400(api, merchant, body, details):
    ndr = failed_delivery(merchant)

    response = api.post(f"{URL}{ndr.pk}/action/", body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(details)
    ndr.refresh_from_db()
    assert (ndr.status, ndr.action) == ("open", "")


def test_another_merchants_ndr_is_a_404(other_api, merchant):
    ndr = failed_delivery(merchant)

    assert other_api.get(f"{URL}{ndr.pk}/").json() == NOT_FOUND
    response = other_api.post(f"{URL}{ndr.pk}/action/", {"action": "rto"}, format="json")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    ndr.refresh_from_db()
    assert ndr.status == "open"
    assert other_api.get(URL).json()["results"] == []


# -- notification settings ---------------------------------------------------------------------------------------

SETTINGS = "/api/v1/notification-settings/"
ALL_ON = {"email_enabled": True, "sms_enabled": True, "on_shipped": True, "on_out_for_delivery": True,
          "on_delivered": True, "on_ndr": True, "on_rto": True}  # fmt: skip


def test_notification_settings_default_to_everything_on_without_writing(api, merchant):
    response = api.get(SETTINGS)

    assert (response.status_code, response.json()) == (200, ALL_ON)
    assert NotificationSetting.objects.count() == 0


def test_patch_notification_settings(api, merchant, other_api):
    response = api.patch(SETTINGS, {"sms_enabled": False, "on_delivered": False}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == ALL_ON | {"sms_enabled": False, "on_delivered": False}
    assert api.patch(SETTINGS, {"on_ndr": False}, format="json").json() == ALL_ON | {
        "sms_enabled": False, "on_delivered": False, "on_ndr": False}  # fmt: skip
    assert api.get(SETTINGS).json() == ALL_ON | {"sms_enabled": False, "on_delivered": False, "on_ndr": False}
    assert other_api.get(SETTINGS).json() == ALL_ON


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"on_lost": True}, {"on_lost": ["Unknown field."]}),
        ({"sms_enabled": "perhaps"}, {"sms_enabled": ["Must be a valid boolean."]}),
    ],
)
def test_bad_notification_settings_are_a_400(api, merchant, body, details):
    response = api.patch(SETTINGS, body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(details)
    assert NotificationSetting.objects.count() == 0
