"""The output contract between the notebooks and what reads their executed outputs.

Writing side (the notebooks, through :mod:`boso.charts` and :mod:`boso.maps`): every figure is
displayed through :func:`show_figure` as one ``display_data`` output whose mimebundle carries the
plotly JSON (:data:`PLOTLY_MIME`), a self-contained ``text/html`` fragment that draws it with the
page's global ``Plotly`` (no plotly.js inlined) with its caption and CSV link, and
``text/plain``. JupyterLab, VS Code and Notebook 7 render the plotly JSON and never show that
HTML, so the caption and CSV link follow as a second ``display_data`` output (HTML only, boso
metadata ``kind = "caption"``); the site, which draws the figure from its HTML, leaves those out
(:data:`CAPTION_KIND`). Tables go through :func:`show_table` (HTML only, caption inside),
finding sentences through :func:`show_text`. All mark synthetic data visibly with the one
:data:`SYNTHETIC_NOTICE`. :func:`save` writes a figure as PNG/SVG/PDF with its caption.

Reading side (the site, :mod:`boso.site`, and the chapter, :mod:`boso.chapter.model`): the
output metadata lives under :data:`BOSO_KEY` with a :data:`KIND_FIGURE`/:data:`KIND_TABLE`/
:data:`KIND_FINDING`/:data:`CAPTION_KIND` kind; read it with :func:`output_meta`,
:func:`output_kind`, :func:`notebook_meta` and :func:`output_synthetic`, never with string
literals of their own.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from boso import text

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: The one notice on every output that shows synthetic data (site, chapter, captions).
SYNTHETIC_NOTICE = "Syntetiske demotall – ikke offisiell statistikk"
#: Its short form, written inside plots and maps.
SYNTHETIC_ANNOTATION = "Syntetiske demotall"

DEFAULT_HEIGHT = 420
CSV_COLUMNS = [
    "indikator",
    "sammenligning",
    "nivaa",
    "region",
    "aar",
    "boligtype",
    "boligtype_navn",
    "verdi",
    "status",
    "enhet",
    "kilde",
    "kilde_oppdatert",
    "hentet",
    "syntetisk",
    "harmonisering",
    "merknad",
    "mangler",  # why a value is missing (boso.indicators.gap_reasons)
]

_counter = itertools.count(1)


def reset_figure_ids() -> None:
    """Start figure element ids again from 1 (the report kernels call this per notebook)."""
    global _counter
    _counter = itertools.count(1)


# boso metadata kind of the caption output that follows a figure for notebook front ends.
CAPTION_KIND = "caption"
#: Key of boso's own metadata in an output's (and a notebook's) ``metadata``.
BOSO_KEY = "boso"
#: Mimetype of the plotly figure JSON in a figure output.
PLOTLY_MIME = "application/vnd.plotly.v1+json"
KIND_FIGURE = "figure"
KIND_TABLE = "table"
KIND_FINDING = "finding"
#: The HTML attribute every synthetic figure, caption and table carries.
SYNTHETIC_HTML_MARK = 'data-synthetic="true"'


# --------------------------------------------------------------------------------- captions
def source_text(kilde: str) -> str:
    """``"SSB 12008"`` → ``"SSB, tabell 12008"``; other sources pass through.

    A table id that is not a StatBank number (boso's own name for a file, e.g. ``STARTLAN``)
    means nothing to a reader: the caption names SSB alone.
    """
    match = re.fullmatch(r"SSB\s+(\S+)", kilde.strip())
    if match:
        table = match.group(1)
        return f"SSB, tabell {table}" if table.isdigit() else "SSB"
    return kilde


def make_caption(
    sources: Sequence[tuple[str, str]],
    retrieved: str = "",
    updated: str = "",
    notes: Iterable[str] = (),
) -> str:
    """Caption naming source tables, retrieval and update dates, plus notes.

    Args:
        sources: ``(kilde, label)`` pairs, e.g. ``("SSB 12008", "Kommunalt disponerte boliger")``.
        retrieved: Date boso fetched the data (``hentet``).
        updated: The source's own update date (``kilde_oppdatert``).
        notes: Further sentences (missing values, harmonisation).

    Returns:
        E.g. "Kilde: SSB, tabell 12008 (Kommunalt disponerte boliger). Hentet 2026-11-22."
    """
    grouped: dict[str, list[str]] = {}
    for kilde, label in sources:
        labels = grouped.setdefault(source_text(kilde), [])
        if label and label not in labels:
            labels.append(label)
    parts = [f"{src} ({', '.join(labels)})" if labels else src for src, labels in grouped.items()]
    caption = f"Kilde: {text.join_list(parts)}." if parts else ""
    if retrieved:
        caption += f" Hentet {retrieved}."
    if updated:
        caption += f" Sist oppdatert hos kilden {updated}."
    for note in notes:
        if note:
            caption += f" {note}"
    return caption.strip()


# ----------------------------------------------------------------------------- display objects
def _slug(value: str) -> str:
    value = value.lower()
    for a, b in (("æ", "ae"), ("ø", "o"), ("å", "a")):
        value = value.replace(a, b)
    return re.sub(r"[^a-z0-9]+", "-", value).strip("-") or "data"


def _csv_href(data: pd.DataFrame | None) -> str:
    if data is None:
        return ""
    frame = data[[c for c in CSV_COLUMNS if c in data.columns]] if _is_processed(data) else data
    csv = frame.to_csv(index=False)
    return "data:text/csv;charset=utf-8," + urllib.parse.quote(csv)


def _is_processed(df: pd.DataFrame) -> bool:
    return "verdi" in df.columns and "aar" in df.columns


def _script_json(obj: Any) -> str:
    # "</script>" inside a string would end the script element early.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _figure_dict(fig: go.Figure | dict) -> dict:
    if isinstance(fig, dict):
        return fig
    return json.loads(fig.to_json())


def add_synthetic_annotation(fig: go.Figure) -> None:
    """Put the visible :data:`SYNTHETIC_ANNOTATION` mark inside the plot (once)."""
    existing = [a.text for a in (fig.layout.annotations or ())]
    if SYNTHETIC_ANNOTATION in existing:
        return
    fig.add_annotation(
        text=SYNTHETIC_ANNOTATION,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"size": 28, "color": "rgba(200,0,0,0.25)"},
        textangle=-20,
    )


class FigureOutput:
    """One figure as a Jupyter mimebundle (plotly JSON + HTML fragment + plain text)."""

    def __init__(
        self,
        fig: go.Figure | dict,
        data: pd.DataFrame | None = None,
        caption: str = "",
        sources: Sequence[str] = (),
        retrieved: str = "",
        synthetic: bool = False,
        title: str | None = None,
    ) -> None:
        if synthetic and not isinstance(fig, dict):
            add_synthetic_annotation(fig)
        self.figure = _figure_dict(fig)
        self.data = data
        self.caption = caption
        self.sources = list(sources)
        self.retrieved = retrieved
        self.synthetic = bool(synthetic)
        layout_title = (self.figure.get("layout", {}).get("title") or {}).get("text", "")
        self.title = title or re.sub(r"<[^>]+>", " ", layout_title).strip() or "Figur"

    def save(self, path: str, width: int = 900) -> Any:
        """Write the figure with its caption as PNG, SVG or PDF (see :func:`save`)."""
        return save(self, path, width=width)

    def _html(self) -> str:
        payload = _script_json(
            {
                "data": self.figure.get("data", []),
                "layout": self.figure.get("layout", {}),
                "config": {"responsive": True, "displaylogo": False},
            }
        )
        digest = hashlib.sha1(payload.encode()).hexdigest()[:10]
        div_id = f"fig-{digest}-{next(_counter)}"
        height = int(self.figure.get("layout", {}).get("height") or DEFAULT_HEIGHT)
        parts = [f'<figure class="boso-figure" data-synthetic="{str(self.synthetic).lower()}">']
        if self.synthetic:
            parts.append(f'<p class="boso-synthetic">{SYNTHETIC_NOTICE}</p>')
        parts.append(
            f'<div class="plotly-graph-div boso-plot" id="{div_id}" '
            f'style="height:{height}px"></div>'
        )
        parts.append(
            "<script>(function(){"
            f'var el=document.getElementById("{div_id}");var f={payload};'
            "function draw(){if(window.Plotly){Plotly.newPlot(el,f.data,f.layout,f.config);"
            "return true}return false}"
            'if(!draw()){window.addEventListener("load",draw)}'
            "})();</script>"
        )
        parts.append(_caption_html(self.caption, self.data, self.title))
        parts.append("</figure>")
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None):  # noqa: ANN001 - IPython protocol
        bundle = {
            PLOTLY_MIME: self.figure,
            "text/html": self._html(),
            "text/plain": f"Figur: {self.title}" + (" (syntetiske demotall)" * self.synthetic),
        }
        meta = {
            BOSO_KEY: {
                "kind": KIND_FIGURE,
                "synthetic": self.synthetic,
                "sources": self.sources,
                "title": self.title,
            }
        }
        return bundle, meta


# ------------------------------------------------------------------------------ static images
CAPTION_FONT_SIZE = 11
_CAPTION_LINE_PX = 15


def with_caption(
    fig: go.Figure | dict, caption: str, synthetic: bool = False, width: int = 900
) -> go.Figure:
    """A copy of ``fig`` with its caption (and the synthetic notice) written under the plot.

    Pure: what :func:`save` renders, so a figure pasted into a report keeps its source.
    """
    import textwrap

    import plotly.graph_objects as go

    out = go.Figure(_figure_dict(fig))
    if synthetic:
        add_synthetic_annotation(out)
        caption = f"{SYNTHETIC_NOTICE}. {caption}".strip()
    if not caption:
        return out
    chars = max(40, int(width / (CAPTION_FONT_SIZE * 0.55)))
    lines = textwrap.wrap(caption, chars)
    margin = out.layout.margin.b if out.layout.margin.b is not None else 90
    extra = len(lines) * _CAPTION_LINE_PX + 20
    height = out.layout.height or DEFAULT_HEIGHT
    out.add_annotation(
        text="<br>".join(html.escape(line) for line in lines),
        xref="paper",
        yref="paper",
        x=0,
        y=0,
        xanchor="left",
        yanchor="top",
        yshift=-(margin - 10),
        align="left",
        showarrow=False,
        font={"size": CAPTION_FONT_SIZE, "color": "#444"},
    )
    # Grow the bottom margin by the caption so the plot area keeps its size.
    out.update_layout(margin={"b": margin + extra}, height=height + extra, width=width)
    return out


def save(item: Any, path: str, *, caption: str | None = None, width: int = 900) -> Any:
    """Write a figure as a static image with its caption under it, for a report.

    Args:
        item: A :class:`boso.charts.Chart` (what ``figures.lines(...)`` and the other
            builders return), a :class:`FigureOutput`, or a plotly figure (then pass ``caption``).
        path: ``"figur.png"``, ``".svg"`` or ``".pdf"``: the suffix chooses the format.
        caption: Caption for a bare plotly figure (a chart brings its own).
        width: Image width in pixels; the height follows the figure and its caption.

    Returns:
        The path written.

    Raises:
        boso.static_export.StaticExportUnavailableError: no Chromium on this machine.
        boso.errors.QueryError: an unknown suffix.
    """
    from boso import static_export
    from boso.charts import Chart  # here: charts imports this module

    if isinstance(item, FigureOutput):
        fig, text_, synthetic = item.figure, item.caption, item.synthetic
    elif isinstance(item, Chart):
        fig, text_, synthetic = item.fig, item.caption, item.synthetic
    else:
        fig, text_, synthetic = item, "", False
    if caption is not None:
        text_ = caption
    image = with_caption(fig, text_, synthetic, width)
    return static_export.write_image(image, path, width=width, height=image.layout.height)


class CaptionOutput:
    """The caption and CSV link of the figure just above, for front ends that draw the plotly
    JSON and so never show the figure's own HTML (JupyterLab, VS Code, Notebook 7)."""

    def __init__(self, figure: FigureOutput) -> None:
        self.figure = figure

    def _repr_mimebundle_(self, include=None, exclude=None):  # noqa: ANN001 - IPython protocol
        fig = self.figure
        parts = [f'<div class="boso-figure-caption" data-synthetic="{str(fig.synthetic).lower()}">']
        if fig.synthetic:
            parts.append(f'<p class="boso-synthetic">{SYNTHETIC_NOTICE}</p>')
        cap = _caption_html(fig.caption, fig.data, fig.title)
        parts.append(cap.replace("<figcaption", "<p").replace("</figcaption>", "</p>"))
        parts.append("</div>")
        plain = fig.caption + (f"\n{SYNTHETIC_NOTICE}" if fig.synthetic else "")
        return (
            {"text/html": "".join(parts), "text/plain": plain},
            {BOSO_KEY: {"kind": CAPTION_KIND, "of": KIND_FIGURE, "title": fig.title}},
        )


def _caption_html(caption: str, data: pd.DataFrame | None, title: str) -> str:
    out = f'<figcaption class="boso-caption">{html.escape(caption)}</figcaption>'
    href = _csv_href(data)
    if href:
        out += (
            f'<a class="boso-csv" download="{_slug(title)}.csv" '
            f'href="{html.escape(href, quote=True)}">Last ned data (CSV)</a>'
        )
    return out


class TableOutput:
    """A table as a Jupyter mimebundle (HTML with caption, CSV link and synthetic notice)."""

    def __init__(
        self,
        df: pd.DataFrame,
        caption: str = "",
        sources: Sequence[str] = (),
        synthetic: bool = False,
        title: str = "Tabell",
        retrieved: str = "",
    ) -> None:
        self.df = df
        self.caption = caption
        self.sources = list(sources)
        self.synthetic = bool(synthetic)
        self.title = title
        self.retrieved = retrieved

    def _html(self) -> str:
        shown = self.df.map(_cell) if not self.df.empty else self.df
        table = shown.to_html(index=False, escape=True, classes="boso-data", border=0, na_rep="–")
        parts = [f'<div class="boso-table" data-synthetic="{str(self.synthetic).lower()}">']
        if self.synthetic:
            parts.append(f'<p class="boso-synthetic">{SYNTHETIC_NOTICE}</p>')
        if self.title:
            parts.append(f'<p class="boso-table-title">{html.escape(self.title)}</p>')
        parts.append(table)
        cap = _caption_html(self.caption, self.df, self.title)
        parts.append(cap.replace("<figcaption", "<p").replace("</figcaption>", "</p>"))
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None):  # noqa: ANN001 - IPython protocol
        bundle = {
            "text/html": self._html(),
            "text/plain": f"Tabell: {self.title}\n{self.df.to_string(index=False)}",
        }
        meta = {
            BOSO_KEY: {
                "kind": KIND_TABLE,
                "synthetic": self.synthetic,
                "sources": self.sources,
                "title": self.title,
            }
        }
        return bundle, meta


