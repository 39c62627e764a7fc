"""Schemathesis hooks for verifying the stubs (schemathesis.toml loads them: `hooks = ...`).

A generator reuses Idempotency-Key values across different bodies, which the draft rightly
answers with 422. Positive cases therefore get a fresh key each, so they test the operation;
negative cases keep the generated key, so malformed keys are still tested. Key reuse itself is
covered by mock_services/tests/test_idempotency.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis


def fresh_idempotency_key(case: Any) -> None:
    """Give a positive case carrying an Idempotency-Key a unique one."""
    headers = case.headers
    if not headers:
        return
    meta = case.meta
    if meta is not None and not meta.generation.mode.is_positive:
        return
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = str(uuid.uuid4())


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    fresh_idempotency_key(case)
