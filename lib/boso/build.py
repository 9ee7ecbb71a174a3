"""``boso build``: turn ``data/raw`` into harmonised tidy tables in ``data/processed``.

The build is a pure function of the raw files (plus the catalog): rebuilding from the same raw
files gives the same tables, and a table is only rewritten when its content changed.

For each indicator the result holds four levels:

* ``kommune``: every current kommune, back-cast to today's borders (counts summed over
  predecessors, rates recomputed from numerator and denominator, splits flagged);
* ``kostragruppe``, ``fylke``, ``landet``: SSB's own aggregate rows where the table has them for
  that year; otherwise computed by boso from the harmonised kommuner (counts summed, rates
  recomputed from summed numerator and denominator), flagged ``beregnet``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from boso import kommune as km
from boso.catalog import Indicator, load_catalog
from boso.errors import BosoError, DataError, QueryError
from boso.jsonstat import read_jsonstat_codes_and_labels
from boso.processed import (
    INDICATOR_COLUMNS,
    check_indicator_frame,
    fault_point,
    indicator_table,
    replace_processed,
    write_geo_table,
    write_table,
)
from boso.raw import RawFile, RawStore, sha256_bytes
from boso.sources import imdi

LEVELS = ("fylke", "kostragruppe", "landet")
#: Population tables whose values (in the successors' codes) give the shares of a split kommune.
POPULATION_INDICATORS = ("befolkning", "befolkning_framskrevet")


# --------------------------------------------------------------------------------------------
# Source tables


@dataclass
class SourceTable:
    """A parsed source table: tidy codes frame plus the metadata the build needs."""

    frame: pd.DataFrame  # region code column "region", dims by id, "aar", "verdi", "status"
    region_labels: dict[str, str]
    dimension_labels: dict[str, dict[str, str]]
    region_notes: dict[str, list[str]]
    updated: str
    fetched: str
    synthetic: bool
    label: str


def read_ssb_table(raw_file: RawFile, region_variable: str) -> SourceTable:
    """Parse an SSB JSON-stat2 raw file into a :class:`SourceTable`."""
    frame, meta = read_jsonstat_codes_and_labels(raw_file.path, with_meta=True)
    if region_variable not in meta.dimension_ids:
        raise DataError(
            f"{raw_file.path}: ingen regionvariabel {region_variable!r}; "
            f"dimensjoner: {meta.dimension_ids}"
        )
    if "Tid" not in meta.dimension_ids:
        raise DataError(f"{raw_file.path}: ingen tidsvariabel 'Tid'")
    labels: dict[str, dict[str, str]] = {}
    for dim in meta.dimension_ids:
        pairs = frame[[dim, f"{dim}_label"]].drop_duplicates(dim)
        labels[dim] = dict(
            zip(pairs[dim].astype(str), pairs[f"{dim}_label"].astype(str), strict=True)
        )
    frame = frame[[*meta.dimension_ids, "value", "status"]]
    frame = frame.rename(columns={region_variable: "region", "value": "verdi"})
    years = pd.to_numeric(frame.pop("Tid").astype(str), errors="coerce")
    if years.isna().any():
        raise DataError(f"{raw_file.path}: Tid har verdier som ikke er årstall")
    frame["aar"] = years.astype(int)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(str)
    frame["status"] = frame["status"].astype(str)
    return SourceTable(
        frame=frame,
        region_labels=labels[region_variable],
        dimension_labels=labels,
        region_notes=meta.category_notes.get(region_variable, {}),
        updated=meta.updated or str(raw_file.provenance.get("source_updated") or ""),
        fetched=str(raw_file.provenance.get("fetched_at") or ""),
        synthetic=meta.synthetic or raw_file.synthetic,
        label=meta.label,
    )


def verified_bytes(raw_file: RawFile) -> bytes:
    """The raw file's bytes, refused when they are not the bytes the raw store recorded.

    Raw files are immutable: a file cut or edited after it was stored (its SHA-256 no longer
    matches its provenance sidecar) could build without an error and publish wrong numbers.
    Files without a recorded checksum (placed by hand) are read as they are.

    Raises:
        DataError: The content differs from the provenance's ``sha256``.
    """
    content = raw_file.read_bytes()
    expected = raw_file.provenance.get("sha256")
    if expected and sha256_bytes(content) != expected:
        stored = raw_file.provenance.get("bytes")
        size = f"{len(content)} byte, lagret {stored} byte" if stored else f"{len(content)} byte"
        raise DataError(
            f"{raw_file.path}: filen er endret eller avkortet etter at den ble lagret "
            f"(sha256 stemmer ikke med proveniensen; {size}); hent den på nytt med "
            "`boso fetch` eller `boso snapshot import`"
        )
    return content


def read_imdi_table(raw_file: RawFile, series: str) -> SourceTable:
    """Parse an IMDi export into a :class:`SourceTable` for one ``Bosetting`` series."""
    parsed = _parse_imdi(raw_file)
    parsed = parsed.loc[(parsed["serie"] == series) & (parsed["enhet"] == "Personer")]
    if parsed.empty:
        raise DataError(f"{raw_file.path}: ingen rader for Bosetting={series!r}, Enhet=Personer")
    frame = parsed.rename(columns={"kode": "region"})[["region", "aar", "verdi", "status"]]
    return SourceTable(
        frame=frame.reset_index(drop=True),
        region_labels={},
        dimension_labels={},
        region_notes={},
        updated=str(raw_file.provenance.get("source_updated") or ""),
        fetched=str(raw_file.provenance.get("fetched_at") or ""),
        synthetic=raw_file.synthetic,
        label="IMDi: bosetting av flyktninger",
    )


def classify_regions(codes: pd.Series) -> pd.Series:
    """Classify region codes: kommune, kommune_agg (``K-xxxx``), fylke, kostragruppe, landet."""
    text = codes.astype(str)
    return pd.Series(
        np.select(
            [
                text.str.fullmatch(r"\d{4}"),
                text.str.fullmatch(r"K-\d{4}"),
                text.str.fullmatch(r"\d{2}") | text.str.fullmatch(r"EKA\d{2}"),
                text.str.fullmatch(r"EKG\d{2}"),
                text.isin(["0", "EAK"]),
            ],
            ["kommune", "kommune_agg", "fylke", "kostragruppe", "landet"],
            default="annet",
        ),
        index=codes.index,
    )


# --------------------------------------------------------------------------------------------
# The build context


@dataclass
class BuildContext:
    """Everything derived once per build and shared by the indicators."""

    store: RawStore
    registry: pd.DataFrame
    code_map: km.CodeMap
    structures: dict[int, set[str]]
    tables: dict[tuple[str, str, str], SourceTable] = field(default_factory=dict)
    results: dict[str, pd.DataFrame] = field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Intermediate sums (implied denominators, weighted numerators) by level, computed once.
    derived: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    # Indicators with the optional dimensions their raw table has (see effective_indicator).
    effective: dict[str, Indicator] = field(default_factory=dict)
    _shares: pd.DataFrame | None = None

    @property
    def split_shares(self) -> pd.DataFrame:
        """Population shares of split kommuner (see :func:`boso.kommune.split_shares`)."""
        if self._shares is None:
            self._shares = km.split_shares(self.code_map, _population_by_code(self))
        return self._shares

    @property
    def current(self) -> set[str]:
        return set(self.registry["kommunenummer"])

    def table(self, indicator: Indicator) -> SourceTable:
        key = (indicator.source, indicator.raw_file, indicator.imdi_series or "")
        if key not in self.tables:
            raw_file = self.store.get(indicator.source, indicator.raw_file)
            if indicator.source == "imdi":
                self.tables[key] = read_imdi_table(raw_file, indicator.imdi_series or "")
            else:
                self.tables[key] = read_ssb_table(raw_file, indicator.region_variable or "Region")
        return self.tables[key]

    def membership(self, level: str) -> pd.Series:
        reg = self.registry.set_index("kommunenummer")
        if level == "fylke":
            return reg["fylkesnummer"]
        if level == "kostragruppe":
            return reg["kostragruppe"]
        return pd.Series("0", index=reg.index)

    def region_name(self, level: str, code: str) -> str:
        if level == "landet":
            return "Landet"
        if level == "fylke":
            return km.FYLKER_2024.get(code, f"Fylke {code}")
        if level == "kostragruppe":
            names = self.registry.drop_duplicates("kostragruppe").set_index("kostragruppe")
            name = names["kostragruppenavn"].get(code)
            return km.kostra_label(code, name)
        return code


def _latest(store: RawStore, source: str, prefix: str) -> RawFile:
    candidates = [f for f in store.files(source) if Path(f.name).name.startswith(prefix)]
    if not candidates:
        raise DataError(f"data/raw/{source}: ingen {prefix}*-fil (kjør `boso snapshot import`)")
    return max(candidates, key=lambda f: f.name)


# Parsed IMDi exports by (path, sha256): the early check and the indicators share one parse.
_IMDI_PARSED: dict[tuple[str, str], pd.DataFrame] = {}


def _parse_imdi(raw_file: RawFile) -> pd.DataFrame:
    # Checked for completeness (cut lines, blocks that end early) and against the stored
    # checksum; the in-file checks come first, as they name the line.
    content = raw_file.read_bytes()
    key = (str(raw_file.path), sha256_bytes(content))
    if key not in _IMDI_PARSED:
        parsed = imdi.parse_export(content, str(raw_file.path))
        verified_bytes(raw_file)
        _IMDI_PARSED.clear()  # one export at a time is enough to share
        _IMDI_PARSED[key] = parsed
    return _IMDI_PARSED[key]


def _klass_doc(raw_file: RawFile, key: str) -> dict[str, Any]:
    from boso.sources.klass import check_klass

    content = verified_bytes(raw_file)
    try:
        return check_klass(content, key, str(raw_file.path))
    except BosoError as exc:
        raise DataError(str(exc)) from None


def _klass_frame(raw_file: RawFile, parse: Callable[[Any], pd.DataFrame], key: str) -> Any:
    doc = _klass_doc(raw_file, key)
    try:
        return parse(doc)
    except DataError as exc:
        raise DataError(f"{raw_file.path}: {exc}") from None


def check_raw_inputs(store: RawStore) -> None:
    """Check the IMDi exports and the boundary file before any work is done.

    A cut export or boundary file then fails in seconds rather than after every indicator.

    Raises:
        DataError: A file is incomplete or differs from what the raw store recorded.
    """
    names = {i.raw_file for i in load_catalog().values() if i.source == "imdi"}
    for name in sorted(names):
        if store.exists("imdi", name):
            _parse_imdi(store.get("imdi", name))
    geo = _geo_file(store)
    if geo is not None:
        content = verified_bytes(geo)
        if not geo.provenance.get("sha256"):
            # Placed by hand, so nothing vouches for it: read it now, not after the indicators.
            from boso.sources.geonorge import read_boundaries

            try:
                read_boundaries(content)
            except DataError as exc:
                raise DataError(f"{geo.path}: {exc}") from None


def load_context(store: RawStore) -> BuildContext:
    """Read KLASS from the raw store and prepare the registry and the reform mapping.

    Every KLASS file is checked (JSON, expected list, required fields, stored checksum) and
    named in the one-line error when it is not usable.
    """
    changes = _klass_frame(_latest(store, "klass", "131_changes_"), km.parse_changes, "codeChanges")
    code_files = [f for f in store.files("klass") if f.name.startswith("131_codesAt_")]
    if not code_files:
        raise DataError("data/raw/klass: ingen 131_codesAt_*-fil")
    structures: dict[int, set[str]] = {}
    dated: list[tuple[str, RawFile]] = []
    for code_file in code_files:
        date = code_file.name.removeprefix("131_codesAt_").removesuffix(".json")
        if not (len(date) >= 4 and date[:4].isdigit()):
            raise DataError(f"{code_file.path}: filnavnet har ingen dato (131_codesAt_ÅÅÅÅ-MM-DD)")
        parsed = _klass_frame(code_file, km.parse_codes, "codes")
        structures[int(date[:4])] = set(parsed["kommunenummer"])
        dated.append((date, code_file))
    newest = max(dated, key=lambda pair: pair[0])[1]
    codes = _klass_frame(newest, km.parse_codes, "codes")
    groups = _klass_frame(
        _latest(store, "klass", "131_correspondsAt_112_"),
        km.parse_kostra_groups,
        "correspondenceItems",
    )
    check_raw_inputs(store)
    registry = km.registry(codes, groups)
    target_year = max(structures)
    return BuildContext(
        store=store,
        registry=registry,
        code_map=km.CodeMap(changes, target_year=target_year),
        structures=structures,
    )


# --------------------------------------------------------------------------------------------
# Indicator computation


def _dimension_columns(indicator: Indicator) -> list[str]:
    return list(indicator.dimensions)


def _select(indicator: Indicator, table: SourceTable) -> pd.DataFrame:
    """Apply the indicator's selection; sum (counts) over dimensions it does not keep."""
    frame = table.frame
    for variable, codes in indicator.selection.items():
        if variable not in frame.columns:
            raise DataError(f"{indicator.table}: ingen variabel {variable!r} for {indicator.id}")
        unknown = set(codes) - set(frame[variable].unique())
        if unknown:
            raise DataError(f"{indicator.table}: {variable} har ikke kodene {sorted(unknown)}")
        optional = indicator.optional_selection.get(variable, [])
        frame = frame.loc[frame[variable].isin([*codes, *optional])]
    for variable, codes in indicator.optional_selection.items():
        if variable not in indicator.selection and variable in frame.columns:
            frame = frame.loc[frame[variable].isin(codes)]
    for variable, ranges in indicator.dimension_groups.items():
        if variable in frame.columns:
            frame = frame.assign(**{variable: group_codes(frame[variable], ranges)})
    keep = {"region", "aar", "verdi", "status", *indicator.dimensions}
    extra = [c for c in frame.columns if c not in keep]
    collapse = [c for c in extra if frame[c].nunique() > 1]
    grouped = [v for v in indicator.dimension_groups if v in indicator.dimensions]
    if collapse or grouped:
        if indicator.kind != "count":
            raise DataError(f"{indicator.id}: en rate kan ikke summeres over {collapse}")
        frame = _sum_over(frame, ["region", "aar", *indicator.dimensions])
    return frame[["region", "aar", *indicator.dimensions, "verdi", "status"]].reset_index(drop=True)


