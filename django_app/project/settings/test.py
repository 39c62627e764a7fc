"""Settings of the test suites: a fixed secret, SQLite by default, every call contract-validated,
the in-memory bus allowed with DEBUG off.

integration_tests/conftest.py swaps the database for a real PostgreSQL server.
"""

from __future__ import annotations

from typing import Any, cast

from .base import *  # noqa: F403
from .base import INTERLINK

SECRET_KEY = "test-only-secret-key-not-for-production"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
event_bus = cast(dict[str, Any], INTERLINK["EVENT_BUS"])
INTERLINK = {
    **INTERLINK,
    "CONTRACT_VALIDATION": "on",
    # pytest publishes and consumes in one process: the memory bus is meant here
    "EVENT_BUS": {**event_bus, "ALLOW_MEMORY_BUS": True},
}
