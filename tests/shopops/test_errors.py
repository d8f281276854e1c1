"""Every API error answers ``{"code", "message", "details"}`` with the right status and headers."""

import json

import pytest
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from shopops.api.throttling import ClientRateThrottle
from tests.conftest import client_for
from tests.shopops.factories import MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.urls("tests.urls")

NOTES = "/api/v1/_probe/notes/"
MEMBERS = "/api/v1/_probe/members/"
ME = "/api/v1/me/"
ALL_SCOPES = [
    "catalog:read",
    "catalog:write",
    "inventory:read",
    "inventory:write",
    "marketing:read",
    "marketing:write",
    "orders:read",
    "orders:write",
    "payments:read",
    "payments:write",
    "shipping:read",
    "shipping:write",
    "webhooks:read",
    "webhooks:write",
]


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def merchant_output(merchant) -> dict:
    return {
        "id": merchant.pk,
        "name": merchant.name,
        "slug": merchant.slug,
        "time_zone": "Asia/Kolkata",
        "default_currency": "INR",
        "tax_id": "",
        "lut_reference": "",
        "country": "IN",
        "mask_phone_on_label": False,
    }


# --- 400 ----------------------------------------------------------------------------------------


def test_invalid_fields_answer_400_with_field_errors(api):
    # given a body without the required note and with a quantity below the minimum
    body = {"quantity": 0}

    # when
    response = api.post(NOTES, body, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "The request has invalid fields; see details.",
        "details": {
            "note": ["This field is required."],
            "quantity": ["Ensure this value is greater than or equal to 1."],
        },
    }
    assert Session.objects.count() == 0


def test_malformed_json_answers_400_parse_error(api):
    # given a JSON body cut short
    body = '{"note": "hello",'

    # when
    response = api.post(NOTES, body, content_type="application/json")

    # then
    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "message": "JSON parse error - Expecting property name enclosed in double quotes: line 1 column 18 (char 17)",
        "details": {},
    }
    assert Session.objects.count() == 0


def test_page_size_above_the_maximum_answers_400(api, owner):
    # given a merchant with a member to list

    # when
    response = api.get(MEMBERS, {"page_size": 500})

    # then
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "page_size must be an integer from 1 to 200.",
        "details": {"page_size": ["Must be an integer from 1 to 200."]},
    }


# --- 401 ----------------------------------------------------------------------------------------


def test_no_credentials_answer_401_with_a_bearer_challenge(db):
    # given an anonymous client
    client = APIClient()

    # when
    response = client.post(NOTES, {"note": "hello"}, format="json")

    # then
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "details": {},
    }
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert Session.objects.count() == 0


def test_unknown_token_answers_401_with_a_bearer_challenge(db):
    # given a bearer token that was never issued
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")

    # when
    response = client.post(NOTES, {"note": "hello"}, format="json")

    # then
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "The access token is invalid, expired or revoked.",
        "details": {},
    }
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api",error="invalid_token",error_description="The access token is invalid."'
    )
    assert Session.objects.count() == 0


# --- 403 ----------------------------------------------------------------------------------------


def test_missing_scope_answers_403_naming_the_scope(merchant):
    # given a token that may only read the catalog
    reader = client_for(merchant, scopes=["catalog:read"])

    # when
    response = reader.post(NOTES, {"note": "hello"}, format="json")

    # then
    assert response.status_code == 403
    assert response.json() == {
        "code": "missing_scope",
        "message": "This request needs the scope catalog:write.",
        "details": {"required_scopes": ["catalog:write"], "missing_scopes": ["catalog:write"]},
    }
    assert Session.objects.count() == 0


def test_viewer_role_answers_403_on_a_write(merchant):
    # given a logged-in member whose role only reads
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    client = session_client(viewer)
    sessions_before = Session.objects.count()

    # when
    response = client.post(NOTES, {"note": "hello"}, format="json")

    # then
    assert response.status_code == 403
    assert response.json() == {
        "code": "role_forbidden",
        "message": "The viewer role can only read.",
        "details": {"role": "viewer"},
    }
    assert Session.objects.count() == sessions_before


