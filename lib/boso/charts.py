"""Chart builders: processed rows in, a :class:`Chart` or :class:`Table` out, house style.

The builders (:func:`lines`, :func:`level`, :func:`index_chart`, ...) are pure: they take
processed rows (see docs/data-model.md) and return a :class:`Chart` that :func:`show` displays
together with its generated one-sentence finding (the sentences are written by
:mod:`boso.text`), through the output contract of :mod:`boso.outputs`. Missing and suppressed
values are gaps (None), shaded and listed, never zero.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from boso import housing_need, indicators, outputs, text, trends
from boso.errors import QueryError
from boso.outputs import DEFAULT_HEIGHT, make_caption, save

# Okabe–Ito colours (colour-blind safe); the kommune is always the strong blue.
LEVEL_COLORS = {
    "kommune": "#0072B2",
    "kostragruppe": "#E69F00",
    "fylke": "#009E73",
    "landet": "#555555",
}
SERIES_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#555555"]
LEVEL_DASH = {"kommune": "solid", "kostragruppe": "dash", "fylke": "dot", "landet": "dashdot"}


# ------------------------------------------------------------------------------ catalog lookup
@dataclass(frozen=True)
class Meta:
    """What a chart needs to know about an indicator."""

    label: str
    unit: str
    kind: str
    decimals: int = 1


def indicator_meta(indicator: str, df: pd.DataFrame | None = None) -> Meta:
    """Label, unit and kind of an indicator from the catalog (falls back to the rows/the id)."""
    unit = ""
    if df is not None and "enhet" in df.columns and not df["enhet"].dropna().empty:
        unit = str(df["enhet"].dropna().iloc[0])
    try:
        from boso.catalog import load_catalog

        entry = load_catalog()[indicator]
        return Meta(
            str(entry.label), unit or str(entry.unit), str(entry.kind), entry.shown_decimals
        )
    except Exception:  # noqa: BLE001 - a missing catalog must not break a figure
        label = indicator.replace("_", " ").capitalize()
        kind = "rate" if unit and ("per" in unit or unit == "prosent") else "count"
        return Meta(label, unit, kind, 0 if kind == "count" else 1)


def _indicator_of(df: pd.DataFrame) -> str:
    if "indikator" in df.columns and not df["indikator"].dropna().empty:
        return str(df["indikator"].dropna().iloc[0])
    return ""


@dataclass
class Chart:
    """A built figure with everything :func:`show` needs."""

    fig: go.Figure
    data: pd.DataFrame
    title: str
    caption: str = ""
    sources: list[str] = field(default_factory=list)
    retrieved: str = ""
    synthetic: bool = False
    finding: str = ""
    empty: bool = False

    def y_values(self) -> list[list[Any]]:
        """The y arrays of the figure's traces (for tests and checks)."""
        return [list(t.y) if t.y is not None else [] for t in self.fig.data]

    def save(self, path: str, width: int = 900) -> Any:
        """Write the figure with its caption as PNG, SVG or PDF (see :func:`save`)."""
        return save(self, path, width=width)


@dataclass
class Table:
    """A built table with provenance."""

    df: pd.DataFrame
    title: str
    caption: str = ""
    sources: list[str] = field(default_factory=list)
    synthetic: bool = False
    finding: str = ""


def _flatten(items: Sequence[Any]) -> list[Chart | Table]:
    flat: list[Chart | Table] = []
    for item in items:
        if isinstance(item, list | tuple):
            flat.extend(_flatten(item))
        elif item is not None:
            flat.append(item)
    return flat


def show(*items: Chart | Table | Sequence[Chart | Table] | None) -> None:
    """Display charts/tables with their findings; an empty chart becomes a short notice.

    Two views of the same numbers (a line chart and a bar chart of the latest year) often share
    their finding: it is shown once.
    """
    said: set[str] = set()
    for item in _flatten(items):
        if item.finding and item.finding not in said:
            said.add(item.finding)
            finding = item.finding
        else:
            finding = ""
        if isinstance(item, Table):
            outputs.show_text(finding)
            outputs.show_table(item.df, item.caption, item.sources, item.synthetic, item.title)
            continue
        if item.empty:
            outputs.show_text(finding or f"Ingen tall å vise for «{item.title}».")
            continue
        outputs.show_text(finding)
        outputs.show_figure(
            item.fig,
            data=item.data,
            caption=item.caption,
            sources=item.sources,
            retrieved=item.retrieved,
            synthetic=item.synthetic,
            title=item.title,
        )


def base_layout(title: str, ytitle: str = "", xtitle: str = "År", **extra: Any) -> dict:
    """House style: white, Norwegian number separators, legend below, title left."""
    layout = {
        "template": "none",
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
        "separators": ", ",
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 13},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "height": DEFAULT_HEIGHT,
        "margin": {"l": 70, "r": 20, "t": 60, "b": 90},
        "xaxis": {
            "title": {"text": xtitle},
            "tickformat": "d",
            "showgrid": False,
            "linecolor": "#888",
            "ticks": "outside",
        },
        "yaxis": {
            "title": {"text": ytitle},
            "gridcolor": "#e6e6e6",
            "zeroline": False,
            "rangemode": "tozero",
            "separatethousands": True,
        },
        "legend": {"orientation": "h", "y": -0.2, "x": 0},
        "hovermode": "x unified",
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _yformat(values: Iterable[float], decimals: int | None = None) -> str:
    if decimals is not None:  # the indicator's declared precision
        return f",.{int(decimals)}f"
    finite = [abs(v) for v in values if v is not None and not math.isnan(v)]
    top = max(finite, default=0)
    return ",.0f" if top >= 100 else ",.1f" if top >= 1 else ",.2f"


