"""Per-service figures of a contracts run, for people (terminal) and for CI (JUnit, Markdown).

The stub tests tally into CONTRACTS_RUN while they run; conftest.py prints it at the end of the
session, adds it to the JUnit XML as testsuite properties and, when pytest writes JUnit, writes
a Markdown table beside it (also appended to $GITHUB_STEP_SUMMARY on GitHub Actions).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from mock_services.common.app import SERVICE_NAMES
from mock_services.contract_rules import CONTRACTS_DIR, load, operations

PHASES = ("examples", "coverage", "fuzzing", "stateful")
# The stub tests name their service in the test name or its parameter.
_SERVICE_IN_NODEID = re.compile(r"(?:test_|\[)(" + "|".join(SERVICE_NAMES) + r")(?:_|\])")


def service_of(nodeid: str) -> str | None:
    """The service a stub test is about, from its node id (None for the others)."""
    match = _SERVICE_IN_NODEID.search(nodeid.rpartition("::")[2])
    return match.group(1) if match else None


@dataclass
class ServiceFigures:
    """What one service's contract checks did in this session."""

    operations: int
    cases: Counter[str] = field(default_factory=Counter)  # schemathesis cases by phase
    failures: int = 0  # failed schemathesis tests
    drift: str = "not run"  # outcome of the drift comparison
    cli: str = "not run"  # docs/contracts.md's `st` command: "ok (N cases)" or "FAILED ..."

    def row(self) -> list[str]:
        return [
            str(self.operations),
            *(str(self.cases[phase]) for phase in PHASES),
            str(self.failures),
            self.drift,
            self.cli,
        ]


HEADER = ["service", "operations", *PHASES, "failures", "drift", "st command"]


@dataclass
class ContractsRun:
    """The figures of every service, filled in as the tests run."""

    services: dict[str, ServiceFigures] = field(default_factory=dict)

    def figures(self, service: str) -> ServiceFigures:
        if service not in self.services:
            count = sum(1 for _ in operations(load(CONTRACTS_DIR / f"{service}.yaml")))
            self.services[service] = ServiceFigures(operations=count)
        return self.services[service]

    def record_outcome(self, nodeid: str, outcome: str) -> None:
        """A finished stub test: drift results and schemathesis failures by service."""
        service = service_of(nodeid)
        if service is None:
            return
        name = nodeid.rpartition("::")[2]
        if name.startswith("test_stub_and_contract_do_not_drift"):
            self.figures(service).drift = outcome
        elif "schemathesis" in name and outcome == "failed":
            self.figures(service).failures += 1

    def rows(self) -> list[list[str]]:
        return [[name, *self.services[name].row()] for name in sorted(self.services)]

    def text(self) -> list[str]:
        """An aligned table, one line per service."""
        table = [HEADER, *self.rows()]
        widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
        return [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in table
        ]

    def markdown(self) -> str:
        lines = [
            "| " + " | ".join(HEADER) + " |",
            "|" + "---|" * len(HEADER),
            *("| " + " | ".join(row) + " |" for row in self.rows()),
        ]
        return "### Contracts per service\n\n" + "\n".join(lines) + "\n"

    def properties(self) -> list[tuple[str, str]]:
        """Flat name/value pairs for JUnit <properties>."""
        found: list[tuple[str, str]] = []
        for name in sorted(self.services):
            figures = self.services[name]
            found.append((f"{name}.operations", str(figures.operations)))
            found.extend((f"{name}.cases.{phase}", str(figures.cases[phase])) for phase in PHASES)
            found.append((f"{name}.failures", str(figures.failures)))
            found.append((f"{name}.drift", figures.drift))
            found.append((f"{name}.st_command", figures.cli))
        return found


CONTRACTS_RUN = ContractsRun()
