"""The gate's findings for people (one line each) and for CI (JUnit XML: a test per subject)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from tools.compat.documents import Result
from tools.compat.rules import RULES
from tools.compat.schema import Finding
from tools.pacts.check import Finding as Break

# The consumer interactions each finding breaks (consumers mode), as tools.compat.consumers finds.
Charged = Mapping[Finding, list[Break]]


def _line(result: Result, finding: Finding) -> str:
    where = (
        finding.document
        if finding.document == result.document
        else (f"{result.document} (change in {finding.document})")
    )
    return (
        f"{where} | {result.subject} | {finding.pointer or '/'} | "
        f"{finding.rule} | {finding.message}"
    )


def lines(results: list[Result]) -> list[str]:
    """One line per breaking change: document, operation or event, pointer, rule, what."""
    return [f"BREAKING {_line(result, f)}" for result in results for f in result.findings]


def consumer_lines(results: list[Result], charged: Charged) -> list[str]:
    """Consumers mode: each breaking change with the interactions it breaks, or none known."""
    found = []
    for result in results:
        for finding in result.findings:
            if charged[finding]:
                found.append(f"BREAKING {_line(result, finding)}")
                found.extend(f"    breaks {interaction}" for interaction in charged[finding])
            else:
                found.append(f"NO KNOWN CONSUMER {_line(result, finding)}")
    return found


def summary(results: list[Result]) -> str:
    broken = sum(1 for result in results if result.findings)
    total = sum(len(result.findings) for result in results)
    return (
        f"{len(results)} operations and event types compared: "
        f"{total} breaking change(s) in {broken} of them"
    )


def consumer_summary(results: list[Result], charged: Charged) -> str:
    findings = [finding for result in results for finding in result.findings]
    breaking = sum(1 for finding in findings if charged[finding])
    return (
        f"{len(results)} operations and event types compared: {len(findings)} breaking "
        f"change(s), {breaking} breaking a known consumer interaction, "
        f"{len(findings) - breaking} breaking no known consumer"
    )


def junit(results: list[Result], path: Path, *, base: str, charged: Charged | None = None) -> None:
    """A testsuite per document, a testcase per operation or event type, a failure per rule hit.

    With `charged` (consumers mode) a rule hit fails only when it breaks a known consumer
    interaction, and its text names them; the others are listed in the testcase's output."""

    def failing(finding: Finding) -> bool:
        return charged is None or bool(charged[finding])

    def failed(members: list[Result]) -> str:
        return str(sum(1 for r in members if any(failing(f) for f in r.findings)))

    suites: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        suites[result.document].append(result)
    root = ET.Element(
        "testsuites",
        name=f"contracts-compat against {base}",
        tests=str(len(results)),
        failures=failed(results),
    )
    for document, members in suites.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=document,
            tests=str(len(members)),
            failures=failed(members),
            errors="0",
            skipped="0",
        )
        for result in members:
            case = ET.SubElement(
                suite, "testcase", classname=document, name=result.subject, time="0"
            )
            unknown = []
            for finding in result.findings:
                what = f"{finding.rule} at {finding.document}#{finding.pointer}"
                if not failing(finding):
                    unknown.append(f"breaks no known consumer: {what}: {finding.message}")
                    continue
                failure = ET.SubElement(case, "failure", type=finding.rule, message=what)
                failure.text = f"{finding.message}\n(rule: {RULES[finding.rule]})"
                if charged is not None:
                    failure.text += "".join(f"\nbreaks {i}" for i in charged[finding])
            if unknown:
                ET.SubElement(case, "system-out").text = "\n".join(unknown)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
