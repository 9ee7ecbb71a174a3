"""Property and fuzz tests for boso.jsonstat.

Valid random cubes (1-4 dimensions, sizes 0-4 incl. 1, sizes also as numeric strings, index as
object or list or omitted for one-category dimensions, value/status as list or sparse object,
values also as numeric strings or status symbols, status also as one string or an empty list)
must give a frame with prod(size) rows and the right code/label/value/status at every position.
The SSB client's check before storing must accept exactly the datasets the reader reads.
Corrupted cubes must raise DataError and nothing else; a random mutation anywhere in the tree
must either raise DataError or still give exactly prod(size) rows (never a truncated frame).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyjstat import pyjstat

from boso.errors import DataError, FetchError
from boso.jsonstat import read_jsonstat, read_jsonstat_codes_and_labels
from boso.sources import ssb

pytestmark = pytest.mark.filterwarnings("ignore:Shouldn't use this function:DeprecationWarning")

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SYMBOLS = ["..", ".", ":", "-"]

_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6)
_numbers = st.one_of(
    st.none(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
)


@st.composite
def cubes(draw: st.DrawFn, *, min_size: int = 0, for_pyjstat: bool = False) -> dict[str, Any]:
    """A valid JSON-stat 2.0 dataset plus what the reader should produce from it.

    Returns a dict with ``cube`` (the dataset), ``codes``/``labels`` (per dimension, in position
    order), ``values`` (float array, NaN where missing) and ``status`` (list of symbols or "").
    """
    ndim = draw(st.integers(1, 4))
    # Ids that would collide with an output column are refused by design (DataError; see
    # test_jsonstat.py), so valid cubes avoid them.
    ids = draw(
        st.lists(_text, min_size=ndim, max_size=ndim, unique=True).filter(
            lambda ids: not ({"value", "status"} | {f"{i}_label" for i in ids}) & set(ids)
        )
    )
    sizes = [draw(st.integers(min_size, 4)) for _ in ids]
    dimension: dict[str, Any] = {}
    all_codes, all_labels = [], []
    dim_labels = draw(st.lists(_text, min_size=ndim, max_size=ndim, unique=True))
    for dim_id, size, dim_label in zip(ids, sizes, dim_labels, strict=True):
        codes = draw(st.lists(_text, min_size=size, max_size=size, unique=True))
        labels = draw(st.lists(_text, min_size=size, max_size=size))
        forms = ["dict", "list"] + (["none"] if size == 1 and not for_pyjstat else [])
        form = draw(st.sampled_from(forms))
        category: dict[str, Any] = {}
        if form == "dict":
            # Key order in the object is arbitrary; the position numbers decide the order.
            order = draw(st.permutations(range(size)))
            category["index"] = {codes[p]: p for p in order}
        elif form == "list":
            category["index"] = list(codes)
        with_labels = for_pyjstat or draw(st.booleans())
        if with_labels or form == "none":
            category["label"] = dict(zip(codes, labels, strict=True))
        else:
            labels = list(codes)
        dim: dict[str, Any] = {"category": category}
        if for_pyjstat or draw(st.booleans()):
            dim["label"] = dim_label
        dimension[dim_id] = dim
        all_codes.append(codes)
        all_labels.append(labels)

    n = math.prod(sizes)
    raw_values = draw(st.lists(_numbers, min_size=n, max_size=n))
    raw_status = draw(
        st.lists(st.one_of(st.none(), st.sampled_from(SYMBOLS)), min_size=n, max_size=n)
    )
    # JSON-stat also allows values as strings: numeric text is the number, and a status
    # symbol in place of a value is a missing value carrying that symbol.
    text_values = not for_pyjstat and draw(st.booleans())
    values_sent: list[Any] = list(raw_values)
    symbol_values: dict[int, str] = {}
    if text_values:
        for i, v in enumerate(raw_values):
            if v is None and draw(st.booleans()):
                symbol_values[i] = draw(st.sampled_from(SYMBOLS))
                values_sent[i] = symbol_values[i]
            elif v is not None and draw(st.booleans()):
                values_sent[i] = repr(float(v)) if isinstance(v, float) else str(v)
    if draw(st.booleans()):
        value: Any = values_sent
    else:
        value = {str(i): v for i, v in enumerate(values_sent) if v is not None}
    status_form = draw(
        st.sampled_from(["none", "list", "sparse", "string"] + ([] if for_pyjstat else ["empty"]))
    )
    cube = {
        "version": "2.0",
        "class": "dataset",
        "id": ids,
        # Some producers send the sizes as numeric strings.
        "size": [str(s) for s in sizes] if not for_pyjstat and draw(st.booleans()) else sizes,
        "dimension": dimension,
        "value": value,
    }
    if status_form == "list":
        cube["status"] = raw_status
        expected_status = [s or "" for s in raw_status]
    elif status_form == "sparse":
        cube["status"] = {str(i): s for i, s in enumerate(raw_status) if s is not None}
        expected_status = [s or "" for s in raw_status]
    elif status_form == "string":
        cube["status"] = ".."
        expected_status = [".."] * n
    else:
        if status_form == "empty":
            cube["status"] = []
        expected_status = [""] * n
    for i, symbol in symbol_values.items():
        if not expected_status[i]:  # the dataset's own status for a cell wins
            expected_status[i] = symbol
    values = np.array([np.nan if v is None else float(v) for v in raw_values], dtype=np.float64)
    return {
        "cube": cube,
        "sizes": sizes,
        "codes": all_codes,
        "labels": all_labels,
        "values": values,
        "status": expected_status,
    }


def _as_input(cube: dict[str, Any], form: str) -> Any:
    if form == "dict":
        return cube
    text = json.dumps(cube)
    return text if form == "text" else text.encode("utf-8")


@SETTINGS
@given(case=cubes(), form=st.sampled_from(["dict", "text", "bytes"]))
def test_valid_cubes_read_correctly(case: dict[str, Any], form: str) -> None:
    cube = case["cube"]
    n = math.prod(case["sizes"])
    df = read_jsonstat_codes_and_labels(_as_input(cube, form))
    assert len(df) == n
    positions = np.unravel_index(np.arange(n), case["sizes"]) if n else [[]] * len(cube["id"])
    for i, dim_id in enumerate(cube["id"]):
        expected_codes = [case["codes"][i][p] for p in positions[i]]
        expected_labels = [case["labels"][i][p] for p in positions[i]]
        assert df[dim_id].tolist() == expected_codes
        assert df[f"{dim_id}_label"].tolist() == expected_labels
    np.testing.assert_array_equal(df["value"].to_numpy(), case["values"])
    assert df["value"].dtype == np.float64
    assert df["status"].tolist() == case["status"]

    by_label = read_jsonstat(cube)
    assert len(by_label) == n
    assert list(by_label.columns)[-2:] == ["value", "status"]
    assert len(by_label.columns) == len(cube["id"]) + 2


@SETTINGS
@given(case=cubes(min_size=1, for_pyjstat=True), labels=st.booleans())
def test_equals_pyjstat_on_random_cubes(case: dict[str, Any], labels: bool) -> None:
    cube = case["cube"]
    assume(not {"value", "status"} & {d["label"] for d in cube["dimension"].values()})
    assume(not {"value", "status"} & set(cube["id"]))
    text = json.dumps(cube)
    ours = read_jsonstat(text, labels=labels)
    theirs = pyjstat.Dataset.read(text).write("dataframe", naming="label" if labels else "id")
    assert list(ours.columns) == [*theirs.columns, "status"]
    for col in theirs.columns[:-1]:
        assert ours[col].astype(str).tolist() == theirs[col].astype(str).tolist()
    their_values = pd.to_numeric(theirs["value"]).astype("float64").to_numpy()
    np.testing.assert_array_equal(ours["value"].to_numpy(), their_values)


# ---------------------------------------------------------------------------------------------
# Corruptions: each one below makes the dataset definitely invalid.

GARBAGE = [7, "x", True, 2.5, [1], {"a": 1}]


def _corrupt(draw: st.DrawFn, case: dict[str, Any]) -> Any:
    cube = copy.deepcopy(case["cube"])
    cube["size"] = list(case["sizes"])
    n = math.prod(cube["size"])
    kind = draw(
        st.sampled_from(
            [
                "drop_value",
                "add_value",
                "wrong_size",
                "garbage_value",
                "sparse_out_of_range",
                "sparse_bad_key",
                "status_length",
                "garbage_structure",
                "missing_key",
                "truncated_bytes",
                "latin1",
            ]
        )
    )
    value = cube["value"]
    if kind in ("drop_value", "add_value", "garbage_value") and isinstance(value, dict):
        cube["value"] = value = [
            value.get(str(i)) for i in range(n)
        ]  # the list form is needed for these corruptions
    if kind == "drop_value":
        del value[draw(st.integers(0, n - 1))]
    elif kind == "add_value":
        value.insert(draw(st.integers(0, n)), draw(_numbers))
    elif kind == "wrong_size":
        i = draw(st.integers(0, len(cube["size"]) - 1))
        cube["size"][i] += draw(st.sampled_from([-1, 1, 5]))
    elif kind == "garbage_value":
        # Numeric strings and status symbols are valid values; other text is not.
        junk = ["x1", "1,5", "NaN", "", True, [1], {"v": 1}]
        value[draw(st.integers(0, n - 1))] = draw(st.sampled_from(junk))
    elif kind == "sparse_out_of_range":
        target = draw(st.sampled_from(["value", "status"]))
        cube[target] = {str(n + draw(st.integers(0, 10))): 1 if target == "value" else ".."}
    elif kind == "sparse_bad_key":
        target = draw(st.sampled_from(["value", "status"]))
        key = draw(st.sampled_from(["-1", "1.0", "x", "", " 1", "١"]))
        cube[target] = {key: 1 if target == "value" else ".."}
    elif kind == "status_length":
        # An empty array means "no symbols" and one symbol applies to every cell: both valid.
        length = draw(st.integers(2, n + 3).filter(lambda k: k != n))
        cube["status"] = [".."] * length
    elif kind == "garbage_structure":
        dim = draw(st.sampled_from(cube["id"]))
        where = draw(
            st.sampled_from(["id", "size", "dimension", "value", "dim", "category", "index"])
        )
        junk = draw(st.sampled_from(GARBAGE))
        if where in ("id", "size", "dimension", "value"):
            if where == "value" and isinstance(junk, (list, dict)):
                junk = "x"  # a list/object can be a valid value; keep it definitely wrong
            if where == "dimension" and isinstance(junk, dict):
                junk = 7
            if where in ("id", "size") and junk == [1] and n:
                junk = "x"
            cube[where] = junk
        elif where == "dim":
            cube["dimension"][dim] = junk if not isinstance(junk, dict) else 7
        elif where == "category":
            cube["dimension"][dim]["category"] = junk if not isinstance(junk, dict) else "x"
        else:
            cube["dimension"][dim]["category"]["index"] = (
                junk if not isinstance(junk, (list, dict)) else 7
            )
    elif kind == "missing_key":
        del cube[draw(st.sampled_from(["id", "size", "dimension", "value"]))]
    elif kind == "truncated_bytes":
        data = json.dumps(cube, ensure_ascii=False).encode("utf-8")
        return data[: draw(st.integers(0, len(data) - 1))]
    elif kind == "latin1":
        cube["label"] = "Bærum"
        return json.dumps(cube, ensure_ascii=False).encode("latin-1", errors="replace")
    return cube


@st.composite
def corrupted(draw: st.DrawFn) -> Any:
    return _corrupt(draw, draw(cubes(min_size=1)))


@SETTINGS
@given(bad=corrupted(), labels=st.booleans())
def test_corruptions_raise_only_data_error(bad: Any, labels: bool) -> None:
    with pytest.raises(DataError) as info:
        read_jsonstat(bad, labels=labels)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("JSON-stat")


# ---------------------------------------------------------------------------------------------
# Random mutation anywhere in the tree


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            out.extend(_paths(child, (*prefix, i)))
    return out


_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False), _text),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_text, children, max_size=3)
    ),
    max_leaves=6,
)


def _mutated(cube: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A copy of ``cube`` with one member anywhere in the tree replaced or deleted."""
    cube = copy.deepcopy(cube)
    paths = _paths(cube)[1:]  # not the root itself
    path = data.draw(st.sampled_from(paths))
    parent = cube
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) or isinstance(parent, list):
        parent[path[-1]] = data.draw(_json_values)
    else:
        del parent[path[-1]]
    return cube


