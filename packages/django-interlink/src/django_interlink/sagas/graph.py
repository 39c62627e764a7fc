"""A saga definition's state graph, found by walking `transition` from the start.

Every state the engine can reach is asked for every outcome, and each answer is an edge, so a
drawing made from this graph (mermaid.py, the docs' SVG) shows the engine's own rules and
nothing else: an unreachable node is never drawn. States that differ only in which undos are
left share a node (`c<i>`: undoing step i); every waiting state is the one node `wait`, whose
edges lead to the undo tried when the wait is over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..models.sagas import TERMINAL_STATUSES, SagaStatus
from .definition import SagaDefinition
from .state import Outcome, SagaState, transition

__all__ = ["TERMINAL_ORDER", "WAIT", "StateEdge", "StateGraph", "StateNode", "state_graph"]

WAIT = "wait"  # the node of every waiting state

# The ends (models.sagas.TERMINAL_STATUSES) in the order a drawing lists them.
TERMINAL_ORDER = (
    SagaStatus.COMPLETED,
    SagaStatus.FAILED,
    SagaStatus.COMPENSATED,
    SagaStatus.NEEDS_ATTENTION,
)


@dataclass(frozen=True)
class StateNode:
    """One place the saga can be: a step going forward (`a<i>`), undoing (`c<i>`), waiting
    (`wait`), or an end."""

    key: str
    label: str
    # "action", "compensation", "wait", or the terminal status ("completed", ...).
    kind: str
    step: int | None


@dataclass(frozen=True)
class StateEdge:
    source: str
    target: str
    # How the source's step ended; None for the edges out of `wait` (the wait is over).
    outcome: Outcome | None


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
        return [n for n in self.nodes if n.step is None and n.kind != WAIT]


def node_key(state: SagaState) -> str:
    """The node of a state: its terminal status, `wait`, else `a<step>` or `c<step>`."""
    if state.status in TERMINAL_STATUSES:
        return str(state.status)
    if state.waiting:
        return WAIT
    return f"c{state.step}" if state.compensating else f"a{state.step}"


def _node(definition: SagaDefinition, state: SagaState) -> StateNode:
    key = node_key(state)
    if state.waiting:
        return StateNode(key, "waits, released", WAIT, None)
    if state.status in TERMINAL_STATUSES:
        return StateNode(key, str(state.status).upper(), str(state.status), None)
    name = definition.steps[state.step].name
    if state.compensating:
        return StateNode(key, f"undo {name}", "compensation", state.step)
    return StateNode(key, name, "action", state.step)


def _order(node: StateNode) -> tuple[int, int, int]:
    """Steps in order, each action before its undo, then the ends in TERMINAL_ORDER."""
    if node.kind == WAIT:
        return (1, -1, 0)
    if node.step is None:
        return (1, [str(s) for s in TERMINAL_ORDER].index(node.kind), 0)
    return (0, node.step, node.kind == "compensation")


def state_graph(definition: SagaDefinition) -> StateGraph:
    """Every state reachable from the first step, and every outcome's edge out of each."""
    start = SagaState(0, False, SagaStatus.RUNNING)
    nodes = {node_key(start): _node(definition, start)}
    edges: set[StateEdge] = set()
    seen = {start}
    todo = [start]
    while todo:
        state = todo.pop()
        outcomes = list(Outcome) if state.compensating else [Outcome.SUCCEEDED, Outcome.FAILED]
        for outcome in outcomes:
            nxt = transition(definition, state, outcome)
            edges.add(StateEdge(node_key(state), node_key(nxt), outcome))
            nodes.setdefault(node_key(nxt), _node(definition, nxt))
            if nxt.waiting:  # when the wait is over, the undo it waited for is tried
                nxt = replace(nxt, waiting=False)
                edges.add(StateEdge(WAIT, node_key(nxt), None))
                nodes.setdefault(node_key(nxt), _node(definition, nxt))
            if nxt.status not in TERMINAL_STATUSES and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    ordered = sorted(nodes.values(), key=_order)
    rank = {node.key: i for i, node in enumerate(ordered)}
    outcome_rank: dict[Outcome | None, int] = {None: -1}
    outcome_rank.update({o: i for i, o in enumerate(Outcome)})
    ordered_edges = sorted(
        edges, key=lambda e: (rank[e.source], outcome_rank[e.outcome], rank[e.target])
    )
    return StateGraph(definition, tuple(ordered), tuple(ordered_edges))
