"""A saga definition's state graph, found by walking `transition` from the start.

Every state the engine can reach is a node, and every (state, outcome) pair an edge to what
`transition` answers, so a drawing made from this graph (mermaid.py, the docs' SVG) shows the
engine's own rules and nothing else: an unreachable node is never drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models.sagas import SagaStatus
from .definition import SagaDefinition
from .state import SagaState, transition

__all__ = ["TERMINAL_STATUSES", "StateEdge", "StateGraph", "StateNode", "state_graph"]

# In the order a drawing lists them.
TERMINAL_STATUSES = (
    SagaStatus.COMPLETED,
    SagaStatus.FAILED,
    SagaStatus.COMPENSATED,
    SagaStatus.NEEDS_ATTENTION,
)


@dataclass(frozen=True)
class StateNode:
    """One place the saga can be: a step going forward (`a<i>`), undoing (`c<i>`), or an end."""

    key: str
    label: str
    # "action", "compensation", or the terminal status ("completed", ...).
    kind: str
    step: int | None


@dataclass(frozen=True)
class StateEdge:
    source: str
    target: str
    succeeded: bool


@dataclass(frozen=True)
class StateGraph:
    definition: SagaDefinition
    nodes: tuple[StateNode, ...]
    edges: tuple[StateEdge, ...]

    def node(self, key: str) -> StateNode:
        for node in self.nodes:
            if node.key == key:
                return node
        raise KeyError(key)

    def terminals(self) -> list[StateNode]:
        return [n for n in self.nodes if n.step is None]


def node_key(state: SagaState) -> str:
    """The node of a state: its terminal status, else `a<step>` or `c<step>`."""
    if state.status in TERMINAL_STATUSES:
        return str(state.status)
    return f"c{state.step}" if state.compensating else f"a{state.step}"


def _node(definition: SagaDefinition, state: SagaState) -> StateNode:
    key = node_key(state)
    if state.status in TERMINAL_STATUSES:
        return StateNode(key, str(state.status).upper(), str(state.status), None)
    name = definition.steps[state.step].name
    if state.compensating:
        return StateNode(key, f"undo {name}", "compensation", state.step)
    return StateNode(key, name, "action", state.step)


def _order(node: StateNode) -> tuple[int, int, int]:
    """Steps in order, each action before its undo, then the ends in TERMINAL_STATUSES order."""
    if node.step is None:
        return (1, [str(s) for s in TERMINAL_STATUSES].index(node.kind), 0)
    return (0, node.step, node.kind == "compensation")


def state_graph(definition: SagaDefinition) -> StateGraph:
    """Every state reachable from the first step, and both outcomes' edges out of each."""
    start = SagaState(0, False, SagaStatus.RUNNING)
    nodes = {node_key(start): _node(definition, start)}
    edges: list[StateEdge] = []
    todo = [start]
    while todo:
        state = todo.pop()
        for succeeded in (True, False):
            nxt = transition(definition, state, succeeded)
            key = node_key(nxt)
            edges.append(StateEdge(node_key(state), key, succeeded))
            if key not in nodes:
                nodes[key] = _node(definition, nxt)
                if nxt.status not in TERMINAL_STATUSES:
                    todo.append(nxt)
    ordered = sorted(nodes.values(), key=_order)
    rank = {node.key: i for i, node in enumerate(ordered)}
    edges.sort(key=lambda e: (rank[e.source], not e.succeeded))
    return StateGraph(definition, tuple(ordered), tuple(edges))
