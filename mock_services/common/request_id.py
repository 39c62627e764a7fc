"""X-Request-ID: echo the caller's id (or mint one) on every response, including errors."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import Depends, Header
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_services.common.asgi import header
from mock_services.common.errors import REQUEST_ID_SCOPE_KEY

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_MAX_LENGTH = 200
# Printable ASCII without spaces: safe to echo into a response header.
_VALID_REQUEST_ID = re.compile(rf"^[\x21-\x7e]{{1,{REQUEST_ID_MAX_LENGTH}}}$")


def request_id_for(scope: Scope) -> str:
    """The caller's X-Request-ID if it is echo-safe, else a fresh UUID."""
    given = header(scope, REQUEST_ID_HEADER)
    if given is not None and _VALID_REQUEST_ID.match(given):
        return given
    return str(uuid.uuid4())


class RequestIdMiddleware:
    """Outermost layer: fixes the request id and stamps it on the response headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope)
        scope[REQUEST_ID_SCOPE_KEY] = request_id

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, _send)


def _request_id_header(
    x_request_id: Annotated[
        str | None,
        Header(
            alias=REQUEST_ID_HEADER,
            min_length=1,
            max_length=REQUEST_ID_MAX_LENGTH,
            pattern=r"^[\x21-\x7e]+$",
            description="Correlation id, echoed on the response; minted when absent.",
        ),
    ] = None,
) -> None:
    """Declares (and validates) the optional X-Request-ID header on every operation."""


RequestIdHeader = Depends(_request_id_header)
