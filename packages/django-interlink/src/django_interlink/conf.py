"""The `INTERLINK` settings dict: defaults in one table, read lazily, reloaded on change.

Modelled on rest_framework.settings: code reads `ms_settings.SERVICES`, never `settings.X` at
import time, so `override_settings(INTERLINK=...)` takes effect in tests.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .http_statuses import UNAVAILABLE_STATUSES

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
    # Service name -> DEFAULT_SERVICE overrides; its contract is CONTRACTS_DIR/<name>.yaml
    "SERVICES": {},
    "CONTRACTS_DIR": "",  # "": BASE_DIR / "contracts"
    # "on" (every call), "sampled" (CONTRACT_SAMPLE_RATE of them) or "off"
    "CONTRACT_VALIDATION": "on",
    "CONTRACT_SAMPLE_RATE": 0.05,
    "REGISTRY": {
        "BACKEND": "static",  # "consul", or a dotted class path
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
        # The URL Consul's HTTP check calls ("": this service's /health/ready/)
        "HEALTH_CHECK_URL": "",
        "SERVICE_TAGS": [],
        "CONSUL_TIMEOUT": 2.0,
        "CACHE_ALIAS": "default",
        # Static backend: service name -> base URLs ({}: each service's BASE_URL)
        "INSTANCES": {},
    },
    "EVENT_BUS": {
        "BACKEND": "memory",  # or "rabbitmq", "redis", "redis_pubsub"
        # The memory bus outside DEBUG, for one process that publishes and consumes (E048)
        "ALLOW_MEMORY_BUS": False,
        "PRODUCER": "django-orders",
        # One URL, or a cluster's: a list or one comma-separated string
        "RABBITMQ_URL": "",
        "RABBITMQ_EXCHANGE": "django_interlink.events",
        # At least 2 x CONSUME_WINDOW (W051)
        "RABBITMQ_PREFETCH": 50,
        "REDIS_URL": "",
        # Sentinels ("host:port" or [host, port]) and their service; REDIS_URL then only auth
        "REDIS_SENTINELS": [],
        "REDIS_SENTINEL_SERVICE": "",
        "REDIS_SENTINEL_USERNAME": "",
        "REDIS_SENTINEL_PASSWORD": "",
        # Replicas a Redis Streams publish must reach (WAIT) before it counts; 0: the primary
        "REDIS_WAIT_REPLICAS": 0,
        "REDIS_WAIT_TIMEOUT_MS": 1000,
        "REDIS_STREAM_PREFIX": "events",
        "MAX_DELIVERIES": 5,
        "RETRY_BACKOFF": 0.2,
        "CONSUMER_GROUP": "django-orders",
        "OUTBOX_BATCH_SIZE": 100,
        # Messages decided in one transaction, settled with one ack (docs/events.md)
        "CONSUME_WINDOW": 1,
        # Seconds before a window that is not full closes
        "CONSUME_WINDOW_WAIT": 0.05,
        # Modules exposing `registry = HandlerRegistry()`, whose handlers consume_events runs
        "HANDLER_MODULES": [],
        "MAX_EVENT_BYTES": 256 * 1024,
        "RABBITMQ_QUEUE_TYPE": "quorum",  # "classic" for brokers without quorum queues
        # Replicas of each new quorum queue (None: every node of the cluster)
        "RABBITMQ_QUORUM_INITIAL_GROUP_SIZE": None,
        "RABBITMQ_HEARTBEAT": 30,
        # Seconds a publish keeps reconnecting before BusUnavailable
        "PUBLISH_TIMEOUT": 15.0,
        "RECONNECT_BACKOFF_MAX": 5.0,
        # Redis Streams: entries pending this long on a consumer are reclaimed (XAUTOCLAIM)
        "REDIS_CLAIM_IDLE_MS": 30_000,
        "REDIS_BLOCK_MS": 1000,
        "OUTBOX_MAX_ATTEMPTS": 10,
        "OUTBOX_POLL_INTERVAL": 1.0,
    },
    "HEALTH": {
        # Seconds /health/ready/ reuses its last check (0: check on every call)
        "CACHE_SECONDS": 2.0,
        # A bearer token that may read the per-component details ("": staff users only)
        "TOKEN": "",
    },
    "METRICS": {
        # Consumer group -> its event types, for lag and dead letters ({}: CONSUMER_GROUP's)
        "GROUPS": {},
        # Seconds a scrape waits for the broker and for each database query
        "SCRAPE_TIMEOUT": 2.0,
    },
    "API": {
        # The contract of the API this application serves ("": no validation)
        "CONTRACT": "",
        # Requests under this prefix, and their responses, are validated against it
        "PATH_PREFIX": "/api/",
        # A response the contract forbids is logged and answered as a 500 problem
        "VALIDATE_RESPONSES": True,
        # A larger request body is a 413 problem
        "MAX_BODY_BYTES": 64 * 1024,
        # Deeper JSON is a 400 problem
        "MAX_JSON_DEPTH": 32,
        # Seconds an Idempotency-Key is remembered
        "IDEMPOTENCY_KEY_TTL": 24 * 3600,
        # Requests per token a window to rate-limited operations (0: no limit)
        "RATE_LIMIT": 60,
        "RATE_LIMIT_WINDOW": 60,
    },
    "RETENTION": {
        # Seconds between the relay loop's purges (0: only `manage.py purge_expired`)
        "INTERVAL": 300,
        # Seconds each kind of row is kept
        "OUTBOX_SENT": 7 * 86400,
        "INBOX": 14 * 86400,  # longer than any redelivery can take (E091)
        "DEAD_LETTER_REPLAY": 7 * 86400,  # a dead letter replayed within it applies once
        "SAGAS": 30 * 86400,  # finished ones only, from completed_at
        # About how many entries the Redis dead-letter stream keeps
        "REDIS_DEAD_LETTER_MAXLEN": 10_000,
        # Rows deleted per statement
        "BATCH_SIZE": 1000,
    },
    "SAGA": {
        # Seconds a dead worker's sagas wait to be resumed; it must outlast one call (W060)
        "LEASE_SECONDS": 90,
        "STEP_TIMEOUT": 10.0,
        # An undo's tries within one run, for passing failures
        "COMPENSATION_ATTEMPTS": 5,
        "COMPENSATION_BACKOFF": 0.2,
        "COMPENSATION_BACKOFF_MAX": 5.0,
        # Then it waits, released: from this, doubling up to the max, until the horizon (E064)
        "COMPENSATION_WAIT": 5.0,
        "COMPENSATION_WAIT_MAX": 300.0,
        "COMPENSATION_HORIZON": 6 * 3600.0,
        # Dotted paths of the SagaDefinitions a worker can resume
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


class InterlinkSettings(AppSettings):
    """`settings.INTERLINK` merged over `DEFAULTS`, with per-service lookups."""

    def __init__(self) -> None:
        super().__init__("INTERLINK", DEFAULTS)

    def service(self, name: str) -> dict[str, Any]:
        """The settings of one service, defaults filled in; KeyError if it is not configured."""
        services: dict[str, Any] = self.data["SERVICES"]
        if name not in services:
            raise KeyError(f"service {name!r} is not configured in INTERLINK['SERVICES']")
        return _merge(DEFAULT_SERVICE, services[name])

    @property
    def contracts_dir(self) -> Path:
        configured = self.data["CONTRACTS_DIR"]
        if configured:
            return Path(configured)
        return Path(getattr(settings, "BASE_DIR", Path.cwd())) / "contracts"


ms_settings = InterlinkSettings()


@receiver(setting_changed, dispatch_uid="django_interlink.conf.reload")
def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    for app_settings in AppSettings._instances:
        if app_settings.setting_name == setting:
            app_settings.reload()
