"""Which known consumer interactions each breaking change breaks (`--mode consumers`).

The pacts are checked against the NEW contracts with the bi-directional check
(tools/pacts/check.py). A failing interaction is charged to the breaking changes of the
operation or event type it uses: to the change whose pointer names the failing field where one
does, else to every change of that operation or event type. An example can pass the check while
its consumer still breaks (a field it reads made optional or widened, a unit renamed): such a
change is charged to every interaction that carries the field it names, or, when its pointer
names no field, to every interaction of the operation or event type. A changed request default
reaches consumers that omit the value, which no example shows: it is charged to every
interaction of the operation. A change of a contract that no pact uses at all (a document, an
event type, a channel) fails as in strict mode: its consumers are unknown, not absent.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.compat.documents import ASYNCAPI, EVENT_SCHEMAS, Result
from tools.compat.schema import Finding
from tools.pacts.check import HTTP, MESSAGE, check_all, content_of
from tools.pacts.check import Finding as Break

# Changes an example survives although the consumer that carries the field may not.
READ_RULES = frozenset(
    {
        "field-made-optional",
        "type-widened",
        "enum-widened",
        "range-widened",
        "format-changed",
        "pattern-changed",
        "const-changed",
        "unit-changed",
    }
)
# Changes no example can show: they reach consumers that leave the value out.
UNSEEN_RULES = frozenset({"default-changed"})
# What a change of a contract no pact uses is charged to: its consumers are unknown, not absent.
UNKNOWN = "(consumers unknown)"
UNKNOWN_REASON = "no pact uses this contract, so the change fails as in strict mode"
# The check's fields an AsyncAPI change can fail: the routing key, and a message refused as a
# whole (no message of its type any more). The routing key is no schema's concern.
ROUTING_KEY = "metadata.routingKey"
CHANNEL_FIELDS = frozenset({ROUTING_KEY, "<body>"})


@dataclass(frozen=True)
class Use:
    """One pact interaction and the contract it uses."""

    pact: str
    interaction: str
    document: str  # contracts/<provider>.yaml, or the event type's schema file
    method: str  # the HTTP method in lower case; "" for a message
    target: str  # the request path, or the event type for a message
    names: frozenset[str]  # every field and header name it sends or expects, in lower case


def uses(pacts_dir: Path) -> list[Use]:
    """Every interaction of every pact in `pacts_dir`."""
    found = []
    for path in sorted(pacts_dir.glob("*.json")):
        pact = json.loads(path.read_text(encoding="utf-8"))
        provider = pact["provider"]["name"]
        for interaction in pact.get("interactions", []):
            what = interaction["description"]
            if interaction.get("type") == HTTP:
                request, response = interaction["request"], interaction["response"]
                names = _names(
                    [content_of(request), content_of(response), request.get("query") or {}],
                    [request.get("headers") or {}, response.get("headers") or {}],
                )
                method, document = request["method"].lower(), f"contracts/{provider}.yaml"
                use = Use(path.name, what, document, method, request["path"], names)
            elif interaction.get("type") == MESSAGE:
                payload = content_of(interaction)
                payload = payload if isinstance(payload, dict) else {}
                event_type, version = payload.get("event_type"), payload.get("version")
                document = f"{EVENT_SCHEMAS}/{event_type}.v{version}.json"
                use = Use(path.name, what, document, "", str(event_type), _names([payload], []))
            else:
                continue
            found.append(use)
    return found


def _names(bodies: list[Any], headers: list[Mapping[str, Any]]) -> frozenset[str]:
    def keys(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield str(key).lower()
                yield from keys(item)
        elif isinstance(value, list):
            for item in value:
                yield from keys(item)

    return frozenset(
        [name for body in bodies for name in keys(body)]
        + [str(name).lower() for group in headers for name in group]
    )


def breaks(
    results: list[Result], old_tree: Mapping[str, Any], pacts_dir: Path, contracts_dir: Path
) -> dict[Finding, list[Break]]:
    """Each breaking finding of `results` -> the pact interactions it breaks ([] for none).

    `old_tree` is the BASE contracts the results were compared from (for channel addresses);
    `contracts_dir` holds the NEW contracts the pacts in `pacts_dir` are checked against."""
    failures: dict[tuple[str, str], list[Break]] = defaultdict(list)
    for failure in check_all(pacts_dir, contracts_dir)[2]:
        failures[(failure.pact, failure.interaction)].append(failure)
    known = uses(pacts_dir)
    operations = {use: _operation(use, results) for use in known}
    addresses = _channel_addresses(old_tree)
    charged: dict[Finding, list[Break]] = {}
    for result in results:
        claimed = {name for finding in result.findings if (name := field_name(finding.pointer))}
        for finding in result.findings:
            if not _consumers_known(result, finding, known, addresses):
                charged[finding] = [Break(UNKNOWN, result.document, "-", UNKNOWN_REASON)]
                continue
            found: list[Break] = []
            for use in known:
                if not _uses(use, operations[use], result, finding, addresses):
                    continue
                failing = failures[(use.pact, use.interaction)]
                concerned = [failure for failure in failing if _concerns(result, failure)]
                found += _charge(use, finding, concerned, claimed)
            charged[finding] = found
    return charged


def _channel(finding: Finding) -> str:
    """The channel key an AsyncAPI finding's pointer (/channels/<key>/...) names."""
    parts = finding.pointer.split("/")
    return parts[2].replace("~1", "/").replace("~0", "~") if len(parts) > 2 else ""


