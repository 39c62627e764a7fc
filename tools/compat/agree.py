"""Contracts that agree with each other: where one contract's value flows into another's, the
upstream admits nothing the downstream refuses (`python -m tools.compat.agree`, run by
`make contracts`).

The flows are the table in tools/compat/flows.py; what "admits nothing refused" means is
tools/compat/carry.py; the door's rules (tools/compat/door.py) add what no single field
carries, the amount charged. Each finding reads
`upstream document | pointer -> downstream document | operation | pointer: reason (rule)`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tools.compat.__main__ import ROOT, working_tree
from tools.compat.carry import CHECKS, Refusal, flow_refusals
from tools.compat.door import door_findings
from tools.compat.flows import FLOWS, Flow
from tools.compat.locate import Contracts
from tools.compat.schema import Finding

UNRESOLVED = "flow-unresolvable"


def rule_of(check: str) -> str:
    """The rule name a check's finding carries outside the door."""
    return f"{check}-not-carried"


AGREE_RULES: dict[str, str] = {
    **{rule_of(check): meaning for check, meaning in CHECKS.items()},
    UNRESOLVED: "a flow of the table names a value its contract does not have",
}


def downstream_of(flow: Flow) -> str:
    down = flow.downstream
    return f"{down.document} | {down.operation} | {down.pointer}"


def as_finding(flow: Flow, refusal: Refusal, rule: str) -> Finding:
    return Finding(
        refusal.loc.document,
        refusal.loc.pointer,
        rule,
        f"{refusal.reason} ({flow.upstream.label()} -> {flow.downstream.label()}, via {flow.via})",
        subject=downstream_of(flow),
    )


def flow_findings(contracts: Mapping[str, Any], flows: Iterable[Flow] = FLOWS) -> list[Finding]:
    """Every value a flow (outside the door's) lets through that its downstream refuses."""
    resolved = Contracts(contracts)
    findings: list[Finding] = []
    for flow in flows:
        if flow.door_rule:
            continue
        try:
            refusals = flow_refusals(resolved, flow)
        except LookupError as exc:
            up = flow.upstream
            findings.append(
                Finding(up.document, up.pointer, UNRESOLVED, str(exc), downstream_of(flow))
            )
            continue
        findings += [as_finding(flow, r, rule_of(r.check)) for r in refusals]
    return findings


def agree_findings(contracts: Mapping[str, Any]) -> list[Finding]:
    """The door's findings and every flow's."""
    return door_findings(contracts) + flow_findings(contracts)


def line(finding: Finding) -> str:
    downstream = finding.subject or "placeOrder (the door)"
    return (
        f"{finding.document} | {finding.pointer or '/'} -> {downstream}: "
        f"{finding.message} ({finding.rule})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.compat.agree", description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository")
    args = parser.parse_args(argv)
    findings = agree_findings(working_tree(args.root))
    for finding in findings:
        print(f"AGREE {line(finding)}")
    print(
        f"agree: {len(FLOWS)} flows and the door's rules; {len(findings)} value(s) an upstream"
        " contract admits that the downstream refuses"
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
