"""Test-only URLs: a view that calls the users service, to follow the request id across."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from django_interlink.request_id import current_request_id
from shop.clients.users import UserServiceClient


def search_view(request: HttpRequest) -> JsonResponse:
    """Calls searchUsers and reports the id the stub echoed next to the id bound here."""
    with UserServiceClient() as client:
        response = client.get("/users/search", operation="searchUsers", params={"q": "a"})
    return JsonResponse(
        {
            "bound": current_request_id(),
            "echoed_by_stub": response.headers.get("X-Request-ID"),
            "request_id": response.request_id,
        }
    )


def whoami_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"bound": current_request_id()})


async def async_whoami_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"bound": current_request_id()})


urlpatterns = [
    path("search/", search_view),
    path("whoami/", whoami_view),
    path("async-whoami/", async_whoami_view),
]
