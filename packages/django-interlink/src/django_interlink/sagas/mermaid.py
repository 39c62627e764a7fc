"""Draw a saga definition as a Mermaid flowchart, for the docs, the admin and the demo.

The nodes and edges are graph.py's walk of the engine's own `transition` function, so the
picture cannot drift from what the engine does.
"""

from __future__ import annotations

from .definition import SagaDefinition
from .graph import WAIT, StateEdge, StateGraph, state_graph
from .state import Outcome


def _declaration(graph: StateGraph, key: str) -> str:
    node = graph.node(key)
    if node.kind == "action":
        return f'    {key}["{node.label}"]'
    if node.kind == "compensation":
        return f'    {key}["{node.label}"]:::compensation'
    if node.kind == WAIT:
        return f'    {key}{{{{"{node.label}"}}}}:::wait'
    return f"    {key}(({node.label})):::{key}"


def edge_label(graph: StateGraph, edge: StateEdge) -> str:
    """What an edge means, in words: "" for an action or undo that succeeded."""
    if edge.outcome is None:
        return "when due"
    if edge.outcome is Outcome.WAITS:
        return "waits"
    if edge.outcome is Outcome.FAILED:
        return "fails" if graph.node(edge.source).kind == "action" else "fails for good"
    return ""


def saga_to_mermaid(definition: SagaDefinition, *, direction: str = "TD") -> str:
    """The definition as Mermaid `flowchart` source: actions, compensations, terminal states."""
    graph = state_graph(definition)
    lines = [f"flowchart {direction}", "    start((start))"]
    lines += [_declaration(graph, n.key) for n in graph.nodes if n.step is not None]
    lines += [_declaration(graph, n.key) for n in graph.nodes if n.kind == WAIT]
    lines += [_declaration(graph, n.key) for n in graph.terminals()]
    lines.append("    start --> a0")
    for edge in graph.edges:
        label = edge_label(graph, edge)
        arrow = f"-. {label} .->" if label else "-->"
        lines.append(f"    {edge.source} {arrow} {edge.target}")
    lines += [
        "    classDef compensation fill:#fde8e8,stroke:#c0392b",
        "    classDef wait fill:#eef0fb,stroke:#5b61b9",
        "    classDef completed fill:#e3f6e8,stroke:#1e8449",
        "    classDef compensated fill:#fef5e7,stroke:#b9770e",
        "    classDef failed fill:#f2f3f4,stroke:#566573",
        "    classDef needs_attention fill:#f5b7b1,stroke:#922b21,stroke-width:2px",
    ]
    return "\n".join(lines) + "\n"
