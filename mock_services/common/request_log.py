"""What a stub received and when: every service request, logged on arrival, read by tests.

A test that must prove *how* a client behaved (it waited Retry-After before retrying, it made no
further call after losing a lease) reads the stub's own receive times from
`GET /__control/requests` instead of trusting the client's account of itself.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_services.common.asgi import header
from mock_services.common.errors import REQUEST_ID_SCOPE_KEY
from mock_services.common.faults import CONTROL_PREFIX
from mock_services.common.idempotency import REPLAYED_HEADER

MAX_LOGGED = 10_000


class ReceivedRequest(BaseModel):
    method: str
    path: str
    # Wall-clock seconds (time.time()) when the request line arrived, before any fault or auth.
    received_at: float
    request_id: str
    idempotency_key: str | None = None
    # The status the stub answered with (None: no answer yet, or the connection was closed
    # without one, as a drop or lost_response fault does) and how long it took to answer.
    status: int | None = None
    duration_ms: float | None = None
    # The answer came from the idempotency store (it carried `Idempotent-Replayed: true`).
    replayed: bool = False
    # The W3C trace context the caller sent (its client span), if any: tests follow a trace
    # into the stubs with it.
    traceparent: str | None = None


class ReceivedRequests(BaseModel):
    items: list[ReceivedRequest]


class RequestLog:
    """The last MAX_LOGGED requests of one stub, oldest first; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[ReceivedRequest] = deque(maxlen=MAX_LOGGED)

    def record(self, item: ReceivedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def items(self, *, method: str | None = None, path: str | None = None) -> list[ReceivedRequest]:
        with self._lock:
            return [
                item
                for item in self._items
                if (method is None or item.method == method.upper())
                and (path is None or item.path == path)
            ]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class RequestLogMiddleware:
    """Just inside the request-id layer: logs each service request as it arrives, then the
    status it was answered with and when."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        log: RequestLog = scope["app"].state.runtime.requests
        started = time.perf_counter()
        item = ReceivedRequest(
            method=scope["method"],
            path=scope["path"],
            received_at=time.time(),
            request_id=str(scope.get(REQUEST_ID_SCOPE_KEY, "")),
            idempotency_key=header(scope, "Idempotency-Key"),
            traceparent=header(scope, "traceparent"),
        )
        log.record(item)

        async def answered(message: Message) -> None:
            if message["type"] == "http.response.start":
                item.status = int(message["status"])
                item.replayed = _is_replay(message)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                item.duration_ms = (time.perf_counter() - started) * 1000
            await send(message)

        await self.app(scope, receive, answered)


def _is_replay(start: Message) -> bool:
    name, value = REPLAYED_HEADER
    return any(bytes(k).lower() == name and bytes(v) == value for k, v in start.get("headers", ()))


request_log_router = APIRouter(prefix=CONTROL_PREFIX, tags=["control"])


@request_log_router.get("/requests")
def list_requests(
    request: Request,
    method: Annotated[str | None, Query(max_length=10)] = None,
    path: Annotated[str | None, Query(max_length=2000)] = None,
) -> ReceivedRequests:
    """The service requests received so far (optionally one method and concrete path)."""
    log: RequestLog = request.app.state.runtime.requests
    return ReceivedRequests(items=log.items(method=method, path=path))


@request_log_router.delete("/requests", status_code=204)
def clear_requests(request: Request) -> Response:
    request.app.state.runtime.requests.clear()
    return Response(status_code=204)
