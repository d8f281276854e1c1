from django.urls import path
from rest_framework.routers import SimpleRouter

from shipping.api import views

router = SimpleRouter()
router.register("couriers", views.CourierViewSet, basename="courier")

urlpatterns = [
    *router.urls,
    path("serviceability/", views.ServiceabilityView.as_view(), name="serviceability"),
]
