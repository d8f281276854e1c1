import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream

from shopops.api.exceptions import json_error_response

#: Paths whose requests are checked here: the API and the OAuth2 endpoints.
GUARDED_PREFIXES = ("/api/", "/o/")


class RequestBodyLimitMiddleware:
    """The API's edge: what must be refused before a view reads the request.

    - A body over the limit answers 413 in the API error format before it is read: JSON and form bodies may be
      up to ``API_MAX_BODY_BYTES``, multipart uploads (file imports, images) up to ``API_MAX_UPLOAD_BYTES``.
      A chunked body (``Transfer-Encoding: chunked``, no ``Content-Length``) is read up to the limit and then
      served to the view like any other (Django alone would read it as empty), where the server says the input
      ends with the body (``wsgi.input_terminated``, as gunicorn does); elsewhere it answers 411.
    - A NUL character in the path or the query string answers 400: no stored value can hold one, so it can only
      fail further in (PostgreSQL refuses it in any text parameter).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(GUARDED_PREFIXES):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, request):
        if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, vs in request.GET.lists() for v in vs):
            return json_error_response(400, "invalid_characters", "The path or query string holds a NUL character.")
        multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
        limit = settings.API_MAX_UPLOAD_BYTES if multipart else settings.API_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if not length and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            if not request.META.get("wsgi.input_terminated"):
                return json_error_response(411, "length_required", "Send the body with a Content-Length header.")
            length = _buffer_chunked_body(request, limit)
        if length > limit:
            return json_error_response(
                413,
                "payload_too_large",
                f"The request body is larger than the limit of {limit} bytes.",
                {"max_bytes": limit},
            )
        return None


def _buffer_chunked_body(request, limit: int) -> int:
    """Read a chunked body (the server decodes the chunks) up to ``limit`` + 1 bytes and give it to the request
    as if it had come with a Content-Length. Returns the length read (over ``limit`` when it is too large)."""
    data = request.META["wsgi.input"].read(limit + 1)
    if len(data) <= limit:
        request.META["CONTENT_LENGTH"] = str(len(data))
        request._stream = LimitedStream(io.BytesIO(data), len(data))  # what WSGIRequest builds from CONTENT_LENGTH
    return len(data)
