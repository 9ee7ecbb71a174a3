"""Indicator arithmetic on processed tables: growth, index, latest values, barometer.

Everything here is a pure function on DataFrames in the processed schema (see
docs/data-model.md) except the two thin loaders at the top (``comparison``, ``kommune_series``),
which only delegate to :mod:`boso.processed` and cut the years.

Rates are never re-summed or averaged here: comparisons use the aggregate rows SSB (or the build)
provides, and growth is computed per region on that region's own series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from boso.errors import DataError, QueryError
from boso.kommune import LEVEL_ORDER, region_labels

# Why a row has no value (see gap_reasons); set by comparison() and prepare().
GAP_COLUMN = "mangler"


# --------------------------------------------------------------------------------------- loading
def filter_years(
    df: pd.DataFrame, aar_fra: int | None = None, aar_til: int | None = None
) -> pd.DataFrame:
    """Keep rows with ``aar_fra <= aar <= aar_til`` (None means open-ended)."""
    if aar_fra is None and aar_til is None:
        return df
    keep = pd.Series(True, index=df.index)
    if aar_fra is not None:
        keep &= df["aar"] >= int(aar_fra)
    if aar_til is not None:
        keep &= df["aar"] <= int(aar_til)
    return df.loc[keep]


def comparison(
    indicator: str,
    kommunenummer: str,
    aar_fra: int | None = None,
    aar_til: int | None = None,
) -> pd.DataFrame:
    """Load an indicator for the kommune, its KOSTRA group, fylke and landet.

    Args:
        indicator: Catalog id, e.g. ``"kommunale_boliger_per_1000"``.
        kommunenummer: 4-character kommune code.
        aar_fra, aar_til: Optional year range (inclusive).

    Returns:
        Processed rows with the extra column ``sammenligning`` (display label).
    """
    from boso import processed

    df = processed.comparison(indicator, kommunenummer)
    df = _with_labels(filter_years(df, aar_fra, aar_til)).reset_index(drop=True)
    return processed.reader_order(with_gap_reasons(df, indicator))


def kommune_series(
    indicator: str,
    kommunenummer: str,
    aar_fra: int | None = None,
    aar_til: int | None = None,
) -> pd.DataFrame:
    """Load an indicator's rows for one kommune only (no comparison regions)."""
    from boso import processed

    df = processed.load_indicator(indicator, kommunenummer=kommunenummer)
    df = _with_labels(filter_years(df, aar_fra, aar_til)).reset_index(drop=True)
    return processed.reader_order(with_gap_reasons(df, indicator))


def comparisons(
    ids: list[str], kommunenummer: str, aar_fra: int | None = None, aar_til: int | None = None
) -> dict[str, pd.DataFrame]:
    """:func:`comparison` for several indicators: id → rows."""
    return {ind: comparison(ind, kommunenummer, aar_fra, aar_til) for ind in ids}


#: IMDi's settlement series: indicator id → short legend label.
BOSETTING = {
    "bosetting_anmodet": "Anmodet",
    "bosetting_vedtatt": "Vedtatt",
    "bosetting_faktisk": "Bosatt",
}


def bosetting(
    kommunenummer: str, aar_fra: int | None = None, aar_til: int | None = None
) -> dict[str, pd.DataFrame]:
    """IMDi's three refugee settlement series for the kommune: indicator id → rows.

    Their short legend labels are :data:`BOSETTING` (pass it to ``figures.series_bars``).
    """
    return {ind: kommune_series(ind, kommunenummer, aar_fra, aar_til) for ind in BOSETTING}


def kommune_info(kommunenummer: str) -> dict[str, Any]:
    """Name, fylke and KOSTRA group of the kommune (from the processed registry)."""
    from boso import processed

    return processed.kommune_info(kommunenummer)


