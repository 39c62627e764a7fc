"""Django's `default` database pointed elsewhere for a while: the package's PostgreSQL test
database (conftest.py), or a primary/standby pair whose promotion a test watches."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from project.database_url import database_from_url


def swap_default_database(new: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Point Django's `default` alias at `new`; returns what `restore_default_database` needs."""
    from django.conf import settings
    from django.db import connections

    old_settings = settings.DATABASES["default"]
    initialized = {c.alias for c in connections.all(initialized_only=True)}
    old_connection = connections["default"] if "default" in initialized else None
    connections.configure_settings({"default": new})  # fills Django's per-alias defaults in place
    settings.DATABASES["default"] = new
    connections.settings["default"] = new
    if old_connection is not None:
        del connections["default"]  # the next access builds a wrapper for the new engine
    return old_settings, old_connection


def restore_default_database(old_settings: dict[str, Any], old_connection: Any) -> None:
    from django.conf import settings
    from django.db import connections

    connections["default"].close()
    settings.DATABASES["default"] = old_settings
    connections.settings["default"] = old_settings
    if old_connection is not None:
        connections["default"] = old_connection
    else:
        with contextlib.suppress(AttributeError):
            del connections["default"]


@contextmanager
def django_on(url: str, blocker: Any) -> Iterator[None]:
    """Django's `default` database is the one at `url` (several hosts allowed), migrated, and
    open to queries (`blocker`: pytest-django's django_db_blocker) while inside."""
    from django.core.management import call_command
    from django.db import connections

    saved = swap_default_database(database_from_url(url))
    try:
        with blocker.unblock():
            call_command("migrate", interactive=False, verbosity=0)
            yield
    finally:
        connections.close_all()
        restore_default_database(*saved)
