"""Kommune codes, names, fylker, KOSTRA groups and harmonisation across kommune reforms.

Everything here is pure: functions take parsed KLASS JSON or DataFrames and return DataFrames.

The kommune identity layer: :func:`parse_kommunenummer` is the one rule for kommune codes
(every reader of a code calls it and adds its own file/row/field to the message),
:func:`parse_fylkesnummer` the one for fylke codes, :func:`kostra_label` and
:func:`region_labels` the one way to name a KOSTRA group and a comparison region.

Harmonisation maps a value published for kommune code ``c`` in year ``y`` to the target structure
(default: the newest in the KLASS changes) by following every KLASS change *after* year ``y``:
``0702 (2017) → 0715 (2018) → 3802 (2020) → 3903 (2024)``. Counts are summed over the
predecessors, rates are recomputed from numerator and denominator by :mod:`boso.build`, and a
predecessor that was split between several new kommuner is flagged ("deling") instead of being
counted twice.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from boso.errors import DataError, QueryError

#: Fylker in the 2024 structure (KLASS 104). KLASS 131 has no fylke names, and this list is
#: stable reference data, so it lives here rather than in a download.
FYLKER_2024: dict[str, str] = {
    "03": "Oslo",
    "11": "Rogaland",
    "15": "Møre og Romsdal",
    "18": "Nordland",
    "31": "Østfold",
    "32": "Akershus",
    "33": "Buskerud",
    "34": "Innlandet",
    "39": "Vestfold",
    "40": "Telemark",
    "42": "Agder",
    "46": "Vestland",
    "50": "Trøndelag",
    "55": "Troms",
    "56": "Finnmark",
}

NATIONAL_CODES = {"0", "00", "EAK", "0000"}

# A kommunenummer is the fylkesnummer (01–99) and two digits: as a number at least 101, so it
# has 3 or 4 digits once leading zeros are dropped. ASCII digits only ("\d" would take "٣٠١").
_KOMMUNE_TEXT = re.compile(r"([0-9]{3,4})")
_PREFIXED_KOMMUNE_TEXT = re.compile(r"(?:K-?)?([0-9]{3,4})")
_FYLKE_TEXT = re.compile(r"([0-9]{1,2})")


def _code_text(value: Any) -> str | None:
    """The text of a code as written: strings stripped, whole numbers as digits, else None."""
    if isinstance(value, bool):  # bool is an int subclass; True is not kommune 0001
        return None
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        # Whole floats come from spreadsheets and numeric parquet columns (301.0).
        return str(int(value)) if math.isfinite(value) and float(value).is_integer() else None
    if isinstance(value, str):
        return value.strip()
    return None


def parse_kommunenummer(
    value: Any, *, allow_prefix: bool = False, four_digits: bool = False
) -> str:
    """Return a kommunenummer as a 4-character string: the one rule for kommune codes.

    Accepted: ints and whole floats (``301``, ``301.0``), and strings of 3 or 4 ASCII digits
    with surrounding white space (``"301"``, ``" 0301 "``). With ``allow_prefix`` also the
    prefixed forms of the sources that use them: SSB's back-cast ``"K-3025"`` and IMDi's
    ``"K3001"``; everywhere else (user input, register files, KLASS, Geonorge) a prefix is
    refused. Refused: booleans, None, NaN, ``"1"``/``"01"`` and ``"0000"`` (fylke 00 does not
    exist), 5 digits, text such as ``"301.0"``, ``"03-01"``, ``"Oslo"`` or ``""``.

    With ``four_digits`` only the written-out form is accepted (``"0301"``, not ``"301"`` or
    ``301``): the register import, where the kommune a tenant file belongs to must be named
    exactly.

    Args:
        value: The code as read.
        allow_prefix: Accept the ``K``/``K-`` prefix.
        four_digits: Refuse codes whose leading zero was dropped.

    Returns:
        The code with leading zeros, e.g. ``"0301"``.

    Raises:
        DataError: ``ugyldig kommunenummer …``; callers add the file, row or field.
    """
    text = _code_text(value)
    pattern = _PREFIXED_KOMMUNE_TEXT if allow_prefix else _KOMMUNE_TEXT
    match = pattern.fullmatch(text) if text is not None else None
    code = match.group(1).zfill(4) if match else ""
    if not code or code.startswith("00") or (four_digits and match and len(match.group(1)) < 4):
        raise DataError(f"ugyldig kommunenummer {value!r}: fire siffer, f.eks. 0301")
    return code


def normalise_kommunenummer_series(values: pd.Series, *, allow_prefix: bool = False) -> pd.Series:
    """:func:`parse_kommunenummer` for a column of strings, vectorised (IMDi exports are large).

    Entries that are not a kommunenummer are returned stripped but otherwise as written, so
    that the caller's check can name the bad code exactly as the file has it.
    """
    text = (values if pd.api.types.is_string_dtype(values) else values.astype(str)).str.strip()
    # Plain string operations (Arrow-backed, no per-row Python): the same rule as the regexes.
    digits = text.str.replace(r"^K-?", "", regex=True) if allow_prefix else text
    codes = digits.str.zfill(4)
    valid = digits.str.fullmatch(r"[0-9]{3,4}").fillna(False) & (codes.str[:2] != "00")
    return codes.where(valid, text)


def parse_fylkesnummer(value: Any) -> str:
    """Return a fylkesnummer as a 2-character string (``3`` / ``"3"`` / ``"03"`` → ``"03"``).

    Raises:
        DataError: ``ugyldig fylkesnummer …``: not 1 or 2 ASCII digits, or ``00``.
    """
    text = _code_text(value)
    match = _FYLKE_TEXT.fullmatch(text) if text is not None else None
    code = match.group(1).zfill(2) if match else ""
    if not code or code == "00":
        raise DataError(f"ugyldig fylkesnummer {value!r}: to siffer, f.eks. 03")
    return code


def is_backcast_code(code: str) -> bool:
    """True for SSB's pre-aggregated ``K-xxxx`` codes (codelist ``agg_KommSummer``)."""
    return str(code).startswith("K-")


