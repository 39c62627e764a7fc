"""The `SHOP` settings dict: the example shop's own defaults, read lazily like INTERLINK."""

from __future__ import annotations

from typing import Any

from django_interlink.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # seconds a found user stays in Django's cache (0 = no cache)
    "USER_CACHE_TTL": 300,
    # order.created raises inventory.low for a product with fewer units available
    "INVENTORY_LOW_THRESHOLD": 5,
}

shop_settings = AppSettings("SHOP", DEFAULTS)
