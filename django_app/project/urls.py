"""URL configuration of the example service: admin and the health endpoint."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("microservices.urls")),
]
