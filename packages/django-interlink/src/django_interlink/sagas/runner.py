"""Runs one saga to its end: each step's attempts, retries and time budget, then `transition`.

Record the undo before doing the step (as in Temporal's trip-booking sample): before step i's
action runs, the store has written "the saga is at step i, going forward". So when the action
fails, even half-way, or the process dies during it, the undo starts with step i's own
compensation, then the earlier ones in reverse. Which step comes next is `transition`'s
decision; the runner only carries it out, and the store writes each move.

An undo that fails for a passing reason after its in-run retries waits: the runner records the
waiting state with a time to come back and returns, so the saga holds no worker meanwhile; the
wait grows from COMPENSATION_WAIT to COMPENSATION_WAIT_MAX, and after COMPENSATION_HORIZON of
waiting the undo counts as failed and a person is called.
"""

from __future__ import annotations

import logging
import time

from django.utils import timezone

from ..backoff import exponential_backoff
from ..call_guards import before_each_call
from ..conf import ms_settings
from ..exceptions import SagaDefinitionMismatch, SagaLeaseLost, StepRejected
from ..metrics import instruments
from ..models.sagas import (
    TERMINAL_STATUSES,
    SagaExecution,
    SagaStatus,
    StepDirection,
    StepLogStatus,
)
from .crash import crash_point
from .definition import RetryPolicy, SagaDefinition, SagaStep, StepContext, default_is_retryable
from .heartbeat import Heartbeat
from .outcomes import earlier_calls_unrecorded
from .spans import saga_run_span, step_span
from .state import Outcome, SagaState, transition
from .store import Attempt, ExecutionStore, StepEnd

