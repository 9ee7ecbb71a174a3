"""JSON-stat datasets (SSB PxWebApi v2 ``outputFormat=json-stat2``) to tidy DataFrames.

This module is the one owner of the JSON-stat rules: what the format allows, how a dataset is
validated, and how datasets fetched in parts are merged. The SSB client (``sources/ssb.py``)
checks responses and merges parts with the functions here, so ``fetch`` stores exactly what
``build`` can read.

What is accepted is what the JSON-stat format allows and producers send: version 2.0 datasets,
version-1 responses (one or more datasets keyed by name, a "bundle"), ``class: collection``
responses that embed their datasets; ``size`` as numbers or numeric strings; ``category.index``
as an array or an object, or absent for a one-category dimension; ``value`` and ``status`` as an
array or a sparse object (``status`` also as one string, a one-element array for every cell, or
an empty array for none); values as numbers, null, numeric strings or status symbols.

The reader is vectorised: every dimension column is a ``pandas.Categorical`` whose codes are
built with ``np.repeat``/``np.tile`` over category positions, and ``value`` comes straight from
one numpy conversion. On a 3-million-cell cube this is an order of magnitude faster than
``pyjstat``, whose rows are built one by one in Python, and uses a fraction of the memory.

Public functions:

* :func:`read_jsonstat` -- one column per dimension (labels or codes), then ``value`` and
  ``status``. With ``labels=True`` the dimension columns are named like pyjstat names them
  (the dimension's label, or its id when it has no label).
* :func:`read_jsonstat_codes_and_labels` -- for each dimension both ``<id>`` (codes) and
  ``<id>_label`` (labels), then ``value`` and ``status``: what the build step needs.
* :func:`read_jsonstat_meta` -- only the metadata, as a :class:`JsonStatMeta`.
* :func:`read_jsonstat_all` -- every dataset of a bundle or collection.
* :func:`check_jsonstat` -- the full validation without building a frame.
* :func:`merge_jsonstat` -- datasets that differ in one dimension, as one dataset.

Both frame readers take ``with_meta=True`` to return ``(frame, meta)`` from a single parse, and
``dataset=`` to pick one dataset of a bundle or collection.
Anything malformed (invalid JSON, non-UTF-8 bytes, inconsistent sizes, truncated values,
garbage types) raises :class:`boso.errors.DataError` with one line naming the problem and,
when the input was a file, the file.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from boso.errors import DataError, json_problem_text, os_problem

__all__ = [
    "VALUE_SYMBOLS",
    "JsonStatMeta",
    "check_jsonstat",
    "merge_jsonstat",
    "read_jsonstat",
    "read_jsonstat_all",
    "read_jsonstat_codes_and_labels",
    "read_jsonstat_meta",
]

# Refuse cubes larger than this rather than exhaust memory: a small file with sparse values
# can declare billions of cells. SSB extracts are capped at 800 000 cells.
MAX_CELLS = 200_000_000

# Numbers as json.loads produces them. bool is a subclass of int, so membership is by exact type.
_NUMBER_TYPES = {int, float, type(None)}
# A value sent as text: a decimal number (no thousands separators, no NaN/Infinity) ...
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# ... or one of SSB's status symbols, which some producers put in place of the value.
VALUE_SYMBOLS = ("..", ".", ":", "-")


@dataclass(frozen=True)
class JsonStatMeta:
    """Dataset-level metadata of a JSON-stat 2.0 dataset.

    Attributes:
        label: Dataset title, e.g. ``"12008: Kommunalt disponerte boliger, etter region og år"``.
        source: Publisher, e.g. ``"Statistisk sentralbyrå"``.
        updated: The source's own ``updated`` timestamp (ISO-8601 string), ``""`` if absent.
        note: Dataset notes (explanations of status symbols, synthetic-data warnings, ...).
        extension: The ``extension`` object as is (SSB puts ``px`` keywords here; the offline
            snapshot marks synthetic data with ``extension.synthetic``).
        role: ``{"time": [...], "geo": [...], "metric": [...]}`` as given.
        dimension_ids: Dimension ids in ``id`` order.
        dimension_labels: Dimension id -> label (the id when the dimension has no label).
        size: Number of categories per dimension, in ``id`` order.
        units: Category code -> unit object (``{"base": ..., "decimals": ...}``) for every
            category that has ``category.unit`` (normally the ``ContentsCode`` categories).
        dimension_notes: Dimension id -> notes, for dimensions that have notes.
        category_notes: Dimension id -> category code -> notes (e.g. a series break).
        source_name: File name the dataset was read from, or ``None``.
    """

    label: str
    source: str
    updated: str
    note: list[str]
    extension: dict[str, Any]
    role: dict[str, list[str]]
    dimension_ids: list[str]
    dimension_labels: dict[str, str]
    size: list[int]
    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    dimension_notes: dict[str, list[str]] = field(default_factory=dict)
    category_notes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    source_name: str | None = None

    @property
    def synthetic(self) -> bool:
        """True when the dataset says it holds synthetic demo values."""
        return self.extension.get("synthetic") is True

    @property
    def n_cells(self) -> int:
        """Number of cells (product of ``size``)."""
        return math.prod(self.size)


@dataclass(frozen=True)
class _Dimension:
    id: str
    label: str
    codes: list[str]  # in position order
    labels: list[str]  # in position order; the code where a category has no label


@dataclass(frozen=True)
class _Cube:
    meta: JsonStatMeta
    dims: list[_Dimension]
    values: np.ndarray | None  # float64, NaN where missing; None when only metadata was read
    status_codes: np.ndarray | None  # small ints into status_categories
    status_categories: list[str]


class _Fail:
    """Builds DataErrors that all start with ``JSON-stat <file>:``."""

    def __init__(self, name: str | None, part: str | None = None) -> None:
        where = " ".join(w for w in (name, f"[{part}]" if part is not None else None) if w)
        self.name = name
        self.prefix = f"JSON-stat {where}: " if where else "JSON-stat: "

    def part(self, part: str) -> _Fail:
        """The same file, one dataset of a bundle or collection."""
        return _Fail(self.name, part)

    def __call__(self, message: str) -> DataError:
        # Ids and keys from the file end up in messages; keep the message on one line.
        return DataError((self.prefix + message).replace("\r", " ").replace("\n", " "))


# ---------------------------------------------------------------------------------------------
# Public API

Source = str | os.PathLike[str] | bytes | Mapping[str, Any]
DatasetKey = str | int | None


def read_jsonstat(
    src: Source,
    labels: bool = True,
    *,
    with_meta: bool = False,
    dataset: DatasetKey = None,
) -> pd.DataFrame | tuple[pd.DataFrame, JsonStatMeta]:
    """Read a JSON-stat dataset into a tidy DataFrame.

    Version 2.0 datasets are read, and so are version-1 responses (datasets keyed by name, a
    "bundle"), ``class: collection`` responses that embed their datasets, and single-dataset
    files in either version. Where a file holds several datasets, ``dataset`` picks one.

    Args:
        src: A path (``str`` or ``Path``), the JSON as ``bytes`` (UTF-8) or ``str`` (a string
            starting with ``{`` is taken as JSON text, anything else as a path), or an already
            parsed ``dict``.
        labels: ``True``: dimension columns hold category labels and are named like pyjstat
            names them (the dimension label; the id if the label is missing, empty or would
            repeat another column's name). ``False``: category codes in columns named by
            dimension id.
        with_meta: Also return the dataset's :class:`JsonStatMeta`.
        dataset: Which dataset of a bundle (its name, or its position) or of a collection (its
            position among ``link.item``). Not needed when the file holds one dataset.

    Returns:
        One row per cell in ``value`` order (last dimension varies fastest). Dimension columns
        are categoricals, in ``id`` order; ``value`` is float64 (NaN when missing); ``status``
        is a string column with the cell's symbol (``..``, ``.``, ``:``, ``-``) or ``""``.
        A value sent as a numeric string (``"1.5"``) is that number; a value sent as a status
        symbol (``".."``) is NaN with that symbol in ``status``.
        With ``with_meta=True``: ``(frame, meta)``.

    Raises:
        DataError: The input is not valid UTF-8 JSON or not a consistent JSON-stat dataset, or
            it holds several datasets and ``dataset`` does not name one of them.
    """
    cube = _read(src, with_values=True, dataset=dataset)
    frame = _frame(cube, "labels" if labels else "codes")
    return (frame, cube.meta) if with_meta else frame


def read_jsonstat_codes_and_labels(
    src: Source,
    *,
    with_meta: bool = False,
    dataset: DatasetKey = None,
) -> pd.DataFrame | tuple[pd.DataFrame, JsonStatMeta]:
    """Read a JSON-stat dataset with both codes and labels for every dimension.

    Args:
        src: As for :func:`read_jsonstat`.
        with_meta: Also return the dataset's :class:`JsonStatMeta`.
        dataset: As for :func:`read_jsonstat`.

    Returns:
        Columns ``<id>`` (category codes) and ``<id>_label`` (category labels) for each
        dimension in ``id`` order, then ``value`` and ``status`` as in :func:`read_jsonstat`.
        With ``with_meta=True``: ``(frame, meta)``.

    Raises:
        DataError: As for :func:`read_jsonstat`, or when a ``<id>_label`` column name would
            collide with another column.
    """
    cube = _read(src, with_values=True, dataset=dataset)
    frame = _frame(cube, "both")
    return (frame, cube.meta) if with_meta else frame


def read_jsonstat_meta(src: Source, *, dataset: DatasetKey = None) -> JsonStatMeta:
    """Read only the metadata of a JSON-stat dataset.

    The structure (ids, sizes, categories) and the number of values are still validated, but
    the values themselves are not converted (use :func:`check_jsonstat` for that).

    Args:
        src: As for :func:`read_jsonstat`.
        dataset: As for :func:`read_jsonstat`.

    Returns:
        The dataset's :class:`JsonStatMeta`.

    Raises:
        DataError: The input is not valid UTF-8 JSON or not a consistent JSON-stat dataset.
    """
    return _read(src, with_values=False, dataset=dataset).meta


def read_jsonstat_categories(src: Source, *, dataset: DatasetKey = None) -> dict[str, list[str]]:
    """Read the category codes of every dimension (what a dataset covers), not the values.

    Args:
        src: As for :func:`read_jsonstat`.
        dataset: As for :func:`read_jsonstat`.

    Returns:
        Dimension id -> category codes in position order, dimensions in ``id`` order.

    Raises:
        DataError: As for :func:`read_jsonstat_meta`.
    """
    return {dim.id: list(dim.codes) for dim in _read(src, with_values=False, dataset=dataset).dims}


def read_jsonstat_all(src: Source, labels: bool = True) -> dict[str, pd.DataFrame]:
    """Read every dataset of a bundle or collection (or the one dataset of a plain file).

    Args:
        src: As for :func:`read_jsonstat`.
        labels: As for :func:`read_jsonstat`.

    Returns:
        Dataset name -> frame as :func:`read_jsonstat` returns it. Names are the bundle's keys,
        the position (``"0"``, ``"1"``, ...) of a collection's items, or ``"dataset"`` for a
        file with a single dataset.

    Raises:
        DataError: As for :func:`read_jsonstat`; one bad dataset fails the whole file.
    """
    obj, name = _load(src)
    fail = _Fail(name)
    out = {}
    for key, doc in _guarded(lambda: _datasets(obj, fail), fail):
        part = fail if key is None else fail.part(key)
        cube = _guarded(lambda d=doc, f=part: _parse(d, name, f, with_values=True), part)
        out["dataset" if key is None else key] = _frame(cube, "labels" if labels else "codes")
    return out


def check_jsonstat(src: Source, *, strict_v2: bool = False) -> dict[str, Any]:
    """Validate a JSON-stat dataset exactly as the readers do, values and status included.

    This is the one rule for what boso accepts: the SSB client checks every response with it
    before storing, and ``build`` reads the stored file with the same code.

    Args:
        src: As for :func:`read_jsonstat`.
        strict_v2: Accept only a single JSON-stat 2.0 dataset with ``id``, ``size`` and
            ``dimension`` at the top (what PxWebApi sends and what :func:`merge_jsonstat`
            needs); a bundle, a collection or a version-1 file is then refused.

    Returns:
        The parsed document (``src`` itself when it was a dict).

    Raises:
        DataError: The input is not valid UTF-8 JSON, not a consistent dataset, or (with
            ``strict_v2``) not in the JSON-stat 2.0 single-dataset layout.
    """
    obj, name = _load(src)
    fail = _Fail(name)
    # The format's rule first, so fetch and build report a bad dataset in the same words.
    _read_parsed(obj, name, with_values=True, dataset=None)
    if strict_v2:
        cls = obj.get("class", "dataset")
        if cls != "dataset" or not all(k in obj for k in ("id", "size", "dimension")):
            what = (
                f"class {cls!r}" if cls != "dataset" else "mangler 'id'/'size'/'dimension' øverst"
            )
            raise fail(f"ikke ett enkelt JSON-stat 2.0-datasett ({what})")
    return obj


# ---------------------------------------------------------------------------------------------
# Loading


def _read(src: Any, *, with_values: bool, dataset: DatasetKey = None) -> _Cube:
    obj, name = _load(src)
    return _read_parsed(obj, name, with_values=with_values, dataset=dataset)


def _read_parsed(obj: Any, name: str | None, *, with_values: bool, dataset: DatasetKey) -> _Cube:
    fail = _Fail(name)
    key, doc = _guarded(lambda: _select(obj, fail, dataset), fail)
    part_fail = fail if key is None else fail.part(key)
    return _guarded(lambda: _parse(doc, name, part_fail, with_values=with_values), part_fail)


def _guarded(step: Any, fail: _Fail) -> Any:
    try:
        return step()
    except DataError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        # Every known malformation is reported with a precise message; this net keeps an
        # unforeseen one a DataError (one line for the CLI) instead of a traceback.
        raise fail(f"feilformet datasett ({type(exc).__name__}: {exc})") from exc
    except MemoryError as exc:
        raise fail("datasettet er for stort for minnet") from exc


def _load(src: Any) -> tuple[Any, str | None]:
    """Return the parsed JSON object and a display name (file path) or None."""
    if isinstance(src, Mapping):
        return src, None
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _parse_json_bytes(bytes(src), None), None
    if isinstance(src, str) and src.lstrip()[:1] in ("{", "["):
        return _parse_json_text(src, _Fail(None)), None
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        name = str(path)
        try:
            content = path.read_bytes()
        except FileNotFoundError as exc:
            raise _Fail(name)("fil ikke funnet") from exc
        except OSError as exc:
            raise _Fail(name)(f"kan ikke lese fil ({os_problem(exc)})") from exc
        return _parse_json_bytes(content, name), name
    raise DataError(
        f"JSON-stat: kan ikke lese en {type(src).__name__}; "
        "gi en sti, bytes, JSON-tekst eller en dict"
    )


def _parse_json_bytes(content: bytes, name: str | None) -> Any:
    fail = _Fail(name)
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            raise fail("ugyldig JSON: filen slutter midt i et tegn (avkortet nedlasting?)") from exc
        bad = content[exc.start : exc.start + 1].hex().upper()
        raise fail(
            f"ikke gyldig UTF-8 (byte 0x{bad} ved posisjon {exc.start}); "
            "JSON-stat fra SSB er UTF-8, er filen lagret på nytt med en annen tegnkoding "
            "(f.eks. latin-1)?"
        ) from exc
    return _parse_json_text(text, fail)


def _reject_constant(name: str) -> Any:
    # NaN/Infinity are not JSON; accepting them would let garbage through as numbers.
    raise ValueError(f"{name} er ikke gyldig JSON")


def _parse_json_text(text: str, fail: _Fail) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        # A cut file ends at the error, or inside a string that never closes.
        cut = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
        hint = " (avkortet nedlasting?)" if cut else ""
        problem = json_problem_text(exc.msg)
        raise fail(
            f"ugyldig JSON på linje {exc.lineno} kolonne {exc.colno}: {problem}{hint}"
        ) from exc
    except ValueError as exc:
        raise fail(f"ugyldig JSON: {exc}") from exc
    except RecursionError as exc:
        raise fail("ugyldig JSON: for dypt nøstet") from exc


# ---------------------------------------------------------------------------------------------
# Which dataset: plain datasets, version-1 bundles, collections

# Top-level members of a dataset (any version); a bundle has none of them at its top.
_DATASET_KEYS = ("id", "size", "dimension", "value")


def _datasets(obj: Any, fail: _Fail) -> list[tuple[str | None, Any]]:
    """Every dataset in the response as ``(name, dataset)``; name is None for a plain dataset.

    Each dataset is returned in the 2.0 layout (``id``/``size``/``role`` at the top); a
    version-1 dataset is converted (those live in ``dimension``).
    """
    if not isinstance(obj, Mapping):
        raise fail(f"ventet et JSON-objekt (et datasett), fikk {_json_type(obj)}")
    cls = obj.get("class")
    if cls == "collection":
        return _collection_items(obj, fail)
    if cls == "dimension":
        raise fail("class er 'dimension': filen beskriver én dimensjon og inneholder ingen data")
    if cls not in (None, "dataset", "bundle"):
        raise fail(f"class er {_short(cls)}, ventet 'dataset', 'collection' eller en bundle")
    if cls == "dataset" or any(k in obj for k in _DATASET_KEYS):
        return [(None, _as_v2(obj, fail))]
    # A version-1 response: one or more datasets keyed by name (JSON-stat calls it a bundle).
    if "error" in obj:
        raise fail(f"svaret er en feilmelding, ikke data: {_short(obj['error'])}")
    found = [(str(k), v) for k, v in obj.items() if isinstance(v, Mapping) and "dimension" in v]
    if not found:
        raise fail("ikke et JSON-stat-datasett (mangler 'id', 'size', 'dimension' og 'value')")
    return [(key, _as_v2(ds, fail.part(key))) for key, ds in found]


def _collection_items(obj: Mapping[str, Any], fail: _Fail) -> list[tuple[str | None, Any]]:
    link = obj.get("link")
    items = link.get("item") if isinstance(link, Mapping) else None
    if not isinstance(items, list):
        raise fail("collection mangler listen 'link.item'")
    found = []
    for i, item in enumerate(items):
        embedded = isinstance(item, Mapping) and any(k in item for k in _DATASET_KEYS)
        if embedded and item.get("class", "dataset") == "dataset":
            found.append((str(i), _as_v2(item, fail.part(str(i)))))
    if not found:
        raise fail(
            f"collection med {len(items)} elementer lenker bare til datasettene sine (href) og "
            "bygger ikke inn noen; les datasettene selv"
        )
    return found


def _as_v2(ds: Mapping[str, Any], fail: _Fail) -> Mapping[str, Any]:
    """A version-1 dataset (``id``/``size``/``role`` inside ``dimension``) in the 2.0 layout."""
    dims = ds.get("dimension")
    if "id" in ds or not (isinstance(dims, Mapping) and "id" in dims and "size" in dims):
        return ds
    version = ds.get("version")
    if version is not None and not (isinstance(version, str) and version.startswith("1")):
        raise fail(f"versjon {_short(version)}, men 'id' og 'size' ligger i 'dimension' (1.x)")
    out = {k: v for k, v in ds.items() if k not in ("dimension", "version")}
    out["id"], out["size"] = dims["id"], dims["size"]
    if "role" in dims:
        out["role"] = dims["role"]
    out["dimension"] = {k: v for k, v in dims.items() if k not in ("id", "size", "role")}
    return out


def _select(obj: Any, fail: _Fail, dataset: DatasetKey) -> tuple[str | None, Any]:
    found = _datasets(obj, fail)
    # The names read_jsonstat_all uses: "dataset" for a plain file's only dataset.
    names = ["dataset" if key is None else key for key, _ in found]
    if dataset is None:
        if len(found) > 1:
            raise fail(
                f"filen inneholder {len(found)} datasett ({', '.join(names[:10])}); "
                "velg ett med dataset="
            )
        return found[0]
    if isinstance(dataset, str) and dataset in names:
        return found[names.index(dataset)]
    if type(dataset) is int and 0 <= dataset < len(found):
        return found[dataset]
    raise fail(f"ingen datasett {dataset!r} her; datasett: {', '.join(names[:10])}")


# ---------------------------------------------------------------------------------------------
# Validation and decoding


def _parse(obj: Any, name: str | None, fail: _Fail, *, with_values: bool) -> _Cube:
    if not isinstance(obj, Mapping):
        raise fail(f"ventet et JSON-objekt (et datasett), fikk {_json_type(obj)}")
    # A class that is present must say "dataset" (null too is refused): only a missing class
    # is read as a dataset, so the reader and the fetch check (strict_v2) agree.
    if "class" in obj and obj["class"] != "dataset":
        raise fail(f"class er {obj['class']!r}, ventet 'dataset'")
    version = obj.get("version")
    if version is not None and not (isinstance(version, str) and version.startswith("2")):
        raise fail(f"versjon {version!r} støttes ikke (bare JSON-stat 2.0)")
    for key in ("id", "size", "dimension", "value"):
        if key not in obj:
            raise fail(f"mangler '{key}' (ikke et JSON-stat 2.0-datasett?)")

    ids, sizes, dim_objs = obj["id"], obj["size"], obj["dimension"]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise fail("'id' må være en liste med dimensjons-id-er (tekst)")
    if len(set(ids)) != len(ids):
        raise fail(f"'id' gjentar en dimensjon: {ids}")
    sizes = _sizes(sizes, fail)
    if len(ids) != len(sizes):
        raise fail(f"'id' har {len(ids)} dimensjoner, men 'size' har {len(sizes)} elementer")
    if not isinstance(dim_objs, Mapping):
        raise fail("'dimension' må være et objekt")
    if set(dim_objs) != set(ids):
        missing = [i for i in ids if i not in dim_objs]
        extra = [d for d in dim_objs if d not in ids]
        parts = []
        if missing:
            parts.append(f"ingen oppføring i 'dimension' for {missing}")
        if extra:
            parts.append(f"'dimension' har oppføringer som ikke står i 'id': {extra}")
        raise fail("; ".join(parts))

    dims = [
        _dimension(dim_id, dim_objs[dim_id], size, fail)
        for dim_id, size in zip(ids, sizes, strict=True)
    ]
    n = math.prod(sizes)
    if n > MAX_CELLS:
        raise fail(
            f"dimensjonsstørrelsene {_sizes_text(sizes)} overskrider grensen på {MAX_CELLS} celler"
        )

    value = obj["value"]
    if isinstance(value, list):
        if len(value) != n:
            hint = " (avkortet nedlasting?)" if len(value) < n else ""
            if not value:
                hint = " (et metadatasvar uten data, eller en avkortet nedlasting?)"
            raise fail(
                f"dimensjonsstørrelsene {_sizes_text(sizes)}, men value har {len(value)} "
                f"elementer{hint}"
            )
    elif not isinstance(value, Mapping):
        raise fail(f"'value' må være en liste eller et objekt, fikk {_json_type(value)}")

    values = status_codes = None
    status_categories: list[str] = [""]
    if with_values:
        values, implied = _values(value, n, fail)
        status_codes, status_categories = _status(obj.get("status"), n, fail)
        if implied:
            status_codes, status_categories = _with_implied_status(
                status_codes, status_categories, implied
            )

    meta = _meta(obj, dims, sizes, name, fail)
    return _Cube(meta, dims, values, status_codes, status_categories)


def _sizes(sizes: Any, fail: _Fail) -> list[int]:
    """``size`` as ints; producers also send the numbers as strings (``["2", "3"]``)."""
    if isinstance(sizes, list):
        if all(type(s) is int and s >= 0 for s in sizes):
            return list(sizes)
        if all(_is_count(s) for s in sizes):
            return [int(s) for s in sizes]
    raise fail("'size' må være en liste med ikke-negative heltall")


def _is_count(size: Any) -> bool:
    if type(size) is int:
        return size >= 0
    return isinstance(size, str) and size.isascii() and size.isdigit()


def _dimension(dim_id: str, dim: Any, size: int, fail: _Fail) -> _Dimension:
    where = f"dimensjon '{dim_id}'"
    if not isinstance(dim, Mapping):
        raise fail(f"{where} må være et objekt")
    label = dim.get("label")
    if label is not None and not isinstance(label, str):
        raise fail(f"{where}: label må være tekst")
    category = dim.get("category")
    if not isinstance(category, Mapping):
        raise fail(f"{where} mangler objektet 'category'")
    index = category.get("index")
    cat_labels = category.get("label")
    if cat_labels is not None and not isinstance(cat_labels, Mapping):
        raise fail(f"{where}: category.label må være et objekt")

    if index is None:
        # JSON-stat 2.0 lets a one-category dimension omit index; its code is label's key.
        if not cat_labels:
            raise fail(f"{where} har verken category.index eller category.label")
        if len(cat_labels) != 1:
            raise fail(f"{where} har {len(cat_labels)} kategorier, men ingen category.index")
        codes = list(cat_labels)
    elif isinstance(index, list):
        if not all(isinstance(c, str) for c in index):
            raise fail(f"{where}: category.index må liste kodene som tekst")
        if len(set(index)) != len(index):
            raise fail(f"{where}: category.index gjentar en kode")
        codes = list(index)
    elif isinstance(index, Mapping):
        if not all(isinstance(c, str) for c in index):
            raise fail(f"{where}: kodene i category.index må være tekst")
        positions = list(index.values())
        if not {type(p) for p in positions} <= {int}:
            raise fail(f"{where}: posisjonene i category.index må være heltall")
        pos = np.asarray(positions, dtype=np.int64)
        if not np.array_equal(np.sort(pos), np.arange(len(pos))):
            raise fail(
                f"{where}: posisjonene i category.index må være 0..{len(pos) - 1}, hver én gang"
            )
        ordered = np.empty(len(pos), dtype=object)
        ordered[pos] = list(index)
        codes = ordered.tolist()
    else:
        raise fail(f"{where}: category.index må være en liste eller et objekt")

    if len(codes) != size:
        raise fail(f"{where} har {len(codes)} kategorier, men 'size' sier {size}")

    if cat_labels:
        unknown = set(cat_labels) - set(codes)
        if unknown:
            raise fail(
                f"{where}: category.label har koder som ikke står i index: {sorted(unknown)[:5]}"
            )
        if not all(isinstance(v, str) for v in cat_labels.values()):
            raise fail(f"{where}: kategorietikettene må være tekst")
        labels = [cat_labels.get(c, c) for c in codes]
    else:
        labels = list(codes)
    return _Dimension(dim_id, label or dim_id, codes, labels)


def _values(value: Any, n: int, fail: _Fail) -> tuple[np.ndarray, dict[int, str]]:
    """Values as float64 (NaN where missing), and the status symbols sent in place of values.

    JSON-stat allows string values. A numeric string (``"1.5"``) is that number; a status
    symbol (``".."``) is a missing value with that symbol; any other text is refused, since
    boso's values are numbers.
    """
    if isinstance(value, list):
        keys: Any = range(len(value))  # positions name the cells in messages
        items = value
        pos = None
    else:
        keys = list(value)
        items = list(value.values())
        pos = _positions(keys, n, "value", fail) if keys else np.zeros(0, dtype=np.int64)
    implied: dict[int, str] = {}
    types = set(map(type, items))
    if not types <= _NUMBER_TYPES:
        items = list(items)
        for i, item in enumerate(items):
            if type(item) in _NUMBER_TYPES:
                continue
            if not isinstance(item, str):
                raise fail(
                    f"value[{keys[i]!r}] er {_json_type(item)} {_short(item)}; "
                    "verdiene må være tall, tall som tekst eller null"
                )
            text = item.strip()
            if _NUMERIC.fullmatch(text):
                number = float(text)
                if not math.isfinite(number):
                    raise fail(f"value[{keys[i]!r}] {_short(item)} er for stort for et flyttall")
                items[i] = number
            elif text in VALUE_SYMBOLS:
                items[i] = None
                implied[i if pos is None else int(pos[i])] = text
            else:
                raise fail(
                    f"value[{keys[i]!r}] er teksten {_short(item)}, verken et tall eller et "
                    f"statussymbol ({' '.join(VALUE_SYMBOLS)})"
                )
    try:
        converted = np.array(items, dtype=np.float64)
    except OverflowError as exc:
        raise fail("en verdi er for stor for et flyttall") from exc
    if pos is None:
        return converted, implied
    out = np.full(n, np.nan)
    out[pos] = converted
    return out, implied


def _with_implied_status(
    codes: np.ndarray, categories: list[str], implied: dict[int, str]
) -> tuple[np.ndarray, list[str]]:
    """Give cells whose value was a status symbol that symbol, unless ``status`` names one."""
    categories = list(categories)
    if len(categories) + len(VALUE_SYMBOLS) > np.iinfo(codes.dtype).max:
        codes = codes.astype(np.int32)
    for position, symbol in implied.items():
        if categories[codes[position]]:
            continue  # the dataset's own status for the cell wins
        if symbol not in categories:
            categories.append(symbol)
        codes[position] = categories.index(symbol)
    return codes, categories


def _status(status: Any, n: int, fail: _Fail) -> tuple[np.ndarray, list[str]]:
    """Return int codes per cell into a list of symbols whose first entry is ``""``."""
    code_dtype = np.int8
    if status is None:
        return np.zeros(n, dtype=code_dtype), [""]
    if isinstance(status, str):
        return np.zeros(n, dtype=code_dtype), [status]
    if isinstance(status, list):
        if not status:
            # An empty array carries no symbol (as the JSON-stat Toolkit reads it).
            return np.zeros(n, dtype=code_dtype), [""]
        if len(status) == 1 and n != 1:
            # A one-element array applies to every cell (JSON-stat 2.0).
            return _status(status[0], n, fail)
        if len(status) != n:
            raise fail(f"status har {len(status)} elementer, men kuben har {n} celler")
        symbols = status
        positions = None
    elif isinstance(status, Mapping):
        if not status:
            return np.zeros(n, dtype=code_dtype), [""]
        symbols = list(status.values())
        positions = _positions(list(status), n, "status", fail)
    else:
        raise fail(f"'status' må være tekst, en liste eller et objekt, fikk {_json_type(status)}")

    if {type(s) for s in symbols} - {str, type(None)}:
        bad = next(s for s in symbols if type(s) not in (str, type(None)))
        raise fail(f"statussymboler må være tekst eller null, fant {_json_type(bad)}")
    # None means "no symbol"; mapping it to "" first keeps factorize's codes all non-negative.
    sym_arr = np.array(symbols, dtype=object)
    sym_arr[pd.isna(sym_arr)] = ""
    codes, uniques = pd.factorize(sym_arr)
    categories = list(uniques)
    if "" in categories:
        # Put "" first so that cells without an entry (code 0) mean "no symbol".
        order = [categories.index("")] + [i for i, c in enumerate(categories) if c != ""]
        remap = np.empty(len(order), dtype=np.int64)
        remap[order] = np.arange(len(order))
        codes = remap[codes]
        categories = [categories[i] for i in order]
    else:
        codes = codes + 1
        categories = ["", *categories]
    if len(categories) > np.iinfo(code_dtype).max:
        code_dtype = np.int32
    if positions is None:
        return codes.astype(code_dtype), categories
    out = np.zeros(n, dtype=code_dtype)
    out[positions] = codes
    return out, categories


def _positions(keys: list[Any], n: int, what: str, fail: _Fail) -> np.ndarray:
    """Validate sparse keys (``"0"``, ``"17"``, ...) and return them as int positions."""
    if not keys:
        return np.zeros(0, dtype=np.int64)
    if all(isinstance(k, str) for k in keys):
        arr = np.array(keys)
        ok = "".join(keys).isascii() and bool(np.all(np.char.isdigit(arr)))
        if not ok:
            bad = next(k for k in keys if not (k.isascii() and k.isdigit()))
            raise fail(f"{what}-nøkkelen {bad!r} er ikke en celleposisjon")
        if arr.dtype.itemsize // 4 > 18:
            bad = max(keys, key=len)
            raise fail(f"{what}-posisjon {bad} ligger utenfor kuben ({n} celler)")
        pos = arr.astype(np.int64)
    elif all(type(k) is int for k in keys):
        # Already-parsed dicts built in Python may use int keys.
        try:
            pos = np.array(keys, dtype=np.int64)
        except OverflowError as exc:
            raise fail(f"{what}-posisjon ligger utenfor kuben ({n} celler)") from exc
    else:
        raise fail(f"{what}-nøklene må være celleposisjoner")
    if pos.size and (pos.min() < 0 or pos.max() >= n):
        bad = int(pos.max()) if pos.max() >= n else int(pos.min())
        raise fail(f"{what}-posisjon {bad} ligger utenfor kuben ({n} celler)")
    if np.unique(pos).size != pos.size:
        raise fail(f"{what} nevner samme celleposisjon to ganger")
    return pos


def _meta(
    obj: Mapping[str, Any], dims: list[_Dimension], sizes: list[int], name: str | None, fail: _Fail
) -> JsonStatMeta:
    def text(key: str) -> str:
        val = obj.get(key)
        if val is None:
            return ""
        if not isinstance(val, str):
            raise fail(f"'{key}' må være tekst")
        return val

    extension = obj.get("extension") or {}
    if not isinstance(extension, Mapping):
        raise fail("'extension' må være et objekt")
    role = obj.get("role") or {}
    if not isinstance(role, Mapping) or not all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in role.values()
    ):
        raise fail("'role' må knytte rollenavn til lister med dimensjons-id-er")

    units: dict[str, dict[str, Any]] = {}
    dimension_notes: dict[str, list[str]] = {}
    category_notes: dict[str, dict[str, list[str]]] = {}
    dim_objs = obj["dimension"]
    for dim in dims:
        raw = dim_objs[dim.id]
        category = raw["category"]
        unit = category.get("unit")
        if unit is not None:
            if not isinstance(unit, Mapping) or not all(
                isinstance(u, Mapping) for u in unit.values()
            ):
                raise fail(f"dimensjon '{dim.id}': category.unit må knytte koder til objekter")
            units.update({code: dict(u) for code, u in unit.items()})
        if raw.get("note") is not None:
            dimension_notes[dim.id] = _notes(raw.get("note"), f"dimensjon '{dim.id}'", fail)
        cat_note = category.get("note")
        if cat_note is not None:
            if not isinstance(cat_note, Mapping):
                raise fail(f"dimensjon '{dim.id}': category.note må være et objekt")
            category_notes[dim.id] = {
                code: _notes(n, f"dimensjon '{dim.id}' kategori '{code}'", fail)
                for code, n in cat_note.items()
            }

    return JsonStatMeta(
        label=text("label"),
        source=text("source"),
        updated=text("updated"),
        note=_notes(obj.get("note"), "dataset", fail),
        extension=dict(extension),
        role={k: list(v) for k, v in role.items()},
        dimension_ids=[d.id for d in dims],
        dimension_labels={d.id: d.label for d in dims},
        size=list(sizes),
        units=units,
        dimension_notes=dimension_notes,
        category_notes=category_notes,
        source_name=name,
    )


def _notes(note: Any, where: str, fail: _Fail) -> list[str]:
    if note is None:
        return []
    if isinstance(note, str):
        return [note]
    if isinstance(note, list) and all(isinstance(n, str) for n in note):
        return list(note)
    raise fail(f"{where}: note må være en liste med tekster")


# ---------------------------------------------------------------------------------------------
# Merging datasets that were fetched in parts


def merge_jsonstat(
    parts: Sequence[Mapping[str, Any]], dim: str, order: Sequence[str] | None = None
) -> dict[str, Any]:
    """Concatenate JSON-stat 2.0 datasets that differ only in dimension ``dim``.

    Every part is first checked with :func:`check_jsonstat` (``strict_v2``), so the merge reads
    ``value`` and ``status`` by the same rule as the readers.

    Args:
        parts: Datasets with the same ``id`` and the same categories in every other dimension.
        dim: The dimension the query was split along.
        order: The wanted category order of ``dim`` (default: the parts' order).

    Returns:
        One JSON-stat 2.0 dataset: ``dim`` holds every part's categories in ``order``; ``size``,
        ``value`` (an array, values as sent) and ``status`` (sparse, position -> symbol) are
        laid out again, and ``updated`` is the latest of the parts'. Everything else is the
        first part's.

    Raises:
        DataError: A part is not a valid dataset, or the parts do not fit together (other
            dimensions differ, or a category occurs in two parts).
    """
    fail = _Fail(None)
    if not parts:
        raise fail("ingenting å slå sammen")
    cubes = []
    for i, part in enumerate(parts):
        part_fail = fail.part(f"del {i + 1}")
        try:
            check_jsonstat(part, strict_v2=True)
        except DataError as exc:
            raise part_fail(str(exc).removeprefix(fail.prefix)) from None
        cubes.append(_parse(part, None, part_fail, with_values=False))
    if len(parts) == 1:
        return dict(parts[0])
    ids = cubes[0].meta.dimension_ids
    if dim not in ids:
        raise fail(f"kan ikke slå sammen på {dim!r}: ikke en dimensjon i svaret")
    axis = ids.index(dim)
    for cube in cubes[1:]:
        if cube.meta.dimension_ids != ids:
            raise fail(
                f"kan ikke slå sammen deler med dimensjonene {ids} og {cube.meta.dimension_ids}"
            )
        for i, other in enumerate(ids):
            if other != dim and cube.dims[i].codes != cubes[0].dims[i].codes:
                raise fail(f"kan ikke slå sammen delene: dimensjon {other!r} er ulik mellom delene")

    part_codes = [cube.dims[axis].codes for cube in cubes]
    all_codes = [c for codes in part_codes for c in codes]
    if len(set(all_codes)) != len(all_codes):
        raise fail(f"kan ikke slå sammen delene: en kategori i {dim!r} finnes i to deler")
    if order is not None:
        rank = {c: i for i, c in enumerate(order)}
        tail = len(rank)
        merged_codes = sorted(all_codes, key=lambda c: rank.get(c, tail))
    else:
        merged_codes = all_codes
    new_pos = {c: i for i, c in enumerate(merged_codes)}

    merged_size = list(cubes[0].meta.size)
    merged_size[axis] = len(merged_codes)
    values = np.empty(merged_size, dtype=object)
    status = np.empty(merged_size, dtype=object)
    for part, cube, codes in zip(parts, cubes, part_codes, strict=True):
        shape = cube.meta.size
        index: list[Any] = [slice(None)] * len(ids)
        index[axis] = [new_pos[c] for c in codes]
        n = cube.meta.n_cells
        values[tuple(index)] = _as_dense(part.get("value"), n).reshape(shape)
        status[tuple(index)] = _as_dense(part.get("status"), n).reshape(shape)

    first = parts[0]
    merged = copy.deepcopy({k: v for k, v in first.items() if k not in ("value", "status")})
    merged["size"] = merged_size
    merged["value"] = values.ravel().tolist()
    merged["status"] = {str(i): s for i, s in enumerate(status.ravel()) if s is not None}
    updates = [p.get("updated") for p in parts if p.get("updated")]
    if updates:
        merged["updated"] = max(updates)
    category = merged["dimension"][dim]["category"]
    category["index"] = {c: i for i, c in enumerate(merged_codes)}
    for key in ("label", "note", "unit", "child", "coordinates"):
        combined: dict[str, Any] = {}
        for part in parts:
            got = part["dimension"][dim]["category"].get(key)
            if isinstance(got, Mapping):
                combined.update(got)
        if combined:
            category[key] = {c: combined[c] for c in merged_codes if c in combined}
    return merged


def _as_dense(data: Any, n: int) -> np.ndarray:
    """``value`` or ``status`` of a checked dataset as one object per cell (None when absent)."""
    out = np.empty(n, dtype=object)
    out[:] = None
    if isinstance(data, str):
        out[:] = data
    elif isinstance(data, list) and data:
        out[:] = data if len(data) == n else data[0]
    elif isinstance(data, Mapping):
        for pos, item in data.items():
            out[int(pos)] = item
    return out


# ---------------------------------------------------------------------------------------------
# Frame building


def _frame(cube: _Cube, mode: str) -> pd.DataFrame:
    """Build the tidy frame; ``mode`` is ``labels``, ``codes`` or ``both``."""
    assert cube.values is not None and cube.status_codes is not None
    sizes = [len(d.codes) for d in cube.dims]
    n = cube.values.size
    fail = _Fail(cube.meta.source_name)
    columns: dict[str, Any] = {}

    if mode == "labels":
        names = _label_column_names(cube.dims)
    for i, dim in enumerate(cube.dims):
        positions = _positions_of_dim(sizes, i, n)
        if mode in ("codes", "both"):
            columns[dim.id] = _categorical(positions, dim.codes)
        if mode == "both":
            col = f"{dim.id}_label"
            if col in columns or col in {d.id for d in cube.dims}:
                raise fail(f"kolonnenavnet {col!r} ville blitt brukt to ganger")
            columns[col] = _categorical(positions, dim.labels)
        elif mode == "labels":
            columns[names[i]] = _categorical(positions, dim.labels)
    for reserved in ("value", "status"):
        if reserved in columns:
            raise fail(f"en dimensjonskolonne heter {reserved!r}, som er et reservert navn")

    columns["value"] = cube.values
    # Arrow's take builds the string column in C (~8x faster than from a numpy object array).
    symbols = pa.array(cube.status_categories, type=pa.string()).take(pa.array(cube.status_codes))
    columns["status"] = pd.array(symbols, dtype="str")
    return pd.DataFrame(columns, copy=False)


def _label_column_names(dims: list[_Dimension]) -> list[str]:
    """pyjstat's naming (dimension label), falling back to the id where names would repeat."""
    counts: dict[str, int] = {}
    for d in dims:
        counts[d.label] = counts.get(d.label, 0) + 1
    taken = {"value", "status"}
    names = []
    for d in dims:
        name = d.label if counts[d.label] == 1 and d.label not in taken else d.id
        names.append(name)
        taken.add(name)
    return names


def _positions_of_dim(sizes: list[int], i: int, n: int) -> np.ndarray:
    """Category position of dimension ``i`` for every cell (row-major, last dim fastest)."""
    size = sizes[i]
    if n == 0:
        return np.zeros(0, dtype=_code_dtype(size))
    inner = math.prod(sizes[i + 1 :])
    outer = math.prod(sizes[:i])
    return np.tile(np.repeat(np.arange(size, dtype=_code_dtype(size)), inner), outer)


def _code_dtype(size: int) -> type[np.signedinteger[Any]]:
    for dtype in (np.int8, np.int16, np.int32):
        if size <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def _categorical(positions: np.ndarray, categories: list[str]) -> pd.Categorical:
    if len(set(categories)) == len(categories):
        return pd.Categorical.from_codes(positions, categories=categories)
    # Two codes may share a label; categories must be unique, so map positions to unique labels.
    codes, uniques = pd.factorize(np.array(categories, dtype=object))
    return pd.Categorical.from_codes(codes[positions], categories=list(uniques))


# ---------------------------------------------------------------------------------------------
# Message helpers


def _sizes_text(sizes: list[int]) -> str:
    return "×".join(str(s) for s in sizes) + f"={math.prod(sizes)}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "en sannhetsverdi"
    if isinstance(value, (int, float)):
        return "et tall"
    if isinstance(value, str):
        return "en tekst"
    if isinstance(value, (list, tuple)):
        return "en liste"
    if isinstance(value, Mapping):
        return "et objekt"
    return f"en {type(value).__name__}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
