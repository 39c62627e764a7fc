"""The project's URLs plus the playground's (ROOT_URLCONF of project.settings.playground)."""

from django.urls import include, path

from project.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    path("playground/", include("project.playground.urls")),
]
