"""Map of a register's dwellings on the kommune boundary (plotly, cartesian EPSG:25833).

A cartesian figure (no geo/mapbox traces) needs no tiles or topojson, so it renders offline.
Hover text shows the dwelling (address, type, rooms) and never anything about tenants.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from boso.errors import QueryError
from boso.outputs import SYNTHETIC_ANNOTATION
from boso.register.coordinates import boundary_geometry
from boso.register.result import RegisterImport

SYNTHETIC_NOTE = SYNTHETIC_ANNOTATION
# Colour-blind friendly qualitative palette (Okabe–Ito), then greys.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#999999",
    "#666666",
)
# Not "maalgruppe": a point coloured by target group, with its address in the hover, would say
# which addresses house people with, e.g., substance-use or mental-health needs.
COLOR_BY = ("boligtype", "status", "eierform", "storrelse")


def _rings(geom: Any) -> tuple[list[float | None], list[float | None]]:
    """All polygon rings as one x/y list with None separators (one plotly trace)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    polygons = getattr(geom, "geoms", [geom])
    for poly in polygons:
        if poly.geom_type != "Polygon":
            continue
        for ring in [poly.exterior, *poly.interiors]:
            coords = np.asarray(ring.coords)
            xs.extend(np.round(coords[:, 0], 1).tolist() + [None])
            ys.extend(np.round(coords[:, 1], 1).tolist() + [None])
    return xs, ys


def register_map(
    reg: RegisterImport,
    boundary_gdf: Any = None,
    *,
    color: str = "boligtype",
    title: str | None = None,
) -> go.Figure:
    """Dwellings as points on the kommune map, coloured by type or status.

    Dwellings at the same address and with the same colour category are drawn as one point;
    the hover lists address, type and rooms (and how many dwellings the point holds).

    Args:
        reg: The cleaned register.
        boundary_gdf: Kommune polygons (GeoDataFrame in any CRS with ``kommunenummer``, or a
            shapely geometry in EPSG:25833). None: points only.
        color: Column that colours the points (``boligtype``, ``status``, ``eierform``, ...).
        title: Figure title.

    Returns:
        A plotly figure in EPSG:25833 metres with equal axis scale.
    """
    if color not in COLOR_BY:
        raise QueryError(f"kartet kan fargelegges etter {COLOR_BY}, ikke {color!r}")
    fig = go.Figure()
    geom = boundary_geometry(boundary_gdf, reg.kommunenummer)
    if geom is not None:
        bx, by = _rings(geom)
        fig.add_trace(
            go.Scatter(
                x=bx,
                y=by,
                mode="lines",
                fill="toself",
                fillcolor="rgba(200, 200, 200, 0.25)",
                line={"color": "#555555", "width": 1},
                name="Kommunegrense",
                hoverinfo="skip",
                showlegend=False,
            )
        )
    points = reg.dwellings.dropna(subset=["x", "y"]).copy()
    points[color] = points[color].astype("string").fillna("Uoppgitt")
    rooms = points["antall_rom"].astype("Float64")
    points["rom_"] = [("?" if pd.isna(r) else str(int(r))) for r in rooms]
    points["adr"] = points["adresse"].astype("string").fillna("(uten adresse)")
    points["px"] = points["x"].round(0)
    points["py"] = points["y"].round(0)
    categories = points[color].value_counts().index.tolist()
    for i, category in enumerate(categories):
        subset = points[points[color] == category]
        grouped = (
            subset.groupby(["px", "py", "adr"], sort=True)
            .agg(
                n=("bolig_id", "size"),
                typer=("boligtype", lambda s: ", ".join(sorted(s.dropna().astype(str).unique()))),
                rom=("rom_", lambda s: ", ".join(sorted(s.unique()))),
            )
            .reset_index()
        )
        hover = [
            f"<b>{row.adr}</b><br>{row.typer or 'Uoppgitt'}<br>Rom: {row.rom}"
            + (f"<br>{row.n} boliger" if row.n > 1 else "")
            for row in grouped.itertuples()
        ]
        fig.add_trace(
            go.Scatter(
                x=grouped["px"],
                y=grouped["py"],
                mode="markers",
                name=str(category),
                marker={
                    "size": np.clip(7 + 2 * np.sqrt(grouped["n"] - 1), 7, 18),
                    "color": PALETTE[i % len(PALETTE)],
                    "line": {"width": 0.5, "color": "white"},
                    "opacity": 0.85,
                },
                text=hover,
                hovertemplate="%{text}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        template="simple_white",
        legend={"title": {"text": _legend_title(color)}, "itemsizing": "constant"},
        margin={"l": 10, "r": 10, "t": 50 if title else 20, "b": 10},
        height=600,
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1},
        meta={"crs": "EPSG:25833", "syntetisk": reg.synthetic},
    )
    if reg.synthetic:
        fig.add_annotation(
            text=SYNTHETIC_NOTE,
            xref="paper",
            yref="paper",
            x=0.01,
            y=0.99,
            xanchor="left",
            yanchor="top",
            showarrow=False,
            font={"size": 14, "color": "#B00020"},
            bgcolor="rgba(255,255,255,0.8)",
        )
    return fig


def mapped_count(reg: RegisterImport) -> int:
    """How many dwellings :func:`register_map` draws (those with a usable point)."""
    frame = reg.dwellings
    if not {"x", "y"} <= set(frame.columns):
        return 0
    x = pd.to_numeric(frame["x"], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(frame["y"], errors="coerce").to_numpy(dtype=float)
    return int((np.isfinite(x) & np.isfinite(y)).sum())


def map_sentence(total: int, mapped: int, boundary: bool) -> str:
    """The bokmål sentence under the register map, describing the map actually drawn.

    The counts are not suppressed below 3, unlike the register's published counts: they count
    the kommune's own dwellings, which the map and its CSV link show one by one with their
    address anyway, and carry nothing about tenants (no occupancy, vacancy or tenancy).

    Args:
        total: Dwellings in the register.
        mapped: Dwellings drawn as points (:func:`mapped_count`).
        boundary: Whether the kommune boundary is drawn.

    Returns:
        One or two sentences (numbers with a thin space as thousands separator).
    """
    from boso.text import fmt_number

    start = f"Registeret har {fmt_number(total)} boliger"
    if mapped == 0:
        return (
            f"{start}, men ingen av dem har brukbare koordinater, så kartet viser bare "
            "kommunegrensen."
            if boundary
            else f"{start}, men ingen av dem har brukbare koordinater, og kommunegrensen "
            "mangler, så kartet er tomt."
        )
    if mapped >= total:
        sentence = f"{start}; kartet viser dem som punkter."
    else:
        sentence = (
            f"{start}; kartet viser {fmt_number(mapped)} av dem som punkter. "
            f"{fmt_number(total - mapped)} mangler brukbare koordinater og er ikke med i kartet "
            "(se valideringsrapporten)."
        )
    if not boundary:
        sentence += " Kommunegrensen er ikke tilgjengelig og er ikke tegnet."
    return sentence


def _legend_title(color: str) -> str:
    return {
        "boligtype": "Boligtype",
        "status": "Status",
        "eierform": "Eierform",
        "maalgruppe": "Målgruppe",
        "storrelse": "Størrelse",
    }[color]
