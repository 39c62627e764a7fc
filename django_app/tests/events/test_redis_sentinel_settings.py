"""Redis with Sentinel in EVENT_BUS: the addresses parsed, REDIS_URL's part, the checks, WAIT."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_interlink.conf import _merge, ms_settings
from django_interlink.events.checks import check_event_bus
from django_interlink.events.redis_connection import (
    RedisAddressError,
    RedisTarget,
    parse_sentinels,
)
from django_interlink.events.redis_streams import RedisStreamsBus
from django_interlink.exceptions import BusUnavailable, NotReplicated

SENTINELS = ["s1:26379", "s2:26380", ["s3", 26381]]


def events_settings(**event_bus):
    return override_settings(INTERLINK=_merge(ms_settings.data, {"EVENT_BUS": event_bus}))


def check_ids(**event_bus) -> list[str]:
    with events_settings(**event_bus):
        return [message.id for message in check_event_bus() if message.id]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (SENTINELS, (("s1", 26379), ("s2", 26380), ("s3", 26381))),
        ("s1:26379, s2:26380", (("s1", 26379), ("s2", 26380))),
        ([("10.0.0.1", 26379)], (("10.0.0.1", 26379),)),
        (["[::1]:26379"], (("::1", 26379),)),
        ("", ()),
        ([], ()),
    ],
)
def test_sentinel_addresses_are_read_from_strings_pairs_or_one_comma_list(value, expected):
    """ "host:port" strings, [host, port] pairs and a comma-separated string all name sentinels."""
    assert parse_sentinels(value) == expected


@pytest.mark.parametrize(
    ("value", "names"),
    [
        (["s1"], "'s1' is not 'host:port'"),
        (["s1:port"], "'s1:port' has a port that is not a number"),
        (["s1:0"], "'s1:0' has no port in 1-65535"),
        ([["s1", "26379"]], "has no port in 1-65535"),
        ([["s1", 26379, 1]], "is neither 'host:port' nor [host, port]"),
        ([":26379"], "':26379' is not 'host:port'"),
        (26379, "must be a list"),
    ],
)
def test_a_bad_sentinel_address_is_a_typed_error_naming_the_entry(value, names):
    """Each malformed entry raises RedisAddressError (a ValueError) quoting it."""
    with pytest.raises(RedisAddressError) as raised:
        parse_sentinels(value)
    assert names in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_with_sentinels_redis_url_gives_the_primary_auth_db_and_tls_only():
    """The URL's username, password, database and rediss:// apply to the primary; no host."""
    target = RedisTarget.from_config(
        {
            "REDIS_URL": "rediss://app:s3cret@ignored:1234/3",
            "REDIS_SENTINELS": SENTINELS,
            "REDIS_SENTINEL_SERVICE": "mymaster",
        }
    )
    assert target.primary_options() == {
        "username": "app",
        "password": "s3cret",
        "db": 3,
        "ssl": True,
    }
    assert target.describe() == "sentinel service 'mymaster' via s1:26379,s2:26380,s3:26381"
    assert "s3cret" not in repr(target)


def test_a_sentinel_target_builds_a_master_for_client_of_the_service():
    """The client is redis-py's master_for client: its pool asks the sentinels for `mymaster`,
    with the sentinel auth given (nothing is connected until a command)."""
    target = RedisTarget.from_config(
        {
            "REDIS_URL": "",
            "REDIS_SENTINELS": SENTINELS,
            "REDIS_SENTINEL_SERVICE": "mymaster",
            "REDIS_SENTINEL_PASSWORD": "sentinel-pw",
        }
    )
    client = target.client(socket_timeout=1)
    pool = client.connection_pool
    assert pool.service_name == "mymaster"
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["host"] for s in sentinels] == ["s1", "s2", "s3"]
    assert {s.connection_pool.connection_kwargs["password"] for s in sentinels} == {"sentinel-pw"}


def test_without_sentinels_the_bus_needs_a_redis_url():
    """No REDIS_URL and no sentinels: a typed error saying what to set."""
    with pytest.raises(RedisAddressError, match="REDIS_URL"):
        RedisTarget.from_config({"REDIS_URL": "", "REDIS_SENTINELS": []})


