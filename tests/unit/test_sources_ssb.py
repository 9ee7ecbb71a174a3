"""SSB PxWebApi v2 (+ v0 fallback): validation, expressions, splitting, merging, storing."""

from __future__ import annotations

import json
import math
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest
import requests
from test_sources_support import (
    V0,
    V2,
    FakeAdapter,
    FakeClock,
    FakePxWeb,
    load_fixture,
    make_client,
    make_response,
    pxweb_12008,
)

from boso.errors import FetchError, QueryError
from boso.jsonstat import read_jsonstat_codes_and_labels
from boso.raw import RawStore
from boso.sources import ssb

SEL_12008 = {
    "KOKkommuneregion0000": "*",
    "ContentsCode": ["KOSboligSper10000000", "KOSboligtot0000"],
    "Tid": "range(2015,2024)",
}


def setup(server: FakePxWeb | None = None, **client_kwargs):  # noqa: ANN201
    server = server or pxweb_12008()
    clock = FakeClock()
    adapter = FakeAdapter(server, clock)
    return server, adapter, make_client(adapter, clock, **client_kwargs)


def data_requests(adapter: FakeAdapter) -> list:
    return [r for r in adapter.requests if "/data?" in r.url or r.url.startswith(V0) and r.body]


# --------------------------------------------------------------------------------------------
# Metadata and validation


def test_unknown_variable_lists_the_variables(tmp_path: Path) -> None:
    _, _, client = setup()
    with pytest.raises(QueryError) as info:
        ssb.fetch_table("12008", {"Region": "*"}, store=RawStore(tmp_path), client=client)
    assert str(info.value) == (
        "tabell 12008 har ingen variabel 'Region'; "
        "variabler: KOKkommuneregion0000, ContentsCode, Tid"
    )
    assert not (tmp_path / "ssb").exists()


def test_unknown_code_names_variable_and_lists_codes(tmp_path: Path) -> None:
    _, adapter, client = setup()
    selection = dict(SEL_12008, Tid=["2023", "2030"])
    with pytest.raises(QueryError) as info:
        ssb.fetch_table("12008", selection, store=RawStore(tmp_path), client=client)
    message = str(info.value)
    assert "tabell 12008, variabel 'Tid': ukjent(e) kode(r) '2030'" in message
    assert "2015, 2016" in message and "2024" in message
    assert data_requests(adapter) == []  # nothing sent after a failed validation


def test_unknown_table_is_a_query_error_after_v2_and_v0_404(tmp_path: Path) -> None:
    _, adapter, client = setup()
    with pytest.raises(QueryError, match="SSB-tabell '99999' ikke funnet"):
        ssb.fetch_table("99999", {"Tid": "*"}, store=RawStore(tmp_path), client=client)
    urls = [r.url for r in adapter.requests]
    assert urls == [f"{V2}/tables/99999/metadata?lang=no", f"{V0}/99999/"]


def test_malformed_table_id_is_rejected_before_any_request() -> None:
    _, adapter, client = setup()
    with pytest.raises(QueryError, match="ugyldig SSB-tabellnummer"):
        ssb.get_metadata("12008/../x", client)
    assert adapter.requests == []


def test_unknown_codelist_and_bad_output_values() -> None:
    _, _, client = setup()
    meta = ssb.get_metadata("07459", client)
    with pytest.raises(
        QueryError, match="ingen kodeliste 'agg_Fylker'; kodelister: agg_KommSummer"
    ):
        ssb.build_query(
            meta,
            {"Region": "*", "ContentsCode": "*", "Tid": "*"},
            {"Region": "agg_Fylker"},
            client=client,
        )
    with pytest.raises(QueryError, match="outputValues må være en av aggregated, single"):
        ssb.build_query(
            meta,
            {"Region": "*", "ContentsCode": "*", "Tid": "*"},
            {"Region": "agg_KommSummer"},
            {"Region": "summed"},
            client=client,
        )
    with pytest.raises(QueryError, match="koder: K-0301, K-3203"):
        ssb.build_query(
            meta,
            {"Region": ["K-9999"], "ContentsCode": "*", "Tid": "*"},
            {"Region": "agg_KommSummer"},
            client=client,
        )


