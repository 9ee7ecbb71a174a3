"""Kommune boundaries from Kartverket/Geonorge, and a reader for kommune GeoJSON files.

Online path: the kommuneinfo API lists the current kommuner
(``GET https://ws.geonorge.no/kommuneinfo/v1/kommuner``) and serves each one's area
(``GET .../kommuner/{nr}/omrade?utkoordsys=25833``). Every answer is stored as received under
``data/raw/geo/<year>/omrade/<nr>.json``; the polygons are also assembled into one
FeatureCollection, ``data/raw/geo/<year>/Kommuner-kommuneinfo.geojson`` (with a ``crs``
member), beside the snapshot's ``geo/<year>/`` files and read the same way by
:func:`read_boundaries`. ``<year>`` is the year of the kommune structure (the fetch year).

:func:`read_boundaries` is pure: it turns any of the kommune GeoJSON variants in circulation
(the snapshot's 2017 file in EPSG:25833 with ``kommunenr``; 2020 with integer
``kommunenummer``; 2024 with ``id``/``kommunenummer`` strings) into one shape.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd

from boso.errors import DataError, FetchError, json_problem, os_problem
from boso.kommune import parse_kommunenummer
from boso.raw import RawFile, RawStore, utc_now
from boso.sources.http import HttpClient, HttpStatusError, RateLimiter, expect_json

KOMMUNEINFO = "https://ws.geonorge.no/kommuneinfo/v1"
DEFAULT_EPSG = 4326
TARGET_EPSG = 25833
ACCEPTED_EPSG = frozenset({4326, 4258, 25832, 25833})
# Geonorge is not SSB: its own, more generous limit (unpublished; stay polite).
GEONORGE_LIMIT = (120, 60.0)

NUMBER_KEYS = ("kommunenummer", "kommunenr", "Kommunenummer", "kommune_nr", "id")
NAME_KEYS = ("kommunenavn", "navn", "name", "Kommunenavn", "kommunenavnNorsk")

_EPSG_PATTERNS = (
    re.compile(r"EPSG::?(\d+)$", re.IGNORECASE),
    re.compile(r"EPSG/\d+/(\d+)$", re.IGNORECASE),
)


def detect_epsg(doc: dict[str, Any], where: str = "GeoJSON") -> int:
    """EPSG code from a GeoJSON ``crs`` member; 4326 when there is none (RFC 7946).

    Understands ``urn:ogc:def:crs:EPSG::25833``, ``EPSG:25833``,
    ``http://www.opengis.net/def/crs/EPSG/0/25833`` and ``...CRS84`` (= 4326).

    Raises:
        DataError: The ``crs`` member is unreadable or names an unsupported CRS.
    """
    crs = doc.get("crs")
    if crs is None:
        return DEFAULT_EPSG
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    if not isinstance(name, str):
        raise DataError(f"{where}: uleselig 'crs'-felt {crs!r}")
    name = name.strip()
    if name.upper().endswith("CRS84"):
        return 4326
    for pattern in _EPSG_PATTERNS:
        match = pattern.search(name)
        if match:
            epsg = int(match.group(1))
            if epsg not in ACCEPTED_EPSG:
                raise DataError(
                    f"{where}: CRS EPSG:{epsg} støttes ikke "
                    f"(ventet en av {', '.join(map(str, sorted(ACCEPTED_EPSG)))})"
                )
            return epsg
    raise DataError(f"{where}: ukjent CRS-navn {name!r}")


def normalise_kommunenummer(value: Any, where: str) -> str:
    """:func:`boso.kommune.parse_kommunenummer` with ``where`` in the message.

    ``301`` / ``"301"`` / ``"0301"`` -> ``"0301"``; no ``K`` prefix (Geonorge has none).

    Raises:
        DataError: ``<where>: kommunenummer … er ikke et firesifret kommunenummer``.
    """
    try:
        return parse_kommunenummer(value)
    except DataError:
        number = isinstance(value, int | float | str) and not isinstance(value, bool)
        what = "er ikke et firesifret kommunenummer" if number else "er ikke et tall"
        raise DataError(f"{where}: kommunenummer {value!r} {what}") from None


def _load(source: str | Path | bytes | dict[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(source, dict):
        return source, "GeoJSON"
    if isinstance(source, bytes | bytearray):
        where, content = "GeoJSON bytes", bytes(source)
    else:
        path = Path(source)
        where = str(path)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{where}: kan ikke lese grensefilen ({os_problem(exc)})") from None
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{where}: ikke gyldig GeoJSON ({json_problem(exc)})") from None
    if not isinstance(doc, dict):
        raise DataError(f"{where}: GeoJSON må være et objekt")
    return doc, where


def read_boundaries(
    source: str | Path | bytes | dict[str, Any],
    *,
    to_crs: int | None = None,
) -> gpd.GeoDataFrame:
    """Read kommune polygons from a GeoJSON FeatureCollection.

    Args:
        source: File path, raw bytes or a parsed document.
        to_crs: EPSG code to reproject to (e.g. ``25833``); None keeps the file's CRS.

    Returns:
        One row per feature with ``kommunenummer`` (4-character string), ``kommunenavn`` and
        ``geometry``, with the CRS the file declares (EPSG:4326 when it declares none).

    Raises:
        DataError: Not a FeatureCollection, unsupported CRS, a feature without a kommune
            number or geometry (named by index), or lon/lat-declared coordinates that are
            clearly projected metres.
    """
    doc, where = _load(source)
    if doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise DataError(f"{where}: ventet en GeoJSON FeatureCollection")
    epsg = detect_epsg(doc, where)
    features = doc["features"]
    if not features:
        raise DataError(f"{where}: FeatureCollection har ingen features")
    rows: list[dict[str, Any]] = []
    for i, feature in enumerate(features):
        at = f"{where}: feature {i}"
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            raise DataError(f"{at}: mangler geometri")
        props = feature.get("properties") or {}
        key = next((k for k in NUMBER_KEYS if props.get(k) not in (None, "")), None)
        if key is None:
            raise DataError(
                f"{at}: mangler kommunenummer (så etter {', '.join(NUMBER_KEYS)}; "
                f"properties: {', '.join(props) or 'ingen'})"
            )
        number = normalise_kommunenummer(props[key], f"{at}, egenskap {key!r}")
        name_key = next((k for k in NAME_KEYS if isinstance(props.get(k), str)), None)
        rows.append(
            {
                "type": "Feature",
                "geometry": feature["geometry"],
                "properties": {
                    "kommunenummer": number,
                    "kommunenavn": props[name_key] if name_key else None,
                },
            }
        )
    try:
        frame = gpd.GeoDataFrame.from_features(rows, crs=f"EPSG:{epsg}")
    except Exception as exc:  # noqa: BLE001 - shapely's errors vary; report them as data errors
        raise DataError(f"{where}: ugyldig geometri ({exc})") from None
    frame = frame[["kommunenummer", "kommunenavn", "geometry"]]
    if epsg in (4326, 4258) and len(frame):
        minx, miny, maxx, maxy = frame.total_bounds
        if max(abs(minx), abs(maxx)) > 180 or max(abs(miny), abs(maxy)) > 90:
            raise DataError(
                f"{where}: koordinatene ser projiserte ut (grenser {minx:.0f}, {miny:.0f}, "
                f"{maxx:.0f}, {maxy:.0f}), men filen oppgir "
                f"{'ingen crs' if 'crs' not in doc else f'EPSG:{epsg}'}"
            )
    if to_crs is not None:
        frame = frame.to_crs(epsg=to_crs)
    return frame


# --------------------------------------------------------------------------------------------
# Online


def geonorge_client(session: Any = None) -> HttpClient:
    """An HTTP client with Geonorge's own rate limiter (SSB's limit does not apply there)."""
    return HttpClient(session, limiter=RateLimiter(*GEONORGE_LIMIT))


def _json(content: bytes, where: str) -> Any:
    try:
        return json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"{where}: {json_problem(exc)}") from None


def list_kommuner(client: HttpClient, *, base: str = KOMMUNEINFO) -> list[dict[str, str]]:
    """The current kommuner: ``[{"kommunenummer": "0301", "kommunenavn": "Oslo"}, ...]``."""
    url = f"{base}/kommuner"
    answer = client.get(url, headers={"Accept": "application/json"}, check=expect_json)
    doc = _json(answer.content, url)
    if not isinstance(doc, list) or not doc:
        raise FetchError(f"{url}: ventet en ikke-tom liste med kommuner")
    out = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict) or "kommunenummer" not in item:
            raise FetchError(f"{url}: element {i} mangler kommunenummer")
        try:
            number = normalise_kommunenummer(item["kommunenummer"], f"{url}: element {i}")
        except DataError as exc:
            raise FetchError(str(exc)) from None
        name = item.get("kommunenavnNorsk") or item.get("kommunenavn") or ""
        out.append({"kommunenummer": number, "kommunenavn": str(name)})
    return out


def area_feature(doc: Any, number: str, name: str, epsg: int, where: str) -> dict[str, Any]:
    """Turn one kommuneinfo ``omrade`` answer into a GeoJSON Feature.

    Accepts the geometry under ``omrade`` or ``geometry``, or a bare geometry (the exact
    envelope is not pinned down in public documentation; all three are handled).

    Raises:
        FetchError: No Polygon/MultiPolygon geometry, or a CRS other than the requested one.
    """
    geometry = None
    if isinstance(doc, dict):
        for candidate in (doc.get("omrade"), doc.get("geometry"), doc):
            if isinstance(candidate, dict) and candidate.get("type") in ("Polygon", "MultiPolygon"):
                geometry = candidate
                break
    if geometry is None or not isinstance(geometry.get("coordinates"), list):
        raise FetchError(f"{where}: ingen Polygon/MultiPolygon-flate i svaret")
    for holder in (geometry, doc):
        if isinstance(holder, dict) and "crs" in holder:
            try:
                found = detect_epsg(holder, where)
            except DataError as exc:
                raise FetchError(str(exc)) from None
            if found != epsg:
                raise FetchError(f"{where}: flate i EPSG:{found}, ba om EPSG:{epsg}")
            break
    props = doc.get("properties") if isinstance(doc.get("properties"), dict) else doc
    return {
        "type": "Feature",
        "properties": {
            "kommunenummer": number,
            "kommunenavn": str(props.get("kommunenavn") or name),
        },
        "geometry": {"type": geometry["type"], "coordinates": geometry["coordinates"]},
    }


def fetch_boundaries(
    store: RawStore | None = None,
    client: HttpClient | None = None,
    *,
    kommuner: Sequence[str] | None = None,
    year: int | None = None,
    epsg: int = TARGET_EPSG,
    base: str = KOMMUNEINFO,
    log: Callable[[str], None] | None = None,
) -> RawFile:
    """Download every kommune's area and store the raw answers plus one FeatureCollection.

    Args:
        store: Raw store (default: the project's).
        client: HTTP client (default: :func:`geonorge_client`).
        kommuner: Only these kommune numbers (default: all current ones).
        year: Folder under ``data/raw/geo`` (default: this year, the structure served now).
        epsg: Output CRS requested from the API (``utkoordsys``).
        base: kommuneinfo base URL.
        log: Progress callback.

    Returns:
        The assembled ``geo/<year>/Kommuner-kommuneinfo.geojson``.

    Raises:
        FetchError: A download failed or an answer had no area; nothing assembled is written.
    """
    store = store or RawStore()
    client = client or geonorge_client()
    folder = str(year or dt.date.today().year)
    listed = list_kommuner(client, base=base)
    names = {k["kommunenummer"]: k["kommunenavn"] for k in listed}
    wanted = [normalise_kommunenummer(k, "kommuner") for k in kommuner] if kommuner else list(names)
    unknown = [k for k in wanted if k not in names]
    if unknown:
        raise FetchError(f"kommuneinfo har ikke kommunen(e) {', '.join(unknown)}")
    features = []
    fetched_at = utc_now()
    for number in wanted:
        url = f"{base}/kommuner/{number}/omrade?utkoordsys={epsg}"
        try:
            response = client.get(url, headers={"Accept": "application/json"}, check=expect_json)
        except HttpStatusError as exc:
            raise FetchError(f"kommune {number}: {exc}") from None
        feature = area_feature(_json(response.content, url), number, names[number], epsg, url)
        store.write(
            "geo",
            f"{folder}/omrade/{number}.json",
            response.content,
            url=url,
            query={"kommunenummer": number, "utkoordsys": epsg},
            synthetic=False,
            validate=lambda content, u=url, n=number: area_feature(
                _json(content, u), n, names[n], epsg, u
            ),
            extra={"format": "json"},
        )
        features.append(feature)
        if log and len(features) % 50 == 0:
            log(f"geo: {len(features)}/{len(wanted)} kommuner")
    collection = {
        "type": "FeatureCollection",
        "name": "kommuner_kommuneinfo",
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}},
        "features": features,
    }
    content = json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    result = store.write(
        "geo",
        f"{folder}/Kommuner-kommuneinfo.geojson",
        content,
        url=f"{base}/kommuner/{{nr}}/omrade?utkoordsys={epsg}",
        query={"kommuner": wanted, "utkoordsys": epsg},
        fetched_at=fetched_at,
        synthetic=False,
        validate=lambda b: read_boundaries(b),
        extra={"format": f"GeoJSON, EPSG:{epsg}", "assembled_from": f"{folder}/omrade/<nr>.json"},
    )
    if log:
        log(f"hentet geo/{result.name} ({len(features)} kommuner)")
    return result
