"""System checks of INTERLINK['RETENTION'] and the API's limits (interlink.E090-E099)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from ..check_helpers import at_least, number
from ..conf import ms_settings
from ..events.consumer import retry_delay

# Deeper bodies would take the schema validator near Python's recursion limit.
MAX_JSON_DEPTH_CEILING = 100


def _at_least(where: str, conf: dict[str, Any], key: str, minimum: float, hint: str) -> list[Error]:
    if at_least(conf.get(key), minimum):
        return []
    return [
        Error(
            f"{where}['{key}'] must be a number >= {minimum:g}, got {conf.get(key)!r}.",
            hint=hint,
            id="interlink.E090",
        )
    ]


def redelivery_horizon() -> float:
    """Seconds after its first delivery that an event may still be delivered again: every
    retry's backoff, a reclaim after each delivery (a consumer died holding it), and the
    dead-letter replay window."""
    bus: dict[str, Any] = ms_settings.EVENT_BUS
    deliveries = int(bus["MAX_DELIVERIES"])
    base = float(bus["RETRY_BACKOFF"])
    retries = sum(retry_delay(d, base=base) for d in range(1, deliveries))
    reclaims = deliveries * float(bus["REDIS_CLAIM_IDLE_MS"]) / 1000
    return retries + reclaims + float(ms_settings.RETENTION["DEAD_LETTER_REPLAY"])


@register()
def check_retention(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    where = "INTERLINK['RETENTION']"
    conf: dict[str, Any] = ms_settings.RETENTION
    errors: list[CheckMessage] = []
    errors += _at_least(
        where,
        conf,
        "INTERVAL",
        0,
        "Seconds between the relay's purges; 0 leaves them to manage.py purge_expired.",
    )
    for key in ("OUTBOX_SENT", "INBOX", "DEAD_LETTER_REPLAY", "SAGAS"):
        errors += _at_least(where, conf, key, 1, f"Seconds {key.lower()} rows are kept.")
    for key in ("REDIS_DEAD_LETTER_MAXLEN", "BATCH_SIZE"):
        errors += _at_least(where, conf, key, 1, "A whole number of entries or rows.")
    if errors:
        return errors
    horizon = redelivery_horizon()
    if float(conf["INBOX"]) <= horizon:
        errors.append(
            Error(
                f"{where}['INBOX'] = {conf['INBOX']}s is not longer than the longest redelivery "
                f"({horizon:.0f}s: retries, reclaims and DEAD_LETTER_REPLAY): an event delivered "
                "again after its inbox row was purged would be applied twice.",
                hint="Keep inbox rows longer than DEAD_LETTER_REPLAY plus a day, or replay dead "
                "letters sooner (a shorter DEAD_LETTER_REPLAY).",
                id="interlink.E091",
            )
        )
    return errors


@register()
def check_api_limits(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    where = "INTERLINK['API']"
    conf: dict[str, Any] = ms_settings.API
    errors: list[CheckMessage] = []
    for key, minimum, hint in (
        ("MAX_BODY_BYTES", 1, "Bytes; a larger body is answered 413."),
        ("MAX_JSON_DEPTH", 1, "Levels of arrays and objects; a deeper body is answered 400."),
        ("IDEMPOTENCY_KEY_TTL", 1, "Seconds an Idempotency-Key is remembered (24 h: 86400)."),
        ("RATE_LIMIT", 0, "Requests per token and window; 0 turns the limit off."),
        ("RATE_LIMIT_WINDOW", 1, "Seconds of one rate-limit window."),
    ):
        errors += _at_least(where, conf, key, minimum, hint)
    depth = number(conf.get("MAX_JSON_DEPTH"))
    if depth is not None and depth > MAX_JSON_DEPTH_CEILING:
        errors.append(
            Error(
                f"{where}['MAX_JSON_DEPTH'] = {conf['MAX_JSON_DEPTH']} lets bodies nest so deep "
                "that checking them against the contract could exhaust Python's recursion.",
                hint=f"Keep it at or under {MAX_JSON_DEPTH_CEILING}.",
                id="interlink.E092",
            )
        )
    return errors
