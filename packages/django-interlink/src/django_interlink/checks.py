"""System checks of the INTERLINK settings: each area keeps its own, registered on import here.

Ids are `interlink.E0xx` (errors) and `interlink.W0xx` (warnings), each with a hint.
The health and metrics endpoints' few settings are checked here (E080-E089), and DATABASES' host
lists (W070).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from .check_helpers import at_least, positive_number
from .clients import checks as clients_checks  # noqa: F401
from .conf import ms_settings
from .events import checks as events_checks  # noqa: F401
from .registry import checks as registry_checks  # noqa: F401
from .retention import checks as retention_checks  # noqa: F401
from .sagas import checks as sagas_checks  # noqa: F401


@register()
def check_health_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    conf: dict[str, Any] = ms_settings.HEALTH
    errors: list[CheckMessage] = []
    seconds = conf["CACHE_SECONDS"]
    if not at_least(seconds, 0):
        errors.append(
            Error(
                f"INTERLINK['HEALTH']['CACHE_SECONDS'] = {seconds!r} must be a number >= 0.",
                hint="Seconds a readiness report is reused; 0 checks every dependency per call.",
                id="interlink.E080",
            )
        )
    if not isinstance(conf["TOKEN"], str):
        errors.append(
            Error(
                "INTERLINK['HEALTH']['TOKEN'] must be a string.",
                hint="Set it from the environment, or '' to show details to staff users only.",
                id="interlink.E081",
            )
        )
    return errors


@register()
def check_metrics_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    conf: dict[str, Any] = ms_settings.METRICS
    errors: list[CheckMessage] = []
    groups = conf["GROUPS"]
    if not isinstance(groups, dict) or not all(
        isinstance(group, str)
        and group
        and isinstance(types, list | tuple)
        and all(isinstance(t, str) and t for t in types)
        for group, types in groups.items()
    ):
        errors.append(
            Error(
                f"INTERLINK['METRICS']['GROUPS'] = {groups!r} must map each consumer group "
                "to the list of event types it consumes.",
                hint='Say {"billing": ["order.created"]}, or {} for CONSUMER_GROUP and the '
                "types of HANDLER_MODULES. /metrics reads their lag and dead letters.",
                id="interlink.E082",
            )
        )
    timeout = conf["SCRAPE_TIMEOUT"]
    if not positive_number(timeout):
        errors.append(
            Error(
                f"INTERLINK['METRICS']['SCRAPE_TIMEOUT'] = {timeout!r} must be a number > 0.",
                hint="Seconds a scrape waits for the broker and for each database query; keep "
                "it below Prometheus's scrape_timeout (10 s by default).",
                id="interlink.E083",
            )
        )
    return errors


#: the sessions libpq may open on a primary only; anything else may land on a standby
WRITABLE_SESSIONS = frozenset({"read-write", "primary"})


def database_host_warnings(databases: Mapping[str, Mapping[str, object]]) -> list[CheckMessage]:
    """A PostgreSQL alias listing several hosts must ask libpq for a writable session."""
    warnings: list[CheckMessage] = []
    for alias, conf in databases.items():
        if "postgresql" not in str(conf.get("ENGINE", "")) or "," not in str(conf.get("HOST")):
            continue
        options = conf.get("OPTIONS")
        attrs = options.get("target_session_attrs", "any") if isinstance(options, dict) else "any"
        if attrs not in WRITABLE_SESSIONS:
            warnings.append(
                Warning(
                    f"DATABASES[{alias!r}] lists several hosts ({conf['HOST']}) with "
                    f"target_session_attrs={attrs!r}: libpq keeps the first host that answers, "
                    "a standby too, and then every write of the outbox, the inbox and the "
                    "sagas fails as read-only.",
                    hint="Add ?target_session_attrs=read-write to DATABASE_URL (or "
                    "OPTIONS={'target_session_attrs': 'read-write'}); see docs/clusters.md.",
                    id="interlink.W070",
                )
            )
    return warnings


@register()
def check_database_hosts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return database_host_warnings(settings.DATABASES)
