"""A saga definition's state diagram as SVG, laid out from the graph `transition()` walks.

Every node and every arrow comes from `django_interlink.sagas.graph.state_graph`, which asks the
engine's `transition()` for every outcome of every reachable state; only positions are chosen
here. Actions run down the left column, their undos sit beside them and run back up, and the
ends are placed next to the nodes that lead to them:

    start        FAILED
    a0           COMPENSATED
    a1           c1              NEEDS_ATTENTION
    ...          ...
    COMPLETED
"""

from __future__ import annotations

from collections.abc import Callable

from django_interlink.models.sagas import SagaStatus
from django_interlink.sagas.definition import SagaDefinition
from django_interlink.sagas.graph import WAIT, StateGraph, StateNode, state_graph
from django_interlink.sagas.mermaid import edge_label

from .svg import Drawing, Style

# Room between two columns (for a "fails" label), and the narrowest step box.
GAP = 90.0
STEP_WIDTH = 190.0
ROW = 66.0
MARGIN = 30.0
TOP = 40.0

ACTION = Style(fill="#eaf2fb", stroke="#2e6da4", bold_first=False)
UNDO = Style(fill="#fde8e8", stroke="#c0392b", bold_first=False)
WAITING = Style(fill="#eef0fb", stroke="#5b61b9", bold_first=False)
ENDS = {
    SagaStatus.COMPLETED: Style(fill="#e3f6e8", stroke="#1e8449", rounded=99),
    SagaStatus.FAILED: Style(fill="#f2f3f4", stroke="#566573", rounded=99),
    SagaStatus.COMPENSATED: Style(fill="#fef5e7", stroke="#b9770e", rounded=99),
    SagaStatus.NEEDS_ATTENTION: Style(fill="#f5b7b1", stroke="#922b21", rounded=99),
}


def _positions(graph: StateGraph) -> dict[str, tuple[int, float]]:
    """(column, row) of every node: actions in column 0, undos in 1, the wait and
    NEEDS_ATTENTION in 2 (NEEDS_ATTENTION above the undos, the wait below them, so the lines
    to each fan out without crossing the other)."""
    n = len(graph.definition)
    place: dict[str, tuple[int, float]] = {"start": (0, 0)}
    for node in graph.nodes:
        if node.step is not None:
            place[node.key] = (0 if node.kind == "action" else 1, node.step + 1)
    sources: dict[str, list[float]] = {}
    for edge in graph.edges:
        if edge.source != WAIT:
            sources.setdefault(edge.target, []).append(place[edge.source][1])
    ends = {n.kind: n for n in graph.terminals()}
    if SagaStatus.COMPLETED in ends:
        place[SagaStatus.COMPLETED] = (0, n + 1)
    if SagaStatus.COMPENSATED in ends:
        place[SagaStatus.COMPENSATED] = (1, min(sources[SagaStatus.COMPENSATED]) - 1)
    if WAIT in sources:
        place[WAIT] = (2, max(sources[WAIT]) + 1.6)
    if SagaStatus.NEEDS_ATTENTION in ends:
        place[SagaStatus.NEEDS_ATTENTION] = (2, min(sources[SagaStatus.NEEDS_ATTENTION]) - 1)
    if SagaStatus.FAILED in ends:
        # Above the undos when that cell is free (the steps before the first undo lead here),
        # else in a column of its own on the left.
        cell = (1, min(sources[SagaStatus.FAILED]) - 1)
        place[SagaStatus.FAILED] = cell if cell not in place.values() else (-1, cell[1])
    return place


UNDOS = "undos"  # the frame around the undos: where a pass of them ends, and starts again


def arrows(graph: StateGraph) -> dict[tuple[str, str], list[str]]:
    """The arrows drawn for the graph's edges, each with every outcome's label.

    An arrow per (source, target), except that the ends of a pass of undos leave from the
    frame around them (any undo can end a pass: the last one, or the first of a second pass)
    and the wait leads back to the frame (the newest undo left is tried again)."""
    drawn: dict[tuple[str, str], list[str]] = {}
    for edge in graph.edges:
        source, target = edge.source, edge.target
        undo_source = graph.node(source).kind == "compensation"
        if undo_source and graph.node(target).kind != "compensation":
            source = UNDOS
        if source == WAIT:
            target = UNDOS
        labels = drawn.setdefault((source, target), [])
        label = edge_label(graph, edge)
        if label not in labels:
            labels.append(label)
    return drawn