def _none(values: Iterable[Any]) -> list[Any]:
    # plotly draws None as a gap; NaN would serialise as null too, but be explicit.
    return [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values
    ]


def _status_text(status: Iterable[Any]) -> list[str]:
    return [text.STATUS_LABELS.get(str(s or ""), str(s)) if s else "" for s in status]


def _line_trace(
    part: pd.DataFrame, name: str, level: str, value: str = "verdi", fmt: str = ",.1f"
) -> go.Scatter:
    part = part.sort_values("aar")
    statuses = part["status"].fillna("") if "status" in part else pd.Series([""] * len(part))
    notes = [
        text.STATUS_LABELS.get(str(s), str(s)) if pd.isna(v) else ""
        for v, s in zip(part[value], statuses, strict=True)
    ]
    return go.Scatter(
        x=[int(a) for a in part["aar"]],
        y=_none(part[value]),
        name=name,
        mode="lines+markers",
        connectgaps=False,
        line={
            "color": LEVEL_COLORS.get(level, "#333"),
            "width": 3 if level == "kommune" else 2,
            "dash": LEVEL_DASH.get(level, "solid"),
        },
        marker={"size": 6 if level == "kommune" else 4},
        customdata=notes,
        hovertemplate=f"{name}: %{{y:{fmt}}}<extra></extra>",
    )


# Short label on a shaded gap in a chart; the caption says the reason in full.
GAP_BAND_LABELS = {
    ":": "prikket",
    ".": "finnes ikke",
    "..": "ikke publisert",
    "deling": "kommunedeling",
    "ikke_beregnbar": "ikke omregnet",
    "nevner_ikke_publisert": "ikke publisert ennå",
    "nevner_nivaa": "kan ikke beregnes",
    "teller_mangler": "ikke publisert",
}


def _shade_gaps(fig: go.Figure, kommune_rows: pd.DataFrame, value: str = "verdi") -> list[str]:
    """Shade years where the kommune's value is missing/suppressed; return note sentences."""
    if not kommune_rows[value].isna().any():
        return []
    groups = gap_groups(kommune_rows, value)
    reason_of = {year: reason for reason, years in groups.items() for year in years}
    # One shaded band per run of consecutive years with the same reason, labelled once.
    runs: list[list[Any]] = []
    for year in sorted(reason_of):
        reason = reason_of[year]
        if runs and runs[-1][1] == year - 1 and runs[-1][2] == reason:
            runs[-1][1] = year
        else:
            runs.append([year, year, reason])
    for start, end, reason in runs:
        fig.add_vrect(
            x0=start - 0.45,
            x1=end + 0.45,
            fillcolor="#999",
            opacity=0.15,
            line_width=0,
            annotation_text=GAP_BAND_LABELS.get(
                reason, GAP_BAND_LABELS.get(reason.partition(":")[0], "mangler")
            ),
            annotation_position="top",
            annotation_font_size=10,
        )
    name = indicators.kommune_name(kommune_rows) if "nivaa" in kommune_rows else ""
    return [text.missing_note(groups, name)]


def _shared_gap_notes(gaps: dict[str, dict[str, list[int]]]) -> list[str]:
    """One note per distinct gap pattern: "Asker og Landet: uten tall i 2023–2024 (…)"."""
    names: dict[str, list[str]] = {}
    for region, groups in gaps.items():
        if groups:
            key = json.dumps(groups, sort_keys=True)
            names.setdefault(key, []).append(region)
    return [text.missing_note(json.loads(key), text.join_list(n)) for key, n in names.items()]


def gap_groups(rows: pd.DataFrame, value: str = "verdi") -> dict[str, list[int]]:
    """Reason → years for the rows without a value, from the data's own flags.

    The reason is the rows' ``mangler`` column (set by :func:`boso.indicators.comparison`,
    which also looks at a rate's numerator and denominator) or, for rows without it,
    :func:`boso.indicators.gap_reasons` of the rows themselves.
    """
    if rows.empty:
        return {}
    if indicators.GAP_COLUMN in rows.columns:
        reasons = rows[indicators.GAP_COLUMN].fillna("").astype(str)
    else:
        reasons = indicators.gap_reasons(rows)
    groups: dict[str, list[int]] = {}
    for year, reason, missing in zip(rows["aar"], reasons, rows[value].isna(), strict=True):
        if missing:
            groups.setdefault(reason or "..", []).append(int(year))
    return groups


