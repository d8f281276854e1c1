"""HTTP with a sales channel's store: the outbound policy of ``shopops.outbound_http`` for one channel.

- The store URL is the merchant's input, so before every request it is checked like a webhook endpoint
  (``shopops.webhooks.addresses``): https only, and no name that is or resolves to a private, loopback, link-local
  or otherwise internal address (unless ``WEBHOOKS_ALLOW_PRIVATE_URLS``; ``DEBUG`` allows http). The request then
  goes to the address that was checked (its certificate checked against the store's name), so a second DNS answer
  cannot send it to an internal host. A refused address is ``channel_address_refused`` with nothing sent; so is a
  link (Shopify's next page) to another host than the store's, which would otherwise receive the credentials.
- Timeouts ``CHANNEL_CONNECT_TIMEOUT`` and ``CHANNEL_READ_TIMEOUT``; up to ``CHANNEL_MAX_ATTEMPTS`` attempts with
  backoff and full jitter on a request that never left, a timeout, a 429 (its Retry-After honoured when within
  ``CHANNEL_MAX_BACKOFF``) or a 5xx, for a call that is safe to repeat (a read, setting an absolute value); a write
  that is not (a note, a fulfilment) is sent once and a lost answer is ``channel_outcome_unknown``.
- A circuit breaker per channel: ``CHANNEL_CIRCUIT_FAILURES`` transient failures in a row open it for
  ``CHANNEL_CIRCUIT_SECONDS``; the channel shows as failing since the first failure. A 401 or 403 marks it failing
  with "The store rejected the channel's credentials"; an answer marks it connected. A paused channel keeps its
  status (the merchant paused it).
- Every attempt is a ``ChannelHttpLog`` row (bodies redacted: the channel's credentials and any secret key's
  value replaced) and one line on the ``orders.channel_http`` logger; request headers (where the credentials
  travel) are never stored.
"""

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.errors import (
    CHANNEL_ADDRESS_REFUSED,
    CHANNEL_BAD_RESPONSE,
    CHANNEL_CREDENTIALS_REJECTED,
    CHANNEL_OUTCOME_UNKNOWN,
    CHANNEL_REFUSED,
    CHANNEL_UNAVAILABLE,
)
from orders.models import Channel, ChannelHttpLog, ConnectionStatus
from shopops import outbound_http
from shopops.integrations import outside_transaction
from shopops.outbound_http import Exchange, NoAnswer, NotSent, redact, redact_url
from shopops.webhooks import addresses

logger = logging.getLogger("orders.channel_http")

#: How the client waits between attempts; the tests replace it to record the waits instead of sleeping.
sleep = time.sleep

REJECTED_MESSAGE = "The store rejected the channel's credentials"
_ERRORS = outbound_http.Errors(refused=CHANNEL_REFUSED, unavailable=CHANNEL_UNAVAILABLE,
                               outcome_unknown=CHANNEL_OUTCOME_UNKNOWN)  # fmt: skip


def _live(channel: Channel):
    """The channel's row, for a status change that leaves a paused channel paused."""
    return Channel.objects.filter(pk=channel.pk)


def breaker_check(channel: Channel, *, now: datetime | None = None) -> None:
    """Fail fast (``channel_unavailable``) while the channel's circuit is open."""
    now = now or timezone.now()
    until = _live(channel).values_list("circuit_open_until", flat=True).first()
    if until is not None and until > now:
        wait = max(1, int((until - now).total_seconds()))
        raise CHANNEL_UNAVAILABLE(f"{channel.name}: the store failed {settings.CHANNEL_CIRCUIT_FAILURES} times in a "
                                  f"row; calls are paused for {wait} s.",
                                  {"retry_after": wait, "circuit_open": True})  # fmt: skip


def breaker_failure(channel: Channel, error: str, *, now: datetime | None = None) -> None:
    """Count a transient failure; the threshold reached opens the circuit. The channel shows as failing."""
    now = now or timezone.now()
    rows = _live(channel)
    rows.update(consecutive_failures=F("consecutive_failures") + 1)
    mark_failing(channel, error, now=now)
    rows.filter(consecutive_failures__gte=settings.CHANNEL_CIRCUIT_FAILURES).update(
        circuit_open_until=now + timedelta(seconds=settings.CHANNEL_CIRCUIT_SECONDS)
    )


