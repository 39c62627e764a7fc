"""Draw a saga definition as a Mermaid flowchart, for the docs, the admin and the demo.

The nodes and edges are graph.py's walk of the engine's own `transition` function, so the
picture cannot drift from what the engine does.
"""

from __future__ import annotations

from .definition import SagaDefinition
from .graph import StateGraph, state_graph


def _declaration(graph: StateGraph, key: str) -> str:
    node = graph.node(key)
    if node.kind == "action":
        return f'    {key}["{node.label}"]'
    if node.kind == "compensation":
        return f'    {key}["{node.label}"]:::compensation'
    return f"    {key}(({node.label})):::{key}"


def saga_to_mermaid(definition: SagaDefinition, *, direction: str = "TD") -> str:
    """The definition as Mermaid `flowchart` source: actions, compensations, terminal states."""
    graph = state_graph(definition)
    lines = [f"flowchart {direction}", "    start((start))"]
    lines += [_declaration(graph, n.key) for n in graph.nodes if n.step is not None]
    lines += [_declaration(graph, n.key) for n in graph.terminals()]
    lines.append("    start --> a0")
    for edge in graph.edges:
        if edge.succeeded:
            arrow = "-->"
        else:
            failing = "fails" if graph.node(edge.source).kind == "action" else "keeps failing"
            arrow = f"-. {failing} .->"
        lines.append(f"    {edge.source} {arrow} {edge.target}")
    lines += [
        "    classDef compensation fill:#fde8e8,stroke:#c0392b",
        "    classDef completed fill:#e3f6e8,stroke:#1e8449",
        "    classDef compensated fill:#fef5e7,stroke:#b9770e",
        "    classDef failed fill:#f2f3f4,stroke:#566573",
        "    classDef needs_attention fill:#f5b7b1,stroke:#922b21,stroke-width:2px",
    ]
    return "\n".join(lines) + "\n"
