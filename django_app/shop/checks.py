"""System checks of the `SHOP` settings (ids shop.E001-E009) and of the orders API's set-up
(shop.E010-E011)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.urls import NoReverseMatch, reverse

from django_interlink.conf import ms_settings

from .conf import shop_settings

API_CONTRACT = "shop.yaml"
CONTRACT_MIDDLEWARE = "django_interlink.api.middleware.ContractValidationMiddleware"


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


@register()
def check_orders_api(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The orders API takes its input checks from its contract: mounted without them, a
    malformed body would reach the services as a 500."""
    try:
        reverse("shop_api:orders")
    except NoReverseMatch:
        return []  # the project does not serve the API
    errors: list[CheckMessage] = []
    if CONTRACT_MIDDLEWARE not in settings.MIDDLEWARE:
        errors.append(
            Error(
                "The orders API (shop.api.urls) is mounted but its requests are not validated: "
                f"{CONTRACT_MIDDLEWARE} is not in MIDDLEWARE.",
                hint="Add it right after django_interlink.middleware.RequestIDMiddleware.",
                id="shop.E010",
            )
        )
    contract = ms_settings.API["CONTRACT"]
    if contract != API_CONTRACT:
        errors.append(
            Error(
                f"INTERLINK['API']['CONTRACT'] = {contract!r}: the orders API answers under "
                f"{API_CONTRACT}, so its requests would be checked against another contract "
                "or none.",
                hint=f'Set INTERLINK["API"]["CONTRACT"] = "{API_CONTRACT}".',
                id="shop.E011",
            )
        )
    return errors
