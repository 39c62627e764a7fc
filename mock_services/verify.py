"""Verify the contracts and the stubs: `python -m mock_services.verify [--validate-only]`.

--validate-only: every contracts/*.yaml must be valid OpenAPI (openapi-spec-validator) and follow
the house rules in contract_rules.py. Without it, each stub also runs on a real socket and
schemathesis checks it against its contract (all checks; phases examples, coverage, fuzzing,
stateful); the number of cases run per service is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from mock_services.common.app import SERVICE_NAMES
from mock_services.contract_rules import CONTRACTS_DIR, contract_paths, load, violations
from mock_services.testing import StubServer

SCHEMATHESIS_CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
AUTH_VARIABLE = "MOCK_SERVICES_VERIFY_TOKEN"  # read by schemathesis.toml's [auth] section
PHASES = "examples,coverage,fuzzing,stateful"


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
            problems.extend(violations(load(path)))
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


class _Tee(io.StringIO):
    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self._target = target

    def write(self, text: str) -> int:
        self._target.write(text)
        return super().write(text)


def run_schemathesis(service: str, *, max_examples: int, seed: int | None) -> tuple[int, int]:
    """(exit code, cases run) of schemathesis against a fresh stub of `service`."""
    # Here, not at the top: the hooks register process-wide on import, and --validate-only
    # needs neither them nor the CLI.
    import schemathesis.cli

    import mock_services.schemathesis_hooks  # noqa: F401

    token = secrets.token_urlsafe(24)
    os.environ[AUTH_VARIABLE] = token  # never on a command line; schemathesis filters it in output
    with StubServer(service, token) as server:
        args = [
            "--config-file",
            str(SCHEMATHESIS_CONFIG),
            "--no-color",
            "run",
            str(CONTRACTS_DIR / f"{service}.yaml"),
            "--url",
            server.url,
            "--checks",
            "all",
            "--phases",
            PHASES,
            "--max-examples",
            str(max_examples),
            "--generation-database",
            "none",
        ]
        if seed is not None:
            args += ["--seed", str(seed)]
        tee = _Tee(sys.stdout)
        code = 0
        with contextlib.redirect_stdout(tee):
            try:
                schemathesis.cli.schemathesis.main(args=args, prog_name="st", standalone_mode=False)
            except SystemExit as exc:
                code = int(exc.code or 0)
    output = tee.getvalue()
    counts = re.findall(r"(\d+) generated", output)
    if re.search(r"\d+ (failures?|errors?) in ", output) or "No issues found" not in output:
        code = code or 1
    return code, int(counts[-1]) if counts else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_services.verify", description=__doc__)
    parser.add_argument("--validate-only", action="store_true", help="only validate the contracts")
    parser.add_argument("--service", nargs="+", choices=SERVICE_NAMES, help="only these services")
    parser.add_argument("--max-examples", type=int, default=25, help="per operation (default 25)")
    parser.add_argument("--seed", type=int, help="schemathesis seed, to reproduce a run")
    args = parser.parse_args(argv)

    if validate_contracts():
        return 1
    if args.validate_only:
        return 0
    results: dict[str, tuple[int, int]] = {}
    for service in args.service or SERVICE_NAMES:
        print(f"\n=== schemathesis: {service}", flush=True)
        results[service] = run_schemathesis(service, max_examples=args.max_examples, seed=args.seed)
    print("\nservice     cases  result")
    for service, (code, cases) in results.items():
        print(f"{service:<10} {cases:>6}  {'ok' if code == 0 else 'FAILED'}")
    return 0 if all(code == 0 for code, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
