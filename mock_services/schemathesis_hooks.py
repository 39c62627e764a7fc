"""Schemathesis hooks for verifying the stubs and the Django API (schemathesis.toml: `hooks = ...`).

A generator reuses Idempotency-Key values across different bodies, which the draft rightly
answers with 422. Positive cases therefore get a fresh key each, so they test the operation;
negative cases keep the generated key, so malformed keys are still tested. Key reuse itself is
covered by mock_services/tests/test_idempotency.py.

One check is added, `linked_resource_is_available`: a valid request that follows a contract
link from a successful response, with every path parameter taken from that response, must not
answer 404. It stands in for schemathesis's own ensure_resource_availability, which (4.32) never
fires on these contracts: it only counts a parameter as filled by a link when the value differs
from what was generated, and the header container is always generated (the bearer credentials
are drawn there), so the optional X-Request-ID every operation declares never counts, and it
skips a request unless the link filled every parameter of the target. The Django API's hooks
(django_app/tests/shop/schemathesis_hooks.py) import this module, so both runs have the check.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import unquote

import schemathesis
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import resource_was_deleted


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


@schemathesis.check
def linked_resource_is_available(ctx: Any, response: Any, case: Any) -> bool | None:
    """404 for the resource a link from a successful response points at is a failure.

    Applies to a positive case that a link produced (the stateful phase records which), whose
    source request succeeded (2xx, not a DELETE) and whose every path parameter is the value the
    link took from the source's response. A resource removed since (a successful DELETE, or an
    unsafe request to the same URI) may be gone, as for the built-in check.
    """
    if response.status_code != 404:
        return None
    recorder = ctx.internals.recorder
    node = recorder.cases.get(case.id) if recorder is not None else None
    transition = node.transition if node is not None else None
    meta = case.meta
    if transition is None or meta is None or not meta.generation.mode.is_positive:
        return None
    source = ctx.internals.find_parent(case_id=case.id)
    source_response = ctx.internals.find_response(case_id=source.id) if source else None
    if source is None or source_response is None or source.operation.method.upper() == "DELETE":
        return None
    if not 200 <= source_response.status_code < 300:
        return None
    if not _path_comes_from_link(case, transition.parameters.get("path_parameters", {})):
        return None
    if resource_was_deleted(recorder, case, created_by=source.id):
        return None
    raise AssertionError(
        f"{case.operation.label} answered 404 for the resource that {source.operation.label} "
        f"just answered {source_response.status_code} for (link {transition.id})"
    )


def _path_comes_from_link(case: Any, linked: dict[str, Any]) -> bool:
    """Whether the case has path parameters, each one sent as the link's extracted value."""
    sent = case.path_parameters or {}
    names = [parameter.name for parameter in case.operation.path_parameters]
    if not names:
        return False
    for name in names:
        extracted = linked.get(name)
        if extracted is None or not isinstance(extracted.value, Ok) or name not in sent:
            return False
        if unquote(str(sent[name])) != str(extracted.value.ok()):
            return False
    return True
