"""The /api/v1/ URL conf: each app adds its routes here."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from shopops.api import views
from shopops.webhooks import api as webhooks

router = SimpleRouter()
router.register("webhook-endpoints", webhooks.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", webhooks.WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    *router.urls,
]
