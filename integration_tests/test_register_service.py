"""`manage.py register_service` on Consul: registered with a check on /health/ready/, gone on exit.

The Django service under test is pytest-django's live server (PostgreSQL test database); the
command runs as a real sub-process, as it would as a container entrypoint.
"""

from __future__ import annotations

import signal
import subprocess
from urllib.parse import urlsplit

import pytest

from django_interlink.registry.consul import ConsulRegistry
from integration_tests.helpers import django_subprocess_env, manage_py_argv
from mock_services.waiting import wait_until


@pytest.mark.django_db(transaction=True)
def test_register_service_registers_a_passing_check_and_deregisters_on_sigterm(
    consul, live_server, unique_name
):
    """The live server is discovered once /health/ready/ passes; SIGTERM removes it from Consul."""
    port = urlsplit(live_server.url).port
    service_id = f"{unique_name}-127.0.0.1-{port}"
    registry = ConsulRegistry(address=consul.url, token=consul.password, cache_ttl=0)
    env = django_subprocess_env(
        REGISTRY_BACKEND="consul",
        CONSUL_HTTP_ADDR=consul.url,
        CONSUL_HTTP_TOKEN=consul.password,
    )
    argv = manage_py_argv(
        "register_service",
        *("--name", unique_name, "--address", "127.0.0.1", "--port", str(port)),
        *("--health-check-url", f"{live_server.url}/health/ready/"),
    )
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        registered = proc.stdout.readline().strip()
        wait_until(
            lambda: (
                [i.service_id for i in registry.discover(unique_name, refresh=True)] == [service_id]
            ),
            timeout=60,
            what="the service's /health/ready/ check to pass",
        )
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert registered.startswith(f"registered {service_id}")
    assert out.strip() == f"deregistered {service_id}"
    assert proc.returncode == 0, err
    assert service_id not in registry.client.agent.services()
