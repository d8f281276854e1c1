"""One error format for every API error: ``{"code", "message", "details"}``.

The one place where a domain error's kind (``shopops/errors.py``) becomes an HTTP status. ``ApiError`` is for
refusals of the API layer itself (scopes, pagination cursors, idempotency keys, request size).
"""

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from shopops import errors
from shopops.errors import DATABASE_ERRORS, DomainError, ErrorKind

logger = logging.getLogger("shopops.api")


#: The HTTP status of each kind of domain error.
STATUS_FOR_KIND = {
    ErrorKind.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorKind.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorKind.GONE: status.HTTP_410_GONE,
    ErrorKind.INTERNAL: status.HTTP_500_INTERNAL_SERVER_ERROR,
}


def status_for(error: DomainError) -> int:
    return STATUS_FOR_KIND[error.kind]


class ApiError(exceptions.APIException):
    """An API-layer error with an explicit status, snake_case code, sentence and details; the handler renders it
    as is. Services raise domain errors (``shopops/errors.py``) instead."""

    def __init__(self, status_code: int, code: str, message: str, details: dict[str, Any] | None = None):
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}
        super().__init__(detail=message, code=code)


class Conflict(ApiError):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(status.HTTP_409_CONFLICT, code, message, details)


def domain_to_api(exc: DomainError) -> ApiError:
    return ApiError(status_for(exc), exc.code, exc.message, exc.details)


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            "payload_too_large",
            f"The request body is larger than the limit of {limit} bytes.",
            {"max_bytes": limit},
        )


DEFAULT_CODES = {
    400: ("invalid", "The request is invalid."),
    401: ("not_authenticated", "Authentication credentials were not provided or are not valid."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed on this resource."),
    406: ("not_acceptable", "The requested response format is not available."),
    409: ("conflict", "The request conflicts with the current state of the resource."),
    413: ("payload_too_large", "The request body is too large."),
    411: ("length_required", "Send the body with a Content-Length header."),
    415: ("unsupported_media_type", "Unsupported media type."),
    422: ("unprocessable", "The request cannot be processed."),
    429: ("throttled", "Too many requests."),
    500: ("server_error", "An unexpected error occurred; it has been logged."),
    503: ("service_unavailable", "The database is not answering; retry in a few seconds."),
}

#: Seconds a client should wait before asking again after a 503.
RETRY_AFTER_UNAVAILABLE = 5


def database_unavailable(request) -> JsonResponse | HttpResponse:
    """The 503 of a request whose database went away: the API's JSON error, or a plain page."""
    logger.warning("Database unavailable during %s %s", request.method, request.path, exc_info=True)
    if request.path.startswith(("/api/", "/o/")):
        response = json_error_response(503)
    else:
        response = HttpResponse("ShopOps cannot reach its database; retry in a few seconds.\n", status=503,
                                content_type="text/plain; charset=utf-8")  # fmt: skip
    response["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
    return response


def error_body(status_code: int, code: str | None = None, message: str | None = None, details=None) -> dict:
    default_code, default_message = DEFAULT_CODES.get(status_code, ("error", "Error."))
    return {"code": code or default_code, "message": message or default_message, "details": details or {}}


def field_errors(detail) -> dict[str, list[str]]:
    """Flatten DRF's nested validation detail into ``{field: [messages]}``.

    Nested fields use dotted paths (``lines.0.quantity``).
    """
    flat: dict[str, list[str]] = {}

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                # A nested serializer's own error (not one of its fields') belongs to the field itself.
                whole = path and key == api_settings.NON_FIELD_ERRORS_KEY
                walk(inner, path if whole else (f"{path}.{key}" if path else str(key)))
        elif isinstance(value, list):
            if all(not isinstance(item, (dict, list)) for item in value):
                flat.setdefault(path or "nonfield_errors", []).extend(str(item) for item in value)
            else:
                for index, inner in enumerate(value):
                    if inner:
                        walk(inner, f"{path}.{index}" if path else str(index))
        else:
            flat.setdefault(path or "nonfield_errors", []).append(str(value))

    walk(detail, "")
    return flat


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF exception handler rendering every error in the ShopOps format."""
    from rest_framework.views import set_rollback  # imported here: rest_framework.views imports settings

    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        exc = domain_to_api(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        # Model and service validation: the same 400 as serializer validation.
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        exc = PayloadTooLarge(settings.API_MAX_BODY_BYTES)
    elif isinstance(exc, DATABASE_ERRORS):
        set_rollback()
        return database_unavailable(context["request"])

    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        body = _body_for(exc)
        set_rollback()
        return Response(body, status=exc.status_code, headers=headers)

    logger.exception("Unhandled API error", exc_info=exc)
    set_rollback()
    return Response(error_body(500), status=500)


def _body_for(exc: exceptions.APIException) -> dict:
    status_code = exc.status_code
    if isinstance(exc, ApiError):
        return error_body(status_code, exc.code, exc.message, exc.details)
    if isinstance(exc, exceptions.ValidationError):
        return error_body(400, "invalid", "The request has invalid fields; see details.", field_errors(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        return error_body(
            429,
            "throttled",
            f"Too many requests; retry in {int(exc.wait or 1)} seconds.",
            {"retry_after": int(exc.wait or 1)},
        )
    if isinstance(exc, exceptions.MethodNotAllowed):
        return error_body(405, "method_not_allowed", str(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return error_body(400, "parse_error", str(exc.detail))
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code or DEFAULT_CODES.get(status_code, ("error", ""))[0]
    message = str(detail) if not isinstance(detail, (dict, list)) else None
    details = field_errors(detail) if isinstance(detail, (dict, list)) else {}
    return error_body(status_code, code, message, details)


# Django-level handlers, so that URLs outside DRF views (an unknown path under
# /api/, a crash in middleware) still answer in the same format.


def json_error_response(status_code: int, code: str | None = None, message: str | None = None, details=None):
    return JsonResponse(error_body(status_code, code, message, details), status=status_code)


def api_aware_handler(status_code: int, html_handler):
    def handler(request, exception=None, **kwargs):
        if status_code == 500 and isinstance(sys.exc_info()[1], DATABASE_ERRORS):  # raised outside a DRF view
            return database_unavailable(request)
        if request.path.startswith("/api/") or request.path.startswith("/o/"):
            return json_error_response(status_code)
        if exception is not None and status_code != 500:
            return html_handler(request, exception, **kwargs)
        return html_handler(request, **kwargs)

    return handler


@csrf_exempt  # a write to an unknown path is a 404 like any other, not Django's HTML CSRF page
def api_path_not_found(request, path: str = ""):
    """Every unknown path under /api/ and /o/ answers the API's JSON 404, in development mode too (where Django
    would render its HTML debug page instead of calling ``handler404``). A GET of a known path written without
    its trailing slash is redirected, as CommonMiddleware does for the other pages."""
    from django.http import HttpResponsePermanentRedirect
    from django.urls import Resolver404, resolve

    if not request.path.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_path_not_found:
            if request.method in ("GET", "HEAD"):
                return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
            return json_error_response(404, "not_found", "Not found: the path needs its trailing slash.",
                                       {"path": request.path + "/"})  # fmt: skip
    return json_error_response(404)


def error_of(exc: Exception) -> dict:
    """The ``{code, message, details}`` of a refused item of an API batch: DRF's validation errors as the
    handler renders them, everything else as ``shopops.errors.error_of`` records it."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, exceptions.APIException):
        return _body_for(exc)
    return errors.error_of(exc)
