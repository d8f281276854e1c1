from django.urls import path
from rest_framework.routers import SimpleRouter

from shipping.api import documents, ship, shipments, tracking, views

router = SimpleRouter()
router.register("couriers", views.CourierViewSet, basename="courier")
router.register("shipments", shipments.ShipmentViewSet, basename="shipment")
router.register("awb-pools", shipments.AWBPoolViewSet, basename="awb-pool")
router.register("pickups", shipments.PickupViewSet, basename="pickup")
router.register("manifests", shipments.ManifestViewSet, basename="manifest")
router.register("ndr", shipments.NDRViewSet, basename="ndr")
router.register("documents", documents.DocumentViewSet, basename="document")
router.register("ship/batch", ship.ShipBatchViewSet, basename="ship-batch")

urlpatterns = [
    *router.urls,
    path("ship/", ship.ShipView.as_view(), name="ship"),
    path("serviceability/", views.ServiceabilityView.as_view(), name="serviceability"),
    path("notification-settings/", shipments.NotificationSettingView.as_view(), name="notification-settings"),
    path("tracking/", tracking.TrackingBatchView.as_view(), name="tracking-batch"),
    path("tracking/<str:awb>/", tracking.TrackingView.as_view(), name="tracking-detail"),
    path("couriers/<slug:code>/webhook/", tracking.CourierWebhookView.as_view(), name="courier-webhook"),
]