def _consumers_known(
    result: Result, finding: Finding, known: list[Use], addresses: Mapping[str, str]
) -> bool:
    """Whether some pact uses what `finding` changed: the contract document of `result`, or,
    in the AsyncAPI document, the finding's channel."""
    if result.document == ASYNCAPI:
        return addresses.get(_channel(finding)) in {use.target for use in known if not use.method}
    return any(use.document == result.document for use in known)


def _concerns(result: Result, failure: Break) -> bool:
    if result.document == ASYNCAPI:
        return failure.field in CHANNEL_FIELDS
    return failure.field != ROUTING_KEY


def _charge(use: Use, finding: Finding, failures: list[Break], claimed: set[str]) -> list[Break]:
    """What of one related interaction `finding` breaks."""
    name = field_name(finding.pointer)
    found = [
        failure
        for failure in failures
        if (failing := _failing_name(failure.field)) == name or failing not in claimed
    ]
    if found:
        return found
    if finding.rule in READ_RULES and (name is None or name in use.names):
        field = name or "/"
        reason = f"carries {field}: {finding.rule} lets the provider send what it may not handle"
        return [Break(use.pact, use.interaction, field, reason)]
    if finding.rule in UNSEEN_RULES:
        reason = f"{finding.rule}: a consumer that leaves the value out gets another"
        return [Break(use.pact, use.interaction, name or "/", reason)]
    return []


def field_name(pointer: str) -> str | None:
    """The last property or header a JSON pointer names, in lower case (None if it names none)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for index in range(len(parts) - 1, 0, -1):
        if parts[index - 1] in ("properties", "headers") and parts[index] not in (
            "properties",
            "headers",
        ):
            return parts[index].lower()
    return None


def _failing_name(field: str) -> str:
    """The last name in a check's field: `items[0].sku` -> sku, `header X-Id` -> x-id."""
    last = field.removeprefix("header ").rsplit(".", 1)[-1]
    return re.sub(r"\[\d+\]$", "", last).lower()


def _channel_addresses(old_tree: Mapping[str, Any]) -> dict[str, str]:
    channels = (old_tree.get(ASYNCAPI) or {}).get("channels") or {}
    return {key: str(channel.get("address", key)) for key, channel in channels.items()}


def _uses(
    use: Use,
    operation: tuple[str, str] | None,
    result: Result,
    finding: Finding,
    addresses: Mapping[str, str],
) -> bool:
    """Whether `use` (which calls `operation`) relies on what `finding` of `result` changed."""
    if result.document == ASYNCAPI:
        return use.method == "" and addresses.get(_channel(finding)) == use.target
    if use.document != result.document:
        return False
    if use.method == "":
        return True
    return operation is not None and result.operation == operation


def _operation(use: Use, results: list[Result]) -> tuple[str, str] | None:
    """The BASE operation an HTTP interaction calls: its method, the most literal template."""
    matching = [
        result.operation
        for result in results
        if result.document == use.document
        and result.operation is not None
        and result.operation[0] == use.method
        and re.fullmatch(
            "/".join(
                "[^/]+" if part == "{}" else re.escape(part)
                for part in result.operation[1].split("/")
            ),
            use.target,
        )
    ]
    return min(matching, key=lambda key: key[1].count("{}"), default=None)
