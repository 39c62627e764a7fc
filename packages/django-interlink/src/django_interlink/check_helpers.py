"""Validators shared by the system checks of every area (clients, events, registry, ...).

Each answers whether a setting's value has the shape a check wants; the checks keep their own
ids, messages and hints. `unknown_keys` builds the one message every dict-shaped setting gives
for keys it does not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Real
from typing import Any
from urllib.parse import urlsplit

from django.core.checks import Error

ID = "interlink.{}"


def number(value: Any) -> float | None:
    """`value` as a float when it is a real number (a bool is not one), else None."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    return float(value)


def at_least(value: Any, minimum: float, *, strict: bool = False) -> bool:
    """Whether `value` is a number >= `minimum` (> `minimum` when `strict`)."""
    parsed = number(value)
    if parsed is None:
        return False
    return parsed > minimum if strict else parsed >= minimum


def positive_number(value: Any) -> bool:
    """Whether `value` is a number > 0."""
    return at_least(value, 0, strict=True)


def positive_int(value: Any) -> bool:
    """Whether `value` is an int >= 1 (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def http_url(value: Any) -> bool:
    """Whether `value` is an absolute http(s) URL with a host."""
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def error(code: str, msg: str, hint: str) -> Error:
    """An Error with the id `interlink.<code>`."""
    return Error(msg, hint=hint, id=ID.format(code))


def unknown_keys(
    where: str, given: Iterable[Any], known: Iterable[Any], code: str, hint: str | None = None
) -> Error | None:
    """The Error naming the keys of `given` not in `known` (None when there are none); the
    hint lists the known keys unless one is given."""
    known_keys = set(known)
    unknown = sorted(set(given) - known_keys)
    if not unknown:
        return None
    if hint is None:
        hint = f"Known keys: {', '.join(sorted(known_keys))}."
    return error(code, f"{where} has unknown keys: {', '.join(unknown)}.", hint)
