"""can-i-deploy: the pacts at each consumer ref against the contracts at each provider ref.

A cell is one pact, as a consumer ref has it, checked bi-directionally (check.py) against the
contracts of one provider ref: `ok` when they promise every interaction, else the number of
findings. A row is a consumer ref and a pact, a column a provider ref. The verdicts come as a
table for the terminal, Markdown for a CI job's summary, and JUnit XML (a testcase a cell).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django_interlink.events.contract import EventContract
from tools.compat.refs import folder_at, label
from tools.pacts.check import Finding, check_pact

CONTRACTS = "contracts"
PACTS = "contracts/pacts"


@dataclass(frozen=True)
class Cell:
    """One pact at one consumer ref against the contracts at one provider ref."""

    consumer: str  # the consumer ref, as label() names it
    pact: str
    provider: str  # the provider ref, as label() names it
    findings: tuple[Finding, ...]

    @property
    def verdict(self) -> str:
        return "ok" if not self.findings else f"{len(self.findings)} finding(s)"


def matrix(
    root: Path, consumer_refs: Sequence[str], provider_refs: Sequence[str], scratch: Path
) -> list[Cell]:
    """Every pact of every consumer ref against every provider ref (refs once each, in order)."""
    providers = []
    for ref in dict.fromkeys(provider_refs):
        contracts = folder_at(root, ref, CONTRACTS, scratch)
        providers.append((label(root, ref), contracts, EventContract(contracts / "events")))
    cells = []
    for ref in dict.fromkeys(consumer_refs):
        pacts, consumer = folder_at(root, ref, PACTS, scratch), label(root, ref)
        for path in sorted(pacts.glob("*.json")):
            for provider, contracts, events in providers:
                findings = tuple(check_pact(path, contracts, events))
                cells.append(Cell(consumer, path.name, provider, findings))
    return cells


def _grid(cells: list[Cell]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): a row per consumer ref and pact, a column per provider ref."""
    providers = list(dict.fromkeys(cell.provider for cell in cells))
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for cell in cells:
        rows.setdefault((cell.consumer, cell.pact), {})[cell.provider] = cell.verdict
    header = ["pacts at", "pact", *(f"contracts at {provider}" for provider in providers)]
    body = [[*key, *(verdicts.get(p, "-") for p in providers)] for key, verdicts in rows.items()]
    return header, body


def text(cells: list[Cell]) -> list[str]:
    """The verdict table in aligned columns, then each finding of each failing cell."""
    header, body = _grid(cells)
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *body]
    ]
    for cell in cells:
        lines.extend(
            f"FAILED pacts at {cell.consumer} against contracts at {cell.provider}: {finding}"
            for finding in cell.findings
        )
    return lines


def markdown(cells: list[Cell]) -> str:
    """The verdict table and the failing cells' findings, for a CI job's summary."""
    header, body = _grid(cells)
    failed = [cell for cell in cells if cell.findings]
    lines = [
        "## can-i-deploy: pacts against contracts",
        "",
        f"{len(cells)} cells, {len(failed)} failed.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(_md(value) for value in row) + " |" for row in body),
    ]
    if failed:
        lines += ["", "### Findings", ""]
        for cell in failed:
            lines.append(
                f"- `{cell.pact}` at {_md(cell.consumer)} against contracts at "
                f"{_md(cell.provider)}:"
            )
            lines.extend(f"  - {_md(str(finding))}" for finding in cell.findings)
    return "\n".join(lines) + "\n"


def _md(value: str) -> str:
    return value.replace("|", "\\|")


def junit(cells: list[Cell], path: Path) -> None:
    """A testsuite per consumer ref, a testcase per pact and provider ref, a failure per cell."""
    root = ET.Element(
        "testsuites",
        name="can-i-deploy",
        tests=str(len(cells)),
        failures=str(sum(1 for cell in cells if cell.findings)),
    )
    for consumer in dict.fromkeys(cell.consumer for cell in cells):
        members = [cell for cell in cells if cell.consumer == consumer]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"pacts at {consumer}",
            tests=str(len(members)),
            failures=str(sum(1 for cell in members if cell.findings)),
            errors="0",
            skipped="0",
        )
        for cell in members:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"pacts at {consumer}",
                name=f"{cell.pact} against contracts at {cell.provider}",
                time="0",
            )
            if cell.findings:
                failure = ET.SubElement(
                    case,
                    "failure",
                    type="bi-directional",
                    message=f"{len(cell.findings)} interaction expectation(s) not promised",
                )
                failure.text = "\n".join(str(finding) for finding in cell.findings)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