# --------------------------------------------------------------------------------------------
# KLASS parsing


def parse_changes(payload: Mapping[str, Any]) -> pd.DataFrame:
    """KLASS 131 ``changes`` JSON → ``gammel_kode, gammelt_navn, ny_kode, nytt_navn, dato``."""
    try:
        rows = payload["codeChanges"]
        frame = pd.DataFrame(
            {
                "gammel_kode": [parse_kommunenummer(r["oldCode"]) for r in rows],
                "gammelt_navn": [r.get("oldName", "") for r in rows],
                "ny_kode": [parse_kommunenummer(r["newCode"]) for r in rows],
                "nytt_navn": [r.get("newName", "") for r in rows],
                "dato": pd.to_datetime([r["changeOccurred"] for r in rows]),
            }
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"KLASS changes: uventet innhold ({exc})") from exc
    return frame.sort_values(["dato", "gammel_kode", "ny_kode"], ignore_index=True)


def parse_codes(payload: Mapping[str, Any]) -> pd.DataFrame:
    """KLASS 131 ``codesAt`` JSON → ``kommunenummer, kommunenavn`` (without 9999 Uoppgitt)."""
    try:
        rows = [r for r in payload["codes"] if str(r["code"]) != "9999"]
        return pd.DataFrame(
            {
                "kommunenummer": [parse_kommunenummer(r["code"]) for r in rows],
                "kommunenavn": [r["name"] for r in rows],
            }
        ).sort_values("kommunenummer", ignore_index=True)
    except (KeyError, TypeError) as exc:
        raise DataError(f"KLASS codesAt: uventet innhold ({exc})") from exc


def parse_kostra_groups(payload: Mapping[str, Any]) -> pd.DataFrame:
    """KLASS 131→112 ``correspondsAt`` JSON → ``kommunenummer, kostragruppe, kostragruppenavn``."""
    try:
        rows = payload["correspondenceItems"]
        return pd.DataFrame(
            {
                "kommunenummer": [parse_kommunenummer(r["sourceCode"]) for r in rows],
                "kostragruppe": [r["targetCode"] for r in rows],
                "kostragruppenavn": [r["targetName"] for r in rows],
            }
        )
    except (KeyError, TypeError) as exc:
        raise DataError(f"KLASS correspondsAt: uventet innhold ({exc})") from exc