def _with_labels(df: pd.DataFrame) -> pd.DataFrame:
    return prepare(df)


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Ensure a plain-string ``sammenligning`` column (processed gives an ordered categorical)
    and a :data:`GAP_COLUMN` saying why each missing value is missing.

    Categoricals would make group-bys emit empty groups for regions absent from a slice.
    """
    if "sammenligning" not in df.columns:
        label = df["regionnavn"] if "regionnavn" in df.columns else pd.Series("", index=df.index)
        df = df.assign(sammenligning=label.astype(str))
    elif isinstance(df["sammenligning"].dtype, pd.CategoricalDtype):
        df = df.assign(sammenligning=df["sammenligning"].astype(str))
    if GAP_COLUMN not in df.columns and {"verdi", "aar"} <= set(df.columns):
        # Reasons are judged on the whole series (a slice of one year cannot tell whether a
        # region is never published), so they are fixed here, before any chart slices.
        df = df.assign(**{GAP_COLUMN: gap_reasons(df)})
    if "nivaa" in df.columns and not df.empty:
        # Frames assembled by hand (not by comparison()) may still have two levels of one name.
        df = df.assign(sammenligning=region_labels(df["sammenligning"], df["nivaa"]))
    return df


def kommune_name(df: pd.DataFrame) -> str:
    """The kommune's name from its rows (``regionnavn`` of the ``kommune`` level)."""
    rows = df.loc[df["nivaa"] == "kommune"]
    if rows.empty:
        raise DataError("datasettet har ingen rader for en kommune (kolonne nivaa)")
    column = "sammenligning" if "sammenligning" in rows.columns else "regionnavn"
    return str(rows[column].iloc[0])


# ------------------------------------------------------------------------------- provenance
@dataclass(frozen=True)
class Provenance:
    """Where the rows behind a figure come from."""

    sources: list[str]
    retrieved: str
    updated: str
    synthetic: bool


def provenance(*frames: pd.DataFrame) -> Provenance:
    """Collect sources (``kilde``), retrieval date, source update date and the synthetic flag."""
    sources: list[str] = []
    retrieved: list[str] = []
    updated: list[str] = []
    synthetic = False
    for df in frames:
        if df is None or df.empty:
            continue
        for col, acc in (("kilde", sources), ("hentet", retrieved), ("kilde_oppdatert", updated)):
            if col in df.columns:
                for value in df[col].dropna().astype(str).unique():
                    if value and value not in acc:
                        acc.append(value)
        if "syntetisk" in df.columns:
            synthetic = synthetic or bool(df["syntetisk"].fillna(False).astype(bool).any())
    return Provenance(
        sources=sources,
        retrieved=max((_date(v) for v in retrieved), default=""),
        updated=max((_date(v) for v in updated), default=""),
        synthetic=synthetic,
    )


def _date(value: str) -> str:
    # Timestamps arrive as ISO strings ("2026-11-22T19:01:02Z"); a date is what readers need.
    return value[:10]


# ---------------------------------------------------------------------------------- statistics
def wide(df: pd.DataFrame, column: str = "sammenligning") -> pd.DataFrame:
    """Years as index, one column per region (``column``), values ``verdi``."""
    if df.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(df[column]))
    table = df.pivot_table(
        index="aar", columns=column, values="verdi", aggfunc="first", dropna=False
    )
    return table.reindex(columns=order).sort_index()


def region_order(df: pd.DataFrame) -> list[str]:
    """Comparison labels in display order: kommune, KOSTRA group, fylke, landet."""
    if "nivaa" not in df.columns:
        return list(dict.fromkeys(df["sammenligning"]))
    pairs = df[["sammenligning", "nivaa"]].drop_duplicates("sammenligning")
    ranked = sorted(
        pairs.itertuples(index=False), key=lambda r: (LEVEL_ORDER.get(r.nivaa, 9), r[0])
    )
    return [r[0] for r in ranked]


@dataclass(frozen=True)
class Growth:
    """Average yearly (compound) growth between two years."""

    region: str
    first_year: int
    first_value: float
    last_year: int
    last_value: float
    percent_per_year: float


