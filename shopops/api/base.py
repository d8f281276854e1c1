"""Base classes every ShopOps API view derives from.

They resolve the caller's merchant, enforce scopes and roles, and scope every
queryset to the merchant. Subclasses may not override ``get_queryset``: they
set ``queryset`` or implement ``get_base_queryset``, and the merchant filter
is applied on top, so a new endpoint cannot forget it. Any other query of the
merchant's rows goes through ``scoped``. Scopes are declared as data
(``scope_object``, ``action_scopes``...: see shopops.api.scopes), checked when
the class is created and, for every routed view, when the project starts.
"""

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Manager, QuerySet
from django.http import Http404
from rest_framework import exceptions, generics, mixins, viewsets
from rest_framework.views import APIView

from shopops.api.context import ApiClient
from shopops.api.idempotency import IdempotentMixin
from shopops.api.permissions import HasMerchantScope
from shopops.api.scopes import ByField, validate_declaration


class MerchantContextMixin(IdempotentMixin):
    #: The scope family of this view ("orders": orders:read to read, orders:write to write), a tuple of families,
    #: or PUBLIC. Every routed view declares it or action_scopes for each of its actions.
    scope_object: str | tuple[str, ...] | None = None
    #: Scopes of the actions that do not follow scope_object: {"labels": ["shipping:write"]}.
    action_scopes: dict[str, list[str]] | None = None
    #: Scopes picked by a field of the request body, by action.
    body_scopes: dict[str, ByField] | None = None
    #: Scopes picked by a field of the object the URL names, by action.
    object_scopes: dict[str, ByField] | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        validate_declaration(cls)

    def initial(self, request, *args, **kwargs):
        # A method the endpoint does not offer is a 405 before the Idempotency-Key (or anything else) is looked at.
        if request.method not in self.allowed_methods:
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    @property
    def api_client(self) -> ApiClient:
        return self.request.api_client

    @property
    def merchant(self):
        return self.request.api_client.merchant

    @property
    def actor(self) -> str:
        """Who a write is recorded as: ``app:<client_id>`` or ``user:<id>``."""
        return self.api_client.client_key

    def scoped(self, queryset: QuerySet | Manager) -> QuerySet:
        """``queryset`` narrowed to the caller's merchant: the one merchant filter of the API views."""
        return queryset.filter(merchant=self.merchant)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if hasattr(self.request, "api_client"):
            context["merchant"] = self.merchant
        return context


class MerchantAPIView(MerchantContextMixin, APIView):
    """An endpoint that is not a model resource (quotes, wrappers), still merchant-bound."""

    def get_serializer_context(self) -> dict:
        context = {"request": self.request, "view": self}
        if hasattr(self.request, "api_client"):
            context["merchant"] = self.merchant
        return context


class MerchantScopedViewSetMixin(MerchantContextMixin):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise ImproperlyConfigured(
                f"{cls.__qualname__} overrides get_queryset; implement get_base_queryset instead so the "
                "merchant scoping cannot be bypassed."
            )

    def get_base_queryset(self):
        """The unscoped queryset with its select_related/prefetch decided; override freely."""
        return generics.GenericAPIView.get_queryset(self)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no caller, no rows
            return self.get_base_queryset().none()
        return self.scoped(self.get_base_queryset())

    def get_object(self):
        try:
            return super().get_object()  # the object's own scopes are checked here (object_scopes)
        except Http404:
            for permission in self.get_permissions():
                if isinstance(permission, HasMerchantScope):
                    permission.has_no_object(self.request, self)
            raise


class MerchantScopedGenericViewSet(MerchantScopedViewSetMixin, viewsets.GenericViewSet):
    """A merchant-scoped viewset; add the mixins (or methods) of the actions it offers."""


class MerchantScopedReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """List and retrieve, scoped to the merchant."""
