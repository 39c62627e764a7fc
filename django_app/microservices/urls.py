"""URLs of the reusable app (the health endpoint)."""

from django.urls import path

urlpatterns: list[object] = []
