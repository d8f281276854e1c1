"""HTTP with courier services: one policy for every adapter.

- Timeouts: ``COURIER_CONNECT_TIMEOUT`` to connect, ``COURIER_READ_TIMEOUT`` for the answer.
- Retries: up to ``COURIER_MAX_ATTEMPTS`` attempts, with exponential backoff and full jitter (capped at
  ``COURIER_MAX_BACKOFF``, or the service's Retry-After when it gives one and it is within the cap), only on
  transient failures: a connection that could not be made (the request never left: any call), and, for an
  idempotent call (a read, or a write the service deduplicates), a timeout, a 429 or a 5xx. A call that may have
  acted and lost its answer (a booking that timed out) is never repeated here: it fails with
  ``courier_outcome_unknown`` and the caller looks it up at the service before any second attempt.
- A circuit breaker per account: ``COURIER_CIRCUIT_FAILURES`` transient failures in a row open it for
  ``COURIER_CIRCUIT_SECONDS``; while open, calls fail at once (``courier_unavailable``) without reaching the
  service, and the admin shows the account failing since the first failure. The state is on the account's row,
  updated with single UPDATE statements (no lock is held while a call runs), so every process shares it.
- A log: every attempt is a ``CourierHttpLog`` row (method, URL, status, duration, our reference, the bodies
  redacted: credentials, tokens and secrets replaced wherever they appear) and one line on the
  ``shipping.courier_http`` logger with no body at all.
- Answers: 2xx is read (JSON by default; HTML, an empty body or broken JSON is ``courier_bad_response``); 401 and
  403 are ``courier_credentials_rejected`` (the account shows it); another 4xx is ``courier_refused`` with the
  service's own message and field errors in ``details.service_errors``.

``perform`` holds the policy over any transport (EasyPost's SDK uses requests); ``CourierClient`` is the httpx
transport most adapters use.
"""

import json
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from shipping.errors import (
    COURIER_BAD_RESPONSE,
    COURIER_CREDENTIALS_REJECTED,
    COURIER_OUTCOME_UNKNOWN,
    COURIER_REFUSED,
    COURIER_UNAVAILABLE,
)
from shipping.models import AccountHealth, CourierAccount, CourierHttpLog
from shopops import outbound_http
from shopops.errors import DomainError
from shopops.integrations import outside_transaction
from shopops.outbound_http import (  # noqa: F401  (re-exported: the adapters use them as http.<name>)
    LOG_BODY_LIMIT,
    MIN_SECRET_LENGTH,
    REDACTED,
    SECRET_KEYS,
    Exchange,
    NoAnswer,
    NotSent,
    redact,
    redact_url,
    retry_after_seconds,
)

logger = logging.getLogger("shipping.courier_http")

#: The ``CourierCall`` being made (set by the call machinery), so the log links each exchange to its call.
current_call: ContextVar = ContextVar("current_courier_call", default=None)

#: How the client waits between attempts; the tests replace it to record the waits instead of sleeping.
sleep = time.sleep

_ERRORS = outbound_http.Errors(refused=COURIER_REFUSED, unavailable=COURIER_UNAVAILABLE,
                               outcome_unknown=COURIER_OUTCOME_UNKNOWN)  # fmt: skip


def secret_values(account: CourierAccount) -> list[str]:
    """Every secret of the account that may turn up in a body: its credentials and its session token."""
    return outbound_http.secret_strings(account.credentials, account.session)


# -- the circuit breaker ---------------------------------------------------------------------------------------


def breaker_check(account: CourierAccount, *, now: datetime | None = None) -> None:
    """Fail fast (``courier_unavailable``) while the account's circuit is open."""
    now = now or timezone.now()
    until = CourierAccount.objects.filter(pk=account.pk).values_list("circuit_open_until", flat=True).first()
    if until is not None and until > now:
        wait = max(1, int((until - now).total_seconds()))
        raise COURIER_UNAVAILABLE(
            f"{account.name}: {account.get_service_display()} failed {settings.COURIER_CIRCUIT_FAILURES} times in a "
            f"row; calls are paused for {wait} s.", {"retry_after": wait, "circuit_open": True})  # fmt: skip