def test_variable_that_cannot_be_eliminated_is_selected_whole(tmp_path: Path) -> None:
    _, adapter, client = setup()
    meta = ssb.get_metadata("12008", client)
    query = ssb.build_query(meta, {"KOKkommuneregion0000": "*", "Tid": "*"})
    assert query.auto_selected == ["ContentsCode"]
    assert query.cells == 7 * 10 * 2
    raw = ssb.fetch_table(
        "12008",
        {"KOKkommuneregion0000": "*", "Tid": "*"},
        store=RawStore(tmp_path),
        client=client,
    )
    assert "valueCodes[ContentsCode]=*" in urllib.parse.unquote(adapter.requests[-1].url)
    assert raw.provenance["query"]["auto_selected"] == ["ContentsCode"]
    # Eliminable variables left out are not sent (SSB sums them).
    q07459 = ssb.build_query(
        ssb.get_metadata("07459", client), {"Region": "*", "ContentsCode": "*", "Tid": "*"}
    )
    assert q07459.auto_selected == [] and "Kjonn" not in ssb.v2_data_url(q07459)


def test_parse_metadata_reads_codes_elimination_codelists() -> None:
    meta = ssb.parse_metadata(load_fixture("ssb_07459_metadata.json"), "07459")
    region = meta.variables["Region"]
    assert region.codes[:3] == ("0", "0301", "0220")
    assert region.elimination is True
    assert region.codelists == {"agg_KommSummer": "Aggregation", "vs_Kommun": "Valueset"}
    assert meta.variables["Tid"].time is True
    assert meta.updated == "2025-02-20T07:00:00Z"


# --------------------------------------------------------------------------------------------
# Value expressions


CODES = [str(y) for y in range(2010, 2025)]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("*", CODES),
        ("range(2015,2017)", ["2015", "2016", "2017"]),
        ("range(2017, 2015)", ["2015", "2016", "2017"]),
        ("from(2022)", ["2022", "2023", "2024"]),
        ("to(2011)", ["2010", "2011"]),
        ("top(2)", ["2023", "2024"]),
        ("bottom(2)", ["2010", "2011"]),
        ("top(2,1)", ["2022", "2023"]),
        ("201?", [str(y) for y in range(2010, 2020)]),
        (["2024", "2010", "2024"], ["2010", "2024"]),
    ],
)
def test_resolve_expressions_on_time(expr, expected) -> None:  # noqa: ANN001
    assert ssb.resolve_expressions(expr, CODES, time=True) == expected


def test_top_on_a_non_time_variable_takes_the_first_codes() -> None:
    assert ssb.resolve_expressions("top(2)", ["a", "b", "c"], time=False) == ["a", "b"]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("range(2015,2099)", "ukjent kode '2099'"),
        ("from(1900)", "ukjent kode '1900'"),
        ("top(x)", "trenger et antall"),
        ("19*", "passer ikke med noen kode"),
        ("range(2015)", "trenger to koder"),
    ],
)
def test_resolve_expressions_errors(expr, message) -> None:  # noqa: ANN001
    with pytest.raises(QueryError, match=message):
        ssb.resolve_expressions(expr, CODES, time=True, where="table T, variable 'Tid'")


# --------------------------------------------------------------------------------------------
# Fetching, storing, provenance