def growth(values: pd.Series, first_year: int | None = None, last_year: int | None = None):
    """Compound average growth per year of a year-indexed series.

    Args:
        values: Series indexed by year.
        first_year, last_year: End points; default the first and last years with a value.

    Returns:
        ``(first_year, first_value, last_year, last_value, percent_per_year)`` or None when
        fewer than two usable values (or a non-positive start) make growth undefined.
    """
    s = values.dropna()
    if first_year is not None:
        s = s.loc[s.index >= first_year]
    if last_year is not None:
        s = s.loc[s.index <= last_year]
    if len(s) < 2:
        return None
    y0, y1 = int(s.index[0]), int(s.index[-1])
    v0, v1 = float(s.iloc[0]), float(s.iloc[-1])
    if (first_year is not None and y0 != first_year) or (last_year is not None and y1 != last_year):
        return None  # compare like with like: same end points or nothing
    if v0 <= 0 or v1 < 0 or y1 == y0:
        return None
    pct = ((v1 / v0) ** (1 / (y1 - y0)) - 1) * 100
    return y0, v0, y1, v1, pct


def endpoint_growth(df: pd.DataFrame) -> list[Growth]:
    """Compound growth per comparison region over the kommune's period (first → last valid year).

    The other regions are measured over exactly the kommune's years so the numbers compare.
    What a chart's finding quotes; the growth *table* with confidence intervals is
    :func:`boso.charts.growth_table` (log-linear, :func:`boso.trends.growth_by_region`).
    """
    table = wide(df)
    if table.empty:
        return []
    order = [r for r in region_order(df) if r in table.columns]
    result: list[Growth] = []
    base = growth(table[order[0]])
    if base is None:
        return []
    y0, _, y1, _, _ = base
    for region in order:
        g = growth(table[region], y0, y1)
        if g is not None:
            result.append(Growth(region, *g))
    return result


def index_series(df: pd.DataFrame, base_year: int | None = None) -> pd.DataFrame:
    """Rows with ``verdi`` rebased so that the base year = 100, per comparison region.

    The base year defaults to the first year in which every region has a value. Regions without
    a value in the base year get NaN throughout (never an invented base).
    """
    table = wide(df)
    if table.empty:
        return df.assign(indeks=np.nan)
    if base_year is None:
        # Regions with no values at all cannot take part; don't let them block a common base.
        complete = table.dropna(axis=1, how="all").dropna(how="any")
        if complete.empty:
            complete = table.dropna(how="all")
        base_year = int(complete.index[0]) if not complete.empty else int(table.index[0])
    base = table.loc[base_year] if base_year in table.index else pd.Series(dtype=float)
    out = df.copy()
    base_map = base.to_dict()
    denom = out["sammenligning"].map(base_map).astype(float)
    denom = denom.where(denom > 0)
    out["indeks"] = out["verdi"].astype(float) / denom * 100
    out.attrs["basisaar"] = base_year
    return out


def latest(df: pd.DataFrame, year: int | None = None) -> tuple[int | None, dict[str, float]]:
    """The latest year with a kommune value, and every region's value that year.

    Returns:
        ``(year, {sammenligning: verdi})``; regions without a value that year map to NaN.
    """
    table = wide(df)
    if table.empty:
        return None, {}
    order = [r for r in region_order(df) if r in table.columns]
    if year is None:
        kommune = table[order[0]].dropna()
        if kommune.empty:
            return None, {}
        year = int(kommune.index[-1])
    if year not in table.index:
        return year, {r: math.nan for r in order}
    row = table.loc[year]
    return year, {r: float(row[r]) for r in order}


