"""Schemathesis against the live Django app: contracts/shop.yaml, every check, four phases.

The application runs as a real server on a socket (manage.py runserver, a SQLite file), with
a token from `manage.py issue_api_token`; no worker runs, so accepted orders stay pending (the
contract run checks the API, not the saga). Each phase is one `st run` so its case count is
known; together they are the command in schemathesis.toml beside this file. Part of
`make contracts`, whose per-service table (mock_services/tests/summary.py) gets a "shop" row.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_services.tests.summary import CONTRACTS_RUN
from tests.live_server import DjangoServer, django_env, manage_py

ROOT = Path(__file__).resolve().parents[3]
CONFIG = Path(__file__).with_name("schemathesis.toml")
CONTRACT = "contracts/shop.yaml"
PHASES = ("examples", "coverage", "fuzzing", "stateful")
MAX_EXAMPLES = 25
SHOP_USER_ID = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"


def _st() -> str:
    beside = Path(sys.executable).with_name("st")
    return str(beside) if beside.exists() else shutil.which("st") or "st"


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DjangoServer, str]]:
    scratch = tmp_path_factory.mktemp("shop-api")
    env = django_env(SQLITE_PATH=str(scratch / "db.sqlite3"))
    manage_py("migrate", "-v0", env=env)
    token = manage_py(
        "issue_api_token", "schemathesis", "--shop-user-id", SHOP_USER_ID, env=env
    ).strip()
    with DjangoServer(env, scratch / "server.log", threading=False) as server:
        yield server, token


def run_phase(server: DjangoServer, token: str, phase: str, report: Path) -> dict[str, Any]:
    argv = [
        _st(),
        "--config-file",
        str(CONFIG),
        "run",
        CONTRACT,
        "--url",
        server.url,
        "--checks",
        "all",
        "--phases",
        phase,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    # django_env's PYTHONPATH: the config's hooks import `tests.shop`, also under a bare `pytest`
    env = django_env(SHOP_API_TOKEN=token, NO_COLOR="1")  # the token never on a command line
    completed = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200, check=False
    )
    data: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    data["_exit_code"] = completed.returncode
    data["_output"] = completed.stdout[-6000:] + completed.stderr[-2000:]
    return data


@pytest.mark.parametrize("phase", PHASES)
def test_shop_api_conforms_to_contract_schemathesis(live_api, phase, tmp_path):
    """Zero failures and zero errors in this phase, every operation tested, cases generated."""
    server, token = live_api
    data = run_phase(server, token, phase, tmp_path / "report.json")
    output = data["_output"]
    cases = data.get("test_cases") or {}
    figures = CONTRACTS_RUN.figures("shop")
    figures.drift = "n/a (no stub)"
    figures.cases[phase] = int(cases.get("generated", 0))
    failed = data["_exit_code"] != 0 or cases.get("unique_failures") or cases.get("errored")
    figures.failures += 1 if failed else 0
    figures.cli = f"ok ({sum(figures.cases.values())} cases)" if not figures.failures else "FAILED"
    assert data["_exit_code"] == 0, output + "\n--- server log ---\n" + server.log_tail()
    assert (cases["unique_failures"], cases["errored"]) == (0, 0), output
    assert (data["failures"], data["errors"]) == ([], []), output
    assert data["operations"]["tested"] == 3, output
    assert data["phases"][phase]["status"] == "success", output
    assert cases["generated"] > 0, output
    print(f"\nschemathesis shop.yaml {phase}: {cases['generated']} cases, 0 failures")
    if phase == "stateful":
        # The contract's link POST -> GET (schemathesis may infer more from Location headers).
        links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", output)
        assert links is not None, output
        assert int(links[1]) == int(links[2]) >= 1, output
