"""Request body parsers that refuse, at the edge, what no column can store.

PostgreSQL refuses a NUL character in text and JSON columns, and UTF-8 has no encoding for a lone surrogate
(``"\\ud800"`` is valid JSON, but not storable text). Deeply nested JSON exhausts Python's stack in whatever
walks it next. Such a body is a 400 ``parse_error`` naming where the bad value is, before any view, service or
the idempotency store sees it. The project's views use these classes (settings and per-view ``parser_classes``).
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from shopops.validation import MAX_JSON_DEPTH, UnstorableInput, check_storable


def _parse_error(exc: UnstorableInput) -> ParseError:
    return ParseError(f"The body holds {exc}; it cannot be stored.")


def _check_form(data) -> None:
    """Form and multipart fields: names and values (files are streamed, not checked here)."""
    try:
        check_storable({key: data.getlist(key) for key in data})
    except UnstorableInput as exc:
        raise _parse_error(exc) from None


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _parse_error(UnstorableInput("", f"JSON nested more than {MAX_JSON_DEPTH} levels")) from None
        try:
            check_storable(data)
        except UnstorableInput as exc:
            raise _parse_error(exc) from None
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _check_form(result.data)
        return result
