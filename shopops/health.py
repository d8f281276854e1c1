"""``/healthz``: the database and, when one is configured, the Celery broker."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means unhealthy
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    from shopops.celery import app

    try:
        with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # any transport error means unhealthy
        return f"{type(exc).__name__}: {exc}"
    return None


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _check_database()}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _check_broker()
    failed = {name: error for name, error in checks.items() if error}
    body = {"status": "ok" if not failed else "unavailable", "checks": {n: e or "ok" for n, e in checks.items()}}
    return JsonResponse(body, status=503 if failed else 200)
