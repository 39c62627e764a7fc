"""Schemathesis hooks for the orders API (django_app/tests/shop/schemathesis.toml loads them).

The stubs' hook gives each positive case a fresh Idempotency-Key. One check is added: an order
request just accepted (202) must be readable through the contract's link to getOrder.
schemathesis's own ensure_resource_availability skips that step, since the link does not fill
every parameter of getOrder (X-Request-ID is optional and left to generation).
"""

from __future__ import annotations

from typing import Any

import schemathesis

import mock_services.schemathesis_hooks  # noqa: F401  (registers the fresh-key hook)

PLACE = "POST /api/orders"
READ = "GET /api/orders/{id}"


@schemathesis.check
def accepted_order_is_readable(ctx: Any, response: Any, case: Any) -> bool | None:
    """GET of the id a 202 just returned answers 200, never 404."""
    if case.operation.label != READ or response.status_code != 404:
        return None
    parent = ctx.internals.find_parent(case_id=case.id)
    if parent is None or parent.operation.label != PLACE:
        return None
    accepted = ctx.internals.find_response(case_id=parent.id)
    if accepted is None or accepted.status_code != 202:
        return None
    if (case.path_parameters or {}).get("id") != accepted.json().get("id"):
        return None
    raise AssertionError(f"{READ} answered 404 for the order request {PLACE} just accepted")
