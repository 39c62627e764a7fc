"""Request-id middleware: each request served gets an id, bound for outgoing calls, echoed back."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from .request_id import HEADER, META_KEY, bind_request_id, is_well_formed


class RequestIDMiddleware:
    """Reuse a well-formed incoming `X-Request-ID` (else make one), bind it, echo it back.

    The id is bound in a contextvar for the whole request, so service clients called from the
    view send the same `X-Request-ID`; it is also set as `request.request_id`.
    Place it first in MIDDLEWARE so everything after it runs with the id bound.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.META.get(META_KEY)
        with bind_request_id(incoming if is_well_formed(incoming) else None) as request_id:
            request.request_id = request_id  # type: ignore[attr-defined]
            response = self.get_response(request)
        response[HEADER] = request_id
        return response
