"""``boso fetch`` of the population projections: catalog query, successor table 14746.

The fake PxWeb serves metadata in the PxWebApi v2 shape (as recorded from SSB, see
tests/fixtures/http/ssb_07459_metadata.json); its table 14288 can be "replaced" by 14746.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from test_sources_support import FakeAdapter, FakeClock, FakePxWeb, load_fixture, make_client

import boso.sources as sources
from boso.catalog import ssb_queries
from boso.errors import FetchError
from boso.raw import RawStore


def projection_metadata(table_id: str) -> dict:
    """A v2 metadata document for a projection table, built on the 07459 fixture's shape."""
    doc = copy.deepcopy(load_fixture("ssb_07459_metadata.json"))
    doc["label"] = f"{table_id}: Framskrevet folkemengde 1. januar, etter region, kjønn, alder"
    doc["href"] = doc["href"].replace("07459", table_id)
    doc["extension"]["px"]["tableid"] = table_id
    dims = doc["dimension"]
    dims["Region"]["category"] = {
        "index": {"3203": 0, "3201": 1},
        "label": {"3203": "Asker", "3201": "Bærum"},
    }
    dims["Region"]["extension"]["codelists"] = []
    dims["Alder"]["category"] = {
        "index": {"000": 0, "045": 1, "105+": 2},
        "label": {"000": "0 år", "045": "45 år", "105+": "105 år eller eldre"},
    }
    alternatives = {"MMMM": "Hovedalternativet (MMMM)", "LLML": "Lav nasjonal vekst (LLML)"}
    alternatives["HHMH"] = "Høy nasjonal vekst (HHMH)"
    dims["ContentsCode"]["category"] = {
        "index": {code: i for i, code in enumerate(alternatives)},
        "label": alternatives,
        "unit": {code: {"base": "personer", "decimals": 0} for code in alternatives},
    }
    years = ["2026", "2035", "2050"]
    dims["Tid"]["category"] = {
        "index": {y: i for i, y in enumerate(years)},
        "label": {y: y for y in years},
    }
    doc["size"] = [2, 2, 3, 3, 3]
    return doc


@pytest.fixture
def projection_query(monkeypatch: pytest.MonkeyPatch) -> dict:
    queries = {"14288": ssb_queries()["14288"]}
    monkeypatch.setattr(sources, "catalog_queries", lambda: queries)
    return queries


def test_catalog_asks_for_all_alternatives_ages_and_the_successor() -> None:
    query = ssb_queries()["14288"]
    # The main alternative is required; the others and the ages only where the table has them.
    assert query["selection"]["ContentsCode"] == ["MMMM"] and query["selection"]["Region"] == "*"
    assert query["optional"] == {"ContentsCode": ["HHMH", "LLML"], "Alder": "*"}
    assert query["fallbacks"] == ["14746"]
    assert query["file"] == "14288.json"


def test_fetch_uses_the_successor_when_the_table_is_gone(
    tmp_path: Path, projection_query: dict
) -> None:
    clock = FakeClock()
    fake = FakePxWeb({"14746": projection_metadata("14746")})
    adapter = FakeAdapter(fake, clock)
    lines: list[str] = []
    files = sources.fetch_all(
        tables=["14288"],
        store=RawStore(tmp_path),
        client=make_client(adapter, clock),
        log=lines.append,
    )
    # Stored under the catalog's file name, so the build finds it; provenance names 14746.
    assert [f.name for f in files] == ["14288.json"]
    assert files[0].provenance["table_id"] == "14746"
    assert any("etterfølgeren 14746" in line for line in lines)
    doc = json.loads((tmp_path / "ssb" / "14288.json").read_text("utf-8"))
    assert set(doc["id"]) == {"Region", "Alder", "ContentsCode", "Tid"}  # Kjonn summed away
    assert set(doc["dimension"]["ContentsCode"]["category"]["index"]) == {"HHMH", "LLML", "MMMM"}
    assert any("/tables/14288/metadata" in r.url for r in adapter.requests)


def test_optional_alternatives_and_ages_are_left_out_where_the_table_lacks_them(
    tmp_path: Path, projection_query: dict
) -> None:
    meta = projection_metadata("14288")
    dims = meta["dimension"]
    del dims["Alder"]
    meta["id"] = [d for d in meta["id"] if d != "Alder"]
    dims["ContentsCode"]["category"] = {
        "index": {"MMMM": 0},
        "label": {"MMMM": "Hovedalternativet (MMMM)"},
    }
    clock = FakeClock()
    adapter = FakeAdapter(FakePxWeb({"14288": meta}), clock)
    files = sources.fetch_all(
        tables=["14288"],
        store=RawStore(tmp_path),
        client=make_client(adapter, clock),
        log=lambda _: None,
    )
    doc = json.loads(files[0].path.read_text("utf-8"))
    assert "Alder" not in doc["id"]
    assert list(doc["dimension"]["ContentsCode"]["category"]["index"]) == ["MMMM"]


def test_fetch_prefers_the_catalog_table_when_it_exists(
    tmp_path: Path, projection_query: dict
) -> None:
    clock = FakeClock()
    fake = FakePxWeb({"14288": projection_metadata("14288"), "14746": projection_metadata("14746")})
    adapter = FakeAdapter(fake, clock)
    files = sources.fetch_all(
        tables=["14288"],
        store=RawStore(tmp_path),
        client=make_client(adapter, clock),
        log=lambda _: None,
    )
    assert files[0].provenance["table_id"] == "14288"
    assert not any("14746" in r.url for r in adapter.requests)


def test_no_table_and_no_successor_is_one_clear_error(
    tmp_path: Path, projection_query: dict
) -> None:
    clock = FakeClock()
    adapter = FakeAdapter(FakePxWeb({}), clock)
    with pytest.raises(FetchError, match="'14746' ikke funnet"):
        sources.fetch_all(
            tables=["14288"],
            store=RawStore(tmp_path),
            client=make_client(adapter, clock),
            log=lambda _: None,
        )
    assert not (tmp_path / "ssb" / "14288.json").exists()
