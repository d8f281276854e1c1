"""Calls ShopOps makes to other services over HTTP: the part of the policy that does not depend on who is called.

Courier services (``shipping.adapters.http``) and sales channels (``orders.channels.http``) follow one policy:
bounded attempts, exponential backoff with full jitter (or the service's Retry-After when it is within the cap), a
retry only where it is safe (a request that never left, or, for an idempotent call, a timeout, a 429 or a 5xx), a
circuit breaker per account or channel, every attempt logged with its bodies redacted. What differs is where the
state lives (an account's row, a channel's row), how it is logged and what the errors are called: those come in as
callbacks (``Hooks``) and error codes (``Errors``); the loop itself is ``send_with_policy``.
"""

import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.utils import timezone

from shopops.errors import ErrorCode

#: Longest body kept in a log, in characters.
LOG_BODY_LIMIT = 4000
#: Keys whose values are secret wherever they appear in a body or a query string (compared lower-case, without
#: "-" and "_").
SECRET_KEYS = frozenset({"password", "token", "apikey", "apitoken", "key", "secret", "webhooksecret",
                         "authorization", "accesstoken", "refreshtoken", "clientsecret", "restricteddatatoken",
                         # a signed download link's signature (a label on S3) is as good as a password for its life
                         "xamzsignature", "xamzsecuritytoken", "xamzcredential", "signature"})  # fmt: skip
REDACTED = "[redacted]"
#: Shortest credential value searched for in free text (shorter ones would blank out ordinary words).
MIN_SECRET_LENGTH = 6


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


def is_secret_key(name: str) -> bool:
    return re.sub(r"[-_ ]", "", str(name).lower()) in SECRET_KEYS