def test_fetch_stores_dataset_with_provenance(tmp_path: Path) -> None:
    _, adapter, client = setup()
    store = RawStore(tmp_path)
    raw = ssb.fetch_table("12008", SEL_12008, store=store, client=client)
    assert raw.path == tmp_path / "ssb" / "12008.json"
    doc = json.loads(raw.read_bytes())
    assert doc["size"] == [7, 2, 10]
    prov = raw.provenance
    assert prov["url"] == adapter.requests[-1].url  # the URL as sent
    url = urllib.parse.unquote(prov["url"])
    assert url.startswith(f"{V2}/tables/12008/data?lang=no&outputFormat=json-stat2")
    assert "valueCodes[Tid]=[range(2015,2024)]" in url
    assert prov["query"]["selection"]["Tid"] == ["range(2015,2024)"]
    assert prov["query"]["api"] == "v2"
    assert prov["source_updated"] == "2025-06-16T06:00:00Z"
    assert prov["synthetic"] is False
    assert prov["sha256"] and prov["fetched_at"]
    # One metadata read, one data request (GET, the URL is short).
    assert [r.method for r in adapter.requests] == ["GET", "GET"]
    frame = read_jsonstat_codes_and_labels(raw.path)
    sup = frame[(frame["KOKkommuneregion0000"] == "0220") & (frame["Tid"] == "2021")]
    assert set(sup["status"]) == {"."} and sup["value"].isna().all()


def test_single_request_bytes_are_stored_exactly_as_received(tmp_path: Path) -> None:
    body = (Path(__file__).parents[1] / "fixtures" / "http" / "ssb_12008_data.json").read_bytes()
    server = pxweb_12008()

    def handler(request):  # noqa: ANN001, ANN202
        if "/data?" in request.url:
            return make_response(request, 200, body)
        return server(request)

    clock = FakeClock()
    client = make_client(FakeAdapter(handler, clock), clock)
    sel = {
        "KOKkommuneregion0000": ["0301", "3203"],
        "ContentsCode": "KOSboligSper10000000",
        "Tid": "from(2023)",
    }
    raw = ssb.fetch_table("12008", sel, store=RawStore(tmp_path), client=client)
    assert raw.read_bytes() == body


def test_codelist_and_output_values_go_into_the_url(tmp_path: Path) -> None:
    _, adapter, client = setup()
    raw = ssb.fetch_table(
        "07459",
        {"Region": "*", "ContentsCode": "Personer1", "Tid": "top(2)"},
        {"Region": "agg_KommSummer"},
        {"Region": "aggregated"},
        store=RawStore(tmp_path),
        client=client,
    )
    data_url = urllib.parse.unquote(adapter.requests[-1].url)
    assert adapter.requests[1].url == f"{V2}/codelists/agg_KommSummer?lang=no"
    assert "codelist[Region]=agg_KommSummer" in data_url
    assert "outputValues[Region]=aggregated" in data_url
    assert "valueCodes[Region]=*" in data_url
    assert "valueCodes[Tid]=top(2)" in data_url
    assert "Kjonn" not in data_url  # eliminated variables are not sent
    doc = json.loads(raw.read_bytes())
    assert list(doc["dimension"]["Region"]["category"]["index"]) == ["K-0301", "K-3203"]
    assert list(doc["dimension"]["Tid"]["category"]["index"]) == ["2023", "2024"]
    assert raw.provenance["query"]["codelist"] == {"Region": "agg_KommSummer"}


def test_long_get_url_becomes_post(tmp_path: Path) -> None:
    meta = load_fixture("ssb_12008_metadata.json")
    many = [f"{i:04d}" for i in range(1000, 1500)]
    meta["dimension"]["KOKkommuneregion0000"]["category"]["index"] = {
        c: i for i, c in enumerate(many)
    }
    meta["dimension"]["KOKkommuneregion0000"]["category"]["label"] = {c: c for c in many}
    server = FakePxWeb({"12008": meta})
    _, adapter, client = setup(server)
    sel = {"KOKkommuneregion0000": many[:400], "ContentsCode": "*", "Tid": "*"}
    assert len(ssb.v2_data_url(ssb.build_query(ssb.parse_metadata(meta, "12008"), sel))) > 2100
    raw = ssb.fetch_table("12008", sel, store=RawStore(tmp_path), client=client)
    request = adapter.requests[-1]
    assert request.method == "POST"
    assert len(request.url) < 2000
    assert request.url == f"{V2}/tables/12008/data?lang=no&outputFormat=json-stat2"
    assert request.body["selection"][0] == {
        "variableCode": "KOKkommuneregion0000",
        "valueCodes": many[:400],
    }
    assert json.loads(raw.read_bytes())["size"] == [400, 2, 10]


