"""Idempotency-Key (IETF draft-ietf-httpapi-idempotency-key-header) for every POST of a stub.

Same key + same body replays the stored response with `Idempotent-Replayed: true`; same key +
different body is 422; same key while the first request still runs is 409. Keys are scoped by
service, bearer token and request path. 5xx, 401, 403, 408 and 429 answers are not stored, so a
retry after them runs the operation again, and neither are refusals before the operation ran
(malformed body, failed validation).

A request with a known key first goes through its own route, so a retry the route would refuse
under a fresh key (bad header, content type, body or parameter) gets that same refusal instead of
a replay, 409 or key-reused 422, and the stored record is left as it was. Every service route is
a `ReplayableRoute`: its endpoint is wrapped so that, while `_VALIDATE_ONLY` is set, it raises
`RequestValidated` instead of running. FastAPI calls the endpoint only once all validation
passed, so the signal means "valid" and any response is the route's refusal. The wrapper keeps
the endpoint's signature (`functools.wraps`) and its sync/async kind, which FastAPI reads when it
builds the route. The flag is a contextvar: per request, and seen by sync endpoints too, as the
threadpool runs them in a copy of the context.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_services.common.asgi import CapturedResponse, header, read_body, replay_receive
from mock_services.common.auth import bearer_token
from mock_services.common.errors import NOT_EXECUTED_SCOPE_KEY, problem_response

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 255
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
_NOT_STORED = frozenset({401, 403, 408, 429})
# Per-response headers that must come from the replaying request, not the stored one.
_FRESH_HEADERS = frozenset({b"x-request-id", b"date", b"server"})
# Set while a request goes through its route only to be validated.
_VALIDATE_ONLY: ContextVar[bool] = ContextVar("mock_services.validate_only", default=False)


class RequestValidated(Exception):
    """Raised instead of the endpoint: the request passed its route's validation."""


def _skipped_when_validating(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint):
        raise TypeError(f"{endpoint.__qualname__}: streaming endpoints cannot be replayed")
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def async_endpoint(*args: Any, **kwargs: Any) -> Any:
            if _VALIDATE_ONLY.get():
                raise RequestValidated
            return await endpoint(*args, **kwargs)

        return async_endpoint

    @functools.wraps(endpoint)
    def sync_endpoint(*args: Any, **kwargs: Any) -> Any:
        if _VALIDATE_ONLY.get():
            raise RequestValidated
        return endpoint(*args, **kwargs)

    return sync_endpoint


class ReplayableRoute(APIRoute):
    """An APIRoute whose request validation can run without its endpoint (`route_class=`)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _skipped_when_validating(endpoint), **kwargs)


@dataclass
class _Record:
    fingerprint: str
    response: CapturedResponse | None = None  # None while the first request is in flight


class IdempotencyStore:
    """Thread-safe map of (service, token digest, path, key) -> record."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str, str, str], _Record] = {}

    def claim(
        self, scope_key: tuple[str, str, str, str], fingerprint: str
    ) -> tuple[str, CapturedResponse | None]:
        """Returns ("new", None), ("replay", response), ("conflict", None) or ("mismatch", None)."""
        with self._lock:
            record = self._records.get(scope_key)
            if record is None:
                self._records[scope_key] = _Record(fingerprint)
                return "new", None
            if record.fingerprint != fingerprint:
                return "mismatch", None
            if record.response is None:
                return "conflict", None
            return "replay", record.response

    def complete(self, scope_key: tuple[str, str, str, str], response: CapturedResponse) -> None:
        with self._lock:
            record = self._records.get(scope_key)
            if record is not None:
                record.response = response

    def release(self, scope_key: tuple[str, str, str, str]) -> None:
        with self._lock:
            self._records.pop(scope_key, None)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


def body_fingerprint(body: bytes) -> str:
    """Equal JSON documents (any key order or spacing) match; other bodies match by bytes."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = b"raw:" + body
    return hashlib.sha256(canonical).hexdigest()


def valid_key(key: str | None) -> bool:
    """Keys the route would accept; anything else is left to FastAPI's 422."""
    return key is not None and 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH


class IdempotencyMiddleware:
    """Runs inside auth and fault injection, around the routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, IDEMPOTENCY_KEY_HEADER) if scope["type"] == "http" else None
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"].startswith("/__control")
            or not valid_key(key)
        ):
            await self.app(scope, receive, send)
            return
        assert key is not None
        runtime = scope["app"].state.runtime
        store: IdempotencyStore = runtime.idempotency
        token = bearer_token(header(scope, "authorization")) or ""
        token_digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        scope_key = (runtime.service, token_digest, scope["path"], key)

        body, disconnected = await read_body(receive)
        if disconnected:
            return
        outcome, stored = store.claim(scope_key, body_fingerprint(body))
        # Only a request its route accepts is answered by the key (replay, 409 or 422); a new one
        # is validated as it runs.
        if outcome != "new" and not await self._route_accepts(
            scope, replay_receive(body, receive), send
        ):
            return
        if outcome == "mismatch":
            response = problem_response(
                422,
                "idempotency-key-reused",
                "This Idempotency-Key was already used with a different request body.",
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return
        if outcome == "conflict":
            response = problem_response(
                409,
                "idempotency-key-in-use",
                "A request with this Idempotency-Key is still being processed; retry later.",
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return
        if outcome == "replay":
            assert stored is not None
            await stored.send_to(send, extra_headers=[REPLAYED_HEADER])
            return

        captured = CapturedResponse()
        chunks: list[bytes] = []

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.status = int(message["status"])
                captured.headers = [
                    (bytes(k), bytes(v))
                    for k, v in message.get("headers", ())
                    if bytes(k).lower() not in _FRESH_HEADERS
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive(body, receive), _send)
        except BaseException:
            store.release(scope_key)
            raise
        captured.body = b"".join(chunks)
        if (
            captured.status == 0
            or captured.status >= 500
            or captured.status in _NOT_STORED
            or scope.get(NOT_EXECUTED_SCOPE_KEY)
        ):
            store.release(scope_key)
        else:
            store.complete(scope_key, captured)

    async def _route_accepts(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Validate the request as its route does, without running it; else send the refusal."""
        token = _VALIDATE_ONLY.set(True)
        try:
            await self.app(scope, receive, send)
        except RequestValidated:
            return True
        finally:
            _VALIDATE_ONLY.reset(token)
        return False


def _idempotency_key_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            min_length=1,
            max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
            description="Makes a retried POST safe: the first response is replayed.",
        ),
    ] = None,
) -> None:
    """Declares (and validates) the optional Idempotency-Key header on a POST operation."""


IdempotencyKeyHeader = Depends(_idempotency_key_header)