def _provenance_parts(df: pd.DataFrame, label: str, extra_notes: Sequence[str] = ()):
    prov = indicators.provenance(df)
    pairs = [(k, label) for k in prov.sources]
    harmonised = ""
    if "harmonisering" in df.columns and "nivaa" in df.columns:
        kinds = set(df.loc[df["nivaa"] == "kommune", "harmonisering"].dropna().astype(str))
        if kinds & {"sammenslaatt", "ssb_agg"}:
            harmonised = "Tall før kommunesammenslåingen er regnet om til dagens kommunegrenser."
        said = " ".join(extra_notes)
        if "ikke_beregnbar" in kinds and text.GAP_REASONS["ikke_beregnbar"] not in said:
            harmonised += (
                " År før kommunesammenslåingen kan ikke regnes om for denne indikatoren"
                " og vises som manglende."
            )
        if "deling" in kinds and text.GAP_REASONS["deling"] not in said:
            harmonised += " År før en kommunedeling kan ikke regnes om og vises som manglende."
        if "estimert" in kinds:
            harmonised += " " + ESTIMATED_NOTE
    remarks: list[str] = []
    if "merknad" in df.columns:
        for note in df["merknad"].dropna().astype(str):
            note = note.strip()
            if note and note not in remarks:
                remarks.append(note if note.endswith(".") else note + ".")
    notes = [*extra_notes, harmonised, *remarks[:3]]
    caption = make_caption(pairs, prov.retrieved, prov.updated, notes)
    return prov, caption


def make_chart(
    fig: go.Figure,
    data: pd.DataFrame,
    title: str,
    label: str,
    notes: Sequence[str],
    finding: str,
) -> Chart:
    """A :class:`Chart` whose caption and provenance come from the rows it draws.

    A finding that rests on estimated values (split kommuner) says so itself, so the sentence
    is never read as published statistics.
    """
    prov, caption = _provenance_parts(data, label, notes)
    if finding and "nivaa" in data.columns:
        own = data.loc[(data["nivaa"] == "kommune") & _estimated(data)]
        value = "verdi" if "verdi" in own.columns else None
        if value and own[value].notna().any():
            years = own.loc[own[value].notna(), "aar"].astype(int)
            finding += (
                f" Tallene for {indicators.kommune_name(data)} i {text.years_text(years)} er "
                "anslag (se figurteksten)."
            )
    return Chart(
        fig=fig,
        data=data,
        title=title,
        caption=caption,
        sources=prov.sources,
        retrieved=prov.retrieved,
        synthetic=prov.synthetic,
        finding=finding,
    )


def _empty_chart(title: str, df: pd.DataFrame, message: str) -> Chart:
    return Chart(fig=go.Figure(), data=df, title=title, finding=message, empty=True)


def _no_values(label: str, df: pd.DataFrame) -> str:
    """ "Det finnes ingen tall for «…» i <kommune>", with the reason the data give for it."""
    rows = _kommune_rows(df) if "nivaa" in df.columns else df
    place = "kommunen"
    if "nivaa" in rows.columns and not rows.empty:
        place = indicators.kommune_name(rows)
    message = f"Det finnes ingen tall for «{label}» i {place}."
    if rows.empty or "verdi" not in rows.columns:
        return message + " Kilden har ingen rader for kommunen."
    note = text.missing_note(gap_groups(rows))
    return f"{message} {note}" if note else message


def _has_values(df: pd.DataFrame) -> bool:
    # A chart is about the kommune: peers alone do not make it worth drawing.
    if "nivaa" in df.columns and (df["nivaa"] == "kommune").any():
        df = df.loc[df["nivaa"] == "kommune"]
    return not df.empty and bool(df["verdi"].notna().any())


def _comparison_finding(df: pd.DataFrame, meta: Meta) -> str:
    year, values = indicators.latest(df)
    if year is None:
        return ""
    names = list(values)
    place = names[0]
    return text.level_sentence(
        meta.label,
        place,
        year,
        values[place],
        meta.unit,
        {n: values[n] for n in names[1:]},
        decimals=meta.decimals,
    )


def lines(
    df: pd.DataFrame,
    title: str | None = None,
    ytitle: str | None = None,
    finding: str | None = None,
    value: str = "verdi",
    peers_if_empty: bool = False,
) -> Chart:
    """Line chart of an indicator for the kommune and its comparison regions.

    Args:
        df: Comparison rows (``sammenligning``, ``nivaa``, ``aar``, ``verdi``, ``status``, ...).
        title: Chart title (default: the indicator's label).
        ytitle: Y axis title (default: the unit).
        finding: Sentence to show above the chart (default: latest level vs the others).
        value: Column to plot (``verdi``, or ``indeks`` for index charts).
        peers_if_empty: When the kommune has no values at all, draw the comparison regions
            and say in the finding why the kommune is missing (instead of an empty chart).

    Returns:
        A :class:`Chart`; empty (with a notice) when the kommune has no values at all (and
        ``peers_if_empty`` is off or the regions have none either).
    """
    df = indicators.prepare(df)
    meta = indicator_meta(_indicator_of(df), df)
    title = title or meta.label
    if not _has_values(df):
        peers = df.loc[df["nivaa"] != "kommune"] if "nivaa" in df.columns else df.iloc[0:0]
        if peers_if_empty and peers[value].notna().any():
            chart = lines(peers, title=title, ytitle=ytitle, finding="", value=value)
            chart.finding = _why_missing(df, meta)
            return chart
        return _empty_chart(title, df, _no_values(meta.label, df))
    fig = go.Figure()
    fmt = _yformat(df[value], meta.decimals if value == "verdi" else None)
    peer_gaps: dict[str, dict[str, list[int]]] = {}
    for region in indicators.region_order(df):
        part = df.loc[df["sammenligning"] == region]
        level = str(part["nivaa"].iloc[0]) if "nivaa" in part else "kommune"
        if level != "kommune":
            # A comparison line covering only some years says why the others are missing.
            peer_gaps[region] = gap_groups(part, value)
            if part[value].isna().all():
                continue  # a legend entry without a line only confuses
        if level == "kommune" and _estimated(part).any():
            for trace in _marked_traces(
                part, region, level, _estimated(part), f"{region} (anslag)", value, fmt
            ):
                fig.add_trace(trace)
            continue
        fig.add_trace(_line_trace(part, region, level, value, fmt))
    fig.update_layout(base_layout(title, ytitle if ytitle is not None else meta.unit))
    notes = _shade_gaps(fig, df.loc[df["nivaa"] == "kommune"], value) if "nivaa" in df else []
    notes += _shared_gap_notes(peer_gaps)
    return make_chart(
        fig,
        df,
        title,
        meta.label,
        notes,
        _comparison_finding(df, meta) if finding is None else finding,
    )


