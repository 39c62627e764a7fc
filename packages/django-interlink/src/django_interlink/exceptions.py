"""The one error tree of the integration layer: every failure the app raises is a `ServiceError`.

Leaf errors also subclass a builtin where that is natural, so callers that only know Python's
own exceptions still catch them (`ServiceTimeoutError` is a `TimeoutError`).
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Root of every error raised by the integration layer.

    `sent_unanswered` is True when the call may have reached the service and no usable answer
    came back (a read timeout, a connection dropped after sending, a response that breaks the
    contract): what the service did is unknown. It is False when every attempt is accounted
    for: refused before sending (our own contract check, no instance in the registry), never
    connected, or answered.
    """

    default_message = "service call failed"
    # What `sent_unanswered` is when the raiser does not say (the transport always says).
    default_sent_unanswered = False

    def __init__(
        self,
        message: str | None = None,
        *,
        service: str | None = None,
        operation: str | None = None,
        status_code: int | None = None,
        payload: Any = None,
        response: Any = None,
        sent_unanswered: bool | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.service = service
        self.operation = operation
        self.status_code = status_code
        self.payload = payload
        self.response = response
        self.sent_unanswered = (
            self.default_sent_unanswered if sent_unanswered is None else sent_unanswered
        )
        super().__init__(self.message)


class ServiceTimeoutError(ServiceError, TimeoutError):
    default_message = "service call timed out"
    default_sent_unanswered = True


class ServiceConnectionError(ServiceError, ConnectionError):
    default_message = "could not connect to service"
    # Unless the transport knows no attempt connected, a lost connection may hide a request
    # the service received.
    default_sent_unanswered = True


class ServiceHTTPError(ServiceError):
    """The service answered with an error status; `problem` is its RFC 9457 body, if any."""

    default_message = "service returned an error status"

    @property
    def problem(self) -> dict[str, Any]:
        return self.payload if isinstance(self.payload, dict) else {}

    @property
    def retry_after(self) -> float | None:
        headers = getattr(self.response, "headers", None) or {}
        value = headers.get("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class ServiceAuthError(ServiceHTTPError, PermissionError):
    """401/403: the service refused our credentials (check the service's API_KEY)."""

    default_message = "service refused the credentials"


class PaymentDeclined(ServiceHTTPError):
    """402: the payment was declined (`problem['type']` says why, e.g. .../card-declined)."""

    default_message = "payment declined"


class ResourceNotFound(ServiceHTTPError, LookupError):
    """404: the resource does not exist on the service."""

    default_message = "resource not found"


class ResourceConflict(ServiceHTTPError):
    """409: the request conflicts with the resource's state (taken, already done, in flight)."""

    default_message = "conflict with the resource's state"


class UnprocessableEntity(ServiceHTTPError, ValueError):
    """422: the service rejected the content (`problem['errors']` lists the fields)."""

    default_message = "request rejected by the service"


class ServiceUnavailable(ServiceHTTPError):
    """429 or 5xx after the retries ran out: a passing failure, worth retrying later."""

    default_message = "service unavailable"


class ContractViolation(ServiceError, ValueError):
    """A request or response does not match the service's OpenAPI contract."""

    default_message = "contract violation"

    def __init__(self, message: str | None = None, *, field: str | None = None, **kwargs: Any):
        self.field = field
        super().__init__(message, **kwargs)


class RegistryError(ServiceError):
    default_message = "service registry error"


class ServiceNotFound(RegistryError, LookupError):
    default_message = "no healthy instance of the service"


class RegistryUnavailable(RegistryError, ConnectionError):
    default_message = "service registry unreachable"


class EventError(ServiceError):
    default_message = "event error"


class EventContractViolation(EventError, ValueError):
    """An event does not match its contract in contracts/events/ (or its type is unknown)."""

    default_message = "event does not match its contract"


class PublishError(EventError):
    """The broker did not confirm, or returned, a published event."""

    default_message = "event was not accepted by the broker"


class BusUnavailable(EventError, ConnectionError):
    """The broker could not be reached (after reconnect attempts); nothing was published."""

    default_message = "event bus unreachable"


class NotReplicated(BusUnavailable):
    """The Redis primary took the events, but fewer replicas than REDIS_WAIT_REPLICAS confirmed
    them within REDIS_WAIT_TIMEOUT_MS: a failover could lose them, so they count as unpublished
    (the relay sends them again; consumers deduplicate)."""

    default_message = "too few Redis replicas confirmed the events"


class RetryableHandlerError(EventError):
    """The handler's own passing failure: retried with backoff, and counted toward
    MAX_DELIVERIES (dead-lettered once they are used up), like any exception not named here."""

    default_message = "handler failed, retry later"


class PermanentHandlerError(EventError):
    """A handler can never succeed with this event: dead-letter it at once."""

    default_message = "handler rejected the event"


class InfrastructureError(EventError):
    """Something the handler depends on is down, not the event's fault: retried after the
    consumer's backoff, never counted toward MAX_DELIVERIES (events/infrastructure.py)."""

    default_message = "a dependency of the handler is down, retry later"


class DeadLetterNotFound(EventError, LookupError):
    """No dead letter with that id (in that group, of that type)."""

    default_message = "no such dead letter"


class SagaError(ServiceError):
    default_message = "saga failed"


class StepRejected(SagaError):
    """A business rejection (declined card, out of stock, inactive user): compensate, no retry."""

    default_message = "step rejected by the service"


class SagaDefinitionMismatch(SagaError, LookupError):
    """A stored saga cannot run: its type is not configured, or its definition no longer has
    the step it stands on. A person decides (fix the definition, then retry it)."""

    default_message = "saga does not match its definition"


class SagaLeaseLost(SagaError):
    """Another worker took over this saga (our lease expired): stop without touching it."""

    default_message = "saga lease lost to another worker"
