"""A Redis cache that is down or hangs: requests are answered, throttles count in local memory, a warning a period."""

import logging

import pytest
import redis
from django.conf import settings as django_settings

from shopops import cache as shared_cache
from shopops.api.throttling import ClientRateThrottle
from tests.conftest import use_redis_cache

ME = "/api/v1/me/"
REFUSED = "ConnectionError: Error 111 connecting to 127.0.0.1:1. Connection refused."
WARNING = (
    f"Cache redis://127.0.0.1:1/0 unreachable ({REFUSED}): this process answers from its own memory and tries "
    "again in 10 s (failed operations so far: {})"
)


@pytest.fixture
def clock(monkeypatch):
    """The cache module's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(shared_cache, "monotonic", lambda: now[0])
    return now


def cache_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "shopops.cache" and r.levelno == logging.WARNING]


def test_api_requests_answer_200_with_one_warning(api, dead_cache, caplog):
    # given a cache whose Redis is not running

    # when an authenticated client reads itself and two lists
    responses = [api.get(ME), api.get("/api/v1/orders/"), api.get("/api/v1/products/")]

    # then each is answered; Redis was tried once (the throttle's first read) and local memory answered the
    # throttle's read and write of each request
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[1].json()["results"] == []
    assert cache_warnings(caplog) == [WARNING.format(1)]
    assert (dead_cache.state.errors, dead_cache.state.served_locally) == (1, 6)
    assert dead_cache.state.reason == REFUSED


def test_the_throttle_still_counts_in_local_memory(api, dead_cache, monkeypatch):
    # given a budget of two requests a minute on a clock that stands still
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "2/min"})
    monkeypatch.setattr(ClientRateThrottle, "timer", staticmethod(lambda: 1_800_000_000.0))

    # when
    statuses = [api.get(ME).status_code for _ in range(3)]

    # then the budget holds in this process
    assert statuses == [200, 200, 429]


def test_redis_is_left_alone_until_the_retry_period_ends(dead_cache, clock, caplog):
    # given a first failure
    assert dead_cache.get("k", "miss") == "miss"

    # when the next operations come within the period, and one after it
    dead_cache.set("k", "v")
    within = dead_cache.get("k")
    clock[0] += shared_cache.RETRY_SECONDS - 0.001
    still_within = dead_cache.get("k")
    errors_in_period = dead_cache.state.errors
    clock[0] += 0.001
    after = dead_cache.get("k")

    # then within the period only local memory answered; after it Redis was tried (and failed) again, with a
    # second warning
    assert (within, still_within, after) == ("v", "v", "v")
    assert errors_in_period == 1
    assert (dead_cache.state.errors, dead_cache.state.served_locally) == (2, 5)
    assert cache_warnings(caplog) == [WARNING.format(1), WARNING.format(2)]


def test_a_hung_redis_costs_one_read_timeout_a_period(settings, hung_server, caplog):
    # given a Redis that accepts connections and never answers
    cache = use_redis_cache(settings, f"redis://{hung_server}/0")

    # when
    results = [cache.add("k", 1), cache.incr("k"), cache.get_many(key for key in ["k", "x"])]

    # then the first operation waited for its read timeout, the others did not try
    assert results == [True, 2, {"k": 2}]
    assert (cache.state.errors, cache.state.served_locally) == (1, 3)
    assert cache.state.reason == "TimeoutError: Timeout reading from socket"
    assert cache_warnings(caplog) == [
        f"Cache redis://{hung_server}/0 unreachable (TimeoutError: Timeout reading from socket): this process "
        "answers from its own memory and tries again in 10 s (failed operations so far: 1)"
    ]


def test_the_log_hides_the_password(settings, caplog):
    # given a cache URL with a password
    cache = use_redis_cache(settings, "redis://:s3cret@127.0.0.1:1/0")

    # when
    cache.get("k")

    # then
    assert cache_warnings(caplog) == [WARNING.format(1).replace("redis://", "redis://:***@", 1)]


@pytest.fixture
def live_redis_url():
    """The Redis the broker runs on (its own database number), when there is one."""
    url = django_settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.skip("needs a Redis: set CELERY_BROKER_URL (CI uses redis://127.0.0.1:6379/0)")
    return url


def test_redis_serves_again_once_it_answers(settings, live_redis_url, clock, caplog):
    # given a cache in a live Redis, seen failing a moment ago
    caplog.set_level(logging.INFO, logger="shopops.cache")
    cache = use_redis_cache(settings, live_redis_url)
    refused = redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    cache.state.failed(refused)
    key = "shopops-tests:cache-recovery"

    # when an operation comes within the period, and one after it
    cache.set(key, 1)
    clock[0] += shared_cache.RETRY_SECONDS
    cache.set(key, 2)

    # then the first went to local memory, the second to Redis, which serves again
    raw = redis.Redis.from_url(live_redis_url)
    try:
        in_redis = raw.get(cache.make_key(key))
    finally:
        raw.delete(cache.make_key(key))
    assert (cache.local.get(key), in_redis) == (1, b"2")
    assert (cache.state.reason, cache.state.errors, cache.state.served_locally) == ("", 1, 1)
    assert [r.getMessage() for r in caplog.records if r.name == "shopops.cache"] == [
        f"Cache {live_redis_url} unreachable (ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection "
        "refused.): this process answers from its own memory and tries again in 10 s (failed operations so far: 1)",
        f"Cache {live_redis_url} answers again (it failed with ConnectionError: Error 111 connecting to "
        "127.0.0.1:6379. Connection refused.)",
    ]
