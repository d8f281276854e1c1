"""The load benchmark's URL conf: ShopOps's URLs plus a bare Django JSON view (no database, no authentication, no
DRF), the floor the partner workload is compared with. Only ``bench.load_settings`` selects it."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from shopops.urls import handler400, handler403, handler404, handler500  # noqa: F401
from shopops.urls import urlpatterns as shopops_urlpatterns


@csrf_exempt  # as the API's views are: the same POSTs reach it
def bare(request, operation: str):
    return JsonResponse({"ok": True, "operation": operation})


urlpatterns = [path("bench/bare/<slug:operation>/", bare), *shopops_urlpatterns]
