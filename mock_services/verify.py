"""Verify the contracts and the stubs: `python -m mock_services.verify [--validate-only]`.

--validate-only: every contracts/*.yaml must be valid OpenAPI (openapi-spec-validator) and follow
the house rules in contract_rules.py. Without it, each stub also runs on a real socket and
schemathesis checks it against its contract with the command docs/contracts.md gives
(OUTSIDER_COMMAND: all checks; phases examples, coverage, fuzzing, stateful); cases and failures
per service are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from mock_services.common.app import SERVICE_NAMES
from mock_services.contract_rules import (
    CONTRACTS_DIR,
    contract_paths,
    is_stub_contract,
    load,
    violations,
)
from mock_services.testing import StubServer

SCHEMATHESIS_CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
ROOT = CONTRACTS_DIR.parent
# The stubs' token variable; schemathesis.toml's [auth] section reads the same one.
AUTH_VARIABLE = "MOCK_SERVICES_TOKEN"
PHASES = "examples,coverage,fuzzing,stateful"
# What docs/contracts.md tells a reader to type from the repository root, against running stubs
# (test_schemathesis.py runs exactly this for every service; verify adds only run options).
OUTSIDER_COMMAND = (
    "st --config-file mock_services/schemathesis.toml run contracts/{service}.yaml"
    f" --url {{url}} --checks all --phases {PHASES}"
)


def validate_contracts(out: TextIO | None = None) -> int:
    """Print one line per contract; returns the number of invalid ones."""
    out = out or sys.stdout
    failed = 0
    for path in contract_paths():
        problems: list[str] = []
        try:
            spec, base_uri = read_from_filename(str(path))
            validate(spec, base_uri=base_uri)
        except Exception as exc:  # every validator error is a finding, whatever its class
            problems.append(f"invalid OpenAPI: {exc}".splitlines()[0])
        else:
            problems.extend(violations(load(path), stub=is_stub_contract(path)))
        shown = (
            path.relative_to(CONTRACTS_DIR.parent) if path.is_relative_to(CONTRACTS_DIR) else path
        )
        if problems:
            failed += 1
            print(f"FAIL {shown}", file=out)
            for problem in problems:
                print(f"     - {problem}", file=out)
        else:
            print(f"ok   {shown}", file=out)
    return failed


def outsider_command(service: str, url: str) -> list[str]:
    """OUTSIDER_COMMAND for one service as argv, `st` taken from this interpreter's venv."""
    argv = shlex.split(OUTSIDER_COMMAND.format(service=service, url=url))
    beside = Path(sys.executable).with_name("st")
    argv[0] = str(beside) if beside.exists() else shutil.which("st") or "st"
    return argv


@dataclass(frozen=True)
class RunResult:
    """One schemathesis CLI run, read from its JSON report (not from its log)."""

    code: int
    operations: int
    cases: int
    failures: int
    phases: dict[str, str]

    @classmethod
    def from_report(cls, code: int, report: dict[str, Any]) -> RunResult:
        """An empty report (the run died before writing one) reads as nothing tested."""
        operations = report.get("operations") or {}
        cases = report.get("test_cases") or {}
        phases = report.get("phases") or {}
        return cls(
            code=code,
            operations=int(operations.get("tested", 0)),
            cases=int(cases.get("generated", 0)),
            failures=int(cases.get("unique_failures", 0)) + int(cases.get("errored", 0)),
            phases={name: str(phase.get("status")) for name, phase in phases.items()},
        )

    @property
    def ok(self) -> bool:
        return self.code == 0 and self.failures == 0 and self.operations > 0


def run_outsider_command(
    service: str, url: str, token: str, *extra: str, timeout: float = 1800
) -> RunResult:
    """docs/contracts.md's command against a stub at `url` (extra: further `st run` options)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        argv = [
            *outsider_command(service, url),
            *extra,
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SERVICES_")}
        env |= {AUTH_VARIABLE: token, "NO_COLOR": "1"}  # never on a command line
        completed = subprocess.run(argv, cwd=ROOT, env=env, timeout=timeout, check=False)
        data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return RunResult.from_report(completed.returncode, data)


def run_schemathesis(
    service: str, *, max_examples: int, seed: int | None, junit: Path | None = None
) -> RunResult:
    """docs/contracts.md's command against a fresh stub of `service` on a real socket."""
    token = secrets.token_urlsafe(24)
    extra = ["--max-examples", str(max_examples), "--generation-database", "none"]
    if seed is not None:
        extra += ["--seed", str(seed)]
    if junit is not None:
        extra += ["--report", "junit", "--report-junit-path", str(junit)]
    with StubServer(service, token) as server:
        return run_outsider_command(service, server.url, token, *extra)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_services.verify", description=__doc__)
    parser.add_argument("--validate-only", action="store_true", help="only validate the contracts")
    parser.add_argument("--service", nargs="+", choices=SERVICE_NAMES, help="only these services")
    parser.add_argument("--max-examples", type=int, default=25, help="per operation (default 25)")
    parser.add_argument("--seed", type=int, help="schemathesis seed, to reproduce a run")
    parser.add_argument(
        "--junit-dir", type=Path, help="write schemathesis-<service>.xml (JUnit) into this folder"
    )
    args = parser.parse_args(argv)

    if validate_contracts():
        return 1
    if args.validate_only:
        return 0
    if args.junit_dir is not None:
        args.junit_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, RunResult] = {}
    for service in args.service or SERVICE_NAMES:
        print(f"\n=== schemathesis: {service}", flush=True)
        junit = args.junit_dir / f"schemathesis-{service}.xml" if args.junit_dir else None
        results[service] = run_schemathesis(
            service, max_examples=args.max_examples, seed=args.seed, junit=junit
        )
    print("\nservice    operations  cases  failures  result")
    for service, result in results.items():
        print(
            f"{service:<10} {result.operations:>10} {result.cases:>6} {result.failures:>9}"
            f"  {'ok' if result.ok else 'FAILED'}"
        )
    return 0 if all(result.ok for result in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
