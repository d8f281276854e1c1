from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path, re_path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from oauth2_provider import views as oauth2_views

from shipping.views import track_lookup, track_page
from shopops.api.exceptions import api_aware_handler, api_path_not_found
from shopops.health import healthz
from shopops.views import invitation_page

oauth2_urlpatterns = (
    [
        path("authorize/", oauth2_views.AuthorizationView.as_view(), name="authorize"),
        path("token/", oauth2_views.TokenView.as_view(), name="token"),
        path("revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="revoke-token"),
    ],
    "oauth2_provider",
)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("o/", include(oauth2_urlpatterns)),
    path("api/v1/", include("shopops.api.urls")),
    path("api/v1/", include("catalog.api.urls")),
    path("api/v1/", include("orders.api.urls")),
    path("api/v1/", include("shipping.api.urls")),
    path("track/", track_lookup, name="track-lookup"),
    path("track/<str:awb>/", track_lookup, name="track-lookup-awb"),
    path("track/<str:awb>/<str:token>/", track_page, name="track"),
    path("invitations/<str:token>/", invitation_page, name="invitation"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs pages load nothing from another host (templates/api_docs/).
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", template_name="api_docs/swagger_ui.html"),
        name="swagger-ui",
    ),
    path(
        "api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="api_docs/redoc.html"), name="redoc"
    ),
    # Last: whatever else is asked under /api/ or /o/ answers the API's JSON 404 in every mode.
    re_path(r"^(?:api|o)/", api_path_not_found),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = api_aware_handler(400, defaults.bad_request)
handler403 = api_aware_handler(403, defaults.permission_denied)
handler404 = api_aware_handler(404, defaults.page_not_found)
handler500 = api_aware_handler(500, defaults.server_error)
