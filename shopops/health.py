"""``/healthz``: the state of each dependency, and 503 only when the database is unreachable.

Without the database no request can be served: a load balancer takes the process out of rotation on the 503.
Without the broker (tasks wait to be sent) or the shared cache (throttles count per process, shopops/cache.py)
requests are still served: the answer stays 200 with ``"status": "degraded"`` and the dependency ``"down"``, for
an alert rather than a restart. Each probe is bounded by timeouts: the database by its connect timeout
(``DATABASE_CONNECT_TIMEOUT``, 2 s), the broker by ``PROBE_TIMEOUT`` to connect and to read, the cache by its own
socket timeouts (``settings.CACHES``, 0.5 s each). The broker and the cache are probed in threads while the
database is, so the answer takes as long as the slowest probe.
"""

from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from shopops import dispatch
from shopops.cache import FallbackRedisCache

PROBE_TIMEOUT = 1  # seconds, per network step of the broker and cache probes

OK = {"state": "ok"}
NOT_CONFIGURED = {"state": "not_configured"}


def _down(exc: Exception) -> dict:
    """The error's first line: psycopg adds a hint on the next."""
    first_line = next(iter(str(exc).splitlines()), "")
    return {"state": "down", "reason": f"{type(exc).__name__}: {first_line}"}


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means unreachable
        return _down(exc)
    return OK


def _check_broker() -> dict:
    """Eager Celery (no ``CELERY_BROKER_URL``) has no broker to reach. The counters are this process's since it
    started: the jobs' messages the broker did not take, and those not tried while it was down (shopops/dispatch.py;
    the sweep sends both again)."""
    if not settings.CELERY_BROKER_URL:
        return NOT_CONFIGURED
    from shopops.celery import app

    counters = {"sends_failed": dispatch.STATS["failed"], "sends_skipped": dispatch.STATS["skipped"]}
    # connect_timeout bounds AMQP; a Redis broker takes its own socket timeouts, without which a server that
    # accepts the connection and never answers holds the probe for ever.
    timeouts = {"socket_connect_timeout": PROBE_TIMEOUT, "socket_timeout": PROBE_TIMEOUT}
    try:
        with app.connection_for_write(url=settings.CELERY_BROKER_URL, connect_timeout=PROBE_TIMEOUT,
                                      transport_options=timeouts) as conn:  # fmt: skip
            conn.ensure_connection(max_retries=0)
    except Exception as exc:  # any transport error means unreachable
        return {**_down(exc), **counters}
    return {**OK, **counters}


def _check_cache(cache) -> dict:
    """A local-memory cache has nothing to reach. The counters are this process's since it started."""
    if not isinstance(cache, FallbackRedisCache):
        return NOT_CONFIGURED
    reason = cache.ping()
    counters = {"errors": cache.state.errors, "served_locally": cache.state.served_locally}
    return {"state": "down", "reason": reason, **counters} if reason else {**OK, **counters}


@never_cache
@require_GET
def healthz(request):
    with ThreadPoolExecutor(max_workers=2) as probes:
        broker = probes.submit(_check_broker)
        cache = probes.submit(_check_cache, caches["default"])  # this thread's cache object and connection pool
        checks = {"database": _check_database(), "broker": broker.result(), "cache": cache.result()}
    if checks["database"]["state"] == "down":
        status = "down"
    else:
        status = "degraded" if any(check["state"] == "down" for check in checks.values()) else "ok"
    return JsonResponse({"status": status, "checks": checks}, status=503 if status == "down" else 200)
