"""Which HTTP error statuses are passing failures, and why each reader's set is what it is.

- `UNAVAILABLE_STATUSES`: the service, or a proxy in front of it, is overloaded or down. The
  transport resends the request on these (the default `RETRY['STATUS_FORCELIST']`), and the
  client reports them as `ServiceUnavailable` even where the contract does not list them.
- `STEP_RETRY_STATUSES`: a saga step is tried again on those and also on a request the service
  timed out (408), one still in flight under its Idempotency-Key (409, the idempotency draft)
  and one sent too early (425). The transport leaves these to the saga, which runs the whole
  step again under the same keys, after its own backoff.
- `nothing_done(status)`: the services answer every 5xx, 408 and 429 before doing anything and
  do not store it under the key (`mock_services/common/idempotency.py` keeps the same rule), so a
  call answered so did nothing. A 409 is not among them: in flight, the first request may still
  do it.
"""

from __future__ import annotations

UNAVAILABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
STEP_RETRY_STATUSES = UNAVAILABLE_STATUSES | {408, 409, 425}
# With every 5xx: answered before any work is done, never stored under the Idempotency-Key.
ANSWERED_BEFORE_WORK = frozenset({408, 429})


def nothing_done(status: int) -> bool:
    """A status the services answer before doing anything, and do not store under the key."""
    return status >= 500 or status in ANSWERED_BEFORE_WORK
