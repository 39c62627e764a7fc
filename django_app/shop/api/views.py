"""The orders API's views: parse, call a service, answer (contracts/shop.yaml)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase

from django_interlink.api.endpoints import api_endpoint, json_body, json_response
from django_interlink.api.idempotency import HEADER, fingerprint
from django_interlink.api.problems import IdempotencyKeyMissing

from . import services

REPLAYED = {"Idempotent-Replayed": "true"}
DEFAULT_LIMIT = 20


@api_endpoint(methods=["GET", "POST"], rate_limited=["POST"])
def orders(request: HttpRequest) -> HttpResponseBase:
    user = request.api_user  # type: ignore[attr-defined]
    if request.method == "GET":
        status = request.GET.get("status") or None
        limit = int(request.GET.get("limit", DEFAULT_LIMIT))
        return json_response(services.order_list(user=user, status=status, limit=limit))
    key = request.headers.get(HEADER)
    if not key:
        raise IdempotencyKeyMissing
    response, replayed = services.order_accept(
        user=user,
        payload=json_body(request),
        idempotency_key=key,
        fingerprint=fingerprint(method="POST", path=request.path, body=request.body),
    )
    headers = {**response.headers, **(REPLAYED if replayed else {})}
    return json_response(response.body, status=response.status, headers=headers)


@api_endpoint(methods=["GET"])
def order(request: HttpRequest, order_request_id: str) -> HttpResponseBase:
    body = services.order_detail(
        user=request.api_user,  # type: ignore[attr-defined]
        order_request_id=order_request_id,
    )
    return json_response(body)
