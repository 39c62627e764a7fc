"""System checks of the clients' settings (INTERLINK['SERVICES'], contracts, validation mode).

Ids interlink.E001-E019 / W001-W019. `manage.py check` reports a misconfigured service
before the first call does; `check --deploy` also parses every contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from ..check_helpers import ID, at_least, error, number, positive_number, unknown_keys
from ..conf import DEFAULT_RETRY, DEFAULT_SERVICE, DEFAULTS, ms_settings
from ..http_statuses import UNAVAILABLE_STATUSES
from .contract import MODES, contract_path, load_contract


def _check_service(
    name: str, conf: Any, contracts_dir: Path, validating: bool
) -> list[CheckMessage]:
    where = f"INTERLINK['SERVICES'][{name!r}]"
    if not isinstance(conf, dict):
        return [error("E004", f"{where} must be a dict.", "Give at least {'BASE_URL': ...}.")]
    out: list[CheckMessage] = []
    if unknown := unknown_keys(where, conf, DEFAULT_SERVICE, "E005"):
        out.append(unknown)
    merged = ms_settings.service(name)
    base_url = merged["BASE_URL"]
    if not base_url and not merged["DISCOVERY"]:
        out.append(
            error(
                "E006",
                f"{where} has no BASE_URL.",
                "Set BASE_URL (e.g. 'http://users:8001'), or DISCOVERY: True to find "
                "instances through the registry.",
            )
        )
    elif base_url:
        parts = urlsplit(str(base_url)) if isinstance(base_url, str) else None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
            out.append(
                error(
                    "E007",
                    f"{where}['BASE_URL'] = {base_url!r} is not an http(s) URL.",
                    "Use an absolute URL with scheme and host, e.g. 'https://payments.internal'.",
                )
            )
        elif parts.query or parts.fragment:
            out.append(
                error(
                    "E007",
                    f"{where}['BASE_URL'] must not have a query or fragment.",
                    "Keep only scheme, host, port and an optional path prefix.",
                )
            )
    if not isinstance(merged["API_KEY"], str):
        out.append(error("E008", f"{where}['API_KEY'] must be a string.", "Read it from env."))
    elif not merged["API_KEY"] and not settings.DEBUG:
        out.append(
            Warning(
                f"{where} has an empty API_KEY: calls go out without credentials.",
                hint="Set the service's API key (e.g. from the environment); every service "
                "endpoint requires a bearer token and will answer 401.",
                id=ID.format("W001"),
            )
        )
    for key in ("TIMEOUT", "CONNECT_TIMEOUT"):
        if not positive_number(merged[key]):
            out.append(
                error(
                    "E009",
                    f"{where}['{key}'] = {merged[key]!r} must be a positive number of seconds.",
                    "A call without a timeout can hang a worker forever; use e.g. 5.0.",
                )
            )
    out.extend(_check_retry(where, merged["RETRY"]))
    if validating and not (contracts_dir / f"{name}.yaml").is_file():
        out.append(
            error(
                "E010",
                f"No contract for service {name!r}: {contracts_dir / f'{name}.yaml'} is missing.",
                "Add the OpenAPI document, point CONTRACTS_DIR at the folder holding it, "
                "or set CONTRACT_VALIDATION to 'off'.",
            )
        )
    return out


def _check_retry(where: str, retry: Any) -> list[CheckMessage]:
    if not isinstance(retry, dict):
        return [error("E011", f"{where}['RETRY'] must be a dict.", "See conf.DEFAULT_RETRY.")]
    out: list[CheckMessage] = []
    if unknown := unknown_keys(f"{where}['RETRY']", retry, DEFAULT_RETRY, "E011"):
        out.append(unknown)
    total = retry.get("TOTAL")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        out.append(
            error("E012", f"{where}['RETRY']['TOTAL'] = {total!r} must be an int >= 0.", "E.g. 3.")
        )
    for key in ("BACKOFF_FACTOR", "BACKOFF_MAX", "RETRY_AFTER_MAX"):
        value = retry.get(key)
        if not at_least(value, 0):
            out.append(
                error(
                    "E012",
                    f"{where}['RETRY']['{key}'] = {value!r} must be a number >= 0.",
                    "Seconds, e.g. BACKOFF_FACTOR 0.1, BACKOFF_MAX 2.0, RETRY_AFTER_MAX 10.",
                )
            )
    statuses = retry.get("STATUS_FORCELIST")
    if not isinstance(statuses, Sequence) or not all(
        isinstance(s, int) and 400 <= s <= 599 for s in statuses
    ):
        out.append(
            error(
                "E012",
                f"{where}['RETRY']['STATUS_FORCELIST'] = {statuses!r} must list 4xx/5xx ints.",
                f"E.g. {sorted(UNAVAILABLE_STATUSES)}; never list 4xx business errors like 409.",
            )
        )
    return out


@register(Tags.compatibility)
def check_clients_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """INTERLINK settings used by the service clients."""
    raw = getattr(settings, "INTERLINK", {})
    if not isinstance(raw, dict):
        return [error("E001", "INTERLINK must be a dict.", "See django_interlink/conf.py.")]
    out: list[CheckMessage] = []
    if unknown := unknown_keys("INTERLINK", raw, DEFAULTS, "E002"):
        out.append(unknown)
    services = raw.get("SERVICES", {})
    if not isinstance(services, dict):
        out.append(
            error(
                "E003",
                "INTERLINK['SERVICES'] must be a dict of service name -> settings.",
                "E.g. {'users': {'BASE_URL': 'http://users:8001', 'API_KEY': ...}}.",
            )
        )
        services = {}
    mode = ms_settings.CONTRACT_VALIDATION
    if mode not in MODES:
        out.append(
            error(
                "E013",
                f"INTERLINK['CONTRACT_VALIDATION'] = {mode!r} is not one of {MODES}.",
                "Use 'on' in tests, 'sampled' (with CONTRACT_SAMPLE_RATE) or 'off' in production.",
            )
        )
    rate = ms_settings.CONTRACT_SAMPLE_RATE
    parsed_rate = number(rate)
    if parsed_rate is None or not 0 <= parsed_rate <= 1:
        out.append(
            error(
                "E014",
                f"INTERLINK['CONTRACT_SAMPLE_RATE'] = {rate!r} must be between 0 and 1.",
                "The fraction of calls validated when CONTRACT_VALIDATION is 'sampled'.",
            )
        )
    validating = mode in {"on", "sampled"}
    contracts_dir = ms_settings.contracts_dir
    if validating and services and not contracts_dir.is_dir():
        out.append(
            error(
                "E016",
                f"INTERLINK['CONTRACTS_DIR'] = {str(contracts_dir)!r} is not a directory.",
                "Point it at the folder holding <service>.yaml OpenAPI documents.",
            )
        )
        validating = False  # one error for the folder, not one per service
    for name, conf in services.items():
        out.extend(_check_service(str(name), conf, contracts_dir, validating))
    return out


@register(Tags.compatibility, deploy=True)
def check_validation_cost(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: validating every call in production spends CPU on every call."""
    if ms_settings.CONTRACT_VALIDATION != "on" or settings.DEBUG:
        return []
    return [
        Warning(
            "CONTRACT_VALIDATION is 'on': every request and response is validated, "
            "at a cost in CPU on every call.",
            hint="In production prefer 'sampled' with a CONTRACT_SAMPLE_RATE such as 0.05; "
            "keep 'on' in tests and staging.",
            id=ID.format("W002"),
        )
    ]


@register(Tags.compatibility, deploy=True)
def check_contracts_parse(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: every configured service's contract is a valid OpenAPI document."""
    services = getattr(settings, "INTERLINK", {}).get("SERVICES", {})
    if ms_settings.CONTRACT_VALIDATION not in {"on", "sampled"} or not isinstance(services, dict):
        return []
    out: list[CheckMessage] = []
    for name in services:
        path = contract_path(str(name))
        if not path.is_file():
            continue  # reported as E010
        try:
            load_contract(str(name), str(path))
        except Exception as exc:
            out.append(
                error(
                    "E017",
                    f"The contract of {name!r} ({path}) is not a valid OpenAPI document: {exc}",
                    "Run `make contracts` to see the validator's full report.",
                )
            )
    return out