def breaker_failure(account: CourierAccount, error: str, *, now: datetime | None = None) -> None:
    """Count a transient failure; the threshold reached opens the circuit. The account shows as failing."""
    now = now or timezone.now()
    accounts = CourierAccount.objects.filter(pk=account.pk)
    accounts.update(consecutive_failures=F("consecutive_failures") + 1, health=AccountHealth.FAILING,
                    health_message=error[:500], failing_since=Coalesce("failing_since", now))  # fmt: skip
    accounts.filter(consecutive_failures__gte=settings.COURIER_CIRCUIT_FAILURES).update(
        circuit_open_until=now + timedelta(seconds=settings.COURIER_CIRCUIT_SECONDS)
    )


def breaker_success(account: CourierAccount) -> None:
    """The service answered: the failure count starts again and the circuit closes."""
    CourierAccount.objects.filter(pk=account.pk).exclude(
        consecutive_failures=0, circuit_open_until=None, health=AccountHealth.CONNECTED
    ).update(consecutive_failures=0, circuit_open_until=None, failing_since=None, health=AccountHealth.CONNECTED,
             health_message="")  # fmt: skip


def credentials_rejected(account: CourierAccount, message: str) -> None:
    CourierAccount.objects.filter(pk=account.pk).update(
        health=AccountHealth.REJECTED, health_message=message[:500],
        failing_since=Coalesce("failing_since", timezone.now()))  # fmt: skip


# -- the policy --------------------------------------------------------------------------------------------------


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``shopops.outbound_http.backoff`` capped at
    ``COURIER_MAX_BACKOFF``)."""
    return outbound_http.backoff(attempt, retry_after, max_backoff=settings.COURIER_MAX_BACKOFF)


def service_message(exchange: Exchange, secrets: list[str] = ()) -> tuple[str, Any]:
    """The service's own reason in an error answer, with the account's secrets replaced."""
    return outbound_http.service_message(exchange, secrets)


def _log(account, *, operation, reference, call, method, url, attempt, started, exchange=None, error="",
         request_body="", secrets) -> None:  # fmt: skip
    duration = int((time.monotonic() - started) * 1000)
    status = exchange.status_code if exchange is not None else None
    CourierHttpLog.objects.create(
        merchant_id=account.merchant_id, account=account, call=call, operation=operation, reference=reference[:100],
        method=method, url=redact_url(url, secrets), attempt=attempt, status_code=status, duration_ms=duration,
        error=error[:300], request_body=redact(request_body, secrets),
        response_body=redact(exchange.text(), secrets) if exchange is not None else "",
    )  # fmt: skip
    logger.info("%s %s %s -> %s in %d ms (attempt %d)", account.service, method, redact_url(url, secrets),
                status or error, duration, attempt)  # fmt: skip


def perform(account: CourierAccount, *, operation: str, method: str, url: str, send: Callable[[], Exchange],
            idempotent: bool, request_body: str = "", reference: str = "", call=None,
            account_auth: bool = True) -> Exchange:  # fmt: skip
    """Send with the policy (see the module's docstring): the service's 2xx answer, or a domain error.

    ``account_auth``: whether the request goes to the service itself, with the account's credentials. A request
    elsewhere (a signed label link on another host) says nothing of the credentials nor of the service's health: a
    401 or 403 there is a refusal like another 4xx, and its failures neither open nor close the circuit."""
    outside_transaction(f"{operation} with {account.name}")
    secrets = secret_values(account)
    name = f"{account.get_service_display()} ({account.name})"

    def log(attempt: int, started: float, *, exchange: Exchange | None = None, error: str = "") -> None:
        _log(account, operation=operation, reference=reference, call=call, method=method, url=url, attempt=attempt,
             started=started, request_body=request_body, secrets=secrets, exchange=exchange, error=error)  # fmt: skip

    def rejected(code: int, message: str) -> Exception:
        credentials_rejected(account, f"{name} rejected the credentials: {message or code}.")
        return COURIER_CREDENTIALS_REJECTED(
            f"{name} rejected the account's credentials ({code}{': ' + message if message else ''}).",
            {"status": code, "service_message": message})  # fmt: skip

    hooks = outbound_http.Hooks(
        log=log,
        sleep=lambda seconds: sleep(seconds),  # looked up at each wait: the tests replace ``sleep``
        check=(lambda: breaker_check(account)) if account_auth else None,
        failure=(lambda error: breaker_failure(account, error)) if account_auth else None,
        success=(lambda: breaker_success(account)) if account_auth else None,
        rejected=rejected if account_auth else None,
    )
    return outbound_http.send_with_policy(
        name=name, send=send, idempotent=idempotent, attempts=settings.COURIER_MAX_ATTEMPTS,
        max_backoff=settings.COURIER_MAX_BACKOFF, secrets=secrets, hooks=hooks, errors=_ERRORS,
        started_clock=time.monotonic,
    )  # fmt: skip


def read_json(exchange: Exchange, account: CourierAccount, *, idempotent: bool = True) -> Any:
    """The JSON of a 2xx answer; ``courier_bad_response`` for HTML, an empty body or broken JSON (for a write
    that may have acted, ``courier_outcome_unknown``: the service said yes but what it did cannot be read)."""
    try:
        if not exchange.content.strip():
            raise ValueError("an empty body")
        return json.loads(exchange.content)
    except ValueError as exc:
        kind = "an empty body" if not exchange.content.strip() else (
            "an HTML page" if exchange.content.lstrip()[:1] == b"<" else "malformed JSON")  # fmt: skip
        name = f"{account.get_service_display()} ({account.name})"
        if not idempotent:
            raise COURIER_OUTCOME_UNKNOWN(f"{name} answered {exchange.status_code} with {kind}; it may have acted "
                                          "on the request.", {"status": exchange.status_code}) from exc  # fmt: skip
        raise COURIER_BAD_RESPONSE(f"{name} answered {exchange.status_code} with {kind}.",
                                   {"status": exchange.status_code}) from exc  # fmt: skip


def base_url(account: CourierAccount) -> str:
    return settings.COURIER_BASE_URLS[f"{account.service}.{account.environment}"]


class CourierClient:
    """httpx with the policy, for one account: ``request`` answers the JSON (or the raw ``Exchange`` with
    ``raw=True``). Adapters pass the service's auth headers; ``reference`` and ``call`` go to the log."""

    def __init__(self, account: CourierAccount, *, operation: str, reference: str = "", call=None,
                 transport: httpx.BaseTransport | None = None):  # fmt: skip
        self.account, self.operation, self.reference = account, operation, reference
        self.call = call if call is not None else current_call.get()
        self.base_url = base_url(account)
        self._http = httpx.Client(
            timeout=httpx.Timeout(settings.COURIER_READ_TIMEOUT, connect=settings.COURIER_CONNECT_TIMEOUT),
            transport=transport, follow_redirects=False,
        )  # fmt: skip

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, idempotent: bool, headers: dict | None = None, params=None,
                json_body: Any = None, form: dict | None = None, raw: bool = False,
                operation: str = "") -> Any:  # fmt: skip
        url = self.url(path)
        request = self._http.build_request(method, url, headers=headers, params=params, json=json_body, data=form)
        body = request.content.decode("utf-8", "replace") if request.content else ""

        def send() -> Exchange:
            try:
                response = self._http.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol) as exc:
                raise NotSent(type(exc).__name__) from exc
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise NoAnswer(type(exc).__name__) from exc
            return Exchange(response.status_code, response.content, response.headers)

        exchange = perform(self.account, operation=operation or self.operation, method=method, url=str(request.url),
                           send=send, idempotent=idempotent, request_body=body, reference=self.reference,
                           call=self.call, account_auth=url.startswith(f"{self.base_url}/"))  # fmt: skip
        return exchange if raw else read_json(exchange, self.account, idempotent=idempotent)


