"""DATABASE_URL's parser: one host as before, libpq's multi-host form whole, bad parts named."""

from __future__ import annotations

import pytest

from project.database_url import DatabaseURLError, database_from_url, url_from_database

MULTI = "postgres://app:s%3Acret@db1:5432,db2:5433/shop?target_session_attrs=read-write"


def test_one_host_url_gives_the_entry_it_always_gave():
    """A single-host URL: host, port, name and unquoted credentials, no OPTIONS."""
    assert database_from_url("postgresql://app:p%40ss@db.internal:6432/shop") == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "shop",
        "USER": "app",
        "PASSWORD": "p@ss",
        "HOST": "db.internal",
        "PORT": "6432",
    }


def test_multi_host_url_keeps_every_host_port_and_the_session_attribute():
    """Both hosts and both ports reach libpq as comma lists; the query becomes OPTIONS."""
    entry = database_from_url(MULTI)
    assert (entry["HOST"], entry["PORT"], entry["OPTIONS"]) == (
        "db1,db2",
        "5432,5433",
        {"target_session_attrs": "read-write"},
    )
    assert (entry["USER"], entry["PASSWORD"], entry["NAME"]) == ("app", "s:cret", "shop")


def test_a_host_without_a_port_gets_libpqs_default_slot():
    """An empty item of libpq's port list is the default port; IPv6 hosts lose their brackets."""
    entry = database_from_url("postgres://u@[::1]:5432,db2/shop")
    assert (entry["HOST"], entry["PORT"]) == ("::1,db2", "5432,")
    assert database_from_url("postgres://u@db1,db2/shop")["PORT"] == ""


def test_url_from_database_gives_back_an_equivalent_url():
    """The inverse: a child process given the URL gets the same entry."""
    entry = database_from_url(MULTI)
    assert database_from_url(url_from_database(entry)) == entry


def test_a_django_connection_gets_every_host_from_the_url():
    """What Django hands psycopg: libpq's host and port lists and the session attribute."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    settings = {
        **database_from_url(MULTI),
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {},
    }
    params = DatabaseWrapper(settings).get_connection_params()
    assert (params["host"], params["port"], params["target_session_attrs"]) == (
        "db1,db2",
        "5432,5433",
        "read-write",
    )


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("mysql://u@db/shop", "scheme 'mysql'"),
        ("postgres://u@db1,,db2/shop", "host #2 is empty"),
        ("postgres://u@db1:5432,db2:fast/shop", "host #2: port 'fast'"),
        ("postgres://u@db1:70000/shop", "port '70000'"),
        ("postgres://u@[::1/shop", "bad IPv6"),
        ("postgres://u@db1,db2/shop?target_session_attrs=primary-only", "target_session_attrs"),
        ("postgres://u@db/shop?sslmode=require&sslmode=disable", "'sslmode' twice"),
        ("postgres://u@db/shop?novalue", "malformed"),
    ],
)
def test_bad_url_raises_a_typed_error_naming_the_part(url, named):
    """Each bad part is reported by name, as a ValueError the settings surface at start-up."""
    with pytest.raises(DatabaseURLError, match=named.replace("[", r"\[")):
        database_from_url(url)


def test_several_hosts_without_a_writable_session_are_warned_about():
    """W070: a host list that may land on a standby is reported; read-write, or one host, not."""
    from django_interlink.checks import database_host_warnings

    loose = database_from_url("postgres://u@db1,db2/shop")
    databases: dict[str, dict[str, object]] = {
        "default": loose,
        "strict": database_from_url(MULTI),
        "single": database_from_url("postgres://u@db1/shop"),
        "sqlite": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    }
    warnings = database_host_warnings(databases)
    assert [(w.id, "DATABASES['default']" in w.msg) for w in warnings] == [("interlink.W070", True)]


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")  # nothing connects here
def test_the_registered_check_reads_the_settings():
    """`manage.py check` sees W070 for the configured DATABASES."""
    from django.core import checks
    from django.test import override_settings

    loose = {**database_from_url("postgres://u@db1,db2/shop"), "TEST": {}}
    with override_settings(DATABASES={"default": loose}):
        found = [m.id for m in checks.run_checks() if m.id == "interlink.W070"]
    assert found == ["interlink.W070"]
