"""The `MICROSERVICES` settings dict: defaults in one table, read lazily, reloaded on change.

Modelled on rest_framework.settings: code reads `ms_settings.SERVICES`, never `settings.X` at
import time, so `override_settings(MICROSERVICES=...)` takes effect in tests.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .http_statuses import UNAVAILABLE_STATUSES

REPO_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_CONTRACTS_DIR = REPO_DIR / "contracts"

DEFAULT_RETRY: dict[str, Any] = {
    "TOTAL": 3,
    "BACKOFF_FACTOR": 0.1,
    "BACKOFF_MAX": 2.0,
    "STATUS_FORCELIST": sorted(UNAVAILABLE_STATUSES),
    "RETRY_AFTER_MAX": 10.0,
}

DEFAULT_SERVICE: dict[str, Any] = {
    "BASE_URL": "",
    "TIMEOUT": 5.0,
    "CONNECT_TIMEOUT": 2.0,
    "API_KEY": "",
    "RETRY": DEFAULT_RETRY,
    "DISCOVERY": False,
}

DEFAULTS: dict[str, Any] = {
    # service name -> DEFAULT_SERVICE overrides; the contract is contracts/<name>.yaml
    "SERVICES": {},
    "CONTRACTS_DIR": str(DEFAULT_CONTRACTS_DIR),
    # "on": every request and response; "sampled": a fraction of them; "off"
    "CONTRACT_VALIDATION": "on",
    "CONTRACT_SAMPLE_RATE": 0.05,
    "REGISTRY": {
        "BACKEND": "static",
        "CACHE_TTL": 30,
        "CONSUL_HTTP_ADDR": "",
        "CONSUL_HTTP_TOKEN": "",
        "CONSUL_SCHEME": "http",
        "STRATEGY": "round_robin",
        "SERVICE_NAME": "django-orders",
        "SERVICE_ADDRESS": "127.0.0.1",
        "SERVICE_PORT": 8000,
        "HEALTH_CHECK_INTERVAL": "10s",
        "HEALTH_CHECK_TIMEOUT": "5s",
        "DEREGISTER_CRITICAL_AFTER": "1m",
        # this service's /health/ready/, which Consul's HTTP check calls ("" = built from above)
        "HEALTH_CHECK_URL": "",
        "SERVICE_TAGS": [],
        "CONSUL_TIMEOUT": 2.0,
        "CACHE_ALIAS": "default",
        # static backend: service name -> list of base URLs (else the service's BASE_URL)
        "INSTANCES": {},
    },
    "EVENT_BUS": {
        "BACKEND": "memory",
        # The memory bus with DEBUG off is an error (check E048) and relay_outbox refuses it:
        # True only where one process publishes and consumes (tests, the demo).
        "ALLOW_MEMORY_BUS": False,
        "PRODUCER": "django-orders",
        # one node, or a cluster: a list of URLs or one string of comma-separated URLs
        "RABBITMQ_URL": "",
        "RABBITMQ_EXCHANGE": "microservices.events",
        # at least 2 x CONSUME_WINDOW (W051): the next window arrives while one commits
        "RABBITMQ_PREFETCH": 50,
        "REDIS_URL": "",
        # Redis with Sentinel: ["host:port", ...] or [[host, port], ...] and the service name;
        # REDIS_URL then gives only the primary's auth, db and TLS (redis_connection.py)
        "REDIS_SENTINELS": [],
        "REDIS_SENTINEL_SERVICE": "",
        # auth of the sentinels themselves ("" = none)
        "REDIS_SENTINEL_USERNAME": "",
        "REDIS_SENTINEL_PASSWORD": "",
        # Redis Streams: a publish counts only once this many replicas have it (WAIT), else
        # the relay keeps its rows pending; 0 = the primary's answer is enough (asynchronous
        # replication: a failover can lose what it answered). Waits at most the timeout.
        "REDIS_WAIT_REPLICAS": 0,
        "REDIS_WAIT_TIMEOUT_MS": 1000,
        "REDIS_STREAM_PREFIX": "events",
        "MAX_DELIVERIES": 5,
        "RETRY_BACKOFF": 0.2,
        "CONSUMER_GROUP": "django-orders",
        "OUTBOX_BATCH_SIZE": 100,
        # Messages decided in one database transaction and settled with one multiple ack
        # (RabbitMQ) or one XACK (Redis Streams): tried at once (one inbox INSERT for the window,
        # no savepoint), and decided again a savepoint a message only if a handler fails (about
        # 6-8x the events/s of 1 in bench_consume). 1 = each message its own transaction and
        # ack, its effect visible at once, its handler run once a delivery. N > 1 shows no
        # effect before its window commits, holds the row locks of up to N handlers until then,
        # and runs a handler again when another message of its window fails (its database
        # effects still apply once; an email it sends would go twice): opt in where handlers
        # only write the database. Keep N <= 64: PostgreSQL caches 64 subtransactions per
        # transaction (the second try's savepoints).
        "CONSUME_WINDOW": 1,
        # A window closes after this many seconds even if not full, so a quiet queue acks promptly.
        "CONSUME_WINDOW_WAIT": 0.05,
        # modules exposing `registry = HandlerRegistry()`; consume_events runs their handlers
        "HANDLER_MODULES": [],
        "MAX_EVENT_BYTES": 256 * 1024,
        "RABBITMQ_QUEUE_TYPE": "quorum",  # "classic" for brokers without quorum queues
        # replicas of each new quorum queue (x-quorum-initial-group-size); None: the broker's
        # default (every node of the cluster)
        "RABBITMQ_QUORUM_INITIAL_GROUP_SIZE": None,
        "RABBITMQ_HEARTBEAT": 30,
        # publish: keep reconnecting this long before raising BusUnavailable
        "PUBLISH_TIMEOUT": 15.0,
        "RECONNECT_BACKOFF_MAX": 5.0,
        # Redis Streams: entries pending this long on a consumer are reclaimed (XAUTOCLAIM)
        "REDIS_CLAIM_IDLE_MS": 30_000,
        "REDIS_BLOCK_MS": 1000,
        "OUTBOX_MAX_ATTEMPTS": 10,
        "OUTBOX_POLL_INTERVAL": 1.0,
    },
    "HEALTH": {
        # /health/ready/ re-checks the dependencies at most this often (seconds; 0 = every call)
        "CACHE_SECONDS": 2.0,
        # a bearer token that may read the per-component details ("" = staff users only)
        "TOKEN": "",
    },
    "METRICS": {
        # /metrics reads these consumer groups' lag and dead letters from the broker: group ->
        # the event types it consumes. {} = CONSUMER_GROUP, with the types of HANDLER_MODULES.
        "GROUPS": {},
        # A scrape waits at most this long (seconds) for the broker, and for each database
        # query on PostgreSQL; what does not answer is counted in *_scrape_errors_total
        "SCRAPE_TIMEOUT": 2.0,
    },
    "API": {
        # The contract of the API this application serves (a file in CONTRACTS_DIR, or a path);
        # "" = no contract validation by microservices.api.middleware
        "CONTRACT": "",
        # Requests under this prefix are validated against it, and their responses too
        "PATH_PREFIX": "/api/",
        # A response the contract forbids is logged and answered as a 500 problem instead
        "VALIDATE_RESPONSES": True,
        # A larger request body is a 413 problem (Django's DATA_UPLOAD_MAX_MEMORY_SIZE too)
        "MAX_BODY_BYTES": 64 * 1024,
        # Deeper JSON (arrays and objects inside each other) is a 400 problem
        "MAX_JSON_DEPTH": 32,
        # After this many seconds an Idempotency-Key is forgotten: reused, it is a new request
        "IDEMPOTENCY_KEY_TTL": 24 * 3600,
        # Rate-limited operations (api.ratelimit) take this many requests per token a window;
        # 0 = no limit
        "RATE_LIMIT": 60,
        "RATE_LIMIT_WINDOW": 60,
    },
    "RETENTION": {
        # Seconds between the purges the relay loop runs (0 = only `manage.py purge_expired`)
        "INTERVAL": 300,
        # Seconds each kind of row is kept; the purge deletes what is older
        "OUTBOX_SENT": 7 * 86400,
        # Longer than any redelivery can take (E091): a redelivery after its row is gone would
        # be applied again
        "INBOX": 14 * 86400,
        # How long a dead letter may still be replayed and be applied only once (part of the
        # inbox's horizon)
        "DEAD_LETTER_REPLAY": 7 * 86400,
        # Finished sagas (completed, failed, compensated) and their step logs, after completed_at;
        # sagas needing attention and active ones are never purged
        "SAGAS": 30 * 86400,
        # Redis Streams: entries of each group's stream are trimmed up to the oldest one a group
        # still needs; the dead-letter stream keeps about this many entries
        "REDIS_DEAD_LETTER_MAXLEN": 10_000,
        # Rows deleted per statement, so a large purge never holds long locks
        "BATCH_SIZE": 1000,
    },
    "SAGA": {
        # Kept alive while a step runs (a heartbeat every third of it), so its length only sets
        # how long a dead worker's sagas wait to be resumed; it must outlast one call (W060):
        # 4 attempts x (2 + 5) s + 3 Retry-After waits of up to 10 s = 58 s <= 90 s less 30 s.
        "LEASE_SECONDS": 90,
        "STEP_TIMEOUT": 10.0,
        # An undo's tries within one run (passing failures only), then it waits, released:
        "COMPENSATION_ATTEMPTS": 5,
        "COMPENSATION_BACKOFF": 0.2,
        "COMPENSATION_BACKOFF_MAX": 5.0,
        # ... COMPENSATION_WAIT seconds, doubling up to COMPENSATION_WAIT_MAX, while the other
        # undos go on; after COMPENSATION_HORIZON seconds of waiting it calls a person (E064).
        "COMPENSATION_WAIT": 5.0,
        "COMPENSATION_WAIT_MAX": 300.0,
        "COMPENSATION_HORIZON": 6 * 3600.0,
        # dotted paths of SagaDefinition objects a worker can resume (as INSTALLED_APPS names apps)
        "DEFINITIONS": [],
    },
}


def _merge(defaults: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """Merge user settings over defaults, recursing into dicts that exist on both sides."""
    merged = copy.deepcopy(defaults)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class AppSettings:
    """Lazy view of one settings dict (`settings.<name>`) merged over its defaults table.

    Reloaded when `override_settings` changes it; another app can keep its own dict the same way
    (the example shop does, for its `SHOP` settings).
    """

    _instances: list[AppSettings] = []

    def __init__(self, name: str, defaults: dict[str, Any]) -> None:
        self.setting_name = name
        self.defaults = defaults
        self._cached: dict[str, Any] | None = None
        AppSettings._instances.append(self)

    @property
    def data(self) -> dict[str, Any]:
        if self._cached is None:
            user = getattr(settings, self.setting_name, {}) or {}
            self._cached = _merge(self.defaults, user)
        return self._cached

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(f"Invalid {self.setting_name} setting: {name!r}") from None

    def reload(self) -> None:
        self._cached = None


class MicroservicesSettings(AppSettings):
    """`settings.MICROSERVICES` merged over `DEFAULTS`, with per-service lookups."""

    def __init__(self) -> None:
        super().__init__("MICROSERVICES", DEFAULTS)

    def service(self, name: str) -> dict[str, Any]:
        """The settings of one service, defaults filled in; KeyError if it is not configured."""
        services: dict[str, Any] = self.data["SERVICES"]
        if name not in services:
            raise KeyError(f"service {name!r} is not configured in MICROSERVICES['SERVICES']")
        return _merge(DEFAULT_SERVICE, services[name])

    @property
    def contracts_dir(self) -> Path:
        return Path(self.data["CONTRACTS_DIR"])


ms_settings = MicroservicesSettings()


@receiver(setting_changed, dispatch_uid="microservices.conf.reload")
def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    for app_settings in AppSettings._instances:
        if app_settings.setting_name == setting:
            app_settings.reload()
