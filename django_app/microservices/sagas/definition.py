"""A saga declared as data: ordered steps, each an action, an optional compensation, a retry
policy and a timeout. `runner.py` runs a definition; callers start one through `services.py`.

    ORDER = SagaDefinition("order_processing", [
        SagaStep("validate_user", validate_user),
        SagaStep("reserve_inventory", reserve, compensation=release),
    ])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..backoff import exponential_backoff
from ..exceptions import (
    ServiceConnectionError,
    ServiceError,
    ServiceHTTPError,
    ServiceTimeoutError,
    StepRejected,
)

# 409 is the idempotency draft's "a request with this key is still in flight": try again.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def default_is_retryable(exc: BaseException) -> bool:
    """Transport failures and transient statuses are retried; business rejections never are."""
    if isinstance(exc, StepRejected):
        return False
    if isinstance(exc, ServiceTimeoutError | ServiceConnectionError):
        return True
    if isinstance(exc, ServiceHTTPError):
        return exc.status_code in RETRYABLE_STATUS
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
    # (event_type, data) to publish through the outbox when this attempt's result is saved.
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _checkpoint: Callable[[], None] | None = None
    _crash_point: Callable[[str], None] | None = None

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
        self.events.append((event_type, data))

    def checkpoint(self) -> None:
        if self._checkpoint is not None:
            self._checkpoint()

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
    # None: every error retried, MICROSERVICES['SAGA'] COMPENSATION_ATTEMPTS/BACKOFF.
    compensation_retry: RetryPolicy | None = None
    # None: MICROSERVICES['SAGA']['STEP_TIMEOUT'].
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
