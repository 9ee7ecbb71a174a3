"""The chapter's content, read from the executed report notebooks (pure: no disk, no browser).

A report notebook holds everything the chapter needs in its outputs: ``boso`` output metadata
(``kind`` = ``finding``/``figure``/``table``, ``title``, ``synthetic``, ``sources``), the plotly
figure JSON (``application/vnd.plotly.v1+json``) and the HTML fragment with the source caption
and, for tables, the formatted cells. The markdown cells carry the headings and the prose.
Nothing here recomputes a number: the chapter shows what the site shows.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from boso.errors import DataError
from boso.outputs import (
    KIND_FIGURE,
    KIND_FINDING,
    KIND_TABLE,
    PLOTLY_MIME,
    notebook_meta,
    output_meta,
)

# --------------------------------------------------------------------------------------------
# Blocks of one analysis section


@dataclass
class Heading:
    """A sub-heading inside a section (``number`` like ``"1.2"``)."""

    text: str
    number: str = ""
    level: int = 2


@dataclass
class Prose:
    """Prose from a markdown cell, as HTML."""

    html: str


@dataclass
class Finding:
    """A generated finding sentence and the figures or tables it describes."""

    text: str
    refs: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``"figur 1.1"``, ``"figur 1.1 og 1.2"``, ``"figur 1.3 og tabell 1.1"``."""
        groups: dict[str, list[str]] = {}
        for ref in dict.fromkeys(self.refs):
            kind, _, number = ref.partition(" ")
            groups.setdefault(kind, []).append(number)
        parts = []
        for kind, numbers in groups.items():
            joined = (
                ", ".join(numbers[:-1]) + " og " + numbers[-1] if len(numbers) > 1 else numbers[0]
            )
            parts.append(f"{kind} {joined}")
        return " og ".join(parts)


@dataclass
class Figure:
    """A numbered figure: the plotly JSON of the report and its source caption."""

    number: str
    title: str
    caption: str
    figure: dict[str, Any]
    synthetic: bool = False
    sources: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"Figur {self.number}"

    @property
    def anchor(self) -> str:
        return "figur-" + self.number.replace(".", "-")


@dataclass
class Table:
    """A numbered table: header and formatted cells as shown on the site."""

    number: str
    title: str
    caption: str
    header: list[str]
    rows: list[list[str]]
    synthetic: bool = False
    sources: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"Tabell {self.number}"


Block = Heading | Prose | Finding | Figure | Table


@dataclass
class Section:
    """One analysis: its number, title and blocks in notebook order."""

    number: int
    analysis: str
    title: str
    blocks: list[Block]
    synthetic: bool = False

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    @property
    def findings(self) -> list[Finding]:
        return [b for b in self.blocks if isinstance(b, Finding)]


@dataclass
class Chapter:
    """Everything one kommune's statistikkvedlegg shows."""

    kommunenummer: str
    kommunenavn: str
    fylkesnavn: str
    kostragruppe: str
    date: str
    sections: list[Section]
    headlines: list[dict[str, Any]] = field(default_factory=list)
    barometer: Table | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    indicators: list[dict[str, Any]] = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        return (
            any(s.synthetic for s in self.sections)
            or any(h.get("synthetic") for h in self.headlines)
            or (self.barometer is not None and self.barometer.synthetic)
        )

    @property
    def figures(self) -> list[Figure]:
        return [f for s in self.sections for f in s.figures]

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def summary(self) -> list[dict[str, str]]:
        """One line per analysis: its first finding with the figure or table it refers to."""
        lines = []
        for section in self.sections:
            finding = next((f for f in section.findings if f.ref), None)
            finding = finding or next(iter(section.findings), None)
            if finding is None:
                continue
            lines.append(
                {
                    "number": str(section.number),
                    "title": section.title,
                    "text": finding.text,
                    "ref": finding.ref,
                }
            )
        return lines


# --------------------------------------------------------------------------------------------
# Reading notebook outputs


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return "" if value is None else str(value)


