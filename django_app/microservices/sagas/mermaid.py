"""Draw a saga definition as a Mermaid flowchart, for the docs, the admin and the demo.

The edges come from the engine's own `transition` function, so the picture cannot drift
from what the engine does.
"""

from __future__ import annotations

from ..models.sagas import SagaStatus
from .definition import SagaDefinition
from .state import SagaState, transition

_TERMINAL_LABELS = {
    SagaStatus.COMPLETED: "COMPLETED",
    SagaStatus.FAILED: "FAILED",
    SagaStatus.COMPENSATED: "COMPENSATED",
    SagaStatus.NEEDS_ATTENTION: "NEEDS_ATTENTION",
}


def _node(state: SagaState) -> str:
    if state.status in _TERMINAL_LABELS:
        return str(state.status)
    return f"c{state.step}" if state.compensating else f"a{state.step}"


def saga_to_mermaid(definition: SagaDefinition, *, direction: str = "TD") -> str:
    """The definition as Mermaid `flowchart` source: actions, compensations, terminal states."""
    lines = [f"flowchart {direction}", "    start((start))"]
    used_terminals: set[str] = set()
    edges: list[str] = []
    for i, step in enumerate(definition.steps):
        lines.append(f'    a{i}["{step.name}"]')
        if step.compensation is not None:
            lines.append(f'    c{i}["undo {step.name}"]:::compensation')
    edges.append("    start --> a0")

    def edges_from(state: SagaState, failure_label: str) -> None:
        for ok, arrow in ((True, "-->"), (False, f"-. {failure_label} .->")):
            nxt = transition(definition, state, ok)
            if nxt.status in _TERMINAL_LABELS:
                used_terminals.add(nxt.status)
            edges.append(f"    {_node(state)} {arrow} {_node(nxt)}")

    for i, step in enumerate(definition.steps):
        edges_from(SagaState(i, False, SagaStatus.RUNNING), "fails")
        if step.compensation is not None:
            edges_from(SagaState(i, True, SagaStatus.COMPENSATING), "keeps failing")
    for status, label in _TERMINAL_LABELS.items():
        if status in used_terminals:
            lines.append(f"    {status}(({label})):::{status}")
    lines.extend(edges)
    lines += [
        "    classDef compensation fill:#fde8e8,stroke:#c0392b",
        "    classDef completed fill:#e3f6e8,stroke:#1e8449",
        "    classDef compensated fill:#fef5e7,stroke:#b9770e",
        "    classDef failed fill:#f2f3f4,stroke:#566573",
        "    classDef needs_attention fill:#f5b7b1,stroke:#922b21,stroke-width:2px",
    ]
    return "\n".join(lines) + "\n"