def is_outcome_unknown(exc: BaseException) -> bool:
    return isinstance(exc, DomainError) and exc.code == COURIER_OUTCOME_UNKNOWN.code


#: A session the service issued is renewed this long before it expires.
SESSION_MARGIN = timedelta(hours=1)


def account_session(account: CourierAccount, *, login: Callable[[], tuple[dict, datetime]],
                    refused: dict | None = None, now: datetime | None = None) -> dict:  # fmt: skip
    """The account's session with its service (e.g. Shiprocket's bearer token): the stored one while it is valid,
    else one new login for every process and thread at once (under a named lock, the others wait and reuse it).
    ``refused``: the session the service just refused (401), renewed unless another process renewed it already.
    ``login()`` answers the session and when it expires."""
    from shopops.locks import named_lock

    def usable() -> bool:
        account.refresh_from_db(fields=["session", "session_expires_at"])
        moment = now or timezone.now()
        return bool(account.session) and account.session != refused and (
            account.session_expires_at is None or account.session_expires_at > moment + SESSION_MARGIN)  # fmt: skip

    if usable():
        return account.session
    with named_lock(f"courier-account-session:{account.pk}"):
        if usable():
            return account.session
        session, expires_at = login()
        CourierAccount.objects.filter(pk=account.pk).update(session=session, session_expires_at=expires_at)
        account.refresh_from_db(fields=["session", "session_expires_at"])
        return account.session
