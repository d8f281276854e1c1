from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from catalog import selectors, services
from catalog.api import examples as ex
from catalog.api import serializers as s
from catalog.filters import LocationFilter, ProductFilter, StockLevelFilter, StockMovementFilter
from catalog.models import Category, Product, ProductImage
from shopops.api.base import MerchantScopedGenericViewSet, MerchantScopedReadOnlyViewSet
from shopops.api.exceptions import field_errors
from shopops.api.parsers import FormParser, JSONParser, MultiPartParser
from shopops.api.schema import ApiErrorOutput
from shopops.api.serializers import validated_input


class ReadMixin(mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """List and retrieve; writes are each viewset's own methods, calling the services."""


@extend_schema_view(
    list=extend_schema(summary="List categories"),
    create=extend_schema(request=s.CategoryInput, responses={201: s.CategoryOutput}),
    partial_update=extend_schema(request=s.CategoryInput, responses=s.CategoryOutput),
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(ApiErrorOutput, description="`category_has_children`: move or delete them first."),
        }
    ),
)
class CategoryViewSet(ReadMixin, MerchantScopedGenericViewSet):
    """Product categories, a tree by ``parent``."""

    scope_object = "catalog"
    queryset = Category.objects.all()
    serializer_class = s.CategoryOutput
    ordering_fields = ["name", "slug", "created_at"]
    ordering = ["name"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def create(self, request):
        data = validated_input(s.CategoryInput, self, request.data)
        category = services.category_create(merchant=self.merchant, **data)
        return Response(s.CategoryOutput(category).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        category = self.get_object()
        data = validated_input(s.CategoryInput, self, request.data, partial=True)
        return Response(s.CategoryOutput(services.category_update(category=category, data=data)).data)

    def destroy(self, request, pk=None):
        services.category_delete(category=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(examples=ex.PRODUCT_LIST),
    retrieve=extend_schema(examples=ex.PRODUCT_DETAIL),
    create=extend_schema(request=s.ProductInput, responses={201: s.ProductOutput}, examples=ex.PRODUCT_CREATE),
    update=extend_schema(request=s.ProductInput, responses=s.ProductOutput),
    partial_update=extend_schema(request=s.ProductInput, responses=s.ProductOutput),
    destroy=extend_schema(summary="Archive a product", responses={204: None}),
)
class ProductViewSet(ReadMixin, MerchantScopedGenericViewSet):
    """Products. DELETE archives (orders keep referring to archived products)."""

    scope_object = "catalog"
    serializer_class = s.ProductOutput
    filterset_class = ProductFilter
    ordering_fields = ["sku", "title", "price", "created_at", "updated_at"]
    ordering = ["-id"]

    def get_base_queryset(self):
        return selectors.product_queryset()

    def create(self, request):
        data = validated_input(s.ProductInput, self, request.data)
        product = services.product_create(merchant=self.merchant, data=data)
        return Response(s.ProductOutput(product, context=self.get_serializer_context()).data, status=201)

    def update(self, request, pk=None, partial=False):
        product = self.get_object()
        data = validated_input(s.ProductInput, self, request.data, instance=product, partial=partial)
        product = services.product_update(product=product, data=data)
        return Response(s.ProductOutput(product, context=self.get_serializer_context()).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def destroy(self, request, pk=None):
        services.product_archive(product=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.ProductBulkInput, responses=s.ProductBulkOutput)
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Upsert up to 100 products by SKU; each item succeeds or fails on its own."""
        items = validated_input(s.ProductBulkInput, self, request.data)["products"]
        skus = {item.get("sku") for item in items if isinstance(item.get("sku"), str)}
        existing = {p.sku: p for p in self.scoped(Product.objects).filter(sku__in=skus)}
        valid, results = [], {}
        for index, item in enumerate(items):
            stored = existing.get(item["sku"]) if isinstance(item.get("sku"), str) else None
            serializer = s.ProductInput(stored, data=item, context=self.get_serializer_context(),
                                        partial=stored is not None)  # fmt: skip
            if serializer.is_valid():
                valid.append((index, serializer.validated_data))
            else:
                results[index] = services.BulkResult(
                    index, str(item.get("sku", "")), "failed",
                    error={"code": "invalid", "message": "The item has invalid fields; see details.",
                           "details": field_errors(serializer.errors)},
                )  # fmt: skip
        for outcome, (index, _) in zip(
            services.product_bulk_upsert(merchant=self.merchant, items=[data for _, data in valid]), valid, strict=True
        ):
            results[index] = services.BulkResult(index, outcome.sku, outcome.status, outcome.id, outcome.error)
        ordered = [results[i].__dict__ for i in range(len(items))]
        counts = {key: sum(1 for r in ordered if r["status"] == key) for key in ("created", "updated", "failed")}
        return Response(s.ProductBulkOutput({**counts, "results": ordered}).data)

    @extend_schema(request={"multipart/form-data": s.ProductImageInput, "application/json": s.ProductImageInput},
                   responses={201: s.ProductImageOutput})  # fmt: skip
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser], url_path="images")
    def add_image(self, request, pk=None):
        """Attach an image: an uploaded file (multipart) or a url."""
        product = self.get_object()
        data = validated_input(s.ProductImageInput, self, request.data)
        image = services.product_image_add(product=product, **data)
        return Response(s.ProductImageOutput(image, context=self.get_serializer_context()).data, status=201)

    @extend_schema(responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"images/(?P<image_id>\d+)")
    def delete_image(self, request, pk=None, image_id=None):
        product = self.get_object()
        image = ProductImage.objects.filter(product=product, pk=image_id).first()
        if image is None:
            raise NotFound()
        services.product_image_delete(image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    create=extend_schema(request=s.LocationInput, responses={201: s.LocationOutput}),
    partial_update=extend_schema(request=s.LocationInput, responses=s.LocationOutput),
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(
                ApiErrorOutput,
                description="`location_in_use`: stock records or orders use it (deactivate it instead); "
                "`location_is_default`: make another location the default first.",
            ),
        }
    ),
)
class LocationViewSet(ReadMixin, MerchantScopedGenericViewSet):
    """Warehouses and pickup locations. Exactly one is the default."""

    scope_object = "inventory"
    serializer_class = s.LocationOutput
    filterset_class = LocationFilter
    ordering_fields = ["nickname", "name", "created_at"]
    ordering = ["nickname"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_base_queryset(self):
        return selectors.location_queryset()

    def create(self, request):
        data = dict(validated_input(s.LocationInput, self, request.data))
        is_default = data.pop("is_default", False)
        location = services.location_create(merchant=self.merchant, data=data, is_default=is_default)
        return Response(s.LocationOutput(location).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        location = self.get_object()
        data = dict(validated_input(s.LocationInput, self, request.data, partial=True))
        is_default = data.pop("is_default", None)
        location = services.location_update(location=location, data=data, is_default=is_default)
        return Response(s.LocationOutput(location).data)

    def destroy(self, request, pk=None):
        location = self.get_object()
        services.location_delete(location=location)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List stock levels", responses=s.StockLevelOutput(many=True)),
    retrieve=extend_schema(summary="Stock of one SKU: totals and per location", responses=s.InventoryOutput),
)
class InventoryViewSet(mixins.ListModelMixin, MerchantScopedGenericViewSet):
    """Stock levels per product and location; a SKU's totals; adjustments."""

    scope_object = "inventory"
    serializer_class = s.StockLevelOutput
    filterset_class = StockLevelFilter
    ordering_fields = ["sku", "available", "on_hand", "updated_at"]
    ordering = ["sku"]
    lookup_field = "sku"
    lookup_value_regex = "[^/]+"

    def get_base_queryset(self):
        return selectors.stock_level_queryset()

    def retrieve(self, request, sku=None):
        return Response(s.InventoryOutput(selectors.inventory_summary(merchant=self.merchant, sku=sku)).data)

    @extend_schema(request=s.StockAdjustInput, responses=s.InventoryOutput, examples=ex.INVENTORY_ADJUST)
    @action(detail=True, methods=["post"])
    def adjust(self, request, sku=None):
        """Add, remove or set on-hand stock at a location; optionally compare-and-set on expected_on_hand."""
        product = get_object_or_404(self.scoped(Product.objects), sku=sku)
        data = dict(validated_input(s.StockAdjustInput, self, request.data))
        location = services.location_resolve(merchant=self.merchant, ref=data.pop("location"))
        threshold = data.pop("low_stock_threshold", None)
        level = services.stock_adjust(
            merchant=self.merchant, product=product, location=location, actor=self.actor, **data
        )
        if threshold is not None:
            services.stock_set_threshold(level=level, low_stock_threshold=threshold)
        return Response(s.InventoryOutput(selectors.inventory_summary(merchant=self.merchant, sku=sku)).data)


class StockMovementViewSet(MerchantScopedReadOnlyViewSet):
    """The stock ledger, append-only: every change of on_hand and reserved."""

    scope_object = "inventory"
    serializer_class = s.StockMovementOutput
    filterset_class = StockMovementFilter
    ordering_fields = ["created_at", "id"]
    ordering = ["-id"]

    def get_base_queryset(self):
        return selectors.stock_movement_queryset()
