"""The API's edge: input no column can store, bodies without a length, paths nobody serves.

Each case answered 500 (or stored a body PostgreSQL refuses) before the edge checked it.
"""

import io
import json

import pytest

from catalog.models import Product
from shopops.models import IdempotencyKey
from tests.conftest import client_for

PRODUCTS = "/api/v1/products/"
ORDERS = "/api/v1/orders/"
MINIMAL = {"sku": "MIN-1", "title": "Minimal", "price": "10.00"}


def _post_raw(api, path, raw: bytes, content_type="application/json", **headers):
    return api.generic("POST", path, raw, content_type=content_type, **headers)


# --- characters no stored text may hold ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"sku": "MIN-1", "title": "Mini\\u0000mal", "price": "10.00"}', "title"),
        (
            b'{"sku": "MIN-1", "title": "Minimal", "price": "10.00", "specs": {"size": ["M", "L\\u0000"]}}',
            "specs.size.1",
        ),
        (b'{"sku": "MIN-1", "title": "Mini\\ud800mal", "price": "10.00"}', "title"),
        (b'{"sku": "MIN-1", "title": "Minimal", "price": "10.00", "specs": {"\\udfff": "x"}}', "specs"),
    ],
)
def test_a_nul_or_a_lone_surrogate_in_json_is_a_400_naming_where(api, merchant, raw, where):
    # when
    response = _post_raw(api, PRODUCTS, raw)

    # then
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert f"at '{where}'" in body["message"]
    assert Product.objects.count() == 0


def test_a_nul_in_an_unknown_field_name_is_the_same_400_on_every_retry_under_its_idempotency_key(api, merchant):
    # given a body whose unknown field's name holds a NUL (the 400 naming it could not be stored before, and the
    # key then stayed locked: 409, then 500 on every retry)
    raw = b'{"sku": "MIN-1", "title": "Minimal", "price": "10.00", "x\\u0000y": 1}'

    # when it is sent twice with one key
    first = _post_raw(api, PRODUCTS, raw, HTTP_IDEMPOTENCY_KEY="nul-field")
    second = _post_raw(api, PRODUCTS, raw, HTTP_IDEMPOTENCY_KEY="nul-field")

    # then both answer the same 400: the body is refused as it is read, before the key is claimed
    assert first.status_code == 400
    assert first.json() == {
        "code": "parse_error",
        "message": "The body holds a NUL character or an unpaired surrogate in a field name; it cannot be stored.",
        "details": {},
    }
    assert (second.status_code, second.content) == (400, first.content)
    assert IdempotencyKey.objects.count() == 0
    assert Product.objects.count() == 0


def test_the_idempotency_store_keeps_any_bytes_a_response_holds(merchant):
    # given a claimed key and a response body no JSON or text column could hold (NUL, invalid UTF-8)
    from shopops import services

    claim = services.idempotency_key_claim(merchant=merchant, client="app:x", key="k", fingerprint="f")
    content = b'{"note": "\\u0000"}\x00\xff\xfe'

    # when
    services.idempotency_key_complete(record=claim.record, status=400, content=content, headers={"Content-Type": "x"})

    # then the same request is a replay of exactly those bytes
    replay = services.idempotency_key_claim(merchant=merchant, client="app:x", key="k", fingerprint="f")
    assert replay.outcome == "replay"
    assert (replay.record.response_status, bytes(replay.record.response_content)) == (400, content)


def test_an_unknown_field_with_any_unicode_name_replays_byte_for_byte(api, merchant):
    # given an unknown field named with characters outside the BMP and a right-to-left mark
    body = {**MINIMAL, "\U0001f4e6\u200fnote": "x"}

    # when
    first = api.post(PRODUCTS, body, format="json", HTTP_IDEMPOTENCY_KEY="emoji")
    second = api.post(PRODUCTS, body, format="json", HTTP_IDEMPOTENCY_KEY="emoji")

    # then
    assert first.status_code == 400
    assert first.json()["details"] == {"\U0001f4e6\u200fnote": ["Unknown field."]}
    assert (second.status_code, second.content, second.headers["Content-Type"]) == (
        400,
        first.content,
        "application/json",
    )


def test_a_nul_in_a_form_body_is_a_400(merchant):
    # given a session-less partner posting a form (the order import takes multipart, products take JSON or form)
    api = client_for(merchant)

    # when
    response = api.generic(
        "POST",
        f"{PRODUCTS}",
        b"sku=MIN-1&title=Mini%00mal&price=10.00",
        content_type="application/x-www-form-urlencoded",
    )

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert Product.objects.count() == 0


def test_a_nul_in_the_query_string_or_the_path_is_a_400(api):
    # when
    by_query = api.get(f"{ORDERS}?q=abc%00def")
    by_path = api.get("/api/v1/tracking/AWB%00123/")

    # then
    for response in (by_query, by_path):
        assert response.status_code == 400
        assert response.json() == {
            "code": "invalid_characters",
            "message": "The path or query string holds a NUL character.",
            "details": {},
        }


