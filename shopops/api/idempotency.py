"""The Idempotency-Key mechanism for every POST and PATCH of the API."""

import hashlib
import logging

from django.db import DatabaseError
from django.http import HttpResponse

from shopops import services
from shopops.api.exceptions import ApiError

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
METHODS = frozenset({"POST", "PATCH"})
STORED_HEADERS = ("Location", "Content-Type")

logger = logging.getLogger("shopops.api")


class Replay(Exception):
    """Raised from ``initial()`` to answer with a stored response instead of running the handler."""

    def __init__(self, response):
        self.response = response


def request_fingerprint(request) -> str:
    """SHA-256 over method, path with query, and body.

    Multipart bodies are hashed from their parsed fields and the streamed file
    contents, so large uploads are never read into memory as one string.
    """
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.get_full_path().encode() + b"\0")
    content_type = request.content_type or ""
    if content_type.startswith("multipart/"):
        for name in sorted(request.data.keys()):
            for value in request.data.getlist(name):
                digest.update(name.encode() + b"=" + str(value).encode() + b"\0")
        for name in sorted(request.FILES.keys()):
            for upload in request.FILES.getlist(name):
                digest.update(f"{name}:{upload.name}:{upload.size}\0".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body)
    return digest.hexdigest()


def idempotency_key(request) -> str | None:
    if request.method not in METHODS:
        return None
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} characters.",
            {HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} characters."]},
        )
    return key


class IdempotentMixin:
    """Claims the key after authentication, permissions and throttling; stores the response at the end.

    Responses below 500 are stored as the bytes sent (once rendered) and replayed for 24 hours; a 5xx or an
    exception releases the key so the client can retry. Storing cannot fail on a response's content; if the
    database refuses it anyway, the key is released rather than left locked.
    """

    _idempotency_record = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = idempotency_key(request)
        if key is None:
            return
        client = request.api_client
        claim = services.idempotency_key_claim(
            merchant=client.merchant, client=client.client_key, key=key, fingerprint=request_fingerprint(request)
        )
        if claim.outcome == "claimed":
            self._idempotency_record = claim.record
        elif claim.outcome == "mismatch":
            raise ApiError(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request.",
                {"idempotency_key": key},
            )
        elif claim.outcome == "in_flight":
            raise ApiError(
                409,
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed; retry later.",
                {"idempotency_key": key},
            )
        else:
            record = claim.record
            headers = dict(record.response_headers)
            headers[REPLAY_HEADER] = "true"
            raise Replay(HttpResponse(bytes(record.response_content), status=record.response_status, headers=headers))

    def handle_exception(self, exc):
        if isinstance(exc, Replay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record, self._idempotency_record = self._idempotency_record, None
        if record is None:
            return response
        if response.status_code >= 500 or getattr(response, "streaming", False):
            services.idempotency_key_release(record=record)
            return response
        if getattr(response, "is_rendered", True):
            _store(record, response)
        else:
            response.add_post_render_callback(lambda rendered: _store(record, rendered))
        return response


def _store(record, response) -> None:
    headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
    try:
        services.idempotency_key_complete(
            record=record, status=response.status_code, content=bytes(response.content), headers=headers
        )
    except DatabaseError:
        logger.exception("Could not store the response of Idempotency-Key %s; the key is released", record.key)
        services.idempotency_key_release(record=record)
