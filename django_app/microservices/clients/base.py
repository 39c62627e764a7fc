"""`ServiceClient`: the one HTTP path to the services (retries, auth, request ids, contracts).

Every call:
- carries `X-Request-ID` (the inbound request's id while serving one, else a new one) and the
  service's bearer token;
- is retried by urllib3 on connection errors and 429/500/502/503/504 with exponential backoff,
  waiting what `Retry-After` asks up to RETRY_AFTER_MAX (a longer wait is not retried: the
  caller gets `ServiceUnavailable` with `retry_after`); a POST is retried only when it carries
  an `Idempotency-Key`, since only then can the service apply it once;
- is validated against `contracts/<service>.yaml`, request before sending, response after;
- is logged once with service, operation, method, path, status, duration and request id
  (never the token);
- ends in a parsed body or a typed `ServiceError` (see microservices/exceptions.py).

Subclasses override `resolve_base_url()` (where to send) and `send()` (the single network path).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self
from urllib.parse import quote as _urlquote
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ImproperlyConfigured
from urllib3.util.retry import Retry

from ..conf import ms_settings
from ..exceptions import ContractViolation, ServiceConnectionError, ServiceTimeoutError
from ..request_id import HEADER as REQUEST_ID_HEADER
from ..request_id import request_id_for_call
from .contract import Call, contract_for, should_validate
from .responses import ACCEPT, OPERATIONAL_STATUSES, ServiceResponse, read_response
from .transport import (
    IDEMPOTENCY_HEADER,
    UNSAFE_METHODS,
    IdempotencyAwareAdapter,
    ServiceRetry,
    retries_logged_as,
    send,
)

logger = logging.getLogger("microservices.clients")


def quote(segment: str) -> str:
    """A path parameter made safe to splice into a path ("/" and "?" included)."""
    return _urlquote(str(segment), safe="")


class ServiceClient:
    """HTTP client of one service configured in MICROSERVICES['SERVICES'][<service>].

    `base_url` may be a URL or a zero-argument callable returning one (evaluated per call);
    by default it is the service's BASE_URL setting. Settings are read when the client is made.
    """

    service_name: ClassVar[str] = ""

    def __init__(
        self,
        service: str | None = None,
        *,
        base_url: str | Callable[[], str] | None = None,
    ) -> None:
        self.service = service or self.service_name
        if not self.service:
            raise ImproperlyConfigured("ServiceClient needs a service name")
        try:
            self.config: dict[str, Any] = ms_settings.service(self.service)
        except KeyError as exc:
            raise ImproperlyConfigured(str(exc)) from exc
        self._base_url = base_url
        self.timeout: tuple[float, float] = (
            float(self.config["CONNECT_TIMEOUT"]),
            float(self.config["TIMEOUT"]),
        )
        self.session = self.build_session()

    # -- construction -------------------------------------------------------------------

    def build_retry(self) -> Retry:
        return ServiceRetry.from_settings(self.config["RETRY"])

    def build_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no proxies or .netrc credentials picked up from the machine
        adapter = IdempotencyAwareAdapter(self.build_retry())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["Accept"] = ACCEPT
        session.headers["User-Agent"] = f"microservices-client/{self.service}"
        if self.config["API_KEY"]:
            session.headers["Authorization"] = f"Bearer {self.config['API_KEY']}"
        return session

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:  # never the API key
        base = self._base_url if isinstance(self._base_url, str) else self.config["BASE_URL"]
        return f"<{type(self).__name__} {self.service} {base or '(resolved per call)'}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the two extension points --------------------------------------------------------

    def resolve_base_url(self) -> str:
        """Where this call goes: the `base_url` given, else the BASE_URL setting."""
        if callable(self._base_url):
            return self._base_url()
        if self._base_url:
            return self._base_url
        base: str = self.config["BASE_URL"]
        if not base:
            raise ImproperlyConfigured(
                f"MICROSERVICES['SERVICES'][{self.service!r}] has no BASE_URL"
            )
        return base

    def send(
        self, prepared: requests.PreparedRequest, *, timeout: tuple[float, float], operation: str
    ) -> requests.Response:
        """Send one logical call (urllib3 retries included); transport failures -> typed errors."""
        return send(
            self.session, prepared, timeout=timeout, service=self.service, operation=operation
        )

    # -- calls ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        idempotent: bool = False,
        timeout: tuple[float, float] | float | None = None,
    ) -> ServiceResponse:
        """Make one logical call; returns the parsed response or raises a `ServiceError`.

        `path` is relative to the base URL (path parameters already quoted). For POST/PATCH,
        `idempotency_key` (or `idempotent=True`, which makes one for this call) makes the call
        retryable; the same key is reused by every retry of this call.
        """
        method = method.upper()
        request_id = request_id_for_call()
        all_headers = {REQUEST_ID_HEADER: request_id, **(headers or {})}
        if method in UNSAFE_METHODS and (idempotency_key or idempotent):
            all_headers[IDEMPOTENCY_HEADER] = idempotency_key or str(uuid.uuid4())
        base = self.resolve_base_url().rstrip("/")
        prepared = self.session.prepare_request(
            requests.Request(
                method,
                base + path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                json=json_body,
                headers=all_headers,
            )
        )
        split = urlsplit(prepared.url or "")
        relative_path = split.path[len(urlsplit(base).path) :] or "/"
        call = Call(
            method=method,
            path=relative_path,
            query=split.query,
            headers=dict(prepared.headers),
            body=prepared.body.encode() if isinstance(prepared.body, str) else prepared.body,
            content_type=prepared.headers.get("Content-Type", ""),
        )
        validate = should_validate()
        if validate:
            contract_for(self.service).check_request(call, operation=operation)

        resolved_timeout = (
            self.timeout
            if timeout is None
            else (timeout if isinstance(timeout, tuple) else (self.timeout[0], float(timeout)))
        )
        log_fields: dict[str, Any] = {
            "event": "call",
            "service": self.service,
            "operation": operation,
            "method": method,
            "path": relative_path,
            "request_id": request_id,
        }
        started = time.perf_counter()
        try:
            with retries_logged_as(self.service, operation, request_id):
                response = self.send(prepared, timeout=resolved_timeout, operation=operation)
        except (ServiceTimeoutError, ServiceConnectionError) as exc:
            duration_ms = (time.perf_counter() - started) * 1000
            logger.warning(
                "%s.%s %s %s failed: %s after %.1f ms request_id=%s",
                self.service,
                operation,
                method,
                relative_path,
                type(exc).__name__,
                duration_ms,
                request_id,
                extra={**log_fields, "status": None, "duration_ms": duration_ms, "error": exc},
            )
            raise
        duration_ms = (time.perf_counter() - started) * 1000
        retries = getattr(response.raw, "retries", None)
        attempts = len(retries.history) + 1 if retries is not None else 1
        status = response.status_code
        logger.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "%s.%s %s %s -> %d in %.1f ms (attempts=%d) request_id=%s",
            self.service,
            operation,
            method,
            relative_path,
            status,
            duration_ms,
            attempts,
            request_id,
            extra={
                **log_fields,
                "status": status,
                "duration_ms": duration_ms,
                "attempts": attempts,
            },
        )
        violation = self._check_response(call, response, operation=operation) if validate else None
        return read_response(
            response,
            service=self.service,
            operation=operation,
            request_id=request_id,
            duration_ms=duration_ms,
            attempts=attempts,
            cause=violation,
        )

    def _check_response(
        self, call: Call, response: requests.Response, *, operation: str
    ) -> ContractViolation | None:
        """Raise if the response breaks the contract; a 429/5xx that does is returned instead.

        A 429/5xx may come from a proxy or gateway in front of the service (an HTML 502 page):
        the caller needs "unavailable, retry later", not a contract error.
        """
        status = response.status_code
        try:
            contract_for(self.service).check_response(
                call,
                status=status,
                headers=response.headers,
                body=response.content,
                operation=operation,
                response=response,
            )
        except ContractViolation as exc:
            if status not in OPERATIONAL_STATUSES:
                raise
            logger.warning(
                "%s.%s: %d response does not match the contract: %s",
                self.service,
                operation,
                status,
                exc.message,
                extra={"event": "contract", "service": self.service, "operation": operation},
            )
            return exc
        return None

    def get(
        self,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ServiceResponse:
        return self.request("GET", path, operation=operation, params=params, headers=headers)

    def post(
        self,
        path: str,
        *,
        operation: str,
        json: Any = None,
        idempotency_key: str | None = None,
        idempotent: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> ServiceResponse:
        return self.request(
            "POST",
            path,
            operation=operation,
            json_body=json,
            idempotency_key=idempotency_key,
            idempotent=idempotent,
            headers=headers,
        )

    def put(
        self,
        path: str,
        *,
        operation: str,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> ServiceResponse:
        return self.request("PUT", path, operation=operation, json_body=json, headers=headers)

    def delete(
        self, path: str, *, operation: str, headers: Mapping[str, str] | None = None
    ) -> ServiceResponse:
        return self.request("DELETE", path, operation=operation, headers=headers)
