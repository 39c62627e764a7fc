"""`ServiceClient`: the one HTTP path to the services.

Every call takes the same road, so every call gets the same guarantees. It
- first runs the caller's guards (call_guards.py), which may stop it before anything is sent;
- carries `X-Request-ID` (the inbound request's id while serving one, else a new one) and the
  service's bearer token;
- goes where the client's endpoint strategy says (endpoint.py, discovery.py);
- is retried only where that is safe (transport.py);
- is validated against `contracts/<service>.yaml`, request before sending, response after
  (contract.py);
- is logged once with service, operation, method, path, status, duration and request id
  (never the token);
- ends in a parsed body or a typed `ServiceError` (responses.py).
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Self
from urllib.parse import quote as _urlquote
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ImproperlyConfigured

from ..call_guards import run_guards
from ..conf import ms_settings
from ..exceptions import ContractViolation, ServiceConnectionError, ServiceTimeoutError
from ..http_statuses import UNAVAILABLE_STATUSES
from ..metrics import instruments
from ..request_id import HEADER as REQUEST_ID_HEADER
from ..request_id import request_id_for_call
from .contract import Call, contract_for, should_validate
from .endpoint import Endpoint, Route, StaticEndpoint
from .responses import ACCEPT, ServiceResponse, read_response
from .transport import (
    IDEMPOTENCY_HEADER,
    UNSAFE_METHODS,
    IdempotencyAwareAdapter,
    ServiceRetry,
    retries_logged_as,
    transmit,
)

logger = logging.getLogger("django_interlink.clients")


def quote(segment: str) -> str:
    """A path parameter made safe to splice into a path ("/" and "?" included)."""
    return _urlquote(str(segment), safe="")


class ServiceClient:
    """HTTP client of one service configured in INTERLINK['SERVICES'][<service>].

    `endpoint` decides where calls go; by default a `StaticEndpoint` on the service's BASE_URL
    (factory.build_client() passes a `RegistryFailover` when DISCOVERY is on). Settings are
    read when the client is made.
    """

    service_name: ClassVar[str] = ""

    def __init__(self, service: str | None = None, *, endpoint: Endpoint | None = None) -> None:
        self.service = service or self.service_name
        if not self.service:
            raise ImproperlyConfigured("ServiceClient needs a service name")
        try:
            self.config: dict[str, Any] = ms_settings.service(self.service)
        except KeyError as exc:
            raise ImproperlyConfigured(str(exc)) from exc
        self.endpoint: Endpoint = (
            endpoint
            if endpoint is not None
            else StaticEndpoint(self.config["BASE_URL"], service=self.service)
        )
        self.timeout: tuple[float, float] = (
            float(self.config["CONNECT_TIMEOUT"]),
            float(self.config["TIMEOUT"]),
        )
        self.session = self.build_session()

    def build_session(self) -> requests.Session:
        retry = self.endpoint.adapt_retry(ServiceRetry.from_settings(self.config["RETRY"]))
        session = requests.Session()
        session.trust_env = False  # no proxies or .netrc credentials picked up from the machine
        adapter = IdempotencyAwareAdapter(retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["Accept"] = ACCEPT
        session.headers["User-Agent"] = f"interlink-client/{self.service}"
        if self.config["API_KEY"]:
            session.headers["Authorization"] = f"Bearer {self.config['API_KEY']}"
        return session

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:  # never the API key
        return f"<{type(self).__name__} {self.service} {self.endpoint}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one call ---------------------------------------------------------------------------

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
        run_guards()
        method = method.upper()
        request_id = request_id_for_call()
        all_headers = {REQUEST_ID_HEADER: request_id, **(headers or {})}
        if method in UNSAFE_METHODS and (idempotency_key or idempotent):
            all_headers[IDEMPOTENCY_HEADER] = idempotency_key or str(uuid.uuid4())
        route = self.endpoint.route()
        prepared, call = self._prepare(
            route, method, path, params=params, json_body=json_body, headers=all_headers
        )
        validate = should_validate()
        if validate:
            contract_for(self.service).check_request(call, operation=operation)
        response, duration_ms, attempts, unanswered = self._send(
            route,
            prepared,
            call,
            operation=operation,
            request_id=request_id,
            timeout=self._timeout(timeout),
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
            sent_unanswered=unanswered,
        )

    def _prepare(
        self,
        route: Route,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str],
    ) -> tuple[requests.PreparedRequest, Call]:
        """The request as sent (on the route's base URL) and as the contract sees it."""
        base = route.base_url.rstrip("/")
        prepared = self.session.prepare_request(
            requests.Request(
                method,
                base + path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                json=json_body,
                headers=headers,
            )
        )
        split = urlsplit(prepared.url or "")
        call = Call(
            method=method,
            path=split.path[len(urlsplit(base).path) :] or "/",
            query=split.query,
            headers=dict(prepared.headers),
            body=prepared.body.encode() if isinstance(prepared.body, str) else prepared.body,
            content_type=prepared.headers.get("Content-Type", ""),
        )
        return prepared, call

    def _timeout(self, timeout: tuple[float, float] | float | None) -> tuple[float, float]:
        """(connect, read) seconds: the settings', or a read timeout given for this call."""
        if timeout is None:
            return self.timeout
        return timeout if isinstance(timeout, tuple) else (self.timeout[0], float(timeout))

    def _send(
        self,
        route: Route,
        prepared: requests.PreparedRequest,
        call: Call,
        *,
        operation: str,
        request_id: str,
        timeout: tuple[float, float],
    ) -> tuple[requests.Response, float, int, bool]:
        """Send along `route` and log the outcome once; (response, duration in ms, attempts,
        whether an earlier attempt may have reached the service unanswered)."""
        log_fields: dict[str, Any] = {
            "event": "call",
            "service": self.service,
            "operation": operation,
            "method": call.method,
            "path": call.path,
            "request_id": request_id,
        }
        send = functools.partial(
            transmit, self.session, timeout=timeout, service=self.service, operation=operation
        )
        started = time.perf_counter()
        try:
            with retries_logged_as(self.service, operation, request_id) as attempts_seen:
                response = route.send(prepared, send, service=self.service, operation=operation)
        except (ServiceTimeoutError, ServiceConnectionError) as exc:
            duration_ms = (time.perf_counter() - started) * 1000
            failed = "timeout" if isinstance(exc, ServiceTimeoutError) else "connection_error"
            instruments.client_call(self.service, operation, failed, duration_ms / 1000)
            logger.warning(
                "%s.%s %s %s failed: %s after %.1f ms request_id=%s",
                self.service,
                operation,
                call.method,
                call.path,
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
        instruments.client_call(self.service, operation, str(status), duration_ms / 1000)
        logger.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "%s.%s %s %s -> %d in %.1f ms (attempts=%d) request_id=%s",
            self.service,
            operation,
            call.method,
            call.path,
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
        return response, duration_ms, attempts, attempts_seen.unanswered

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
            if status not in UNAVAILABLE_STATUSES:
                # The call was answered, but not in a way we can trust: its effect is unknown.
                exc.sent_unanswered = True
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

    # -- by method ------------------------------------------------------------------------

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
