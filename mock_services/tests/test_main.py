"""`python -m mock_services`: starts the stubs on the configured ports, never shows the token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from servers.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SERVICES_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def test_refuses_to_start_without_a_token():
    """No MOCK_SERVICES_TOKEN: exit status 2 and a message saying so."""
    result = subprocess.run(
        [sys.executable, "-m", "mock_services"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "MOCK_SERVICES_TOKEN" in result.stderr


def test_serves_the_stubs_and_prints_urls_but_not_the_token():
    """With a token and ports 0, it prints one URL per service, each answering with auth."""
    token = "main-test-token-0123456789"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mock_services",
            "--users-port",
            "0",
            "--inventory-port",
            "0",
            "--only",
            "users",
            "inventory",
        ],
        env=_env(MOCK_SERVICES_TOKEN=token),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        urls = dict(line.split() for line in lines[:2])
        headers = {"Authorization": f"Bearer {token}"}
        search = urls["users"] + "/users/search?q=a"

        def accepting() -> bool:
            try:
                requests.get(search, headers=headers, timeout=2)
            except requests.ConnectionError:
                return False
            return True

        wait_until(accepting, timeout=20, interval=0.05, what="the users stub to accept")
        users = requests.get(search, headers=headers, timeout=2)
        product = requests.get(
            urls["inventory"] + "/products/00000000-0000-4000-8000-000000000001",
            headers=headers,
            timeout=5,
        )
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert set(urls) == {"users", "inventory"}
    assert (users.status_code, product.status_code) == (200, 200)
    assert token not in "".join(lines) + output
    assert process.returncode == 0


def test_with_a_trace_exporter_each_request_is_a_server_span_under_its_caller():
    """OTEL_TRACES_EXPORTER=console: a request carrying a traceparent becomes a server span,
    its child, printed when the stubs stop (SIGTERM flushes it)."""
    token = "main-test-token-0123456789"
    trace_id, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_services", "--users-port", "0", "--only", "users"],
        env=_env(MOCK_SERVICES_TOKEN=token, OTEL_TRACES_EXPORTER="console"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().split()[1] + "/users/search?q=a"
    headers = {"Authorization": f"Bearer {token}", "traceparent": f"00-{trace_id}-{parent}-01"}

    def answered() -> bool:
        try:
            return requests.get(url, headers=headers, timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(answered, timeout=20, interval=0.05, what="the users stub to answer")
    process.terminate()
    output, _ = process.communicate(timeout=30)
    assert f'"trace_id": "0x{trace_id}"' in output
    assert f'"parent_id": "0x{parent}"' in output
    assert '"kind": "SpanKind.SERVER"' in output
