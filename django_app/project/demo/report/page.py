"""The demo report: one self-contained HTML page (inline CSS and SVG, no script, nothing
fetched) with, per scene, what fails, what the system does and what the picture shows (its
text in docs/scenes/, with a link to its section of the docs), its drawings (the saga's state
diagram, its saga timelines), the sequence diagram of its calls and events and the waterfall of
its trace (both drawn from its spans), the calls as the clients saw them and the checks it
made."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from .about import LABELS, SceneText, docs_anchor, inline_html
from .model import SceneRecording
from .sequence import render_sequence_svg
from .waterfall import render_waterfall_svg

#: The docs page with one section per scene.
SCENES_PAGE = "failures"

CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1280px;padding:1rem 2rem;
color:#1b2631;background:#f8f9f9}
h1{margin-bottom:.2rem}.meta{color:#566573;margin-top:0}
nav ol{columns:2;padding-left:1.4rem}
section.scene{background:#fff;border:1px solid #d5d8dc;border-radius:6px;padding:.6rem 1.2rem;
margin:1.2rem 0}
.badge{display:inline-block;border-radius:4px;padding:0 .5rem;font-size:.85rem;color:#fff}
.pass{background:#2e8b57}.fail{background:#c0392b}
table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0 .8rem}
th,td{border:1px solid #d5d8dc;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,monospace;font-size:.8rem}
pre{background:#f4f6f6;padding:.5rem;overflow-x:auto}
.diagram,.scroll{overflow-x:auto}h3{font-size:1rem;margin:.8rem 0 .3rem}
dl.about{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.4rem 0}
dl.about dt{font-weight:bold;color:#566573}dl.about dd{margin:0}
"""


def _calls_table(recording: SceneRecording) -> str:
    if not recording["calls"]:
        return ""
    rows = []
    for call in recording["calls"]:
        outcome = call["error"] or str(call["status"])
        retries = "; ".join(call["retries"])
        rows.append(
            "<tr>"
            f"<td>{escape(call['service'])}</td><td>{escape(call['operation'])}</td>"
            f"<td><code>{escape(call['method'])} {escape(call['path'])}</code></td>"
            f"<td>{escape(outcome)}</td><td class=num>{call['attempts']}</td>"
            f"<td class=num>{call['duration_ms']:.1f} ms</td>"
            f"<td><code>{escape(call['request_id'])}</code></td><td>{escape(retries)}</td></tr>"
        )
    return (
        "<h3>Calls, as the Django clients saw them</h3><div class=scroll><table class=calls>"
        "<tr><th>service</th><th>operation</th><th>request</th><th>outcome</th><th>attempts</th><th>duration</th>"
        "<th>request id</th><th>retries</th></tr>" + "".join(rows) + "</table></div>"
    )


def _checks_table(recording: SceneRecording) -> str:
    rows = [
        f"<tr class={'pass' if c['passed'] else 'fail'}-row><td>{'✓' if c['passed'] else '✗'}</td>"
        f"<td>{escape(c['name'])}</td><td><code>{escape(c['expected'])}</code></td>"
        f"<td><code>{escape(c['actual'])}</code></td></tr>"
        for c in recording["checks"]
    ]
    if not rows:
        return "<h3>Checks</h3><p>This scene makes no check.</p>"
    return (
        "<h3>Checks</h3><table class=checks><tr><th></th><th>check</th><th>expected</th>"
        "<th>actual</th></tr>" + "".join(rows) + "</table>"
    )


def _about(recording: SceneRecording, text: SceneText | None, docs_base: str) -> str:
    """The scene's three paragraphs and the link to its section of the docs."""
    anchor = docs_anchor(f"{recording['number']}. {recording['title']}")
    link = (
        f'<p class=docs-link>Docs: <a href="{escape(docs_base)}/{SCENES_PAGE}.html#{anchor}">'
        f"Failure scenarios, {recording['number']}</a> (the site <code>make docs</code> "
        "builds)</p>"
    )
    if text is None:
        return link
    rows = "".join(
        f"<dt>{escape(label.rstrip(':'))}</dt><dd>{inline_html(part, docs_base=docs_base)}</dd>"
        for label, part in zip(LABELS, (text.fails, text.does, text.shows), strict=True)
    )
    return f"<dl class=about>{rows}</dl>{link}"


