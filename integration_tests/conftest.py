"""Real servers for the integration tests: RabbitMQ, Redis, PostgreSQL and Consul.

Session fixtures `rabbitmq`, `redis_server`, `redis_sentinel`, `postgres`, `consul` yield an
`Endpoint`; each server comes from the environment, Docker (testcontainers) or a local process
(see servers/). Django's database here is the PostgreSQL server. Tests using a server fixture get
the `integration` marker and the server's marker; a failed test's report carries the tail of its
servers' logs.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from integration_tests.django_database import restore_default_database, swap_default_database
from servers import (
    Endpoint,
    Provisioned,
    ServerStartError,
    ServerUnavailable,
    provide,
    required_servers,
)
from servers import postgres_standby as postgres_standby_server
from servers.endpoint import CallbackController
from servers.postgres_standby import StandbyPair
from servers.rabbitmq_cluster import RabbitCluster
from servers.rabbitmq_cluster import provide as rabbitmq_cluster_provide

#: fixture name -> server name (also the marker name)
SERVER_FIXTURES = {
    "rabbitmq": "rabbitmq",
    "rabbitmq_cluster": "rabbitmq",
    "redis_server": "redis",
    "redis_sentinel": "redis_sentinel",
    "postgres": "postgres",
    "consul": "consul",
}
#: fixtures of servers started per test, not per session (no log in _running): their marker
PER_TEST_FIXTURES = {"postgres_standby": "postgres"}
LOG_LINES = 40

_running: dict[str, Provisioned] = {}
_pairs: list[StandbyPair] = []  # the primary/standby pairs of the test running now
_startup_report: list[tuple[str, str, float | None]] = []
_clusters: list[RabbitCluster] = []


def _close(name: str) -> None:
    provisioned = _running.pop(name, None)
    if provisioned is not None:
        provisioned.close()


@atexit.register
def _close_all() -> None:
    """Last resort when the session dies before fixture teardown: leave no server behind."""
    for name in list(_running):
        _close(name)
    while _clusters:
        _clusters.pop().close()


def _serve(name: str) -> Iterator[Endpoint]:
    unavailable = failed = ""
    try:
        provisioned = provide(name)
    except ServerUnavailable as exc:
        unavailable = str(exc)
    except ServerStartError as exc:
        failed = f"{name} could not be started: {exc}"
    # outside the except blocks, so the report shows the reason, not a chained traceback
    if unavailable and name in required_servers():
        failed = f"{unavailable} [{name} is required by REQUIRE_REAL_SERVICES]"
    if failed:
        pytest.fail(failed, pytrace=False)
    if unavailable:
        pytest.skip(unavailable)
    _running[name] = provisioned
    endpoint = provisioned.endpoint
    _startup_report.append((name, endpoint.source, endpoint.startup_seconds))
    try:
        yield endpoint
    finally:
        _close(name)


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[Endpoint]:
    """A RabbitMQ broker: url amqp://user:pass@host:port/%2F."""
    yield from _serve("rabbitmq")


@pytest.fixture(scope="session")
def rabbitmq_cluster() -> Iterator[RabbitCluster]:
    """A three-node RabbitMQ cluster (servers/rabbitmq_cluster.py): RABBITMQ_URLS, three
    containers, or three local nodes; per node its URL, name, pid, kill() and restart().
    Nodes a test killed are restarted after it."""
    try:
        cluster = rabbitmq_cluster_provide()
    except ServerUnavailable as exc:
        if "rabbitmq" in required_servers():
            pytest.fail(f"{exc} [rabbitmq is required by REQUIRE_REAL_SERVICES]", pytrace=False)
        pytest.skip(str(exc))
    except ServerStartError as exc:
        pytest.fail(f"the RabbitMQ cluster could not be started: {exc}", pytrace=False)
    _clusters.append(cluster)
    _startup_report.append(("rabbitmq-cluster", cluster.source, cluster.startup_seconds))
    try:
        yield cluster
    finally:
        if cluster in _clusters:
            _clusters.remove(cluster)
            cluster.close()


@pytest.fixture
def cluster(rabbitmq_cluster: RabbitCluster) -> Iterator[RabbitCluster]:
    """The session's cluster for one test: every node it killed is restarted (and rejoined)."""
    yield rabbitmq_cluster
    rabbitmq_cluster.restart_killed()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Endpoint]:
    """A Redis server: url redis://host:port/0 (isolate tests with `unique_name` key prefixes)."""
    yield from _serve("redis")


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[Endpoint]:
    """Redis with Sentinel: url "host:port,..." (its sentinels, service "mymaster"); `.cluster`
    holds the primary, the replica and the sentinels, each a process a test can signal."""
    yield from _serve("redis_sentinel")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Endpoint]:
    """A PostgreSQL server: url postgresql://user:pass@host:port/db (Django's database here)."""
    yield from _serve("postgres")


