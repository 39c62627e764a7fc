"""containers.first_available: the environment's address, else Docker, else local processes."""

from __future__ import annotations

import pytest

from servers import containers
from servers.endpoint import ServerStartError, ServerUnavailable


def _fail(error: Exception):
    def run() -> str:
        raise error

    return run


@pytest.fixture
def docker(monkeypatch):
    def answers(up: bool) -> None:
        monkeypatch.setattr(containers, "docker_available", lambda: up)

    return answers


def test_the_environment_wins_over_docker_and_processes(docker):
    docker(True)
    found = containers.first_available(
        "x", lambda: "env", _fail(AssertionError("docker")), _fail(AssertionError("local"))
    )
    assert found == "env"


def test_docker_is_used_when_it_answers(docker):
    docker(True)
    found = containers.first_available(
        "x", lambda: None, lambda: "docker", _fail(AssertionError("local"))
    )
    assert found == "docker"


def test_without_docker_local_processes_start(docker):
    docker(False)
    found = containers.first_available(
        "x", lambda: None, _fail(AssertionError("docker")), lambda: "local"
    )
    assert found == "local"


def test_a_failed_container_falls_through_to_local_processes(docker):
    docker(True)
    found = containers.first_available(
        "x", lambda: None, _fail(RuntimeError("pull denied")), lambda: "local"
    )
    assert found == "local"


def test_no_local_binary_after_a_failed_container_names_what_docker_said(docker):
    docker(True)
    with pytest.raises(ServerStartError, match="redis: Docker failed: pull denied"):
        containers.first_available(
            "redis",
            lambda: None,
            _fail(RuntimeError("pull denied")),
            _fail(ServerUnavailable("no redis-server")),
        )


def test_no_docker_and_no_local_binary_is_unavailable(docker):
    docker(False)
    with pytest.raises(ServerUnavailable):
        containers.first_available(
            "redis", lambda: None, lambda: "docker", _fail(ServerUnavailable("no redis-server"))
        )
