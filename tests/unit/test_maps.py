"""Cartesian choropleth maps from GeoParquet (boso.maps) on tiny hand-made polygons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from shapely.geometry import MultiPolygon, box

from boso import figures, maps
from boso.errors import DataError

# Four 10 km squares in EPSG:25833 metres: 3201 and 3203 in fylke 32, 3301 next door (fylke
# 33, touching 3203), 3401 far away (fylke 34).
SQUARES = {
    "3201": ("Bærum", box(250_000, 6_640_000, 260_000, 6_650_000)),
    "3203": ("Asker", box(240_000, 6_640_000, 250_000, 6_650_000)),
    "3301": ("Drammen", box(230_000, 6_640_000, 240_000, 6_650_000)),
    "3401": ("Kongsvinger", box(400_000, 6_700_000, 410_000, 6_710_000)),
}


def write_geo(path: Path, squares: dict = SQUARES) -> Path:
    table = pa.table(
        {
            "kommunenummer": list(squares),
            "kommunenavn": [name for name, _ in squares.values()],
            "geometry": shapely.to_wkb(np.array([g for _, g in squares.values()], dtype=object)),
        }
    )
    pq.write_table(table, path)
    return path


def values(year: int = 2023, synthetic: bool = True) -> pd.DataFrame:
    data = {"3201": 10.0, "3203": 20.0, "3301": np.nan, "3401": 5.0}
    return pd.DataFrame(
        {
            "indikator": "kommunale_boliger_per_1000",
            "nivaa": "kommune",
            "kommunenummer": list(data),
            "kommunenavn": [SQUARES[k][0] for k in data],
            "aar": year,
            "verdi": list(data.values()),
            "status": ["", "", ":", ""],
            "enhet": "per 1000 innbyggere",
            "kilde": "SSB 12008",
            "kilde_oppdatert": "2025-06-16",
            "hentet": "2026-11-22",
            "syntetisk": synthetic,
        }
    )


def test_read_geo_plain_and_geopandas_geoparquet(tmp_path: Path) -> None:
    geo = maps.read_geo(write_geo(tmp_path / "g.parquet"))
    assert geo["kommunenummer"].tolist() == list(SQUARES)
    assert geo["geometry"].iloc[1].equals(SQUARES["3203"][1])
    gpd = pytest.importorskip("geopandas")
    frame = gpd.GeoDataFrame(
        {"kommunenummer": ["3203"], "kommunenavn": ["Asker"]},
        geometry=[SQUARES["3203"][1]],
        crs=25833,
    )
    frame.to_parquet(tmp_path / "gp.parquet", index=False)
    assert maps.read_geo(tmp_path / "gp.parquet")["geometry"].iloc[0].area == 1e8


def test_read_geo_errors_are_one_line_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="kartdata mangler"):
        maps.read_geo(tmp_path / "missing.parquet")
    pq.write_table(
        pa.table({"kommunenummer": ["3203"], "geometry": [b"not wkb"]}), tmp_path / "b.pq"
    )
    with pytest.raises(DataError, match="geometry"):
        maps.read_geo(tmp_path / "b.pq")
    pq.write_table(pa.table({"navn": ["x"]}), tmp_path / "c.pq")
    with pytest.raises(DataError, match="mangler kolonnen"):
        maps.read_geo(tmp_path / "c.pq")


def test_polygon_xy_rounds_and_separates_parts() -> None:
    geom = MultiPolygon([box(0.4, 0, 104.6, 10), box(200, 200, 210, 212)])
    xs, ys = maps.polygon_xy(geom, grid=10)
    assert xs.count(None) == 1 and ys.count(None) == 1
    assert all(v is None or v % 10 == 0 for v in xs + ys)
    assert max(v for v in xs if v is not None) == 210


def test_simplify_reduces_vertices_and_drops_islets() -> None:
    circle = shapely.Point(0, 0).buffer(10_000, quad_segs=256)
    islet = box(20_000, 0, 20_010, 10)
    out = maps.simplify([MultiPolygon([circle, islet])], tolerance=500, min_area=1_000)
    assert out[0].geom_type == "Polygon"  # the islet is gone
    assert shapely.get_num_coordinates(out[0]) < shapely.get_num_coordinates(circle) / 5
    assert out[0].area == pytest.approx(circle.area, rel=0.05)


def test_choropleth_is_cartesian_with_one_trace_per_kommune(tmp_path: Path) -> None:
    geo = maps.read_geo(write_geo(tmp_path / "g.parquet"))
    fig = maps.choropleth(values(), geo, highlight="3203", title="T", colorbar_title="per 1000")
    assert all(t.type == "scatter" for t in fig.data)  # no geo/mapbox traces: works offline
    polygons = [t for t in fig.data if t.fill == "toself"]
    assert sorted(t.name for t in polygons) == sorted(name for name, _ in SQUARES.values())
    by_name = {t.name: t for t in polygons}
    assert by_name["Drammen"].fillcolor == maps.MISSING_COLOR
    assert by_name["Drammen"].text == "Drammen: prikket (:)"
    assert by_name["Asker"].text == "Asker: 20,0"
    assert by_name["Asker"].line.width > by_name["Bærum"].line.width
    assert by_name["Asker"].fillcolor != by_name["Kongsvinger"].fillcolor
    scale = fig.data[-1]
    assert scale.marker.showscale and (scale.marker.cmin, scale.marker.cmax) == (5.0, 20.0)
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert fig.layout.annotations[0].text == "<b>Asker</b>"


def test_neighbourhood_adds_kommuner_across_the_fylke_border(tmp_path: Path) -> None:
    geo = maps.read_geo(write_geo(tmp_path / "g.parquet"))
    assert maps.neighbourhood(geo, "3203", ["3201", "3203"]) == ["3201", "3203", "3301"]
    assert maps.neighbourhood(geo, "3401", []) == ["3401"]


def test_fylke_map_chart_caption_finding_and_synthetic(tmp_path: Path) -> None:
    geo = maps.read_geo(write_geo(tmp_path / "g.parquet"))
    older = values(2022).assign(verdi=[1.0, 2.0, 3.0, 4.0], status="")
    rows = pd.concat([older, values(2023)], ignore_index=True)
    chart = maps.fylke_map(rows, geo, "3203", ["3201", "3203", "3301"])
    assert isinstance(chart, figures.Chart) and not chart.empty
    assert set(chart.data["aar"]) == {2023}
    assert chart.title == "Kommunalt disponerte boliger per 1000 innbyggere, 2023"
    assert chart.finding.startswith("Asker hadde 20,0 per 1000 innbyggere i 2023, nummer 1 av 2")
    assert "Uten tall i 2023: Drammen." in chart.caption
    assert "SSB, tabell 12008" in chart.caption and chart.synthetic
    names = {t.name for t in chart.fig.data if t.fill == "toself"}
    assert names == {"Asker", "Bærum", "Drammen"}
    earlier = maps.fylke_map(rows, geo, "3203", ["3201", "3203"], year=2022)
    assert "Asker: 2,0" in {t.text for t in earlier.fig.data if t.fill == "toself"}


def test_fylke_map_without_values_is_empty() -> None:
    geo = pd.DataFrame(
        {"kommunenummer": ["3203"], "kommunenavn": ["Asker"], "geometry": [box(0, 0, 1, 1)]}
    )
    chart = maps.fylke_map(values().assign(verdi=np.nan), geo, "3203", ["3203"])
    assert chart.empty and "ingen tall" in chart.finding