def test_v0_fallback_request_body_when_v2_data_is_404(tmp_path: Path) -> None:
    server = pxweb_12008(v2_data=False)
    _, adapter, client = setup(server)
    raw = ssb.fetch_table("12008", SEL_12008, store=RawStore(tmp_path), client=client)
    post = adapter.requests[-1]
    assert post.method == "POST" and post.url == f"{V0}/12008/"
    assert post.body == {
        "query": [
            {
                "code": "KOKkommuneregion0000",
                "selection": {
                    "filter": "item",
                    "values": ["EAK", "EKG13", "0301", "0220", "3025", "3203", "3903"],
                },
            },
            {
                "code": "ContentsCode",
                "selection": {
                    "filter": "item",
                    "values": ["KOSboligtot0000", "KOSboligSper10000000"],
                },
            },
            {
                "code": "Tid",
                "selection": {"filter": "item", "values": [str(y) for y in range(2015, 2025)]},
            },
        ],
        "response": {"format": "json-stat2"},
    }
    assert raw.provenance["query"]["api"] == "v0"
    assert raw.provenance["url"] == f"{V0}/12008/"
    assert json.loads(raw.read_bytes())["size"] == [7, 2, 10]


def test_v0_body_maps_codelists_to_v0_filters() -> None:
    meta = ssb.parse_metadata(load_fixture("ssb_07459_metadata.json"), "07459")
    _, _, client = setup()
    query = ssb.build_query(
        meta,
        {"Region": "*", "ContentsCode": "*", "Tid": "*"},
        {"Region": "agg_KommSummer"},
        client=client,
    )
    body = ssb.v0_body(query)
    assert body["query"][0] == {
        "code": "Region",
        "selection": {"filter": "agg:KommSummer", "values": ["K-0301", "K-3203"]},
    }


def test_v2_unavailable_falls_back_to_v0_after_retries(tmp_path: Path) -> None:
    server = pxweb_12008()

    def handler(request):  # noqa: ANN001, ANN202
        if request.url.startswith(f"{V2}/tables/12008/data"):
            return make_response(request, 503, "maintenance")
        return server(request)

    clock = FakeClock()
    adapter = FakeAdapter(handler, clock)
    client = make_client(adapter, clock, max_tries=2)
    raw = ssb.fetch_table("12008", SEL_12008, store=RawStore(tmp_path), client=client)
    assert raw.provenance["query"]["api"] == "v0"
    assert [r.method for r in adapter.requests].count("POST") == 1


def test_both_apis_failing_is_a_fetch_error_naming_both(tmp_path: Path) -> None:
    def handler(request):  # noqa: ANN001, ANN202
        if "metadata" in request.url:
            return make_response(request, 200, load_fixture("ssb_12008_metadata.json"))
        return make_response(request, 503, "down")

    clock = FakeClock()
    client = make_client(FakeAdapter(handler, clock), clock, max_tries=2)
    with pytest.raises(FetchError) as info:
        ssb.fetch_table("12008", SEL_12008, store=RawStore(tmp_path), client=client)
    message = str(info.value)
    assert "v2 feilet" in message and "v0 feilet" in message
    assert f"{V0}/12008/" in message
    assert not (tmp_path / "ssb" / "12008.json").exists()


# --------------------------------------------------------------------------------------------
# Bad responses never replace a good file


