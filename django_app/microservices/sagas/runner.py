"""Runs one saga to its end: each step's attempts, retries and time budget, then `transition`.

Record the undo before doing the step (as in Temporal's trip-booking sample): before step i's
action runs, the store has written "the saga is at step i, going forward". So when the action
fails, even half-way, or the process dies during it, the undo starts with step i's own
compensation, then the earlier ones in reverse. Which step comes next is `transition`'s
decision; the runner only carries it out, and the store writes each move.
"""

from __future__ import annotations

import logging
import time

from ..call_guards import before_each_call
from ..conf import ms_settings
from ..exceptions import SagaLeaseLost, StepRejected
from ..models.sagas import (
    TERMINAL_STATUSES,
    SagaExecution,
    SagaStatus,
    StepDirection,
    StepLogStatus,
)
from .crash import crash_point
from .definition import RetryPolicy, SagaDefinition, SagaStep, StepContext
from .heartbeat import Heartbeat
from .state import SagaState, transition
from .store import Attempt, ExecutionStore, StepEnd

__all__ = ["Runner"]

logger = logging.getLogger(__name__)


class Runner:
    """Runs one claimed execution to a terminal state, or until its lease is lost.

    `execution` is updated in place as the store writes it; SagaLeaseLost means another worker
    has taken the saga over: this one wrote nothing after that, nor started a call once it knew.
    """

    def __init__(
        self,
        definition: SagaDefinition,
        execution: SagaExecution,
        owner: str,
        lease_seconds: float,
        *,
        creating: bool = False,
    ) -> None:
        self.definition = definition
        self.execution = execution
        self.lease_seconds = lease_seconds
        # creating: `execution` is new and unsaved; the first step's start inserts it
        # (ExecutionStore), or raises SagaExists before any step has run.
        self.store = ExecutionStore(execution, owner, lease_seconds, creating=creating)
        # A PENDING saga has never started a step; any other may have logged attempts of the
        # step it stopped on (it crashed, or its compensation is being retried).
        self.resuming = execution.status != SagaStatus.PENDING

    def run(self) -> None:
        ex = self.execution
        state = SagaState(ex.current_step, ex.compensating, ex.status)
        if state.status == SagaStatus.PENDING:
            state = SagaState(0, False, SagaStatus.RUNNING)
        # How the previous step ended is written in one move with the next step's start.
        ended: StepEnd | None = None
        # One heartbeat (one thread) for the whole run, not one per step: starting and joining
        # a thread per step was about 7% of an order saga. Renewing between steps too is
        # harmless; it stops before `finish` releases the lease, which it would take as lost.
        heartbeat = Heartbeat(self.store.renew, self.lease_seconds, saga_id=ex.saga_id)
        with heartbeat:
            while state.status not in TERMINAL_STATUSES:
                step = self.definition.steps[state.step]
                attempt = self._run_step(state, step, ended, heartbeat)
                nxt = transition(self.definition, state, attempt.ok)
                logger.info(
                    "saga %s %s of %s %s -> %s",
                    ex.saga_id,
                    "compensation" if state.compensating else "action",
                    step.name,
                    "ok" if attempt.ok else f"failed ({attempt.error})",
                    nxt.status,
                )
                ended = StepEnd(attempt, self._saga_error(state, step, attempt))
                state = nxt
        if ended is not None:  # the loop ran, so it stopped on a terminal state
            self.store.finish(state, ended)

    def _run_step(
        self, state: SagaState, step: SagaStep, ended: StepEnd | None, heartbeat: Heartbeat
    ) -> Attempt:
        """Try the action (or compensation) of one step until it succeeds or gives up."""
        compensating = state.compensating
        direction = str(StepDirection.COMPENSATION if compensating else StepDirection.ACTION)
        fn = step.compensation if compensating else step.action
        assert fn is not None  # transition() only lands on steps with a compensation
        policy = _retry_policy(step, compensating)
        timeout = float(
            step.timeout if step.timeout is not None else ms_settings.SAGA["STEP_TIMEOUT"]
        )
        previous = self._previous_attempts(state, direction)
        started = time.monotonic()
        n = 0
        while True:
            n += 1
            ctx = StepContext(
                saga_id=self.execution.saga_id,
                step=step.name,
                direction=direction,
                attempt=previous + n,
                data=self.execution.context_data,
                timeout=timeout,
                started=started,
                _checkpoint=self.store.checkpoint,
                _crash_point=crash_point,
            )
            # Written before fn runs: from here on a failure or a crash undoes this step too.
            log = self.store.begin_attempt(state, ctx, ended)
            ended = None
            crash_point(f"before_{direction}:{step.name}")
            # The lease is kept while fn runs; its calls stop once another worker holds it.
            heartbeat.written()  # begin_attempt has just renewed the lease
            try:
                with before_each_call(heartbeat.check):
                    fn(ctx)
            except SagaLeaseLost:
                raise
            except Exception as exc:
                crash_point(f"after_{direction}:{step.name}")
                rejected = isinstance(exc, StepRejected) and not compensating
                status = StepLogStatus.REJECTED if rejected else StepLogStatus.FAILED
                failed = Attempt(log, status, _describe(exc))
                if rejected or not policy.is_retryable(exc) or n >= policy.attempts:
                    return failed
                delay = policy.delay(n)
                # The time budget bounds actions only: an undo gets every try its policy allows.
                if not compensating and time.monotonic() - started + delay > timeout:
                    failed.error += f" (step timeout of {timeout:g}s spent)"
                    return failed
                self.store.retry_later(failed)
                time.sleep(delay)
                continue
            crash_point(f"after_{direction}:{step.name}")
            return Attempt(log, StepLogStatus.SUCCEEDED, events=ctx.events)

    def _previous_attempts(self, state: SagaState, direction: str) -> int:
        # Within one run a (step, direction) is visited once, so only the first step of a
        # resumed run needs counting: its attempt numbers carry on from the earlier run's.
        if not self.resuming:
            return 0
        self.resuming = False
        return self.store.attempts_logged(state.step, direction)

    def _saga_error(self, state: SagaState, step: SagaStep, attempt: Attempt) -> str | None:
        """The saga's error message once this step has ended; None keeps the stored one."""
        if attempt.ok:
            return None
        if not state.compensating:
            return f"{step.name}: {attempt.error}"
        return (
            f"{self.execution.error_message}; compensation of {step.name} failed: {attempt.error}"
        )


def _retry_policy(step: SagaStep, compensating: bool) -> RetryPolicy:
    if not compensating:
        return step.retry
    if step.compensation_retry is not None:
        return step.compensation_retry
    conf = ms_settings.SAGA
    # An undo must happen eventually: every error is worth another try.
    return RetryPolicy(
        attempts=int(conf["COMPENSATION_ATTEMPTS"]),
        backoff=float(conf["COMPENSATION_BACKOFF"]),
        backoff_max=float(conf["COMPENSATION_BACKOFF_MAX"]),
        is_retryable=lambda exc: True,
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    status = getattr(exc, "status_code", None)
    prefix = exc.__class__.__name__ + (f" {status}" if status else "")
    return f"{prefix}: {text}"