def registry(codes: pd.DataFrame, kostra_groups: pd.DataFrame) -> pd.DataFrame:
    """The current kommuner with fylke and KOSTRA group.

    Returns:
        ``kommunenummer, kommunenavn, fylkesnummer, fylkesnavn, kostragruppe, kostragruppenavn``.
    """
    frame = codes.merge(kostra_groups, on="kommunenummer", how="left", validate="1:1")
    frame["fylkesnummer"] = frame["kommunenummer"].str[:2]
    frame["fylkesnavn"] = frame["fylkesnummer"].map(FYLKER_2024)
    unknown = frame.loc[frame["fylkesnavn"].isna(), "fylkesnummer"].unique()
    if len(unknown):
        # An older structure: keep the code, name unknown rather than wrong.
        frame["fylkesnavn"] = frame["fylkesnavn"].fillna("Fylke " + frame["fylkesnummer"])
    columns = [
        "kommunenummer",
        "kommunenavn",
        "fylkesnummer",
        "fylkesnavn",
        "kostragruppe",
        "kostragruppenavn",
    ]
    return frame[columns].sort_values("kommunenummer", ignore_index=True)


def check_kommunenummer(code: Any, known: Iterable[str]) -> str:
    """Parse ``code`` (:func:`parse_kommunenummer`) and check that it is a current kommune.

    Raises:
        QueryError: Malformed or unknown code, with the closest known codes in the message.
    """
    try:
        normalised = parse_kommunenummer(code)
    except DataError as exc:
        raise QueryError(str(exc)) from exc
    known = sorted(set(known))
    if normalised not in known:
        near = [k for k in known if k[:2] == normalised[:2]][:8]
        hint = f"; kommuner i fylke {normalised[:2]}: {', '.join(near)}" if near else ""
        raise QueryError(f"ukjent kommunenummer {normalised}{hint}")
    return normalised


@dataclass(frozen=True)
class Fylke:
    """A fylke and its kommuner, as pages and lists group them."""

    number: str
    name: str
    kommuner: tuple[str, ...]


def fylker(registry: pd.DataFrame) -> list[Fylke]:
    """The registry's fylker in its row order, each with its kommunenummer in row order.

    Args:
        registry: As :func:`boso.processed.load_registry` returns it (sorted by fylke).
    """
    groups: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for code, number, name in zip(
        registry["kommunenummer"], registry["fylkesnummer"], registry["fylkesnavn"], strict=True
    ):
        groups.setdefault(str(number), []).append(str(code))
        names.setdefault(str(number), str(name))
    return [Fylke(number, names[number], tuple(codes)) for number, codes in groups.items()]


# --------------------------------------------------------------------------------------------
# Display labels of regions

#: Comparison levels in display order: the kommune first, then its peers, landet last.
LEVEL_ORDER = {"kommune": 0, "kostragruppe": 1, "fylke": 2, "landet": 3}
#: How a level is named in a label that must tell two regions of the same name apart.
LEVEL_NAMES = {
    "kommune": "kommune",
    "kostragruppe": "KOSTRA-gruppe",
    "fylke": "fylke",
    "landet": "landet",
}
_KOSTRA_CODE = re.compile(r"EKG([0-9]{1,2})")


def kostra_label(code: Any, name: Any = None) -> str:
    """The display label of a KOSTRA group: KLASS's name, else one made from the code.

    ``("EKG13", "KOSTRA-gruppe 13")`` → ``"KOSTRA-gruppe 13"``; ``("EKG05", None)`` →
    ``"KOSTRA-gruppe 5"``; no group at all (None, NaN, ``""``) → ``""``, never ``"nan"``.
    """

    def text(value: Any) -> str:
        return "" if value is None or pd.isna(value) else str(value).strip()

    label = text(name) or text(code)
    match = _KOSTRA_CODE.fullmatch(label)
    return f"KOSTRA-gruppe {int(match.group(1))}" if match else label


