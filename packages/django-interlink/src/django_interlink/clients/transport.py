"""How a call travels: urllib3's retry policy, the Idempotency-Key rule, typed transport errors.

A request is re-sent only when re-sending is safe. Connection errors and
429/500/502/503/504 are retried with exponential backoff, waiting what `Retry-After` asks up to
RETRY_AFTER_MAX (a longer wait is not retried: the caller gets the response and reschedules);
a POST/PATCH is retried only when it carries an `Idempotency-Key`, since only then can the
service apply it once.

The transport also keeps the one fact a caller cannot learn afterwards: whether an attempt may
have reached the service with no answer coming back (a read timeout, a connection dropped after
sending). A call whose every attempt failed to connect provably never arrived; its typed error
says so (`ServiceError.sent_unanswered` is False), so a saga records it as not done instead of
replaying it to find out.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from ..backoff import exponential_backoff
from ..exceptions import ServiceConnectionError, ServiceTimeoutError
from ..metrics import instruments

logger = logging.getLogger("django_interlink.clients")

IDEMPOTENCY_HEADER = "Idempotency-Key"
UNSAFE_METHODS = frozenset({"POST", "PATCH"})


def may_retry(request: requests.PreparedRequest) -> bool:
    """Whether re-sending `request` is safe: not a POST/PATCH, or one with an Idempotency-Key."""
    method = (request.method or "").upper()
    return method not in UNSAFE_METHODS or IDEMPOTENCY_HEADER in request.headers


def never_connected(exc: BaseException | None) -> bool:
    """True when the cause chain shows the TCP connection was never established, so not a
    byte of the request reached the service (refused, unreachable, connect timeout)."""
    seen = exc
    while seen is not None:
        # urllib3's NewConnectionError (refused, DNS) is a ConnectTimeoutError.
        if isinstance(seen, NewConnectionError | ConnectTimeoutError):
            return True
        reason = getattr(seen, "reason", None)
        if isinstance(reason, NewConnectionError | ConnectTimeoutError):
            return True
        if isinstance(seen, requests.ConnectionError) and seen.args:
            inner = getattr(seen.args[0], "reason", None)
            if isinstance(inner, NewConnectionError | ConnectTimeoutError):
                return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass
class CallAttempts:
    """One logical call as the transport saw it, across its retries and instances."""

    service: str
    operation: str
    request_id: str
    # Set once an attempt failed after it may have reached the service (a read timeout, a
    # connection dropped once sent): what that attempt did is unknown.
    unanswered: bool = False

    def failed(self, error: BaseException | None) -> None:
        """Note an attempt that ended without a response."""
        if error is not None and not never_connected(error):
            self.unanswered = True


# Lets the retry policy (deep inside urllib3) name the call it is retrying in its log lines,
# and note the attempts that may have reached the service.
_current_call: ContextVar[CallAttempts | None] = ContextVar("interlink_call", default=None)


@contextmanager
def retries_logged_as(service: str, operation: str, request_id: str) -> Iterator[CallAttempts]:
    """Retries made inside the block are logged as retries of this call; the yielded record
    says whether any attempt may have reached the service unanswered."""
    call = CallAttempts(service, operation, request_id)
    token = _current_call.set(call)
    try:
        yield call
    finally:
        _current_call.reset(token)


def retry_after_seconds(value: str) -> float | None:
    """Seconds to wait per a Retry-After value (delay-seconds, decimals tolerated, or HTTP-date)."""
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class ServiceRetry(Retry):
    """urllib3 `Retry` that logs each retry and gives up when Retry-After exceeds its cap.

    urllib3 would clamp a long Retry-After and retry early, which mostly earns another 429/503
    and burns the retry budget; we return the response instead, so the caller gets
    `ServiceUnavailable` with `retry_after` and can reschedule the work.
    """

    @classmethod
    def from_settings(cls, conf: Mapping[str, Any]) -> ServiceRetry:
        """The policy a service's RETRY settings describe."""
        return cls(
            total=int(conf["TOTAL"]),
            backoff_factor=float(conf["BACKOFF_FACTOR"]),
            backoff_max=float(conf["BACKOFF_MAX"]),
            status_forcelist=frozenset(int(s) for s in conf["STATUS_FORCELIST"]),
            # Which POSTs reach this policy is decided by IdempotencyAwareAdapter.
            allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"}),
            respect_retry_after_header=True,
            retry_after_max=float(conf["RETRY_AFTER_MAX"]),  # type: ignore[arg-type]
            raise_on_status=False,
            redirect=False,
        )

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> ServiceRetry:
        wait: float | None = None
        if response is not None and self.respect_retry_after_header:
            raw = response.headers.get("Retry-After")
            if raw is not None:  # sleep() honours it whatever the status, so the cap does too
                wait = retry_after_seconds(raw)
                if wait is not None and wait > self.retry_after_max:
                    reason = ResponseError(
                        f"Retry-After {wait:g}s exceeds RETRY_AFTER_MAX {self.retry_after_max:g}s"
                    )
                    raise MaxRetryError(_pool, url or "", reason)  # type: ignore[arg-type]
        call = _current_call.get()
        if call is not None:
            call.failed(error)
        new: ServiceRetry = super().increment(method, url, response, error, _pool, _stacktrace)
        if not wait:  # like Retry.sleep(): no (or a zero) Retry-After means the backoff
            wait = new.get_backoff_time()
        cause = f"status {response.status}" if response is not None else type(error).__name__
        if call is not None:
            status = str(response.status) if response is not None else type(error).__name__
            instruments.client_retry(call.service, status)
        logger.info(
            "retry %s.%s %s %s after %s: attempt %d, waiting %.3fs%s",
            call.service if call else "?",
            call.operation if call else "?",
            method,
            urlsplit(url or "").path,
            cause,
            len(new.history) + 1,
            wait,
            " (Retry-After)" if response is not None and "Retry-After" in response.headers else "",
            extra={
                "service": call.service if call else None,
                "operation": call.operation if call else None,
                "request_id": call.request_id if call else None,
                "event": "retry",
                "cause": cause,
                "status": response.status if response is not None else None,
                "wait_s": wait,
                "retry_after": "Retry-After" in response.headers if response is not None else False,
            },
        )
        return new

    def parse_retry_after(self, retry_after: str) -> float:
        seconds = retry_after_seconds(retry_after)
        if seconds is None:
            return 0.0  # unparsable: sleep() falls back to the exponential backoff
        return min(seconds, float(self.retry_after_max))


