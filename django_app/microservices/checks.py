"""System checks of the MICROSERVICES settings: each area keeps its own, registered on import here.

Ids are `microservices.E0xx` (errors) and `microservices.W0xx` (warnings), each with a hint.
The health endpoint's few settings are checked here (E080-E089).
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

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
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        errors.append(
            Error(
                f"MICROSERVICES['HEALTH']['CACHE_SECONDS'] = {seconds!r} must be a number >= 0.",
                hint="Seconds a readiness report is reused; 0 checks every dependency per call.",
                id="microservices.E080",
            )
        )
    if not isinstance(conf["TOKEN"], str):
        errors.append(
            Error(
                "MICROSERVICES['HEALTH']['TOKEN'] must be a string.",
                hint="Set it from the environment, or '' to show details to staff users only.",
                id="microservices.E081",
            )
        )
    return errors
