"""Settings of `make playground`: embedded defaults shared by the launcher and its worker process.

The launcher (project/playground/launcher.py) exports PLAYGROUND_DIR, the stubs' URLs and
their token before Django starts, and the worker it spawns inherits them. Both processes open
the same SQLite file, in WAL mode with IMMEDIATE transactions and a long busy timeout, so the
worker's writes and the server's reads wait for each other instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, INTERLINK

PLAYGROUND_DIR = Path(os.environ["PLAYGROUND_DIR"])

INSTALLED_APPS = [*INSTALLED_APPS, "project.playground"]
ROOT_URLCONF = "project.playground.root_urls"
LOGIN_URL = "playground:login"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(PLAYGROUND_DIR / "playground.sqlite3"),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
# The confirmation e-mails stay in the worker's memory.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

event_bus = cast(dict[str, Any], INTERLINK["EVENT_BUS"])
saga = cast(dict[str, Any], INTERLINK["SAGA"])
INTERLINK = {
    **INTERLINK,
    # The relay and the consumer are threads of the one server process: the memory bus is meant.
    "EVENT_BUS": {**event_bus, "BACKEND": "memory", "ALLOW_MEMORY_BUS": True},
    # Short, so a killed worker's saga is resumed by the next one about three seconds later (a
    # heartbeat keeps a live worker's lease while a slow step runs). An undo that meets a
    # service switched off waits 2 s, then 4, up to 10, so a learner sees it come back.
    "SAGA": {**saga, "LEASE_SECONDS": 3, "COMPENSATION_WAIT": 2.0, "COMPENSATION_WAIT_MAX": 10.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