def breaker_success(channel: Channel) -> None:
    """The store answered: the failure count starts again and the circuit closes."""
    _live(channel).exclude(consecutive_failures=0, circuit_open_until=None).update(
        consecutive_failures=0, circuit_open_until=None
    )


def mark_connected(channel: Channel, message: str = "") -> None:
    _live(channel).exclude(connection_status=ConnectionStatus.PAUSED).update(
        connection_status=ConnectionStatus.CONNECTED, status_message=message[:500], failing_since=None
    )


def mark_connected_after_failure(channel: Channel) -> None:
    """A 2xx from the store: a channel failing or not yet checked is connected (a connected one keeps its
    message, a paused one stays paused)."""
    _live(channel).filter(connection_status__in=[ConnectionStatus.FAILING, ConnectionStatus.UNVERIFIED]).update(
        connection_status=ConnectionStatus.CONNECTED, status_message="", failing_since=None
    )


def mark_failing(channel: Channel, message: str, *, now: datetime | None = None) -> None:
    """The channel fails (since its first failure, kept while it goes on failing)."""
    _live(channel).exclude(connection_status=ConnectionStatus.PAUSED).update(
        connection_status=ConnectionStatus.FAILING, status_message=message[:500],
        failing_since=Coalesce("failing_since", now or timezone.now()))  # fmt: skip


def secret_values(channel: Channel) -> list[str]:
    return outbound_http.secret_strings(channel.credentials)


def target(channel: Channel, url: str, hosts: tuple[str, ...] = ()) -> addresses.Target:
    """``url`` checked (``channel_address_refused`` when it may not be called): on the store's own host (or one of
    ``hosts``, the fixed hosts of a marketplace's API), and resolving to public addresses only."""
    allowed = tuple(hosts) or ((urlsplit(channel.store_url).hostname or "").lower(),)
    host = (urlsplit(url).hostname or "").lower()
    if not host or host not in allowed:
        raise CHANNEL_ADDRESS_REFUSED(f"{redact_url(url, secret_values(channel))} is not on the store's host "
                                      f"{allowed[0] or '(no store URL)'}.", {"url": redact_url(url, [])})  # fmt: skip
    try:
        return addresses.resolve(url)
    except addresses.UnsafeURL as exc:
        raise CHANNEL_ADDRESS_REFUSED(
            f"The store URL may not be called: {exc}", {"store_url": channel.store_url}
        ) from exc


class ChannelClient:
    """httpx with the policy, for one channel: ``get_json`` answers the JSON and the response's headers."""

    def __init__(self, channel: Channel, *, operation: str, transport: httpx.BaseTransport | None = None):
        self.channel, self.operation = channel, operation
        self._http = httpx.Client(
            timeout=httpx.Timeout(settings.CHANNEL_READ_TIMEOUT, connect=settings.CHANNEL_CONNECT_TIMEOUT),
            transport=transport, follow_redirects=False, trust_env=False,
        )  # fmt: skip

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def get(self, url: str, *, headers: dict | None = None, params=None, hosts: tuple[str, ...] = ()) -> Exchange:
        """GET ``url`` (with ``params``) from the store: its 2xx answer, or a domain error."""
        return self.request("GET", url, headers=headers, params=params, hosts=hosts)

    def request(self, method: str, url: str, *, headers: dict | None = None, params=None, form: dict | None = None,
                json_body: Any = None, hosts: tuple[str, ...] = (), idempotent: bool = True,
                refusals: bool = False) -> Exchange:  # fmt: skip
        """Send to the store: its 2xx answer, or a domain error. ``idempotent``: safe to repeat after a lost answer
        (reads, token requests, setting an absolute value); a write that is not is never repeated here and fails
        with ``channel_outcome_unknown``. ``refusals``: a 4xx refusal is answered (its body read by the caller)."""
        channel = self.channel
        full = str(httpx.URL(url, params=params)) if params else url
        checked = target(channel, full, hosts)
        extensions = {"sni_hostname": checked.host} if checked.scheme == "https" else {}
        request = self._http.build_request(method, checked.connect_url, extensions=extensions, data=form,
                                           json=json_body,
                                           headers={**(headers or {}), "Host": checked.host_header})  # fmt: skip
        body = request.content.decode("utf-8", "replace") if request.content else ""

        def send() -> Exchange:
            try:
                response = self._http.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol) as exc:
                raise NotSent(type(exc).__name__) from exc
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise NoAnswer(type(exc).__name__) from exc
            return Exchange(response.status_code, response.content, response.headers)

        exchange = perform(channel, operation=self.operation, method=method, url=full, send=send, request_body=body,
                           idempotent=idempotent, refusals=refusals)  # fmt: skip
        if not 200 <= exchange.status_code < 300 and not (refusals and 400 <= exchange.status_code < 500):
            where = exchange.headers.get("location", "")
            raise CHANNEL_BAD_RESPONSE(f"{channel.name}: the store answered {exchange.status_code}"
                                       f"{' (to ' + redact_url(where, []) + ')' if where else ''}; check the store "
                                       "URL.", {"status": exchange.status_code})  # fmt: skip
        mark_connected_after_failure(channel)
        return exchange

    def get_json(self, url: str, **kwargs) -> tuple[Any, Exchange]:
        exchange = self.get(url, **kwargs)
        return read_json(exchange, self.channel), exchange

    def request_json(self, method: str, url: str, **kwargs) -> tuple[Any, Exchange]:
        exchange = self.request(method, url, **kwargs)
        return read_json(exchange, self.channel), exchange


