"""Schemathesis hooks for the orders API (django_app/tests/shop/schemathesis.toml loads them).

The stubs' hooks module, imported here, registers everything: a fresh Idempotency-Key per
positive case, and the check `linked_resource_is_available` (an order request just accepted,
202, must be readable through the contract's link to getOrder; schemathesis's own
ensure_resource_availability skips that step, see mock_services/schemathesis_hooks.py).
"""

from __future__ import annotations

import mock_services.schemathesis_hooks  # noqa: F401  (registers the hook and the check)
