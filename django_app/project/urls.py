"""URL configuration of the example service: admin, the health endpoints, the orders API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("shop.api.urls")),
    path("", include("django_interlink.urls")),
]
