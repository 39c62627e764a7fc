"""A saga declared as data: ordered steps, each an action, an optional compensation, a retry
policy and a timeout. `runner.py` runs a definition; callers start one through `services.py`.

    ORDER = SagaDefinition("order_processing", [
        SagaStep("validate_user", validate_user),
        SagaStep("reserve_inventory", reserve, compensation=release),
    ])
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import InterfaceError, OperationalError

from ..backoff import exponential_backoff
from ..exceptions import (
    RegistryError,
    ServiceConnectionError,
    ServiceError,
    ServiceHTTPError,
    ServiceTimeoutError,
    StepRejected,
)
from ..http_statuses import STEP_RETRY_STATUSES
from ..tracing import capture


def default_is_retryable(exc: BaseException) -> bool:
    """Passing failures are retried: the transport's, transient statuses, a registry with no
    instance for now, a database connection lost. Business rejections, contract violations
    and bugs never are: trying again would meet them again."""
    if isinstance(exc, StepRejected):
        return False
    if isinstance(exc, ServiceTimeoutError | ServiceConnectionError | RegistryError):
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, ServiceHTTPError):
        return exc.status_code in STEP_RETRY_STATUSES
    # A plain network error that escaped a client is still a passing condition.
    return isinstance(exc, TimeoutError | ConnectionError) and not isinstance(exc, ServiceError)


@dataclass(frozen=True)
class RetryPolicy:
    """How often a step (or its compensation) is tried, and which errors are worth another try."""

    attempts: int = 3
    backoff: float = 0.1
    backoff_max: float = 2.0
    is_retryable: Callable[[BaseException], bool] = default_is_retryable

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): exponential, capped."""
        return exponential_backoff(attempt, base=self.backoff, cap=self.backoff_max)


def step_event_id(saga_id: str, step: str, direction: str, n: int) -> uuid.UUID:
    """The id of the n-th event of a step's action or compensation: the same on every try."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"saga:{saga_id}:{step}:{direction}:{n}")


@dataclass(frozen=True)
class StepEvent:
    """An event a step publishes through the outbox, under its stable id."""

    event_type: str
    data: dict[str, Any]
    event_id: uuid.UUID
    # The step attempt's span when the event was made: the relay's publish span is its child.
    trace_context: dict[str, str] = field(default_factory=capture, compare=False)


@dataclass
class StepContext:
    """What a step's action or compensation receives: the shared data and its own identity.

    `data` is the saga's context; a step reads its inputs from it and writes its results into it
    (reservation ids, payment id); the runner saves it after every attempt. `checkpoint()`
    saves it mid-step, so a step made of several calls (one reservation per item) keeps what it
    learnt if the process dies half-way.
    """

    saga_id: str
    step: str
    direction: str
    attempt: int
    data: dict[str, Any]
    timeout: float
    started: float = field(default_factory=time.monotonic)
    # To publish through the outbox when this attempt's result is saved.
    events: list[StepEvent] = field(default_factory=list)
    # Saves the context now, publishing the given events with it.
    _checkpoint: Callable[[Sequence[StepEvent]], None] | None = None
    _crash_point: Callable[[str], None] | None = None
    # Events emitted so far per direction: the n of the next one's id.
    _emitted: dict[str, int] = field(default_factory=dict)

    def idempotency_key(
        self, item: str | int | None = None, *, direction: str | None = None
    ) -> str:
        """The key for one service call: the same on every retry and after every resume.

        A compensation that must learn what its action did (the action's response was lost)
        replays the action's call with `direction="action"` to get the same answer back.
        """
        parts = [self.saga_id, self.step, direction or self.direction]
        if item is not None:
            parts.append(str(item))
        return ":".join(parts)

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        """Publish an event in the same transaction that records this step's success."""
        self.events.append(self._event(event_type, data, self.direction))

    def emit_forward(self, event_type: str, data: dict[str, Any]) -> None:
        """Publish at once, with the context saved, the event the action would have published.

        For a compensation whose replay found the action applied: the effect is announced
        before its undo, under the action's own event id (emit in the action's order), so a
        copy already in the outbox stays one. At once, because this attempt may still fail and
        the next one, finding the outcome settled, would not announce it.
        """
        event = self._event(event_type, data, "action")
        if self._checkpoint is None:
            self.events.append(event)
        else:
            self._checkpoint([event])

    def _event(self, event_type: str, data: dict[str, Any], direction: str) -> StepEvent:
        n = self._emitted.get(direction, 0)
        self._emitted[direction] = n + 1
        event_id = step_event_id(self.saga_id, self.step, direction, n)
        return StepEvent(event_type, data, event_id)

    def checkpoint(self) -> None:
        if self._checkpoint is not None:
            self._checkpoint(())

    def crash_point(self, name: str) -> None:
        """A named point inside a step where a test may make the process die (see crash.py)."""
        if self._crash_point is not None:
            self._crash_point(f"{self.direction}:{self.step}:{name}")


StepFn = Callable[[StepContext], None]


@dataclass(frozen=True)
class SagaStep:
    """One step: `action` does it, `compensation` undoes it (also when the action half-failed)."""

    name: str
    action: StepFn
    compensation: StepFn | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # None: INTERLINK['SAGA'] COMPENSATION_ATTEMPTS/BACKOFF in the run, passing failures
    # (default_is_retryable) only; after them the undo waits (state.py), the others fail.
    compensation_retry: RetryPolicy | None = None
    # True: while this step's undo waits or has failed, no earlier step is undone (state.py).
    undo_first: bool = False
    # None: INTERLINK['SAGA']['STEP_TIMEOUT'].
    timeout: float | None = None
    description: str = ""


@dataclass(frozen=True)
class SagaDefinition:
    """A named, ordered list of steps; the runner runs it, `mermaid.py` draws it."""

    saga_type: str
    steps: Sequence[SagaStep]
    description: str = ""

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        if not names:
            raise ValueError("a saga needs at least one step")
        if len(set(names)) != len(names):
            raise ValueError(f"step names must be unique in saga {self.saga_type!r}: {names}")

    def __len__(self) -> int:
        return len(self.steps)

    def index(self, name: str) -> int:
        for i, step in enumerate(self.steps):
            if step.name == name:
                return i
        raise KeyError(name)