def secret_strings(*sources: Mapping | None) -> list[str]:
    """Every string value of ``sources`` (credentials, a session) long enough to be searched for in free text,
    longest first (so a secret that contains another is replaced whole)."""
    values = []
    for source in sources:
        for value in (source or {}).values():
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                values.append(value)
    return sorted(set(values), key=len, reverse=True)


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if is_secret_key(k) and v not in (None, "") else _redact_value(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with secret keys' values (in JSON or a form body) and the given secrets replaced, cut to
    ``LOG_BODY_LIMIT`` characters."""
    if not text:
        return ""
    try:
        text = json.dumps(_redact_value(json.loads(text)), ensure_ascii=False)
    except ValueError:
        if "=" in text and "\n" not in text and " " not in text.strip():  # a form body
            pairs = parse_qsl(text, keep_blank_values=True)
            if pairs:
                text = urlencode([(k, REDACTED if is_secret_key(k) else v) for k, v in pairs])
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text[:LOG_BODY_LIMIT]


def redact_url(url: str, secrets: list[str]) -> str:
    """The URL without secret query values (Delhivery takes its token as ``?token=``)."""
    parts = urlsplit(url)
    query = urlencode([(k, REDACTED if is_secret_key(k) else v) for k, v in parse_qsl(parts.query, True)])
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    for secret in secrets:
        clean = clean.replace(secret, REDACTED)
    return clean[:500]


def scrub(value: Any, secrets: list[str]) -> Any:
    """``value`` (a service's message or errors) with the secrets replaced, wherever they are."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: REDACTED if is_secret_key(k) else scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return value


def service_message(exchange: Exchange, secrets: list[str] = ()) -> tuple[str, Any]:
    """The service's own reason in an error answer: its message and its field errors, as far as can be read, with
    the secrets replaced (a service may echo them)."""
    message, errors = _service_message(exchange)
    return scrub(message, list(secrets)), scrub(errors, list(secrets))


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


# -- waiting -----------------------------------------------------------------------------------------------------


def backoff(attempt: int, retry_after: float | None = None, *, max_backoff: float) -> float:
    """Seconds to wait before attempt ``attempt + 1``: the service's Retry-After when given, else full jitter
    over an exponential ceiling (0.5 s, 1 s, 2 s, ... up to ``max_backoff``)."""
    if retry_after is not None:
        return retry_after
    return random.uniform(0, min(max_backoff, 0.5 * 2 ** (attempt - 1)))


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


# -- the attempt loop --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Errors:
    """The caller's error codes: a 4xx (``refused``), transient failures to the end (``unavailable``), a write
    that may have acted (``outcome_unknown``)."""

    refused: ErrorCode
    unavailable: ErrorCode
    outcome_unknown: ErrorCode


@dataclass(frozen=True)
class Hooks:
    """What the loop does besides sending, by the caller's rules.

    - ``log(attempt, started, exchange=None, error="")``: one attempt, answered or not.
    - ``check()``: before each attempt; raises while the circuit is open. ``failure(message)`` counts a transient
      failure, ``success()`` an answer. None: the request says nothing of the service's health (the breaker is
      left alone).
    - ``rejected(code, message)``: a 401 or 403 from the service with the caller's credentials; records it and
      answers the error to raise. None: such an answer is a refusal like another 4xx.
    - ``sleep(seconds)``: between attempts.
    """

    log: Callable[..., None]
    sleep: Callable[[float], None]
    check: Callable[[], None] | None = None
    failure: Callable[[str], None] | None = None
    success: Callable[[], None] | None = None
    rejected: Callable[[int, str], Exception] | None = None


def send_with_policy(*, name: str, send: Callable[[], Exchange], idempotent: bool, attempts: int,
                     max_backoff: float, secrets: list[str], hooks: Hooks, errors: Errors,
                     started_clock: Callable[[], float], answer_refusals: bool = False) -> Exchange:  # fmt: skip
    """Send with the policy (see the module's docstring): the service's 2xx answer, or one of ``errors``.
    ``name`` names the service in messages ("Shiprocket (Main account)"). ``answer_refusals``: a 4xx other than
    401, 403 and 429 is answered, not raised (the caller reads the service's refusal itself)."""
    for attempt in range(1, attempts + 1):
        if hooks.check is not None:
            hooks.check()
        started = started_clock()
        try:
            exchange = send()
        except NotSent as exc:
            hooks.log(attempt, started, error=f"not sent: {exc}")
            if hooks.failure is not None:
                hooks.failure(f"{name} could not be reached: {exc}")
            failure, retry_after, unknown = f"could not be reached ({exc})", None, False
        except NoAnswer as exc:
            hooks.log(attempt, started, error=f"no answer: {exc}")
            if hooks.failure is not None:
                hooks.failure(f"{name} did not answer: {exc}")
            failure, retry_after, unknown = f"did not answer in time ({exc})", None, True
        else:
            hooks.log(attempt, started, exchange=exchange)
            code = exchange.status_code
            if code == 429 or code >= 500:
                if hooks.failure is not None:
                    hooks.failure(f"{name} answered {code}.")
                retry_after = retry_after_seconds(exchange.headers) if code == 429 else None
                said = service_message(exchange, secrets)[0] if code >= 500 else ""
                failure, unknown = f"answered {code}" + (f" ({said})" if said else ""), code >= 500
            else:
                if hooks.success is not None:
                    hooks.success()
                if code in (401, 403) and hooks.rejected is not None:
                    message, _errors = service_message(exchange, secrets)
                    raise hooks.rejected(code, message)
                if code >= 400 and not answer_refusals:
                    message, service_errors = service_message(exchange, secrets)
                    raise errors.refused(f"{name} refused: {message or f'HTTP {code}'}.", {
                        "status": code, "service_message": message, "service_errors": service_errors})  # fmt: skip
                return exchange
        transient_ok = idempotent or not unknown  # a request that never left, or a 429, did nothing at the service
        if attempt == attempts or not transient_ok or (retry_after or 0) > max_backoff:
            break
        hooks.sleep(backoff(attempt, retry_after, max_backoff=max_backoff))
    details = {"attempts": attempt}
    if retry_after is not None:
        details["retry_after"] = int(retry_after)
    if unknown and not idempotent:
        raise errors.outcome_unknown(f"{name} {failure}; it may have acted on the request.", details)
    raise errors.unavailable(f"{name} {failure} after {attempt} attempt{'s' if attempt > 1 else ''}.", details)