@SETTINGS
@given(case=cubes(), data=st.data())
def test_random_mutation_is_data_error_or_complete_frame(
    case: dict[str, Any], data: st.DataObject
) -> None:
    cube = _mutated(case["cube"], data)
    try:
        df = read_jsonstat(cube)
    except DataError as exc:
        assert "\n" not in str(exc)
        return
    n = math.prod(int(s) for s in cube["size"])
    assert len(df) == n
    if isinstance(cube["value"], list):
        assert len(cube["value"]) == n


# ---------------------------------------------------------------------------------------------
# One rule: what fetch stores is exactly what build reads


@SETTINGS
@given(case=cubes(), data=st.data(), mutate=st.booleans())
def test_fetch_check_accepts_exactly_what_the_reader_reads(
    case: dict[str, Any], data: st.DataObject, mutate: bool
) -> None:
    cube = _mutated(case["cube"], data) if mutate else case["cube"]
    try:
        read_jsonstat_codes_and_labels(cube)
        reader_error = None
    except DataError as exc:
        reader_error = str(exc)
    try:
        ssb.check_dataset(cube, "SSB table 12008")
        fetch_error = None
    except FetchError as exc:
        fetch_error = str(exc)
    assert (reader_error is None) == (fetch_error is None), (reader_error, fetch_error)
    if reader_error is not None:
        assert fetch_error == f"SSB table 12008: {reader_error}"