# --- 404 ----------------------------------------------------------------------------------------


def test_unknown_id_answers_404(api, owner):
    # given no membership with this id
    unknown_id = owner.memberships.get().pk + 1000

    # when
    response = api.get(f"{MEMBERS}{unknown_id}/")

    # then
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "details": {}}


def test_unknown_api_path_answers_404_json_without_debug(api, settings):
    # given production mode, where Django renders its own 404 page outside DRF
    settings.DEBUG = False

    # when
    response = api.get("/api/v1/no-such-resource/")

    # then
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "message": "Not found.", "details": {}}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_api_path_answers_404_json_to_a_write_without_a_csrf_token(method):
    # given a client whose writes Django's CSRF check would refuse (as a partner's server, with no cookie)
    client = APIClient(enforce_csrf_checks=True)

    # when: an id that is not one (the router's ids have no dot)
    response = getattr(client, method)("/api/v1/categories/0.5/", {}, format="json")

    # then: the API's 404, not Django's HTML CSRF page
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "details": {}}


# --- 405 ----------------------------------------------------------------------------------------


def test_unsupported_method_answers_405(api):
    # when
    response = api.delete(ME)

    # then
    assert response.status_code == 405
    assert response.json() == {
        "code": "method_not_allowed",
        "message": 'Method "DELETE" not allowed.',
        "details": {},
    }
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


# --- 409 ----------------------------------------------------------------------------------------


def test_conflict_answers_409_with_its_details(api):
    # when
    response = api.post(NOTES, {"note": "hello", "conflict": True}, format="json")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "probe_conflict",
        "message": "The probe is in a conflicting state.",
        "details": {"state": "busy"},
    }
    assert Session.objects.count() == 0


# --- 413 ----------------------------------------------------------------------------------------


def test_json_body_over_the_limit_answers_413(api, settings):
    # given a 64-byte limit and a JSON body of more than 64 bytes
    settings.API_MAX_BODY_BYTES = 64
    body = json.dumps({"note": "x" * 80})

    # when
    response = api.post(NOTES, body, content_type="application/json")

    # then
    assert response.status_code == 413
    assert response.json() == {
        "code": "payload_too_large",
        "message": "The request body is larger than the limit of 64 bytes.",
        "details": {"max_bytes": 64},
    }
    assert Session.objects.count() == 0


def test_multipart_body_over_the_upload_limit_answers_413(api, settings):
    # given an upload limit of 1 KiB (the JSON limit stays at 1 MiB) and a 4 KiB file
    settings.API_MAX_UPLOAD_BYTES = 1024
    upload = SimpleUploadedFile("stock.csv", b"sku,quantity\n" + b"A,1\n" * 1024, content_type="text/csv")

    # when
    response = api.post(NOTES, {"note": "hello", "file": upload}, format="multipart")

    # then
    assert response.status_code == 413
    assert response.json() == {
        "code": "payload_too_large",
        "message": "The request body is larger than the limit of 1024 bytes.",
        "details": {"max_bytes": 1024},
    }
    assert Session.objects.count() == 0


# --- 415 ----------------------------------------------------------------------------------------


def test_unsupported_content_type_answers_415(api):
    # when
    response = api.post(NOTES, "note=hello", content_type="text/plain")

    # then
    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "message": 'Unsupported media type "text/plain" in request.',
        "details": {},
    }
    assert Session.objects.count() == 0


# --- 429 ----------------------------------------------------------------------------------------


@pytest.fixture
def two_per_minute(monkeypatch):
    """Two requests a minute per client, on a clock that stands still."""
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "2/min"})
    monkeypatch.setattr(ClientRateThrottle, "timer", staticmethod(lambda: 1_800_000_000.0))


