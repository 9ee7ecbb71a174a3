"""The chapter as HTML: one print layout (A4) for the PDF and the same text for Word (pure)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boso
from boso.chapter.model import Chapter, Figure
from boso.outputs import SYNTHETIC_ANNOTATION, SYNTHETIC_NOTICE

HERE = Path(__file__).resolve().parent
TEMPLATE = "chapter.html.j2"
CSS = HERE / "chapter.css"
NOTICE_SHORT = SYNTHETIC_ANNOTATION

#: Figure size on the A4 page (CSS px at 96 dpi): 170 mm wide, the text width.
FIGURE_WIDTH = 640
#: Report figures are drawn for a screen (≈ 420 px high); on paper a little lower.
FIGURE_HEIGHT_FACTOR = 0.85
DEFAULT_HEIGHT = 420


def with_ref(sentence: str, ref: str) -> str:
    """``"… i landet."`` + ``"figur 2.1"`` → ``"… i landet (figur 2.1)."``."""
    if not ref:
        return sentence
    body = sentence.rstrip()
    end = ""
    if body and body[-1] in ".!?":
        body, end = body[:-1], body[-1]
    return f"{body} ({ref}){end or '.'}"


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["with_ref"] = with_ref
    return env


def print_figure(figure: Figure) -> dict[str, Any]:
    """The report's plotly figure sized for the page, static (no hover, no mode bar)."""
    layout = dict(figure.figure.get("layout") or {})
    height = int(layout.get("height") or DEFAULT_HEIGHT)
    layout.update(
        width=FIGURE_WIDTH,
        height=round(height * FIGURE_HEIGHT_FACTOR),
        autosize=False,
    )
    return {
        "data": figure.figure.get("data") or [],
        "layout": layout,
        "config": {"staticPlot": True, "displayModeBar": False, "responsive": False},
    }


def print_figures(chapter: Chapter) -> dict[str, dict[str, Any]]:
    """Every figure of the chapter by anchor, sized for the page (see :func:`print_figure`)."""
    return {f.anchor: print_figure(f) for f in chapter.figures}


def render_html(chapter: Chapter, mode: str = "pdf") -> str:
    """The chapter as one HTML document.

    Args:
        chapter: The content (see :func:`boso.chapter.model.build_chapter`).
        mode: ``"pdf"``: the print layout with CSS and an empty ``<div class="plot">`` per
            figure, where plotly.js draws :func:`print_figures` (vector graphics in the PDF);
            ``"docx"``: the same text with ``<img src="<anchor>.png">`` per figure, for pandoc.
    """
    if mode not in ("pdf", "docx"):
        raise ValueError(f"ukjent modus {mode!r}")
    return (
        _env()
        .get_template(TEMPLATE)
        .render(
            c=chapter,
            mode=mode,
            css=CSS.read_text("utf-8"),
            notice=SYNTHETIC_NOTICE,
            notice_short=NOTICE_SHORT,
            version=boso.__version__,
        )
    )


def plain_text(html_text: str) -> str:
    """Tags stripped (for quick checks in tests and logs)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_text)).strip()
