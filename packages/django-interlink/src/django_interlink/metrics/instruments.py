"""What this process does, counted as it happens: relay, consumer, saga steps, client calls.

Every metric lives in `REGISTRY`, the app's own registry (with this process's CPU, memory and
garbage collector), so a test or an embedding project sees exactly the app's series. Labels are
bounded by configuration, never by data: event types (the contract), consumer groups, saga types
and steps (their definitions), services and operations (their contracts), statuses; never an
order id or a saga id. This module imports nothing of the app, so any layer may record.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

__all__ = [
    "REGISTRY",
    "client_call",
    "client_retry",
    "consumer_outcomes",
    "relay_outcomes",
    "saga_step",
]

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# A step or a call lasts from milliseconds (a stub) to a minute (retries behind Retry-After).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

RELAY_EVENTS = Counter(
    "interlink_relay_events_total",
    "Outbox rows the relay tried to publish, by event type and outcome: sent (the broker "
    "confirmed), refused (unroutable or against the contract; counts toward "
    "OUTBOX_MAX_ATTEMPTS), nacked (the broker declined for now; kept pending)",
    ["event_type", "outcome"],
    registry=REGISTRY,
)
CONSUMER_MESSAGES = Counter(
    "interlink_consumer_messages_total",
    "Messages a consumer decided, by group and outcome: ack (handled), retry (failed, offered "
    "again), dead (dead-lettered), defer (our infrastructure failed; given back uncounted)",
    ["group", "outcome"],
    registry=REGISTRY,
)
SAGA_STEP_DURATION = Histogram(
    "interlink_saga_step_duration_seconds",
    "Time a saga step's action or compensation took, its retries included, by saga type, step, "
    "direction (action, compensation) and outcome (succeeded, failed, rejected)",
    ["saga", "step", "direction", "outcome"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
CLIENT_CALLS = Counter(
    "interlink_client_calls_total",
    "Calls of a service client, retries included in one call, by service, operation and final "
    "status: the HTTP status code, or timeout / connection_error when no response came",
    ["service", "operation", "status"],
    registry=REGISTRY,
)
CLIENT_CALL_DURATION = Histogram(
    "interlink_client_call_duration_seconds",
    "Time a service client's call took, its retries and their waits included",
    ["service", "operation"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
CLIENT_RETRIES = Counter(
    "interlink_client_retries_total",
    "Attempts a service client retried, by service and what the failed attempt got: the HTTP "
    "status code, or the transport error's class (ReadTimeoutError, NewConnectionError, ...)",
    ["service", "status"],
    registry=REGISTRY,
)


def relay_outcomes(outcomes: Iterable[tuple[str, str]]) -> None:
    """Count a relayed batch's (event_type, outcome) pairs, once its transaction committed."""
    for (event_type, outcome), n in Tally(outcomes).items():
        RELAY_EVENTS.labels(event_type, outcome).inc(n)


def consumer_outcomes(group: str, outcomes: Iterable[str]) -> None:
    """Count the outcomes (`Outcome.value`) a consumer of `group` decided."""
    for outcome, n in Tally(outcomes).items():
        CONSUMER_MESSAGES.labels(group, outcome).inc(n)


def saga_step(saga: str, step: str, direction: str, outcome: str, seconds: float) -> None:
    SAGA_STEP_DURATION.labels(saga, step, direction, outcome).observe(seconds)


def client_call(service: str, operation: str, status: str, seconds: float) -> None:
    CLIENT_CALLS.labels(service, operation, status).inc()
    CLIENT_CALL_DURATION.labels(service, operation).observe(seconds)


def client_retry(service: str, status: str) -> None:
    CLIENT_RETRIES.labels(service, status).inc()
