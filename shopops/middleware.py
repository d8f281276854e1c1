from django.conf import settings

from shopops.api.exceptions import json_error_response


class RequestBodyLimitMiddleware:
    """Answers 413 in the API error format before an oversized body is read.

    JSON and form bodies may be up to ``API_MAX_BODY_BYTES``; multipart uploads
    (file imports, images) up to ``API_MAX_UPLOAD_BYTES``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
            limit = settings.API_MAX_UPLOAD_BYTES if multipart else settings.API_MAX_BODY_BYTES
            if length > limit:
                return json_error_response(
                    413,
                    "payload_too_large",
                    f"The request body is larger than the limit of {limit} bytes.",
                    {"max_bytes": limit},
                )
        return self.get_response(request)
