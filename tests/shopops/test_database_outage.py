"""A database that went away: each request in flight answers a clear 503 with Retry-After, never a 500 with a
traceback. The database here is a real one that is not there: a PostgreSQL port nothing listens on."""

import pytest
from django.test import Client

from tests.conftest import client_for

UNAVAILABLE = {"code": "service_unavailable", "message": "The database is not answering; retry in a few seconds.",
               "details": {}}  # fmt: skip
PAGE = b"ShopOps cannot reach its database; retry in a few seconds.\n"


@pytest.fixture
def partner(merchant):
    return client_for(merchant)  # its token is issued while the database answers


@pytest.mark.parametrize("method, path", [("get", "/api/v1/orders/"), ("post", "/api/v1/orders/"),
                                          ("get", "/api/v1/me/")])  # fmt: skip
def test_an_api_request_answers_503_with_retry_after(partner, dead_database, method, path):
    partner.raise_request_exception = False

    response = getattr(partner, method)(path, {}, format="json")

    assert (response.status_code, response.json(), response["Retry-After"]) == (503, UNAVAILABLE, "5")


def test_an_admin_page_answers_a_plain_503(owner, dead_database_after_login):
    response = dead_database_after_login.get("/admin/")

    assert (response.status_code, response.content, response["Retry-After"]) == (503, PAGE, "5")
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_the_public_tracking_page_answers_a_plain_503(db, dead_database):
    response = Client(raise_request_exception=False).get("/track/BD123/not-a-token/")

    assert (response.status_code, response.content, response["Retry-After"]) == (503, PAGE, "5")


@pytest.fixture
def dead_database_after_login(owner, request):
    client = Client(raise_request_exception=False)
    client.force_login(owner)  # the session is stored while the database answers
    request.getfixturevalue("dead_database")
    return client