def _why_missing(df: pd.DataFrame, meta: Meta) -> str:
    """Why the kommune has no values (split, suppressed, not reported), in one sentence."""
    own = df.loc[df["nivaa"] == "kommune"] if "nivaa" in df.columns else df
    place = indicators.kommune_name(own) if not own.empty else "Kommunen"
    reasons = []
    if "harmonisering" in own.columns:
        split = own.loc[own["harmonisering"].astype(str).eq("deling"), "aar"]
        if not split.empty:
            reasons.append(
                f"{text.years_text(split.astype(int))} kan ikke regnes om til dagens grenser "
                "fordi en tidligere kommune ble delt"
            )
            own = own.loc[~own["harmonisering"].astype(str).eq("deling")]
    by_status: dict[str, list[int]] = {}
    for row in own.itertuples(index=False):
        by_status.setdefault(str(getattr(row, "status", "") or ".."), []).append(int(row.aar))
    note = text.missing_note(by_status).rstrip(".")
    if note:
        reasons.append(text.lower_first(note))
    why = f": {text.join_list(reasons)}" if reasons else ""
    return (
        f"{place} har ingen tall for «{text.lower_first(meta.label)}»{why}. Figuren viser "
        "derfor bare sammenligningsområdene."
    )


def _growth_finding(df: pd.DataFrame, subject: str) -> str:
    table = indicators.endpoint_growth(df)
    if not table:
        return ""
    first, *others = table
    meta = indicator_meta(_indicator_of(df), df)
    return text.growth_sentence(
        subject,
        first.region,
        first.first_year,
        first.first_value,
        first.last_year,
        first.last_value,
        first.percent_per_year,
        {g.region: g.percent_per_year for g in others},
        meta.unit,
        decimals=meta.decimals,
    )


def level(df: pd.DataFrame, title: str | None = None, subject: str | None = None) -> Chart:
    """The kommune's own level over time (for counts), with growth compared in the finding.

    Args:
        df: Comparison rows; only the kommune is drawn (levels of regions differ in scale),
            the others feed the growth comparison in the sentence.
        title: Chart title.
        subject: Sentence subject, e.g. "Befolkningen" (default: the indicator's label).
    """
    df = indicators.prepare(df)
    kommune = df.loc[df["nivaa"] == "kommune"] if "nivaa" in df else df
    chart = lines(kommune, title=title, finding="")
    if not chart.empty:
        meta = indicator_meta(_indicator_of(df), df)
        chart.finding = _growth_finding(df, subject or meta.label)
        chart.fig.update_layout(showlegend=False)
    return chart


def index_chart(df: pd.DataFrame, title: str | None = None, subject: str | None = None) -> Chart:
    """Index (first common year = 100) for the kommune and its comparison regions.

    Shows relative development when levels are not comparable (counts of different scale).
    """
    df = indicators.prepare(df)
    indexed = indicators.index_series(df)
    base = indexed.attrs.get("basisaar")
    meta = indicator_meta(_indicator_of(df), df)
    title = title or f"{meta.label}, indeks ({base} = 100)"
    chart = lines(indexed, title=title, ytitle=f"Indeks, {base} = 100", finding="", value="indeks")
    if not chart.empty:
        chart.fig.update_layout(yaxis={"rangemode": "normal"})
        chart.finding = _growth_finding(df, subject or meta.label)
    return chart


def latest_bars(df: pd.DataFrame, title: str | None = None, year: int | None = None) -> Chart:
    """Horizontal bars: the latest year's value for the kommune and each comparison region."""
    df = indicators.prepare(df)
    meta = indicator_meta(_indicator_of(df), df)
    year, values = indicators.latest(df, year)
    title = title or f"{meta.label}, {year}"
    if year is None:
        return _empty_chart(title, df, _no_values(meta.label, df))
    rows = df.loc[df["aar"] == year]
    order = [r for r in indicators.region_order(df) if r in values]
    levels = {r: str(rows.loc[rows["sammenligning"] == r, "nivaa"].iloc[0]) for r in order}
    fmt = _yformat(values.values(), meta.decimals)
    fig = go.Figure(
        go.Bar(
            y=order[::-1],
            x=_none(values[r] for r in order[::-1]),
            orientation="h",
            marker={"color": [LEVEL_COLORS.get(levels[r], "#333") for r in order[::-1]]},
            text=[text.fmt_value(values[r], meta.unit, meta.decimals) for r in order[::-1]],
            textposition="auto",
            hovertemplate=f"%{{y}}: %{{x:{fmt}}}<extra></extra>",
            name=str(year),
        )
    )
    fig.update_layout(
        base_layout(title, "", xtitle=meta.unit, height=300, hovermode="closest"),
        xaxis={"tickformat": "", "showgrid": True, "gridcolor": "#e6e6e6"},
        yaxis={"rangemode": "normal", "automargin": True},
        showlegend=False,
    )
    notes = [
        text.missing_note(gap_groups(rows.loc[rows["sammenligning"] == r]), r)
        for r in order
        if math.isnan(values[r])
    ]
    return make_chart(fig, rows, title, meta.label, notes, _comparison_finding(df, meta))


