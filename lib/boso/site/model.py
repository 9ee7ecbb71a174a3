"""The site model: what the site shows, worked out once for both renderers.

Reads the inputs (kommune registry, indicator catalog, raw provenance, headline tables and the
executed reports in ``reports/``) into :class:`SiteInputs`, and turns them into a
:class:`SiteModel`: every generated page with its rendered content (:class:`Page`) and every
report page to convert (:class:`ReportPage`). No file is written here; the renderers
(:mod:`boso.site.html`, :mod:`boso.site.quarto`) lay the model out.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from boso.catalog import Indicator, load_catalog
from boso.config import paths
from boso.errors import DataError
from boso.kommune import folder_name, fylker
from boso.outputs import (
    SYNTHETIC_ANNOTATION,
    SYNTHETIC_NOTICE,
    notebook_meta,
    output_synthetic,
)
from boso.processed import check_registry, load_registry
from boso.reports.results import ANALYSES, ERROR_NOTEBOOK_SUFFIX

PACKAGE_DIR = Path(__file__).resolve().parents[1]
TEMPLATES = PACKAGE_DIR / "templates"
SITE_TITLE = "Boligsosial statistikk"
SYNTHETIC_DETAIL = (
    "Noen tall på denne siden er oppdiktede demotall som viser hvordan verktøyet virker. "
    "De må ikke brukes som fakta."
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
    catalog: Sequence[Indicator | IndicatorInfo | Mapping[str, Any]] = ()
    provenance: Sequence[Mapping[str, Any]] = ()
    indicator_tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    quarto_config: Path | None = None
    # Kommunenummer → formats ("pdf", "docx") of the statistikkvedlegg already published.
    chapters: Mapping[str, Sequence[str]] = field(default_factory=dict)


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
    return folder_name(kommunenummer, kommunenavn)  # one spelling for report folders and URLs


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


def is_report_notebook(path: Path) -> bool:
    """Whether a notebook in a kommune's report folder is a report to publish.

    Papermill's temporary files (names starting with ``.``) are not, and neither is a failed
    report kept for inspection (``<analysis>.error.ipynb``): its numbers may be half computed.
    """
    return not path.name.startswith(".") and not path.name.endswith(ERROR_NOTEBOOK_SUFFIX)


def discover_reports(reports_dir: Path) -> dict[str, list[Report]]:
    """Executed reports by kommunenummer, in analysis order.

    Only ``<4 digits>-<slug>/<analysis>.ipynb`` counts (see :func:`is_report_notebook`).
    """
    found: dict[str, list[Report]] = {}
    if not reports_dir.is_dir():
        return found
    for folder in sorted(reports_dir.iterdir()):
        match = re.match(r"^(\d{4})-", folder.name)
        if not folder.is_dir() or not match:
            continue
        for nb_path in sorted(folder.glob("*.ipynb")):
            if not is_report_notebook(nb_path):
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


def indicator_info(item: Indicator | IndicatorInfo | Mapping[str, Any]) -> IndicatorInfo:
    """Normalise a catalog entry (``boso.catalog.Indicator``, a dict, or already an
    :class:`IndicatorInfo`) to :class:`IndicatorInfo`."""
    if isinstance(item, IndicatorInfo):
        return item
    if isinstance(item, Indicator):
        # The catalog does not flag synthetic data; the raw files' provenance does.
        return IndicatorInfo(
            id=item.id,
            label=item.label or item.id,
            definition=item.definition or "",
            unit=item.unit or "",
            kind=item.kind or "",
            source=item.source or "",
            table=item.table or "",
            file=item.file or "",
            synthetic=None,
            hidden=item.hidden,
        )
    synthetic = item.get("synthetic")
    return IndicatorInfo(
        id=str(item.get("id")),
        label=str(item.get("label") or item.get("id")),
        definition=str(item.get("definition") or ""),
        unit=str(item.get("unit") or ""),
        kind=str(item.get("kind") or ""),
        source=str(item.get("source") or ""),
        table=str(item.get("table") or ""),
        file=str(item.get("file") or ""),
        synthetic=None if synthetic is None else bool(synthetic),
        hidden=bool(item.get("hidden", False)),
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


def jinja_env() -> Any:
    """The Jinja2 environment of the site's templates (content, layout and page pieces)."""
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
    env = jinja_env()
    registry = check_registry(inputs.registry)
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
    listed_kommuner: dict[str, dict[str, Any]] = {}
    for row in registry.itertuples(index=False):
        knr, navn = row.kommunenummer, row.kommunenavn
        folder = kommune_dir(knr, navn)
        info = {
            "kommunenummer": knr,
            "kommunenavn": navn,
            "fylkesnummer": row.fylkesnummer,
            "fylkesnavn": row.fylkesnavn,
            "kostragruppe": row.kostragruppenavn,
        }
        own_reports = reports.get(knr, [])
        listed_kommuner[knr] = {
            **info,
            "path": f"{folder}/index.html",
            "n_reports": len(own_reports),
            "search": f"{navn} {knr} {row.fylkesnavn}",
        }

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
        """The kommune lists grouped by fylke, with links relative to the page's folder."""
        return [
            {
                "number": fylke.number,
                "name": fylke.name,
                "kommuner": [
                    {**listed_kommuner[knr], "href": prefix + listed_kommuner[knr]["path"]}
                    for knr in fylke.kommuner
                ],
            }
            for fylke in fylker(registry)
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
# Inputs from a project (disk)


def _load_catalog() -> list[Indicator]:
    return list(load_catalog().values())


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
        registry=load_registry(p.processed),
        reports_dir=p.reports,
        catalog=_load_catalog(),
        provenance=provenance,
        indicator_tables=tables,
        quarto_config=config if config.is_file() else None,
        chapters=published_chapters(p.site),
    )
