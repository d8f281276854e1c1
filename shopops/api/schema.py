"""OpenAPI generation: the error format, the Idempotency-Key header and the scopes on every operation."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from shopops.api.idempotency import HEADER, MAX_KEY_LENGTH, METHODS
from shopops.api.permissions import required_scopes


class ApiErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case error code, e.g. `missing_scope`.")
    message = serializers.CharField(help_text="A human sentence.")
    details = serializers.DictField(help_text="Context; field errors as `{field: [messages]}`.")


ERRORS = {
    "400": "Invalid input: field errors in `details`.",
    "401": "No or invalid credentials.",
    "403": "Missing scope (`missing_scope`, the scopes named in `details`) or role.",
    "404": "Not found, or another merchant's.",
    "409": "State conflict, or `idempotency_key_in_use`.",
    "413": "Request body too large.",
    "422": "`idempotency_key_reused`: the key was used with another request.",
    "429": "Throttled; see the `Retry-After` header.",
}


class ShopOpsAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method in METHODS:
            parameters.append(
                OpenApiParameter(
                    HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description=(
                        f"Up to {MAX_KEY_LENGTH} characters. The same key and request within 24 hours replays "
                        "the stored response with `Idempotent-Replayed: true`."
                    ),
                )
            )
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["401", "403", "429"]
        paginated = self._is_list_view() and self._get_paginator() is not None
        if self.method in METHODS or self.method == "PUT" or paginated or self.get_filter_backends():
            codes.append("400")
        if self.method in METHODS or self.method == "PUT":
            codes += ["409", "413", "422"]
        if "{" in self.path:
            codes.append("404")
        for code in sorted(codes):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ApiErrorOutput, description=ERRORS[code]), code
                )
        return responses


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    """OAuth2 with the scopes each operation requires."""

    target_class = "shopops.api.authentication.PartnerTokenAuthentication"
    name = "oauth2"

    def get_security_requirement(self, auto_schema):
        view = auto_schema.view

        class _Request:
            method = auto_schema.method

        return {self.name: required_scopes(view, _Request)}

    def get_security_definition(self, auto_schema):
        from drf_spectacular.settings import spectacular_settings

        flows = {
            "clientCredentials": {"tokenUrl": spectacular_settings.OAUTH2_TOKEN_URL},
            "authorizationCode": {
                "authorizationUrl": spectacular_settings.OAUTH2_AUTHORIZATION_URL,
                "tokenUrl": spectacular_settings.OAUTH2_TOKEN_URL,
            },
        }
        for flow in flows.values():
            flow["refreshUrl"] = spectacular_settings.OAUTH2_REFRESH_URL
            flow["scopes"] = spectacular_settings.OAUTH2_SCOPES
        return {"type": "oauth2", "flows": flows}
