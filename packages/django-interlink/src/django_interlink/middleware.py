"""Request-id middleware: each request served gets an id, bound for outgoing calls, echoed back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from .request_id import HEADER, META_KEY, bind_request_id, is_well_formed
from .tracing import record_request_id


class RequestIDMiddleware:
    """Reuse a well-formed incoming `X-Request-ID` (else make one), bind it, echo it back.

    The id is bound in a contextvar for the whole request, so service clients called from the
    view send the same `X-Request-ID`; it is also set as `request.request_id`. Works in sync and
    async stacks. Place it first in MIDDLEWARE so everything after it runs with the id bound.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    @staticmethod
    def _incoming(request: HttpRequest) -> str | None:
        value = request.META.get(META_KEY)
        return value if is_well_formed(value) else None

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        with bind_request_id(self._incoming(request)) as request_id:
            request.request_id = request_id  # type: ignore[attr-defined]
            record_request_id(request_id=request_id)  # on the server span, when tracing
            response: HttpResponseBase = self.get_response(request)
        response[HEADER] = request_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        with bind_request_id(self._incoming(request)) as request_id:
            request.request_id = request_id  # type: ignore[attr-defined]
            record_request_id(request_id=request_id)  # on the server span, when tracing
            response = await get_response(request)
        response[HEADER] = request_id
        return response
