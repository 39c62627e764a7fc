"""Django settings for bench_peer.py: the project's, plus django-outbox-pattern (the library it
is measured against) pointed at the bench's RabbitMQ node through STOMP.

Every DJANGO_OUTBOX_PATTERN key set here is one its README documents; each says why it is set.
"""

import os

from project.settings.base import *  # noqa: F403
from project.settings.base import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_outbox_pattern"]

# The peer's consumer calls close_old_connections() after every message: with Django's default
# CONN_MAX_AGE of 0 it would open a new PostgreSQL connection per message. A deployment would
# keep connections, so the bench does (ours keeps its connection either way).
DATABASES["default"]["CONN_MAX_AGE"] = 600

DJANGO_OUTBOX_PATTERN = {
    "DEFAULT_STOMP_HOST_AND_PORTS": [
        ("127.0.0.1", int(os.environ.get("BENCH_STOMP_PORT", "61613")))
    ],
    "DEFAULT_STOMP_USERNAME": os.environ.get("BENCH_STOMP_USERNAME", "guest"),
    "DEFAULT_STOMP_PASSCODE": os.environ.get("BENCH_STOMP_PASSCODE", "guest"),
    "DEFAULT_STOMP_VHOST": "/",
    # RabbitMQ stores a STOMP message as transient unless its SEND says persistent:true; ours
    # are persistent, so the peer's are made so too (its own headers plus that one).
    "DEFAULT_GENERATE_HEADERS": "bench.peer.persistent_headers",
    # The same prefetch as ours, on a queue of the same type (its default: prefetch 1, classic).
    "DEFAULT_STOMP_QUEUE_HEADERS": {
        "durable": "true",
        "auto-delete": "false",
        "prefetch-count": os.environ.get("BENCH_PREFETCH", "50"),
        "x-queue-type": os.environ.get("BENCH_QUEUE_TYPE", "quorum"),
    },
    # Its publish loop sleeps this long after every pass (1 s by default): not what is measured.
    "DEFAULT_PRODUCER_WAITING_TIME": 0,
}
