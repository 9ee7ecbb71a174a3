"""boso.jsonstat: JSON-stat 2.0 -> tidy DataFrame, compared with pyjstat and hand-checked values.

How the comparison with pyjstat works: pyjstat (``Dataset.read(text).write('dataframe')``)
returns one column per dimension plus ``value``; it ignores ``status`` entirely, so a cell with
a status symbol simply has a null value (NaN) there. We therefore compare

* the column names (boso's dimension columns == pyjstat's columns minus ``value``),
* the dimension columns row by row as strings (boso's are categoricals; same row order),
* ``value`` numerically, NaN where pyjstat has NaN/None,

and check ``status`` separately against the dataset's own ``status`` object.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyjstat import pyjstat

import boso
from boso.errors import DataError
from boso.jsonstat import (
    JsonStatMeta,
    read_jsonstat,
    read_jsonstat_codes_and_labels,
    read_jsonstat_meta,
)

# pyjstat's own write('dataframe') goes through a function it marks deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:Shouldn't use this function:DeprecationWarning")


def _small(fixtures_dir: Path) -> Path:
    return fixtures_dir / "jsonstat" / "small.json"


def _cube(**overrides: object) -> dict:
    """A minimal valid 2×3 dataset (Region × Tid) as a dict; ``overrides`` replace top keys."""
    cube = {
        "version": "2.0",
        "class": "dataset",
        "id": ["Region", "Tid"],
        "size": [2, 3],
        "dimension": {
            "Region": {
                "label": "region",
                "category": {"index": {"0301": 0, "3203": 1}, "label": {"0301": "Oslo"}},
            },
            "Tid": {"label": "år", "category": {"index": ["2021", "2022", "2023"]}},
        },
        "value": [1, 2, 3, 4, None, 6],
        "status": {"4": ":"},
    }
    cube.update(overrides)
    return cube


def assert_same_as_pyjstat(ours: pd.DataFrame, text: str, naming: str) -> None:
    """The comparison described in the module docstring."""
    theirs = pyjstat.Dataset.read(text).write("dataframe", naming=naming)
    dim_cols = list(theirs.columns[:-1])
    assert list(ours.columns) == [*dim_cols, "value", "status"]
    assert len(ours) == len(theirs)
    for col in dim_cols:
        np.testing.assert_array_equal(
            ours[col].astype(str).to_numpy(), theirs[col].astype(str).to_numpy(), err_msg=col
        )
    their_values = pd.to_numeric(theirs["value"]).astype("float64").to_numpy()
    np.testing.assert_array_equal(ours["value"].to_numpy(), their_values)


def assert_status_matches(ours: pd.DataFrame, status: dict[str, str]) -> None:
    expected = np.full(len(ours), "", dtype=object)
    for pos, symbol in status.items():
        expected[int(pos)] = symbol
    np.testing.assert_array_equal(ours["status"].to_numpy(dtype=object), expected)


# ---------------------------------------------------------------------------------------------
# Hand-made fixture


def test_small_fixture_values_labels_and_status(fixtures_dir: Path) -> None:
    df = read_jsonstat(_small(fixtures_dir))
    assert list(df.columns) == ["region", "statistikkvariabel", "år", "value", "status"]
    assert len(df) == 12
    assert df["value"].dtype == np.float64
    assert isinstance(df["region"].dtype, pd.CategoricalDtype)
    assert df["region"].tolist() == ["Oslo"] * 4 + ["Asker"] * 4 + ["Drammen (2020-2023)"] * 4
    assert df["år"].tolist() == ["2022", "2023"] * 6
    row = df.iloc[11]
    assert (row["region"], row["statistikkvariabel"], row["år"]) == (
        "Drammen (2020-2023)",
        "Andel (prosent)",
        "2023",
    )
    assert row["value"] == 4.25
    # Suppressed / missing cells keep their symbol and stay NaN, never 0.
    assert df["status"].tolist() == ["", "", "", "", "", "..", "", ":", "", "", ".", ""]
    assert df.loc[df["status"] != "", "value"].isna().all()


def test_small_fixture_codes(fixtures_dir: Path) -> None:
    df = read_jsonstat(_small(fixtures_dir), labels=False)
    assert list(df.columns) == ["Region", "ContentsCode", "Tid", "value", "status"]
    assert df["Region"].tolist()[::4] == ["0301", "3203", "3005"]
    assert df["ContentsCode"].tolist()[:4] == ["Boliger", "Boliger", "Andel", "Andel"]


@pytest.mark.parametrize("labels,naming", [(True, "label"), (False, "id")])
def test_small_fixture_equals_pyjstat(fixtures_dir: Path, labels: bool, naming: str) -> None:
    text = _small(fixtures_dir).read_text("utf-8")
    ours = read_jsonstat(text, labels=labels)
    assert_same_as_pyjstat(ours, text, naming)
    assert_status_matches(ours, json.loads(text)["status"])


def test_codes_and_labels(fixtures_dir: Path) -> None:
    df = read_jsonstat_codes_and_labels(_small(fixtures_dir))
    assert list(df.columns) == [
        "Region",
        "Region_label",
        "ContentsCode",
        "ContentsCode_label",
        "Tid",
        "Tid_label",
        "value",
        "status",
    ]
    pairs = set(zip(df["Region"].astype(str), df["Region_label"].astype(str), strict=True))
    assert pairs == {("0301", "Oslo"), ("3203", "Asker"), ("3005", "Drammen (2020-2023)")}
    by_labels = read_jsonstat(_small(fixtures_dir))
    np.testing.assert_array_equal(df["value"], by_labels["value"])
    assert df["status"].tolist() == by_labels["status"].tolist()


def test_meta(fixtures_dir: Path) -> None:
    df, meta = read_jsonstat(_small(fixtures_dir), with_meta=True)
    assert isinstance(meta, JsonStatMeta)
    assert meta == read_jsonstat_meta(_small(fixtures_dir))
    assert meta.label.startswith("99999: Testtabell")
    assert meta.source == "Statistisk sentralbyrå"
    assert meta.updated == "2025-01-02T06:00:00Z"
    assert meta.note[1].startswith(": = Vises ikke")
    assert meta.role == {"time": ["Tid"], "metric": ["ContentsCode"], "geo": ["Region"]}
    assert meta.dimension_ids == ["Region", "ContentsCode", "Tid"]
    assert meta.dimension_labels == {
        "Region": "region",
        "ContentsCode": "statistikkvariabel",
        "Tid": "år",
    }
    assert meta.size == [3, 2, 2] and meta.n_cells == len(df) == 12
    assert meta.units["Andel"] == {"base": "prosent", "decimals": 1}
    assert meta.extension["px"]["tableid"] == "99999"
    assert meta.dimension_notes == {"Tid": ["Tall per 31.12."]}
    assert meta.category_notes == {"Region": {"3005": ["Brudd i tidsserien fra 2021."]}}
    assert meta.source_name == str(_small(fixtures_dir))
    assert meta.synthetic is False
    _, meta2 = read_jsonstat_codes_and_labels(_small(fixtures_dir), with_meta=True)
    assert meta2 == meta


def test_all_input_kinds_agree(fixtures_dir: Path, tmp_path: Path) -> None:
    path = _small(fixtures_dir)
    text = path.read_text("utf-8")
    expected = read_jsonstat(path)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    for src in (str(path), text, text.encode("utf-8"), json.loads(text), bom, "  \n" + text):
        pd.testing.assert_frame_equal(read_jsonstat(src), expected)


def test_lazy_export() -> None:
    assert boso.read_jsonstat is read_jsonstat


# ---------------------------------------------------------------------------------------------
# Format variants


def test_index_list_missing_labels_and_single_category_without_index() -> None:
    cube = _cube(
        id=["Region", "ContentsCode", "Tid"],
        size=[2, 1, 3],
    )
    cube["dimension"]["ContentsCode"] = {"category": {"label": {"Personer1": "Personer"}}}
    df = read_jsonstat(cube)
    # No dimension label -> the id names the column (as pyjstat does).
    assert list(df.columns) == ["region", "ContentsCode", "år", "value", "status"]
    # 3203 has no category label -> its code is used.
    assert df["region"].tolist() == ["Oslo"] * 3 + ["3203"] * 3
    assert set(df["ContentsCode"]) == {"Personer"}
    codes = read_jsonstat(cube, labels=False)
    assert set(codes["ContentsCode"]) == {"Personer1"}
    assert codes["Tid"].tolist() == ["2021", "2022", "2023"] * 2


def test_index_dict_order_is_by_position_not_key_order() -> None:
    cube = _cube()
    cube["dimension"]["Region"]["category"]["index"] = {"3203": 1, "0301": 0}
    df = read_jsonstat(cube, labels=False)
    assert df["Region"].tolist() == ["0301"] * 3 + ["3203"] * 3


def test_sparse_values_and_status_forms() -> None:
    df = read_jsonstat(_cube(value={"0": 10, "5": 2.5}, status={"3": ".."}))
    np.testing.assert_array_equal(df["value"], [10, np.nan, np.nan, np.nan, np.nan, 2.5])
    assert df["status"].tolist() == ["", "", "", "..", "", ""]
    everything = read_jsonstat(_cube(status=".."))
    assert everything["status"].tolist() == [".."] * 6
    one = read_jsonstat(_cube(status=[":"]))
    assert one["status"].tolist() == [":"] * 6
    listed = read_jsonstat(_cube(status=[None, "..", None, "", ".", None]))
    assert listed["status"].tolist() == ["", "..", "", "", ".", ""]
    no_status = read_jsonstat(_cube(status=None))
    assert no_status["status"].tolist() == [""] * 6


def test_status_column_is_plain_strings() -> None:
    df = read_jsonstat(_cube())
    assert not isinstance(df["status"].dtype, pd.CategoricalDtype)
    # A plain string column accepts new symbols (a categorical would refuse them).
    df.loc[0, "status"] = "-"
    assert df["status"].iloc[0] == "-"


def test_repeated_category_labels_and_dimension_labels() -> None:
    cube = _cube()
    cube["dimension"]["Region"]["category"]["label"] = {"0301": "Samme", "3203": "Samme"}
    cube["dimension"]["Tid"]["label"] = "region"
    df = read_jsonstat(cube)
    # Two dimensions labelled "region": the column names fall back to the ids.
    assert list(df.columns) == ["Region", "Tid", "value", "status"]
    assert df["Region"].tolist() == ["Samme"] * 6


def test_empty_dimension_gives_empty_frame() -> None:
    cube = _cube(size=[2, 0], value=[], status=None)
    cube["dimension"]["Tid"]["category"]["index"] = []
    df = read_jsonstat(cube)
    assert len(df) == 0
    assert list(df.columns) == ["region", "år", "value", "status"]


# ---------------------------------------------------------------------------------------------
# Real snapshot files (read in place)


@pytest.mark.parametrize("table", ["12008", "07459"])
@pytest.mark.parametrize("labels,naming", [(True, "label"), (False, "id")])
def test_snapshot_equals_pyjstat(snapshot_dir: Path, table: str, labels: bool, naming: str) -> None:
    path = snapshot_dir / "ssb" / f"{table}.json"
    text = path.read_text("utf-8")
    ours = read_jsonstat(path, labels=labels)
    assert_same_as_pyjstat(ours, text, naming)
    raw = json.loads(text)
    assert len(ours) == math.prod(raw["size"])
    assert_status_matches(ours, raw["status"])


def test_snapshot_status_cells_are_nan_not_zero(snapshot_dir: Path) -> None:
    df, meta = read_jsonstat(snapshot_dir / "ssb" / "12008.json", labels=False, with_meta=True)
    assert meta.synthetic is True
    assert meta.units["KOSEidavsamlet0000"]["base"] == "prosent"
    flagged = df[df["status"] != ""]
    assert {"..", "."} <= set(flagged["status"])
    assert flagged["value"].isna().all()
    assert read_jsonstat_meta(snapshot_dir / "ssb" / "07459.json").synthetic is False


# ---------------------------------------------------------------------------------------------
# Errors: always a DataError with one clear line


def _error(src: object) -> str:
    with pytest.raises(DataError) as info:
        read_jsonstat(src)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_truncated_value_list_names_sizes_and_file(tmp_path: Path) -> None:
    path = tmp_path / "12008.json"
    path.write_text(json.dumps(_cube(value=[1, 2, 3, 4, 5])), "utf-8")
    message = _error(path)
    assert str(path) in message
    assert (
        "dimensjonsstørrelsene 2×3=6, men value har 5 elementer (avkortet nedlasting?)" in message
    )


def test_truncated_json_bytes(tmp_path: Path) -> None:
    text = json.dumps(_cube())
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2], "utf-8")
    message = _error(path)
    assert "ugyldig JSON" in message and "avkortet nedlasting?" in message
    assert str(path) in message


def test_latin1_bytes_are_rejected(tmp_path: Path) -> None:
    cube = _cube()
    cube["dimension"]["Region"]["category"]["label"]["3203"] = "Bærum"
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps(cube, ensure_ascii=False).encode("latin-1"))
    message = _error(path)
    assert "ikke gyldig UTF-8" in message and "0xE6" in message and str(path) in message
    assert "ikke gyldig UTF-8" in _error(path.read_bytes())


@pytest.mark.parametrize(
    "overrides,expected",
    [
        ({"size": [2, 4]}, "dimensjon 'Tid' har 3 kategorier, men 'size' sier 4"),
        ({"size": [2]}, "'id' har 2 dimensjoner, men 'size' har 1 elementer"),
        ({"id": ["Region", "Aar"]}, "ingen oppføring i 'dimension' for ['Aar']"),
        (
            {"value": [1, 2, 3, 4, 5, 6, 7]},
            "dimensjonsstørrelsene 2×3=6, men value har 7 elementer",
        ),
        ({"value": [1, 2, "tre", 4, 5, 6]}, 'value[2] er teksten "tre", verken et tall'),
        ({"value": [1, 2, "1,5", 4, 5, 6]}, 'value[2] er teksten "1,5"'),
        ({"value": [1, 2, "NaN", 4, 5, 6]}, 'value[2] er teksten "NaN"'),
        ({"value": {"0": "1e999"}}, "value['0'] \"1e999\" er for stort for et flyttall"),
        ({"value": [1, 2, 3, True, 5, 6]}, "value[3] er en sannhetsverdi"),
        ({"value": {"6": 1}}, "value-posisjon 6 ligger utenfor kuben (6 celler)"),
        ({"value": {"x": 1}}, "value-nøkkelen 'x' er ikke en celleposisjon"),
        ({"value": "1,2,3"}, "'value' må være en liste eller et objekt"),
        ({"status": {"9": ".."}}, "status-posisjon 9 ligger utenfor kuben"),
        ({"status": [".."] * 5}, "status har 5 elementer, men kuben har 6 celler"),
        ({"status": {"1": 5}}, "statussymboler må være tekst eller null"),
        ({"class": "collection"}, "collection mangler listen 'link.item'"),
        ({"class": "dimension"}, "class er 'dimension'"),
        ({"class": "cube"}, 'class er "cube"'),
        ({"size": ["2", "x"]}, "'size' må være en liste med ikke-negative heltall"),
        ({"size": ["2", "-3"]}, "'size' må være en liste med ikke-negative heltall"),
        ({"status": [".."] * 2}, "status har 2 elementer, men kuben har 6 celler"),
        ({"dimension": []}, "'dimension' må være et objekt"),
        ({"size": [2, -3]}, "'size' må være en liste med ikke-negative heltall"),
    ],
)
def test_malformed_datasets(overrides: dict, expected: str) -> None:
    assert expected in _error(_cube(**overrides))


def test_malformed_dimensions() -> None:
    cube = _cube()
    cube["dimension"]["Region"]["category"]["index"] = {"0301": 0, "3203": 2}
    assert "posisjonene i category.index må være 0..1, hver én gang" in _error(cube)
    cube = _cube()
    cube["dimension"]["Tid"]["category"] = "2021"
    assert "dimensjon 'Tid' mangler objektet 'category'" in _error(cube)
    cube = _cube()
    cube["dimension"]["Tid"]["category"]["label"] = {"1999": "1999"}
    assert "koder som ikke står i index: ['1999']" in _error(cube)
    cube = _cube()
    del cube["value"]
    assert "mangler 'value'" in _error(cube)


def test_dimension_ids_that_collide_with_output_columns() -> None:
    cube = _cube(id=["Region", "value"])
    cube["dimension"]["value"] = cube["dimension"].pop("Tid")
    with pytest.raises(
        DataError, match="en dimensjonskolonne heter 'value', som er et reservert navn"
    ):
        read_jsonstat(cube, labels=False)
    # With labels the column is named by the label ("år"), so there is no clash.
    assert list(read_jsonstat(cube).columns) == ["region", "år", "value", "status"]
    cube = _cube(id=["Region", "Region_label"])
    cube["dimension"]["Region_label"] = cube["dimension"].pop("Tid")
    with pytest.raises(DataError, match="kolonnenavnet 'Region_label' ville blitt brukt to ganger"):
        read_jsonstat_codes_and_labels(cube)


def test_message_stays_on_one_line_with_newlines_in_ids() -> None:
    cube = _cube(id=["Region", "T\nid"], size=[2, 4])
    cube["dimension"]["T\nid"] = cube["dimension"].pop("Tid")
    assert "dimensjon 'T id' har 3 kategorier" in _error(cube)


def test_other_bad_inputs(tmp_path: Path) -> None:
    assert "fil ikke funnet" in _error(tmp_path / "nope.json")
    assert "ventet et JSON-objekt" in _error(b"[1, 2]")
    assert "ugyldig JSON" in _error('{"value": NaN}')
    assert "kan ikke lese en int" in _error(5)


def test_cut_inside_a_character_is_a_truncation_not_an_encoding(tmp_path: Path) -> None:
    cube = _cube()
    cube["dimension"]["Region"]["category"]["label"]["3203"] = "Bærum"
    data = json.dumps(cube, ensure_ascii=False).encode("utf-8")
    cut = data[: data.index("æ".encode()) + 1]  # the first of the two bytes of "æ"
    path = tmp_path / "cut.json"
    path.write_bytes(cut)
    message = _error(path)
    assert "slutter midt i et tegn (avkortet nedlasting?)" in message and str(path) in message


def test_cut_inside_a_string_is_called_a_truncation(tmp_path: Path) -> None:
    text = json.dumps(_cube())
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"Oslo"') + 3], "utf-8")
    assert "tekst som aldri avsluttes" in _error(path) and "(avkortet nedlasting?)" in _error(path)


def test_version_1_single_dataset_forms() -> None:
    v2 = _cube()
    v1 = {k: v for k, v in v2.items() if k not in ("version", "id", "size")}
    v1["dimension"] = {"id": v2["id"], "size": v2["size"], **v2["dimension"]}
    expected = read_jsonstat(v2)
    # JSON-stat 1.02: one dataset at the root with class "dataset" ...
    pd.testing.assert_frame_equal(read_jsonstat(v1), expected)
    # ... and 1.0x as SSB's old API sent it: the dataset under the key "dataset".
    pd.testing.assert_frame_equal(read_jsonstat({"dataset": v1}), expected)
    assert read_jsonstat_meta({"dataset": v1}).size == [2, 3]
    v1["version"] = "2.0"
    assert "versjon \"2.0\", men 'id' og 'size' ligger i 'dimension'" in _error(v1)


def test_json_syntax_errors_are_described_in_bokmal() -> None:
    assert "linje 1 kolonne 11: ventet en verdi" in _error('{"value": }')
    assert "mer data etter JSON-verdien" in _error('{"value": 1} 2')
    assert "ventet et feltnavn i doble anførselstegn" in _error("{value: 1}")


@pytest.mark.parametrize("cls", [None, "", "bundle", 1])
def test_a_present_class_other_than_dataset_is_refused_by_reader_and_fetch_check(
    cls: object,
) -> None:
    # Hypothesis found "class": null read by build but refused by fetch; one rule for both.
    from boso.errors import FetchError
    from boso.sources import ssb

    cube = _cube(**{"class": cls})
    with pytest.raises(DataError, match="class er") as read_error:
        read_jsonstat(cube)
    with pytest.raises(FetchError) as fetch_error:
        ssb.check_dataset(cube, "SSB tabell 12008")
    assert str(fetch_error.value) == f"SSB tabell 12008: {read_error.value}"