def requests_per_call(retry: Mapping[str, Any]) -> int:
    """How many requests one call may send under a service's RETRY settings: the first and
    TOTAL retries (a retry only when re-sending is safe, see `may_retry`)."""
    return int(retry["TOTAL"]) + 1


def longest_call_seconds(conf: Mapping[str, Any]) -> float:
    """How long one call to a service (`conf`: its settings) can block, its retries included:
    every one of the RETRY TOTAL + 1 attempts may spend its connect and read timeouts, and the
    longest wait before each retry. Per instance: with DISCOVERY, a call that cannot connect
    starts again on the next instance."""
    retry = conf["RETRY"]
    attempts = requests_per_call(retry)
    per_attempt = float(conf["CONNECT_TIMEOUT"]) + float(conf["TIMEOUT"])
    return attempts * per_attempt + sum(_longest_wait(n, retry) for n in range(1, attempts))


def _longest_wait(retry_number: int, retry: Mapping[str, Any]) -> float:
    """Before a retry urllib3 sleeps what Retry-After asks (up to RETRY_AFTER_MAX: a longer one
    is not retried) or else the backoff, never both; no backoff before the first retry."""
    backoff = 0.0
    if retry_number > 1:
        base, cap = float(retry["BACKOFF_FACTOR"]), float(retry["BACKOFF_MAX"])
        backoff = exponential_backoff(retry_number, base=base, cap=cap)
    return max(float(retry["RETRY_AFTER_MAX"]), backoff)


class IdempotencyAwareAdapter(BaseAdapter):
    """Routes each request to a retrying or a single-shot urllib3 pool.

    urllib3's retry policy is per adapter and blind to headers, yet whether a POST may be
    retried depends on its Idempotency-Key: a POST/PATCH without one is sent exactly once
    (even a connection error may hide a request the service already applied).
    """

    def __init__(self, retry: Retry, *, pool_maxsize: int = 10) -> None:
        super().__init__()
        self.retrying = HTTPAdapter(max_retries=retry, pool_maxsize=pool_maxsize)
        self.single_shot = HTTPAdapter(
            max_retries=Retry(0, read=False, redirect=False, raise_on_status=False),
            pool_maxsize=pool_maxsize,
        )

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        adapter = self.retrying if may_retry(request) else self.single_shot
        return adapter.send(request, *args, **kwargs)

    def close(self) -> None:
        self.retrying.close()
        self.single_shot.close()


def transmit(
    session: requests.Session,
    prepared: requests.PreparedRequest,
    *,
    timeout: tuple[float, float],
    service: str,
    operation: str,
) -> requests.Response:
    """Send one request (urllib3 retries included); transport failures become typed errors.

    Each error says whether the request may have reached the service unanswered
    (`sent_unanswered`): never, when every attempt failed to connect.
    """
    context: dict[str, Any] = {"service": service, "operation": operation}
    try:
        return session.send(prepared, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        call = _current_call.get()
        # The last attempt is noted here (urllib3 notes the earlier ones through increment);
        # noting one twice changes nothing.
        if call is not None:
            call.failed(exc)
        unanswered = call.unanswered if call is not None else not never_connected(exc)
        raise _transport_error(exc, prepared, sent_unanswered=unanswered, **context) from exc


def _transport_error(
    exc: requests.RequestException,
    prepared: requests.PreparedRequest,
    *,
    service: str,
    operation: str,
    sent_unanswered: bool,
) -> ServiceConnectionError | ServiceTimeoutError:
    context: dict[str, Any] = {
        "service": service,
        "operation": operation,
        "sent_unanswered": sent_unanswered,
    }
    netloc = urlsplit(prepared.url or "").netloc
    if isinstance(exc, requests.ConnectTimeout):
        # Never connected, so never sent: a connection failure (safe to try elsewhere).
        return ServiceConnectionError(
            f"{service}.{operation}: connecting to {netloc} timed out", **context
        )
    if isinstance(exc, requests.Timeout):
        return ServiceTimeoutError(f"{service}.{operation} timed out", **context)
    if isinstance(exc, requests.ConnectionError):
        # After the retries run out on read timeouts, requests reports a ConnectionError.
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, ReadTimeoutError):
            return ServiceTimeoutError(f"{service}.{operation} timed out", **context)
        return ServiceConnectionError(
            f"{service}.{operation}: {type(reason or exc).__name__} talking to {netloc}",
            **context,
        )
    return ServiceConnectionError(f"{service}.{operation}: {exc}", **context)
