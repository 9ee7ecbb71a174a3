"""boso.jsonstat on the JSON-stat format's published samples and on real producers' shapes.

The fixtures (see ``tests/fixtures/jsonstat/README.md``) reproduce json-stat.org's sample
datasets (a version-1 bundle, a collection, string values, a hierarchy) and the shapes SSB's and
Statistics Sweden's PxWebApi send. Where pyjstat can read a file it is the reference; it cannot
read a one-category dimension without ``index`` (a KeyError in pyjstat), so for those files the
comparison adds the ``index`` the format implies.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pyjstat import pyjstat

from boso.errors import DataError, FetchError
from boso.jsonstat import (
    check_jsonstat,
    merge_jsonstat,
    read_jsonstat,
    read_jsonstat_all,
    read_jsonstat_codes_and_labels,
    read_jsonstat_meta,
)
from boso.sources import ssb

pytestmark = pytest.mark.filterwarnings("ignore:Shouldn't use this function:DeprecationWarning")


@pytest.fixture
def samples(fixtures_dir: Path) -> Path:
    return fixtures_dir / "jsonstat"


def _load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def _with_implied_index(dataset: dict[str, Any]) -> dict[str, Any]:
    """The same dataset with ``index`` written out for one-category dimensions (for pyjstat)."""
    out = copy.deepcopy(dataset)
    dims = out["dimension"]
    for key, dim in dims.items():
        if key in ("id", "size", "role"):
            continue
        category = dim["category"]
        if "index" not in category:
            category["index"] = list(category["label"])
    return out


def _same_as_pyjstat(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    dim_cols = list(theirs.columns[:-1])
    assert list(ours.columns) == [*dim_cols, "value", "status"]
    for col in dim_cols:
        assert ours[col].astype(str).tolist() == theirs[col].astype(str).tolist(), col
    their_values = pd.to_numeric(theirs["value"]).astype("float64").to_numpy()
    np.testing.assert_array_equal(ours["value"].to_numpy(), their_values)


# ---------------------------------------------------------------------------------------------
# json-stat.org samples


def test_version_1_bundle_names_its_datasets_and_reads_each(samples: Path) -> None:
    path = samples / "jsonstat-org-oecd-canada.v1.json"
    with pytest.raises(DataError, match=r"inneholder 2 datasett \(oecd, canada\); velg ett"):
        read_jsonstat(path)
    raw = _load(path)
    theirs = pyjstat.from_json_stat(
        {k: _with_implied_index(v) for k, v in raw.items()}, naming="label"
    )
    for name, their_frame in zip(["oecd", "canada"], theirs, strict=True):
        ours = read_jsonstat(path, dataset=name)
        _same_as_pyjstat(ours, their_frame)
    # Positions work too, and read_jsonstat_all gives both by name.
    pd.testing.assert_frame_equal(
        read_jsonstat(path, dataset=1), read_jsonstat(path, dataset="canada")
    )
    both = read_jsonstat_all(path)
    assert list(both) == ["oecd", "canada"]

    oecd = both["oecd"]
    # The sparse status object: estimates ("e") for 2013-2014 of every area.
    flagged = oecd.loc[oecd["status"] == "e", "2003-2014"].astype(str).tolist()
    assert flagged == ["2013", "2014"] * 3
    assert set(oecd["Selected indicator"]) == {"Unemployment rate"}  # the index-less dimension
    # A one-element status array applies to every cell.
    assert set(both["canada"]["status"]) == {"a"}
    meta = read_jsonstat_meta(path, dataset="oecd")
    assert meta.role == {"time": ["year"], "geo": ["area"], "metric": ["concept"]}
    assert meta.units["UNR"]["symbol"] == "%"


def test_version_2_canada_equals_pyjstat(samples: Path) -> None:
    path = samples / "jsonstat-org-canada.json"
    raw = _load(path)
    theirs = pyjstat.Dataset.read(json.dumps(_with_implied_index(raw))).write("dataframe")
    ours = read_jsonstat(path)
    _same_as_pyjstat(ours, theirs)
    assert len(ours) == 120 and set(ours["status"]) == {"a"}
    row = ours.iloc[7]  # age 0 to 4, males, population
    assert (row["Age group"], row["Sex"], row["value"]) == ("0 to 4", "Male", 988.7)


def test_collection_embeds_datasets_read_by_position(samples: Path) -> None:
    path = samples / "jsonstat-org-oecd-canada-col.json"
    with pytest.raises(DataError, match="inneholder 2 datasett"):
        read_jsonstat(path)
    items = _load(path)["link"]["item"]
    for i, item in enumerate(items):
        # pyjstat takes a dataset without "version" for 1.x; collection items carry none.
        as_v2 = {"version": "2.0", **_with_implied_index(item)}
        theirs = pyjstat.Dataset.read(json.dumps(as_v2)).write("dataframe")
        _same_as_pyjstat(read_jsonstat(path, dataset=i), theirs)
    assert list(read_jsonstat_all(path)) == ["0", "1"]
    # The same data as the bundle and the plain file.
    bundle = samples / "jsonstat-org-oecd-canada.v1.json"
    np.testing.assert_array_equal(
        read_jsonstat(path, dataset=0)["value"], read_jsonstat(bundle, dataset="oecd")["value"]
    )
    np.testing.assert_array_equal(
        read_jsonstat(path, dataset=1)["status"],
        read_jsonstat(samples / "jsonstat-org-canada.json")["status"],
    )
    with pytest.raises(DataError, match=r"ingen datasett 2 her; datasett: 0, 1"):
        read_jsonstat(path, dataset=2)


def test_collection_of_links_only_is_refused_clearly(samples: Path) -> None:
    path = samples / "jsonstat-org-collection-links.json"
    with pytest.raises(DataError) as info:
        read_jsonstat(path)
    message = str(info.value)
    assert str(path) in message and "lenker bare til datasettene sine (href)" in message


def test_string_values_other_than_numbers_or_symbols_are_refused(samples: Path) -> None:
    path = samples / "jsonstat-org-order.json"
    with pytest.raises(DataError, match=r'value\[0\] er teksten "A1B1C1", verken et tall'):
        read_jsonstat(path)
    # The sample's point is the value order (last dimension fastest): with each "AaBbCc" written
    # as the numeric string "abc", every row's codes must spell its value.
    raw = _load(path)
    raw["value"] = [re.sub(r"[ABC]", "", v) for v in raw["value"]]
    ours = read_jsonstat(raw, labels=False)
    spelled = (ours["A"].astype(str) + ours["B"].astype(str) + ours["C"].astype(str)).astype(float)
    mismatch = np.flatnonzero(spelled.to_numpy() != ours["value"].to_numpy())
    assert mismatch.tolist() == [11]  # the published sample's own slip ("A1B1C4" for A2B1C4)
    theirs = pyjstat.Dataset.read(json.dumps(raw)).write("dataframe", naming="id")
    _same_as_pyjstat(ours, theirs)


def test_hierarchy_with_sparse_null_value(samples: Path) -> None:
    path = samples / "jsonstat-org-hierarchy.json"
    ours = read_jsonstat(path)
    assert len(ours) == 12 and ours["value"].isna().all() and set(ours["status"]) == {""}
    assert ours["CPI commodity"].tolist()[:3] == [
        "Total",
        "Food and non-alcoholic beverages",
        "Bread and cereal products",
    ]
    theirs = pyjstat.Dataset.read(path.read_text("utf-8")).write("dataframe")
    assert ours["CPI commodity"].astype(str).tolist() == theirs["CPI commodity"].tolist()


# ---------------------------------------------------------------------------------------------
# Real producers' shapes (SSB v2, SSB v0, Statistics Sweden's PxWebApi v2)


@pytest.mark.parametrize(
    "name",
    [
        "ssb-v2-12134-shape.json",
        "ssb-v0-07221-shape.json",
        "ssb-v0-05300-shape.json",
        "scb-v2-tab6471-shape.json",
    ],
)
def test_pxweb_shapes_equal_pyjstat_and_keep_status(samples: Path, name: str) -> None:
    path = samples / name
    raw = _load(path)
    ours = read_jsonstat(path)
    _same_as_pyjstat(ours, pyjstat.Dataset.read(path.read_text("utf-8")).write("dataframe"))
    expected = [""] * len(ours)
    for pos, symbol in raw.get("status", {}).items():
        expected[int(pos)] = symbol
    assert ours["status"].tolist() == expected
    # A suppressed or missing cell is NaN, never 0.
    assert ours.loc[ours["status"] != "", "value"].isna().all()
    # The fetch check accepts exactly what the reader reads.
    assert ssb.check_dataset(raw, name) is raw


def test_ssb_v0_status_symbols_by_cell(samples: Path) -> None:
    df = read_jsonstat_codes_and_labels(samples / "ssb-v0-07221-shape.json")
    missing = df[df["status"] == ".."]
    assert missing["Region"].astype(str).unique().tolist() == ["002"]
    assert missing["Tid"].astype(str).tolist() == ["2022K3", "2022K4"] * 2
    df = read_jsonstat_codes_and_labels(samples / "ssb-v0-05300-shape.json")
    assert df.set_index(["Avstand1", "Tid"])["status"].to_dict()[("01", "1997")] == "."


def test_scb_notes_with_line_breaks_stay_in_meta(samples: Path) -> None:
    meta = read_jsonstat_meta(samples / "scb-v2-tab6471-shape.json")
    assert "\r\n" in meta.note[0] and meta.source == "SCB"
    assert meta.dimension_notes["Alder"] == ["Åldern avser uppnådd ålder."]


def test_metadata_answer_is_not_data(samples: Path) -> None:
    path = samples / "scb-v2-tab6471-metadata-shape.json"
    with pytest.raises(DataError, match="value har 0 elementer .et metadatasvar uten data"):
        read_jsonstat(path)


# ---------------------------------------------------------------------------------------------
# What producers send beyond the plain form


def test_sizes_as_numeric_strings(samples: Path) -> None:
    raw = _load(samples / "ssb-v2-12134-shape.json")
    expected = read_jsonstat_codes_and_labels(raw)
    raw["size"] = [str(s) for s in raw["size"]]
    pd.testing.assert_frame_equal(read_jsonstat_codes_and_labels(raw), expected)
    assert read_jsonstat_meta(raw).size == [3, 1, 2]


def test_values_as_numeric_strings_and_symbols(samples: Path) -> None:
    raw = _load(samples / "ssb-v0-07221-shape.json")
    expected = read_jsonstat(raw)
    status = raw.pop("status")
    # Numbers as text, and the status symbol in place of each missing value.
    raw["value"] = [
        status.get(str(i), str(v)) if v is None else str(v) for i, v in enumerate(raw["value"])
    ]
    got = read_jsonstat(raw)
    pd.testing.assert_frame_equal(got, expected)
    # A status the dataset gives itself wins over the symbol in the value.
    raw["status"] = {next(iter(status)): ":"}
    assert read_jsonstat(raw)["status"].tolist().count(":") == 1


@pytest.mark.parametrize("status", [[], {}, None])
def test_empty_status_means_no_symbols_in_fetch_and_build_alike(samples: Path, status: Any) -> None:
    raw = _load(samples / "ssb-v2-12134-shape.json")
    raw["status"] = status
    assert set(read_jsonstat(raw)["status"]) == {""}
    ssb.check_dataset(raw, "12134")  # accepted by fetch exactly when build reads it


def test_fetch_refuses_what_build_refuses(samples: Path) -> None:
    raw = _load(samples / "ssb-v2-12134-shape.json")
    raw["status"] = [".."] * 2  # neither one symbol for all nor one per cell
    with pytest.raises(DataError, match="status har 2 elementer, men kuben har 6 celler"):
        read_jsonstat(raw)
    with pytest.raises(FetchError, match="12134: JSON-stat: status har 2 elementer"):
        ssb.check_dataset(raw, "12134")
    # A bundle or collection is valid JSON-stat but not what PxWebApi answers.
    one = {"oecd": _load(samples / "jsonstat-org-oecd-canada.v1.json")["oecd"]}
    check_jsonstat(json.dumps(one))
    with pytest.raises(FetchError, match="ikke ett enkelt JSON-stat 2.0-datasett"):
        ssb.check_dataset(one, "x")


# ---------------------------------------------------------------------------------------------
# The real recordings beside the checkout (../shared/recordings), when they are there


def _recordings() -> Path:
    snapshot = os.environ.get("BOSO_SNAPSHOT")
    base = Path(snapshot).parent if snapshot else Path(__file__).resolve().parents[3] / "shared"
    return base / "recordings"


REAL_JSONSTAT2 = [
    "ssb-v2/12134_get_data_jsonstat2.json",
    "ssb-v0/07221_post_jsonstat2.json",
    "ssb-v0/05300_post_jsonstat2.json",
    "pxwebapi-v2-scb/TAB6471_data.json",
]


@pytest.mark.parametrize("name", REAL_JSONSTAT2)
def test_real_recordings_read_like_pyjstat_and_pass_the_fetch_check(name: str) -> None:
    path = _recordings() / name
    if not path.is_file():
        pytest.skip(f"recording not found: {path}")
    text = path.read_text("utf-8")
    ours = read_jsonstat(path)
    _same_as_pyjstat(ours, pyjstat.Dataset.read(text).write("dataframe"))
    status = json.loads(text).get("status") or {}
    assert (ours["status"] != "").sum() == len(status)
    ssb.check_dataset(json.loads(text), name)


def test_real_metadata_recording_is_refused_as_data() -> None:
    path = _recordings() / "pxwebapi-v2-scb" / "TAB6471_metadata.json"
    if not path.is_file():
        pytest.skip(f"recording not found: {path}")
    with pytest.raises(DataError, match="value har 0 elementer"):
        read_jsonstat(path)
    assert read_jsonstat_meta(json.loads(path.read_text("utf-8")) | {"value": {}}).size[0] == 312


def test_a_plain_dataset_is_named_dataset(samples: Path) -> None:
    path = samples / "ssb-v2-12134-shape.json"
    (name,) = read_jsonstat_all(path)
    assert name == "dataset"
    pd.testing.assert_frame_equal(read_jsonstat(path, dataset="dataset"), read_jsonstat(path))
    pd.testing.assert_frame_equal(read_jsonstat(path, dataset=0), read_jsonstat(path))
    with pytest.raises(DataError, match="ingen datasett 'oecd' her; datasett: dataset"):
        read_jsonstat(path, dataset="oecd")


# ---------------------------------------------------------------------------------------------
# Through the SSB client: what fetch stores, build reads


def _fetch_12008(tmp_path: Path, edit: Any) -> Path:
    """Fetch 12008 from the fake PxWeb with ``edit`` applied to each data response."""
    from test_sources_support import FakeAdapter, FakeClock, make_client, make_response, pxweb_12008

    from boso.raw import RawStore

    server = pxweb_12008()

    def handler(request):  # noqa: ANN001, ANN202
        response = server(request)
        if "/data" in (request.url or "") and response.status_code == 200:
            doc = json.loads(response.content)
            edit(doc)
            return make_response(request, 200, doc)
        return response

    clock = FakeClock()
    client = make_client(FakeAdapter(handler, clock), clock)
    sel = {
        "KOKkommuneregion0000": ["0301", "3203"],
        "ContentsCode": "KOSboligSper10000000",
        "Tid": "from(2023)",
    }
    ssb.fetch_table("12008", sel, store=RawStore(tmp_path), client=client)
    return tmp_path / "ssb" / "12008.json"


def test_fetch_stores_an_empty_status_array_and_build_reads_it(tmp_path: Path) -> None:
    stored = _fetch_12008(tmp_path, lambda doc: doc.update(status=[]))
    assert json.loads(stored.read_bytes())["status"] == []
    frame = read_jsonstat_codes_and_labels(stored)
    assert len(frame) == math.prod(json.loads(stored.read_bytes())["size"])
    assert set(frame["status"]) == {""}


def test_fetch_refuses_a_status_build_would_refuse_and_stores_nothing(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="status har 2 elementer, men kuben har"):
        _fetch_12008(tmp_path, lambda doc: doc.update(status=["..", ".."]))
    assert not (tmp_path / "ssb" / "12008.json").exists()


def test_fetch_takes_sizes_sent_as_numeric_strings(tmp_path: Path) -> None:
    stored = _fetch_12008(tmp_path, lambda doc: doc.update(size=[str(s) for s in doc["size"]]))
    sizes = json.loads(stored.read_bytes())["size"]
    assert all(isinstance(s, str) for s in sizes)  # stored exactly as received
    provenance = json.loads(stored.with_name("12008.json.provenance.json").read_text("utf-8"))
    cells = math.prod(int(s) for s in sizes)
    assert cells > 1 and provenance["cells"] == cells
    assert len(read_jsonstat_codes_and_labels(stored)) == cells


def _region_part(whole: dict[str, Any], regions: list[str]) -> dict[str, Any]:
    """The cells of ``regions`` (the first dimension) as a dataset of their own."""
    part = copy.deepcopy(whole)
    codes = list(whole["dimension"]["Region"]["category"]["index"])
    inner = math.prod(whole["size"][1:])
    cells = [
        p for r in regions for p in range(codes.index(r) * inner, (codes.index(r) + 1) * inner)
    ]
    part["size"][0] = len(regions)
    category = part["dimension"]["Region"]["category"]
    category["index"] = {r: i for i, r in enumerate(regions)}
    category["label"] = {r: category["label"][r] for r in regions}
    part["value"] = [whole["value"][p] for p in cells]
    status = whole.get("status", {})
    part["status"] = [status.get(str(p)) for p in cells]  # dense, with nulls
    return part


def test_merge_of_parts_in_any_status_form_equals_the_whole(samples: Path) -> None:
    whole = _load(samples / "ssb-v0-07221-shape.json")
    a = _region_part(whole, ["002"])
    b = _region_part(whole, ["TOTAL", "001"])
    b["status"] = {str(i): s for i, s in enumerate(b["status"]) if s}  # sparse
    b["value"] = [str(v) if v is not None else None for v in b["value"]]  # numeric strings
    merged = merge_jsonstat([a, b], "Region", order=["TOTAL", "001", "002"])
    pd.testing.assert_frame_equal(read_jsonstat(merged), read_jsonstat(whole))
    assert merged["status"] == whole["status"]
    with pytest.raises(DataError, match=r"\[del 2\]: status har 2 elementer"):
        merge_jsonstat([a, {**b, "status": ["..", ".."]}], "Region")
