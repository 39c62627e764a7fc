"""Guards run before every service call: how a caller stops work between two of its calls.

A caller installs a guard for a block (`before_each_call(guard)`); `ServiceClient.request` runs
the installed guards before it sends anything, so an exception a guard raises stops the work
before its next call. The saga runner installs one that raises SagaLeaseLost once another worker
holds the saga. Guards live in a contextvar, like the request id: a thread started inside the
block does not inherit them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Guard", "before_each_call", "run_guards"]

Guard = Callable[[], None]

_guards: ContextVar[tuple[Guard, ...]] = ContextVar("interlink_call_guards", default=())


@contextmanager
def before_each_call(guard: Guard) -> Iterator[None]:
    """Run `guard` before every service call made inside the block (after any outer ones)."""
    token = _guards.set((*_guards.get(), guard))
    try:
        yield
    finally:
        _guards.reset(token)


def run_guards() -> None:
    """Called by the clients before a call is sent; a guard's exception stops the call."""
    for guard in _guards.get():
        guard()
