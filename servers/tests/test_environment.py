"""Servers named by the environment: the addresses this package parses itself."""

from __future__ import annotations

import pytest

from servers.endpoint import ServerStartError
from servers.redis_sentinel import sentinel_addresses


def test_sentinel_addresses_are_host_port_pairs_in_order():
    """Comma-separated host:port entries, spaces and empty entries ignored, IPv6 in brackets."""
    raw = "127.0.0.1:26379, sentinel-2:26380,,[::1]:26381"
    assert sentinel_addresses(raw) == [
        ("127.0.0.1", 26379),
        ("sentinel-2", 26380),
        ("::1", 26381),
    ]


@pytest.mark.parametrize("entry", ["sentinel-1", ":26379", "sentinel-1:port", "sentinel-1:0"])
def test_a_sentinel_address_without_a_host_and_port_is_refused_naming_the_variable(entry):
    """An entry that is not host:port with a port in 1-65535: ServerStartError naming it."""
    with pytest.raises(ServerStartError) as raised:
        sentinel_addresses(f"127.0.0.1:26379,{entry}")
    assert str(raised.value) == (
        f"REDIS_SENTINELS is set but invalid: {entry!r} is not 'host:port'"
    )
