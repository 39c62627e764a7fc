"""What a scene is about, in the words the docs use: one file per scene under docs/scenes/, which
docs/failures.md includes in the scene's section and the report shows in the scene's, so the
text has one copy.

A file holds three paragraphs, each opened by its label:

    **What fails:** ...

    **What the system does:** ...

    **What the picture shows:** ...

Inline Markdown only (code, bold, emphasis, links to other pages of the docs); the report turns
it into HTML here, its links pointing into the built docs site.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html import escape
from pathlib import Path

LABELS = ("What fails:", "What the system does:", "What the picture shows:")
_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EM = re.compile(r"(?<![*\w])\*([^*\s][^*]*?)\*(?![*\w])")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


class SceneTextError(ValueError):
    """A scene's text file that is missing or not three labelled paragraphs."""


@dataclass(frozen=True)
class SceneText:
    fails: str
    does: str
    shows: str  # each the paragraph's Markdown, without its label


def load_scene_text(path: Path) -> SceneText:
    """Read and check one docs/scenes/<name>.md."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SceneTextError(f"{path}: no scene text: {exc}") from exc
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    if len(paragraphs) != len(LABELS):
        raise SceneTextError(
            f"{path}: {len(paragraphs)} paragraphs, expected {len(LABELS)}: "
            + ", ".join(f"**{label}**" for label in LABELS)
        )
    parts = []
    for paragraph, label in zip(paragraphs, LABELS, strict=True):
        opening = f"**{label}**"
        if not paragraph.startswith(opening):
            raise SceneTextError(
                f"{path}: a paragraph must open with {opening}: {paragraph[:60]!r}"
            )
        parts.append(paragraph[len(opening) :].strip())
    return SceneText(*parts)


def docs_anchor(heading: str) -> str:
    """The id Python-Markdown's toc gives a heading (its default slugify)."""
    value = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def inline_html(markdown: str, *, docs_base: str) -> str:
    """The paragraph's inline Markdown as HTML, escaped; a link to a docs page (`sagas.md#x`)
    points at the built site under `docs_base`."""
    codes: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        codes.append(f"<code>{escape(match.group(1))}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = escape(_CODE.sub(keep_code, markdown), quote=False)

    def link(match: re.Match[str]) -> str:
        target = match.group(2)
        if not re.match(r"[a-z]+:", target):
            page, _, anchor = target.partition("#")
            target = f"{docs_base}/{page.removesuffix('.md')}.html"
            target += f"#{anchor}" if anchor else ""
        return f'<a href="{escape(target)}">{match.group(1)}</a>'

    text = _LINK.sub(link, text)
    text = _STRONG.sub(r"<strong>\1</strong>", text)
    text = _EM.sub(r"<em>\1</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], text)