def test_third_request_in_a_minute_answers_429_with_retry_after(api, two_per_minute):
    # given a client that used its budget of two requests
    assert [api.get(ME).status_code for _ in range(2)] == [200, 200]

    # when
    response = api.get(ME)

    # then
    assert response.status_code == 429
    assert response.json() == {
        "code": "throttled",
        "message": "Too many requests; retry in 60 seconds.",
        "details": {"retry_after": 60},
    }
    assert response.headers["Retry-After"] == "60"


def test_partner_applications_have_separate_throttle_budgets(merchant, two_per_minute):
    # given two partner applications of the same merchant, the first out of budget
    first = client_for(merchant)
    second = client_for(merchant)
    assert [first.get(ME).status_code for _ in range(3)] == [200, 200, 429]

    # when
    responses = [second.get(ME) for _ in range(3)]

    # then
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[0].json()["client"] == f"app:{second.application.client_id}"


# --- 500 ----------------------------------------------------------------------------------------


def test_crash_answers_500_without_leaking_the_exception(api, settings, caplog):
    # given production mode and a view that raises with a secret in its message
    settings.DEBUG = False
    api.raise_request_exception = False

    # when
    response = api.post(NOTES, {"note": "hello", "crash": True}, format="json")

    # then
    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "message": "An unexpected error occurred; it has been logged.",
        "details": {},
    }
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    logged = [r for r in caplog.records if r.name == "shopops.api"]
    assert [(r.levelname, r.getMessage(), type(r.exc_info[1])) for r in logged] == [
        ("ERROR", "Unhandled API error", RuntimeError)
    ]


# --- merchant resolution for session users ----------------------------------------------------


@pytest.fixture
def member_of_two(merchant, other_merchant):
    user = MembershipFactory(merchant=merchant, role="manager").user
    MembershipFactory(merchant=other_merchant, user=user, role="viewer")
    return user


def test_member_of_two_merchants_without_header_answers_403(member_of_two):
    # given a logged-in user of two merchants who names none
    client = session_client(member_of_two)

    # when
    response = client.get(ME)

    # then
    assert response.status_code == 403
    assert response.json() == {
        "code": "merchant_required",
        "message": "You belong to several merchants: name one with the X-Merchant header (its slug).",
        "details": {},
    }


def test_member_of_two_merchants_names_one_with_the_header(member_of_two, other_merchant):
    # given a logged-in user of two merchants
    client = session_client(member_of_two)

    # when they name the second one
    response = client.get(ME, headers={"X-Merchant": "other"})

    # then they act for it, with its role
    assert response.status_code == 200
    assert response.json() == {
        "merchant": merchant_output(other_merchant),
        "client": f"user:{member_of_two.pk}",
        "application": None,
        "user": member_of_two.username,
        "role": "viewer",
        "scopes": ALL_SCOPES,
    }


def test_header_naming_a_merchant_the_user_is_not_a_member_of_answers_403(member_of_two):
    # given a third merchant the user does not belong to
    MerchantFactory(name="Third Shop", slug="third")
    client = session_client(member_of_two)

    # when
    response = client.get(ME, headers={"X-Merchant": "third"})

    # then
    assert response.status_code == 403
    assert response.json() == {
        "code": "not_a_member",
        "message": "You are not a member of merchant 'third'.",
        "details": {},
    }


def test_superuser_acts_for_any_merchant_named_in_the_header(merchant):
    # given a superuser with no membership at all
    superuser = UserFactory(is_superuser=True)
    client = session_client(superuser)

    # when
    response = client.get(ME, headers={"X-Merchant": "acme"})

    # then
    assert response.status_code == 200
    assert response.json() == {
        "merchant": merchant_output(merchant),
        "client": f"user:{superuser.pk}",
        "application": None,
        "user": superuser.username,
        "role": "owner",
        "scopes": ALL_SCOPES,
    }
