"""URLs of the reusable app (the health endpoint)."""

from django.urls import path

from . import views

app_name = "microservices"

urlpatterns = [
    path("health/", views.health, name="health"),
]
