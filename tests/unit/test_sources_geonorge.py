"""Kommune boundaries: read_boundaries on the snapshot's three files; the kommuneinfo path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from test_sources_support import HTTP_FIXTURES, FakeAdapter, FakeClock, make_client, make_response

from boso.errors import DataError, FetchError
from boso.raw import RawStore
from boso.sources import geonorge

KOMMUNEINFO = "https://ws.geonorge.no/kommuneinfo/v1"


def square(x: float, y: float, d: float = 0.1) -> dict:
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def collection(features: list[dict], crs: str | None = None) -> dict:
    doc: dict = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return doc


def feature(props: dict, geometry: dict | None = None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry or square(10.7, 59.9)}


# --------------------------------------------------------------------------------------------
# The snapshot's real files


def test_2017_file_in_25833_with_kommunenr(snapshot_dir: Path) -> None:
    frame = geonorge.read_boundaries(snapshot_dir / "geo/2017/kommuner_simp_17.geojson")
    assert frame.crs.to_epsg() == 25833
    assert list(frame.columns) == ["kommunenummer", "kommunenavn", "geometry"]
    assert len(frame) == 424
    assert frame["kommunenummer"].str.fullmatch(r"\d{4}").all()
    row = frame.loc[frame["kommunenummer"] == "1926"].iloc[0]
    assert row["kommunenavn"] == "Dyrøy"
    assert "0220" in set(frame["kommunenummer"])  # old Asker
    minx, miny, _, _ = frame.total_bounds
    assert minx > -200_000 and miny > 6_000_000  # metres, UTM 33


def test_2020_file_integer_codes_become_4_char_strings(snapshot_dir: Path) -> None:
    frame = geonorge.read_boundaries(snapshot_dir / "geo/2020/Kommuner-medium.json")
    assert frame.crs.to_epsg() == 4326  # no crs member: RFC 7946 default
    assert len(frame) == 356
    assert frame["kommunenummer"].str.len().eq(4).all()
    oslo = frame.loc[frame["kommunenummer"] == "0301"]
    assert len(oslo) == 1 and oslo.iloc[0]["kommunenavn"] == "Oslo"
    assert "3025" in set(frame["kommunenummer"])  # Asker 2020-2023
    assert frame["kommunenavn"].notna().all()


def test_2024_file_and_reprojection(snapshot_dir: Path) -> None:
    path = snapshot_dir / "geo/2024/Kommuner-S.geojson"
    frame = geonorge.read_boundaries(path)
    assert frame.crs.to_epsg() == 4326
    assert len(frame) == 357
    assert {"0301", "3203", "3903"} <= set(frame["kommunenummer"])
    assert frame.loc[frame["kommunenummer"] == "3203", "kommunenavn"].item() == "Asker"
    projected = geonorge.read_boundaries(path.read_bytes(), to_crs=25833)
    assert projected.crs.to_epsg() == 25833
    minx, miny, maxx, maxy = projected.total_bounds
    assert -200_000 < minx < maxx < 1_200_000 and 6_400_000 < miny < maxy < 8_000_000
    assert list(projected["kommunenummer"]) == list(frame["kommunenummer"])


# --------------------------------------------------------------------------------------------
# CRS and property handling


@pytest.mark.parametrize(
    ("name", "epsg"),
    [
        ("urn:ogc:def:crs:EPSG::25833", 25833),
        ("urn:ogc:def:crs:EPSG::25832", 25832),
        ("EPSG:4326", 4326),
        ("http://www.opengis.net/def/crs/EPSG/0/25833", 25833),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", 4326),
    ],
)
def test_detect_epsg(name: str, epsg: int) -> None:
    assert geonorge.detect_epsg({"crs": {"type": "name", "properties": {"name": name}}}) == epsg


def test_unsupported_crs_is_refused() -> None:
    doc = collection([feature({"kommunenummer": "0301"})], "urn:ogc:def:crs:EPSG::3857")
    with pytest.raises(DataError, match="EPSG:3857 støttes ikke"):
        geonorge.read_boundaries(doc)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"kommunenummer": 301, "navn": "Oslo"}, ("0301", "Oslo")),
        ({"kommunenr": "0301", "kommunenavn": "Oslo"}, ("0301", "Oslo")),
        ({"id": "3203", "name": "Asker"}, ("3203", "Asker")),
        ({"kommunenummer": "301"}, ("0301", None)),
    ],
)
def test_property_variants(props: dict, expected: tuple) -> None:
    frame = geonorge.read_boundaries(collection([feature(props)]))
    assert (frame.iloc[0]["kommunenummer"], frame.iloc[0]["kommunenavn"]) == expected


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"navn": "Oslo"}, r"feature 1: mangler kommunenummer .*properties: navn"),
        ({"kommunenummer": "03011"}, r"feature 1, egenskap 'kommunenummer'.*ikke et firesifret"),
        ({"kommunenummer": "K-0301"}, "ikke et firesifret"),
        ({"kommunenummer": True}, "ikke et tall"),
    ],
)
def test_bad_kommunenummer_names_the_feature(props: dict, message: str) -> None:
    doc = collection([feature({"kommunenummer": "3203"}), feature(props)])
    with pytest.raises(DataError, match=message):
        geonorge.read_boundaries(doc)


def test_projected_coordinates_without_crs_are_refused() -> None:
    doc = collection([feature({"kommunenummer": "0301"}, square(262000, 6650000, 1000))])
    with pytest.raises(DataError, match="koordinatene ser projiserte ut .* ingen crs"):
        geonorge.read_boundaries(doc)


def test_not_geojson_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(DataError, match="bad.geojson: ikke gyldig GeoJSON"):
        geonorge.read_boundaries(bad)
    with pytest.raises(DataError, match="ventet en GeoJSON FeatureCollection"):
        geonorge.read_boundaries({"type": "Feature"})
    with pytest.raises(DataError, match="kan ikke lese"):
        geonorge.read_boundaries(tmp_path / "missing.geojson")


# --------------------------------------------------------------------------------------------
# Online: kommuneinfo


def kommuneinfo(request: requests.PreparedRequest) -> requests.Response:
    url = request.url or ""
    if url == f"{KOMMUNEINFO}/kommuner":
        return make_response(request, 200, (HTTP_FIXTURES / "geonorge_kommuner.json").read_bytes())
    for number in ("0301", "3203"):
        if url == f"{KOMMUNEINFO}/kommuner/{number}/omrade?utkoordsys=25833":
            body = (HTTP_FIXTURES / f"geonorge_omrade_{number}.json").read_bytes()
            return make_response(request, 200, body)
    return make_response(request, 404, "not found")


def test_fetch_boundaries_stores_raw_answers_and_a_readable_collection(tmp_path: Path) -> None:
    clock = FakeClock()
    adapter = FakeAdapter(kommuneinfo, clock)
    client = make_client(adapter, clock)
    raw = geonorge.fetch_boundaries(RawStore(tmp_path), client, year=2026)
    assert raw.path == tmp_path / "geo" / "2026" / "Kommuner-kommuneinfo.geojson"
    raw_oslo = tmp_path / "geo" / "2026" / "omrade" / "0301.json"
    assert raw_oslo.read_bytes() == (HTTP_FIXTURES / "geonorge_omrade_0301.json").read_bytes()
    frame = geonorge.read_boundaries(raw.path)
    assert frame.crs.to_epsg() == 25833
    assert list(frame["kommunenummer"]) == ["0301", "3203"]
    assert list(frame["kommunenavn"]) == ["Oslo", "Asker"]
    assert frame.geometry.area.round().tolist() == [12_000 * 20_000, 12_000 * 20_000]
    assert raw.provenance["query"] == {"kommuner": ["0301", "3203"], "utkoordsys": 25833}


def test_fetch_boundaries_failure_writes_no_collection(tmp_path: Path) -> None:
    def handler(request):  # noqa: ANN001, ANN202
        if "/3203/omrade" in request.url:
            return make_response(request, 200, json.dumps({"kommunenummer": "3203"}))
        return kommuneinfo(request)

    clock = FakeClock()
    client = make_client(FakeAdapter(handler, clock), clock)
    with pytest.raises(FetchError, match="ingen Polygon/MultiPolygon-flate"):
        geonorge.fetch_boundaries(RawStore(tmp_path), client, year=2026)
    assert not (tmp_path / "geo" / "2026" / "Kommuner-kommuneinfo.geojson").exists()
    assert not (tmp_path / "geo" / "2026" / "omrade" / "3203.json").exists()


def test_area_in_another_crs_than_requested_is_refused() -> None:
    doc = json.loads((HTTP_FIXTURES / "geonorge_omrade_0301.json").read_text())
    with pytest.raises(FetchError, match="EPSG:25833, ba om EPSG:4258"):
        geonorge.area_feature(doc, "0301", "Oslo", 4258, "url")


def test_unknown_kommune_requested(tmp_path: Path) -> None:
    clock = FakeClock()
    client = make_client(FakeAdapter(kommuneinfo, clock), clock)
    with pytest.raises(FetchError, match="har ikke kommunen.*9999"):
        geonorge.fetch_boundaries(RawStore(tmp_path), client, kommuner=["9999"])


def test_fetched_boundaries_are_what_the_build_picks(tmp_path: Path, snapshot_dir: Path) -> None:
    # `boso build` takes the newest year folder under data/raw/geo; the fetched collection must
    # win over the snapshot's 2024 file and over the per-kommune answers beside it.
    from boso.build import build_geo

    store = RawStore(tmp_path)
    snapshot_file = snapshot_dir / "geo/2024/Kommuner-S.geojson"
    store.write("geo", "2024/Kommuner-S.geojson", snapshot_file.read_bytes(), url="snapshot")
    clock = FakeClock()
    geonorge.fetch_boundaries(store, make_client(FakeAdapter(kommuneinfo, clock), clock), year=2026)
    frame = build_geo(store)
    assert list(frame["kommunenummer"]) == ["0301", "3203"]
    assert frame.crs.to_epsg() == 25833
