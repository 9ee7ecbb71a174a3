"""The published site: kommune pages and listings from ``reports/``, rendered to ``_site/``.

Two renderers build the same page structure::

    index.html                               Forside: every kommune, grouped by fylke, with a filter
    kommuner/index.html                      Kommuner: the same list with KOSTRA group and status
    kommuner/<knr>-<slug>/index.html         one landing page per kommune: headlines + analyses
    kommuner/<knr>-<slug>/<analysis>.html    the executed report notebooks (inputs hidden)
    data-og-metode.html                      generated from the indicator catalog and raw provenance
    om.html
    assets/plotly.min.js, boso.css, boso.js  shipped once, referenced by relative URL

* **Quarto** (canonical, when ``quarto`` is on PATH): every page, the reports included, is
  generated as a ``.qmd`` into ``site_src/`` with the project's ``_quarto.yml`` (content as
  raw HTML, the same as the fallback's) and ``quarto render`` writes the site; a re-run renders
  only the pages whose inputs changed (docs/site-quarto.md).
* **nbconvert** (fallback, every environment): one in-process ``HTMLExporter`` per worker turns
  each report into a body fragment (inputs excluded) that is wrapped in the Jinja2 layout.

Nothing on a page points outside the site, so it reads from a USB stick or a closed network.
Either way the site is built in a temporary directory beside ``_site/`` and swapped in only when
complete, so a failed build leaves the previous site untouched.

Everything the builder reads is gathered in :class:`SiteInputs` (see :func:`load_inputs`), so
tests can build a site from hand-made notebooks and a fake registry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from boso.config import paths
from boso.errors import BosoError, DataError
from boso.outputs import (
    CAPTION_KIND,
    PLOTLY_MIME,
    SYNTHETIC_ANNOTATION,
    SYNTHETIC_NOTICE,
    notebook_meta,
    output_kind,
    output_synthetic,
)

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES = PACKAGE_DIR / "templates"
ASSETS = PACKAGE_DIR / "assets"
SITE_TITLE = "Boligsosial statistikk"
SYNTHETIC_DETAIL = (
    "Noen tall på denne siden er oppdiktede demotall som viser hvordan verktøyet virker. "
    "De må ikke brukes som fakta."
)
MANIFEST_NAME = "boso-site.json"

ANALYSES = (
    "befolkning",
    "levekar",
    "boligpriser",
    "startlan",
    "kommunale_boliger",
    "boligbehov",
)
ANALYSIS_TITLES = {
    "befolkning": "Befolkning",
    "levekar": "Levekår",
    "boligpriser": "Boligpriser",
    "startlan": "Startlån",
    "kommunale_boliger": "Kommunale boliger",
    "boligbehov": "Framtidig boligbehov",
}
# Shown on each kommune's landing page, in this order, when the processed table exists.
HEADLINE_INDICATORS = (
    "befolkning",
    "kommunale_boliger_per_1000",
    "sosialhjelp",
    "lavinntekt_barn",
    "startlan_per_1000",
)
REGISTRY_COLUMNS = ("kommunenummer", "kommunenavn", "fylkesnummer", "fylkesnavn")
RENDERERS = ("auto", "quarto", "nbconvert")


@dataclass(frozen=True)
class NavItem:
    """One navbar entry; ``href`` is relative to the site root (Quarto gets ``.qmd``)."""

    key: str
    text: str
    href: str

    @property
    def source(self) -> str:
        return self.href.removesuffix(".html") + ".qmd"


# The same navigation as _quarto.yml (a test keeps the two in step).
NAV = (
    NavItem("forside", "Forside", "index.html"),
    NavItem("kommuner", "Kommuner", "kommuner/index.html"),
    NavItem("metode", "Data og metode", "data-og-metode.html"),
    NavItem("om", "Om", "om.html"),
)


# --------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Report:
    """One executed report notebook."""

    kommunenummer: str
    analysis: str
    path: Path
    title: str
    synthetic: bool

    @property
    def order(self) -> tuple[int, str]:
        position = ANALYSES.index(self.analysis) if self.analysis in ANALYSES else len(ANALYSES)
        return (position, self.analysis)


@dataclass(frozen=True)
class Headline:
    """A headline number on a kommune's landing page."""

    indicator: str
    label: str
    unit: str
    year: int | None
    value: float | None
    status: str
    landet: float | None
    synthetic: bool

    @property
    def value_text(self) -> str:
        return format_number(self.value, self.unit) if self.value is not None else self.status

    @property
    def comparison_text(self) -> str:
        if self.landet is None:
            return ""
        return f"Landet: {format_number(self.landet, self.unit)}"


@dataclass(frozen=True)
class IndicatorInfo:
    """The catalog fields the "Data og metode" page shows."""

    id: str
    label: str
    definition: str = ""
    unit: str = ""
    kind: str = ""
    source: str = ""
    table: str = ""
    file: str = ""
    synthetic: bool | None = None
    hidden: bool = False


@dataclass
class SiteInputs:
    """Everything the site is built from.

    Attributes:
        registry: Current kommuner: ``kommunenummer, kommunenavn, fylkesnummer, fylkesnavn``
            and optionally ``kostragruppe``/``kostragruppenavn``.
        reports_dir: ``reports/`` with ``<knr>-<slug>/<analysis>.ipynb``.
        catalog: Indicator declarations (``boso.catalog.Indicator`` objects, dicts or
            :class:`IndicatorInfo`).
        provenance: Raw-file provenance dicts (``source, name, fetched_at, source_updated,
            synthetic, dataset, table_id``).
        indicator_tables: Processed indicator tables by id, for the headline numbers.
        quarto_config: The project's ``_quarto.yml`` (copied into the Quarto sources).
        chapters: Statistikkvedlegg files per kommune (``boso chapter``), linked from the
            kommune page and kept when the site is rebuilt.
    """

    registry: pd.DataFrame
    reports_dir: Path
    catalog: Sequence[Any] = ()
    provenance: Sequence[Mapping[str, Any]] = ()
    indicator_tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    quarto_config: Path | None = None
    # Kommunenummer → formats ("pdf", "docx") of the statistikkvedlegg already published.
    chapters: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteResult:
    """What a build produced."""

    renderer: str
    site_dir: Path
    pages: int
    report_pages: int
    kommuner: int
    seconds: float


# --------------------------------------------------------------------------------------------
# Pure helpers


def format_number(value: float, unit: str = "") -> str:
    """Format a number the Norwegian way (space as thousands separator, decimal comma).

    Counts and kroner get no decimals; rates and shares one.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ".."
    decimals = 1 if unit in {"prosent"} or unit.startswith("per ") else 0
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u00a0").replace(".", ",")


def kommune_dir(kommunenummer: str, kommunenavn: str) -> str:
    """The kommune's folder under ``kommuner/`` (same naming as ``reports/``)."""
    from boso.kommune import slug  # one spelling for report folders and site URLs

    return f"{kommunenummer}-{slug(kommunenavn)}"