def group_codes(codes: pd.Series, ranges: list[str]) -> pd.Series:
    """Map age-like codes (``"007"``, ``"105+"``) to ranges such as ``"0-19"`` or ``"80-"``.

    Codes without a leading number (a total, say) keep their own category, so nothing is
    silently dropped from a sum.

    Raises:
        DataError: A numbered code falls in none of the ranges (the ranges have a hole).
    """
    bounds = []
    for label in ranges:
        low, _, high = label.partition("-")
        bounds.append((label, int(low), int(high) if high else None))
    mapping: dict[str, str] = {}
    for code in pd.unique(codes.astype(str)):
        number = pd.to_numeric(pd.Series([code]).str.extract(r"^(\d+)")[0]).iloc[0]
        if pd.isna(number):
            mapping[code] = code
            continue
        hits = [lab for lab, lo, hi in bounds if number >= lo and (hi is None or number <= hi)]
        if not hits:
            raise DataError(f"kode {code!r} faller utenfor gruppene {ranges}")
        mapping[code] = hits[0]
    return codes.astype(str).map(mapping)


def effective_indicator(indicator: Indicator, table: SourceTable | None) -> Indicator:
    """The indicator with the optional dimensions the raw table actually varies in.

    A projection fetched with three alternatives keeps ``ContentsCode`` (as ``alternativ``);
    the snapshot's single main alternative does not, so its table has no such column.
    """
    if table is None or not indicator.optional_dimensions:
        return indicator
    frame = table.frame
    for variable, codes in indicator.selection.items():
        if variable in frame.columns:
            optional = indicator.optional_selection.get(variable, [])
            frame = frame.loc[frame[variable].isin([*codes, *optional])]
    kept = [
        dim
        for dim in indicator.optional_dimensions
        if dim in frame.columns and dim not in indicator.dimensions and frame[dim].nunique() > 1
    ]
    if not kept:
        return indicator
    return replace(indicator, dimensions=[*indicator.dimensions, *kept])


