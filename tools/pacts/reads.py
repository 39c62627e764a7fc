"""What the choreography's participants read from each event, and who publishes each event,
found in their code (shop/choreography/) rather than written down a second time.

A read is `envelope.data["field"]` in a handler, its `prepare` step or a function of the
choreography either calls (followed by name, transitively). A publication is
`_publish(envelope, "<participant>", "<event type>", ...)`; `checkout.requested` is the one the
shop itself enqueues when a checkout starts (shop/choreography/services.py).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

from shop.choreography import participants as participants_module
from shop.choreography.participants import registry

CODE = Path(participants_module.__file__).parent
MODULES = ("participants.py", "calls.py")
STARTER = "shop"  # the publisher of checkout.requested: the shop, when a checkout starts
STARTED = "checkout.requested"


@dataclass(frozen=True)
class _Function:
    reads: frozenset[str]
    calls: frozenset[str]


def _is_envelope_data(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "data"
        and isinstance(node.value, ast.Name)
        and node.value.id == "envelope"
    )


def _scan(tree: ast.Module) -> dict[str, _Function]:
    found: dict[str, _Function] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        reads: set[str] = set()
        calls: set[str] = set()
        for inner in ast.walk(node):
            if (
                isinstance(inner, ast.Subscript)
                and _is_envelope_data(inner.value)
                and isinstance(inner.slice, ast.Constant)
            ):
                reads.add(str(inner.slice.value))
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name):
                calls.add(inner.func.id)
        found[node.name] = _Function(frozenset(reads), frozenset(calls))
    return found


@functools.cache
def _functions() -> dict[str, _Function]:
    found: dict[str, _Function] = {}
    for name in MODULES:
        found.update(_scan(ast.parse((CODE / name).read_text(encoding="utf-8"))))
    return found


def fields_read(function: str) -> frozenset[str]:
    """The event fields `function` reads, itself or through the choreography's functions it
    calls."""
    functions, todo = _functions(), [function]
    seen: set[str] = set()
    reads: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        reads |= functions[name].reads
        todo.extend(functions[name].calls)
    return frozenset(reads)


def participant_of(handler_name: str) -> str:
    """checkout.inventory.reserve -> inventory."""
    return handler_name.split(".")[1]


def reads() -> dict[str, dict[str, frozenset[str]]]:
    """event type -> participant -> the fields its handler (and prepare step) reads."""
    found: dict[str, dict[str, frozenset[str]]] = {}
    for event_type in registry.event_types:
        for handler in registry.handlers_for(event_type):
            steps = [handler.func] + ([handler.prepare] if handler.prepare else [])
            fields = frozenset().union(*(fields_read(step.__name__) for step in steps))
            found.setdefault(event_type, {})[participant_of(handler.name)] = fields
    return found


def publishers() -> dict[str, str]:
    """event type -> the participant that publishes it (STARTER for checkout.requested)."""
    found = {STARTED: STARTER}
    tree = ast.parse((CODE / "participants.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_publish"
            and len(node.args) >= 3
        ):
            who, what = node.args[1], node.args[2]
            if isinstance(who, ast.Constant) and isinstance(what, ast.Constant):
                found[str(what.value)] = str(who.value)
    return found
