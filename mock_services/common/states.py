"""Provider states on the control plane: `POST /__control/states` puts a stub in a named state.

A consumer pact says what it assumes of the provider ("a user exists" with its id): the
verifier asks the stub for that state before it replays the interaction. Each service lists its
states in `<service>/states.py` (a name -> function of the store and the pact's parameters);
an unknown state is a 404 naming the known ones, so a pact cannot pass against a stub that
silently ignored what it assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mock_services.common.errors import ProblemError
from mock_services.common.faults import CONTROL_PREFIX
from mock_services.common.store import LockedStore

# store, the pact's parameters
StateHandler = Callable[[Any, Mapping[str, Any]], None]


class StateChange(BaseModel):
    """Pact's state-change request: the state's name, its parameters, setup or teardown."""

    model_config = ConfigDict(extra="forbid")

    state: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    action: Literal["setup", "teardown"] = "setup"


def apply_state(
    states: Mapping[str, StateHandler], store: LockedStore, change: StateChange, service: str
) -> None:
    """Run the named state's setup on `store` (teardown: nothing, the next setup resets)."""
    if change.action == "teardown":
        return
    handler = states.get(change.state)
    if handler is None:
        known = ", ".join(sorted(states)) or "none"
        raise ProblemError(
            404,
            "unknown-state",
            f"The {service} stub has no provider state {change.state!r} (known: {known}).",
        )
    handler(store, change.params)


states_router = APIRouter(prefix=CONTROL_PREFIX, tags=["control"])


@states_router.post("/states", status_code=204)
def set_state(change: StateChange, request: Request) -> Response:
    """Reset the stub, then set up the named provider state."""
    runtime = request.app.state.runtime
    runtime.reset()
    apply_state(runtime.states, runtime.store, change, runtime.service)
    return Response(status_code=204)