@pytest.mark.parametrize(
    ("event_bus", "check_id"),
    [
        (
            {"REDIS_URL": "", "REDIS_SENTINELS": ["s1"], "REDIS_SENTINEL_SERVICE": "mymaster"},
            "interlink.E056",
        ),
        ({"REDIS_URL": "", "REDIS_SENTINELS": SENTINELS}, "interlink.E057"),
        (
            {
                "REDIS_URL": "unix:///tmp/redis.sock",
                "REDIS_SENTINELS": SENTINELS,
                "REDIS_SENTINEL_SERVICE": "mymaster",
            },
            "interlink.E057",
        ),
        (
            {
                "REDIS_URL": "redis://:pw@redis-1:6379/0",
                "REDIS_SENTINELS": SENTINELS,
                "REDIS_SENTINEL_SERVICE": "mymaster",
            },
            "interlink.W056",
        ),
        ({"REDIS_URL": "redis://r/0", "REDIS_WAIT_REPLICAS": -1}, "interlink.E058"),
        ({"REDIS_URL": "redis://r/0", "REDIS_WAIT_REPLICAS": True}, "interlink.E058"),
        ({"REDIS_URL": "redis://r/0", "REDIS_WAIT_TIMEOUT_MS": 0}, "interlink.E058"),
        ({"REDIS_URL": "", "REDIS_SENTINELS": []}, "interlink.E042"),
    ],
)
def test_each_sentinel_or_wait_misconfiguration_has_its_check(event_bus, check_id):
    """Each misconfiguration of the Redis bus yields its own check id, and only it."""
    assert check_ids(BACKEND="redis", **event_bus) == [check_id]


def test_sentinels_without_a_redis_url_pass_the_checks():
    """Sentinels and a service are enough: REDIS_URL is optional with them."""
    assert (
        check_ids(
            BACKEND="redis",
            REDIS_URL="redis://:pw@/2",
            REDIS_SENTINELS="s1:26379,s2:26380",
            REDIS_SENTINEL_SERVICE="mymaster",
            REDIS_WAIT_REPLICAS=1,
        )
        == []
    )


def test_the_bus_takes_its_wait_and_sentinels_from_the_settings():
    """RedisStreamsBus.from_config: WAIT for REDIS_WAIT_REPLICAS within the timeout, on the
    Sentinel target."""
    with events_settings(
        BACKEND="redis",
        REDIS_URL="",
        REDIS_SENTINELS=SENTINELS,
        REDIS_SENTINEL_SERVICE="mymaster",
        REDIS_WAIT_REPLICAS=2,
        REDIS_WAIT_TIMEOUT_MS=250,
    ):
        bus = RedisStreamsBus.from_config(ms_settings.EVENT_BUS)
    assert (bus.wait_replicas, bus.wait_timeout_ms) == (2, 250)
    assert bus.target.uses_sentinel


@pytest.mark.parametrize("reply", [0, 1, None, ValueError("WAIT refused")])
def test_fewer_confirming_replicas_than_asked_is_not_replicated(reply):
    """WAIT's answer below REDIS_WAIT_REPLICAS (or no answer) fails the publish as a
    BusUnavailable, so the relay keeps the rows pending."""
    bus = RedisStreamsBus("redis://r/0", **_options(wait_replicas=2))
    with pytest.raises(NotReplicated) as raised:
        bus._replicated(["1-0", "1-1", reply], 2)
    assert isinstance(raised.value, BusUnavailable)
    assert "of 2 Redis replica(s) confirmed 2 event(s) within 300 ms" in str(raised.value)


def test_enough_confirming_replicas_is_a_publish():
    bus = RedisStreamsBus("redis://r/0", **_options(wait_replicas=2))
    bus._replicated(["1-0", 2], 1)
    bus._replicated(["1-0", 3], 1)


def _options(**extra):
    return {
        "prefix": "t",
        "max_deliveries": 3,
        "publish_timeout": 1.0,
        "reconnect_backoff_max": 1.0,
        "claim_idle_ms": 1000,
        "block_ms": 100,
        "wait_timeout_ms": 300,
        **extra,
    }
