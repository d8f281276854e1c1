from django.urls import path
from rest_framework.routers import SimpleRouter

from shipping.api import (
    account_views,
    courier_views,
    credit_note_views,
    document_views,
    ship_views,
    shipment_views,
    tracking_views,
)

router = SimpleRouter()
router.register("couriers", courier_views.CourierViewSet, basename="courier")
router.register("courier-accounts", account_views.CourierAccountViewSet, basename="courier-account")
router.register("shipments", shipment_views.ShipmentViewSet, basename="shipment")
router.register("awb-pools", shipment_views.AWBPoolViewSet, basename="awb-pool")
router.register("pickups", shipment_views.PickupViewSet, basename="pickup")
router.register("manifests", shipment_views.ManifestViewSet, basename="manifest")
router.register("ndr", shipment_views.NDRViewSet, basename="ndr")
router.register("documents", document_views.DocumentViewSet, basename="document")
router.register("credit-notes", credit_note_views.CreditNoteViewSet, basename="credit-note")
router.register("ship/batch", ship_views.ShipBatchViewSet, basename="ship-batch")

urlpatterns = [
    *router.urls,
    path("ship/", ship_views.ShipView.as_view(), name="ship"),
    path("serviceability/", courier_views.ServiceabilityView.as_view(), name="serviceability"),
    path("notification-settings/", shipment_views.NotificationSettingView.as_view(), name="notification-settings"),
    path("tracking/", tracking_views.TrackingBatchView.as_view(), name="tracking-batch"),
    path("tracking/<str:awb>/", tracking_views.TrackingView.as_view(), name="tracking-detail"),
    path("couriers/<slug:code>/webhook/", tracking_views.CourierWebhookView.as_view(), name="courier-webhook"),
    path(
        "webhooks/couriers/<str:webhook_id>/",
        account_views.CourierAccountWebhookView.as_view(),
        name="courier-account-webhook",
    ),
]
