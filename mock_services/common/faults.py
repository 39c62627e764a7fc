"""Fault injection: the test-only control plane under /__control and the middleware applying it.

Kinds: latency (sleep, then run normally, inside the idempotency in-flight window), error
(problem+json with `status`, default 500), rate_limit (429 + Retry-After), drop (TCP connection
closed with no response; nothing happens), lost_response (the operation runs, then the connection
is closed with no response), malformed (a 2xx whose JSON body violates the contract).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_services.common.asgi import CLOSE_CONNECTION_EXTENSION, capture, header
from mock_services.common.errors import ProblemError, logger, problem_response, status_slug

CONTROL_PREFIX = "/__control"
SCOPE_HEADER = "X-Test-Scope"
DELAY_SCOPE_KEY = "mock_services.delay"
FaultKind = Literal["latency", "error", "rate_limit", "drop", "lost_response", "malformed"]

DEFAULT_DELAY = 1.0
DEFAULT_ERROR_STATUS = 500
DEFAULT_RETRY_AFTER = 1


class FaultSpec(BaseModel):
    """What to break: `method` and `path` (a route template, "*" for any) select the requests."""

    model_config = ConfigDict(extra="forbid")

    method: str = Field(min_length=1, max_length=10)
    path: str = Field(min_length=1, max_length=300)
    kind: FaultKind
    status: int | None = Field(default=None, ge=200, le=599)
    delay: float | None = Field(default=None, ge=0, le=120)
    retry_after: int | None = Field(default=None, ge=0, le=86400)
    times: int = Field(default=1, ge=0, description="0 = until cleared")
    scope: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str) -> str:
        value = value.upper()
        if value != "*" and not value.isalpha():
            raise ValueError('an HTTP method such as "POST", or "*" for any')
        return value

    @model_validator(mode="after")
    def _status_fits_kind(self) -> FaultSpec:
        if self.status is None:
            return self
        if self.kind == "error" and self.status < 400:
            raise ValueError("an error fault needs a 4xx or 5xx status")
        if self.kind == "malformed" and not 200 <= self.status < 300:
            raise ValueError("a malformed fault answers with a 2xx status")
        if self.kind not in ("error", "malformed"):
            raise ValueError(f"status does not apply to {self.kind} faults")
        return self


class FaultCreated(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str


class FaultState(FaultSpec):
    """A fault as listed: its spec, how many more requests it hits, how many it has hit."""

    id: str
    remaining: int | None
    hits: int


class FaultList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[FaultState]


@dataclass
class Fault:
    id: str
    spec: FaultSpec
    remaining: int | None  # None = until cleared
    hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_hit(self) -> None:
        with self._lock:
            self.hits += 1

    def state(self) -> FaultState:
        with self._lock:
            return FaultState(
                **self.spec.model_dump(), id=self.id, remaining=self.remaining, hits=self.hits
            )


class FaultStore:
    """Thread-safe, first-added-first-matched list of faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, spec: FaultSpec) -> Fault:
        fault = Fault(str(uuid.uuid4()), spec, spec.times if spec.times > 0 else None)
        with self._lock:
            self._faults.append(fault)
        return fault

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, template: str, test_scope: str | None) -> Fault | None:
        """The first live fault matching the request, its remaining count used up by one."""
        with self._lock:
            for fault in self._faults:
                spec = fault.spec
                if fault.remaining == 0:
                    continue
                if spec.method not in ("*", method) or spec.path not in ("*", template):
                    continue
                if spec.scope is not None and spec.scope != test_scope:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault
        return None


def route_template(scope: Scope) -> str | None:
    """The path template of the route that fully matches the request (method included)."""
    for route in scope["app"].state.runtime.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            path: str = route.path_format  # "/users/{user_id}", without the convertor
            return path
    return None


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "not-a-boolean"
    if isinstance(value, int | float):
        return "not-a-number"
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return "not-an-array"
    if isinstance(value, dict):
        return "not-an-object"
    return {"not": "null"}