def _bad_bodies() -> dict[str, bytes]:
    good = json.loads(
        (Path(__file__).parents[1] / "fixtures" / "http" / "ssb_12008_data.json").read_text()
    )
    short = dict(good, value=good["value"][:-1])
    no_dimension = {k: v for k, v in good.items() if k != "dimension"}
    wrong_size = dict(good, size=[2, 1, 3])
    text = json.dumps(good).encode()
    return {
        "truncated": text[: len(text) // 2],
        "short_values": json.dumps(short).encode(),
        "missing_key": json.dumps(no_dimension).encode(),
        "wrong_size": json.dumps(wrong_size).encode(),
        "html": b"<html>Service unavailable</html>",
    }


@pytest.mark.parametrize("case", sorted(_bad_bodies()))
def test_bad_response_leaves_existing_raw_file_byte_identical(tmp_path: Path, case: str) -> None:
    store = RawStore(tmp_path)
    good = (Path(__file__).parents[1] / "fixtures" / "http" / "ssb_12008_data.json").read_bytes()
    store.write("ssb", "12008.json", good, url="earlier", source_updated="2025-06-16T06:00:00Z")
    sidecar = tmp_path / "ssb" / "12008.json.provenance.json"
    before = sidecar.read_bytes()
    bad = _bad_bodies()[case]
    server = pxweb_12008()

    def handler(request):  # noqa: ANN001, ANN202
        # Both data endpoints answer badly: a retried truncated v2 body falls back to v0.
        if "/data?" in request.url or request.method == "POST":
            return make_response(request, 200, bad)
        return server(request)

    clock = FakeClock()
    client = make_client(FakeAdapter(handler, clock), clock)
    sel = {
        "KOKkommuneregion0000": ["0301", "3203"],
        "ContentsCode": "KOSboligSper10000000",
        "Tid": "from(2023)",
    }
    with pytest.raises(FetchError):
        ssb.fetch_table("12008", sel, store=store, client=client)
    assert (tmp_path / "ssb" / "12008.json").read_bytes() == good
    assert sidecar.read_bytes() == before
    assert not (tmp_path / "ssb" / "_history").exists()


def test_response_missing_requested_codes_is_rejected(tmp_path: Path) -> None:
    # A consistent dataset, but for fewer regions than asked: a silent truncation.
    body = (Path(__file__).parents[1] / "fixtures" / "http" / "ssb_12008_data.json").read_bytes()
    server = pxweb_12008()

    def handler(request):  # noqa: ANN001, ANN202
        return make_response(request, 200, body) if "/data?" in request.url else server(request)

    clock = FakeClock()
    client = make_client(FakeAdapter(handler, clock), clock)
    sel = {
        "KOKkommuneregion0000": ["0301", "3203", "3903"],
        "ContentsCode": "KOSboligSper10000000",
        "Tid": "from(2023)",
    }
    with pytest.raises(FetchError, match="ventet 3"):
        ssb.fetch_table("12008", sel, store=RawStore(tmp_path), client=client)
    assert not (tmp_path / "ssb" / "12008.json").exists()


# --------------------------------------------------------------------------------------------
# Splitting and merging


def _frame(doc_or_path) -> pd.DataFrame:  # noqa: ANN001
    return read_jsonstat_codes_and_labels(doc_or_path)


def test_split_query_respects_the_cell_limit_and_merge_equals_unsplit(tmp_path: Path) -> None:
    server, adapter, client = setup()
    reference = _fetch_unsplit(tmp_path / "ref")
    raw = ssb.fetch_table(
        "12008", SEL_12008, store=RawStore(tmp_path / "split"), client=client, max_cells=30
    )
    cells = [r["cells"] for r in server.data_requests]
    assert len(cells) > 1 and max(cells) <= 30
    assert sum(cells) == 7 * 2 * 10
    merged = json.loads(raw.read_bytes())
    assert merged["value"] == reference["value"]
    assert merged["status"] == reference["status"]
    assert merged["size"] == reference["size"] == [7, 2, 10]
    for dim in merged["id"]:
        assert merged["dimension"][dim]["category"] == reference["dimension"][dim]["category"]
    pd.testing.assert_frame_equal(_frame(raw.path), _frame(reference))
    assert raw.provenance["requests"] == len(cells)


def test_split_recurses_when_one_variable_is_not_enough(tmp_path: Path) -> None:
    # max 3 cells: even one region (2 x 10 = 20 cells) is too large -> split again on Tid.
    server, _, client = setup()
    reference = _fetch_unsplit(tmp_path / "ref")
    raw = ssb.fetch_table(
        "12008", SEL_12008, store=RawStore(tmp_path / "split"), client=client, max_cells=3
    )
    cells = [r["cells"] for r in server.data_requests]
    assert max(cells) <= 3 and sum(cells) == 140
    merged = json.loads(raw.read_bytes())
    assert merged["value"] == reference["value"] and merged["status"] == reference["status"]


def test_real_limit_no_request_over_800000_cells(tmp_path: Path) -> None:
    meta = load_fixture("ssb_12008_metadata.json")
    regions = [f"{i:04d}" for i in range(1000, 1900)]  # 900 regions
    contents = [f"C{i:02d}" for i in range(25)]
    years = [str(y) for y in range(1986, 2026)]  # 40 years -> 900 000 cells
    for dim, codes in (
        ("KOKkommuneregion0000", regions),
        ("ContentsCode", contents),
        ("Tid", years),
    ):
        meta["dimension"][dim]["category"] = {
            "index": {c: i for i, c in enumerate(codes)},
            "label": {c: c for c in codes},
        }
    meta["size"] = [900, 25, 40]
    server = FakePxWeb({"12008": meta})
    _, adapter, client = setup(server)
    sel = {"KOKkommuneregion0000": "*", "ContentsCode": "*", "Tid": "*"}
    raw = ssb.fetch_table("12008", sel, store=RawStore(tmp_path), client=client)
    cells = [r["cells"] for r in server.data_requests]
    assert len(cells) == 2 and max(cells) <= ssb.MAX_CELLS and sum(cells) == 900_000
    # The 800-region part would need a URL far over 2 100 characters; the 100-region part not.
    assert [r.method for r in data_requests(adapter)] == ["POST", "GET"]
    merged = json.loads(raw.read_bytes())
    assert merged["size"] == [900, 25, 40]
    assert list(merged["dimension"]["KOKkommuneregion0000"]["category"]["index"]) == regions
    expected = server.dataset(
        "12008",
        [("KOKkommuneregion0000", regions, {}), ("ContentsCode", contents, {}), ("Tid", years, {})],
    )
    assert merged["value"] == expected["value"]
    assert merged["status"] == expected["status"]


def test_merge_datasets_reorders_to_the_requested_order() -> None:
    server = pxweb_12008()
    dims = lambda regions: [  # noqa: E731
        ("KOKkommuneregion0000", regions, {}),
        ("ContentsCode", ["KOSboligtot0000"], {}),
        ("Tid", ["2019", "2020", "2021"], {}),
    ]
    a = server.dataset("12008", dims(["3203", "3903"]))
    b = server.dataset("12008", dims(["0301", "0220"]))
    whole = server.dataset("12008", dims(["0301", "0220", "3203", "3903"]))
    merged = ssb.merge_datasets(
        [a, b], "KOKkommuneregion0000", order=["0301", "0220", "3203", "3903"]
    )
    assert merged["value"] == whole["value"]
    assert merged["status"] == whole["status"]
    assert merged["dimension"]["KOKkommuneregion0000"]["category"]["index"] == {
        "0301": 0,
        "0220": 1,
        "3203": 2,
        "3903": 3,
    }
    ssb.check_dataset(merged, "merged")


def test_merge_refuses_parts_that_do_not_fit() -> None:
    server = pxweb_12008()
    a = server.dataset("12008", [("KOKkommuneregion0000", ["0301"], {}), ("Tid", ["2019"], {})])
    b = server.dataset("12008", [("KOKkommuneregion0000", ["3203"], {}), ("Tid", ["2020"], {})])
    with pytest.raises(FetchError, match="'Tid' er ulik"):
        ssb.merge_datasets([a, b], "KOKkommuneregion0000")
    with pytest.raises(FetchError, match="finnes i to deler"):
        ssb.merge_datasets([a, a], "KOKkommuneregion0000")


def test_query_cells_is_the_product_of_selected_counts() -> None:
    meta = ssb.parse_metadata(load_fixture("ssb_12008_metadata.json"), "12008")
    query = ssb.build_query(meta, SEL_12008)
    assert query.cells == 7 * 2 * 10 == math.prod(len(v.codes) for v in query.variables)


def _fetch_unsplit(root: Path) -> dict:
    _, _, client = setup()
    raw = ssb.fetch_table("12008", SEL_12008, store=RawStore(root), client=client)
    return json.loads(raw.read_bytes())


def test_table_only_in_v0_is_fetched_from_v0(tmp_path: Path) -> None:
    server = FakePxWeb({}, v0_metadata={"12008": load_fixture("ssb_v0_12008_metadata.json")})
    _, adapter, client = setup(server)
    raw = ssb.fetch_table("12008", SEL_12008, store=RawStore(tmp_path), client=client)
    assert [(r.method, r.url) for r in adapter.requests] == [
        ("GET", f"{V2}/tables/12008/metadata?lang=no"),
        ("GET", f"{V0}/12008/"),
        ("POST", f"{V0}/12008/"),
    ]
    assert raw.provenance["query"]["api"] == "v0"
    assert json.loads(raw.read_bytes())["size"] == [7, 2, 10]


def test_output_values_single_counts_the_member_codes() -> None:
    _, _, client = setup()
    meta = ssb.get_metadata("07459", client)
    query = ssb.build_query(
        meta,
        {"Region": "*", "ContentsCode": "*", "Tid": "*"},
        {"Region": "agg_KommSummer"},
        {"Region": "single"},
        client=client,
    )
    # K-0301 -> 0301; K-3203 -> 0220, 0627, 0628, 3025, 3203: six single regions x 5 years.
    assert query.cells == 6 * 1 * 5
    url = urllib.parse.unquote(ssb.v2_data_url(query))
    assert "outputValues[Region]=single" in url
    assert ssb.v0_body(query)["query"][0]["selection"]["filter"] == "agg_single:KommSummer"


def test_duplicate_codes_are_sent_once(tmp_path: Path) -> None:
    # SSB answers a repeated value code with HTTP 500; the query must deduplicate.
    server, adapter, client = setup()
    sel = dict(SEL_12008, Tid=["2023", "2024", "2023"])
    raw = ssb.fetch_table("12008", sel, store=RawStore(tmp_path), client=client)
    assert "valueCodes[Tid]=2023,2024&" in urllib.parse.unquote(adapter.requests[-1].url) + "&"
    assert json.loads(raw.read_bytes())["size"] == [7, 2, 2]


def test_comma_expressions_are_bracketed_in_get_urls() -> None:
    assert ssb.get_value_codes(["range(2015,2024)", "top(3,2)", "2010"]) == (
        "[range(2015,2024)],[top(3,2)],2010"
    )
    assert ssb.resolve_expressions(["[range(2015,2016)]"], CODES, time=True) == ["2015", "2016"]


def test_no_network_fails_fast_without_trying_v0(tmp_path: Path) -> None:
    clock = FakeClock()
    adapter = FakeAdapter(None, clock)
    adapter.script = [requests.ConnectionError("Failed to resolve 'data.ssb.no'")] * 10
    client = make_client(adapter, clock, max_tries=3)
    with pytest.raises(FetchError, match="ga opp"):
        ssb.fetch_table("12008", SEL_12008, store=RawStore(tmp_path), client=client)
    assert len(adapter.requests) == 3  # the v2 metadata tries only
