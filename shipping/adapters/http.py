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
import random
import re
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
from shopops.errors import DomainError
from shopops.integrations import outside_transaction

logger = logging.getLogger("shipping.courier_http")

#: Longest body kept in the log, in characters.
LOG_BODY_LIMIT = 4000
#: Keys whose values are secret wherever they appear in a body or a query string (compared lower-case, without
#: "-" and "_").
SECRET_KEYS = frozenset({"password", "token", "apikey", "apitoken", "key", "secret", "webhooksecret",
                         "authorization", "accesstoken", "refreshtoken", "clientsecret",
                         # a signed download link's signature (a label on S3) is as good as a password for its life
                         "xamzsignature", "xamzsecuritytoken", "xamzcredential", "signature"})  # fmt: skip
REDACTED = "[redacted]"
#: Shortest credential value searched for in free text (shorter ones would blank out ordinary words).
MIN_SECRET_LENGTH = 6

#: The ``CourierCall`` being made (set by the call machinery), so the log links each exchange to its call.
current_call: ContextVar = ContextVar("current_courier_call", default=None)

#: How the client waits between attempts; the tests replace it to record the waits instead of sleeping.
sleep = time.sleep


@dataclass
class Exchange:
    """One answer of a service, whatever the transport."""

    status_code: int
    content: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class NotSent(Exception):
    """The request never reached the service (connection refused, connect timeout, DNS): safe to send again."""


class NoAnswer(Exception):
    """The request may have reached the service but no answer came (read timeout, dropped connection)."""


# -- redaction -----------------------------------------------------------------------------------------------


def _is_secret_key(name: str) -> bool:
    return re.sub(r"[-_ ]", "", str(name).lower()) in SECRET_KEYS


def secret_values(account: CourierAccount) -> list[str]:
    """Every secret of the account that may turn up in a body: its credentials and its session token."""
    values = []
    for source in (account.credentials or {}, account.session or {}):
        for value in source.values():
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                values.append(value)
    return sorted(set(values), key=len, reverse=True)


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(k) and v not in (None, "") else _redact_value(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with secret keys' values (in JSON or a form body) and the account's secrets replaced, cut to
    ``LOG_BODY_LIMIT`` characters."""
    if not text:
        return ""
    try:
        text = json.dumps(_redact_value(json.loads(text)), ensure_ascii=False)
    except ValueError:
        if "=" in text and "\n" not in text and " " not in text.strip():  # a form body
            pairs = parse_qsl(text, keep_blank_values=True)
            if pairs:
                text = urlencode([(k, REDACTED if _is_secret_key(k) else v) for k, v in pairs])
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text[:LOG_BODY_LIMIT]


def redact_url(url: str, secrets: list[str]) -> str:
    """The URL without secret query values (Delhivery takes its token as ``?token=``)."""
    parts = urlsplit(url)
    query = urlencode([(k, REDACTED if _is_secret_key(k) else v) for k, v in parse_qsl(parts.query, True)])
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    for secret in secrets:
        clean = clean.replace(secret, REDACTED)
    return clean[:500]


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
    """Seconds to wait before attempt ``attempt + 1``: the service's Retry-After when given, else full jitter
    over an exponential ceiling (0.5 s, 1 s, 2 s, ... up to ``COURIER_MAX_BACKOFF``)."""
    if retry_after is not None:
        return retry_after
    return random.uniform(0, min(settings.COURIER_MAX_BACKOFF, 0.5 * 2 ** (attempt - 1)))


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or timezone.now())).total_seconds())


def _scrub(value: Any, secrets: list[str]) -> Any:
    """``value`` (a service's message or errors) with the account's secrets replaced, wherever they are."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(k) else _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def service_message(exchange: Exchange, secrets: list[str] = ()) -> tuple[str, Any]:
    """The service's own reason in an error answer: its message and its field errors, as far as can be read, with
    the account's secrets replaced (a service may echo them)."""
    message, errors = _service_message(exchange)
    return _scrub(message, list(secrets)), _scrub(errors, list(secrets))


def _service_message(exchange: Exchange) -> tuple[str, Any]:
    try:
        body = json.loads(exchange.content or b"null")
    except ValueError:
        return exchange.text().strip()[:200], {}
    if isinstance(body, dict):
        message = (body.get("message") or body.get("error") or body.get("rmk") or body.get("detail")
                   or body.get("remark") or "")  # fmt: skip
        if isinstance(message, dict):  # EasyPost: {"error": {"code", "message", "errors"}}
            return str(message.get("message") or message.get("code") or ""), message.get("errors") or {}
        # No message key: the body is the reason (Delhivery answers {"pickup_location": "Invalid ..."}).
        return str(message)[:300], body.get("errors") or ({} if message else body)
    return "", body


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
    attempts = settings.COURIER_MAX_ATTEMPTS
    for attempt in range(1, attempts + 1):
        if account_auth:
            breaker_check(account)
        started = time.monotonic()
        log = {
            "operation": operation,
            "reference": reference,
            "call": call,
            "method": method,
            "url": url,
            "attempt": attempt,
            "started": started,
            "request_body": request_body,
            "secrets": secrets,
        }
        try:
            exchange = send()
        except NotSent as exc:
            _log(account, **log, error=f"not sent: {exc}")
            if account_auth:
                breaker_failure(account, f"{name} could not be reached: {exc}")
            failure, retry_after, unknown = f"could not be reached ({exc})", None, False
        except NoAnswer as exc:
            _log(account, **log, error=f"no answer: {exc}")
            if account_auth:
                breaker_failure(account, f"{name} did not answer: {exc}")
            failure, retry_after, unknown = f"did not answer in time ({exc})", None, True
        else:
            _log(account, **log, exchange=exchange)
            code = exchange.status_code
            if code == 429 or code >= 500:
                if account_auth:
                    breaker_failure(account, f"{name} answered {code}.")
                retry_after = retry_after_seconds(exchange.headers) if code == 429 else None
                said = service_message(exchange, secrets)[0] if code >= 500 else ""
                failure, unknown = f"answered {code}" + (f" ({said})" if said else ""), code >= 500
            else:
                if account_auth:
                    breaker_success(account)
                if code in (401, 403) and account_auth:
                    message, errors = service_message(exchange, secrets)
                    credentials_rejected(account, f"{name} rejected the credentials: {message or code}.")
                    raise COURIER_CREDENTIALS_REJECTED(
                        f"{name} rejected the account's credentials ({code}{': ' + message if message else ''}).",
                        {"status": code, "service_message": message})  # fmt: skip
                if code >= 400:
                    message, errors = service_message(exchange, secrets)
                    raise COURIER_REFUSED(f"{name} refused: {message or f'HTTP {code}'}.", {
                        "status": code, "service_message": message, "service_errors": errors})  # fmt: skip
                return exchange
        transient_ok = idempotent or not unknown  # a request that never left, or a 429, did nothing at the service
        if attempt == attempts or not transient_ok or (retry_after or 0) > settings.COURIER_MAX_BACKOFF:
            break
        sleep(backoff(attempt, retry_after))
    details = {"attempts": attempt}
    if retry_after is not None:
        details["retry_after"] = int(retry_after)
    if unknown and not idempotent:
        raise COURIER_OUTCOME_UNKNOWN(f"{name} {failure}; it may have acted on the request.", details)
    raise COURIER_UNAVAILABLE(f"{name} {failure} after {attempt} attempt{'s' if attempt > 1 else ''}.", details)


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