def malformed_body(body: bytes) -> bytes:
    """Every top-level field with the wrong type, plus a field the closed schema forbids."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    result: dict[str, Any] = {}
    if isinstance(document, dict):
        result = {key: _wrong_type(value) for key, value in document.items()}
    result["unexpected_field"] = "malformed"
    return json.dumps(result).encode()


async def close_without_response(scope: Scope) -> None:
    """Close the TCP connection before any byte of a response is written."""
    close: Callable[[], None] | None = scope.get("extensions", {}).get(CLOSE_CONNECTION_EXTENSION)
    if close is None:
        # Not under our uvicorn protocol (e.g. an in-process ASGI client): fail loudly instead.
        raise ConnectionAbortedError("drop/lost_response faults need mock_services.common.server")
    close()
    # Let uvicorn notice the closed transport, so it does not try to answer with a 500.
    await asyncio.sleep(0)
    await asyncio.sleep(0)


class FaultMiddleware:
    """Applies the first matching fault; sits inside auth and outside idempotency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        template = route_template(scope)
        store: FaultStore = scope["app"].state.runtime.faults
        fault = (
            store.take(scope["method"], template, header(scope, SCOPE_HEADER)) if template else None
        )
        if fault is None:
            await self.app(scope, receive, send)
            return
        spec = fault.spec
        logger.info("injecting %s on %s %s", spec.kind, scope["method"], template)
        if spec.kind == "latency":
            # Slept by DelayMiddleware, after the idempotency key is claimed.
            scope[DELAY_SCOPE_KEY] = (
                fault,
                spec.delay if spec.delay is not None else DEFAULT_DELAY,
            )
            await self.app(scope, receive, send)
            return
        fault.record_hit()
        if spec.kind == "error":
            status = spec.status or DEFAULT_ERROR_STATUS
            headers = {"Retry-After": str(spec.retry_after)} if spec.retry_after is not None else {}
            response = problem_response(
                status,
                status_slug(status),
                "Injected fault.",
                instance=scope["path"],
                headers=headers,
            )
            await response(scope, receive, send)
        elif spec.kind == "rate_limit":
            retry_after = spec.retry_after if spec.retry_after is not None else DEFAULT_RETRY_AFTER
            response = problem_response(
                429,
                "rate-limited",
                "Too many requests; retry after the delay in Retry-After.",
                instance=scope["path"],
                headers={"Retry-After": str(retry_after)},
            )
            await response(scope, receive, send)
        elif spec.kind == "drop":
            await close_without_response(scope)
        elif spec.kind == "lost_response":
            await capture(self.app, scope, receive)
            await close_without_response(scope)
        else:  # malformed
            captured = await capture(self.app, scope, receive)
            status = spec.status or (captured.status if 200 <= captured.status < 300 else 200)
            broken = captured.with_body(malformed_body(captured.body))
            broken.status = status
            broken.headers = [(k, v) for k, v in broken.headers if k.lower() != b"content-type"]
            broken.headers.append((b"content-type", b"application/json"))
            await broken.send_to(send)


class DelayMiddleware:
    """Sleeps a matched latency fault's delay right before the route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        delayed = scope.get(DELAY_SCOPE_KEY)
        if delayed is not None:
            fault, seconds = delayed
            fault.record_hit()
            await asyncio.sleep(seconds)
        await self.app(scope, receive, send)


control_router = APIRouter(prefix=CONTROL_PREFIX, tags=["control"], include_in_schema=True)


@control_router.post("/faults", status_code=201)
def add_fault(spec: FaultSpec, request: Request) -> FaultCreated:
    """Register a fault; its path must be one of the service's route templates (or "*")."""
    runtime = request.app.state.runtime
    if spec.path != "*":
        templates = {route.path_format for route in runtime.routes}
        if spec.path not in templates:
            raise ProblemError(
                422,
                "unknown-route",
                f"{spec.path!r} is not a route template of the {runtime.service} service.",
            )
    fault = runtime.faults.add(spec)
    return FaultCreated(id=fault.id)


@control_router.get("/faults")
def list_faults(request: Request) -> FaultList:
    """Every fault still registered, with its remaining count and hits."""
    return FaultList(items=[fault.state() for fault in request.app.state.runtime.faults.list()])


@control_router.delete("/faults", status_code=204)
def clear_faults(request: Request) -> Response:
    request.app.state.runtime.faults.clear()
    return Response(status_code=204)


@control_router.delete("/faults/{fault_id}", status_code=204)
def delete_fault(fault_id: Annotated[str, Path(max_length=64)], request: Request) -> Response:
    if not request.app.state.runtime.faults.remove(fault_id):
        raise ProblemError(404, "not-found", f"No fault {fault_id}.")
    return Response(status_code=204)


@control_router.post("/reset", status_code=204)
def reset(request: Request) -> Response:
    """Back to the start state: data (re-seeded), idempotency records and faults."""
    request.app.state.runtime.reset()
    return Response(status_code=204)
