"""What ShopOps tells a store (a shipment's AWB, a SKU's stock level), as pure request builders and answer readers.

No HTTP and no database here: the outbox worker owns the HTTP client (the store URL, authentication, timeouts) and
the row that remembers how far a write-back got. Each channel module (``shopify``, ``woocommerce``, ``magento``,
``amazon``) gives, per operation, a pair of functions:

- ``plan_<op>(data, known) -> Request | None``: the next request to send, given the operation's ``data`` and what
  the answers so far taught (``known``); ``None`` means the write-back is done;
- ``read_<op>(answer, known, data) -> dict``: what an answer taught (ids, an outcome), to merge into ``known``. A
  refusal in the answer's body raises ``WritebackRefused`` (final, in the store's words); a store that asks to come
  back later raises ``WritebackRetry``.

The worker drives the write-back as a small state machine, persisting ``known`` after every answer so a later
attempt resumes where the last one stopped::

    while (request := plan(data, known)) is not None:
        try:
            answer = client.send(request)        # the JSON body of a 2xx or a 4xx answer ({} when it has none)
        except AnswerLost:                        # timeout, connection reset, 5xx: it may or may not have happened
            known |= read(None, known, data)      # the reader forgets what the lost request may have made stale
            persist(known)
            raise                                 # the next attempt starts again from plan(data, known)
        known |= read(answer, known, data)        # WritebackRefused: final; WritebackRetry: try again later
        persist(known)

``send`` hands over the body of every answer the store gave, 4xx included, because stores put their refusals there
(Magento's "The order does not allow a shipment to be created." comes as a 400). Throttling (HTTP 429), 5xx and
authentication failures are the worker's to handle before the reader is called.

The reader also gets ``data``: Shopify's SKU search matches loosely, and the answer is checked against the SKU asked
for.

A lost answer is passed to the reader as ``None``: the request may or may not have taken effect. The reader then
drops what that request could have made stale, so the plan checks again before writing: Shopify's fulfilment asks
for the order's open fulfilment orders again (a fulfilment created by the lost request has closed them, so no
second one is created). Where the store gives no way to check (a WooCommerce order note), the write is repeated,
and this is the only way it can happen twice.

``run`` is the same loop without persistence, for callers that have a ``send`` at hand (the tests use a fake store).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    """One request to a store, relative to the store's URL."""

    method: str  # "GET", "POST", "PUT", "PATCH"
    path: str  # e.g. "/wp-json/wc/v3/orders/727/notes"
    params: dict = field(default_factory=dict)  # the query string
    json: dict | list | None = None
    #: Whether sending it again after a lost answer is harmless (a read, or setting an absolute value).
    idempotent: bool = False


class WritebackRefused(Exception):
    """The store refused the write-back for good; the message is in the store's words. Not retried."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class WritebackRetry(Exception):
    """The store asks to come back later (Shopify's GraphQL throttling); ``retry_after`` in seconds when known."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


#: What ``send`` returns in ``run`` for an answer that was lost (the request may or may not have happened).
LOST = object()

#: Longest write-back ``run`` drives; a plan that never ends is a bug, not a reason to call a store forever.
MAX_STEPS = 10

Plan = Callable[[dict, dict], Request | None]
Read = Callable[[Any, dict, dict], dict]


def run(plan: Plan, read: Read, data: dict, send: Callable[[Request], Any], known: dict | None = None) -> dict:
    """Drive one write-back to its end through ``send``; returns what was learnt (``known``).

    ``send`` returns the answer's JSON body, or ``LOST`` for an answer that never came: the reader is told (``None``)
    and the loop goes on, as a worker's next attempt would.
    """
    known = dict(known or {})
    for _ in range(MAX_STEPS):
        request = plan(data, known)
        if request is None:
            return known
        answer = send(request)
        known |= read(None if answer is LOST else answer, known, data)
    raise RuntimeError(f"write-back not done after {MAX_STEPS} requests: {known!r}")