def series_bars(
    frames: dict[str, pd.DataFrame],
    title: str,
    ytitle: str = "",
    finding: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """Grouped bars per year for several kommune series (e.g. anmodet / vedtatt / bosatt).

    Args:
        frames: Series key (an indicator id, or the legend label itself) → the kommune's rows.
        title: Chart title.
        ytitle: Y axis title.
        finding: Sentence (default: the latest year's values of each series).
        labels: Series key → legend label (default: the key), e.g.
            :data:`boso.indicators.BOSETTING`.
    """
    labels = labels or {}
    used = {
        labels.get(k, k): indicators.prepare(v)
        for k, v in frames.items()
        if v is not None and not v.empty
    }
    data = pd.concat(used.values(), ignore_index=True) if used else pd.DataFrame()
    if data.empty or not data["verdi"].notna().any():
        return _empty_chart(title, data, _no_values(title, data))
    fig = go.Figure()
    metas = {label: indicator_meta(_indicator_of(df), df) for label, df in used.items()}
    shared = {m.decimals for m in metas.values()}
    fmt = _yformat(data["verdi"], shared.pop() if len(shared) == 1 else None)
    latest_year = int(data.loc[data["verdi"].notna(), "aar"].max())
    parts = []
    notes = []
    for color, (label, df) in zip(SERIES_COLORS, used.items(), strict=False):
        df = df.sort_values("aar")
        fig.add_trace(
            go.Bar(
                x=[int(a) for a in df["aar"]],
                y=_none(df["verdi"]),
                name=label,
                marker={"color": color},
                customdata=_status_text(df["status"]) if "status" in df else None,
                hovertemplate=f"{label}: %{{y:{fmt}}}<extra></extra>",
            )
        )
        row = df.loc[df["aar"] == latest_year, "verdi"]
        if not row.empty and not math.isnan(row.iloc[0]):
            value = text.fmt_value(row.iloc[0], decimals=metas[label].decimals)
            parts.append(f"{text.lower_first(label)} {value}")
        notes.append(text.missing_note(gap_groups(df), label))
    fig.update_layout(base_layout(title, ytitle), barmode="group")
    place = indicators.kommune_name(data) if "nivaa" in data else ""
    labels = [m.label for m in metas.values()]
    if finding is None:
        finding = f"{place} i {latest_year}: {text.join_list(parts)}." if parts else ""
    return make_chart(fig, data, title, text.join_list(labels), notes, finding)


def _check_dimension(dim: str) -> None:
    # boso's own columns (status symbols, values, reasons) are not categories of the data: a
    # chart split by them would label its lines ":" or "".
    from boso.processed import INDICATOR_COLUMNS

    own = {*INDICATOR_COLUMNS, indicators.GAP_COLUMN} - {"boligtype", "boligtype_navn"}
    if dim in own:
        raise QueryError(
            f"kan ikke dele figuren etter {dim!r}: det er en av boso sine egne kolonner"
        )


def dimension_lines(
    df: pd.DataFrame, dim: str = "boligtype_navn", title: str | None = None, bars: bool = False
) -> Chart:
    """The kommune's series split by a dimension (one line, or stacked bar, per boligtype)."""
    _check_dimension(dim)
    df = indicators.prepare(df)
    meta = indicator_meta(_indicator_of(df), df)
    kommune = df.loc[df["nivaa"] == "kommune"] if "nivaa" in df else df
    title = title or f"{meta.label}"
    if not _has_values(kommune):
        return _empty_chart(title, kommune, _no_values(meta.label, kommune))
    fig = go.Figure()
    fmt = _yformat(kommune["verdi"], meta.decimals)
    parts = []
    notes = []
    place = indicators.kommune_name(kommune) if "nivaa" in kommune else ""
    for color, (name, part) in zip(SERIES_COLORS, kommune.groupby(dim, sort=True), strict=False):
        part = part.sort_values("aar")
        common = {
            "x": [int(a) for a in part["aar"]],
            "y": _none(part["verdi"]),
            "name": str(name),
            "hovertemplate": f"{name}: %{{y:{fmt}}}<extra></extra>",
        }
        if bars:
            fig.add_trace(go.Bar(marker={"color": color}, **common))
        else:
            fig.add_trace(
                go.Scatter(
                    mode="lines+markers",
                    connectgaps=False,
                    line={"color": color, "width": 2.5},
                    **common,
                )
            )
        valid = part.dropna(subset=["verdi"])
        if not valid.empty:
            last = valid.iloc[-1]
            parts.append(
                f"{str(name).lower()} {text.fmt_value(last['verdi'], decimals=meta.decimals)} "
                f"({int(last['aar'])})"
            )
        notes.append(text.missing_note(gap_groups(part), str(name)))
    fig.update_layout(base_layout(title, meta.unit), barmode="stack" if bars else None)
    finding = (
        f"{meta.label} i {place}, siste år med tall: {text.join_list(parts)}." if parts else ""
    )
    return make_chart(fig, kommune, title, meta.label, notes, finding)


def by_dimension(df: pd.DataFrame, dim: str = "boligtype_navn") -> list[Chart]:
    """One comparison line chart per dimension value (e.g. per boligtype)."""
    _check_dimension(dim)
    df = indicators.prepare(df)
    meta = indicator_meta(_indicator_of(df), df)
    charts = []
    for name, part in df.groupby(dim, sort=True):
        # The finding must say which boligtype its numbers are for.
        subject = replace(meta, label=f"{meta.label} ({str(name).lower()})")
        charts.append(
            lines(
                part,
                title=f"{meta.label}: {str(name).lower()}",
                finding=_comparison_finding(part, subject),
            )
        )
    return charts


def trend_chart(df: pd.DataFrame, fit: Any, title: str | None = None) -> Chart:
    """The kommune's values with a fitted trend line and its 95 % confidence band.

    Args:
        df: The kommune's rows (``aar``, ``verdi``, ``status``...).
        fit: A :class:`boso.trends.TrendFit` (or None: the values alone, finding says why).
        title: Chart title.
    """
    df = indicators.prepare(df)
    meta = indicator_meta(_indicator_of(df), df)
    kommune = df.loc[df["nivaa"] == "kommune"] if "nivaa" in df else df
    title = title or f"{meta.label}: trend"
    chart = lines(kommune, title=title, finding="")
    if chart.empty:
        return chart
    place = indicators.kommune_name(kommune) if "nivaa" in kommune else ""
    if fit is None:
        chart.finding = f"For få år med tall for {place} til å anslå en trend."
        return chart
    f = fit.fitted
    band_x = [int(a) for a in f["aar"]] + [int(a) for a in f["aar"][::-1]]
    band_y = _none(f["ovre"]) + _none(f["nedre"][::-1])
    chart.fig.add_trace(
        go.Scatter(
            x=band_x,
            y=band_y,
            fill="toself",
            fillcolor="rgba(0,114,178,0.15)",
            line={"width": 0},
            name="95 % konfidensintervall",
            hoverinfo="skip",
        )
    )
    fmt = _yformat(f["trend"])
    chart.fig.add_trace(
        go.Scatter(
            x=[int(a) for a in f["aar"]],
            y=_none(f["trend"]),
            name="Trend (OLS)" if not fit.relative else "Trend (log-lineær)",
            mode="lines",
            line={"color": "#D55E00", "width": 2, "dash": "dash"},
            hovertemplate=f"Trend: %{{y:{fmt}}}<extra></extra>",
        )
    )
    chart.fig.update_layout(showlegend=True)
    chart.finding = text.trend_sentence(
        meta.label,
        place,
        fit.first_year,
        fit.last_year,
        fit.slope,
        fit.ci_low,
        fit.ci_high,
        meta.unit,
        relative=fit.relative,
    )
    chart.caption += (
        " Trend: minste kvadraters metode (OLS) på år"
        + (" med logaritmen av verdien" if fit.relative else "")
        + f", {fit.n} år; skravert felt er 95 % konfidensintervall for trendlinjen."
    )
    return chart


def table(
    df: pd.DataFrame,
    title: str,
    rows_from: pd.DataFrame | Sequence[pd.DataFrame] | None = None,
    labels: Sequence[str] = (),
    finding: str = "",
    notes: Sequence[str] = (),
) -> Table:
    """A table with provenance taken from the processed rows it was computed from."""
    frames = (
        [rows_from]
        if isinstance(rows_from, pd.DataFrame)
        else [f for f in (rows_from or []) if f is not None]
    )
    prov = indicators.provenance(*frames)
    pairs: list[tuple[str, str]] = []
    for i, frame in enumerate(frames):
        label = labels[i] if i < len(labels) else indicator_meta(_indicator_of(frame), frame).label
        p = indicators.provenance(frame)
        pairs.extend((k, label) for k in p.sources)
    caption = make_caption(pairs, prov.retrieved, prov.updated, notes)
    return Table(df, title, caption, prov.sources, prov.synthetic, finding)


# ------------------------------------------------------------------------ analysis helpers
def show_kommune(kommunenummer: str) -> None:
    """A one-line header naming the kommune, its fylke and KOSTRA group."""
    info = indicators.kommune_info(kommunenummer)
    parts = [f"{info.get('kommunenavn')} ({info.get('kommunenummer')})"]
    if info.get("fylkesnavn"):
        parts.append(f"fylke: {info['fylkesnavn']}")
    if info.get("kostragruppenavn"):
        parts.append(f"sammenlignes med {info['kostragruppenavn']}")
    outputs._display(outputs.TextOutput(" · ".join(parts)))


def barometer(frames: dict[str, pd.DataFrame], title: str = "Levekårsbarometer") -> Table:
    """The barometer table (see :func:`boso.indicators.barometer`) with caption and finding."""
    frames = {k: indicators.prepare(v) for k, v in frames.items() if v is not None}
    labels = {k: indicator_meta(k, v).label for k, v in frames.items()}
    result = indicators.barometer(frames, labels)
    used = [v for v in frames.values() if not v.empty]
    place = next((indicators.kommune_name(v) for v in used if (v["nivaa"] == "kommune").any()), "")
    finding = ""
    if not result.empty and "Mot landet" in result:
        marks = [
            (r["Indikator"], r["Mot landet"].split(" ", 1)[1])
            for _, r in result.iterrows()
            if isinstance(r.get("Mot landet"), str) and r["Mot landet"][:1] in "▲▼≈"
        ]
        finding = text.barometer_sentence(place, marks)
    note = (
        "▲/▼: kommunens verdi er mer enn 5 % over/under landets; ≈: innenfor ±5 %. "
        "Om høyt er godt eller dårlig, avhenger av indikatoren."
    )
    return table(
        result, title, used, [labels[k] for k, v in frames.items() if not v.empty], finding, [note]
    )


def _kommune_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df.loc[df["nivaa"] == "kommune"] if "nivaa" in df.columns else df


def trend(df: pd.DataFrame, title: str | None = None, compare_with: str = "kostragruppe") -> Chart:
    """Linear OLS trend of the kommune's series, compared in words with a peer region's trend.

    Args:
        df: Comparison rows (the kommune is fitted and drawn; ``compare_with`` is fitted too).
        title: Chart title.
        compare_with: ``nivaa`` of the region whose trend is quoted for comparison.
    """
    df = indicators.prepare(df)
    fit = trends.linear_trend(_kommune_rows(df)[["aar", "verdi"]])
    chart = trend_chart(df, fit, title)
    if fit is None or chart.empty:
        return chart
    peer = df.loc[df["nivaa"] == compare_with] if "nivaa" in df else df.iloc[0:0]
    peer = peer.loc[peer["aar"].between(fit.first_year, fit.last_year)]
    peer_fit = trends.linear_trend(peer[["aar", "verdi"]]) if not peer.empty else None
    if peer_fit is not None:
        meta = indicator_meta(_indicator_of(df), df)
        name = str(peer["sammenligning"].iloc[0])
        chart.finding += (
            f" Til sammenligning var trenden {text.fmt_value(peer_fit.slope, meta.unit)} per år "
            f"{text.in_region(name)} (95 % konfidensintervall {text.fmt_value(peer_fit.ci_low)} "
            f"til {text.fmt_value(peer_fit.ci_high)})."
        )
    return chart


def growth_table(df: pd.DataFrame, dim: str = "boligtype_navn") -> Table:
    """Log-linear growth per year with 95 % CI per region (and dimension), as a table.

    The one growth *table* of boso (what the notebooks show); a chart's finding quotes the
    compound growth between the end points instead (:func:`boso.indicators.endpoint_growth`).
    """
    df = indicators.prepare(df)
    by = [dim] if dim in df.columns else []
    result = trends.growth_by_region(df, by)
    meta = indicator_meta(_indicator_of(df), df)
    sentences = []
    if not result.empty:
        for key, part in result.groupby(by, sort=False) if by else [("", result)]:
            first = part.iloc[0]
            if pd.isna(first["Vekst per år (%)"]):
                continue
            landet = part.loc[part["Område"].str.lower() == "landet", "Vekst per år (%)"]
            subject = f"{meta.label} ({str(key[0] if isinstance(key, tuple) else key).lower()})"
            sentences.append(
                text.growth_row_sentence(
                    subject if by else meta.label,
                    first["Område"],
                    int(first["Fra"]),
                    int(first["Til"]),
                    first["Vekst per år (%)"],
                    first["Nedre (95 %)"],
                    first["Øvre (95 %)"],
                    float(landet.iloc[0]) if not landet.empty else None,
                )
            )
    shown = result.rename(columns={dim: "Boligtype"}) if by else result
    note = "Vekst per år fra en log-lineær OLS-modell på år; 95 % konfidensintervall."
    return table(
        shown, f"{meta.label}: vekst per år", df, [meta.label], " ".join(sentences), [note]
    )


def growth_chart(growth: Table) -> Chart:
    """Dot plot of growth per year with 95 % confidence intervals (from :func:`growth_table`)."""
    data = growth.df.dropna(subset=["Vekst per år (%)"])
    title = growth.title
    if data.empty:
        return _empty_chart(title, data, "For få år med tall til å anslå vekst.")
    fig = go.Figure()
    groups = data.groupby("Boligtype", sort=False) if "Boligtype" in data else [("", data)]
    for color, (name, part) in zip(SERIES_COLORS, groups, strict=False):
        fig.add_trace(
            go.Scatter(
                x=_none(part["Vekst per år (%)"]),
                y=[str(r) for r in part["Område"]],
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": _none(part["Øvre (95 %)"] - part["Vekst per år (%)"]),
                    "arrayminus": _none(part["Vekst per år (%)"] - part["Nedre (95 %)"]),
                    "color": color,
                },
                mode="markers",
                marker={"color": color, "size": 9},
                offsetgroup=str(name),
                name=str(name) or "Vekst",
                hovertemplate="%{y}: %{x:,.1f} % per år<extra>" + str(name) + "</extra>",
            )
        )
    fig.update_layout(
        base_layout(title, "", xtitle="Vekst per år (%)", hovermode="closest"),
        xaxis={"tickformat": ",.1f", "showgrid": True, "gridcolor": "#e6e6e6", "zeroline": True},
        yaxis={"autorange": "reversed", "rangemode": "normal", "automargin": True},
        scattermode="group",
    )
    return Chart(
        fig=fig,
        data=growth.df,
        title=title,
        caption=growth.caption,
        sources=growth.sources,
        synthetic=growth.synthetic,
        retrieved="",
        finding="",
    )


