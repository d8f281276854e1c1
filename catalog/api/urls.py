from rest_framework.routers import SimpleRouter

from catalog.api import views

router = SimpleRouter()
router.register("categories", views.CategoryViewSet, basename="category")
router.register("products", views.ProductViewSet, basename="product")
router.register("locations", views.LocationViewSet, basename="location")
router.register("inventory", views.InventoryViewSet, basename="inventory")
router.register("stock-movements", views.StockMovementViewSet, basename="stock-movement")

urlpatterns = router.urls
