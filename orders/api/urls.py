from django.urls import path
from rest_framework.routers import SimpleRouter

from orders.api import channel_views, payment_views, views

router = SimpleRouter()
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("sku-mappings", channel_views.SkuMappingViewSet, basename="sku-mapping")
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")
router.register("returns", views.ReturnViewSet, basename="return")
router.register("imports", views.ImportViewSet, basename="import")
router.register("payments", payment_views.PaymentViewSet, basename="payment")

urlpatterns = [
    *router.urls,
    path("webhooks/channels/<str:webhook_id>/", channel_views.ChannelWebhookView.as_view(), name="channel-webhook"),
    path("webhooks/payments/<str:webhook_id>/", payment_views.PaymentWebhookView.as_view(), name="payment-webhook"),
]