# ------------------------------------------------------------ estimated and projected segments
ESTIMATED_NOTE = (
    "Stiplet linje for kommunen: anslag. År før kommunedelingen er anslått fra den delte "
    "kommunens tall: antall fordelt etter kommunens andel av folketallet da kommunen ble delt, "
    "rater som den delte kommunens rate."
)


def _estimated(part: pd.DataFrame) -> pd.Series:
    """Rows whose value is a split estimate (``harmonisering == "estimert"``)."""
    if "harmonisering" not in part.columns:
        return pd.Series(False, index=part.index)
    return part["harmonisering"].astype(str).eq("estimert")


def _marked_traces(
    part: pd.DataFrame,
    name: str,
    level: str,
    marked: pd.Series,
    marked_name: str,
    value: str = "verdi",
    fmt: str = ",.1f",
) -> list[go.Scatter]:
    """A solid trace for ordinary years and a dashed one for ``marked`` years.

    The dashed trace repeats the neighbouring ordinary point so the line stays unbroken where
    the two parts meet.
    """
    part = part.assign(_marked=marked.reindex(part.index).fillna(False).astype(bool))
    part = part.sort_values("aar")
    plain = part.loc[~part["_marked"]]
    dashed = part.loc[part["_marked"]]
    traces = []
    if plain[value].notna().any():
        traces.append(_line_trace(plain.drop(columns="_marked"), name, level, value, fmt))
    if dashed[value].notna().any():
        valued = plain.loc[plain[value].notna()]
        first, last = dashed["aar"].min(), dashed["aar"].max()
        # The nearest ordinary points on either side, however far (a history ending in 2022
        # meets a projection starting in 2024).
        bridge = pd.concat(
            [valued.loc[valued["aar"] < first].tail(1), valued.loc[valued["aar"] > last].head(1)]
        )
        joined = pd.concat([dashed, bridge]).drop(columns="_marked")
        trace = _line_trace(joined, marked_name, level, value, fmt)
        trace.line.dash = "dash"
        trace.marker.symbol = "circle-open"
        traces.append(trace)
    return traces


