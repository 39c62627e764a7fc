"""The playground's URLs, under /playground/."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import choreography_views, views

app_name = "playground"

urlpatterns = [
    path("", views.page, name="page"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="playground/login.html", next_page="playground:page"
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="playground:login"), name="logout"),
    path("customers/<str:username>/token", views.token, name="token"),
    path("status.json", views.status, name="status"),
    path("faults", views.faults, name="faults"),
    path("worker/kill-after-charge", views.kill, name="kill"),
    path("sagas/<str:saga_id>.json", views.saga, name="saga"),
    path("sagas/<str:saga_id>/events.json", views.events, name="events"),
    path("sagas/<str:saga_id>/calls.json", views.calls, name="calls"),
    path("sagas/<str:saga_id>/trace.json", views.trace, name="trace"),
    path("sagas/<str:saga_id>/presets/<str:slug>.json", views.verdict, name="verdict"),
    path("checkouts", choreography_views.checkout_place, name="checkouts"),
    path("checkouts/<str:checkout_id>.json", choreography_views.checkout_feed, name="checkout"),
]
