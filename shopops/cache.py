"""The Django cache in Redis, degraded instead of failing while Redis cannot be reached.

The cache holds the API throttles' counters (DRF's ``SimpleRateThrottle``: the partners' budget, the couriers'
webhook, the public tracking lookup). With Django's ``RedisCache`` a dead Redis made every one of those requests
answer 500. ``FallbackRedisCache`` answers from a local-memory cache of this process instead: throttles keep
counting, per process rather than shared (a client may get its budget once per process while Redis is away), and
nothing else notices.

After a failure Redis is left alone for ``RETRY_SECONDS``: the operations in between go straight to local memory,
so a dead or hung server costs one connect or read timeout (``OPTIONS`` in ``settings.CACHES``) per process per
period, not one per operation, and the warning is logged once per period per process. The first operation after
the period tries Redis again; when it answers, an info line says so and Redis serves again (the counters it holds
from before the outage with it). Each process counts the Redis operations that failed and those local memory
answered; ``/healthz`` shows them with a live probe (``ping``).
"""

import logging
import threading
from dataclasses import dataclass, field
from time import monotonic
from urllib.parse import urlsplit

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_SECONDS = 10
# Throttle counters of every client seen while Redis is away (LocMemCache's default is 300 entries).
LOCAL_MAX_ENTRIES = 10_000


@dataclass
class ServerState:
    """One Redis location as this process sees it, shared by every thread's cache object."""

    location: str
    reason: str = ""  # why the last attempt failed; empty while Redis answers
    retry_at: float = 0.0  # monotonic time before which Redis is not tried
    errors: int = 0  # Redis operations that failed
    served_locally: int = 0  # operations local memory answered
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def skipping(self) -> bool:
        return bool(self.reason) and monotonic() < self.retry_at

    def failed(self, exc: RedisError) -> None:
        now = monotonic()
        with self.lock:
            first_in_period = now >= self.retry_at  # not a request that was already in flight when Redis failed
            self.errors += 1
            self.reason = f"{type(exc).__name__}: {exc}"
            self.retry_at = now + RETRY_SECONDS
        if first_in_period:
            logger.warning("Cache %s unreachable (%s): this process answers from its own memory and tries again in "
                           "%d s (failed operations so far: %d)", self.location, self.reason, RETRY_SECONDS,
                           self.errors)  # fmt: skip

    def answered(self) -> None:
        if self.reason:  # the happy path reads one attribute
            with self.lock:
                reason, self.reason = self.reason, ""
            if reason:
                logger.info("Cache %s answers again (it failed with %s)", self.location, reason)

    def count_local(self) -> None:
        with self.lock:
            self.served_locally += 1


# Per process, by location: the state and the local fallback outlive the per-thread cache objects.
server_states: dict[str, ServerState] = {}
_states_lock = threading.Lock()


def _state_for(location: str) -> ServerState:
    with _states_lock:
        return server_states.setdefault(location, ServerState(location))


def _without_password(location: str) -> str:
    parts = urlsplit(location)
    if not parts.password:
        return location
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


class FallbackRedisCache(RedisCache):
    """Django's ``RedisCache`` whose every operation falls back to local memory on a ``RedisError``: Redis refused
    the connection, timed out, or answered an error (a read-only replica, out of memory)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        location = ",".join(_without_password(one) for one in self._servers)
        self.state = _state_for(location)
        local = {name: params[name] for name in ("TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION") if name in params}
        local["OPTIONS"] = {"MAX_ENTRIES": LOCAL_MAX_ENTRIES}
        self.local = LocMemCache(f"shopops-fallback:{location}", local)

    def ping(self) -> str | None:
        """Why Redis does not answer a PING now (within the socket timeouts), or None when it does."""
        try:
            self._cache.get_client(write=True).ping()
        except RedisError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def _either(self, name: str, *args, **kwargs):
        state = self.state
        if not state.skipping():
            try:
                result = getattr(super(), name)(*args, **kwargs)
            except RedisError as exc:
                state.failed(exc)
            else:
                state.answered()
                return result
        state.count_local()
        return getattr(self.local, name)(*args, **kwargs)

    # Every operation BaseCache does not build from others (get_or_set, decr, the versions and the async forms do).

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._either("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._either("delete", key, version)

    def get_many(self, keys, version=None):
        return self._either("get_many", list(keys), version)  # a generator would be spent if Redis fails

    def has_key(self, key, version=None):
        return self._either("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._either("incr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._either("delete_many", list(keys), version)

    def clear(self):
        return self._either("clear")
