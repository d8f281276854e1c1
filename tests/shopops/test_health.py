"""``/healthz``: 200 when the database (and the broker, when one is configured) answers, else 503."""

import errno
import os

import pytest
import redis

NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def local_redis():
    try:
        redis.Redis.from_url(LOCAL_REDIS, socket_connect_timeout=1).ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        pytest.skip(f"no Redis answers on {LOCAL_REDIS}: {exc}")
    return LOCAL_REDIS


def test_healthy_without_a_broker(client, db, settings):
    # given no broker: tasks run eagerly
    settings.CELERY_BROKER_URL = ""

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert response.headers["Cache-Control"] == NEVER_CACHE


def test_unreachable_broker_answers_503_naming_it(client, db, settings):
    # given a broker URL where nothing listens
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    # when
    response = client.get("/healthz")

    # then
    refused = f"Error {errno.ECONNREFUSED} connecting to 127.0.0.1:1. {os.strerror(errno.ECONNREFUSED)}."
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": f"OperationalError: {refused}"},
    }
    assert response.headers["Cache-Control"] == NEVER_CACHE


def test_reachable_broker_answers_200(client, db, settings, local_redis):
    # given a broker that answers
    settings.CELERY_BROKER_URL = local_redis

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