def validate_registry(registry: pd.DataFrame) -> pd.DataFrame:
    """Check the kommune registry and return it sorted by fylke and kommunenummer.

    Raises:
        DataError: A required column is missing or a kommunenummer is not 4 characters.
    """
    missing = [c for c in REGISTRY_COLUMNS if c not in registry.columns]
    if missing:
        raise DataError(f"kommuneregisteret mangler kolonne(r): {', '.join(missing)}")
    frame = registry.copy()
    frame["kommunenummer"] = frame["kommunenummer"].astype(str)
    frame["fylkesnummer"] = frame["fylkesnummer"].astype(str)
    bad = frame.loc[~frame["kommunenummer"].str.fullmatch(r"\d{4}")]
    if not bad.empty:
        row = bad.index[0]
        raise DataError(
            f"kommuneregisteret, rad {row}: kommunenummer {bad.iloc[0]['kommunenummer']!r} "
            "er ikke fire siffer"
        )
    for column in ("kostragruppe", "kostragruppenavn"):
        # A kommune without a KOSTRA group must not be shown as "nan".
        frame[column] = frame[column].fillna("").astype(str) if column in frame else ""
    frame = frame.loc[frame["kommunenummer"] != "9999"]
    return frame.sort_values(["fylkesnummer", "kommunenummer"]).reset_index(drop=True)


def read_report_meta(path: Path, kommunenummer: str) -> Report:
    """Title and synthetic flag of one executed report notebook.

    Raises:
        DataError: The file is not a readable notebook.
    """
    try:
        nb = json.loads(path.read_text("utf-8"))
        cells = nb["cells"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: ikke en lesbar notatbok ({exc.__class__.__name__})") from exc
    meta = notebook_meta(nb)
    analysis = path.stem
    title = meta.get("title") or ANALYSIS_TITLES.get(analysis) or analysis.replace("_", " ")
    return Report(kommunenummer, analysis, path, str(title), _notebook_synthetic(cells))


def _notebook_synthetic(cells: Iterable[Mapping[str, Any]]) -> bool:
    return any(output_synthetic(o) for cell in cells for o in cell.get("outputs") or ())


def discover_reports(reports_dir: Path) -> dict[str, list[Report]]:
    """Executed reports by kommunenummer, in analysis order.

    Only ``<4 digits>-<slug>/<analysis>.ipynb`` counts; papermill's temporary files
    (names starting with ``.``) are skipped.
    """
    found: dict[str, list[Report]] = {}
    if not reports_dir.is_dir():
        return found
    for folder in sorted(reports_dir.iterdir()):
        match = re.match(r"^(\d{4})-", folder.name)
        if not folder.is_dir() or not match:
            continue
        for nb_path in sorted(folder.glob("*.ipynb")):
            if nb_path.name.startswith("."):
                continue
            found.setdefault(match.group(1), []).append(read_report_meta(nb_path, match.group(1)))
    for reports in found.values():
        reports.sort(key=lambda r: r.order)
    return found


def latest_values(tables: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, Headline]]:
    """Each headline indicator's latest kommune value, for every kommune at once.

    The latest year with a published value is used; a kommune with none shows the SSB symbol
    of its latest row (never 0). Landet is taken for the same year. Kommuner with several rows
    per year (extra dimensions, e.g. boligtype) are left out: one number would hide the
    choice of category. Vectorised: per-kommune pandas filtering cost ≈ 45 ms × 357.

    Returns:
        ``{indicator: {kommunenummer: Headline}}`` (labels are filled in later).
    """
    result: dict[str, dict[str, Headline]] = {}
    for indicator, frame in tables.items():
        if frame is None or frame.empty or not {"nivaa", "aar", "verdi"} <= set(frame.columns):
            continue
        frame = frame.assign(
            status=frame["status"].fillna("").astype(str) if "status" in frame else "",
            enhet=frame["enhet"].fillna("").astype(str) if "enhet" in frame else "",
            syntetisk=frame["syntetisk"].fillna(False).astype(bool)
            if "syntetisk" in frame
            else False,
        )
        landet = frame.loc[frame["nivaa"] == "landet"].drop_duplicates("aar", keep=False)
        national = dict(zip(landet["aar"].astype(int), landet["verdi"], strict=True))
        rows = frame.loc[frame["nivaa"] == "kommune"].copy()
        rows["kommunenummer"] = rows["kommunenummer"].astype(str)
        multi = rows.duplicated(["kommunenummer", "aar"], keep=False)
        rows = rows.loc[~rows["kommunenummer"].isin(rows.loc[multi, "kommunenummer"])]
        rows = rows.sort_values(["kommunenummer", "aar"])
        published = rows.loc[rows["verdi"].notna() & (rows["status"] == "")]
        latest = published.groupby("kommunenummer", sort=False).tail(1)
        fallback = rows.groupby("kommunenummer", sort=False).tail(1)
        fallback = fallback.loc[~fallback["kommunenummer"].isin(latest["kommunenummer"])]
        chosen = pd.concat([latest, fallback])
        by_kommune = {}
        for knr, aar, verdi, status, enhet, syntetisk in zip(
            chosen["kommunenummer"],
            chosen["aar"].astype(int),
            chosen["verdi"],
            chosen["status"],
            chosen["enhet"],
            chosen["syntetisk"],
            strict=True,
        ):
            value = None if pd.isna(verdi) else float(verdi)
            landet_value = national.get(aar)
            by_kommune[knr] = Headline(
                indicator=indicator,
                label=indicator,
                unit=enhet,
                year=aar,
                value=value,
                status="" if value is not None else (status or ".."),
                landet=None
                if landet_value is None or pd.isna(landet_value)
                else float(landet_value),
                synthetic=bool(syntetisk),
            )
        result[indicator] = by_kommune
    return result


def headline_numbers(
    latest: Mapping[str, Mapping[str, Headline]],
    kommunenummer: str,
    labels: Mapping[str, str] | None = None,
) -> list[Headline]:
    """The kommune's headline numbers in :data:`HEADLINE_INDICATORS` order (see
    :func:`latest_values`), labelled from the catalog."""
    labels = labels or {}
    result = []
    for indicator in HEADLINE_INDICATORS:
        found = latest.get(indicator, {}).get(kommunenummer)
        if found is None:
            continue
        label = labels.get(indicator, indicator.replace("_", " ").capitalize())
        result.append(dataclasses.replace(found, label=label))
    return result


def indicator_info(item: Any) -> IndicatorInfo:
    """Normalise a catalog entry (object with attributes, or dict) to :class:`IndicatorInfo`."""

    def get(name: str, default: Any = "") -> Any:
        if isinstance(item, Mapping):
            return item.get(name, default)
        return getattr(item, name, default)

    synthetic = get("synthetic", None)
    return IndicatorInfo(
        id=str(get("id")),
        label=str(get("label") or get("id")),
        definition=str(get("definition") or ""),
        unit=str(get("unit") or ""),
        kind=str(get("kind") or ""),
        source=str(get("source") or ""),
        table=str(get("table") or ""),
        file=str(get("file") or ""),
        synthetic=None if synthetic is None else bool(synthetic),
        hidden=bool(get("hidden", False)),
    )