def history_projection(
    df: pd.DataFrame, title: str | None = None, subject: str = "Befolkningen"
) -> Chart:
    """The kommune's registered population followed by the projection, projected part dashed.

    Args:
        df: Rows from :func:`boso.housing_need.history_with_projection` (column
            ``framskrevet``); only the kommune is drawn.
        title: Chart title.
        subject: Sentence subject.
    """
    df = indicators.prepare(df)
    kommune = df.loc[df["nivaa"] == "kommune"] if "nivaa" in df.columns else df
    title = title or "Befolkning og framskrevet befolkning"
    if not _has_values(kommune):
        return _empty_chart(title, kommune, "Det finnes ingen befolkningstall for kommunen.")
    name = indicators.kommune_name(kommune) if "nivaa" in kommune.columns else subject
    fmt = _yformat(kommune["verdi"])
    fig = go.Figure()
    for trace in _marked_traces(
        kommune,
        f"{name}, registrert",
        "kommune",
        kommune["framskrevet"],
        f"{name}, framskrevet (MMMM)",
        fmt=fmt,
    ):
        fig.add_trace(trace)
    fig.update_layout(base_layout(title, "personer"))
    projected = kommune.loc[kommune["framskrevet"] & kommune["verdi"].notna()].sort_values("aar")
    registered = kommune.loc[~kommune["framskrevet"] & kommune["verdi"].notna()].sort_values("aar")
    finding = ""
    if not projected.empty and not registered.empty:
        last = registered.iloc[-1]
        end = projected.iloc[-1]
        finding = (
            f"{subject} i {name} var {text.fmt_number(last['verdi'])} i {int(last['aar'])} og er "
            f"framskrevet til {text.fmt_number(end['verdi'])} i {int(end['aar'])}."
        )
    note = "Stiplet linje: SSBs framskriving (hovedalternativet), ikke registrerte tall."
    return make_chart(fig, kommune, title, "Befolkning og framskrevet befolkning", [note], finding)


def projection_index(df: pd.DataFrame, title: str | None = None) -> Chart:
    """Projected population as an index (first projection year = 100) for all four regions.

    The finding compares growth to the last projection year in the future tense ("er
    framskrevet til å vokse"), unlike :func:`index_chart`'s observed growth.
    """
    totals = housing_need.projection_totals(indicators.prepare(df))
    chart = index_chart(totals, title=title)
    growth = housing_need.projected_growth(totals, years=(int(totals["aar"].max()),))
    own = growth.loc[growth["nivaa"] == "kommune"]
    if chart.empty or own.empty:
        return chart
    first = own.iloc[0]
    others = [
        f"{text.fmt_percent(r.endring_prosent, signed=True)} {text.in_region(r.sammenligning)}"
        for r in growth.loc[growth["nivaa"] != "kommune"].itertuples(index=False)
    ]
    change = "vokse" if first["endring"] >= 0 else "gå ned"
    chart.finding = (
        f"Fra {int(first['basisaar'])} til {int(first['aar'])} er folketallet i "
        f"{first['sammenligning']} framskrevet til å {change} med "
        f"{text.fmt_percent(abs(first['endring_prosent']))}"
        + (f", mot {text.join_list(others)}." if others else ".")
    )
    return chart
