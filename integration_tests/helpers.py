"""Helpers for integration tests: Django sub-processes (manage.py commands)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from project.database_url import url_from_database

REPO_DIR = Path(__file__).resolve().parent.parent
MANAGE_PY = REPO_DIR / "django_app" / "manage.py"


def database_url() -> str:
    """The URL of the database Django uses right now (the PostgreSQL test database here)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        raise RuntimeError(
            f"Django's database is {connection.vendor}, not PostgreSQL: use the `postgres`-backed "
            "database of integration_tests (a django_db test in integration_tests/)"
        )
    # every host of a primary/standby pair and its target_session_attrs included
    return url_from_database(connection.settings_dict)


def django_subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a Django sub-process that must see this test's database.

    It uses project.settings.base (which reads DATABASE_URL, RABBITMQ_URL, REDIS_URL,
    EVENT_BUS_BACKEND, REGISTRY_BACKEND, CONSUL_HTTP_ADDR, ... from the environment); pass those as
    keyword arguments. Use `@pytest.mark.django_db(transaction=True)` so the data is committed.
    """
    env = dict(os.environ)
    pythonpath = [str(REPO_DIR / "django_app"), str(REPO_DIR)]
    if env.get("PYTHONPATH"):
        pythonpath.append(env["PYTHONPATH"])
    env.update(
        {
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "project.settings.base",
            "DJANGO_SECRET_KEY": "integration-tests-only-secret-key",
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "PYTHONUNBUFFERED": "1",
            # a sub-process naming no bus runs on the memory bus, as the test settings do
            "EVENT_BUS_ALLOW_MEMORY_BUS": "1",
        }
    )
    # The test servers' REDIS_SENTINELS names a cluster; project.settings.base reads the same
    # variable: a sub-process uses sentinels only when the test passes them.
    for name in ("REDIS_SENTINELS", "REDIS_SENTINEL_SERVICE"):
        env.pop(name, None)
    env.update(extra)
    return env


def manage_py_argv(*args: str) -> list[str]:
    """argv running `manage.py <args>` with this interpreter."""
    return [sys.executable, str(MANAGE_PY), *args]