def region_labels(names: pd.Series, levels: pd.Series) -> pd.Series:
    """One display label per region: its name, told apart from another level's of that name.

    Oslo is both a kommune and a fylke, so its comparison rows would otherwise share the label
    "Oslo". Of the levels sharing a name, the first in :data:`LEVEL_ORDER` keeps it; the others
    get their level added: ``"Oslo"`` (kommune) and ``"Oslo (fylke)"``.

    Args:
        names: The region names (``regionnavn``), one per row.
        levels: The rows' ``nivaa``, same index.

    Returns:
        The labels, same index.
    """
    text, levels = names.astype(str), levels.astype(str)
    pairs = pd.DataFrame({"name": text, "level": levels}).drop_duplicates()
    pairs = pairs.assign(rank=pairs["level"].map(LEVEL_ORDER).fillna(len(LEVEL_ORDER)))
    first = pairs.sort_values("rank", kind="stable").drop_duplicates("name")
    owner = dict(zip(first["name"], first["level"], strict=True))
    renamed = text.map(owner) != levels
    if not renamed.any():
        return names  # the usual case: every name belongs to one level, nothing to tell apart
    suffix = " (" + levels.map(LEVEL_NAMES).fillna(levels) + ")"
    return names.where(~renamed, text + suffix)


# --------------------------------------------------------------------------------------------
# Reform harmonisation


