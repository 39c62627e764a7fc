"""docker-compose.test.yml: valid Compose, each server and stub with a healthcheck, right env names.

The schema is the compose-spec JSON schema shipped by Debian's docker-compose package
(compose/config/compose_spec.json); `.ci/run` installs the package.
"""

from __future__ import annotations

import copy
import glob
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from django_interlink.events.redis_connection import parse_sentinels
from django_interlink.tracing import EXPORTER_ENV
from integration_tests.servers import (
    consul,
    postgres,
    postgres_standby,
    rabbitmq,
    rabbitmq_cluster,
    redis,
    redis_sentinel,
)
from mock_services.__main__ import _parser as _stub_parser
from mock_services.common.settings import DEFAULT_PORTS

REPO_DIR = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_DIR / "docker-compose.test.yml"
SCHEMA_GLOBS = (
    "/usr/lib/python3/dist-packages/compose/config/compose_spec.json",
    "/usr/local/lib/python3*/*-packages/compose/config/compose_spec.json",
)
SERVERS = {"rabbitmq": rabbitmq, "redis": redis, "postgres": postgres, "consul": consul}
STUBS = set(DEFAULT_PORTS)
#: services started only with `--profile <name>`, and the variables their header exports
PROFILES = {
    "cluster": ({"rabbit1", "rabbit2", "rabbit3"}, {rabbitmq_cluster.ENV}),
    "sentinel": (
        {"redis-primary", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"},
        {redis_sentinel.ENV, redis_sentinel.SERVICE_ENV},
    ),
    "standby": ({"postgres-primary", "postgres-standby"}, {postgres_standby.ENV}),
    "tracing": ({"jaeger"}, {EXPORTER_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT"}),
}
CLUSTER = ["rabbit1", "rabbit2", "rabbit3"]  # the profile `cluster`, in order


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    for pattern in SCHEMA_GLOBS:
        for path in glob.glob(pattern):
            loaded: dict[str, Any] = yaml.safe_load(Path(path).read_text())
            return loaded
    pytest.skip(
        "the compose-spec schema is not installed: `apt-get install docker-compose` "
        "(Debian's package ships compose/config/compose_spec.json)"
    )


def _schema_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def _exports() -> dict[str, str]:
    """The `export NAME=value` lines of the file's header comment."""
    found = re.findall(r"^#\s+export (\w+)=(\S+)", COMPOSE_FILE.read_text(), flags=re.M)
    return dict(found)


def _published(service: dict[str, Any]) -> set[int]:
    return {int(str(p).rsplit(":", 2)[-2]) for p in service.get("ports", [])}


def test_compose_file_matches_the_compose_spec_schema(compose, compose_schema):
    """docker-compose.test.yml has no schema error against the compose-spec JSON schema."""
    assert _schema_errors(compose_schema, compose) == []


def test_compose_spec_schema_rejects_an_unknown_healthcheck_key(compose, compose_schema):
    """The schema check has teeth: a misspelt healthcheck key is reported."""
    broken = copy.deepcopy(compose)
    broken["services"]["redis"]["healthcheck"]["intervall"] = "2s"
    errors = _schema_errors(compose_schema, broken)
    assert len(errors) == 1
    assert "intervall" in errors[0]


def test_docker_compose_config_accepts_the_file():
    """`docker compose config` (or Debian's docker-compose) parses and validates the file."""
    if shutil.which("docker-compose"):
        argv = ["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"]
    elif (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        argv = ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"]
    else:
        pytest.skip("no docker-compose: `apt-get install docker-compose` or the compose plugin")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_compose_runs_every_server_and_stub_with_a_healthcheck(compose):
    """The four servers and the four stubs are services, each profile's servers beside them
    (started only under that profile), each with a healthcheck command."""
    services = compose["services"]
    profiled = {name for names, _ in PROFILES.values() for name in names}
    assert set(services) == set(SERVERS) | STUBS | profiled
    assert {n for n, s in services.items() if s.get("profiles")} == profiled
    for profile, (names, _) in PROFILES.items():
        assert all(services[name]["profiles"] == [profile] for name in names)
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert isinstance(test, list), name
        assert test[0] in {"CMD", "CMD-SHELL"}, name


def test_exported_addresses_use_the_fixture_variables_and_published_ports(compose):
    """The header's exports are the variables the fixtures read, at ports the services publish."""
    exports = _exports()
    profile_envs = {env for _, envs in PROFILES.values() for env in envs}
    assert set(exports) == {module.ENV for module in SERVERS.values()} | profile_envs
    services = compose["services"]
    for name, module in SERVERS.items():
        value = exports[module.ENV]
        port = urlsplit(value if "://" in value else f"http://{value}").port
        if services[name].get("network_mode") == "host":
            assert f"-http-port={port}" in services[name]["command"]
        else:
            assert port in _published(services[name]), name


def test_standby_profile_export_names_the_primary_then_the_standby(compose):
    """DATABASE_CLUSTER_URL lists the primary's published port, then the standby's, and asks
    libpq for a read-write session."""
    services, (env,) = PROFILES["standby"]
    parts = urlsplit(_exports()[env])
    addresses = parts.netloc.rpartition("@")[2].split(",")
    ports = [int(address.rsplit(":", 1)[1]) for address in addresses]
    published = [_published(compose["services"][name]) for name in sorted(services)]
    assert [{port} for port in ports] == published  # postgres-primary sorts first
    assert parts.query == "target_session_attrs=read-write"


def test_stubs_listen_on_the_ports_django_settings_default_to(compose):
    """Each stub runs `python -m mock_services --only <name>` and publishes its default port."""
    for name, port in DEFAULT_PORTS.items():
        service = compose["services"][name]
        assert service["command"][:3] == ["python", "-m", "mock_services"]
        assert _stub_parser().parse_args(service["command"][3:]).only == [name]
        assert _published(service) == {port}
        assert service["environment"][f"MOCK_SERVICES_{name.upper()}_PORT"] == str(port)
        assert service["environment"]["STUB_PORT"] == str(port)
        assert service["environment"]["MOCK_SERVICES_TOKEN"] != ""


def test_exported_sentinels_are_the_sentinel_services_ports(compose):
    """REDIS_SENTINELS names the three sentinels' ports, REDIS_SENTINEL_SERVICE the monitored
    name, and the sentinels monitor the primary's port."""
    exports = _exports()
    services = compose["services"]
    ports = {int(services[f"sentinel-{n}"]["environment"]["SENTINEL_PORT"]) for n in (1, 2, 3)}
    sentinels = parse_sentinels(exports[redis_sentinel.ENV])
    assert {port for _, port in sentinels} == ports
    service = exports[redis_sentinel.SERVICE_ENV]
    primary_port = services["redis-primary"]["command"][2]
    assert f"sentinel monitor {service} 127.0.0.1 {primary_port} 2" in " ".join(
        services["sentinel-1"]["command"]
    )


def test_cluster_profile_runs_three_rabbitmq_nodes_that_know_each_other(compose):
    """rabbit1-3 only under the profile `cluster`: one cookie, each naming all three nodes, and
    RABBITMQ_URLS lists the port each one publishes."""
    services = compose["services"]
    nodes = [services[name] for name in CLUSTER]
    assert all(node["profiles"] == ["cluster"] for node in nodes)
    assert [node["hostname"] for node in nodes] == CLUSTER
    assert len({node["environment"]["RABBITMQ_ERLANG_COOKIE"] for node in nodes}) == 1
    for node in nodes:
        args = node["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
        assert all(f"'rabbit@{name}'" in args for name in CLUSTER)
    urls = _exports()[rabbitmq_cluster.ENV].split(",")
    assert [urlsplit(url).port for url in urls] == [_published(node).pop() for node in nodes]


def test_tracing_profile_exports_point_the_otlp_exporter_at_jaeger(compose):
    """OTEL_TRACES_EXPORTER=otlp (an exporter tracing_setup knows) and the OTLP endpoint at the
    HTTP receiver's port Jaeger publishes, beside its UI."""
    exports = _exports()
    assert exports[EXPORTER_ENV] == "otlp"
    endpoint = urlsplit(exports["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert (endpoint.scheme, endpoint.hostname) == ("http", "127.0.0.1")
    assert _published(compose["services"]["jaeger"]) == {endpoint.port, 16686}