def _scene(recording: SceneRecording, text: SceneText | None, docs_base: str) -> str:
    passed = recording["passed"]
    badge = '<span class="badge pass">passed</span>'
    if not passed:
        badge = '<span class="badge fail">failed</span>'
    parts = [
        f'<section class=scene id="scene-{escape(recording["slug"])}" '
        f'data-passed="{str(passed).lower()}">',
        f"<h2>{recording['number']}. {escape(recording['title'])} {badge}</h2>",
        f"<p>{escape(recording['summary'])}</p>",
        _about(recording, text, docs_base),
        f"<p class=meta>request id <code>{escape(recording['request_id'])}</code> · "
        f"{recording['duration_ms'] / 1000:.2f} s</p>",
    ]
    if recording["error"]:
        parts.append(f"<pre class=error>{escape(recording['error'])}</pre>")
    for figure in recording["figures"]:
        parts.append(
            f'<h3>{escape(figure["title"])}</h3><div class="diagram figure">{figure["svg"]}</div>'
        )
    for saga in recording["sagas"]:
        parts.append(
            f"<h3>Saga <code>{escape(saga['saga_id'])}</code>: {escape(saga['status'])}</h3>"
            f'<div class="diagram timeline">{saga["svg"]}</div>'
        )
    # A scene that only draws (no call, no event) shows its figures alone.
    if recording["interactions"] or not recording["figures"]:
        parts.append(
            "<h3>Sequence of calls and events</h3>"
            f'<div class="diagram sequence">{render_sequence_svg(recording)}</div>'
        )
    if recording.get("trace"):
        parts.append(
            f"<h3>Trace <code>{escape(recording.get('trace_id', ''))}</code>, span by span</h3>"
            '<div class="diagram waterfall">'
            + render_waterfall_svg(
                recording.get("trace", []),
                title=f"trace of scene {recording['number']}: {recording['title']}",
            )
            + "</div>"
        )
    parts.append(_calls_table(recording))
    parts.append(_checks_table(recording))
    if recording.get("lines"):
        parts.append(
            "<details><summary>What the terminal printed</summary><pre>"
            + escape("\n".join(recording.get("lines", [])))
            + "</pre></details>"
        )
    parts.append("</section>")
    return "".join(parts)


def render_report_html(
    recordings: Sequence[SceneRecording],
    *,
    stack: str,
    elapsed_s: float,
    generated_at: str,
    texts: Mapping[str, SceneText] | None = None,
    docs_base: str = "../../build/site",
) -> str:
    """The whole page; every text from a recording is escaped, the timelines and figures are
    SVG their drawers already escaped. `texts` are the scenes' texts by slug; `docs_base` is
    where the built docs site is, relative to the page."""
    texts = texts or {}
    failed = sum(not r["passed"] for r in recordings)
    verdict = "all scenes passed" if not failed else f"{failed} scene(s) failed"
    toc = "".join(
        f'<li><a href="#scene-{escape(r["slug"])}">{escape(r["title"])}</a>'
        f"{'' if r['passed'] else ' ✗'}</li>"
        for r in recordings
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        # No script, no fetch: the page works from a file:// URL with the network off.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Demo report ({escape(stack)} stack)</title><style>{CSS}</style></head><body>"
        f"<h1>Demo report</h1><p class=meta>{escape(stack)} stack · {len(recordings)} scenes · "
        f"{verdict} · {elapsed_s:.1f} s · {escape(generated_at)}</p>"
        f"<nav><ol>{toc}</ol></nav>"
        + "".join(_scene(r, texts.get(r["slug"]), docs_base) for r in recordings)
        + "</body></html>\n"
    )
