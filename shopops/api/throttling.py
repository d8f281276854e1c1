from rest_framework.throttling import SimpleRateThrottle


class ClientRateThrottle(SimpleRateThrottle):
    """One request budget per API client: a partner application or a user; per IP when anonymous."""

    scope = "client"

    def get_cache_key(self, request, view):
        client = getattr(request, "api_client", None)
        if client is not None:
            ident = client.client_key
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
