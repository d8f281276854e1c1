"""Domain errors: what a service or selector refuses, free of HTTP.

A refusal is a ``DomainError`` with a stable snake_case ``code``, a human ``message`` and ``details``; its
``kind`` says what sort of refusal it is (invalid input, not found, a state conflict, forbidden, gone). Field
errors stay Django's ``ValidationError`` (``{field: [messages]}``), which is the ``invalid`` kind too.

Services, selectors, tasks and imports raise these and nothing from DRF; the API's exception handler
(``shopops/api/exceptions.py``) is the one place that turns a kind into an HTTP status, the admin shows the
message as it is, and batch code records ``error_of(exc)``.

Each app declares its codes once, as ``ErrorCode`` constants in its ``errors.py``, and raises them by calling
the constant: ``raise ORDER_NOT_EDITABLE("Order SO-1 is shipped; ...", {"status": "shipped"})``. The OpenAPI
schema lists every declared code with its kind and meaning.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import InterfaceError, OperationalError

logger = logging.getLogger("shopops.errors")


class ErrorKind(StrEnum):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    GONE = "gone"
    INTERNAL = "internal"


class DomainError(Exception):
    """A refusal with a stable code; raise an app's ``ErrorCode`` rather than this class directly."""

    kind: ErrorKind = ErrorKind.INVALID

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None,
                 kind: ErrorKind | None = None):  # fmt: skip
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        if kind is not None:
            self.kind = kind

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind}, {self.code!r}, {self.message!r})"


#: Every declared code by (code, kind), for the schema and the tests. A code may mean one thing per kind
#: (``invitation_revoked`` is a 409 when resending, a 410 when opening the link).
REGISTRY: dict[tuple[str, "ErrorKind"], "ErrorCode"] = {}


@dataclass(frozen=True)
class ErrorCode:
    """A declared error code: call it with the message (and details) to get the error to raise."""

    code: str
    kind: ErrorKind
    meaning: str

    def __post_init__(self):
        known = REGISTRY.get((self.code, self.kind))
        if known is not None and known.meaning != self.meaning:
            raise ValueError(f"Error code {self.code!r} ({self.kind}) is declared twice with different meanings.")
        REGISTRY[(self.code, self.kind)] = self

    def __call__(self, message: str, details: dict[str, Any] | None = None) -> DomainError:
        return DomainError(self.code, message, details, kind=self.kind)

    def __eq__(self, other) -> bool:  # `exc.code == ORDER_NOT_EDITABLE` reads as it should
        if isinstance(other, str):
            return other == self.code
        if isinstance(other, ErrorCode):
            return (self.code, self.kind, self.meaning) == (other.code, other.kind, other.meaning)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.code, self.kind))

    def __str__(self) -> str:
        return self.code


# Codes that belong to no one app.
#: The database went away (restarted, failing over, out of connections) or refused for a moment (a lock or
#: statement timeout, a serialization failure): not the request's fault and not a refusal. The API answers 503
#: with Retry-After; a job's task retries with backoff.
DATABASE_ERRORS = (OperationalError, InterfaceError)

INVALID = ErrorCode("invalid", ErrorKind.INVALID, "The input has invalid fields; `details` maps each to its messages.")
NOT_FOUND = ErrorCode("not_found", ErrorKind.NOT_FOUND, "No such object of this merchant.")
INTERNAL_ERROR = ErrorCode(
    "internal_error", ErrorKind.INTERNAL, "An item of a batch failed unexpectedly; the error was logged."
)
TRANSITION_NOT_ALLOWED = ErrorCode(
    "transition_not_allowed",
    ErrorKind.CONFLICT,
    "The object's status does not allow this move; `details` names the status and the moves it allows.",
)


def status_phrase(label: str) -> str:
    """A status's label inside a sentence: "Delivered" -> "delivered", "RTO delivered" stays."""
    first = label.split(" ", 1)[0]
    return label if first.isupper() and len(first) > 1 else label[:1].lower() + label[1:]


