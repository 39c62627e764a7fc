"""System checks of the SHOP settings: each misconfiguration yields its id, with a hint."""

from __future__ import annotations

from django.test import override_settings

from shop.checks import check_shop_settings


def _ids(messages):
    return sorted(m.id for m in messages)


def test_negative_user_cache_ttl_is_reported():
    """USER_CACHE_TTL must be a non-negative int."""
    with override_settings(SHOP={"USER_CACHE_TTL": -5}):
        assert _ids(check_shop_settings()) == ["shop.E001"]


def test_non_integer_low_stock_threshold_is_reported():
    """INVENTORY_LOW_THRESHOLD must be a non-negative int."""
    with override_settings(SHOP={"INVENTORY_LOW_THRESHOLD": "five"}):
        assert _ids(check_shop_settings()) == ["shop.E002"]


def test_defaults_pass():
    """The defaults are valid."""
    with override_settings(SHOP={}):
        assert check_shop_settings() == []
