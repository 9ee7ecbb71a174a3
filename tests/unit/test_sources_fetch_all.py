"""``fetch_all`` (``boso fetch``): source selection, catalog-driven SSB tables, IMDi skipping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_sources_klass import klass_server
from test_sources_support import FakeAdapter, FakeClock, make_client, pxweb_12008

import boso.sources as sources
from boso.errors import QueryError
from boso.raw import RawStore
from boso.sources import ssb

QUERIES = {
    "12008": {
        "file": "12008.json",
        "region_variable": "KOKkommuneregion0000",
        "selection": {
            "KOKkommuneregion0000": "*",
            "Tid": "*",
            "ContentsCode": ["KOSboligSper10000000"],
        },
        "codelist": {},
        "output_values": {},
    },
    "07459": {
        "file": "07459.json",
        "region_variable": "Region",
        "selection": {"Region": "*", "Tid": "*", "ContentsCode": ["Personer1"]},
        "codelist": {"Region": "agg_KommSummer"},
        "output_values": {"Region": "aggregated"},
    },
}


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(sources, "catalog_queries", lambda: QUERIES)
    return QUERIES


def test_fetch_catalog_tables_into_the_store(tmp_path: Path, catalog: dict) -> None:
    clock = FakeClock()
    adapter = FakeAdapter(pxweb_12008(), clock)
    lines: list[str] = []
    files = sources.fetch_all(
        tables=["12008", "07459"],
        store=RawStore(tmp_path),
        client=make_client(adapter, clock),
        log=lines.append,
    )
    assert [f.name for f in files] == ["12008.json", "07459.json"]
    doc = json.loads((tmp_path / "ssb" / "07459.json").read_text())
    assert list(doc["dimension"]["Region"]["category"]["index"]) == ["K-0301", "K-3203"]
    assert lines[0].startswith("hentet ssb/12008.json: 70 celler, 1 forespørsel(er)")
    # Only SSB was asked for (tables imply the ssb source): no KLASS/Geonorge requests.
    assert all("data.ssb.no/api/pxwebapi" in r.url for r in adapter.requests)


def test_unknown_table_lists_the_catalog_tables(tmp_path: Path, catalog: dict) -> None:
    with pytest.raises(
        QueryError, match=r"99999 står ikke i katalogen; tabeller i katalogen: 12008, 07459"
    ):
        sources.fetch_all(tables=["99999"], store=RawStore(tmp_path), log=lambda _: None)


def test_unknown_source_and_table_without_ssb() -> None:
    with pytest.raises(QueryError, match="ukjent.* kilde"):
        sources.fetch_all(sources=["statbank"], log=lambda _: None)
    with pytest.raises(QueryError, match="--table gjelder bare kilden ssb"):
        sources.fetch_all(sources=["klass"], tables=["12008"], log=lambda _: None)


def test_klass_only(tmp_path: Path) -> None:
    clock = FakeClock()
    adapter = FakeAdapter(klass_server, clock)
    lines: list[str] = []
    files = sources.fetch_all(
        sources=["klass"],
        store=RawStore(tmp_path),
        client=make_client(adapter, clock),
        log=lines.append,
    )
    assert len(files) == 4
    assert (tmp_path / "klass" / "131_correspondsAt_112_2024-01-01.json").is_file()
    assert "hentet klass/131_codesAt_2024-01-01.json" in lines


def test_imdi_is_skipped_without_an_export_url_unless_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOSO_IMDI_URL", raising=False)
    lines: list[str] = []
    assert sources._fetch_imdi(RawStore(tmp_path), explicit=False, log=lines.append) == []
    assert "BOSO_IMDI_URL" in lines[0]
    with pytest.raises(sources.FetchError, match="BOSO_IMDI_URL"):
        sources._fetch_imdi(RawStore(tmp_path), explicit=True, log=lines.append)


def test_catalog_queries_come_from_the_catalog() -> None:
    queries = sources.catalog_queries()
    assert queries, "the catalog declares SSB tables"
    for table_id, spec in queries.items():
        assert isinstance(spec["selection"], dict) and spec["selection"], table_id
        assert set(spec) >= {"selection", "codelist", "output_values"}


def test_one_failing_table_does_not_stop_the_others(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    queries = {"99999": dict(QUERIES["12008"], file="99999.json"), "12008": QUERIES["12008"]}
    monkeypatch.setattr(sources, "catalog_queries", lambda: queries)
    clock = FakeClock()
    lines: list[str] = []
    with pytest.raises(sources.FetchError, match=r"1 av 2 SSB-tabell\(er\) feilet.*99999"):
        sources.fetch_all(
            sources=["ssb"],
            store=RawStore(tmp_path),
            client=make_client(FakeAdapter(pxweb_12008(), clock), clock),
            log=lines.append,
        )
    assert (tmp_path / "ssb" / "12008.json").is_file()
    assert lines[0].startswith("feil: ssb/99999: SSB-tabell '99999' ikke funnet")


def test_catalog_queries_validate_against_the_snapshot_tables(snapshot_dir: Path) -> None:
    # The snapshot's SSB files have the tables' structure: every variable and code the catalog
    # asks for must exist there, or `boso fetch` would fail online with a QueryError.
    checked = 0
    for table_id, spec in sources.catalog_queries().items():
        path = snapshot_dir / "ssb" / (spec.get("file") or f"{table_id}.json")
        if not path.is_file():
            continue
        meta = ssb.parse_metadata(json.loads(path.read_text("utf-8")), table_id)
        query = ssb.build_query(
            meta, spec["selection"], spec.get("codelist"), spec.get("output_values")
        )
        assert query.variables, table_id
        checked += 1
    assert checked >= 5
