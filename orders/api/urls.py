from rest_framework.routers import SimpleRouter

from orders.api import views

router = SimpleRouter()
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")
router.register("returns", views.ReturnViewSet, basename="return")
router.register("imports", views.ImportViewSet, basename="import")

urlpatterns = router.urls
