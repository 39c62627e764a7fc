"""`wait_until`: how every suite (and the demo) waits for something that happens on its own
schedule, such as a consumer in another process, a lease running out or a server starting.

Standard library only, so Django's tests, the stubs' tests, the integration tests and the
benchmarks all import it without Django or a web framework. A wait that runs out raises
WaitTimeout naming what was awaited: a bool would be lost by a call site that forgot `assert`.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class WaitTimeout(AssertionError):
    """What a test waited for did not happen in time (an AssertionError: the test fails)."""


def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float,
    interval: float = 0.1,
    what: str,
) -> None:
    """Call `predicate()` every `interval` seconds until it returns something true.

    WaitTimeout("timed out after <timeout> s waiting for <what>") when `timeout` seconds pass
    first. The last call is made at the deadline, so a poll that sleeps cannot miss an event
    that happened during its final sleep. An exception from `predicate` is not caught.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(interval, remaining))