def state_refusal(*, noun: str, status: str, to_status: str, allowed, labels: Mapping[str, str] | None = None
                  ) -> DomainError:  # fmt: skip
    """The one message for a move a state table does not allow, in words (``noun``: "Order SO-000001"; ``labels``:
    the statuses' labels, the values when not given); ``details`` keep the status values for programs:
    "Order SO-000031 is delivered; it can only become partially returned or returned, not packed."."""
    allowed = list(allowed)

    def said(value: str) -> str:
        return status_phrase(str((labels or {}).get(value, value)))

    if allowed:
        choices = [said(value) for value in allowed]
        either = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        message = f"{noun} is {said(status)}; it can only become {either}, not {said(to_status)}."
    else:
        message = f"{noun} is {said(status)} and can no longer change; it cannot become {said(to_status)}."
    return TRANSITION_NOT_ALLOWED(message, {"status": status, "allowed": allowed, "requested": to_status})


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as ``{field: [messages]}`` (a non-field error under ``nonfield_errors``)."""
    if hasattr(exc, "error_dict"):
        return {("nonfield_errors" if f == NON_FIELD_ERRORS else f): list(m) for f, m in exc.message_dict.items()}
    return {"nonfield_errors": list(exc.messages)}


def error_of(exc: Exception) -> dict[str, Any]:
    """The ``{code, message, details}`` of a refused item in a batch (per-item results, import rows).

    An exception that is not a refusal is a bug: it is logged and recorded as ``internal_error``, never as
    something the caller did wrong.
    """
    if isinstance(exc, DomainError):
        return exc.as_dict()
    if isinstance(exc, ValidationError):
        return {"code": INVALID.code, "message": "The request has invalid fields; see details.",
                "details": field_errors(exc)}  # fmt: skip
    logger.error("Unexpected error in a batch item", exc_info=exc)
    return INTERNAL_ERROR(f"An unexpected error occurred ({type(exc).__name__}); it has been logged.").as_dict()


def refusal_text(exc: Exception) -> str:
    """A refusal as one sentence, for the admin and for job records."""
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    raise exc


# -- codes of the core: members, invitations, webhooks ------------------------------------------------

LAST_OWNER = ErrorCode("last_owner", ErrorKind.CONFLICT, "A merchant keeps at least one owner.")
INVITATION_PENDING = ErrorCode("invitation_pending", ErrorKind.CONFLICT, "An invitation to this address is pending.")
INVITATION_ACCEPTED = ErrorCode("invitation_accepted", ErrorKind.CONFLICT, "The invitation was accepted already.")
INVITATION_WAS_REVOKED = ErrorCode(
    "invitation_revoked", ErrorKind.CONFLICT, "The invitation was revoked: invite again."
)
INVITATION_REVOKED = ErrorCode("invitation_revoked", ErrorKind.GONE, "The invitation was withdrawn by its sender.")
ACCOUNT_EXISTS = ErrorCode("account_exists", ErrorKind.CONFLICT, "An account for the invited address exists: log in.")
INVITATION_NOT_FOUND = ErrorCode("invitation_not_found", ErrorKind.NOT_FOUND, "The invitation link is not valid.")
INVITATION_USED = ErrorCode("invitation_used", ErrorKind.GONE, "The invitation has been used already.")
INVITATION_EXPIRED = ErrorCode("invitation_expired", ErrorKind.GONE, "The invitation has expired.")
INVITATION_EMAIL_MISMATCH = ErrorCode(
    "invitation_email_mismatch", ErrorKind.FORBIDDEN, "The invitation was sent to another address than the user's."
)
ENDPOINT_DISABLED = ErrorCode("endpoint_disabled", ErrorKind.CONFLICT, "The webhook endpoint is disabled.")
DELIVERY_IN_PROGRESS = ErrorCode("delivery_in_progress", ErrorKind.CONFLICT, "The delivery is still being sent.")
