"""System checks of the `SHOP` settings (ids shop.E001-E009)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from .conf import shop_settings


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@register()
def check_shop_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    ttl = shop_settings.USER_CACHE_TTL
    if not _non_negative_int(ttl):
        errors.append(
            Error(
                f"SHOP['USER_CACHE_TTL'] = {ttl!r} must be an int >= 0 (seconds).",
                hint="0 disables the user cache.",
                id="shop.E001",
            )
        )
    threshold = shop_settings.INVENTORY_LOW_THRESHOLD
    if not _non_negative_int(threshold):
        errors.append(
            Error(
                f"SHOP['INVENTORY_LOW_THRESHOLD'] = {threshold!r} must be an int >= 0 (units); "
                "order.created could not decide which products run low.",
                hint="0 never raises inventory.low.",
                id="shop.E002",
            )
        )
    return errors