def _matching_files(
    ind: IndicatorInfo, provenance: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    matches = []
    for prov in provenance:
        name = str(prov.get("name", ""))
        if prov.get("source") != ind.source:
            continue
        if (
            (ind.file and name == ind.file)
            or (ind.table and str(prov.get("table_id") or "") == ind.table)
            or (ind.table and Path(name).stem == ind.table)
            or ind.source == "imdi"
        ):
            matches.append(prov)
    if ind.source == "imdi" and len(matches) > 1:
        # Several IMDi exports describe the same series; the long file is the one read.
        longest = [m for m in matches if "long" in str(m.get("name", ""))]
        matches = longest or matches
    return matches


def _day(stamp: Any) -> str:
    return str(stamp)[:10] if stamp else ""


def method_context(
    catalog: Sequence[Any], provenance: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Template context of the "Data og metode" page (pure)."""
    indicators = []
    for item in catalog:
        ind = indicator_info(item)
        if ind.hidden:
            continue
        files = _matching_files(ind, provenance)
        # The raw files' provenance is the truth; the catalog's flag covers a project with
        # no data yet.
        from_files = any(bool(f.get("synthetic")) for f in files)
        synthetic = from_files if files else bool(ind.synthetic)
        retrieved = sorted({_day(f.get("fetched_at")) for f in files if f.get("fetched_at")})
        updated = sorted({_day(f.get("source_updated")) for f in files if f.get("source_updated")})
        source_name = {"ssb": "SSB", "imdi": "IMDi", "klass": "SSB KLASS", "geo": "Kartverket"}
        source_text = source_name.get(ind.source, ind.source)
        if ind.table and ind.source == "ssb":
            source_text = f"SSB tabell {ind.table}"
        elif ind.table and ind.table not in source_text:
            source_text = f"{source_text} ({ind.table})"
        indicators.append(
            {
                "id": ind.id,
                "label": ind.label,
                "definition": ind.definition,
                "unit": ind.unit,
                "kind_text": {"count": "telling", "rate": "rate"}.get(ind.kind, ind.kind),
                "source_text": source_text,
                "retrieved": ", ".join(retrieved),
                "source_updated": ", ".join(updated),
                "synthetic": synthetic,
            }
        )
    files = [
        {
            "source": f.get("source", ""),
            "name": f.get("name", ""),
            "dataset": f.get("dataset") or "",
            "retrieved": _day(f.get("fetched_at")),
            "source_updated": _day(f.get("source_updated")),
            "synthetic": bool(f.get("synthetic")),
        }
        for f in provenance
    ]
    return {
        "indicators": indicators,
        "synthetic_indicators": [i for i in indicators if i["synthetic"]],
        "files": files,
        "synthetic_files": [f for f in files if f["synthetic"]],
    }


# --------------------------------------------------------------------------------------------
# Site model: every page's content, shared by both renderers


@dataclass
class Page:
    """One generated (non-report) page."""

    path: str  # relative to the site root, e.g. "kommuner/3203-asker/index.html"
    kind: str
    title: str
    content: str
    active: str = ""
    breadcrumbs: list[dict[str, str]] = field(default_factory=list)
    synthetic: bool = False
    needs_filter: bool = False

    @property
    def root(self) -> str:
        return "../" * self.path.count("/")


@dataclass
class ReportPage:
    """One report page to convert: where from, where to, and its layout context."""

    source: Path
    path: str
    title: str
    kommunenavn: str
    fylkesnavn: str
    analysis: str
    synthetic: bool
    breadcrumbs: list[dict[str, str]]
    siblings: list[dict[str, str]]


@dataclass
class SiteModel:
    pages: list[Page]
    reports: list[ReportPage]
    kommuner: int
    any_synthetic: bool


def _jinja_env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        trim_blocks=False,
        lstrip_blocks=False,
        undefined=jinja2.StrictUndefined,
    )
    return env


def build_model(inputs: SiteInputs, *, renderer_text: str, built: str) -> SiteModel:
    """Work out every page of the site and render the content of the generated pages."""
    env = _jinja_env()
    registry = validate_registry(inputs.registry)
    reports = discover_reports(inputs.reports_dir)
    known = set(registry["kommunenummer"])
    unknown = sorted(set(reports) - known)
    if unknown:
        print(
            f"boso site: hopper over rapporter for kommunenummer som ikke finnes i "
            f"kommuneregisteret: {', '.join(unknown)}",
            file=sys.stderr,
        )
    catalog = [indicator_info(c) for c in inputs.catalog]
    labels = {c.id: c.label for c in catalog}
    latest = latest_values(inputs.indicator_tables)
    any_synthetic = any(r.synthetic for rs in reports.values() for r in rs) or any(
        bool(p.get("synthetic")) for p in inputs.provenance
    )

    pages: list[Page] = []
    report_pages: list[ReportPage] = []
    fylker: list[dict[str, Any]] = []
    listing: dict[str, list[dict[str, Any]]] = {}
    for row in registry.itertuples(index=False):
        knr, navn = row.kommunenummer, row.kommunenavn
        folder = kommune_dir(knr, navn)
        kostra = str(row.kostragruppenavn or row.kostragruppe or "")
        if kostra and kostra.startswith("EKG"):
            kostra = f"KOSTRA-gruppe {int(kostra[3:])}" if kostra[3:].isdigit() else kostra
        info = {
            "kommunenummer": knr,
            "kommunenavn": navn,
            "fylkesnummer": row.fylkesnummer,
            "fylkesnavn": row.fylkesnavn,
            "kostragruppe": kostra,
        }
        own_reports = reports.get(knr, [])
        if not any(f["nummer"] == row.fylkesnummer for f in fylker):
            fylker.append({"nummer": row.fylkesnummer, "navn": row.fylkesnavn, "kommuner": []})
            listing[row.fylkesnummer] = fylker[-1]["kommuner"]
        listing[row.fylkesnummer].append(
            {
                **info,
                "folder": folder,
                "n_reports": len(own_reports),
                "search": f"{navn} {knr} {row.fylkesnavn}",
            }
        )

        kommune_path = f"kommuner/{folder}/index.html"
        crumbs = [
            {"text": "Forside", "href": "index.html"},
            {"text": "Kommuner", "href": "kommuner/index.html"},
        ]
        siblings = [
            {"analysis": r.analysis, "title": r.title, "href": f"{r.analysis}.html"}
            for r in own_reports
        ]
        present = {r.analysis for r in own_reports}
        listed = [
            {"title": r.title, "href": f"{r.analysis}.html", "synthetic": r.synthetic}
            for r in own_reports
        ]
        if own_reports:
            listed += [
                {"title": ANALYSIS_TITLES[a], "href": "", "synthetic": False}
                for a in ANALYSES
                if a not in present
            ]
        headlines = headline_numbers(latest, knr, labels)
        chapter_links = [
            {"href": f"statistikkvedlegg.{fmt}", "text": text}
            for fmt, text in (
                ("pdf", "Statistikkvedlegg (PDF)"),
                ("docx", "Statistikkvedlegg (Word)"),
            )
            if fmt in inputs.chapters.get(knr, ())
        ]
        content = env.get_template("content_kommune.html.j2").render(
            kommune=info, headlines=headlines, reports=listed, chapter=chapter_links
        )
        pages.append(
            Page(
                path=kommune_path,
                kind="kommune",
                title=navn,
                content=content,
                active="kommuner",
                breadcrumbs=[*crumbs, {"text": navn, "href": ""}],
                synthetic=any(h.synthetic for h in headlines),
            )
        )
        for report in own_reports:
            report_pages.append(
                ReportPage(
                    source=report.path,
                    path=f"kommuner/{folder}/{report.analysis}.html",
                    title=f"{report.title} – {navn}",
                    kommunenavn=navn,
                    fylkesnavn=str(row.fylkesnavn),
                    analysis=report.analysis,
                    synthetic=report.synthetic,
                    breadcrumbs=[
                        *crumbs,
                        {"text": navn, "href": kommune_path},
                        {"text": report.title, "href": ""},
                    ],
                    siblings=siblings,
                )
            )

    def hrefs(prefix: str) -> list[dict[str, Any]]:
        return [
            {
                **f,
                "kommuner": [
                    {**k, "href": f"{prefix}{k['folder']}/index.html"} for k in f["kommuner"]
                ],
            }
            for f in fylker
        ]

    n_reports = sum(len(r) for k, r in reports.items() if k in known)
    counts = {
        "n_kommuner": len(registry),
        "n_with_reports": sum(1 for k in reports if k in known),
        "n_reports": n_reports,
    }
    index = env.get_template("content_index.html.j2").render(
        fylker=hrefs("kommuner/"), any_synthetic=any_synthetic, root="", **counts
    )
    pages.insert(0, Page("index.html", "forside", "Forside", index, "forside", needs_filter=True))
    kommuner_page = env.get_template("content_kommuner.html.j2").render(fylker=hrefs(""), **counts)
    pages.insert(
        1,
        Page(
            "kommuner/index.html",
            "kommuner",
            "Kommuner",
            kommuner_page,
            "kommuner",
            breadcrumbs=[
                {"text": "Forside", "href": "index.html"},
                {"text": "Kommuner", "href": ""},
            ],
            needs_filter=True,
        ),
    )
    method = method_context(catalog, inputs.provenance)
    pages.append(
        Page(
            "data-og-metode.html",
            "metode",
            "Data og metode",
            env.get_template("content_metode.html.j2").render(
                synthetic_notice=SYNTHETIC_NOTICE,
                synthetic_annotation=SYNTHETIC_ANNOTATION,
                **method,
            ),
            "metode",
            synthetic=bool(method["synthetic_indicators"] or method["synthetic_files"]),
        )
    )
    pages.append(
        Page(
            "om.html",
            "om",
            "Om",
            env.get_template("content_om.html.j2").render(renderer_text=renderer_text, built=built),
            "om",
        )
    )
    return SiteModel(pages, report_pages, len(registry), any_synthetic)


# --------------------------------------------------------------------------------------------
# nbconvert renderer

_WORKER: dict[str, Any] = {}


def _exporter_class() -> type:
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter

    class ReportExporter(HTMLExporter):
        """HTMLExporter without its per-page BeautifulSoup pass.

        After rendering, HTMLExporter re-parses and re-serialises every page with BeautifulSoup
        to add alt text to ``<img>`` without one and ``tabindex`` to JupyterLab wrappers. Our
        fragment has neither wrapper, and boso figures are plotly divs; the pass cost ≈ 40 %
        of the conversion time on real reports. The first call goes through HTMLExporter so
        that its Jinja filters are registered; later calls render the template directly.
        """

        _filters_ready = False

        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
            if not self._filters_ready:
                self._filters_ready = True
                return super().from_notebook_node(nb, resources, **kw)
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportExporter


def _exporter() -> Any:
    """One HTMLExporter per process (building it costs ≈ 0.3 s; converting ≈ 10-50 ms)."""
    if "exporter" not in _WORKER:
        from traitlets.config import Config

        config = Config()
        # Pygments CSS is only for code inputs, which the site never shows.
        config.CSSHTMLHeaderPreprocessor.enabled = False
        config.HTMLExporter.exclude_input = True
        config.HTMLExporter.exclude_input_prompt = True
        config.HTMLExporter.exclude_output_prompt = True
        # The default preprocessors (attachments, widget state, stream coalescing...) have
        # nothing to do on published reports, yet each re-validates the notebook.
        config.HTMLExporter.default_preprocessors = []
        _WORKER["exporter"] = _exporter_class()(
            config=config,
            template_name="lab",
            # An absolute path: nbconvert adds its folder to the template search path.
            template_file=str(TEMPLATES / "nbconvert_report.html.j2"),
        )
        _WORKER["env"] = _jinja_env()
    return _WORKER["exporter"]


def _layout_html(env: Any, page: Page | ReportPage, content: str, built: str, **extra: Any) -> str:
    root = "../" * page.path.count("/")
    return env.get_template("layout.html.j2").render(
        title=page.title,
        site_title=SITE_TITLE,
        root=root,
        nav=NAV,
        active=getattr(page, "active", "kommuner") or "",
        page_kind=getattr(page, "kind", "report"),
        breadcrumbs=page.breadcrumbs,
        synthetic=page.synthetic,
        synthetic_notice=SYNTHETIC_NOTICE,
        synthetic_detail=SYNTHETIC_DETAIL,
        content=content,
        built=built,
        needs_plotly=extra.get("needs_plotly", False),
        needs_filter=getattr(page, "needs_filter", False),
    )


def _page_outputs(outputs: list[Any]) -> list[Any]:
    """A cell's outputs as a page shows them: without the caption outputs that repeat a
    figure's caption for notebook front ends (the figure's own HTML carries it here)."""
    return [o for o in outputs if output_kind(o) != CAPTION_KIND]


def report_content(page: ReportPage) -> str:
    """The content of one report page: analysis links and the nbconvert body (both renderers).

    Raises:
        DataError: The notebook cannot be read.
    """
    import nbformat
    from nbformat.v4.rwbase import rejoin_lines

    exporter = _exporter()
    env = _WORKER["env"]
    try:
        # papermill wrote and validated these; skipping nbformat's schema validation here
        # saves a quarter of the conversion time.
        nb = rejoin_lines(nbformat.from_dict(json.loads(page.source.read_text("utf-8"))))
        if nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
            raise ValueError("ikke en notatbok i nbformat 4")
        # The page draws each figure from its text/html output; the duplicate plotly JSON is
        # never shown, and deep-copying it was most of nbconvert's time per page.
        for cell in nb.cells:
            if cell.get("outputs"):
                cell["outputs"] = _page_outputs(cell["outputs"])
            for output in cell.get("outputs") or ():
                (output.get("data") or {}).pop(PLOTLY_MIME, None)
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, TypeError) as exc:
        raise DataError(f"{page.source}: kan ikke lese notatboken ({exc})") from exc
    body, _ = exporter.from_notebook_node(nb)
    return env.get_template("content_report.html.j2").render(
        kommune={"kommunenavn": page.kommunenavn, "fylkesnavn": page.fylkesnavn},
        report={"analysis": page.analysis},
        siblings=page.siblings,
        body=body,
    )


def render_report(page: ReportPage, built: str) -> str:
    """The full HTML of one report page (nbconvert body inside the shared layout)."""
    content = report_content(page)
    return _layout_html(_WORKER["env"], page, content, built, needs_plotly=True)


def _convert_batch(batch: list[tuple[ReportPage, str, str]]) -> list[tuple[str, int]]:
    out = []
    for page, target, built in batch:
        html = render_report(page, built)
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        data = html.encode("utf-8")
        Path(target).write_bytes(data)
        out.append((page.path, len(data)))
    return out


def _copy_assets(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for asset in ASSETS.iterdir():
        if asset.is_file() and not asset.name.startswith("."):
            shutil.copy2(asset, target / asset.name)
    plotly_js = plotly_js_path()
    shutil.copy2(plotly_js, target / "plotly.min.js")


def plotly_js_path() -> Path:
    """plotly.min.js from the installed plotly package (shipped once per site, never inlined)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise BosoError(f"finner ikke plotly.min.js i plotly-pakken ({path})")
    return path


def render_nbconvert(
    model: SiteModel, out_dir: Path, *, built: str, jobs: int | None = None
) -> dict[str, int]:
    """Write the whole site with nbconvert + Jinja2 into ``out_dir``; returns page sizes."""
    env = _jinja_env()
    sizes: dict[str, int] = {}
    for page in model.pages:
        target = out_dir / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = _layout_html(env, page, page.content, built).encode("utf-8")
        target.write_bytes(data)
        sizes[page.path] = len(data)
    _copy_assets(out_dir / "assets")

    from tqdm import tqdm

    tasks = [(page, str(out_dir / page.path), built) for page in model.reports]
    jobs = max(1, jobs or os.cpu_count() or 1)
    # disable=None: a progress bar on a terminal only, not in logs or CI output.
    progress = tqdm(total=len(tasks), unit="side", desc="rapportsider", disable=None)
    with progress:
        if jobs == 1 or len(tasks) < 40:
            for task in tasks:
                sizes.update(_convert_batch([task]))
                progress.update(1)
        else:
            # Batches amortise pickling and keep the cores busy; each worker builds its
            # exporter once.
            size = max(10, math.ceil(len(tasks) / (jobs * 8)))
            batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
            with _worker_pool(jobs) as pool:
                for result in pool.map(_convert_batch, batches):
                    sizes.update(result)
                    progress.update(len(result))
    return sizes


# --------------------------------------------------------------------------------------------
# Quarto renderer
#
# Every page, the reports included, reaches Quarto as a ``.qmd``: YAML front matter, then the
# fallback's breadcrumb trail, the synthetic-data banner (a fenced Div), the page content and
# the footer. The content is a raw HTML block; for a report it is the nbconvert body the
# fallback shows. No ``.ipynb`` goes to Quarto: it adds require.js and jQuery from a CDN to
# every notebook with HTML outputs, with no option to turn that off (docs/site-quarto.md).

QUARTO_STATE_NAME = ".boso-quarto.json"
QUARTO_TITLE_PARTIAL = "_partials/title-block.html"
# Above this share of stale pages one `quarto render` of the whole project is cheaper than one
# call per page (each call pays Quarto's start-up and project scan).
QUARTO_INCREMENTAL_SHARE = 0.25
_QUARTO_STATE_VERSION = 1


def default_quarto_config() -> str:
    """A ``_quarto.yml`` equivalent to the project's, for installs without the checkout."""
    nav = "\n".join(f"      - text: {item.text}\n        href: {item.source}" for item in NAV)
    return f"""project:
  type: website
  output-dir: _site
  resources:
    - assets/
website:
  title: "{SITE_TITLE}"
  navbar:
    search: true
    left:
{nav}
  search:
    location: navbar
    type: textbox
lang: nb
execute:
  enabled: false
format:
  html:
    css: assets/boso.css
    html-math-method: plain
    toc: false
    html-table-processing: none
    template-partials:
      - {QUARTO_TITLE_PARTIAL}
    embed-resources: false
"""


_MD_MARKUP = set("\\`*_[]<>#$@^~{}|\"'&")


def _md_text(text: str) -> str:
    """``text`` as literal Markdown inline text.

    Marks that make markup are backslash-escaped, and so are runs of ``-`` and ``.`` (which
    smart punctuation would turn into dashes and ellipses); the rest stays as written, since
    Quarto may also show a title's YAML text as it is.
    """
    out = []
    for i, char in enumerate(text):
        repeated = char in "-." and char in (text[i - 1 : i] + text[i + 1 : i + 2])
        out.append(f"\\{char}" if char in _MD_MARKUP or repeated else char)
    return "".join(out)


def _yaml_string(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def _raw_html(html: str) -> str:
    """A raw HTML block whose fence no backtick run inside ``html`` can close."""
    longest = max((len(run) for run in re.findall(r"`+", html)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{html.strip(chr(10))}\n{fence}\n"


_PIECES: dict[str, Any] = {}


def _page_pieces() -> Any:
    """The macros of ``_page.html.j2`` (breadcrumbs, banner, footer) shared with the layout."""
    if "module" not in _PIECES:
        _PIECES["module"] = _jinja_env().get_template("_page.html.j2").module
    return _PIECES["module"]


def quarto_page(
    *,
    title: str,
    path: str,
    kind: str,
    active: str,
    breadcrumbs: Sequence[Mapping[str, str]],
    synthetic: bool,
    content: str,
    built: str,
    plotly: bool = False,
    filter_script: bool = False,
) -> str:
    """One Quarto page source with the fallback layout's pieces around ``content``.

    Args:
        title: The page title (YAML ``title``; the visible ``<h1>`` is in ``content``).
        path: The page's path in the site, e.g. ``kommuner/3203-asker/startlan.html``.
        kind: Page kind (body class ``boso-<kind>`` as in the fallback).
        active: The navbar entry the page belongs to (body class ``boso-nav-<active>``).
        breadcrumbs: ``{"text", "href"}`` items, hrefs relative to the site root.
        synthetic: Show the synthetic-data banner.
        content: The page content (HTML).
        built: Build time shown in the footer.
        plotly: Load the shared ``assets/plotly.min.js`` in the page head.
        filter_script: Load ``assets/boso.js`` (kommune filter) at the end of the body.

    Returns:
        The ``.qmd`` text.
    """
    root = "../" * path.count("/")
    pieces = _page_pieces()
    classes = f"boso-page boso-{kind}" + (f" boso-nav-{active}" if active else "")
    meta = [f"title: {_yaml_string(_md_text(title))}", f"body-classes: {_yaml_string(classes)}"]
    if plotly:
        script = f'<script src="{root}assets/plotly.min.js"></script>'
        meta.append(f"include-in-header:\n  text: {_yaml_string(script)}")
    if filter_script:
        script = f'<script src="{root}assets/boso.js"></script>'
        meta.append(f"include-after-body:\n  text: {_yaml_string(script)}")
    blocks = []
    if breadcrumbs:
        blocks.append(_raw_html(str(pieces.breadcrumbs(breadcrumbs, root))))
    if synthetic:
        blocks.append(
            '::: {.boso-synthetic .boso-synthetic-banner role="note"}\n'
            f"**{_md_text(SYNTHETIC_NOTICE)}.** {_md_text(SYNTHETIC_DETAIL)}\n:::\n"
        )
    blocks.append(_raw_html(content))
    blocks.append(_raw_html(str(pieces.footer(SITE_TITLE, built, root))))
    return "---\n" + "\n".join(meta) + "\n---\n\n" + "\n".join(blocks)


def _qmd(page: Page, built: str = "") -> str:
    return quarto_page(
        title=page.title,
        path=page.path,
        kind=page.kind,
        active=page.active,
        breadcrumbs=page.breadcrumbs,
        synthetic=page.synthetic,
        content=page.content,
        built=built,
        filter_script=page.needs_filter,
    )


def quarto_report_page(page: ReportPage, built: str) -> str:
    """The ``.qmd`` of one report page: the fallback's report content as raw HTML.

    Raises:
        DataError: The notebook cannot be read.
    """
    return quarto_page(
        title=page.title,
        path=page.path,
        kind="report",
        active="kommuner",
        breadcrumbs=page.breadcrumbs,
        synthetic=page.synthetic,
        content=report_content(page),
        built=built,
        plotly=True,
    )


def quarto_report_notebook(page: ReportPage) -> dict[str, Any]:
    """A report notebook prepared for rendering with Quarto as ``.ipynb`` (not used by the site).

    The site hands Quarto :func:`quarto_report_page` instead: Quarto adds require.js and jQuery
    from a CDN to any notebook with HTML outputs. The added cells keep their source as a list
    of lines ending in ``\\n``; Quarto joins a plain string into one line. The plotly JSON is
    dropped, or Quarto would inline plotly.js (≈ 4.8 MB) into the page.
    """
    nb = json.loads(page.source.read_text("utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("outputs"):
            cell["outputs"] = _page_outputs(cell["outputs"])
        for output in cell.get("outputs") or ():
            (output.get("data") or {}).pop(PLOTLY_MIME, None)
    root = "../" * page.path.count("/")
    script = f'<script src="{root}assets/plotly.min.js"></script>'
    front = (
        "---\n"
        f"title: {_yaml_string(_md_text(page.title))}\n"
        f"include-in-header:\n  text: {_yaml_string(script)}\n"
        "---\n"
    )
    cells = [
        {
            "cell_type": "raw",
            "id": "boso-front-matter",
            "metadata": {},
            "source": front.splitlines(keepends=True),
        }
    ]
    if page.synthetic:
        banner = (
            '::: {.boso-synthetic .boso-synthetic-banner role="note"}\n'
            f"**{_md_text(SYNTHETIC_NOTICE)}.** {_md_text(SYNTHETIC_DETAIL)}\n:::\n"
        )
        cells.append(
            {
                "cell_type": "markdown",
                "id": "boso-synthetic-notice",
                "metadata": {},
                "source": banner.splitlines(keepends=True),
            }
        )
    nb["cells"] = cells + nb.get("cells", [])
    return nb


def quarto_source_path(page_path: str) -> str:
    """The source of a site page: ``kommuner/x/startlan.html`` -> ``kommuner/x/startlan.qmd``."""
    return page_path.removesuffix(".html") + ".qmd"


def _digest(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def _page_key(page: Page) -> str:
    return _digest(json.dumps(dataclasses.asdict(page), sort_keys=True, ensure_ascii=False))


def _report_key(page: ReportPage) -> str:
    fields = json.dumps(dataclasses.asdict(page), sort_keys=True, ensure_ascii=False, default=str)
    try:
        notebook = page.source.read_bytes()
    except OSError as exc:
        raise DataError(f"{page.source}: kan ikke lese notatboken ({exc})") from exc
    return _digest(fields, notebook)


def _quarto_global_key(config: str) -> str:
    """What every page depends on: the config, this module, templates, assets, converters."""
    import nbconvert
    import plotly

    parts: list[str | bytes] = [
        str(_QUARTO_STATE_VERSION),
        config,
        Path(__file__).read_bytes(),
        plotly.__version__,
        nbconvert.__version__,
    ]
    for folder in (TEMPLATES, ASSETS):
        for path in sorted(folder.iterdir()):
            if path.is_file():
                parts += [path.name, path.read_bytes()]
    return _digest(*parts)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def _quarto_output_dir(src_dir: Path, config: str, where: str) -> Path:
    import yaml

    try:
        parsed = yaml.safe_load(config) or {}
        output = (parsed.get("project") or {}).get("output-dir") or "_site"
    except (yaml.YAMLError, AttributeError) as exc:
        raise BosoError(f"{where}: ikke gyldig YAML ({exc.__class__.__name__})") from exc
    output_dir = src_dir / str(output)
    # Quarto writes into output-dir as it goes; only boso's swap may touch the published site.
    if not output_dir.resolve().is_relative_to(src_dir.resolve()) or output_dir == src_dir:
        raise BosoError(f"{where}: project.output-dir ({output}) må ligge inne i {src_dir}")
    return output_dir


@dataclass
class QuartoPlan:
    """What :func:`write_quarto_sources` wrote and what Quarto must (re)render.

    Attributes:
        src_dir: The Quarto project (``site_src/``).
        output_dir: Quarto's ``output-dir`` inside it, kept between runs.
        sources: Every page source (relative path) with the hash of its inputs.
        written: Sources written in this run (inputs changed or file missing).
        removed: Sources deleted because their page is gone.
        render: Sources whose rendered page is missing or older than their inputs.
        full: Render the whole project in one call instead of page by page.
        state: The record kept in ``site_src/.boso-quarto.json``.
    """

    src_dir: Path
    output_dir: Path
    sources: dict[str, str]
    written: list[str]
    removed: list[str]
    render: list[str]
    full: bool
    state: dict[str, Any]

    def save(self) -> None:
        _write_atomic(
            self.src_dir / QUARTO_STATE_NAME, json.dumps(self.state, ensure_ascii=False, indent=1)
        )


def _write_report_sources(batch: list[tuple[ReportPage, str, str]]) -> list[str]:
    for page, target, built in batch:
        _write_atomic(Path(target), quarto_report_page(page, built))
    return [page.path for page, _, _ in batch]


def write_quarto_sources(
    model: SiteModel,
    src_dir: Path,
    quarto_config: Path | None,
    *,
    built: str = "",
    jobs: int | None = None,
) -> QuartoPlan:
    """Write the page sources Quarto renders (``site_src/``), only those whose inputs changed.

    A page's inputs are hashed (a report: its notebook and its place in the site; the build
    time is not part of it, so an unchanged page keeps the footer date of its last render).
    When the config, this module, a template or an asset changes, every page is rewritten.
    Sources of pages that no longer exist are deleted with their rendered page.

    Args:
        model: The site (see :func:`build_model`).
        src_dir: The Quarto project directory.
        quarto_config: The project's ``_quarto.yml`` (default: :func:`default_quarto_config`).
        built: Build time for the footers of the pages written now.
        jobs: Worker processes for converting reports.

    Returns:
        The plan for :func:`render_quarto`.

    Raises:
        DataError: A report notebook cannot be read.
        BosoError: The config is not valid YAML.
    """
    src_dir = Path(src_dir)
    src_dir.mkdir(parents=True, exist_ok=True)
    if quarto_config and quarto_config.is_file():
        config, where = quarto_config.read_text("utf-8"), str(quarto_config)
    else:
        config, where = default_quarto_config(), "_quarto.yml"
    output_dir = _quarto_output_dir(src_dir, config, where)
    global_key = _quarto_global_key(config)
    state: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        state = json.loads((src_dir / QUARTO_STATE_NAME).read_text("utf-8"))
    if not isinstance(state, dict) or state.get("global") != global_key:
        state = {}
    known: dict[str, str] = state.get("sources") or {}
    rendered: dict[str, str] = state.get("rendered") or {}

    _write_atomic(src_dir / "_quarto.yml", config)
    partial = (TEMPLATES / "quarto-title-block.html").read_text("utf-8")
    _write_atomic(src_dir / QUARTO_TITLE_PARTIAL, partial)
    if not state or not (src_dir / "assets" / "plotly.min.js").is_file():
        _copy_assets(src_dir / "assets")

    sources: dict[str, str] = {}
    written: list[str] = []
    for page in model.pages:
        rel = quarto_source_path(page.path)
        sources[rel] = _page_key(page)
        if known.get(rel) != sources[rel] or not (src_dir / rel).is_file():
            _write_atomic(src_dir / rel, _qmd(page, built))
            written.append(rel)
    tasks = []
    for report in model.reports:
        rel = quarto_source_path(report.path)
        sources[rel] = _report_key(report)
        if known.get(rel) != sources[rel] or not (src_dir / rel).is_file():
            tasks.append((report, str(src_dir / rel), built))
            written.append(rel)
    _run_batches(_write_report_sources, tasks, jobs)

    removed = []
    for path in sorted([*src_dir.rglob("*.qmd"), *src_dir.rglob("*.ipynb")]):
        rel_parts = path.relative_to(src_dir).parts
        if path.is_relative_to(output_dir) or any(p.startswith(("_", ".")) for p in rel_parts):
            continue
        rel = "/".join(rel_parts)
        if rel not in sources:
            path.unlink()
            (output_dir / rel).with_suffix(".html").unlink(missing_ok=True)
            rendered.pop(rel, None)
            removed.append(rel)

    stale = [
        rel
        for rel, key in sources.items()
        if rendered.get(rel) != key or not (output_dir / rel).with_suffix(".html").is_file()
    ]
    full = (
        not rendered
        or not output_dir.is_dir()
        or len(stale) > QUARTO_INCREMENTAL_SHARE * max(1, len(sources))
    )
    state = {
        "version": _QUARTO_STATE_VERSION,
        "global": global_key,
        "sources": sources,
        "rendered": {rel: key for rel, key in rendered.items() if rel in sources},
        "last_render": state.get("last_render"),
    }
    plan = QuartoPlan(src_dir, output_dir, sources, written, removed, stale, full, state)
    plan.save()
    return plan


def _run_batches(func: Any, tasks: list[Any], jobs: int | None) -> None:
    """``func(batch)`` over ``tasks``: in this process when few, else in a process pool."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    if jobs == 1 or len(tasks) < 40:
        if tasks:
            func(tasks)
        return
    size = max(10, math.ceil(len(tasks) / (jobs * 8)))
    batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(func, batches))


def _quarto_executable() -> str:
    quarto = shutil.which("quarto")
    if not quarto:
        raise BosoError("quarto finnes ikke på PATH (bruk --renderer nbconvert)")
    return quarto


def _quarto_call(quarto: str, src_dir: Path, target: str | None) -> None:
    args = [quarto, "render"] + ([str(src_dir / target)] if target else [str(src_dir)])
    proc = subprocess.run(args, cwd=src_dir, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        where = f" ({target})" if target else ""
        raise BosoError(f"quarto render feilet{where}: {last}")


def render_quarto(
    src_dir: Path, out_dir: Path | None = None, plan: QuartoPlan | None = None
) -> None:
    """Run ``quarto render`` on the generated sources and copy the site into ``out_dir``.

    Quarto renders into the project's ``output-dir`` inside ``src_dir``, which is kept between
    runs: with a ``plan`` only the stale pages are rendered (``quarto render <file>`` each),
    unless the plan asks for the whole project. Pages rendered successfully are recorded in the
    plan's state, so a failed run re-renders only what is left.

    Raises:
        BosoError: Quarto is missing, fails, or leaves a page unrendered.
    """
    quarto = _quarto_executable()
    src_dir = Path(src_dir)
    if plan is None:
        _quarto_call(quarto, src_dir, None)
        output_dir = _quarto_output_dir(
            src_dir, (src_dir / "_quarto.yml").read_text("utf-8"), str(src_dir / "_quarto.yml")
        )
    else:
        output_dir = plan.output_dir
        rendered = plan.state["rendered"]
        start = time.perf_counter()
        # Outputs are removed before Quarto writes them again: a page that exists afterwards
        # was rendered by this call, not left over from an earlier run.
        if plan.full:
            rendered.clear()
            plan.save()
            shutil.rmtree(output_dir, ignore_errors=True)
            _quarto_call(quarto, src_dir, None)
            rendered.update(plan.sources)
            count = len(plan.sources)
        else:
            count = 0
            try:
                for rel in plan.render:
                    rendered.pop(rel, None)
                    (output_dir / rel).with_suffix(".html").unlink(missing_ok=True)
                    _quarto_call(quarto, src_dir, rel)
                    rendered[rel] = plan.sources[rel]
                    count += 1
            finally:
                plan.save()
        seconds = time.perf_counter() - start
        plan.state["last_render"] = {
            "mode": "project" if plan.full else "pages",
            "pages": count,
            "seconds": round(seconds, 2),
            "seconds_per_page": round(seconds / count, 3) if count else None,
        }
        missing = [
            rel for rel in plan.sources if not (output_dir / rel).with_suffix(".html").is_file()
        ]
        for rel in missing:
            rendered.pop(rel, None)
        plan.save()
        if missing:
            more = f" (og {len(missing) - 1} sider til)" if len(missing) > 1 else ""
            raise BosoError(f"quarto render laget ikke siden for {missing[0]}{more}")
    if out_dir is not None:
        if not output_dir.is_dir():
            raise BosoError(f"quarto render laget ikke {output_dir}")
        shutil.copytree(output_dir, out_dir, dirs_exist_ok=True)


def build_quarto(
    model: SiteModel,
    src_dir: Path,
    out_dir: Path,
    quarto_config: Path | None = None,
    *,
    built: str = "",
    jobs: int | None = None,
) -> dict[str, int]:
    """Write the sources, render what changed with Quarto, copy the site into ``out_dir``.

    Returns:
        Bytes per HTML page of the site.
    """
    _quarto_executable()  # before converting any report
    plan = write_quarto_sources(model, src_dir, quarto_config, built=built, jobs=jobs)
    render_quarto(src_dir, out_dir, plan)
    return {str(p.relative_to(out_dir)): p.stat().st_size for p in out_dir.rglob("*.html")}


# --------------------------------------------------------------------------------------------
# Orchestration (disk)


def _worker_pool(jobs: int) -> ProcessPoolExecutor:
    """Page-rendering workers that exit when this process dies (``kill -9`` included)."""
    from boso.lifetime import exit_with_parent

    return ProcessPoolExecutor(max_workers=jobs, initializer=exit_with_parent)


def _stale_prefixes(site_dir: Path) -> tuple[str, str]:
    return f".{site_dir.name}.build-", f".{site_dir.name}.old-"


def clean_leftovers(site_dir: Path) -> list[Path]:
    """Remove what a killed site build left beside ``site_dir`` (only once its owner is dead).

    Should ``site_dir`` be missing because a build was killed between the two renames of the
    fallback swap, the previous site is put back first.

    Returns:
        What was removed.
    """
    from boso.lifetime import owner, pid_alive, remove_stale

    build_prefix, old_prefix = _stale_prefixes(site_dir)
    if not site_dir.exists():
        old = [
            p
            for p in site_dir.parent.glob(f"{old_prefix}*")
            if (pid := owner(p.name, old_prefix)) is not None and not pid_alive(pid)
        ]
        if old:
            os.rename(sorted(old)[-1], site_dir)
    # Build folders of versions that did not name their owner: stale after a day.
    removed = remove_stale(site_dir.parent, build_prefix, unowned_after=86400)
    return removed + remove_stale(site_dir.parent, old_prefix)


def _swap_in(build_dir: Path, site_dir: Path) -> None:
    """Replace ``site_dir`` by ``build_dir``: one exchange where the system can, else two
    renames (same file system)."""
    from boso.lifetime import exchange

    if site_dir.exists() and exchange(build_dir, site_dir):
        shutil.rmtree(build_dir, ignore_errors=True)  # now the previous site
        return
    old = None
    if site_dir.exists():
        old = site_dir.with_name(f".{site_dir.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(site_dir, old)
    try:
        os.replace(build_dir, site_dir)
    except BaseException:
        if old is not None:
            os.replace(old, site_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def choose_renderer(requested: str = "auto") -> str:
    """``quarto`` when requested or (for ``auto``) when it is on PATH, else ``nbconvert``."""
    if requested not in RENDERERS:
        raise BosoError(f"ukjent renderer {requested!r} (velg {', '.join(RENDERERS)})")
    if requested == "auto":
        return "quarto" if shutil.which("quarto") else "nbconvert"
    return requested


def build_site(
    inputs: SiteInputs,
    site_dir: Path,
    *,
    renderer: str = "auto",
    source_dir: Path | None = None,
    jobs: int | None = None,
) -> SiteResult:
    """Build the site from ``inputs`` into ``site_dir`` (swapped in atomically).

    Args:
        inputs: What to build from (see :func:`load_inputs`).
        site_dir: The published directory, e.g. ``_site``.
        renderer: ``auto`` (Quarto when on PATH), ``quarto`` or ``nbconvert``.
        source_dir: Where Quarto page sources go (default ``site_src`` beside ``site_dir``).
        jobs: Worker processes for the nbconvert renderer (default: CPU count).

    Returns:
        What was built.

    Raises:
        DataError: The registry or a report notebook is malformed.
        BosoError: Quarto was requested but is missing or failed.
    """
    start = time.perf_counter()
    chosen = choose_renderer(renderer)
    built = dt.datetime.now().astimezone().strftime("%d.%m.%Y %H:%M")
    renderer_text = "Quarto" if chosen == "quarto" else "nbconvert og Jinja2 (uten Quarto)"
    model = build_model(inputs, renderer_text=renderer_text, built=built)

    site_dir = Path(site_dir)
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(site_dir)
    # The owner's pid in the name lets the next run tell a killed build from a running one.
    build_dir = Path(
        tempfile.mkdtemp(prefix=f".{site_dir.name}.build-{os.getpid()}-", dir=site_dir.parent)
    )
    try:
        if chosen == "quarto":
            src = source_dir or site_dir.parent / "site_src"
            sizes = build_quarto(
                model, src, build_dir, inputs.quarto_config, built=built, jobs=jobs
            )
        else:
            sizes = render_nbconvert(model, build_dir, built=built, jobs=jobs)
        seconds = time.perf_counter() - start
        manifest = {
            "renderer": chosen,
            "built": built,
            "seconds": round(seconds, 2),
            "kommuner": model.kommuner,
            "pages": len(sizes),
            "report_pages": [p.path for p in model.reports],
            "synthetic_pages": sorted(
                [p.path for p in model.pages if p.synthetic]
                + [p.path for p in model.reports if p.synthetic]
            ),
            "page_bytes": sizes,
        }
        (build_dir / MANIFEST_NAME).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8"
        )
        os.chmod(build_dir, 0o755)  # mkdtemp makes it 0700; a served site must be readable
        from boso.chapter.runner import keep_chapters  # boso chapter's files outlive a rebuild

        keep_chapters(site_dir, build_dir)
        _swap_in(build_dir, site_dir)
    except BaseException:
        shutil.rmtree(build_dir, ignore_errors=True)
        raise
    return SiteResult(
        renderer=chosen,
        site_dir=site_dir,
        pages=len(sizes),
        report_pages=len(model.reports),
        kommuner=model.kommuner,
        seconds=time.perf_counter() - start,
    )


def _load_registry(processed: Path) -> pd.DataFrame:
    try:
        from boso.processed import kommuner  # type: ignore[attr-defined]
    except ImportError:
        kommuner = None
    if kommuner is not None:
        try:
            return kommuner()
        except (BosoError, FileNotFoundError, OSError):
            pass
    path = processed / "core_klass__kommuner.parquet"
    if not path.is_file():
        raise DataError(f"kommuneregisteret mangler ({path}): kjør `boso build` først")
    return pd.read_parquet(path)


def _load_catalog() -> list[Any]:
    try:
        from boso.catalog import load_catalog  # type: ignore[attr-defined]

        return list(load_catalog().values())
    except ImportError:
        # Until boso.catalog exists: read the declarations straight from catalog.toml.
        with open(PACKAGE_DIR / "catalog.toml", "rb") as handle:
            table = tomllib.load(handle).get("indicator", {})
        return [{"id": key, **value} for key, value in table.items()]


def load_inputs(root: Path | None = None) -> SiteInputs:
    """Gather the site's inputs from a project (``data/processed``, ``data/raw``, ``reports/``)."""
    from boso.raw import RawStore

    p = paths(root) if root else paths()
    provenance = []
    for raw_file in RawStore(p.raw).files():
        prov = raw_file.provenance
        provenance.append(
            {
                "source": raw_file.source,
                "name": raw_file.name,
                "fetched_at": prov.get("fetched_at"),
                "source_updated": prov.get("source_updated"),
                "synthetic": raw_file.synthetic,
                "dataset": prov.get("dataset"),
                "table_id": prov.get("table_id"),
            }
        )
    tables = {}
    for indicator in HEADLINE_INDICATORS:
        path = p.processed / f"out_boso__{indicator}.parquet"
        if path.is_file():
            tables[indicator] = pd.read_parquet(path)
    config = p.root / "_quarto.yml"
    from boso.chapter.runner import published_chapters

    return SiteInputs(
        registry=_load_registry(p.processed),
        reports_dir=p.reports,
        catalog=_load_catalog(),
        provenance=provenance,
        indicator_tables=tables,
        quarto_config=config if config.is_file() else None,
        chapters=published_chapters(p.site),
    )


def run_cli(args: Any) -> int:
    """``boso site [--renderer auto|quarto|nbconvert]``."""
    p = paths()
    requested = getattr(args, "renderer", "auto") or "auto"
    inputs = load_inputs(p.root)
    result = build_site(
        inputs,
        p.site,
        renderer=requested,
        source_dir=p.site_source,
        jobs=getattr(args, "jobs", None),
    )
    how = (
        "Quarto"
        if result.renderer == "quarto"
        else "nbconvert-reserven (quarto finnes ikke på PATH)"
        if requested == "auto"
        else "nbconvert"
    )
    print(
        f"nettstedet er bygget med {how}: {result.pages} sider "
        f"({result.report_pages} rapporter, {result.kommuner} kommuner) i {result.site_dir} "
        f"på {result.seconds:.1f} s"
    )
    print(f"åpne {result.site_dir / 'index.html'}")
    return 0
