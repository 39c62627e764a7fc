"""System checks of INTERLINK['SAGA'] (ids interlink.E060-E079)."""

from __future__ import annotations

import math
from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from ..check_helpers import at_least, number
from ..clients.transport import longest_call_seconds
from ..conf import ms_settings
from .heartbeat import period
from .registry import configured_definitions


@register()
def check_saga_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    conf: dict[str, Any] = ms_settings.SAGA
    errors: list[CheckMessage] = []
    for key, minimum in (
        ("LEASE_SECONDS", 1.0),
        ("STEP_TIMEOUT", 0.01),
        ("COMPENSATION_ATTEMPTS", 1.0),
        ("COMPENSATION_BACKOFF", 0.0),
        ("COMPENSATION_BACKOFF_MAX", 0.0),
        ("COMPENSATION_WAIT", 0.01),
        ("COMPENSATION_WAIT_MAX", 0.01),
        ("COMPENSATION_HORIZON", 0.0),
    ):
        if not at_least(conf.get(key), minimum):
            errors.append(
                Error(
                    f"INTERLINK['SAGA']['{key}'] must be a number >= {minimum:g}, "
                    f"got {conf.get(key)!r}.",
                    hint=f"Set INTERLINK['SAGA']['{key}'] or remove it to use the default.",
                    id="interlink.E060",
                )
            )
    lease, timeout = number(conf.get("LEASE_SECONDS")), number(conf.get("STEP_TIMEOUT"))
    if lease is not None and timeout is not None and timeout >= lease:
        errors.append(
            Error(
                f"INTERLINK['SAGA']['STEP_TIMEOUT'] ({timeout:g}s) is not shorter than "
                f"LEASE_SECONDS ({lease:g}s): a slow step could outlive its lease and another "
                "worker would run the same saga at once.",
                hint="Make LEASE_SECONDS several times STEP_TIMEOUT.",
                id="interlink.E061",
            )
        )
    if lease is not None:
        errors.extend(_slow_services(lease))
        errors.extend(_waits(conf, lease))
    errors.extend(_definitions())
    return errors


def _waits(conf: dict[str, Any], lease: float) -> list[CheckMessage]:
    """A waiting undo must get tries within its horizon: the horizon has to outlast the
    longest wait, and the lease (a worker that died holding the saga frees it only then)."""
    horizon, wait_max = (
        number(conf.get("COMPENSATION_HORIZON")),
        number(conf.get("COMPENSATION_WAIT_MAX")),
    )
    if horizon is None or wait_max is None:
        return []
    floor = 2 * max(wait_max, lease)
    if horizon >= floor:
        return []
    return [
        Error(
            f"INTERLINK['SAGA']['COMPENSATION_HORIZON'] ({horizon:g}s) is shorter than "
            f"twice the longer of COMPENSATION_WAIT_MAX ({wait_max:g}s) and LEASE_SECONDS "
            f"({lease:g}s): an undo waiting for a service could be given up on, and a person "
            "called, after a try or two.",
            hint=f"Make COMPENSATION_HORIZON at least {floor:g}s (the default is 6 hours).",
            id="interlink.E064",
        )
    ]


def _definitions() -> list[CheckMessage]:
    """Every SAGA['DEFINITIONS'] entry must name a SagaDefinition, each saga_type once."""
    try:
        definitions = configured_definitions()
    except (ImportError, TypeError) as exc:
        return [
            Error(
                f"INTERLINK['SAGA']['DEFINITIONS'] cannot be loaded: {exc}",
                hint="List dotted paths of SagaDefinition objects; resume_sagas cannot run a "
                "saga whose definition it cannot find.",
                id="interlink.E062",
            )
        ]
    types = [d.saga_type for d in definitions]
    duplicates = sorted({t for t in types if types.count(t) > 1})
    if duplicates:
        return [
            Error(
                f"INTERLINK['SAGA']['DEFINITIONS'] names saga type(s) {duplicates} twice: "
                "a worker would resume them with whichever it found first.",
                hint="Give every SagaDefinition its own saga_type.",
                id="interlink.E063",
            )
        ]
    return []


def _slow_services(lease: float) -> list[CheckMessage]:
    """Services whose slowest call could outlive the lease it starts with.

    A call starts with at least LEASE less one heartbeat period of lease ahead (heartbeat.py),
    and nothing cuts it short: if the lease cannot be renewed while it runs, it lapses mid-call.
    """
    warnings: list[CheckMessage] = []
    beat = period(lease)
    services: dict[str, Any] = ms_settings.SERVICES
    for name in services:
        try:
            worst = longest_call_seconds(ms_settings.service(name))
        except (KeyError, TypeError, ValueError):
            continue  # the clients' own checks report malformed service settings
        if worst > lease - beat:
            needed = math.ceil(worst / (1 - period(1.0)))  # the lease L with L - period(L) = worst
            warnings.append(
                Warning(
                    f"A call to service {name!r} can block for {worst:g}s (the timeouts of "
                    f"every attempt and the waits between them), longer than the "
                    f"{lease - beat:.4g}s of lease a call is sure to start with "
                    f"(INTERLINK['SAGA']['LEASE_SECONDS'] {lease:g}s less a heartbeat "
                    f"period of {beat:.4g}s): if the lease cannot be renewed meanwhile (the "
                    "database out of reach), it lapses with the call in flight, and another "
                    "worker can take the saga over and run the same step at the same time.",
                    hint=f"Raise LEASE_SECONDS to {needed:d}s or more, or lower the service's "
                    "TIMEOUT, CONNECT_TIMEOUT, RETRY TOTAL or RETRY_AFTER_MAX.",
                    id="interlink.W060",
                )
            )
    return warnings
