"""Settings that point the clients at stub services (used by the pytest plugin and the demo)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Retry fast in tests and demos: a few milliseconds of backoff, Retry-After honoured up to 2 s.
FAST_RETRY: dict[str, Any] = {
    "TOTAL": 3,
    "BACKOFF_FACTOR": 0.001,
    "BACKOFF_MAX": 0.01,
    "RETRY_AFTER_MAX": 2.0,
}


def services_settings_for(
    urls: Mapping[str, str],
    token: str,
    *,
    base: Mapping[str, Any] | None = None,
    validation: str = "on",
    timeout: float = 5.0,
    retry: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A INTERLINK dict whose SERVICES are `urls` (name -> base URL), all with bearer `token`.

    `base` is the INTERLINK dict to start from (other areas' keys are kept).
    """
    conf: dict[str, Any] = dict(base or {})
    conf["SERVICES"] = {
        name: {
            "BASE_URL": url,
            "API_KEY": token,
            "TIMEOUT": timeout,
            "CONNECT_TIMEOUT": min(timeout, 2.0),
            "RETRY": {**FAST_RETRY, **(retry or {})},
        }
        for name, url in urls.items()
    }
    conf["CONTRACT_VALIDATION"] = validation
    return conf
