"""The extras: a backend's library is imported only when chosen, and a missing one is named.

A library is made missing the way Python itself reads it: a `None` entry in `sys.modules`.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from django.test import override_settings

from django_interlink import extras
from django_interlink.checks import check_extras
from django_interlink.events.backends import build_bus
from django_interlink.events.checks import check_event_bus
from django_interlink.exceptions import MissingExtra
from django_interlink.registry.base import build_registry
from django_interlink.registry.checks import check_registry_settings
from django_interlink.tracing import setup as tracing_setup_module

RABBITMQ = {"EVENT_BUS": {"BACKEND": "rabbitmq", "RABBITMQ_URL": "amqp://u:p@rabbit:5672/%2F"}}
REDIS = {"EVENT_BUS": {"BACKEND": "redis", "REDIS_URL": "redis://redis:6379/0"}}
CONSUL = {"REGISTRY": {"BACKEND": "consul", "CONSUL_HTTP_ADDR": "127.0.0.1:8500"}}
POSTGRES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}
SQLITE = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}


def _missing(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def _ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


@pytest.mark.parametrize(
    ("interlink", "modules", "check_id", "extra"),
    [
        (RABBITMQ, ["pika"], "interlink.E100", "rabbitmq"),
        (REDIS, ["redis"], "interlink.E101", "redis"),
        (
            {"EVENT_BUS": {**REDIS["EVENT_BUS"], "BACKEND": "redis_pubsub"}},
            ["redis"],
            "interlink.E101",
            "redis",
        ),
        (CONSUL, ["consul"], "interlink.E102", "consul"),
    ],
)
def test_a_chosen_backend_without_its_library_is_an_error_naming_the_extra(
    monkeypatch, interlink, modules, check_id, extra
):
    """The check says which extra to install, in the words pip takes."""
    _missing(monkeypatch, *modules)
    with override_settings(INTERLINK=interlink):
        (error,) = check_extras()
    assert error.id == check_id
    assert f'pip install "django-interlink[{extra}]"' in error.msg


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_the_same_settings_with_the_libraries_installed_pass():
    """Nothing is reported when the libraries are there (this venv has every extra)."""
    with override_settings(INTERLINK={**RABBITMQ, **CONSUL}, DATABASES=POSTGRES):
        assert check_extras() == []


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_postgresql_without_psycopg_is_an_error_and_psycopg2_will_do(monkeypatch):
    """Django's PostgreSQL backend takes either driver; with neither, the [postgres] extra."""
    _missing(monkeypatch, "psycopg", "psycopg2")
    with override_settings(DATABASES=POSTGRES):
        assert _ids(check_extras()) == ["interlink.E103"]
    with override_settings(DATABASES=SQLITE):
        assert check_extras() == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OTEL_TRACES_EXPORTER", "otlp"), ("OTEL_METRICS_EXPORTER", "otlp")],
)
def test_an_opentelemetry_exporter_without_the_sdk_is_an_error(monkeypatch, variable, value):
    """An OTEL_* exporter asks for the SDK: the [otel] extra; with tracing off, nothing."""
    _missing(monkeypatch, "opentelemetry.sdk")
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_METRICS_EXPORTER", raising=False)
    assert check_extras() == []
    monkeypatch.setenv(variable, value)
    (error,) = check_extras()
    assert (error.id, 'pip install "django-interlink[otel]"' in error.msg) == (
        "interlink.E104",
        True,
    )


def test_the_areas_checks_skip_what_needs_the_missing_library(monkeypatch):
    """The bus's and the registry's own checks still run, without importing the library."""
    _missing(monkeypatch, "pika", "consul")
    with override_settings(INTERLINK={**RABBITMQ, **CONSUL}):
        assert check_event_bus() == []
        assert check_registry_settings() == []


@pytest.mark.parametrize(
    ("interlink", "modules", "build", "extra"),
    [
        (RABBITMQ, ["pika"], build_bus, "rabbitmq"),
        (REDIS, ["redis"], build_bus, "redis"),
        (CONSUL, ["consul"], build_registry, "consul"),
    ],
)
def test_the_runtime_error_names_the_extra_too(monkeypatch, interlink, modules, build, extra):
    """Building the backend anyway raises MissingExtra with the same pip command."""
    _missing(monkeypatch, *modules)
    with override_settings(INTERLINK=interlink), pytest.raises(MissingExtra) as raised:
        build()
    assert f'pip install "django-interlink[{extra}]"' in str(raised.value)


def test_tracing_asked_for_without_the_sdk_raises_naming_the_extra(monkeypatch):
    _missing(monkeypatch, "opentelemetry.sdk")
    monkeypatch.setattr(tracing_setup_module, "_provider", None)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    with pytest.raises(MissingExtra, match=r"django-interlink\[otel\]"):
        tracing_setup_module.tracing_setup(instrument=False)


def test_installed_reads_a_blocked_parent_as_missing(monkeypatch):
    """A dotted module under a missing package is missing, not an ImportError."""
    _missing(monkeypatch, "opentelemetry")
    monkeypatch.delitem(sys.modules, "opentelemetry.sdk", raising=False)
    assert extras.installed("otel") is False


# What a project with no extra installed imports: the app, its admin, urls, models, checks and
# every command, /metrics and the health report's modules, with tracing off.
IMPORT_THE_APP = textwrap.dedent(
    """
    import sys
    OPTIONAL = ("pika", "redis", "consul", "psycopg", "psycopg2", "opentelemetry.sdk",
                "opentelemetry.exporter", "opentelemetry.instrumentation", "opentelemetry.semconv")
    if sys.argv[1] == "missing":
        for name in OPTIONAL:
            sys.modules[name] = None
    import django
    from django.conf import settings
    settings.configure(
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth",
                        "django.contrib.contenttypes", "django.contrib.sessions",
                        "django.contrib.messages", "django_interlink"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        ROOT_URLCONF="django_interlink.urls",
        INTERLINK={"EVENT_BUS": {"BACKEND": "memory", "ALLOW_MEMORY_BUS": True}},
    )
    django.setup()
    import importlib
    from django.core.management import get_commands, load_command_class
    from django.core.checks import run_checks
    for name, app in get_commands().items():
        if app == "django_interlink":
            load_command_class(app, name)
    for module in ("django_interlink.urls", "django_interlink.admin", "django_interlink.views",
                   "django_interlink.metrics.state", "django_interlink.metrics.backlog",
                   "django_interlink.management.metrics_endpoint",
                   "django_interlink.events.dead_letter_service",
                   "django_interlink.retention.purge"):
        importlib.import_module(module)
    from django_interlink.tracing.setup import tracing_setup
    assert tracing_setup() is False
    run_checks()
    print(sorted(n for n, m in sys.modules.items() if m is not None and n in OPTIONAL))
    """
)


@pytest.mark.parametrize("libraries", ["missing", "installed"])
def test_importing_the_app_imports_no_optional_library(libraries):
    """With every extra's library missing, the app loads, its commands load, its checks run;
    with them installed, none is imported (no OTEL_* variable is set)."""
    env_free_of_otel = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_APP, libraries],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_free_of_otel,
        check=False,
    )
    assert (result.returncode, result.stderr[-2000:], result.stdout.strip()) == (0, "", "[]")