def perform(channel: Channel, *, operation: str, method: str, url: str, send, request_body: str = "",
            idempotent: bool = True, refusals: bool = False) -> Exchange:  # fmt: skip
    outside_transaction(f"{operation} with the channel {channel.name}")
    secrets = secret_values(channel)
    name = f"{channel.name} ({urlsplit(url).hostname})"

    def log(attempt: int, started: float, *, exchange: Exchange | None = None, error: str = "") -> None:
        duration = int((time.monotonic() - started) * 1000)
        status = exchange.status_code if exchange is not None else None
        ChannelHttpLog.objects.create(
            merchant_id=channel.merchant_id, channel=channel, operation=operation, method=method,
            url=redact_url(url, secrets), attempt=attempt, status_code=status, duration_ms=duration,
            error=error[:300], request_body=redact(request_body, secrets),
            response_body=redact(exchange.text(), secrets) if exchange is not None else "",
        )  # fmt: skip
        logger.info("%s %s %s -> %s in %d ms (attempt %d)", channel.kind, method, redact_url(url, secrets),
                    status or error, duration, attempt)  # fmt: skip

    def rejected(code: int, message: str) -> Exception:
        mark_failing(channel, f"{REJECTED_MESSAGE} (HTTP {code}{': ' + message if message else ''}).")
        return CHANNEL_CREDENTIALS_REJECTED(f"{REJECTED_MESSAGE} (HTTP {code}{': ' + message if message else ''}).",
                                            {"status": code, "service_message": message})  # fmt: skip

    hooks = outbound_http.Hooks(
        log=log,
        sleep=lambda seconds: sleep(seconds),  # looked up at each wait: the tests replace ``sleep``
        check=lambda: breaker_check(channel),
        failure=lambda error: breaker_failure(channel, error),
        success=lambda: breaker_success(channel),  # an answer, whatever it says: the store is up
        rejected=rejected,
    )
    return outbound_http.send_with_policy(
        name=name, send=send, idempotent=idempotent, answer_refusals=refusals, attempts=settings.CHANNEL_MAX_ATTEMPTS,
        max_backoff=settings.CHANNEL_MAX_BACKOFF, secrets=secrets, hooks=hooks, errors=_ERRORS,
        started_clock=time.monotonic,
    )  # fmt: skip


def read_json(exchange: Exchange, channel: Channel) -> Any:
    """The JSON of a 2xx answer; ``channel_bad_response`` for HTML (a login page), an empty body or broken JSON."""
    try:
        if not exchange.content.strip():
            raise ValueError("an empty body")
        return json.loads(exchange.content)
    except ValueError as exc:
        kind = "an empty body" if not exchange.content.strip() else (
            "an HTML page" if exchange.content.lstrip()[:1] == b"<" else "malformed JSON")  # fmt: skip
        raise CHANNEL_BAD_RESPONSE(f"{channel.name}: the store answered {exchange.status_code} with {kind}.",
                                   {"status": exchange.status_code}) from exc  # fmt: skip
