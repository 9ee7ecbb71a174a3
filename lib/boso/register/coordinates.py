"""Coordinates: the source CRS detected, points converted to EPSG:25833, the boundary checked.

The coordinate system comes from the values (degrees, swapped degrees, UTM metres), from the
kommune boundary (which UTM zone puts the points inside) and from the header (``Øst (UTM32)``),
in that order of trust. A row whose point fits no system, or not the one most rows use, loses
only its own point and is reported by row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from boso.kommune import normalise_kommunenummer_series
from boso.register._schema import load_schema
from boso.register.columns import Columns
from boso.register.result import ValidationReport

# geopandas, shapely and pyproj are hard dependencies, imported where used: a register without
# coordinates does not pay for loading them.

# Simplified (small-scale) kommune polygons cut corners along the coast; a dwelling this close
# to the drawn boundary is not reported as outside.
BOUNDARY_TOLERANCE_M = 150.0
# Plausible coordinates in Norway (incl. Svalbard margin): degrees, and UTM 32/33 metres.
LON_RANGE, LAT_RANGE = (-10.0, 40.0), (55.0, 82.0)
EAST_RANGE, NORTH_RANGE = (-200_000.0, 1_300_000.0), (6_300_000.0, 9_000_000.0)


def _between(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return (values > bounds[0]) & (values < bounds[1])


def _compact_rows(rows: list[int]) -> str:
    """``[2, 3, 4, 9]`` → ``"2–4, 9"`` (long lists are cut)."""
    parts: list[str] = []
    start = prev = rows[0]
    for row in [*rows[1:], None]:
        if row is not None and row == prev + 1:
            prev = row
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if row is not None:
            start = prev = row
    return ", ".join(parts[:20]) + (" …" if len(parts) > 20 else "")


def locate_points(
    frame: pd.DataFrame,
    columns: Columns,
    headers: list[str],
    boundary: Any,
    kommunenummer: str,
    report: ValidationReport,
) -> None:
    """Detect the CRS, convert to EPSG:25833 in place (x, y) and check the boundary.

    The coordinate system is chosen by the rows that fit one: a row whose coordinates fit none
    (or not the one most rows use) loses only its own point, and is reported by row.
    """
    schema = load_schema()
    use_latlon = "x" not in columns.fields and "lon" in columns.fields
    xf, yf = ("lon", "lat") if use_latlon else ("x", "y")
    x = frame[xf].to_numpy(dtype=float) if xf in frame else np.full(len(frame), np.nan)
    y = frame[yf].to_numpy(dtype=float) if yf in frame else np.full(len(frame), np.nan)
    frame["utenfor_grense"] = pd.NA
    geom = boundary_geometry(boundary, kommunenummer)
    if geom is None:
        report.boundary_status = "grense ikke tilgjengelig"
    xheader = headers[columns.fields[xf]] if xf in columns.fields else None
    rows = frame["_row"].to_numpy()
    half = np.isfinite(x) ^ np.isfinite(y)
    for row in rows[half]:
        report.add(
            int(row), xheader, "bare én av de to koordinatene er oppgitt; punktet er ikke brukt"
        )
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        frame["x"], frame["y"] = np.nan, np.nan
        report.crs_basis = "ingen koordinater"
        return
    degrees = ok & _between(x, LON_RANGE) & _between(y, LAT_RANGE)
    swapped = ok & _between(y, LON_RANGE) & _between(x, LAT_RANGE)
    metres = ok & _between(x, EAST_RANGE) & _between(y, NORTH_RANGE)
    counts = {"degrees": degrees.sum(), "swapped": swapped.sum(), "metres": metres.sum()}
    kind = max(counts, key=lambda k: counts[k])
    if counts[kind] == 0:
        report.add(
            None,
            xheader,
            "koordinatene passer ikke med EPSG:25832, 25833 eller 4326 i Norge; ikke brukt "
            f"(rader {_compact_rows([int(r) for r in rows[ok]])})",
        )
        frame["x"], frame["y"] = np.nan, np.nan
        report.crs_basis = "ukjent koordinatsystem"
        return
    fits = {"degrees": degrees, "swapped": swapped, "metres": metres}[kind]
    bad = ok & ~fits
    for row in rows[bad]:
        report.add(
            int(row),
            xheader,
            "koordinatene passer ikke med koordinatsystemet de andre radene bruker; "
            "punktet er ikke brukt",
        )
    x = np.where(fits, x, np.nan)
    y = np.where(fits, y, np.nan)
    hints = {
        schema.crs_hint(headers[columns.fields[f]]) for f in (xf, yf) if f in columns.fields
    } - {None}
    hint = 4326 if use_latlon else (hints.pop() if len(hints) == 1 else None)
    if kind in ("degrees", "swapped"):
        # Norway: longitude 3–33, latitude 57–72; swapped columns are a common export error.
        if kind == "swapped":
            x, y = y.copy(), x.copy()
            report.add(None, None, "lengde- og breddegrad var byttet om; rettet")
        epsg, basis = 4326, "grader (fra verdiene)"
        if hint and hint != 4326:
            report.add(None, None, f"overskriften antyder EPSG:{hint}, men verdiene er grader")
    else:
        epsg, basis = _choose_utm(x[fits], y[fits], hint, geom, report)
    tx, ty = _to_25833(x, y, epsg)
    # Rows without a usable point stay missing (a projection of NaN may give inf).
    tx = np.where(np.isfinite(tx) & np.isfinite(ty), tx, np.nan)
    ty = np.where(np.isfinite(tx), ty, np.nan)
    frame["x"], frame["y"] = tx, ty
    report.source_crs = f"EPSG:{epsg}"
    report.crs_basis = basis
    if geom is not None:
        import shapely

        report.boundary_status = "kontrollert"
        have = np.isfinite(tx) & np.isfinite(ty)
        inside = np.zeros(len(frame), dtype=bool)
        inside[have] = shapely.contains_xy(geom.buffer(BOUNDARY_TOLERANCE_M), tx[have], ty[have])
        frame["utenfor_grense"] = pd.array(
            [None if not h else bool(not i) for h, i in zip(have, inside, strict=True)],
            dtype="boolean",
        )
        for _, rec in frame[have & ~inside].iterrows():
            report.points_outside.append(
                {
                    "row": int(rec["_row"]),
                    "bolig_id": rec["bolig_id"],
                    "adresse": rec["adresse"],
                }
            )
            report.add(int(rec["_row"]), None, "punktet ligger utenfor kommunegrensen")


def _choose_utm(
    xs: np.ndarray, ys: np.ndarray, hint: int | None, geom: Any, report: ValidationReport
) -> tuple[int, str]:
    if geom is not None:
        import shapely

        share = {}
        for epsg in (25832, 25833):
            tx, ty = _to_25833(xs, ys, epsg)
            share[epsg] = float(
                np.mean(shapely.contains_xy(geom.buffer(BOUNDARY_TOLERANCE_M), tx, ty))
            )
        best = max(share, key=lambda e: share[e])
        other = 25833 if best == 25832 else 25832
        if share[best] >= 0.5 and share[best] > share[other]:
            if hint and hint != best:
                report.add(
                    None,
                    None,
                    f"overskriften antyder EPSG:{hint}, men punktene ligger i kommunen bare som "
                    f"EPSG:{best}; brukte EPSG:{best}",
                )
            return best, "fra verdiene (kontrollert mot kommunegrensen)"
    if hint in (25832, 25833):
        return hint, "fra kolonneoverskriften"
    report.add(None, None, "koordinatsystemet er ikke oppgitt; antok EPSG:25833 (UTM 33)")
    return 25833, "antatt"


def _to_25833(x: np.ndarray, y: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    if epsg == 25833:
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    from pyproj import Transformer

    transformer = Transformer.from_crs(epsg, 25833, always_xy=True)
    tx, ty = transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(tx, dtype=float), np.asarray(ty, dtype=float)


def boundary_geometry(boundary: Any, kommunenummer: str) -> Any:
    """The kommune polygon in EPSG:25833 as one shapely geometry, or None if unavailable."""
    if boundary is None:
        return None
    import geopandas as gpd
    import shapely

    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        frame = boundary
        if isinstance(frame, gpd.GeoDataFrame) and "kommunenummer" in frame.columns:
            frame = frame[normalise_kommunenummer_series(frame["kommunenummer"]) == kommunenummer]
        if len(frame) == 0:
            return None
        if frame.crs is not None and frame.crs.to_epsg() != 25833:
            frame = frame.to_crs(25833)
        geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
        geom = shapely.union_all(geoms.to_numpy())
    elif isinstance(boundary, pd.DataFrame):
        # boso.maps.read_geo: a plain frame of shapely geometries in EPSG:25833.
        frame = boundary
        if "kommunenummer" in frame.columns:
            frame = frame[normalise_kommunenummer_series(frame["kommunenummer"]) == kommunenummer]
        if len(frame) == 0 or "geometry" not in frame.columns:
            return None
        geom = shapely.union_all(frame["geometry"].to_numpy())
    else:
        geom = boundary
    if geom is None or geom.is_empty:
        return None
    return geom
