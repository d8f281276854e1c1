"""The /api/v1/ URL conf: each app adds its routes here."""

from django.urls import path

from shopops.api import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
]