class _FragmentParser(HTMLParser):
    """Pulls the caption, table title and table cells out of a boso output's HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.caption = ""
        self.table_title = ""
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._stack: list[str] = []
        self._grab: str | None = None
        self._buffer: list[str] = []
        self._row: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag in ("figcaption", "p") and "boso-caption" in classes:
            self._grab, self._buffer = "caption", []
        elif tag == "p" and "boso-table-title" in classes:
            self._grab, self._buffer = "title", []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._grab, self._buffer = "cell", []

    def handle_endtag(self, tag: str) -> None:
        if self._grab == "caption" and tag in ("figcaption", "p"):
            self.caption = " ".join("".join(self._buffer).split())
            self._grab = None
        elif self._grab == "title" and tag == "p":
            self.table_title = " ".join("".join(self._buffer).split())
            self._grab = None
        elif self._grab == "cell" and tag in ("td", "th"):
            if self._row is not None:
                self._row.append(" ".join("".join(self._buffer).split()))
            self._grab = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self.header = self._row
            else:
                self.rows.append(self._row)
            self._row = None
        elif tag == "thead":
            self._in_head = False

    def handle_data(self, data: str) -> None:
        if self._grab:
            self._buffer.append(data)


def parse_fragment(fragment: str) -> _FragmentParser:
    """Caption, table title, header and rows of a boso HTML output (see :mod:`boso.outputs`)."""
    parser = _FragmentParser()
    parser.feed(fragment)
    parser.close()
    return parser


_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<em>\1</em>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
]


def markdown_inline(text: str) -> str:
    """Escape ``text`` and turn the markdown the notebooks use (bold, italic, code) into HTML."""
    out = html.escape(text, quote=False)
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out


def _markdown_blocks(source: str) -> list[tuple[int, str]]:
    """``(level, text)`` pairs: level 1–3 for ``#`` headings, 0 for a paragraph or list item."""
    blocks: list[tuple[int, str]] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append((0, " ".join(paragraph)))
            paragraph.clear()

    for line in source.splitlines():
        stripped = line.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if heading:
            flush()
            blocks.append((len(heading.group(1)), heading.group(2).strip()))
        elif not stripped:
            flush()
        elif re.match(r"^[-*]\s+", stripped):
            flush()
            blocks.append((0, "• " + re.sub(r"^[-*]\s+", "", stripped)))
        else:
            paragraph.append(stripped)
    flush()
    return blocks


def read_section(nb: Mapping[str, Any], number: int, analysis: str) -> Section:
    """Turn one executed report notebook into a numbered :class:`Section`.

    Figures and tables are numbered ``<section>.<n>`` in order of appearance; a finding
    sentence refers to the figure or table that follows it (``boso.figures.show`` shows the
    finding just before its figure). Findings before the first sub-heading (the kommune line)
    are left out: the title page says the same.

    Raises:
        DataError: The notebook has no cells.
    """
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise DataError(f"{analysis}: notatboken har ingen celler")
    meta = notebook_meta(nb)
    title = str(meta.get("title") or analysis.replace("_", " ").capitalize())
    blocks: list[Block] = []
    n_fig = n_tab = n_sub = 0
    seen_heading = False
    # Findings waiting for the figure or table they introduce; ``shown`` are findings whose
    # figure came, so a second view of the same numbers (no finding of its own) joins them.
    pending: list[Finding] = []
    shown: list[Finding] = []
    synthetic = False

    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for level, text in _markdown_blocks(_text(cell.get("source"))):
                if level == 1:
                    continue  # the notebook's own title is the section title
                if level >= 2:
                    seen_heading = True
                    pending, shown = [], []
                    if level == 2:
                        n_sub += 1
                        blocks.append(Heading(text, f"{number}.{n_sub}", 2))
                    else:
                        blocks.append(Heading(text, "", 3))
                else:
                    blocks.append(Prose(markdown_inline(text)))
            continue
        for output in cell.get("outputs") or ():
            info = output_meta(output)
            data = output.get("data") or {}
            kind = info.get("kind")
            if kind == KIND_FINDING:
                sentence = " ".join(
                    _text(data.get("text/markdown") or data.get("text/plain")).split()
                )
                if sentence and seen_heading:
                    # Two views of the same numbers repeat their finding: say it once.
                    earlier = next(
                        (b for b in blocks if isinstance(b, Finding) and b.text == sentence), None
                    )
                    if earlier is None:
                        earlier = Finding(sentence)
                        blocks.append(earlier)
                    pending.append(earlier)
                    shown = []
            elif kind == KIND_FIGURE and PLOTLY_MIME in data:
                n_fig += 1
                parsed = parse_fragment(_text(data.get("text/html")))
                figure = Figure(
                    f"{number}.{n_fig}",
                    str(info.get("title") or "Figur"),
                    parsed.caption,
                    data[PLOTLY_MIME],
                    bool(info.get("synthetic")),
                    list(info.get("sources") or []),
                )
                synthetic |= figure.synthetic
                blocks.append(figure)
                for finding in pending or shown:
                    finding.refs.append(f"figur {figure.number}")
                if pending:
                    pending, shown = [], pending
            elif kind == KIND_TABLE:
                parsed = parse_fragment(_text(data.get("text/html")))
                if not parsed.header and not parsed.rows:
                    continue
                n_tab += 1
                table = Table(
                    f"{number}.{n_tab}",
                    str(info.get("title") or parsed.table_title or "Tabell"),
                    parsed.caption,
                    parsed.header,
                    parsed.rows,
                    bool(info.get("synthetic")),
                    list(info.get("sources") or []),
                )
                synthetic |= table.synthetic
                blocks.append(table)
                for finding in pending:
                    finding.refs.append(f"tabell {table.number}")
                pending, shown = [], []
    return Section(number, analysis, title, blocks, synthetic)


