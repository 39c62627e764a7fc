"""A saga's context as people may see it: secrets cut to a hint (the admin, the playground)."""

from __future__ import annotations

from typing import Any

__all__ = ["masked"]

SECRET_KEY_PARTS = ("token", "secret", "password", "api_key", "authorization")


def masked(value: Any) -> Any:
    """The context with secrets cut to a 4-character hint ("tok_…"): the admin shows what a
    saga holds to people who must not copy a customer's card token or a key from it."""
    if isinstance(value, dict):
        return {
            key: (
                _hint(item)
                if isinstance(key, str) and any(p in key.lower() for p in SECRET_KEY_PARTS)
                else masked(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _hint(value: Any) -> Any:
    if isinstance(value, str) and value:
        return value[:4] + "…"
    return value if value is None else "…"
