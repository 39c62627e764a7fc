"""The GitHub workflow: valid against GitHub's schema, and it runs only what .ci/run runs.

We cannot run GitHub Actions here, so the workflow is held to two things we can check: its
structure (check-jsonschema's copy of the schema GitHub's editor uses) and that each of its
`run:` steps is a make target our own CI runs, on servers given the way the fixtures read them.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
ADDRESSES = ("RABBITMQ_URL", "REDIS_URL", "DATABASE_URL", "CONSUL_HTTP_ADDR")
# Steps our CI machines cannot run, and why (the workflow's comment says the same).
NOT_RUN_BY_OUR_CI = {
    "docker compose -f docker-compose.test.yml up -d --wait consul": (
        "no Docker engine here; integration_tests/test_compose.py validates the compose file"
    ),
    'python -m pip install "build>=1.2" "pytest>=8.3"': (
        "the package job's only tools; our CI has them in .venv (the dev extra)"
    ),
}


def _workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def _steps(job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _workflow()["jobs"][job]["steps"]
    return steps


def _make_targets(command: str) -> list[str] | None:
    """The targets of a `make ...` command line (None when it is not one)."""
    words = shlex.split(command)
    if not words or words[0] != "make":
        return None
    return [word for word in words[1:] if "=" not in word and not word.startswith("-")]


def _prerequisites() -> dict[str, list[str]]:
    """Makefile rule -> its literal prerequisites (variables such as $(VENV) left out)."""
    rules = {}
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    for name, prerequisites in re.findall(r"^([a-z][a-z-]*):([^=\n#]*)", text, re.MULTILINE):
        rules[name] = [p for p in prerequisites.split() if not p.startswith("$")]
    return rules


def _run_by_our_ci() -> set[str]:
    """Every make target .ci/run runs, with the prerequisites make runs for them."""
    rules = _prerequisites()
    pending = [
        target
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        # A comment is prose (an apostrophe in it is no shell quote).
        if not line.lstrip().startswith("#")
        for target in (_make_targets(line.strip()) or [])
    ]
    found: set[str] = set()
    while pending:
        target = pending.pop()
        if target not in found:
            found.add(target)
            pending.extend(rules.get(target, []))
    return found


def test_workflow_is_valid_against_githubs_workflow_schema() -> None:
    """check-jsonschema --builtin-schema vendor.github-workflows accepts the workflow."""
    check = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok -- validation done")


def test_workflow_runs_only_make_targets_that_our_ci_runs() -> None:
    """Each `run:` is make with targets .ci/run also runs (or a listed exception, with why)."""
    ours = _run_by_our_ci()
    assert {
        "lint",
        "contracts",
        "test-unit",
        "test-package",
        "test-integration",
        "contracts-compat",
        "can-i-deploy",
    } <= ours
    commands = [step["run"] for job in _workflow()["jobs"] for step in _steps(job) if "run" in step]
    targets = {t for command in commands for t in (_make_targets(command) or [])}
    others = {command for command in commands if _make_targets(command) is None}
    assert targets - ours == set()
    assert others == set(NOT_RUN_BY_OUR_CI)


def test_workflow_first_job_gets_servers_by_address_and_requires_consul() -> None:
    """Service containers for RabbitMQ 4, Redis and PostgreSQL; addresses for the tests only."""
    job = _workflow()["jobs"]["test"]
    images = {name: service["image"] for name, service in job["services"].items()}
    assert images["rabbitmq"].startswith("rabbitmq:4.")
    assert "management" not in images["rabbitmq"]
    assert images["redis"].startswith("redis:")
    assert images["postgres"].startswith("postgres:")
    (integration,) = [s for s in job["steps"] if s.get("run") == "make test-integration"]
    assert set(ADDRESSES) <= set(integration["env"])
    required = integration["env"]["REQUIRE_REAL_SERVICES"].split(",")
    assert sorted(required) == ["consul", "postgres", "rabbitmq", "redis"]
    runs = [step.get("run") for step in job["steps"]]
    consul = "docker compose -f docker-compose.test.yml up -d --wait consul"
    assert runs.index(consul) < runs.index("make test-integration")


def test_workflow_second_job_gives_no_addresses_so_testcontainers_starts_the_servers() -> None:
    """No server address anywhere in the testcontainers job; every server still required."""
    job = _workflow()["jobs"]["testcontainers"]
    assert "services" not in job
    text = yaml.safe_dump(job)
    assert [name for name in ADDRESSES if name + ":" in text] == []
    assert sorted(job["env"]["REQUIRE_REAL_SERVICES"].split(",")) == [
        "consul",
        "postgres",
        "rabbitmq",
        "redis",
    ]
    assert [step.get("run") for step in job["steps"] if "run" in step] == [
        "make install",
        "make test-integration",
    ]


def test_workflow_gate_runs_on_pull_requests_against_the_base_branch() -> None:
    """The compat job: pull requests only, full history, BASE = the base branch."""
    job = _workflow()["jobs"]["contracts-compat"]
    assert job["if"] == "github.event_name == 'pull_request'"
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    (gate,) = [s for s in job["steps"] if "contracts-compat" in s.get("run", "")]
    assert gate["run"] == 'make contracts-compat BASE="origin/$BASE_REF"'
    assert gate["env"]["BASE_REF"] == "${{ github.base_ref }}"
    assert "pull_request" in _workflow()[True]  # YAML 1.1 reads the `on:` key as true


def test_workflow_runs_the_can_i_deploy_matrix_on_pull_requests() -> None:
    """Pacts and contracts of the base branch and of the pull request, crossed; JUnit uploaded."""
    job = _workflow()["jobs"]["contracts-compat"]
    assert job["if"] == "github.event_name == 'pull_request'"
    (matrix,) = [s for s in job["steps"] if "can-i-deploy" in s.get("run", "")]
    assert _make_targets(matrix["run"]) == ["can-i-deploy"]
    assigned = dict(word.split("=", 1) for word in shlex.split(matrix["run"]) if "=" in word)
    assert assigned == {
        "CONSUMER_REFS": "origin/$BASE_REF HEAD",
        "PROVIDER_REFS": "origin/$BASE_REF HEAD",
    }
    assert matrix["env"]["BASE_REF"] == "${{ github.base_ref }}"
    assert matrix["if"] == "${{ !cancelled() }}"  # also when the strict gate failed
    reports = [s["with"] for s in job["steps"] if "with" in s and "report_paths" in s["with"]]
    assert "reports/can-i-deploy.xml" in [r["report_paths"] for r in reports]
    uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert [u["with"]["path"] for u in uploads] == ["reports/"]


def test_workflow_package_job_runs_the_distribution_test_on_each_python_and_django() -> None:
    """3.11, 3.12, 3.13 x Django 5.2 and 6.0 (not 6.0 on 3.11), as the package declares."""
    job = _workflow()["jobs"]["package"]
    matrix = job["strategy"]["matrix"]
    excluded = {(e["python"], e["django"]) for e in matrix["exclude"]}
    cells = {(p, d) for p in matrix["python"] for d in matrix["django"]} - excluded
    assert cells == {
        ("3.11", "Django>=5.2,<5.3"),
        ("3.12", "Django>=5.2,<5.3"),
        ("3.12", "Django>=6.0,<6.1"),
        ("3.13", "Django>=5.2,<5.3"),
        ("3.13", "Django>=6.0,<6.1"),
    }
    assert job["strategy"]["fail-fast"] is False
    metadata = tomllib.loads(
        (ROOT / "packages" / "django-interlink" / "pyproject.toml").read_text(encoding="utf-8")
    )["project"]
    classifiers = metadata["classifiers"]
    pythons = {c.rsplit(" :: ", 1)[1] for c in classifiers if c.count(".") == 1 and "Python" in c}
    djangos = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Framework :: Django ::")
    }
    assert (pythons, djangos) == ({"3.11", "3.12", "3.13"}, {"5.2", "6.0"})
    assert set(matrix["python"]) == pythons
    assert {d.split(">=")[1].split(",")[0] for d in matrix["django"]} == djangos
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    (test,) = [s for s in job["steps"] if _make_targets(s.get("run", "")) == ["test-package"]]
    assert "PACKAGE_PYTHON=python" in shlex.split(test["run"])
    assert test["env"] == {"INTERLINK_TEST_DJANGO": "${{ matrix.django }}"}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "DISTRIBUTION_TEST := tools/tests/test_distribution.py" in makefile
    assert (ROOT / "tools" / "tests" / "test_distribution.py").is_file()