def gap_reasons(
    df: pd.DataFrame,
    numerator: pd.DataFrame | None = None,
    denominator: pd.DataFrame | None = None,
    denominator_year_offset: int = 0,
    denominator_name: str = "",
) -> pd.Series:
    """Why each row has no value: a key of :data:`boso.text.GAP_REASONS` or an SSB symbol.

    The reason comes from the data's own flags, first the row's (``harmonisering = deling`` or
    ``ikke_beregnbar``, status ``:``), then, for a rate boso computes, the numerator's and
    the denominator's rows (same level, region and year, the denominator shifted by its year
    offset): a denominator that ends before the numerator is "not published yet", one that
    has no rows for the region at all does not exist for that level. A comparison region
    (KOSTRA group, fylke, landet) without any value is "not published for this level".

    Args:
        df: Processed rows (``nivaa``, ``region``, ``aar``, ``verdi``, ``status``, ...).
        numerator, denominator: The rate's numerator and denominator rows, when it has them.
        denominator_year_offset: The catalog's offset (denominator year = ``aar`` + offset).
        denominator_name: What the denominator counts, when it is not the population
            (``"privathusholdninger"``): the denominator's reasons then name it.

    Returns:
        A string Series aligned with ``df``: ``""`` where there is a value.
    """
    reasons = pd.Series("", index=df.index, dtype=object)
    if df.empty:
        return reasons
    missing = df["verdi"].isna()
    status = _column(df, "status")
    harm = _column(df, "harmonisering")
    reasons[missing & harm.isin(["deling", "ikke_beregnbar"])] = harm
    reasons[missing & (reasons == "") & status.isin([":", "."])] = status
    keys = [c for c in ("nivaa", "region", "aar") if c in df.columns]
    open_ = missing & (reasons == "")
    if numerator is not None and not numerator.empty and open_.any() and len(keys) == 3:
        numerator = numerator.merge(df[["nivaa", "region"]].drop_duplicates())
        own = gap_reasons(numerator).rename("_r")
        num = numerator[keys].assign(
            _r=own.replace("", "teller_mangler").where(numerator["verdi"].isna(), "")
        )
        found = df.loc[open_, keys].merge(num, on=keys, how="left").set_axis(df.index[open_])
        reasons[open_] = found["_r"].fillna("")
        open_ = missing & (reasons == "")
    if denominator is not None and not denominator.empty and open_.any() and len(keys) == 3:
        den = denominator.loc[denominator["verdi"].notna(), ["nivaa", "region", "aar"]]
        last = den.groupby(["nivaa", "region"])["aar"].max()
        last_level = den.groupby("nivaa")["aar"].max()
        for idx in df.index[open_]:
            level, region = df.at[idx, "nivaa"], df.at[idx, "region"]
            year = int(df.at[idx, "aar"]) + denominator_year_offset
            # A kommune founded after the denominator's last year has no rows yet either.
            newest = last.get((level, region), last_level.get(level))
            suffix = f":{denominator_name}" if denominator_name else ""
            if newest is not None and year > int(newest):
                reasons[idx] = "nevner_ikke_publisert" + suffix
            elif (level, region) not in last.index:
                reasons[idx] = "nevner_nivaa" + suffix
        open_ = missing & (reasons == "")
    if "nivaa" in df.columns:
        label = df["sammenligning"] if "sammenligning" in df.columns else df["region"]
        without = df.assign(_l=label).groupby("_l")["verdi"].transform("count") == 0
        reasons[open_ & (df["nivaa"] != "kommune") & without] = "ikke_publisert_nivaa"
        open_ = missing & (reasons == "")
    reasons[open_] = status[open_].where(status[open_] != "", "..")
    return reasons


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    return df[name].astype(object).where(df[name].notna(), "").astype(str)


def with_gap_reasons(df: pd.DataFrame, indicator: str) -> pd.DataFrame:
    """``df`` with the :data:`GAP_COLUMN` reason column, reading a rate's numerator and
    denominator from the processed store when the catalog declares them."""
    from boso import processed
    from boso.catalog import load_catalog

    numerator = denominator = None
    offset = 0
    name = ""
    catalog = load_catalog()
    entry = catalog.get(indicator)
    if entry is not None and df["verdi"].isna().any() and entry.numerator and entry.denominator:
        try:
            # All regions: a kommune founded after the denominator's last year has no rows.
            numerator, denominator = (
                processed.read_table(processed.indicator_table(ref))
                for ref in (entry.numerator, entry.denominator)
            )
            numerator = numerator.loc[numerator["region"].isin(set(df["region"]))]
        except (DataError, QueryError):
            numerator = denominator = None  # the rows' own flags still give a reason
        offset = entry.denominator_year_offset
        if entry.denominator != "befolkning":
            name = catalog[entry.denominator].label.lower()
    return df.assign(**{GAP_COLUMN: gap_reasons(df, numerator, denominator, offset, name)})