def _sum_over(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    agg = km.sum_with_status(frame.loc[frame["status"] != "."], keys)
    # Regions/years with only "." cells disappear above; keep them as ".".
    allkeys = frame[keys].drop_duplicates()
    agg = allkeys.merge(agg, on=keys, how="left")
    agg["status"] = agg["status"].fillna(".")
    return agg


@dataclass
class Harmonised:
    """A published kommune series mapped to today's kommuner."""

    kommune: pd.DataFrame  # region (current kommune), aar, keys, verdi, status, harmonisering
    contributions: pd.DataFrame  # see boso.kommune.contributions


def _population_by_code(ctx: BuildContext) -> pd.DataFrame:
    """Population per kommune code and year from the raw population tables present.

    Read straight from the raw tables (main alternative, all ages) so that shares can be
    computed before any indicator is harmonised.
    """
    catalog = load_catalog()
    frames = []
    for indicator_id in POPULATION_INDICATORS:
        indicator = catalog.get(indicator_id)
        if indicator is None:
            continue
        try:
            table = ctx.table(indicator)
        except DataError:
            continue  # e.g. no projection file: shares come from what exists
        plain = replace(
            indicator, optional_selection={}, optional_dimensions=[], dimension_groups={}
        )
        rows = _select(plain, table)
        kinds = classify_regions(rows["region"])
        rows = rows.loc[kinds.isin(["kommune", "kommune_agg"])]
        frames.append(
            pd.DataFrame(
                {
                    "kommunenummer": rows["region"].str.replace("K-", "", regex=False),
                    "aar": rows["aar"],
                    "verdi": rows["verdi"],
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["kommunenummer", "aar", "verdi"])
    # The first table that has a kommune-year wins (registered population before projection).
    return pd.concat(frames, ignore_index=True).drop_duplicates(["kommunenummer", "aar"])


def _harmonise(ctx: BuildContext, indicator: Indicator, selected: pd.DataFrame) -> Harmonised:
    """Harmonise the kommune rows of a published indicator (summing: callers fix rates).

    For counts, the part of a split kommune is estimated by population share where that is
    possible (``harmonisering = estimert``); the region levels keep summing the published
    values, which needs no estimate.
    """
    kinds = classify_regions(selected["region"])
    keys = _dimension_columns(indicator)
    plain = selected.loc[kinds == "kommune"].rename(columns={"region": "kode"})
    backcast = selected.loc[kinds == "kommune_agg"].rename(columns={"region": "kode"})
    parts, contribs = [], []

    def estimated(contrib: pd.DataFrame, code_year: int | None = None) -> pd.DataFrame:
        if contrib.empty or not contrib["deling"].any():
            return contrib
        out = km.estimate_split_parts(contrib, ctx.split_shares, ctx.code_map, code_year=code_year)
        if indicator.kind != "count":
            # A rate is not divided between kommuner: sharing numerator and denominator alike
            # leaves the split kommune's own rate as the estimate for each part.
            out["verdi"] = contrib["verdi"]
        return out

    if not plain.empty:
        contrib = km.contributions(plain, ctx.code_map, keys=keys)
        contribs.append(contrib)
        parts.append(km.harmonise_contributions(estimated(contrib), keys))
    if not backcast.empty:
        backcast = backcast.assign(kode=backcast["kode"].str[2:])
        year = _structure_year(ctx, set(backcast["kode"]))
        contrib = km.contributions(backcast, ctx.code_map, keys=keys, code_year=year)
        contribs.append(contrib)
        harmonised = km.harmonise_contributions(estimated(contrib, year), keys)
        harmonised["harmonisering"] = harmonised["harmonisering"].replace(
            {"": "ssb_agg", "omkodet": "ssb_agg", "sammenslaatt": "ssb_agg"}
        )
        parts.append(harmonised)
    if not parts:
        raise DataError(f"{indicator.id}: kilden har ingen kommunerader")
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.loc[frame["kommunenummer"].isin(ctx.current)]
    return Harmonised(
        kommune=frame.rename(columns={"kommunenummer": "region"}),
        contributions=pd.concat(contribs, ignore_index=True),
    )


def _structure_year(ctx: BuildContext, codes: set[str]) -> int:
    """The kommune structure a set of back-cast codes belongs to (best overlap with KLASS)."""
    best = max(ctx.structures, key=lambda year: (len(codes & ctx.structures[year]), year))
    return best


def _ssb_levels(ctx: BuildContext, selected: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """SSB's own aggregate rows by level (fylke codes normalised to two digits, landet '0').

    Only today's fylker and KOSTRA groups are kept: a row for Viken (30) or Hordaland (12)
    describes a region that no longer exists and has no place in a comparison.
    """
    kinds = classify_regions(selected["region"])
    current = {
        "fylke": set(ctx.registry["fylkesnummer"]),
        "kostragruppe": set(ctx.registry["kostragruppe"].dropna()),
        "landet": {"0"},
    }
    out: dict[str, pd.DataFrame] = {}
    for level in LEVELS:
        rows = selected.loc[(kinds == level) & (selected["status"] != ".")].copy()
        if level == "fylke":
            rows["region"] = rows["region"].str[-2:]
        elif level == "landet":
            rows["region"] = "0"
        rows = rows.loc[rows["region"].isin(current[level])]
        rows["harmonisering"] = "ssb"
        out[level] = rows
    return out


def _combine_levels(
    ssb: pd.DataFrame, computed: pd.DataFrame, keys: list[str], years: set[int]
) -> pd.DataFrame:
    """SSB's rows where present, boso's computed rows for the other region-years."""
    computed = computed.assign(harmonisering="beregnet")
    computed = computed.loc[computed["aar"].isin(years)]
    if ssb.empty:
        return computed
    index = ["region", "aar", *keys]
    present = ssb[index].drop_duplicates().assign(_ssb=True)
    merged = computed.merge(present, on=index, how="left")
    computed = merged.loc[merged["_ssb"].isna()].drop(columns="_ssb")
    return pd.concat([ssb, computed], ignore_index=True)


def _ratio(
    numerator: pd.DataFrame,
    denominator: pd.DataFrame,
    keys: list[str],
    scale: float,
    offset: int,
) -> pd.DataFrame:
    """verdi = numerator / denominator(aar + offset) * scale, keeping symbols for gaps."""
    den_keys = [k for k in keys if k in denominator.columns]
    den = denominator[["region", "aar", *den_keys, "verdi", "status"]].copy()
    den["aar"] = den["aar"] - offset
    merged = numerator[["region", "aar", *keys, "verdi", "status"]].merge(
        den, on=["region", "aar", *den_keys], how="left", suffixes=("", "_den")
    )
    merged["status_den"] = merged["status_den"].fillna("..")
    with np.errstate(divide="ignore", invalid="ignore"):
        value = merged["verdi"] / merged["verdi_den"] * scale
    bad_den = merged["verdi_den"].isna() | (merged["verdi_den"] <= 0)
    merged["status"] = np.where(
        merged["verdi"].isna(),
        merged["status"].replace("", ".."),
        np.where(bad_den, merged["status_den"].replace("", ".."), ""),
    )
    merged["verdi"] = value.where(merged["status"] == "")
    return merged[["region", "aar", *keys, "verdi", "status"]]


def _levels(ctx: BuildContext, harmonised: Harmonised, keys: list[str]) -> dict[str, pd.DataFrame]:
    """Fylke, KOSTRA group and landet sums of a harmonised count."""
    return {
        level: km.sum_contributions_over_regions(
            harmonised.contributions,
            None if level == "landet" else ctx.membership(level),
            keys=keys,
        )
        for level in LEVELS
    }


def compute_indicator(ctx: BuildContext, indicator: Indicator) -> pd.DataFrame:
    """All levels of one indicator, before labelling (``nivaa, region, aar, keys, verdi, ...``)."""
    table = ctx.table(indicator) if indicator.published else None
    indicator = effective_indicator(indicator, table)
    ctx.effective[indicator.id] = indicator
    keys = _dimension_columns(indicator)
    parts: dict[str, pd.DataFrame] = {}
    selected = _select(indicator, table) if table is not None else None
    years = set(selected["aar"]) if selected is not None else None

    if indicator.kind == "count":
        harmonised = _harmonise(ctx, indicator, selected)
        parts["kommune"] = harmonised.kommune
        computed = _levels(ctx, harmonised, keys)
        ssb = _ssb_levels(ctx, selected)
        for level in LEVELS:
            parts[level] = _combine_levels(ssb[level], computed[level], keys, years)
    else:
        parts = _compute_rate(ctx, indicator, selected, keys)

    frames = []
    for level, frame in parts.items():
        frames.append(frame.assign(nivaa=level))
    result = pd.concat(frames, ignore_index=True)
    result["harmonisering"] = result["harmonisering"].fillna("")
    ctx.results[indicator.id] = result
    ctx.meta[indicator.id] = _provenance(ctx, indicator)
    return result


def _compute_rate(
    ctx: BuildContext, indicator: Indicator, selected: pd.DataFrame | None, keys: list[str]
) -> dict[str, pd.DataFrame]:
    parts: dict[str, pd.DataFrame] = {}

    def parts_of(other_id: str) -> pd.DataFrame:
        if other_id not in ctx.results:
            compute_indicator(ctx, load_catalog()[other_id])
        return ctx.results[other_id]

    def computed_level(level: str) -> pd.DataFrame | None:
        if indicator.numerator and indicator.denominator:
            num = parts_of(indicator.numerator)
            den = parts_of(indicator.denominator)
            ratio = _ratio(
                num.loc[num["nivaa"] == level],
                den.loc[den["nivaa"] == level],
                keys,
                indicator.scale,
                indicator.denominator_year_offset,
            )
            implied = _implied_denominator(ctx, indicator, selected, keys, level)
            if implied is None:
                return ratio
            fallback = _ratio(num.loc[num["nivaa"] == level], implied, keys, indicator.scale, 0)
            return _fill_missing(ratio, fallback, ["region", "aar", *keys])
        if indicator.weight:
            weight = parts_of(indicator.weight)
            return _weighted(selected, weight, ctx, indicator, keys, level)
        return None

    if selected is None:
        # Not published by the source: computed everywhere.
        for level in ("kommune", *LEVELS):
            frame = computed_level(level)
            parts[level] = frame.assign(harmonisering="beregnet")
        parts["kommune"] = _mark_estimated(ctx, indicator, parts["kommune"], keys)
        return parts

    published = _harmonise(ctx, indicator, selected).kommune
    # A rate summed over several predecessors is meaningless: recompute those, keep the rest.
    # A split predecessor's rate that could not be estimated is recomputed from the estimated
    # parts of numerator and denominator where they exist.
    split_rows = published["harmonisering"] == "deling"
    merged_rows = (published["n_forgjengere"].fillna(1) > 1) | split_rows
    recomputed = computed_level("kommune")
    if recomputed is not None and merged_rows.any():
        index = ["region", "aar", *keys]
        fix = published.loc[merged_rows, [*index, "harmonisering"]].merge(
            recomputed, on=index, how="left"
        )
        fix["status"] = fix["status"].fillna("..")
        fix["harmonisering"] = np.where(
            fix["harmonisering"] == "deling",
            np.where(fix["verdi"].notna(), "estimert", "deling"),
            "sammenslaatt",
        )
        published = pd.concat([published.loc[~merged_rows], fix], ignore_index=True)
    elif merged_rows.any():
        merged_rows = published["n_forgjengere"].fillna(1) > 1
        published.loc[merged_rows, "verdi"] = np.nan
        published.loc[merged_rows, "status"] = ".."
        published.loc[merged_rows, "harmonisering"] = "ikke_beregnbar"
    parts["kommune"] = _mark_estimated(ctx, indicator, published, keys)
    ssb = _ssb_levels(ctx, selected)
    years = set(selected["aar"])
    for level in LEVELS:
        computed = computed_level(level)
        if computed is None:
            parts[level] = ssb[level]
        else:
            parts[level] = _combine_levels(ssb[level], computed, keys, years)
    return parts


def _mark_estimated(
    ctx: BuildContext, indicator: Indicator, frame: pd.DataFrame, keys: list[str]
) -> pd.DataFrame:
    """Flag kommune rates like the counts they were computed from.

    ``estimert`` where an input is a split estimate; ``deling`` where a missing rate is missing
    because an input could not be back-cast across a split (so the report can say why).
    """
    inputs = [
        (indicator.numerator, 0),
        (indicator.denominator, indicator.denominator_year_offset),
        (indicator.weight, 0),
    ]
    index = ["region", "aar", *keys]
    flagged = frame
    for other_id, offset in inputs:
        if other_id is None or other_id not in ctx.results:
            continue
        other = ctx.results[other_id]
        for flag, has_value in (("estimert", True), ("deling", False)):
            marked = other.loc[
                (other["nivaa"] == "kommune") & (other["harmonisering"] == flag),
                [c for c in index if c in other.columns],
            ].drop_duplicates()
            if marked.empty:
                continue
            marked = marked.assign(aar=marked["aar"] - offset, _hit=True)
            on = [c for c in index if c in marked.columns]
            merged = flagged.merge(marked, on=on, how="left")
            hit = merged["_hit"].fillna(False).astype(bool)
            hit &= merged["verdi"].notna() if has_value else merged["verdi"].isna()
            merged.loc[hit, "harmonisering"] = flag
            flagged = merged.drop(columns="_hit")
    return flagged


def _as_count(indicator: Indicator, suffix: str) -> Indicator:
    """A count-kind stand-in for intermediate sums (numerators, weights, denominators)."""
    return Indicator(
        id=f"{indicator.id}__{suffix}",
        label="",
        definition="",
        unit="",
        kind="count",
        source=indicator.source,
        table=indicator.table,
        dimensions=indicator.dimensions,
    )


def _fill_missing(primary: pd.DataFrame, fallback: pd.DataFrame, index: list[str]) -> pd.DataFrame:
    """Rows of ``primary`` that are missing take ``fallback``'s value where it has one."""
    merged = primary.merge(
        fallback[[*index, "verdi"]].rename(columns={"verdi": "_fallback"}), on=index, how="left"
    )
    use = merged["verdi"].isna() & merged["_fallback"].notna() & (merged["status"] != ":")
    merged.loc[use, "verdi"] = merged.loc[use, "_fallback"]
    merged.loc[use, "status"] = ""
    return merged.drop(columns="_fallback")


def _implied_denominator(
    ctx: BuildContext,
    indicator: Indicator,
    selected: pd.DataFrame | None,
    keys: list[str],
    level: str,
) -> pd.DataFrame | None:
    """Denominators implied by SSB's published count and rate (count / rate * scale).

    The declared denominator (population 1 January the year after) is exact but ends earlier
    than the KOSTRA tables; for those later years the published pair still tells the population
    SSB divided by. Rates are rounded, so this is only a fallback.
    """
    if selected is None or not indicator.numerator:
        return None
    if f"{indicator.id}__nevner" in ctx.derived:
        return ctx.derived[f"{indicator.id}__nevner"][level]
    numerator = load_catalog()[indicator.numerator]
    if not numerator.published or numerator.table != indicator.table:
        return None
    index = ["region", "aar", *keys]
    counts = _select(numerator, ctx.table(numerator))
    joined = selected.merge(counts, on=index, suffixes=("", "_num"))
    usable = (joined["status"] == "") & (joined["status_num"] == "") & (joined["verdi"] > 0)
    implied = joined[index].assign(
        verdi=(joined["verdi_num"] / joined["verdi"] * indicator.scale).where(usable),
        status=np.where(usable, "", np.where(joined["status"] == ".", ".", "..")),
    )
    return _all_levels(ctx, _as_count(indicator, "nevner"), implied, keys)[level]


def _weighted(
    selected: pd.DataFrame,
    weight_parts: pd.DataFrame,
    ctx: BuildContext,
    indicator: Indicator,
    keys: list[str],
    level: str,
) -> pd.DataFrame:
    """A mean weighted by a count (e.g. price per m² weighted by number of sales)."""
    denominator = weight_parts.loc[weight_parts["nivaa"] == level]
    if f"{indicator.id}__vektet" in ctx.derived:
        return _ratio(ctx.derived[f"{indicator.id}__vektet"][level], denominator, keys, 1.0, 0)
    weight_indicator = load_catalog()[indicator.weight]
    weights = _select(weight_indicator, ctx.table(weight_indicator))
    index = ["region", "aar", *keys]
    joined = selected.merge(weights, on=index, how="left", suffixes=("", "_w"))
    product = joined.assign(
        verdi=joined["verdi"] * joined["verdi_w"],
        status=np.where(joined["status"] != "", joined["status"], joined["status_w"].fillna("..")),
    )[[*index, "verdi", "status"]]
    product.loc[product["verdi"].isna() & (product["status"] == ""), "status"] = ".."
    numerator = _all_levels(ctx, _as_count(indicator, "vektet"), product, keys)[level]
    return _ratio(numerator, denominator, keys, 1.0, 0)


def _all_levels(
    ctx: BuildContext, stand_in: Indicator, rows: pd.DataFrame, keys: list[str]
) -> dict[str, pd.DataFrame]:
    """Harmonise an intermediate count once and keep every level in ``ctx.derived``."""
    harmonised = _harmonise(ctx, stand_in, rows)
    levels = {"kommune": harmonised.kommune, **_levels(ctx, harmonised, keys)}
    ctx.derived[stand_in.id] = levels
    return levels


def _provenance(ctx: BuildContext, indicator: Indicator) -> dict[str, Any]:
    base = indicator
    catalog = load_catalog()
    while not base.published and base.numerator:
        base = catalog[base.numerator]
    table = ctx.table(base)
    return {
        "updated": table.updated,
        "fetched": table.fetched,
        "synthetic": table.synthetic,
        "notes": table.region_notes,
        "dimension_labels": table.dimension_labels,
        "source_label": base.source_label,
    }


def label_indicator(ctx: BuildContext, indicator: Indicator, frame: pd.DataFrame) -> pd.DataFrame:
    """Add names, units, provenance and flags; order columns per the processed schema."""
    indicator = ctx.effective.get(indicator.id, indicator)
    meta = ctx.meta[indicator.id]
    out = frame.copy()
    names = ctx.registry.set_index("kommunenummer")["kommunenavn"]
    is_kommune = out["nivaa"] == "kommune"
    out["kommunenummer"] = out["region"].where(is_kommune)
    out["kommunenavn"] = out["kommunenummer"].map(names)
    region_names = {
        (level, code): ctx.region_name(level, code)
        for level, code in out.loc[~is_kommune, ["nivaa", "region"]]
        .drop_duplicates()
        .itertuples(index=False)
    }
    out["regionnavn"] = [
        kname if level == "kommune" else region_names[(level, code)]
        for level, code, kname in zip(out["nivaa"], out["region"], out["kommunenavn"], strict=True)
    ]
    out["indikator"] = indicator.id
    out["enhet"] = indicator.unit
    out["kilde"] = meta["source_label"]
    out["kilde_oppdatert"] = meta["updated"]
    out["hentet"] = meta["fetched"]
    out["syntetisk"] = bool(meta["synthetic"])
    notes = meta["notes"] or {}
    out["merknad"] = out["region"].map(lambda code: " ".join(notes.get(code, [])))
    out["aar"] = out["aar"].astype("int64")
    out["verdi"] = out["verdi"].astype("float64")
    out["status"] = out["status"].fillna("").astype(str)
    out.loc[out["verdi"].isna() & (out["status"] == ""), "status"] = ".."
    out.loc[out["verdi"].notna() & out["status"].isin([":", "..", "."]), "verdi"] = np.nan
    dim_columns = []
    for dimension in indicator.dimensions:
        column = indicator.column_name(dimension)
        labels = dict(meta["dimension_labels"].get(dimension, {}))
        for group in indicator.dimension_groups.get(dimension, []):
            low, _, high = group.partition("-")
            labels[group] = f"{low}–{high} år" if high else f"{low} år og eldre"
        out[column] = out.pop(dimension).astype(str)
        named = out[column].map(labels).astype(object)
        out[f"{column}_navn"] = named.where(named.notna(), out[column])
        dim_columns += [column, f"{column}_navn"]
    level_order = {"kommune": 0, "kostragruppe": 1, "fylke": 2, "landet": 3}
    out = out.sort_values(
        ["nivaa", "region", *dim_columns[::2], "aar"],
        key=lambda s: s.map(level_order) if s.name == "nivaa" else s,
    )
    columns = [c for c in INDICATOR_COLUMNS if c not in ("verdi", "status")]
    ordered = [*columns[:7], *dim_columns, "verdi", "status", *columns[7:]]
    return out[ordered].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Geo and orchestration


def _geo_file(store: RawStore) -> RawFile | None:
    # National FeatureCollections sit directly in geo/<year>/; per-kommune answers from the
    # kommuneinfo API live deeper (geo/<year>/omrade/<nr>.json) and are not candidates.
    files = [
        f
        for f in store.files("geo")
        if f.name.endswith((".json", ".geojson")) and f.name.count("/") == 1
    ]
    if not files:
        return None
    return max(files, key=lambda f: (f.name.split("/")[0], "kommuneinfo" in f.name))


def build_geo(store: RawStore) -> pd.DataFrame | None:
    """Current kommune polygons (newest year folder under ``data/raw/geo``) in EPSG:25833."""
    from boso.sources.geonorge import read_boundaries

    newest = _geo_file(store)
    if newest is None:
        return None
    verified_bytes(newest)  # a cut or edited boundary file is named, not half-read
    gdf = read_boundaries(newest.path)
    return gdf.to_crs(25833)[["kommunenummer", "kommunenavn", "geometry"]]


def build(
    store: RawStore | None = None,
    out_dir: str | Path | None = None,
    *,
    indicators: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Rebuild ``data/processed`` from ``data/raw``.

    Every table is computed and schema-checked before the first one is written, so a broken
    raw file stops the build with nothing changed in ``data/processed``.

    Args:
        store: Raw store to read (default: the project's).
        out_dir: Processed directory to write (default: the project's).
        indicators: Only these indicators (and what they depend on).
        progress: Called with each table name as it is written.

    Returns:
        Table name → number of rows written.
    """
    store = store or RawStore()
    ctx = load_context(store)
    tables: dict[str, pd.DataFrame] = {
        "core_klass__kommuner": ctx.registry,
        "core_klass__endringer": ctx.code_map.changes,
    }
    catalog = load_catalog()
    unknown = [i for i in indicators or [] if i not in catalog]
    if unknown:
        raise QueryError(f"ukjent indikator: {', '.join(unknown)} (se `boso indicators`)")
    for indicator_id in indicators or list(catalog):
        indicator = catalog[indicator_id]
        frame = ctx.results.get(indicator_id)
        if frame is None:
            frame = compute_indicator(ctx, indicator)
        name = indicator_table(indicator_id)
        tables[name] = label_indicator(ctx, indicator, frame)
        check_indicator_frame(tables[name], name)
    geo = build_geo(store)

    # Written beside data/processed and swapped in once: a killed build leaves the old state
    # or the new one, never a mix (see processed.replace_processed).
    written: dict[str, int] = {}
    with replace_processed(out_dir) as stage:
        for name, frame in tables.items():
            write_table(frame, name, stage)
            written[name] = len(frame)
            fault_point(f"build:written-{len(written)}")
            if progress:
                progress(name)
        if geo is not None:
            write_geo_table(geo, "core_geo__kommuner", stage)
            written["core_geo__kommuner"] = len(geo)
    return written