# --- nesting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_json_nested_deeper_than_32_levels_is_a_400(api, merchant, depth):
    # given a product whose specs nest ``depth`` levels (the body's top level is the first)
    raw = (
        b'{"sku": "MIN-1", "title": "Minimal", "price": "10.00", "specs": '
        + b"[" * (depth - 1)
        + b"]" * (depth - 1)
        + b"}"
    )

    # when
    response = _post_raw(api, PRODUCTS, raw)

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "JSON nested more than 32 levels" in response.json()["message"]
    assert Product.objects.count() == 0


def test_json_nested_32_levels_is_parsed(api, merchant):
    # given specs nested to the limit: {"a": {"a": ... "x"}} with the body itself as level 1
    specs = "x"
    for _ in range(31):
        specs = {"a": specs}
    raw = json.dumps({**MINIMAL, "specs": specs}).encode()

    # when
    response = _post_raw(api, PRODUCTS, raw)

    # then
    assert response.status_code == 201
    assert Product.objects.get().specs == specs


# --- bodies without a Content-Length ----------------------------------------------------------------


def _chunked(api, path, body: bytes, *, terminated=True):
    extra = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body)}
    if terminated:
        extra["wsgi.input_terminated"] = True
    return api.generic("POST", path, b"", content_type="application/json", **extra)


def test_a_chunked_body_over_the_limit_is_a_413(api, merchant, settings):
    # given a 3 MiB chunked JSON body, as a server like gunicorn hands it over (no CONTENT_LENGTH)
    body = json.dumps({**MINIMAL, "description": "x" * (3 * 1024 * 1024)}).encode()

    # when
    response = _chunked(api, PRODUCTS, body)

    # then
    assert response.status_code == 413
    assert response.json()["details"] == {"max_bytes": settings.API_MAX_BODY_BYTES}
    assert Product.objects.count() == 0


def test_a_chunked_body_within_the_limit_is_read_like_any_other(api, merchant):
    # when
    response = _chunked(api, PRODUCTS, json.dumps(MINIMAL).encode())

    # then
    assert response.status_code == 201
    assert Product.objects.get().sku == "MIN-1"


def test_a_chunked_body_a_server_cannot_end_is_a_411(api, merchant):
    # given a server that does not say its input ends with the body (Django's development server)
    response = _chunked(api, PRODUCTS, json.dumps(MINIMAL).encode(), terminated=False)

    # then
    assert response.status_code == 411
    assert response.json()["code"] == "length_required"
    assert Product.objects.count() == 0


# --- unknown paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_api_path_answers_the_json_404_in_every_mode(api, settings, debug):
    # given development mode (make run) or production
    settings.DEBUG = debug

    # when
    responses = [api.get("/api/v1/no-such-resource/"), api.post("/api/v2/orders/", {}), api.get("/o/nothing/")]

    # then
    for response in responses:
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == {"code": "not_found", "message": "Not found.", "details": {}}


def test_a_known_api_path_without_its_slash_redirects_a_get_and_names_the_path_otherwise(api, settings):
    settings.DEBUG = True

    # when
    get = api.get("/api/v1/orders?status=new")
    post = api.post("/api/v1/orders", {}, format="json")

    # then
    assert (get.status_code, get.headers["Location"]) == (301, "/api/v1/orders/?status=new")
    assert post.status_code == 404
    assert post.json() == {
        "code": "not_found",
        "message": "Not found: the path needs its trailing slash.",
        "details": {"path": "/api/v1/orders/"},
    }


# --- token introspection ---------------------------------------------------------------------------------


def test_token_introspection_is_not_offered(merchant, other_merchant):
    # given merchant A's token and merchant B's client credentials (B could learn about A's token before)
    from tests.shopops.factories import PartnerApplicationFactory, issue_token

    token = issue_token(PartnerApplicationFactory(merchant=merchant))
    spy = PartnerApplicationFactory(merchant=other_merchant, client_secret="spy-secret")

    # when
    response = client_for(other_merchant).generic(
        "POST",
        "/o/introspect/",
        f"token={token}&client_id={spy.client_id}&client_secret=spy-secret".encode(),
        content_type="application/x-www-form-urlencoded",
    )

    # then
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "details": {}}


# --- where an access token is read ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["form", "query"])
def test_an_access_token_outside_the_authorization_header_is_not_read(merchant, where):
    # given a valid token sent in a form body or the query string (RFC 6750 allows both; ShopOps does not)
    from rest_framework.test import APIClient

    from tests.shopops.factories import PartnerApplicationFactory, issue_token

    token = issue_token(PartnerApplicationFactory(merchant=merchant))
    client = APIClient()

    # when
    if where == "form":
        response = client.generic(
            "POST", PRODUCTS, f"access_token={token}&sku=MIN-1&title=Minimal&price=10.00".encode(),
            content_type="application/x-www-form-urlencoded",
        )  # fmt: skip
    else:
        response = client.get(f"{PRODUCTS}?access_token={token}")

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert Product.objects.count() == 0
