import pytest

from tests.conftest import client_for

pytestmark = pytest.mark.urls("tests.urls")


def test_me_answers_for_the_tokens_merchant(merchant):
    api = client_for(merchant, scopes=["orders:read"])

    response = api.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["merchant"]["slug"] == "acme"
    assert response.json()["scopes"] == ["orders:read"]
    assert response.json()["client"] == f"app:{api.application.client_id}"


def test_probe_note_creates_one_entry(api):
    response = api.post("/api/v1/_probe/notes/", {"note": "hello"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["note"] == "hello"