@dataclass
class CodeMap:
    """Forward mapping of (code, year) to the target structure, built from KLASS changes.

    Args:
        changes: Output of :func:`parse_changes`.
        target_year: The structure to map to (changes dated after 1 January of this year are
            ignored). Default: the year of the newest change.
    """

    changes: pd.DataFrame
    target_year: int | None = None
    _by_old: dict[str, list[tuple[int, str]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.target_year is None:
            self.target_year = int(self.changes["dato"].dt.year.max())
        by_old: dict[str, list[tuple[int, str]]] = {}
        for old, new, when in zip(
            self.changes["gammel_kode"],
            self.changes["ny_kode"],
            self.changes["dato"].dt.year,
            strict=True,
        ):
            if old != new and when <= self.target_year:
                by_old.setdefault(old, []).append((int(when), new))
        self._by_old = by_old
        self._resolve = cache(self._resolve_uncached)

    def _resolve_uncached(
        self, code: str, year: int
    ) -> frozenset[tuple[str, bool, frozenset[str]]]:
        """Targets of ``code`` valid in ``year``: (target, split on the way, codes passed)."""
        later = [(when, new) for when, new in self._by_old.get(code, []) if when > year]
        if not later:
            return frozenset({(code, False, frozenset())})
        first = min(when for when, _ in later)
        successors = [new for when, new in later if when == first]
        split = len(set(successors)) > 1
        targets: set[tuple[str, bool, frozenset[str]]] = set()
        for new in successors:
            # The successor is valid from `first`; only changes after that still apply.
            for target, split_later, via in self._resolve(new, first):
                passed = via | {new} if new != target else via
                targets.add((target, split or split_later, frozenset(passed)))
        return frozenset(targets)

    def resolve(self, code: str, year: int) -> list[tuple[str, bool]]:
        """Target codes for ``code`` as valid in ``year``: ``[(target, split), ...]``."""
        return sorted({(target, split) for target, split, _ in self._resolve(code, int(year))})

    def via(self, code: str, year: int) -> set[str]:
        """Intermediate codes between ``code`` (valid in ``year``) and its targets."""
        return set().union(*(via for _, _, via in self._resolve(code, int(year))))

    def mapping(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """Map distinct ``(kode, aar)`` pairs to targets.

        Returns:
            ``kode, aar, maalkode, deling, via`` where ``deling`` is True when the predecessor
            was split between several kommuner on the way (its value cannot be back-cast
            exactly) and ``via`` holds the intermediate codes.
        """
        distinct = pairs[["kode", "aar"]].drop_duplicates()
        rows = [
            (code, year, target, split, tuple(sorted(via)))
            for code, year in zip(distinct["kode"], distinct["aar"], strict=True)
            for target, split, via in self._resolve(code, int(year))
        ]
        return pd.DataFrame(rows, columns=["kode", "aar", "maalkode", "deling", "via"])


STATUS_PRIORITY = {":": 0, "..": 1, "-": 2, ".": 3, "": 4}


def sum_with_status(data: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sum ``verdi`` by ``keys``; a group with any missing member is missing, with its symbol.

    The symbol kept is the most telling one (``:`` suppressed before ``..`` not available),
    because a partial sum would be silently too low and a suppressed cell must never count as
    zero.
    """
    work = data.assign(
        _missing=data["verdi"].isna(),
        _prio=data["status"].map(STATUS_PRIORITY).fillna(4),
    )
    agg = (
        work.groupby(keys, observed=True, sort=True)
        .agg(verdi=("verdi", "sum"), n_missing=("_missing", "sum"), prio=("_prio", "min"))
        .reset_index()
    )
    symbols = {v: k for k, v in STATUS_PRIORITY.items()}
    incomplete = agg["n_missing"] > 0
    agg["status"] = np.where(incomplete, agg["prio"].map(symbols), "")
    agg.loc[incomplete & agg["status"].isin(["", "."]), "status"] = ".."
    agg.loc[incomplete, "verdi"] = np.nan
    return agg[[*keys, "verdi", "status"]]


def contributions(
    frame: pd.DataFrame,
    code_map: CodeMap,
    *,
    keys: list[str] | None = None,
    code_year: int | None = None,
) -> pd.DataFrame:
    """Which published value goes to which current kommune.

    Args:
        frame: Kommune rows with ``kode`` (4-char), ``aar``, ``verdi``, ``status`` and any
            dimension columns named in ``keys``.
        code_map: The reform mapping.
        keys: Extra dimension columns.
        code_year: When the codes all belong to one structure (SSB's ``K-xxxx`` back-cast
            codes, valid in that year), map them from that year instead of the row's year.

    Returns:
        One row per (published value, target): ``kode, maalkode, aar, <keys>, verdi, status,
        deling`` (``deling``: the value was split between several targets). Cells marked
        ``.`` (code not in use) are left out, and so are values superseded by a successor
        code's own value for the same year (SSB's back-cast, e.g. 3025 for 2019 already holds
        0220 + 0627 + 0628).
    """
    keys = keys or []
    columns = ["kode", "maalkode", "aar", *keys, "verdi", "status", "deling"]
    data = frame.loc[frame["status"] != "."].copy()
    if data.empty:
        return pd.DataFrame(columns=columns)
    lookup = data[["kode", "aar"]].copy()
    if code_year is not None:
        lookup["aar"] = code_year
    mapping = code_map.mapping(lookup)
    if code_year is not None:
        data["_kodeaar"] = code_year
        merged = data.merge(
            mapping.rename(columns={"aar": "_kodeaar"}), on=["kode", "_kodeaar"], how="left"
        )
    else:
        merged = data.merge(mapping, on=["kode", "aar"], how="left")
    group = ["maalkode", "aar", *keys]
    merged = merged.reset_index(drop=True)
    merged["_rad"] = merged.index
    downstream = [
        (*via, target) if code != target else via
        for code, target, via in zip(merged["kode"], merged["maalkode"], merged["via"], strict=True)
    ]
    exploded = merged[["_rad", *group]].assign(via=downstream).explode("via").dropna()
    present = merged.loc[merged["status"] == "", ["kode", *group]].rename(columns={"kode": "via"})
    superseded = exploded.merge(present, on=["via", *group], how="inner")["_rad"].unique()
    return merged.drop(index=superseded)[columns].reset_index(drop=True)


def harmonise_counts(
    frame: pd.DataFrame,
    code_map: CodeMap,
    *,
    keys: list[str] | None = None,
    code_year: int | None = None,
) -> pd.DataFrame:
    """Sum a count over predecessor kommuner into the target structure.

    Args:
        frame: Kommune rows with ``kode`` (4-char), ``aar``, ``verdi``, ``status`` and any
            dimension columns named in ``keys``.
        code_map: The reform mapping.
        keys: Extra dimension columns to keep (default none).
        code_year: See :func:`contributions`.

    Returns:
        ``kommunenummer, aar, <keys>, verdi, status, harmonisering, n_forgjengere``.
        A target's value is missing (NaN, with the symbol) when any contributing predecessor is
        missing or suppressed, and missing with ``harmonisering="deling"`` when a contributing
        predecessor was split. Where a successor code has its own value for the year (SSB's
        back-cast), that value wins over the sum of predecessors.
    """
    keys = keys or []
    return harmonise_contributions(
        contributions(frame, code_map, keys=keys, code_year=code_year), keys
    )


def harmonise_contributions(contrib: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Aggregate :func:`contributions` by target kommune (see :func:`harmonise_counts`)."""
    columns = ["kommunenummer", "aar", *keys, "verdi", "status", "harmonisering", "n_forgjengere"]
    if contrib.empty:
        return pd.DataFrame(columns=columns)
    group = ["maalkode", "aar", *keys]
    summed = sum_with_status(contrib, group)
    if "estimert" not in contrib.columns:
        contrib = contrib.assign(estimert=False)
    flags = (
        contrib.assign(_omkodet=contrib["kode"] != contrib["maalkode"])
        .groupby(group, observed=True, sort=True)
        .agg(
            deling=("deling", "any"),
            estimert=("estimert", "any"),
            n=("kode", "nunique"),
            omkodet=("_omkodet", "any"),
        )
        .reset_index()
    )
    agg = summed.merge(flags, on=group, how="left")
    # An estimated part is flagged even when it was summed with exact values.
    agg["harmonisering"] = np.select(
        [agg["deling"], agg["estimert"], agg["n"] > 1, agg["omkodet"]],
        ["deling", "estimert", "sammenslaatt", "omkodet"],
        default="",
    )
    split = agg["deling"].astype(bool)
    agg.loc[split, "verdi"] = np.nan
    agg.loc[split, "status"] = ".."
    agg = agg.rename(columns={"maalkode": "kommunenummer", "n": "n_forgjengere"})
    return agg[columns]


def split_shares(code_map: CodeMap, population: pd.DataFrame) -> pd.DataFrame:
    """Each successor's share of a split predecessor, by population at the split.

    Only a *pure* split can be shared out from the data boso has: every successor has the
    split kommune as its only predecessor (Ålesund 1507 → 1508 Ålesund + 1580 Haram in 2024),
    so the successors' populations on 1 January of the split year are the parts. Where a
    successor also took in other kommuner (Snillfjord 5012 in 2020), the part would need the
    population of the old kommuner' areas, which the tables do not have: no share is given.

    Args:
        code_map: The reform mapping (its changes, up to its target year).
        population: ``kommunenummer, aar, verdi`` in the successors' codes.

    Returns:
        ``kode, maalkode, aar, andel`` (``aar``: the split year); empty when no split can be
        shared out.
    """
    columns = ["kode", "maalkode", "aar", "andel"]
    changes = code_map.changes
    changes = changes.loc[
        (changes["gammel_kode"] != changes["ny_kode"])
        & (changes["dato"].dt.year <= int(code_map.target_year or 9999))
    ].assign(aar=changes["dato"].dt.year)
    if changes.empty or population.empty:
        return pd.DataFrame(columns=columns)
    pop = population.loc[population["verdi"].notna() & (population["verdi"] > 0)]
    pop = pop.groupby(["kommunenummer", "aar"])["verdi"].sum()
    rows = []
    for (old, year), group in changes.groupby(["gammel_kode", "aar"]):
        successors = sorted(set(group["ny_kode"]))
        if len(successors) < 2:
            continue
        same_year = changes.loc[changes["aar"] == year]
        takes_in = same_year.loc[same_year["ny_kode"].isin(successors), "gammel_kode"]
        if set(takes_in) != {old}:
            continue  # not a pure split: the parts are unknown
        later = changes.loc[changes["aar"] > year, "gammel_kode"]
        if set(successors) & set(later):
            continue  # a successor changed again; its population is not that of the part
        values = [pop.get((code, int(year))) for code in successors]
        if any(v is None for v in values):
            continue
        total = float(sum(values))
        rows += [
            (old, code, int(year), float(v) / total)
            for code, v in zip(successors, values, strict=True)
        ]
    return pd.DataFrame(rows, columns=columns)


def estimate_split_parts(
    contrib: pd.DataFrame,
    shares: pd.DataFrame,
    code_map: CodeMap,
    *,
    code_year: int | None = None,
) -> pd.DataFrame:
    """Replace split contributions of a *count* by their estimated part (share × value).

    A value that passed through a split kommune with a known :func:`split_shares` entry for its
    target is multiplied by the share and marked ``estimert`` (no longer ``deling``). Values
    whose way passes several splits, or a split without a share, stay ``deling`` (missing).
    Never use this for rates: a rate is not divided between kommuner.

    Args:
        contrib: Output of :func:`contributions`.
        shares: Output of :func:`split_shares`.
        code_map: The reform mapping the contributions were made with.
        code_year: As given to :func:`contributions`.

    Returns:
        ``contrib`` with the column ``estimert`` (bool).
    """
    out = contrib.assign(estimert=False)
    if out.empty or shares.empty or not out["deling"].any():
        return out
    share_of = {
        (k, m): a
        for k, m, a in zip(shares["kode"], shares["maalkode"], shares["andel"], strict=True)
    }
    split_nodes = set(shares["kode"])
    factors = []
    for code, year, target, split in zip(
        out["kode"], out["aar"], out["maalkode"], out["deling"], strict=True
    ):
        if not split:
            factors.append(np.nan)
            continue
        lookup_year = int(code_year if code_year is not None else year)
        nodes = ({code} | code_map.via(code, lookup_year)) & split_nodes
        known = [share_of[(n, target)] for n in nodes if (n, target) in share_of]
        factors.append(known[0] if len(nodes) == 1 and len(known) == 1 else np.nan)
    factor = pd.Series(factors, index=out.index, dtype="float64")
    use = factor.notna()
    out.loc[use, "verdi"] = out.loc[use, "verdi"] * factor[use]
    out.loc[use, "deling"] = False
    out.loc[use, "estimert"] = True
    return out


def sum_contributions_over_regions(
    contrib: pd.DataFrame,
    membership: pd.Series | None,
    *,
    keys: list[str] | None = None,
) -> pd.DataFrame:
    """Sum published kommune values into regions (fylke, KOSTRA group, landet).

    Summing the published values (not the harmonised kommuner) keeps a value that was split
    between kommuner of the same region, which the kommune level must leave out.

    Args:
        contrib: Output of :func:`contributions`.
        membership: Current kommunenummer → region code; ``None`` for landet (every value
            counts, whatever became of its kommune).
        keys: Extra dimension columns.

    Returns:
        ``region, aar, <keys>, verdi, status``; missing when any member is missing or
        suppressed, or when a value was split between kommuner in different regions.
    """
    keys = keys or []
    if contrib.empty:
        return pd.DataFrame(columns=["region", "aar", *keys, "verdi", "status"])
    if membership is None:
        data = contrib.assign(region="0")
    else:
        data = contrib.assign(region=contrib["maalkode"].map(membership))
        data = data.loc[data["region"].notna()]
    source = ["kode", "aar", *keys]
    data = data.drop_duplicates([*source, "region"])
    spread = data.groupby(source, observed=True)["region"].transform("nunique") > 1
    data.loc[spread, "verdi"] = np.nan
    data.loc[spread, "status"] = ".."
    return sum_with_status(data, ["region", "aar", *keys])


def sum_over_regions(
    frame: pd.DataFrame, membership: pd.Series, *, keys: list[str] | None = None
) -> pd.DataFrame:
    """Sum harmonised kommune counts into regions (fylke, KOSTRA group, landet).

    Args:
        frame: ``kommunenummer, aar, <keys>, verdi, status`` for current kommuner.
        membership: kommunenummer → region code.
        keys: Extra dimension columns.

    Returns:
        ``region, aar, <keys>, verdi, status``; NaN with the member's symbol when any member is
        missing or suppressed (a partial sum would be silently too low).
    """
    keys = keys or []
    data = frame.assign(region=frame["kommunenummer"].map(membership))
    data = data.loc[data["region"].notna()]
    return sum_with_status(data, ["region", "aar", *keys])


def slug(name: str) -> str:
    """URL/folder slug of a kommune name: ``Bø (Nordland)`` → ``bo-nordland``.

    Sámi and Kven letters keep their base letter (``Porsáŋgu`` → ``porsangu``) instead of
    becoming ``-``. The batch runner's ``reports/`` folders and the site's URLs both use this.
    """
    text = name.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text).replace("ŋ", "n").replace("đ", "d")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "kommune"


def folder_name(kommunenummer: str, kommunenavn: str) -> str:
    """``<kommunenummer>-<slug>``: a kommune's folder in ``reports/``, the site and chapters."""
    return f"{kommunenummer}-{slug(kommunenavn)}"
