"""Embedded defaults and `django.setup()`: the one demo module imported before Django is set up."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import django


def setup_django() -> None:
    """Set Django up on embedded defaults, its SQLite file in a temp dir removed at exit."""
    workdir = Path(tempfile.mkdtemp(prefix="microservices-demo-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")
    # Embedded defaults whatever the shell says: a throwaway SQLite file and secret.
    os.environ["SQLITE_PATH"] = str(workdir / "demo.sqlite3")
    os.environ.pop("DATABASE_URL", None)
    os.environ["EVENT_BUS_BACKEND"] = "memory"
    # The demo publishes and consumes in this one process: the memory bus is meant here.
    os.environ["EVENT_BUS_ALLOW_MEMORY_BUS"] = "1"
    # Mail stays in memory (the scenes print subjects), never on the console or an SMTP server.
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()