def _cell(value: Any) -> Any:
    # Format numbers Norwegian style in the HTML; the CSV keeps machine-readable values.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if 1800 <= value <= 2100 else text.fmt_number(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value.is_integer() and 1800 <= value <= 2100:
            return str(int(value))
        return text.fmt_value(value)
    return value


class TextOutput:
    """A generated finding sentence (markdown + HTML + plain text)."""

    def __init__(self, sentence: str) -> None:
        self.sentence = sentence

    def _repr_mimebundle_(self, include=None, exclude=None):  # noqa: ANN001 - IPython protocol
        return (
            {
                "text/html": f'<p class="boso-finding">{html.escape(self.sentence)}</p>',
                "text/markdown": self.sentence,
                "text/plain": self.sentence,
            },
            {BOSO_KEY: {"kind": KIND_FINDING}},
        )


def _display(obj: Any) -> None:
    # IPython comes with ipykernel, a hard dependency (pyproject.toml); imported here so that
    # importing boso outside a notebook stays light.
    from IPython.display import display

    display(obj)


def show_figure(
    fig: go.Figure | dict,
    data: pd.DataFrame | None = None,
    caption: str = "",
    sources: Sequence[str] = (),
    retrieved: str = "",
    synthetic: bool = False,
    title: str | None = None,
) -> None:
    """Display one figure and, after it, its caption for notebook front ends (module docstring).

    Args:
        fig: The plotly figure (or its dict form).
        data: Rows behind the figure, offered as CSV next to it.
        caption: Source tables and retrieval date, in bokmål.
        sources: Source ids (``kilde`` values) for the output metadata.
        retrieved: Retrieval date (kept in the caption; accepted for the convention).
        synthetic: True when any row used is synthetic: adds notice and in-plot annotation.
        title: Title for metadata and CSV file name (default: the layout title).
    """
    output = FigureOutput(fig, data, caption, sources, retrieved, synthetic, title)
    _display(output)
    if output.caption or output.data is not None or output.synthetic:
        _display(CaptionOutput(output))


