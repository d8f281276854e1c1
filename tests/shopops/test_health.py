"""``/healthz``: each dependency's state; 503 only when the database is unreachable, 200 "degraded" when the broker
or the cache is down. Every dependency here is a real one: a port nothing listens on, a server that never answers."""

import pytest
import redis

from tests.conftest import DEAD_REDIS, use_redis_cache

NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"  # only pinged
REFUSED = "Error 111 connecting to 127.0.0.1:1. Connection refused."
OK = {"state": "ok"}
NOT_CONFIGURED = {"state": "not_configured"}
NO_SENDS_LOST = {"sends_failed": 0, "sends_skipped": 0}


@pytest.fixture
def local_redis():
    try:
        redis.Redis.from_url(LOCAL_REDIS, socket_connect_timeout=1).ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        pytest.skip(f"no Redis answers on {LOCAL_REDIS}: {exc}")
    return LOCAL_REDIS


@pytest.fixture
def no_broker(settings):
    settings.CELERY_BROKER_URL = ""  # tasks run eagerly


DATABASE_REFUSED = {
    "state": "down",
    "reason": 'OperationalError: connection failed: connection to server at "127.0.0.1", port 1 failed: '
    "Connection refused",
}


def test_healthy_without_a_broker_or_a_shared_cache(client, db, no_broker):
    # given no broker (tasks run eagerly) and the cache in local memory

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": OK, "broker": NOT_CONFIGURED, "cache": NOT_CONFIGURED},
    }
    assert response.headers["Cache-Control"] == NEVER_CACHE


def test_unreachable_broker_is_degraded_not_down(client, db, settings):
    # given a broker URL where nothing listens
    settings.CELERY_BROKER_URL = DEAD_REDIS

    # when
    response = client.get("/healthz")

    # then requests can still be served: 200, naming the broker
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {
            "database": OK,
            "broker": {"state": "down", "reason": f"OperationalError: {REFUSED}", **NO_SENDS_LOST},
            "cache": NOT_CONFIGURED,
        },
    }
    assert response.headers["Cache-Control"] == NEVER_CACHE


def test_a_hung_broker_is_down_after_the_read_timeout(client, db, settings, hung_server):
    # given a broker that accepts the connection and never answers (without a read timeout the probe waits for ever)
    settings.CELERY_BROKER_URL = f"redis://{hung_server}/0"

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == {
        "state": "down",
        "reason": "OperationalError: Timeout reading from socket",
        **NO_SENDS_LOST,
    }


def test_reachable_broker_answers_200(client, db, settings, local_redis):
    # given a broker that answers
    settings.CELERY_BROKER_URL = local_redis

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": OK, "broker": {**OK, **NO_SENDS_LOST}, "cache": NOT_CONFIGURED},
    }


def test_unreachable_cache_is_degraded_with_this_process_counters(api, client, no_broker, dead_cache):
    # given a Redis cache that is not running, and an API request served meanwhile
    assert api.get("/api/v1/me/").status_code == 200

    # when
    response = client.get("/healthz")

    # then the cache is down; its throttle read failed once, local memory answered that read and the write
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {
            "database": OK,
            "broker": NOT_CONFIGURED,
            "cache": {"state": "down", "reason": f"ConnectionError: {REFUSED}", "errors": 1, "served_locally": 2},
        },
    }


def test_a_hung_cache_is_down_after_the_read_timeout(client, db, no_broker, settings, hung_server):
    # given a cache in a Redis that accepts the connection and never answers
    use_redis_cache(settings, f"redis://{hung_server}/0")

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json()["checks"]["cache"] == {
        "state": "down",
        "reason": "TimeoutError: Timeout reading from socket",
        "errors": 0,
        "served_locally": 0,
    }


def test_reachable_cache_is_ok(client, db, no_broker, settings, local_redis):
    # given a cache in a Redis that answers (the probe only pings it)
    use_redis_cache(settings, local_redis)

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": OK, "broker": NOT_CONFIGURED, "cache": {**OK, "errors": 0, "served_locally": 0}},
    }


def test_unreachable_database_answers_503(client, no_broker, dead_database):
    # given a database that does not answer

    # when
    response = client.get("/healthz")

    # then the load balancer takes this process out of rotation
    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "checks": {"database": DATABASE_REFUSED, "broker": NOT_CONFIGURED, "cache": NOT_CONFIGURED},
    }
    assert response.headers["Cache-Control"] == NEVER_CACHE


def test_everything_down_names_each(client, settings, dead_database, dead_cache):
    # given no database, no broker and no cache
    settings.CELERY_BROKER_URL = DEAD_REDIS

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "checks": {
            "database": DATABASE_REFUSED,
            "broker": {"state": "down", "reason": f"OperationalError: {REFUSED}", **NO_SENDS_LOST},
            "cache": {"state": "down", "reason": f"ConnectionError: {REFUSED}", "errors": 0, "served_locally": 0},
        },
    }


def test_the_broker_check_counts_the_sends_this_process_could_not_make(client, db, dead_broker):
    # given a broker that went down while jobs were sent: one send failed, the next was not tried
    from shopops import dispatch

    assert (dispatch.send("shopops.tasks.jobs_requeue"), dispatch.send("shopops.tasks.jobs_requeue")) == (False, False)

    # when
    response = client.get("/healthz")

    # then
    assert (response.status_code, response.json()["checks"]["broker"]) == (200, {
        "state": "down", "reason": f"OperationalError: {REFUSED}", "sends_failed": 1, "sends_skipped": 1})  # fmt: skip