def missing_years(df: pd.DataFrame) -> dict[str, dict[str, list[int]]]:
    """Years with a missing or suppressed value, per comparison region and reason.

    The reason is the row's :data:`GAP_COLUMN` (or :func:`gap_reasons` of the rows): an SSB
    symbol (``:``, ``.``) or a key of :data:`boso.text.GAP_REASONS`. ``.`` (code not in use
    that year) is reported too, since a reader sees a gap either way.
    """
    result: dict[str, dict[str, list[int]]] = {}
    if df.empty:
        return result
    reasons = df[GAP_COLUMN] if GAP_COLUMN in df.columns else gap_reasons(df)
    gaps = df.assign(_s=reasons.fillna("").astype(str)).loc[df["verdi"].isna()]
    for (region, symbol), rows in gaps.groupby(["sammenligning", "_s"]):
        result.setdefault(str(region), {})[symbol or ".."] = sorted(int(a) for a in rows["aar"])
    return result


# ------------------------------------------------------------------------------------ barometer
BAROMETER_MARGIN = 0.05  # within ±5 % of the national value counts as "om lag som landet"


def barometer(frames: dict[str, pd.DataFrame], labels: dict[str, str] | None = None):
    """Compact summary: each indicator's latest kommune value against its peers and landet.

    Args:
        frames: Indicator id → comparison rows (as from :func:`comparison`).
        labels: Indicator id → display label (default: the id).

    Returns:
        DataFrame with columns ``Indikator, År, <kommune>, KOSTRA-gruppe…, fylke…, Landet,
        Mot landet`` where the last column marks the kommune ▲ over / ▼ under / ≈ om lag som
        landet (within 5 %). Missing values stay NaN.
    """
    rows: list[dict[str, Any]] = []
    columns: list[str] = []
    for ind, df in frames.items():
        if df is None or df.empty:
            continue
        year, values = latest(df)
        if year is None:
            rows.append({"Indikator": (labels or {}).get(ind, ind), "År": None})
            continue
        order = region_order(df)
        names = [r if i == 0 else _peer_column(df, r) for i, r in enumerate(order)]
        row: dict[str, Any] = {"Indikator": (labels or {}).get(ind, ind), "År": year}
        for region, column in zip(order, names, strict=True):
            row[column] = values.get(region, math.nan)
            if column not in columns:
                columns.append(column)
        landet = values.get(order[-1], math.nan) if _level(df, order[-1]) == "landet" else math.nan
        row["Mot landet"] = _mark(values.get(order[0], math.nan), landet)
        if "enhet" in df.columns and not df["enhet"].dropna().empty:
            row["Enhet"] = str(df["enhet"].dropna().iloc[0])
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    peers = [c for c in ("KOSTRA-gruppen", "Fylket", "Landet") if c in columns]
    own = [c for c in columns if c not in peers]
    ordered = ["Indikator", "År", *own, *peers, "Mot landet", "Enhet"]
    return table.reindex(columns=[c for c in ordered if c in table.columns])


def _level(df: pd.DataFrame, region: str) -> str:
    rows = df.loc[df["sammenligning"] == region, "nivaa"]
    return str(rows.iloc[0]) if not rows.empty else ""


def _peer_column(df: pd.DataFrame, region: str) -> str:
    return {"kostragruppe": "KOSTRA-gruppen", "fylke": "Fylket", "landet": "Landet"}.get(
        _level(df, region), region
    )


def _mark(value: float, reference: float) -> str:
    if math.isnan(value) or math.isnan(reference) or reference == 0:
        return "ikke sammenlignbart"
    ratio = value / reference - 1
    if abs(ratio) <= BAROMETER_MARGIN:
        return "≈ om lag som landet"
    return "▲ over landet" if ratio > 0 else "▼ under landet"


def require_columns(df: pd.DataFrame, columns: list[str], what: str = "datasettet") -> None:
    """Raise :class:`QueryError` naming the first missing column."""
    for col in columns:
        if col not in df.columns:
            raise QueryError(f"{what} mangler kolonnen {col!r}")