__all__ = ["Runner", "retry_policy"]

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
    ) -> None:
        self.definition = definition
        self.execution = execution
        self.lease_seconds = lease_seconds
        # An unsaved `execution` is inserted with its first step's start (the store's
        # create_and_begin), or SagaExists is raised before any step has run.
        self.store = ExecutionStore(execution, owner, lease_seconds)
        # A PENDING saga has never started a step; any other may have logged attempts of the
        # step it stopped on (it crashed, or its compensation is being retried).
        self.resuming = execution.status != SagaStatus.PENDING

    def run(self) -> None:
        ex = self.execution
        state = self._stored_state()
        # How the previous step ended is written in one move with the next step's start.
        ended: StepEnd | None = None
        # One heartbeat (one thread) for the whole run, not one per step: a thread started and
        # joined per step is a cost on every step. Renewing between steps too is harmless; it
        # stops before `finish` releases the lease, which it would take as lost.
        heartbeat = Heartbeat(self.store.renew, self.lease_seconds, saga_id=ex.saga_id)
        with heartbeat, saga_run_span(ex):
            while state.status not in TERMINAL_STATUSES and not state.waiting:
                step = self.definition.steps[state.step]
                started = time.monotonic()
                attempt = self._run_step(state, step, ended, heartbeat)
                instruments.saga_step(
                    self.definition.saga_type,
                    step.name,
                    "compensation" if state.compensating else "action",
                    str(attempt.status),
                    time.monotonic() - started,
                )
                outcome = self._outcome(state, attempt)
                nxt = transition(self.definition, state, outcome)
                logger.info(
                    "saga %s %s of %s %s -> %s%s",
                    ex.saga_id,
                    "compensation" if state.compensating else "action",
                    step.name,
                    "ok" if attempt.ok else f"{outcome} ({attempt.error})",
                    nxt.status,
                    f", waiting to undo {self.definition.steps[nxt.step].name}"
                    if nxt.waiting
                    else "",
                )
                ended = StepEnd(attempt, self._saga_error(state, step, attempt, outcome))
                state = nxt
        if ended is None:  # the loop never ran: nothing to write
            return
        if state.waiting:
            self.store.wait(state, ended, delay=self._wait_delay())
        else:
            self.store.finish(state, ended)

    def _stored_state(self) -> SagaState:
        """Where the stored execution stands; SagaDefinitionMismatch if the definition no
        longer has the step it stands on (steps removed or reordered since it was stored)."""
        ex = self.execution
        if ex.status == SagaStatus.PENDING:
            return SagaState(0, False, SagaStatus.RUNNING)
        steps = self.definition.steps
        if not 0 <= ex.current_step < len(steps) or (
            ex.compensating and steps[ex.current_step].compensation is None
        ):
            raise SagaDefinitionMismatch(
                f"saga {ex.saga_id} stands on step {ex.current_step}"
                f"{' (undoing)' if ex.compensating else ''}, which the "
                f"{self.definition.saga_type!r} definition ({len(steps)} steps) does not have",
                operation=ex.saga_id,
            )
        if not ex.compensating:
            return SagaState(ex.current_step, False, ex.status)
        left = ex.undos_left
        if left is None:  # stored before undos were tracked: every undo up to here is left
            left = [j for j in range(ex.current_step + 1) if steps[j].compensation]
        return SagaState(
            ex.current_step,
            True,
            ex.status,
            undos_left=frozenset(int(j) for j in left),
            undos_failed=frozenset(int(j) for j in ex.undos_failed or ()),
        )

    def _outcome(self, state: SagaState, attempt: Attempt) -> Outcome:
        if attempt.ok:
            return Outcome.SUCCEEDED
        if not (state.compensating and attempt.passing):
            return Outcome.FAILED
        since = self.execution.waiting_since
        horizon = float(ms_settings.SAGA["COMPENSATION_HORIZON"])
        if since is not None and (timezone.now() - since).total_seconds() >= horizon:
            attempt.error += f" (waited {horizon:g}s for it: COMPENSATION_HORIZON spent)"
            return Outcome.FAILED
        return Outcome.WAITS

    def _wait_delay(self) -> float:
        conf = ms_settings.SAGA
        return exponential_backoff(
            self.execution.waits + 1,
            base=float(conf["COMPENSATION_WAIT"]),
            cap=float(conf["COMPENSATION_WAIT_MAX"]),
        )

    def _run_step(
        self, state: SagaState, step: SagaStep, ended: StepEnd | None, heartbeat: Heartbeat
    ) -> Attempt:
        """Try the action (or compensation) of one step until it succeeds or gives up."""
        compensating = state.compensating
        direction = str(StepDirection.COMPENSATION if compensating else StepDirection.ACTION)
        fn = step.compensation if compensating else step.action
        assert fn is not None  # transition() only lands on steps with a compensation
        policy = retry_policy(step, compensating)
        timeout = float(
            step.timeout if step.timeout is not None else ms_settings.SAGA["STEP_TIMEOUT"]
        )
        previous, unrecorded = self._previous_attempts(state, direction)
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
                with (
                    before_each_call(heartbeat.check),
                    earlier_calls_unrecorded(unrecorded),
                    step_span(self.execution, step.name, direction, ctx.attempt),
                ):
                    fn(ctx)
            except SagaLeaseLost:
                raise
            except Exception as exc:
                crash_point(f"after_{direction}:{step.name}")
                rejected = isinstance(exc, StepRejected) and not compensating
                status = StepLogStatus.REJECTED if rejected else StepLogStatus.FAILED
                passing = not rejected and policy.is_retryable(exc)
                failed = Attempt(log, status, _describe(exc), passing=passing)
                if not passing or n >= policy.attempts:
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

    def _previous_attempts(self, state: SagaState, direction: str) -> tuple[int, bool]:
        """(attempts earlier runs logged, whether one of them never ended). Within one run a
        (step, direction) is visited once, so only a resumed run asks: its attempt numbers
        carry on from the earlier runs', and a step whose earlier attempt died mid-way may have
        made calls nobody recorded (outcomes.tracked then takes them as UNKNOWN)."""
        if not self.resuming:
            return 0, False
        return self.store.attempts_logged(state.step, direction)

    def _saga_error(
        self, state: SagaState, step: SagaStep, attempt: Attempt, outcome: Outcome
    ) -> str | None:
        """The saga's error message once this step has ended; None keeps the stored one (a
        waiting undo's reason is its attempt's error, not the saga's)."""
        if outcome is not Outcome.FAILED:
            return None
        if not state.compensating:
            return f"{step.name}: {attempt.error}"
        return (
            f"{self.execution.error_message}; compensation of {step.name} failed: {attempt.error}"
        )


def retry_policy(step: SagaStep, compensating: bool) -> RetryPolicy:
    """How often this step's action (or undo) is tried within one run, and on which errors."""
    if not compensating:
        return step.retry
    if step.compensation_retry is not None:
        return step.compensation_retry
    conf = ms_settings.SAGA
    # A passing failure is tried again here, then waited out (state.py); a permanent one is
    # not worth another try: it calls a person once the other undos are done.
    return RetryPolicy(
        attempts=int(conf["COMPENSATION_ATTEMPTS"]),
        backoff=float(conf["COMPENSATION_BACKOFF"]),
        backoff_max=float(conf["COMPENSATION_BACKOFF_MAX"]),
        is_retryable=default_is_retryable,
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    status = getattr(exc, "status_code", None)
    prefix = exc.__class__.__name__ + (f" {status}" if status else "")
    return f"{prefix}: {text}"
