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


def test_orders_api_without_its_contract_validation_is_an_error():
    """Mounted but unvalidated: E010 without the middleware, E011 with another contract."""
    from django.conf import settings

    from shop.checks import CONTRACT_MIDDLEWARE, check_orders_api

    assert check_orders_api() == []
    without = [m for m in settings.MIDDLEWARE if m != CONTRACT_MIDDLEWARE]
    with override_settings(MIDDLEWARE=without, INTERLINK={"API": {"CONTRACT": ""}}):
        assert [e.id for e in check_orders_api()] == ["shop.E010", "shop.E011"]
