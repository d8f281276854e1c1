from django.urls import path
from rest_framework.routers import SimpleRouter

from orders.api import channel_views, views

router = SimpleRouter()
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("sku-mappings", channel_views.SkuMappingViewSet, basename="sku-mapping")
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")
router.register("returns", views.ReturnViewSet, basename="return")
router.register("imports", views.ImportViewSet, basename="import")

urlpatterns = [
    *router.urls,
    path("webhooks/channels/<str:webhook_id>/", channel_views.ChannelWebhookView.as_view(), name="channel-webhook"),
]
