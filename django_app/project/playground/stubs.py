"""The stubs' control plane, seen from the server: faults, the request log, the payments ledger.

The page never talks to a stub: these functions do, with the stubs' token, which stays on the
server. A fault is checked as the stubs' own `FaultSpec` before it is forwarded, so bad input is
refused here with the same rules the stub would apply.
"""

from __future__ import annotations

from typing import Any

import requests
from fastapi.routing import APIRoute
from pydantic import ValidationError

from django_interlink.conf import ms_settings
from mock_services.common.app import load_service
from mock_services.common.faults import FaultSpec
from mock_services.testing import StubServer
from project.demo.report.replays import KeyedCall, replay_note, replay_of

SERVICES = ("users", "inventory", "payments", "orders")
TIMEOUT = 5.0

# The stubs of this process, when the launcher runs them here (see `register`).
_running: dict[str, StubServer] = {}


class BadFault(ValueError):
    """A fault the page asked for that the stubs' FaultSpec refuses; `errors` say why."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid fault")
        self.errors = errors


def register(stubs: dict[str, StubServer]) -> None:
    """The launcher's stubs, so the page can read the payments stub's own ledger."""
    _running.clear()
    _running.update(stubs)


def operations() -> dict[str, list[dict[str, str]]]:
    """Each stub's operations (method and route template), as a fault selects them."""
    found: dict[str, list[dict[str, str]]] = {}
    for service in SERVICES:
        routes = [r for r in load_service(service).router.routes if isinstance(r, APIRoute)]
        found[service] = [
            {"method": method, "path": route.path_format}
            for route in routes
            for method in sorted(route.methods or ())
        ]
    return found


def _control(service: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    conf = ms_settings.service(service)
    response = requests.request(
        method,
        str(conf["BASE_URL"]).rstrip("/") + "/__control" + path,
        headers={"Authorization": f"Bearer {conf['API_KEY']}"},
        timeout=TIMEOUT,
        **kwargs,
    )
    response.raise_for_status()
    return response


def fault_add(*, service: str, spec: dict[str, Any]) -> str:
    """Check `spec` as a FaultSpec, register it on the stub; returns the fault's id."""
    if service not in SERVICES:
        raise BadFault([{"loc": ["service"], "msg": f"one of {', '.join(SERVICES)}"}])
    try:
        fault = FaultSpec.model_validate(spec)
    except ValidationError as exc:
        raise BadFault(
            [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_url=False)]
        ) from exc
    body = fault.model_dump(exclude_none=True)
    fault_id: str = _control(service, "POST", "/faults", json=body).json()["id"]
    return fault_id


def faults_list() -> list[dict[str, Any]]:
    """Every stub's faults, each with its service."""
    listed: list[dict[str, Any]] = []
    for service in SERVICES:
        items = _control(service, "GET", "/faults").json()["items"]
        listed.extend({"service": service, **item} for item in items)
    return listed


def faults_clear() -> None:
    for service in SERVICES:
        _control(service, "DELETE", "/faults")


def saga_calls(saga_id: str) -> list[dict[str, Any]]:
    """The requests the stubs received under this saga's Idempotency-Keys, oldest first, each
    with `t_ms` (since the first) and, for a replay, `replay` (the report's words for it)."""
    prefix = f"{saga_id}:"
    calls: list[dict[str, Any]] = []
    for service in SERVICES:
        for item in _control(service, "GET", "/requests").json()["items"]:
            key = item.get("idempotency_key") or ""
            if key.startswith(prefix):
                calls.append({"service": service, **item, "key": key[len(prefix) :]})
    calls.sort(key=lambda call: float(call["received_at"]))
    start = float(calls[0]["received_at"]) if calls else 0.0
    keyed = [KeyedCall(c["service"], c["key"], bool(c.get("replayed"))) for c in calls]
    for call, original in zip(calls, replay_of(keyed), strict=True):
        call["t_ms"] = round((float(call["received_at"]) - start) * 1000, 1)
        call["replay"] = None if original is None else replay_note(calls[original]["t_ms"])
    return calls


def saga_charges(saga_id: str) -> list[dict[str, Any]] | None:
    """The payments the payments stub holds for this saga (its store: the ground truth); None
    when the stubs do not run in this process. The API has no listing endpoint to ask."""
    payments = _running.get("payments")
    if payments is None:
        return None
    held = payments.app.state.runtime.store.snapshot()["payments"]
    return [
        {"id": p["id"], "amount": p["amount"], "status": p["status"]}
        for p in held
        if p["order_reference"] == saga_id
    ]
