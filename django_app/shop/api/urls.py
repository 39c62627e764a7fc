"""URLs of the orders API (contracts/shop.yaml); the project mounts them at its root."""

from django.urls import path

from . import views

app_name = "shop_api"

urlpatterns = [
    path("api/orders", views.orders, name="orders"),
    path("api/orders/<str:order_request_id>", views.order, name="order"),
]