def find_barometer(sections: Sequence[Section]) -> Table | None:
    """The levekår barometer table (by title), for the summary page."""
    for section in sections:
        for table in section.tables:
            if "barometer" in table.title.lower():
                return table
    return None


def headline_rows(headlines: Iterable[Any]) -> list[dict[str, Any]]:
    """The site's headline numbers (``boso.site.Headline``) as plain rows for the summary."""
    rows = []
    for h in headlines:
        rows.append(
            {
                "label": h.label,
                "year": "" if h.year is None else str(h.year),
                "value": h.value_text,
                "unit": h.unit,
                "landet": h.comparison_text.removeprefix("Landet: "),
                "synthetic": bool(h.synthetic),
            }
        )
    return rows


def source_rows(provenance: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Data sources with retrieval dates for the title page (one row per raw file)."""
    names = {"ssb": "SSB", "imdi": "IMDi", "klass": "SSB KLASS", "geo": "Kartverket/Geonorge"}
    rows = []
    for prov in provenance:
        source = str(prov.get("source") or "")
        if source == "register":
            continue  # the kommune's own register is described in its section
        label = names.get(source, source)
        name = str(prov.get("dataset") or prov.get("name") or "")
        for prefix in (label, source.upper(), "KLASS"):
            # "SSB 05940 Byggeareal" under "SSB" reads "05940 Byggeareal".
            if prefix and name.startswith(prefix + " "):
                name = name[len(prefix) + 1 :]
                break
        rows.append(
            {
                "source": label,
                "name": name,
                "retrieved": str(prov.get("fetched_at") or "")[:10],
                "synthetic": bool(prov.get("synthetic")),
            }
        )
    return sorted(rows, key=lambda r: (r["source"], r["name"]))


def build_chapter(
    info: Mapping[str, Any],
    notebooks: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    date: str,
    headlines: Iterable[Any] = (),
    provenance: Iterable[Mapping[str, Any]] = (),
    indicators: Iterable[Mapping[str, Any]] = (),
) -> Chapter:
    """Assemble one kommune's chapter from its executed reports, in the given (site) order.

    Args:
        info: ``kommunenummer``, ``kommunenavn``, ``fylkesnavn``, ``kostragruppe``.
        notebooks: ``(analysis, notebook dict)`` in the site's order.
        date: The date printed on the title page.
        headlines: ``boso.site.Headline`` objects (the kommune page's headline numbers).
        provenance: Raw-file provenance dicts (see ``boso.site.SiteInputs``).
        indicators: Rows of ``boso.site.method_context(...)["indicators"]``.

    Raises:
        DataError: No reports, or a report notebook without cells.
    """
    if not notebooks:
        raise DataError(f"{info.get('kommunenummer')}: ingen kjørte rapporter å lage vedlegg av")
    sections = [
        read_section(nb, number, analysis)
        for number, (analysis, nb) in enumerate(notebooks, start=1)
    ]
    return Chapter(
        kommunenummer=str(info["kommunenummer"]),
        kommunenavn=str(info["kommunenavn"]),
        fylkesnavn=str(info.get("fylkesnavn") or ""),
        kostragruppe=str(info.get("kostragruppe") or ""),
        date=date,
        sections=sections,
        headlines=headline_rows(headlines),
        barometer=find_barometer(sections),
        sources=source_rows(provenance),
        indicators=list(indicators),
    )
