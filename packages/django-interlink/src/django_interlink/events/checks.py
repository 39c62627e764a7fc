"""System checks of INTERLINK['EVENT_BUS'] (ids interlink.E040-E059 / W040-W059).

`check --deploy` also asks the configured Redis whether it persists the streams.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from ..check_helpers import number, positive_int
from ..conf import ms_settings
from .backends import BACKENDS
from .contract import get_contract
from .handlers import load_registry
from .rabbitmq_nodes import RabbitMQURLError, rabbitmq_urls
from .redis_connection import SENTINEL_SCHEMES, RedisAddressError, RedisTarget, parse_sentinels

WHERE = "INTERLINK['EVENT_BUS']"
REDIS_SCHEMES = {"redis", "rediss", "unix"}
# Seconds `check --deploy` waits for Redis to answer CONFIG GET.
REDIS_CONFIG_TIMEOUT = 2.0
# A longer window wait holds a message unacked (and its broker heartbeat unserved) too long.
MAX_WINDOW_WAIT = 5.0


def _scheme(url: Any) -> str:
    return urlsplit(url).scheme if isinstance(url, str) and url else ""


@register()
def check_event_bus(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    conf: dict[str, Any] = ms_settings.EVENT_BUS
    errors: list[CheckMessage] = []
    backend = conf.get("BACKEND")
    if backend not in BACKENDS:
        errors.append(
            Error(
                f"{WHERE}['BACKEND'] is {backend!r}",
                hint=f"Use one of: {', '.join(BACKENDS)}.",
                id="interlink.E040",
            )
        )
    if backend == "rabbitmq":
        errors.extend(_check_rabbitmq_nodes(conf))
    if backend in {"redis", "redis_pubsub"}:
        errors.extend(_check_redis(conf))
    for key in ("MAX_DELIVERIES", "OUTBOX_BATCH_SIZE", "RABBITMQ_PREFETCH", "MAX_EVENT_BYTES"):
        if not positive_int(conf.get(key)):
            errors.append(
                Error(
                    f"{WHERE}['{key}'] must be an integer >= 1, not {conf.get(key)!r}",
                    hint="Remove it to use the default.",
                    id="interlink.E043",
                )
            )
    if conf.get("RABBITMQ_QUEUE_TYPE") not in {"quorum", "classic"}:
        errors.append(
            Error(
                f"{WHERE}['RABBITMQ_QUEUE_TYPE'] is {conf.get('RABBITMQ_QUEUE_TYPE')!r}",
                hint='Use "quorum" (RabbitMQ >= 3.8) or "classic".',
                id="interlink.E044",
            )
        )
    errors.extend(_check_window(conf))
    errors.extend(_check_contract_and_handlers())
    if backend == "memory" and not settings.DEBUG and not conf.get("ALLOW_MEMORY_BUS"):
        errors.append(
            Error(
                f"{WHERE}['BACKEND'] is 'memory' with DEBUG off",
                hint="Events never leave this process, yet relay_outbox would mark them sent: use "
                "rabbitmq or redis. Set ALLOW_MEMORY_BUS only where one process publishes and "
                "consumes (tests, a demo).",
                id="interlink.E048",
            )
        )
    return errors


def _check_redis(conf: dict[str, Any]) -> list[CheckMessage]:
    """Where the Redis bus connects (REDIS_URL, or sentinels and a service) and its WAIT."""
    errors: list[CheckMessage] = []
    url: Any = conf.get("REDIS_URL")
    sentinels: Any = conf.get("REDIS_SENTINELS")  # set at all: sentinels are meant
    try:
        parse_sentinels(sentinels or [])
    except RedisAddressError as exc:
        errors.append(
            Error(
                f"{WHERE}['REDIS_SENTINELS'] is invalid: {exc}",
                hint='List the sentinels as ["host:port", ...] or [["host", port], ...], or '
                '"host:port,host:port".',
                id="interlink.E056",
            )
        )
    if not sentinels and _scheme(url) not in REDIS_SCHEMES:
        errors.append(
            Error(
                f"{WHERE}['REDIS_URL'] is missing or not a redis:// URL, and no REDIS_SENTINELS "
                "is set",
                hint="Set REDIS_URL, e.g. redis://redis:6379/0, or REDIS_SENTINELS with "
                "REDIS_SENTINEL_SERVICE.",
                id="interlink.E042",
            )
        )
    if sentinels:
        service: Any = conf.get("REDIS_SENTINEL_SERVICE")
        if not isinstance(service, str) or not service:
            errors.append(
                Error(
                    f"{WHERE}['REDIS_SENTINEL_SERVICE'] must name the monitored primary, not "
                    f"{service!r}",
                    hint="The name the sentinels monitor (`sentinel monitor <name> ...`), e.g. "
                    '"mymaster".',
                    id="interlink.E057",
                )
            )
        if url and _scheme(url) not in SENTINEL_SCHEMES:
            errors.append(
                Error(
                    f"{WHERE}['REDIS_URL'] must be a redis:// or rediss:// URL with "
                    f"REDIS_SENTINELS, not {_scheme(url) or 'one without a scheme'}",
                    hint="With sentinels it gives the primary's auth, db and TLS only: "
                    "redis://:password@/0, or rediss:// for TLS.",
                    id="interlink.E057",
                )
            )
        elif url and urlsplit(url).hostname:
            errors.append(
                Warning(
                    f"{WHERE}['REDIS_URL'] names host {urlsplit(url).hostname!r}, which is not "
                    "used with REDIS_SENTINELS",
                    hint="The sentinels name the primary; REDIS_URL gives its auth, db and TLS "
                    "only. Write it without a host: redis://:password@/0.",
                    id="interlink.W056",
                )
            )
    errors.extend(_check_wait(conf))
    return errors


def _check_wait(conf: dict[str, Any]) -> list[CheckMessage]:
    replicas: Any = conf.get("REDIS_WAIT_REPLICAS")
    timeout: Any = conf.get("REDIS_WAIT_TIMEOUT_MS")
    errors: list[CheckMessage] = []
    if not (positive_int(replicas) or replicas == 0) or isinstance(replicas, bool):
        errors.append(
            Error(
                f"{WHERE}['REDIS_WAIT_REPLICAS'] must be an integer >= 0, not {replicas!r}",
                hint="0 takes the primary's answer (a failover may lose it); N waits for N "
                "replicas to have each relayed batch.",
                id="interlink.E058",
            )
        )
    if not positive_int(timeout):
        errors.append(
            Error(
                f"{WHERE}['REDIS_WAIT_TIMEOUT_MS'] must be an integer >= 1, not {timeout!r}",
                hint="WAIT with 0 blocks until the replicas answer, however long a replica is "
                "away: the relay would hang. Milliseconds, e.g. 1000.",
                id="interlink.E058",
            )
        )
    return errors


def _check_rabbitmq_nodes(conf: dict[str, Any]) -> list[CheckMessage]:
    """RABBITMQ_URL: one amqp:// URL, a list, or comma-separated URLs; the quorum queues'
    initial group size, and whether the nodes named can hold that many replicas."""
    try:
        nodes = len(rabbitmq_urls(conf.get("RABBITMQ_URL") or ""))
    except RabbitMQURLError as exc:
        return [
            Error(
                f"{WHERE}['RABBITMQ_URL'] is missing or not amqp:// URLs: {exc}",
                hint="Set RABBITMQ_URL to one node, e.g. amqp://user:password@rabbitmq:5672/%2F, "
                "or to several: a list of such URLs or one string of comma-separated URLs.",
                id="interlink.E041",
            )
        ]
    size: Any = conf.get("RABBITMQ_QUORUM_INITIAL_GROUP_SIZE")
    if size is None:
        return []
    if not positive_int(size):
        return [
            Error(
                f"{WHERE}['RABBITMQ_QUORUM_INITIAL_GROUP_SIZE'] must be an integer >= 1 or None, "
                f"not {size!r}",
                hint="None lets the broker decide (a replica on every node of the cluster).",
                id="interlink.E052",
            )
        ]
    if conf.get("RABBITMQ_QUEUE_TYPE") == "quorum" and size > nodes:
        return [
            Warning(
                f"{WHERE}['RABBITMQ_QUORUM_INITIAL_GROUP_SIZE'] ({size}) is larger than the "
                f"{nodes} node(s) RABBITMQ_URL names",
                hint="A quorum queue gets at most one replica per node of the cluster: list every "
                "node in RABBITMQ_URL (clients then fail over to them), or lower the size. "
                "Odd sizes (3, 5) tolerate the most failures per replica.",
                id="interlink.W052",
            )
        ]
    return []


def _check_window(conf: dict[str, Any]) -> list[CheckMessage]:
    window: Any = conf.get("CONSUME_WINDOW")
    wait: Any = conf.get("CONSUME_WINDOW_WAIT")
    prefetch: Any = conf.get("RABBITMQ_PREFETCH")
    errors: list[CheckMessage] = []
    if not positive_int(window):
        errors.append(
            Error(
                f"{WHERE}['CONSUME_WINDOW'] must be an integer >= 1, not {window!r}",
                hint="1 decides and acks each message on its own; N > 1 decides up to N in one "
                "transaction. Remove it to use the default.",
                id="interlink.E049",
            )
        )
    elif conf.get("BACKEND") == "rabbitmq" and positive_int(prefetch) and window > prefetch:
        errors.append(
            Error(
                f"{WHERE}['CONSUME_WINDOW'] ({window}) is larger than RABBITMQ_PREFETCH "
                f"({prefetch})",
                hint="The broker never hands over more than the prefetch, so the window could "
                "never fill and every one would wait CONSUME_WINDOW_WAIT: keep it <= the prefetch.",
                id="interlink.E051",
            )
        )
    elif (
        conf.get("BACKEND") == "rabbitmq"
        and positive_int(prefetch)
        and window > 1
        and prefetch < 2 * window
    ):
        errors.append(
            Warning(
                f"{WHERE}['RABBITMQ_PREFETCH'] ({prefetch}) is less than twice CONSUME_WINDOW "
                f"({window})",
                hint="While a window commits, the broker should already be delivering the next "
                "one: set RABBITMQ_PREFETCH to at least 2 x CONSUME_WINDOW.",
                id="interlink.W051",
            )
        )
    seconds = number(wait)
    if seconds is None or not 0 < seconds <= MAX_WINDOW_WAIT:
        errors.append(
            Error(
                f"{WHERE}['CONSUME_WINDOW_WAIT'] must be seconds in (0, {MAX_WINDOW_WAIT:g}], "
                f"not {wait!r}",
                hint="The first message of a window waits this long for company before it is "
                "committed and acked: keep it short (the default is 0.05).",
                id="interlink.E050",
            )
        )
    return errors


def _check_contract_and_handlers() -> list[CheckMessage]:
    try:
        contract = get_contract()
    except Exception as exc:  # any load failure is the same misconfiguration to report
        return [
            Error(
                f"the event contracts in {ms_settings.contracts_dir / 'events'} cannot be loaded: "
                f"{exc}",
                hint="Check CONTRACTS_DIR and contracts/events/asyncapi.yaml with its schemas.",
                id="interlink.E045",
            )
        ]
    try:
        registry = load_registry()
    except ImportError as exc:
        return [
            Error(
                f"{WHERE}['HANDLER_MODULES'] cannot be loaded: {exc}",
                hint="Each module must define `registry = HandlerRegistry()`.",
                id="interlink.E046",
            )
        ]
    unknown = sorted(set(registry.event_types) - set(contract.event_types))
    if unknown:
        return [
            Error(
                f"handlers are registered for event types the contract does not describe: "
                f"{', '.join(unknown)}",
                hint="Add them to contracts/events/asyncapi.yaml or remove the handlers.",
                id="interlink.E047",
            )
        ]
    return []


def _redis_appendonly(target: RedisTarget) -> str | None:
    """Redis's `appendonly` setting (the primary's, with sentinels), or None when it cannot be
    asked (down, CONFIG disabled)."""
    client = target.client(
        socket_timeout=REDIS_CONFIG_TIMEOUT,
        socket_connect_timeout=REDIS_CONFIG_TIMEOUT,
        decode_responses=True,
    )
    try:
        value = client.config_get("appendonly").get("appendonly")
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()
    return str(value) if value is not None else None


@register(Tags.compatibility, deploy=True)
def check_redis_persistence(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: Redis Streams keep events across a Redis restart only with AOF on.

    Silent when Redis cannot be asked: /health/ready/ reports an unreachable Redis, and managed
    Redis services often disable CONFIG while persisting by their own means.
    """
    conf: dict[str, Any] = ms_settings.EVENT_BUS
    if conf["BACKEND"] != "redis":
        return []
    try:
        target = RedisTarget.from_config(conf)
    except RedisAddressError:
        return []  # check_event_bus reports it
    if _redis_appendonly(target) != "no":
        return []
    return [
        Warning(
            f"the Redis of {WHERE} ({target.describe()}) runs with appendonly no",
            hint="A Redis restart loses every stream: the events not yet consumed and the "
            "consumer groups' pending entries. Run it with appendonly yes "
            "(appendfsync everysec).",
            id="interlink.W041",
        )
    ]
