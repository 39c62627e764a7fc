"""System checks of INTERLINK['REGISTRY'] (ids interlink.E020-E039 / W020-W039)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from ..check_helpers import ID, at_least, http_url, positive_number
from ..conf import ms_settings
from .base import BACKENDS, STRATEGIES, ServiceRegistry
from .consul import parse_address

WHERE = "INTERLINK['REGISTRY']"
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: Any) -> float | None:
    """Seconds of a Go duration string ("10s", "1m30s"), None if it is not one."""
    if not isinstance(value, str) or not _DURATION.match(value):
        return None
    return sum(
        float(n) * _UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value)
    )


def _backend(conf: dict[str, Any]) -> list[CheckMessage]:
    backend = conf.get("BACKEND")
    path = BACKENDS.get(str(backend), str(backend))
    try:
        cls = import_string(path)
    except ImportError as exc:
        cls, reason = None, str(exc)
    else:
        reason = "it is not a ServiceRegistry subclass"
    if isinstance(cls, type) and issubclass(cls, ServiceRegistry):
        return []
    return [
        Error(
            f"{WHERE}['BACKEND'] = {backend!r} can't be used: {reason}.",
            hint=f"Use one of {', '.join(sorted(BACKENDS))} or the dotted path of a "
            "ServiceRegistry subclass (with a from_settings() classmethod).",
            id=ID.format("E020"),
        )
    ]


def _consul(conf: dict[str, Any]) -> list[CheckMessage]:
    out: list[CheckMessage] = []
    scheme = conf.get("CONSUL_SCHEME")
    if scheme not in {"http", "https"}:
        out.append(
            Error(
                f"{WHERE}['CONSUL_SCHEME'] must be 'http' or 'https', not {scheme!r}.",
                hint="https when the agent serves TLS, else http.",
                id=ID.format("E025"),
            )
        )
    try:
        parse_address(str(conf.get("CONSUL_HTTP_ADDR") or ""), "http")
    except Exception as exc:
        out.append(
            Error(
                f"{WHERE}['CONSUL_HTTP_ADDR'] is not an agent address: {exc}",
                hint="host:port or http(s)://host:port (empty = the local agent 127.0.0.1:8500); "
                "the example project reads it from the CONSUL_HTTP_ADDR environment variable.",
                id=ID.format("E021"),
            )
        )
    if not positive_number(conf.get("CONSUL_TIMEOUT")):
        out.append(
            Error(
                f"{WHERE}['CONSUL_TIMEOUT'] must be a positive number of seconds.",
                hint="A few seconds: discovery falls back to the last known instances after it.",
                id=ID.format("E029"),
            )
        )
    return out


def _checks_and_durations(conf: dict[str, Any]) -> list[CheckMessage]:
    out: list[CheckMessage] = []
    seconds: dict[str, float | None] = {}
    for key in ("HEALTH_CHECK_INTERVAL", "HEALTH_CHECK_TIMEOUT", "DEREGISTER_CRITICAL_AFTER"):
        seconds[key] = duration_seconds(conf.get(key))
        if seconds[key] is None:
            out.append(
                Error(
                    f"{WHERE}[{key!r}] = {conf.get(key)!r} is not a duration.",
                    hint="A Go duration string as Consul takes it, such as '10s', '500ms' or '1m'.",
                    id=ID.format("E024"),
                )
            )
    deregister = seconds["DEREGISTER_CRITICAL_AFTER"]
    if deregister is not None and deregister < 60:
        out.append(
            Warning(
                f"{WHERE}['DEREGISTER_CRITICAL_AFTER'] is under one minute.",
                hint="Consul reaps critical services no sooner than about a minute anyway.",
                id=ID.format("W020"),
            )
        )
    interval, timeout = seconds["HEALTH_CHECK_INTERVAL"], seconds["HEALTH_CHECK_TIMEOUT"]
    if interval is not None and timeout is not None and timeout > interval:
        out.append(
            Warning(
                f"{WHERE}['HEALTH_CHECK_TIMEOUT'] is longer than its HEALTH_CHECK_INTERVAL.",
                hint="Keep the timeout at or below the interval so checks don't pile up.",
                id=ID.format("W021"),
            )
        )
    url = conf.get("HEALTH_CHECK_URL")
    if url and not http_url(url):
        out.append(
            Error(
                f"{WHERE}['HEALTH_CHECK_URL'] = {url!r} is not an http(s) URL.",
                hint="The URL of this service's /health/ready/ as the registry can reach it, or "
                "'' to build it from SERVICE_ADDRESS and SERVICE_PORT.",
                id=ID.format("E028"),
            )
        )
    return out


def _this_service(conf: dict[str, Any]) -> list[CheckMessage]:
    out: list[CheckMessage] = []
    if not isinstance(conf.get("SERVICE_NAME"), str) or not conf["SERVICE_NAME"]:
        out.append(
            Error(
                f"{WHERE}['SERVICE_NAME'] must be a non-empty string.",
                hint="The name this Django service registers under (e.g. 'django-orders').",
                id=ID.format("E027"),
            )
        )
    port = conf.get("SERVICE_PORT")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        out.append(
            Error(
                f"{WHERE}['SERVICE_PORT'] must be a TCP port number, not {port!r}.",
                hint="The port this Django service listens on (1-65535).",
                id=ID.format("E027"),
            )
        )
    tags = conf.get("SERVICE_TAGS")
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        out.append(
            Error(
                f"{WHERE}['SERVICE_TAGS'] must be a list of strings.",
                hint="e.g. ['django', 'v1'], or [].",
                id=ID.format("E031"),
            )
        )
    return out


def _static(conf: dict[str, Any]) -> list[CheckMessage]:
    instances = conf.get("INSTANCES")
    hint = "A dict of service name -> list of base URLs, e.g. {'users': ['http://10.0.0.5:8001']}."
    if not isinstance(instances, dict):
        return [Error(f"{WHERE}['INSTANCES'] must be a dict.", hint=hint, id=ID.format("E026"))]
    out: list[CheckMessage] = []
    for name, urls in instances.items():
        if not isinstance(urls, list | tuple) or not all(http_url(u) for u in urls):
            out.append(
                Error(
                    f"{WHERE}['INSTANCES'][{name!r}] must be a list of http(s) base URLs.",
                    hint=hint,
                    id=ID.format("E026"),
                )
            )
    return out


@register("interlink")
def check_registry_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report a misconfigured REGISTRY before the first discovery or registration."""
    conf: Any = ms_settings.REGISTRY
    if not isinstance(conf, dict):
        return [Error(f"{WHERE} must be a dict.", hint="See conf.DEFAULTS.", id=ID.format("E039"))]
    out = _backend(conf)
    if conf.get("STRATEGY") not in STRATEGIES:
        out.append(
            Error(
                f"{WHERE}['STRATEGY'] = {conf.get('STRATEGY')!r} is unknown.",
                hint=f"One of {', '.join(STRATEGIES)}.",
                id=ID.format("E022"),
            )
        )
    if not at_least(conf.get("CACHE_TTL"), 0):
        out.append(
            Error(
                f"{WHERE}['CACHE_TTL'] must be a number of seconds >= 0.",
                hint="How long discovery answers are cached (0 = ask the registry every time).",
                id=ID.format("E023"),
            )
        )
    if conf.get("CACHE_ALIAS") not in getattr(settings, "CACHES", {}):
        out.append(
            Error(
                f"{WHERE}['CACHE_ALIAS'] = {conf.get('CACHE_ALIAS')!r} is not in CACHES.",
                hint="Name one of settings.CACHES (discovery answers are cached there).",
                id=ID.format("E030"),
            )
        )
    if conf.get("BACKEND") == "consul":
        out += _consul(conf)
    out += _checks_and_durations(conf)
    out += _this_service(conf)
    out += _static(conf)
    return out