def _route(
    graph: StateGraph,
    source: str,
    target: str,
    xy: Callable[[str], tuple[float, float]],
    widths: dict[str, float],
) -> tuple[tuple[float, float], ...]:
    """An undo that skips the next one (done already) goes round the undos' left side; the
    wait's way back to the undos bends away from the undos' way to the wait."""
    if source == WAIT:
        (sx, sy), (tx, ty) = xy(source), xy(target)
        mx, my = (sx + tx) / 2, (sy + ty) / 2
        length = max(((tx - sx) ** 2 + (ty - sy) ** 2) ** 0.5, 1.0)
        return ((mx + (ty - sy) / length * 22, my - (tx - sx) / length * 22),)
    if source == UNDOS or target == UNDOS:
        return ()
    a, b = graph.node(source), graph.node(target)
    if a.kind == b.kind == "compensation" and abs((a.step or 0) - (b.step or 0)) > 1:
        (sx, sy), (_, ty) = xy(source), xy(target)
        left = sx - widths[source] / 2 - 16
        return ((left, sy), (left, ty))
    return ()


def _lines(node: StateNode) -> list[str]:
    if node.kind == WAIT:
        return [node.label, "until its time comes"]
    if node.step is None:
        return [node.label]
    step = f"step {node.step + 1}"
    return [node.label, step if node.kind == "action" else f"{step}, compensation"]


def saga_svg(definition: SagaDefinition) -> str:
    """The state diagram of `definition`, as SVG text (the same text for the same definition)."""
    graph = state_graph(definition)
    place = _positions(graph)
    probe = Drawing("probe", "", 0, 0)
    widths: dict[str, float] = {"start": 18.0}
    for node in graph.nodes:
        minimum = STEP_WIDTH if node.step is not None else 0.0
        bold = node.step is None and node.kind != WAIT  # the ends' labels are bold
        widths[node.key] = probe.box_size(_lines(node), min_width=minimum, bold_first=bold)[0]
    columns = sorted({c for c, _ in place.values()})
    column_width = {
        c: max(widths[k] for k, (kc, _) in place.items() if kc == c) + GAP for c in columns
    }
    centre: dict[int, float] = {}
    x = MARGIN
    for c in columns:
        centre[c] = x + column_width[c] / 2
        x += column_width[c]
    width = max(x + MARGIN - GAP / 2, 720.0)
    max_row = max(r for _, r in place.values())
    height = TOP + (max_row + 1) * ROW + 70

    def xy(key: str) -> tuple[float, float]:
        col, row = place[key]
        return centre[col], TOP + row * ROW

    drawing = Drawing(
        f"saga-{definition.saga_type}",
        f"State diagram of the {definition.saga_type} saga, from transition()",
        width,
        height,
    )
    drawing.circle("start", *xy("start"))
    undo_keys = [n.key for n in graph.nodes if n.kind == "compensation"]
    frames: dict[str, tuple[float, float]] = {}
    if undo_keys:  # drawn first: behind the undos
        top = min(xy(k)[1] for k in undo_keys) - 21 - 20
        bottom = max(xy(k)[1] for k in undo_keys) + 21 + 8
        left = centre[1] - max(widths[k] for k in undo_keys) / 2 - 28
        right = centre[1] + max(widths[k] for k in undo_keys) / 2 + 12
        frame = drawing.cluster(UNDOS, left, top, right - left, bottom - top, "undos, newest first")
        frames[UNDOS] = (frame.cx, frame.cy)

    def at(key: str) -> tuple[float, float]:
        """Where an arrow aims: a node's centre, or the undos' frame's."""
        return frames[key] if key in frames else xy(key)

    for node in graph.nodes:
        if node.kind == WAIT:
            style = WAITING
        elif node.step is None:
            style = ENDS[SagaStatus(node.kind)]
        else:
            style = ACTION if node.kind == "action" else UNDO
        minimum = STEP_WIDTH if node.step is not None else 0.0
        drawing.box(node.key, *xy(node.key), _lines(node), style=style, min_width=minimum)
    drawing.arrow("start", graph.nodes[0].key)
    for (source, target), labels in arrows(graph).items():
        if labels == [""]:
            drawing.arrow(source, target)
            continue
        text = " · ".join(label or "ok" for label in labels)
        via = _route(graph, source, target, at, widths)
        # A skip's outcomes are those of the arrows beside it: no second label over the undos.
        label = None if len(via) == 2 else text
        drawing.arrow(source, target, dashed=True, label=label, via=via, label_at=0.45)
    legend_y = TOP + (max_row + 1) * ROW
    drawing.legend_line(MARGIN, legend_y, "succeeded (the action, or the undo)")
    drawing.legend_line(
        MARGIN + 300,
        legend_y,
        "failed (rejected, retries spent), waits, or the wait is over",
        dashed=True,
    )
    drawing.note(
        MARGIN,
        legend_y + 28,
        f"{len(graph.nodes)} states and {len(graph.edges)} transitions, each asked of"
        " transition(); an arrow stands for every outcome it is labelled with.",
    )
    return drawing.render(source=f"the {definition.saga_type} saga's transition()")
