"""The gate's findings for people (one line each) and for CI (JUnit XML: a test per subject)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from tools.compat.documents import Result
from tools.compat.rules import RULES


def lines(results: list[Result]) -> list[str]:
    """One line per breaking change: document, operation or event, pointer, rule, what."""
    found = []
    for result in results:
        for finding in result.findings:
            where = (
                finding.document
                if finding.document == result.document
                else (f"{result.document} (change in {finding.document})")
            )
            found.append(
                f"BREAKING {where} | {result.subject} | {finding.pointer or '/'} | "
                f"{finding.rule} | {finding.message}"
            )
    return found


def summary(results: list[Result]) -> str:
    broken = sum(1 for result in results if result.findings)
    total = sum(len(result.findings) for result in results)
    return (
        f"{len(results)} operations and event types compared: "
        f"{total} breaking change(s) in {broken} of them"
    )


def junit(results: list[Result], path: Path, *, base: str) -> None:
    """A testsuite per document, a testcase per operation or event type, a failure per rule hit."""
    suites: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        suites[result.document].append(result)
    root = ET.Element(
        "testsuites",
        name=f"contracts-compat against {base}",
        tests=str(len(results)),
        failures=str(sum(1 for r in results if r.findings)),
    )
    for document, members in suites.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=document,
            tests=str(len(members)),
            failures=str(sum(1 for r in members if r.findings)),
            errors="0",
            skipped="0",
        )
        for result in members:
            case = ET.SubElement(
                suite, "testcase", classname=document, name=result.subject, time="0"
            )
            for finding in result.findings:
                failure = ET.SubElement(
                    case,
                    "failure",
                    type=finding.rule,
                    message=f"{finding.rule} at {finding.document}#{finding.pointer}",
                )
                failure.text = f"{finding.message}\n(rule: {RULES[finding.rule]})"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