@pytest.fixture(scope="session")
def consul() -> Iterator[Endpoint]:
    """A Consul agent (dev mode): url http://host:port; `password` holds the ACL token, if any."""
    yield from _serve("consul")


@pytest.fixture
def postgres_standby(request: pytest.FixtureRequest) -> Iterator[StandbyPair]:
    """A PostgreSQL primary and a streaming standby, new for each test (a test may promote the
    standby). Synchronous unless parametrized `indirect` with False. Apart from the `postgres`
    server and Django's test database on it: a test puts Django on the pair with
    `django_database.django_on(pair.url, django_db_blocker)`, or runs processes against it."""
    synchronous = bool(getattr(request, "param", True))
    try:
        pair = postgres_standby_server.provide(synchronous=synchronous)
    except ServerUnavailable as exc:
        if "postgres" in required_servers():
            pytest.fail(f"{exc} [postgres is required by REQUIRE_REAL_SERVICES]", pytrace=False)
        pytest.skip(str(exc))
    except ServerStartError as exc:
        pytest.fail(f"the PostgreSQL pair could not be started: {exc}", pytrace=False)
    _pairs.append(pair)
    try:
        yield pair
    finally:
        _pairs.remove(pair)
        pair.close()


@pytest.fixture
def unique_name() -> str:
    """A per-test name ("t" + 8 hex) for queues, exchanges, streams and Redis key prefixes."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _restart_servers_left_stopped() -> Iterator[None]:
    """A test that stopped a server and failed before starting it again must not break the next."""
    yield
    for provisioned in list(_running.values()):
        controller = provisioned.endpoint.controller
        if isinstance(controller, CallbackController) and not controller.running:
            controller.start()


# --- Django's database: the PostgreSQL server ---------------------------------------------------


# Package scope: when one session also runs the SQLite suites, Django gets its SQLite database
# back once the integration tests are done, whichever ran first.
@pytest.fixture(scope="package")
def django_db_modify_db_settings(
    request: pytest.FixtureRequest, postgres: Endpoint
) -> Iterator[None]:
    """Make Django's `default` database the PostgreSQL server (its test database on it)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(postgres.url)
    name = unquote(parts.path.lstrip("/")) or "postgres"
    test_name = f"test_{name}"
    if postgres.source == "env":  # a shared server: don't collide with another session's test db
        test_name += f"_{os.getpid()}"
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if worker:
        test_name += f"_{worker}"
    saved = swap_default_database(
        {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": postgres.username,
            "PASSWORD": postgres.password,
            "HOST": postgres.host,
            "PORT": str(postgres.port),
            "TEST": {"NAME": test_name},
        }
    )
    yield
    restore_default_database(*saved)


@pytest.fixture(scope="package")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's django_db_setup, as this package's own fixture.

    When one session runs the unit tests (SQLite) before these, pytest-django's fixture is
    already cached on SQLite; this one creates the PostgreSQL test database regardless.
    """
    from django.test.utils import setup_databases, teardown_databases

    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            keepdb=keepdb,
            aliases={"default"},  # type: ignore[arg-type]  # a set works; the stubs say Mapping
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(db_cfg, verbosity=request.config.option.verbose)


# --- markers, logs of failed tests, start-up report ---------------------------------------------


def _in_this_directory(item: pytest.Item) -> bool:
    return os.path.dirname(__file__) in str(item.path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not _in_this_directory(item):
            continue
        item.add_marker(pytest.mark.integration)
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in {**SERVER_FIXTURES, **PER_TEST_FIXTURES}.items():
            if fixture in names:
                item.add_marker(getattr(pytest.mark, marker))
        if item.get_closest_marker("django_db") is not None and "postgres" not in names:
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and _in_this_directory(item):
        names = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("django_db") is not None:
            names.add("postgres")
        for fixture, server in SERVER_FIXTURES.items():
            provisioned = _running.get(server)
            if fixture in names and provisioned is not None and provisioned.endpoint.log_tail:
                tail = provisioned.endpoint.log_tail(LOG_LINES)
                report.sections.append((f"{server} server log (last {LOG_LINES} lines)", tail))
        for pair in _pairs:
            if pair.log_tail is not None:
                report.sections.append(("postgres pair logs", pair.log_tail(LOG_LINES)))
        if "rabbitmq_cluster" in names:
            for cluster in _clusters:
                if cluster.log_tail is not None:
                    report.sections.append(("rabbitmq cluster logs", cluster.log_tail(LOG_LINES)))
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _startup_report:
        return
    terminalreporter.section("integration servers")
    for name, source, seconds in _startup_report:
        took = f"started in {seconds:.2f} s" if seconds is not None else "not started by us"
        terminalreporter.write_line(f"{name:<9} {source:<8} {took}")
