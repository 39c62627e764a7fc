"""URLs of the reusable app: liveness, readiness and metrics."""

from django.urls import path

from . import views

app_name = "interlink"

urlpatterns = [
    path("health/live/", views.liveness, name="liveness"),
    path("health/ready/", views.readiness, name="readiness"),
    path("metrics", views.metrics, name="metrics"),
]
