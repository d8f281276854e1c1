"""Idempotency-Key on POST/PATCH, through the probe endpoint that writes one Session row per call."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from shopops.models import IdempotencyKey
from shopops.services import idempotency_keys_prune
from tests.conftest import client_for
from tests.shopops.factories import aged_idempotency_key

pytestmark = pytest.mark.urls("tests.urls")

URL = "/api/v1/_probe/notes/"


def notes(text: str, merchant_slug: str = "acme") -> int:
    return Session.objects.filter(session_data=f"{merchant_slug}:{text}").count()


def post(api, body, key="key-1"):
    return api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_and_request_replays_the_stored_response(api):
    first = post(api, {"note": "a"})

    second = post(api, {"note": "a"})

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert notes("a") == 1


def test_same_key_with_another_body_is_422(api):
    post(api, {"note": "a"})

    response = post(api, {"note": "b"})

    assert response.status_code == 422
    assert response.json() == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was already used with a different request.",
        "details": {"idempotency_key": "key-1"},
    }
    assert notes("b") == 0


def test_same_key_on_another_path_is_422(api):
    post(api, {"note": "a"})

    response = api.post(URL + "?x=1", {"note": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    assert response.status_code == 422


def test_without_a_key_every_request_takes_effect(api):
    api.post(URL, {"note": "a"}, format="json")
    api.post(URL, {"note": "a"}, format="json")

    assert notes("a") == 2
    assert IdempotencyKey.objects.count() == 0


def test_key_in_flight_is_409(api, merchant):
    IdempotencyKey.objects.create(
        merchant=merchant,
        client=f"app:{api.application.client_id}",
        key="key-1",
        fingerprint=_fingerprint_of(api, {"note": "a"}),
        locked_at=timezone.now(),
    )

    response = post(api, {"note": "a"})

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert notes("a") == 0


def _fingerprint_of(api, body) -> str:
    """The fingerprint the server stores for ``body``: read back from a throwaway key."""
    post(api, body, key="fingerprint-probe")
    record = IdempotencyKey.objects.get(key="fingerprint-probe")
    fingerprint = record.fingerprint
    record.delete()
    Session.objects.filter(session_data__endswith=f":{body['note']}").delete()
    return fingerprint


def test_abandoned_in_flight_key_is_taken_over_after_the_lock_timeout(api, merchant, settings):
    fingerprint = _fingerprint_of(api, {"note": "a"})
    IdempotencyKey.objects.create(
        merchant=merchant,
        client=f"app:{api.application.client_id}",
        key="key-1",
        fingerprint=fingerprint,
        locked_at=timezone.now() - settings.IDEMPOTENCY_LOCK_TIMEOUT - timedelta(seconds=1),
    )

    response = post(api, {"note": "a"})

    assert response.status_code == 201
    assert notes("a") == 1
    assert IdempotencyKey.objects.get(key="key-1").status == "completed"


def test_errors_below_500_are_stored_and_replayed(api):
    first = post(api, {"note": "a", "conflict": True})
    second = post(api, {"note": "a", "conflict": True})

    assert first.status_code == second.status_code == 409
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"


def test_a_server_error_releases_the_key(api):
    crashed = post(api, {"note": "a", "crash": True})

    assert crashed.status_code == 500
    assert IdempotencyKey.objects.count() == 0


def test_keys_are_per_client_and_merchant(merchant, other_merchant):
    first, second, foreign = client_for(merchant), client_for(merchant), client_for(other_merchant)

    assert post(first, {"note": "a"}).status_code == 201
    assert post(second, {"note": "a"}).status_code == 201
    assert post(foreign, {"note": "a"}).status_code == 201

    assert notes("a") == 2
    assert notes("a", "other") == 1


def test_a_replay_after_24_hours_runs_the_request_again(api):
    post(api, {"note": "a"})
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))

    response = post(api, {"note": "a"})

    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert notes("a") == 2


def test_overlong_key_is_400(api):
    response = post(api, {"note": "a"}, key="k" * 256)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert notes("a") == 0


def test_prune_deletes_only_keys_older_than_24_hours(merchant):
    now = timezone.now()
    aged_idempotency_key(merchant, "old", timedelta(hours=25), now)
    aged_idempotency_key(merchant, "fresh", timedelta(hours=23), now)

    deleted = idempotency_keys_prune(now=now)

    assert deleted == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_100_concurrent_identical_requests_have_one_effect(merchant):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")
    # Given one partner client and one key; PostgreSQL allows 100 connections,
    # so 100 requests run on 40 threads released together by a barrier.
    api = client_for(merchant)
    credentials = api._credentials
    threads = 40
    barrier = threading.Barrier(threads)

    def call(index: int):
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(**credentials)
        if index < threads:
            barrier.wait()
        try:
            return post(client, {"note": "race", "sleep": 0.2})
        finally:
            connection.close()

    # When
    with ThreadPoolExecutor(max_workers=threads) as pool:
        responses = list(pool.map(call, range(100)))

    # Then exactly one request took effect; the others were told it is in flight or got its replay.
    statuses = sorted({response.status_code for response in responses})
    created = [r for r in responses if r.status_code == 201]
    in_use = [r for r in responses if r.status_code == 409]
    assert set(statuses) <= {201, 409}
    assert len(created) + len(in_use) == 100
    assert all(r.json()["code"] == "idempotency_key_in_use" for r in in_use)
    assert len({r.json()["id"] for r in created}) == 1
    assert len([r for r in created if not r.has_header("Idempotent-Replayed")]) == 1
    assert notes("race") == 1
    assert IdempotencyKey.objects.get().status == "completed"
