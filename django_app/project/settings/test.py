"""Settings of the test suites: a fixed secret, SQLite by default, every call contract-validated.

integration_tests/conftest.py swaps the database for a real PostgreSQL server.
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import MICROSERVICES

SECRET_KEY = "test-only-secret-key-not-for-production"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MICROSERVICES = {**MICROSERVICES, "CONTRACT_VALIDATION": "on"}
