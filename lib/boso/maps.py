"""Maps as plain cartesian plotly figures (EPSG:25833 metres), so they work offline.

No geo/mapbox traces: those need a topojson or tiles from a CDN. A choropleth is one filled
``Scatter`` trace per kommune (simplified, coordinates rounded to ~10 m so a report page stays
small) plus an invisible marker trace that carries the colour bar.

GeoParquet is read with pyarrow + ``shapely.from_wkb`` rather than geopandas: the notebook kernel
then avoids importing geopandas (and pyproj) for every report. The register section of a report
(its dwellings on the kommune boundary) is :mod:`boso.register.report`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from boso import charts, text
from boso.errors import DataError
from boso.kommune import normalise_kommunenummer_series
from boso.processed import record_read

GEO_TABLE = "core_geo__kommuner"
COLORSCALE = "Blues"
MISSING_COLOR = "#d9d9d9"
GRID_METRES = 10.0  # coordinate rounding: well below what a report-sized map can show
TARGET_VERTICES = 12_000  # per map; keeps the figure JSON around 100–200 kB


# ------------------------------------------------------------------------------------- reading
@lru_cache(maxsize=4)
def _read_geo_cached(path: str, mtime_ns: int) -> pd.DataFrame:
    import pyarrow.parquet as pq
    import shapely

    table = pq.read_table(path)
    columns = table.column_names
    if "geometry" not in columns or "kommunenummer" not in columns:
        raise DataError(f"{path}: mangler kolonnen 'geometry' eller 'kommunenummer'")
    frame = pd.DataFrame(
        {
            "kommunenummer": table.column("kommunenummer").to_pylist(),
            "kommunenavn": (
                table.column("kommunenavn").to_pylist()
                if "kommunenavn" in columns
                else [""] * table.num_rows
            ),
        }
    )
    try:
        frame["geometry"] = shapely.from_wkb(
            table.column("geometry").to_numpy(zero_copy_only=False)
        )
    except Exception as exc:  # shapely raises GEOSException subclasses without a common base
        raise DataError(f"{path}: kolonnen 'geometry' er ikke gyldig WKB ({exc})") from exc
    frame["kommunenummer"] = normalise_kommunenummer_series(frame["kommunenummer"])
    return frame


def read_geo(path: str | Path | None = None) -> pd.DataFrame:
    """Kommune polygons: ``kommunenummer, kommunenavn, geometry`` (shapely, EPSG:25833).

    Args:
        path: A GeoParquet file; default ``data/processed/core_geo__kommuner.parquet``.

    Raises:
        DataError: The file is missing or has no WKB geometry column.
    """
    if path is None:
        from boso.processed import processed_dir

        path = processed_dir() / f"{GEO_TABLE}.parquet"
    path = Path(path)
    record_read(path)  # the report cache keys on what a notebook read
    if not path.is_file():
        raise DataError(f"kartdata mangler: {path} (kjør `boso build`)")
    return _read_geo_cached(str(path), path.stat().st_mtime_ns).copy()


# ---------------------------------------------------------------------------------- geometry
def simplify(geoms: Any, tolerance: float, min_area: float = 0.0) -> np.ndarray:
    """Simplify polygons and drop parts smaller than ``min_area`` (tiny islets).

    Args:
        geoms: Array-like of shapely (multi)polygons.
        tolerance: Douglas–Peucker tolerance in metres.
        min_area: Polygon parts below this area (m²) are dropped, except a kommune's largest.

    Returns:
        Array of simplified geometries (same length).
    """
    import shapely

    out = []
    for geom in np.asarray(geoms, dtype=object):
        if geom is None or geom.is_empty:
            out.append(geom)
            continue
        parts = list(getattr(geom, "geoms", [geom]))
        if min_area > 0 and len(parts) > 1:
            largest = max(parts, key=lambda g: g.area)
            parts = [p for p in parts if p.area >= min_area or p is largest]
        simple = shapely.simplify(np.array(parts, dtype=object), tolerance, preserve_topology=True)
        simple = [s for s in simple if s is not None and not s.is_empty]
        out.append(shapely.multipolygons(simple) if len(simple) > 1 else simple[0])
    return np.array(out, dtype=object)


def polygon_xy(
    geom: Any, grid: float = GRID_METRES
) -> tuple[list[float | None], list[float | None]]:
    """Exterior rings of a (multi)polygon as x/y lists separated by None (for ``fill="toself"``).

    Holes are left out: with ``toself`` each ring would be filled as its own shape. Enclosed
    kommuner are drawn after (on top of) the larger ones instead, see :func:`choropleth`.
    """
    xs: list[float | None] = []
    ys: list[float | None] = []
    if geom is None or geom.is_empty:
        return xs, ys
    for part in getattr(geom, "geoms", [geom]):
        coords = np.asarray(part.exterior.coords)
        coords = np.round(coords[:, :2] / grid) * grid
        if xs:
            xs.append(None)
            ys.append(None)
        xs.extend(float(v) for v in coords[:, 0])
        ys.extend(float(v) for v in coords[:, 1])
    return xs, ys


def _vertex_count(geoms: np.ndarray) -> int:
    import shapely

    return int(shapely.get_num_coordinates(geoms).sum())


def auto_tolerance(geoms: np.ndarray, target: int = TARGET_VERTICES) -> float:
    """A simplification tolerance that brings the vertex count near ``target``."""
    import shapely

    bounds = shapely.total_bounds(geoms)
    extent = max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1.0)
    tolerance = extent / 2000
    # Few iterations: the count falls roughly with the tolerance.
    for _ in range(6):
        simplified = simplify(geoms, tolerance)
        if _vertex_count(simplified) <= target:
            break
        tolerance *= 2
    return tolerance


# ------------------------------------------------------------------------------------ figures
def _colors(values: list[float], vmin: float, vmax: float) -> list[str]:
    from plotly.colors import sample_colorscale

    span = (vmax - vmin) or 1.0
    fractions = [0.15 + 0.85 * min(max((v - vmin) / span, 0.0), 1.0) for v in values]
    return sample_colorscale(COLORSCALE, fractions)


def choropleth(
    values: pd.DataFrame,
    geo: pd.DataFrame,
    highlight: str | None = None,
    title: str = "",
    colorbar_title: str = "",
    unit: str = "",
    tolerance: float | None = None,
) -> go.Figure:
    """A choropleth of kommune values as filled cartesian polygons.

    Args:
        values: ``kommunenummer``, ``verdi`` (NaN allowed), optional ``status``.
        geo: ``kommunenummer``, ``kommunenavn``, ``geometry`` (EPSG:25833), the kommuner to draw.
        highlight: Kommune drawn with a thick outline and labelled.
        title: Figure title.
        colorbar_title: Title of the colour bar.
        unit: Unit of ``verdi`` (for hover text formatting).
        tolerance: Simplification tolerance in metres (default: chosen for ~12 000 vertices).

    Returns:
        The plotly figure; kommuner without a value are grey and say why in the hover text.
    """
    import shapely

    geo = geo.loc[geo["geometry"].notna()].copy()
    if geo.empty:
        raise DataError("ingen kommunegrenser å tegne")
    geoms = geo["geometry"].to_numpy()
    tol = auto_tolerance(geoms) if tolerance is None else tolerance
    bounds = shapely.total_bounds(geoms)
    extent = max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1.0)
    geo["geometry"] = simplify(geoms, tol, min_area=(extent / 400) ** 2)
    geo["areal"] = shapely.area(geo["geometry"].to_numpy())
    keep = [c for c in ("kommunenummer", "verdi", "status") if c in values.columns]
    merged = geo.merge(values[keep], on="kommunenummer", how="left")
    finite = merged["verdi"].dropna()
    vmin, vmax = (float(finite.min()), float(finite.max())) if not finite.empty else (0.0, 1.0)
    fig = go.Figure()
    # Largest first, so kommuner enclosed by another are drawn on top of it.
    merged = merged.sort_values("areal", ascending=False)
    for row in merged.itertuples(index=False):
        xs, ys = polygon_xy(row.geometry)
        value = row.verdi
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        status = str(getattr(row, "status", "") or "")
        shown = (
            text.STATUS_LABELS.get(status, "mangler") if missing else text.fmt_value(value, unit)
        )
        is_highlight = row.kommunenummer == highlight
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                fill="toself",
                fillcolor=MISSING_COLOR if missing else _colors([value], vmin, vmax)[0],
                line={
                    "color": "#111" if is_highlight else "white",
                    "width": 2.5 if is_highlight else 0.6,
                },
                mode="lines",
                name=str(row.kommunenavn),
                text=f"{row.kommunenavn}: {shown}",
                hoverinfo="text",
                hoveron="fills",
                showlegend=False,
            )
        )
    if highlight is not None and (merged["kommunenummer"] == highlight).any():
        target = merged.loc[merged["kommunenummer"] == highlight].iloc[0]
        point = target.geometry.representative_point()
        fig.add_annotation(
            x=point.x,
            y=point.y,
            text=f"<b>{target.kommunenavn}</b>",
            showarrow=False,
            font={"size": 12, "color": "#111"},
            bgcolor="rgba(255,255,255,0.7)",
        )
    # Invisible marker trace: plotly draws a colour bar only for marker colour scales.
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    fig.add_trace(
        go.Scatter(
            x=[cx],
            y=[cy],
            mode="markers",
            marker={
                "size": 0.1,
                "opacity": 0,
                "color": [vmin],
                "colorscale": [
                    [0, _colors([vmin], vmin, vmax)[0]],
                    [1, _colors([vmax], vmin, vmax)[0]],
                ],
                "cmin": vmin,
                "cmax": vmax,
                "showscale": True,
                "colorbar": {"title": {"text": colorbar_title}, "thickness": 14},
            },
            hoverinfo="skip",
            showlegend=False,
            name="fargeskala",
        )
    )
    layout = charts.base_layout(title, "", xtitle="", height=560, hovermode="closest")
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False, "scaleanchor": "x", "scaleratio": 1}
    layout["margin"] = {"l": 10, "r": 10, "t": 60, "b": 10}
    fig.update_layout(layout)
    return fig


def fylke_map(
    rows: pd.DataFrame,
    geo: pd.DataFrame,
    kommunenummer: str,
    neighbours: list[str] | None = None,
    year: int | None = None,
    title: str | None = None,
) -> charts.Chart:
    """Choropleth of an indicator for a kommune among its neighbours and the fylke.

    Args:
        rows: The indicator's kommune rows for (at least) the kommuner to draw.
        geo: Polygons as from :func:`read_geo`.
        kommunenummer: The kommune to highlight.
        neighbours: Kommuner to draw (default: same first two digits, i.e. the fylke).
        year: Year to show (default: latest year with a value for the kommune, else any).
        title: Figure title.

    Returns:
        A :class:`boso.charts.Chart` with caption, finding and the rows drawn as data.
    """
    codes = neighbours or sorted(k for k in geo["kommunenummer"] if str(k)[:2] == kommunenummer[:2])
    if kommunenummer not in codes:
        codes = [*codes, kommunenummer]
    area = geo.loc[geo["kommunenummer"].isin(codes)]
    data = rows.loc[rows["kommunenummer"].isin(codes)]
    meta = charts.indicator_meta(charts._indicator_of(rows), rows)
    if year is None:
        own = data.loc[(data["kommunenummer"] == kommunenummer) & data["verdi"].notna(), "aar"]
        anyv = data.loc[data["verdi"].notna(), "aar"]
        year = int(own.max()) if not own.empty else int(anyv.max()) if not anyv.empty else None
    title = title or f"{meta.label}, {year if year else ''}".strip(", ")
    if year is None or area.empty:
        return charts.Chart(
            fig=go.Figure(),
            data=data,
            title=title,
            finding=f"Det finnes ingen tall eller kartdata for «{meta.label}» i fylket.",
            empty=True,
        )
    data = data.loc[data["aar"] == year]
    values = data[["kommunenummer", "verdi", *(["status"] if "status" in data else [])]]
    fig = choropleth(values, area, kommunenummer, title, meta.unit, meta.unit)
    missing = area.loc[
        ~area["kommunenummer"].isin(data.loc[data["verdi"].notna(), "kommunenummer"]), "kommunenavn"
    ]
    notes = [f"Uten tall i {year}: {text.join_list(sorted(missing))}."] if len(missing) else []
    notes.append("Kartgrunnlag: Kartverket (kommunegrenser, forenklet).")
    finding = _map_finding(data, kommunenummer, year, meta)
    return charts.make_chart(fig, data, title, meta.label, notes, finding)


def _map_finding(data: pd.DataFrame, kommunenummer: str, year: int, meta: charts.Meta) -> str:
    valid = data.dropna(subset=["verdi"]).sort_values("verdi", ascending=False)
    own = valid.loc[valid["kommunenummer"] == kommunenummer]
    if own.empty:
        return f"Kommunen har ikke tall for {year}; kartet viser de andre kommunene i fylket."
    rank = int((valid["verdi"] > own["verdi"].iloc[0]).sum()) + 1
    name = str(own["kommunenavn"].iloc[0]) if "kommunenavn" in own else kommunenummer
    top = text.fmt_value(valid["verdi"].iloc[0], meta.unit, meta.decimals)
    bottom = text.fmt_value(valid["verdi"].iloc[-1], meta.unit, meta.decimals)
    unit = "" if meta.unit in ("prosent", "") else f" {text.lower_first(meta.unit)}"
    return (
        f"{name} hadde {text.fmt_value(own['verdi'].iloc[0], meta.unit, meta.decimals)}{unit} "
        f"i {year}, "
        f"nummer {rank} av {len(valid)} kommuner med "
        f"tall på kartet (fylket og nabokommunene; høyest er {top}, lavest {bottom})."
    )


def neighbourhood(
    geo: pd.DataFrame, kommunenummer: str, fylke: list[str] | None = None, distance: float = 3000.0
) -> list[str]:
    """The kommuner to draw: the fylke's plus every kommune within ``distance`` metres.

    Neighbours across the fylke border matter for kommuner at its edge (and Oslo is a fylke of
    its own).
    """
    import shapely

    codes = set(fylke or [])
    codes.add(kommunenummer)
    own = geo.loc[geo["kommunenummer"] == kommunenummer, "geometry"]
    if not own.empty and own.iloc[0] is not None:
        zone = shapely.buffer(own.iloc[0], distance)
        near = shapely.intersects(geo["geometry"].to_numpy(), zone)
        codes.update(geo.loc[near, "kommunenummer"])
    return sorted(codes)


def kommune_map(
    indicator: str, kommunenummer: str, year: int | None = None, geo_path: str | Path | None = None
) -> charts.Chart:
    """Load an indicator and the polygons, and draw the kommune among the others in its fylke."""
    from boso import processed

    info = processed.kommune_info(kommunenummer)
    registry = processed.load_registry()
    fylke = sorted(registry.loc[registry["fylkesnummer"] == info["fylkesnummer"], "kommunenummer"])
    geo = read_geo(geo_path)
    codes = neighbourhood(geo, info["kommunenummer"], fylke)
    rows = processed.load_indicator(indicator)
    return fylke_map(rows, geo, info["kommunenummer"], codes, year)