def show_table(
    df: pd.DataFrame,
    caption: str = "",
    sources: Sequence[str] = (),
    synthetic: bool = False,
    title: str = "Tabell",
    retrieved: str = "",
) -> None:
    """Display a table with caption, CSV link and (when synthetic) the synthetic notice."""
    _display(TableOutput(df, caption, sources, synthetic, title, retrieved))


def show_text(sentence: str) -> None:
    """Display a generated finding sentence."""
    if sentence:
        _display(TextOutput(sentence))


# ------------------------------------------------------------------------------ reading side


def output_meta(output: Mapping[str, Any]) -> dict[str, Any]:
    """boso's metadata of one notebook output (``{}`` when it has none)."""
    return (output.get("metadata") or {}).get(BOSO_KEY) or {}


def output_kind(output: Mapping[str, Any]) -> str:
    """The boso kind of an output (:data:`KIND_FIGURE`, ..., or ``""`` for a foreign one)."""
    return str(output_meta(output).get("kind") or "")


def notebook_meta(nb: Mapping[str, Any]) -> dict[str, Any]:
    """boso's metadata of a whole notebook (title, reads; ``{}`` when it has none)."""
    return (nb.get("metadata") or {}).get(BOSO_KEY) or {}


def output_synthetic(output: Mapping[str, Any]) -> bool:
    """True when an output shows synthetic data: by its metadata or its HTML's mark."""
    if output_meta(output).get("synthetic"):
        return True
    fragment = (output.get("data") or {}).get("text/html", "")
    fragment = "".join(fragment) if isinstance(fragment, list) else fragment
    return SYNTHETIC_HTML_MARK in fragment
