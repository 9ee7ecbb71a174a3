"""Pure analyses of a cleaned register: stock, vacancy ("død tid"), rent, small-count rule.

Every function takes a :class:`~boso.register.result.RegisterImport` (or its dwellings frame)
and returns DataFrames ready to show. Published counts below 3 are suppressed as SSB does:
the value becomes NaN and the row's ``status`` is ``":"`` (never zero); where the rows add up to
a total, further cells are suppressed so that no hidden count can be recomputed from the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from boso.errors import DataError, QueryError
from boso.register.result import RegisterImport

SUPPRESSED = ":"
MISSING_LABEL = "Uoppgitt"
TOTAL_LABEL = "I alt"
GROUPABLE = (
    "boligtype",
    "maalgruppe",
    "storrelse",
    "arealgruppe",
    "antall_rom",
    "eierform",
    "status",
    "postnr",
)
# Columns boso itself writes into every published table. A register field with one of these
# names is published under another name, so grouping by it can never be overwritten by the
# status symbol (":" for suppressed) or a count: the register's dwelling ``status`` (Utleid,
# Ledig, ...) becomes ``boligstatus``.
OWN_COLUMNS = frozenset({"antall", "andel", "andel_av_alle_boliger", "status", "syntetisk"})
_OUTPUT_NAMES = {"status": "boligstatus"}
STATUS_SYMBOLS = frozenset({"", ":", "..", ".", "-"})
# Bands for the distribution of død tid, in days (upper bounds inclusive).
VACANCY_BANDS = (
    (7, "0–7 dager"),
    (30, "8–30 dager"),
    (90, "31–90 dager"),
    (180, "91–180 dager"),
    (np.inf, "over 180 dager"),
)


def _dwellings(reg: RegisterImport | pd.DataFrame) -> pd.DataFrame:
    return reg.dwellings if isinstance(reg, RegisterImport) else reg


def _synthetic(reg: RegisterImport | pd.DataFrame) -> bool:
    if isinstance(reg, RegisterImport):
        return reg.synthetic
    return bool("syntetisk" in reg.columns and reg["syntetisk"].any())


def output_column(name: str) -> str:
    """The name a register field gets in a published table (``status`` → ``boligstatus``)."""
    if name in OWN_COLUMNS:
        return _OUTPUT_NAMES.get(name, f"{name}_kategori")
    return name


def suppress_small(
    df: pd.DataFrame,
    count_cols: str | Sequence[str],
    threshold: int = 3,
    dependent_cols: Iterable[str] = (),
    *,
    additive: bool = False,
    total_col: str | None = None,
) -> pd.DataFrame:
    """Suppress counts from 1 to ``threshold - 1`` as SSB does (value NaN, status ``":"``).

    Zero stays zero: it reveals no one. Values derived from a suppressed count (shares,
    medians) must be suppressed with it; name them in ``dependent_cols``.

    With ``additive`` the rows are the parts of one whole (a column that sums to its ``I alt``
    row, or to a total the reader can infer, e.g. from a share). Then a suppressed cell could be
    recomputed as the total minus the shown cells, so the next smallest cells are suppressed
    too (*secondary suppression*) until no suppressed cell can be pinned down or shown to be
    small: taking every other suppressed cell at its least possible value (1), each must still
    be able to reach ``threshold``.

    Args:
        df: Table to publish.
        count_cols: Column(s) with counts.
        threshold: Smallest count that may be shown.
        dependent_cols: Columns computed from those counts, blanked on the same rows.
        additive: The rows of each count column add up to one total (see above).
        total_col: Column whose value ``I alt`` marks the total row(s) (``additive`` only).

    Returns:
        A copy with suppressed cells set to NaN and a ``status`` column (``""`` or ``":"``).
    """
    cols = [count_cols] if isinstance(count_cols, str) else list(count_cols)
    dependent_cols = list(dependent_cols)
    missing = [c for c in [*cols, *dependent_cols] if c not in df.columns]
    if total_col is not None and total_col not in df.columns:
        missing.append(total_col)
    if missing:
        raise QueryError(f"suppress_small: ukjente kolonner {missing}")
    if "status" in df.columns:
        # A data column called "status" (the dwelling's status) would be overwritten here.
        foreign = set(df["status"].astype("string").fillna("").unique()) - STATUS_SYMBOLS
        if foreign:
            raise DataError(
                "suppress_small: kolonnen 'status' er reservert for statussymboler (: .. . -), "
                f"men inneholder {sorted(foreign)[:3]}; gi datakolonnen et annet navn"
            )
    out = df.copy()
    mask = pd.Series(False, index=out.index)
    is_total = (
        out[total_col].astype("string").eq(TOTAL_LABEL).fillna(False)
        if total_col is not None
        else pd.Series(False, index=out.index)
    )
    for col in cols:
        values = pd.to_numeric(out[col], errors="coerce")
        small = ((values > 0) & (values < threshold)).fillna(False)
        if additive:
            small = _complementary(values, small, is_total, threshold)
        mask |= small
        out[col] = values.astype(float).mask(small)
    for col in dependent_cols:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float).mask(mask)
    previous = out["status"].astype("string").fillna("") if "status" in out else ""
    out["status"] = np.where(mask, SUPPRESSED, previous)
    out["status"] = out["status"].astype("string")
    return out


def _complementary(
    values: pd.Series, small: pd.Series, is_total: pd.Series, threshold: int
) -> pd.Series:
    """Add secondary suppressions to ``small`` for one additive column (see suppress_small)."""
    hidden = small.copy()
    if not hidden[~is_total].any() or hidden[is_total].any():
        # Nothing to protect, or the total itself is hidden (then every part is below it).
        return hidden

    def protected() -> bool:
        parts = values[hidden & ~is_total]
        # The largest value a hidden cell can take when the others are as small as possible.
        return float(parts.sum()) - (len(parts) - 1) >= threshold

    while not protected():
        candidates = values[~hidden & ~is_total & (values > 0)].dropna()
        if candidates.empty:
            # Nothing left to hide beside them: hide every non-zero cell, total included
            # (a zero reveals no one, and without the total nothing can be recomputed).
            return hidden | (values > 0).fillna(False)
        hidden[candidates.sort_values(kind="stable").index[0]] = True
    return hidden


def stock_summary(
    reg: RegisterImport | pd.DataFrame,
    by: str | Sequence[str],
    *,
    all_dwellings: float | None = None,
    total: bool = True,
    suppress: bool = True,
) -> pd.DataFrame:
    """Dwelling stock by type, target group, size, ownership or status.

    Dwellings marked ``Avhendet`` (sold/terminated) are not part of the stock.

    Args:
        reg: The cleaned register (or its dwellings frame).
        by: Column(s) to group by, e.g. ``"boligtype"`` or ``["eierform", "boligtype"]``.
        all_dwellings: All dwellings in the kommune (e.g. SSB's dwelling count) to compute
            ``andel_av_alle_boliger``; None leaves that column out.
        total: Add an ``I alt`` row.
        suppress: Apply :func:`suppress_small` to ``antall`` (and the shares).

    Returns:
        Columns ``<by>…, antall, andel`` (percent of the register) [, ``andel_av_alle_boliger``],
        ``status``, ``syntetisk``; a ``by`` column named like one of boso's own columns is
        renamed (``status`` → ``boligstatus``, see :func:`output_column`).
    """
    cols = [by] if isinstance(by, str) else list(by)
    bad = [c for c in cols if c not in GROUPABLE]
    if bad:
        raise QueryError(f"kan ikke gruppere boligregisteret på {bad}; velg blant {GROUPABLE}")
    dwellings = _dwellings(reg)
    stock = dwellings[dwellings["status"].astype("string").fillna("") != "Avhendet"].copy()
    keys = [output_column(c) for c in cols]
    stock = stock[cols].set_axis(keys, axis=1)
    cols = keys
    for col in cols:
        stock[col] = stock[col].astype("string").fillna(MISSING_LABEL)
    table = stock.groupby(cols, dropna=False).size().reset_index(name="antall")
    table = table.sort_values("antall", ascending=False, kind="stable").reset_index(drop=True)
    n = len(stock)
    if total:
        total_row = {c: TOTAL_LABEL for c in cols} | {"antall": n}
        table = pd.concat([table, pd.DataFrame([total_row])], ignore_index=True)
    table["antall"] = table["antall"].astype(float)
    table["andel"] = table["antall"] / n * 100 if n else np.nan
    dependent = ["andel"]
    if all_dwellings is not None:
        if not all_dwellings or all_dwellings <= 0:
            raise DataError(f"antall boliger i kommunen må være positivt, fikk {all_dwellings}")
        table["andel_av_alle_boliger"] = table["antall"] / float(all_dwellings) * 100
        dependent.append("andel_av_alle_boliger")
    table["status"] = ""
    if suppress:
        # The parts add up to the I alt row (shown, or implied by the shares).
        table = suppress_small(
            table, "antall", dependent_cols=dependent, additive=True, total_col=cols[0]
        )
    table["syntetisk"] = _synthetic(reg)
    return table


@dataclass
class VacancyResult:
    """Død tid (vacant days between two tenancies) and vacancy at year ends.

    Attributes:
        as_of: The date the register describes (export date).
        periods: One row per vacant period: ``bolig_id, boligtype, fra, til, dager,
            pagaar`` (``pagaar``: still vacant at ``as_of``; ``til`` is then ``as_of``).
        per_dwelling: ``bolig_id, boligtype, perioder, median_dager, sum_dager``.
        median_days: Median død tid over completed periods (NaN when none).
        distribution: Completed periods per band: ``periode, antall, andel, status``.
        by_type: ``boligtype, perioder, median_dager, gjennomsnitt_dager, status``.
        year_end: ``aar, dato, boliger, ledige, ledighetsgrad, status`` on 31 December.
        vacant_now: Dwellings without a tenancy at ``as_of``.
        long_vacant: Dwellings vacant for at least ``long_days`` at ``as_of``, by address only:
            ``adresse, boligtype, ledig_siden, dager``.
        synthetic: Whether the register is synthetic demo data.
    """

    as_of: pd.Timestamp
    periods: pd.DataFrame
    per_dwelling: pd.DataFrame
    median_days: float
    distribution: pd.DataFrame
    by_type: pd.DataFrame
    year_end: pd.DataFrame
    vacant_now: int
    long_vacant: pd.DataFrame
    synthetic: bool


def _as_of(reg: RegisterImport, as_of: Any) -> pd.Timestamp:
    if as_of is not None:
        return pd.Timestamp(as_of).normalize()
    if reg.report.export_date:
        return pd.Timestamp(reg.report.export_date)
    dates = pd.concat([reg.tenancies["innflyttet"], reg.tenancies["utflyttet"]]).dropna()
    if dates.empty:
        raise DataError(f"boligregister {reg.kommunenummer}: ingen datoer å beregne ledighet fra")
    return pd.Timestamp(dates.max()).normalize()


def vacancy(
    reg: RegisterImport,
    as_of: Any = None,
    *,
    long_days: int = 90,
    suppress: bool = True,
) -> VacancyResult:
    """Død tid per dwelling between tenancies, its distribution, and vacancy at year end.

    A vacant period runs from one tenancy's move-out to the next tenancy's move-in in the same
    dwelling. Periods still open at ``as_of`` (the dwelling is empty now) count for the
    long-vacant list and the current vacancy, not for the median. Overlapping tenancies
    (negative gaps) are left out. Year-end vacancy is computed for each 31 December from the
    year of the earliest move-out in the register (before that the export does not list
    finished tenancies) up to ``as_of``; a dwelling counts in the stock from its first known
    move-in (dwellings never let are only in ``vacant_now``).

    Args:
        reg: The cleaned register.
        as_of: Reference date (default: the export date, else the latest date in the register).
        long_days: Vacant this many days or more at ``as_of`` counts as long-vacant.
        suppress: Apply the small-count rule to the published counts.

    Returns:
        A :class:`VacancyResult`.
    """
    as_of = _as_of(reg, as_of)
    dwellings = reg.dwellings.set_index("bolig_id")
    types = dwellings["boligtype"].astype("string").fillna(MISSING_LABEL)
    ten = reg.tenancies.dropna(subset=["innflyttet"]).copy()
    ten = ten[ten["innflyttet"] <= as_of]
    ten = ten.sort_values(["bolig_id", "innflyttet"], kind="stable")

    rows = []
    for bolig_id, group in ten.groupby("bolig_id", sort=False):
        ins = group["innflyttet"].tolist()
        outs = group["utflyttet"].tolist()
        for out, nxt in zip(outs, ins[1:], strict=False):
            if pd.notna(out) and nxt >= out:
                rows.append((bolig_id, out, nxt, (nxt - out).days, False))
        last_out = outs[-1]
        if pd.notna(last_out) and last_out <= as_of:
            rows.append((bolig_id, last_out, as_of, (as_of - last_out).days, True))
    periods = pd.DataFrame(rows, columns=["bolig_id", "fra", "til", "dager", "pagaar"])
    periods["boligtype"] = periods["bolig_id"].map(types).astype("string")
    periods = periods[["bolig_id", "boligtype", "fra", "til", "dager", "pagaar"]]
    periods["dager"] = periods["dager"].astype("int64")
    periods["pagaar"] = periods["pagaar"].astype(bool)
    periods["fra"] = pd.to_datetime(periods["fra"])
    periods["til"] = pd.to_datetime(periods["til"])
    done = periods[~periods["pagaar"]]

    per_dwelling = (
        done.groupby(["bolig_id", "boligtype"])["dager"]
        .agg(perioder="size", median_dager="median", sum_dager="sum")
        .reset_index()
    )
    median_days = float(done["dager"].median()) if len(done) else float("nan")

    bands = pd.cut(
        done["dager"],
        bins=[-1, *[b for b, _ in VACANCY_BANDS]],
        labels=[label for _, label in VACANCY_BANDS],
    )
    distribution = bands.value_counts(sort=False).rename_axis("periode").reset_index(name="antall")
    distribution["periode"] = distribution["periode"].astype("string")
    distribution["antall"] = distribution["antall"].astype(float)
    distribution["andel"] = distribution["antall"] / len(done) * 100 if len(done) else np.nan
    by_type = (
        done.groupby("boligtype")["dager"]
        .agg(perioder="size", median_dager="median", gjennomsnitt_dager="mean")
        .reset_index()
        .sort_values("perioder", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    by_type["perioder"] = by_type["perioder"].astype(float)

    year_end = _year_end(reg, ten, as_of)
    active_now = _active_on(ten, as_of)
    stock_ids = dwellings.index[dwellings["status"].astype("string").fillna("") != "Avhendet"]
    vacant_now = int(len(set(stock_ids) - active_now))

    open_periods = periods[periods["pagaar"] & (periods["dager"] >= long_days)]
    long_vacant = pd.DataFrame(
        {
            "adresse": open_periods["bolig_id"].map(dwellings["adresse"]).astype("string"),
            "boligtype": open_periods["boligtype"],
            "ledig_siden": open_periods["fra"],
            "dager": open_periods["dager"],
        }
    )
    long_vacant = long_vacant[
        open_periods["bolig_id"].map(dwellings["status"]).astype("string").ne("Avhendet")
    ]
    long_vacant = long_vacant.sort_values("dager", ascending=False).reset_index(drop=True)

    if suppress:
        # Both add up to the number of completed periods (implied by the shares).
        distribution = suppress_small(
            distribution, "antall", dependent_cols=["andel"], additive=True
        )
        by_type = suppress_small(
            by_type,
            "perioder",
            dependent_cols=["median_dager", "gjennomsnitt_dager"],
            additive=True,
        )
        year_end = suppress_small(year_end, "ledige", dependent_cols=["ledighetsgrad"])
    return VacancyResult(
        as_of=as_of,
        periods=periods.reset_index(drop=True),
        per_dwelling=per_dwelling,
        median_days=median_days,
        distribution=distribution,
        by_type=by_type,
        year_end=year_end,
        vacant_now=vacant_now,
        long_vacant=long_vacant,
        synthetic=reg.synthetic,
    )


def _active_on(ten: pd.DataFrame, day: pd.Timestamp) -> set[str]:
    active = (ten["innflyttet"] <= day) & (ten["utflyttet"].isna() | (ten["utflyttet"] > day))
    return set(ten.loc[active, "bolig_id"])


def _year_end(reg: RegisterImport, ten: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    columns = ["aar", "dato", "boliger", "ledige", "ledighetsgrad", "status"]
    outs = ten["utflyttet"].dropna()
    if outs.empty:
        return pd.DataFrame(columns=columns)
    stock = reg.dwellings[reg.dwellings["status"].astype("string").fillna("") != "Avhendet"]
    # A dwelling enters the year-end stock with its first known move-in: before that the
    # kommune may not have had it yet, and counting it as vacant would overstate vacancy.
    first_in = ten.groupby("bolig_id")["innflyttet"].min()
    first_in = first_in[first_in.index.isin(set(stock["bolig_id"]))]
    rows = []
    for year in range(int(outs.min().year), as_of.year + 1):
        day = pd.Timestamp(year=year, month=12, day=31)
        if day > as_of:
            break
        in_stock = set(first_in.index[first_in <= day])
        n = len(in_stock)
        vacant = len(in_stock - _active_on(ten, day))
        rows.append((year, day, n, vacant, vacant / n * 100 if n else np.nan, ""))
    table = pd.DataFrame(rows, columns=columns)
    table["boliger"] = table["boliger"].astype(float)
    table["ledige"] = table["ledige"].astype(float)
    return table


def rent_per_m2(
    reg: RegisterImport | pd.DataFrame,
    by: str | None = "boligtype",
    *,
    suppress: bool = True,
) -> pd.DataFrame:
    """Current monthly rent per m² BRA, median by group and for all dwellings.

    Dwellings without rent or area (or with zero) are left out.

    Args:
        reg: The cleaned register (or its dwellings frame).
        by: Group column (``boligtype``, ``eierform``, ...) or None for one row.
        suppress: Apply the small-count rule (medians of fewer than 3 dwellings are hidden).

    Returns:
        ``<by>, antall, median_maanedsleie, median_kr_m2_mnd, median_kr_m2_aar, status,
        syntetisk``; the last row is ``I alt``.
    """
    dwellings = _dwellings(reg)
    data = dwellings[(dwellings["maanedsleie"] > 0) & (dwellings["bra_m2"] > 0)].copy()
    data["kr_m2_mnd"] = data["maanedsleie"] / data["bra_m2"]
    key = output_column(by) if by else "gruppe"
    if by is None:
        data[key] = TOTAL_LABEL
    elif by not in GROUPABLE:
        raise QueryError(f"kan ikke gruppere boligregisteret på {by!r}; velg blant {GROUPABLE}")
    else:
        data[key] = data[by]
    data[key] = data[key].astype("string").fillna(MISSING_LABEL)

    def summarise(frame: pd.DataFrame) -> dict[str, float]:
        return {
            "antall": float(len(frame)),
            "median_maanedsleie": float(frame["maanedsleie"].median()),
            "median_kr_m2_mnd": float(frame["kr_m2_mnd"].median()),
            "median_kr_m2_aar": float(frame["kr_m2_mnd"].median() * 12),
        }

    rows = [{key: label, **summarise(group)} for label, group in data.groupby(key)]
    rows.sort(key=lambda r: -r["antall"])
    if by is not None and len(data):
        rows.append({key: TOTAL_LABEL, **summarise(data)})
    columns = [key, "antall", "median_maanedsleie", "median_kr_m2_mnd", "median_kr_m2_aar"]
    table = pd.DataFrame(rows, columns=columns)
    table["status"] = ""
    if suppress:
        table = suppress_small(
            table, "antall", dependent_cols=columns[2:], additive=by is not None, total_col=key
        )
    table["syntetisk"] = _synthetic(reg)
    return table


def rent_vs_market(
    reg: RegisterImport | pd.DataFrame, market: pd.DataFrame, year: int | None = None
) -> pd.DataFrame:
    """The register's rent per m² beside the market's *sales price* per m².

    SSB publishes a price per m² for freehold dwellings (``kvadratmeterpris``), not a rent, so
    the two are not the same kind of number. The comparison is a gross rental yield: annual
    kommunal rent per m² as a percentage of the sales price per m² (``brutto_avkastning``).
    A low yield means the kommune's rent is low relative to what the dwelling would sell for.
    The rent is the register's current rent, so it is placed on ``year`` (default: the
    export year, else the latest market year); other years show the price only.

    Args:
        reg: The cleaned register (or its dwellings frame).
        market: ``aar, verdi`` in kr per m² (one row per year; optional ``status``).
        year: The year the register's rents belong to.

    Returns:
        ``aar, salgspris_kr_m2, status, leie_kr_m2_aar, brutto_avkastning, syntetisk``.
    """
    if not {"aar", "verdi"} <= set(market.columns):
        raise DataError("markedsprisen må ha kolonnene aar og verdi (kr per m²)")
    if market["aar"].duplicated().any():
        raise DataError(
            "markedsprisen har flere rader per år; velg én serie (f.eks. én boligtype) først"
        )
    table = pd.DataFrame(
        {
            "aar": market["aar"].astype(int).to_numpy(),
            "salgspris_kr_m2": pd.to_numeric(market["verdi"], errors="coerce").to_numpy(),
            "status": (
                market["status"].astype("string").fillna("").to_numpy()
                if "status" in market
                else ""
            ),
        }
    ).sort_values("aar", ignore_index=True)
    rents = rent_per_m2(reg, by=None, suppress=True)
    rent = float(rents["median_kr_m2_aar"].iloc[0]) if len(rents) else np.nan
    if year is None:
        export = reg.report.export_date if isinstance(reg, RegisterImport) else None
        year = int(export[:4]) if export else (int(table["aar"].max()) if len(table) else None)
    table["leie_kr_m2_aar"] = np.where(table["aar"] == year, rent, np.nan)
    table["brutto_avkastning"] = table["leie_kr_m2_aar"] / table["salgspris_kr_m2"] * 100
    table["syntetisk"] = _synthetic(reg) or bool(
        "syntetisk" in market.columns and market["syntetisk"].any()
    )
    return table


#: How long a dwelling has stood empty, as published beside its address: a band, never the
#: day count or the date it emptied, since together with the address they date the previous
#: tenant's move. (Lower bound in days, label.)
VACANT_BANDS = ((730, "over 2 år"), (365, "1–2 år"), (182, "6–12 måneder"), (90, "3–6 måneder"))


def vacant_band(days: float) -> str:
    """The published band of a vacant spell: ``200`` → ``"6–12 måneder"``."""
    for lower, label in VACANT_BANDS:
        if days >= lower:
            return label
    return "under 3 måneder"


def published_long_vacant(long_vacant: pd.DataFrame) -> pd.DataFrame:
    """The long-vacant list for a report: ``adresse, boligtype, ledig_i`` (a band), longest first.

    :attr:`VacancyResult.long_vacant` keeps the exact dates for the kommune's own work in a
    notebook; what is published says only how long, in bands (:data:`VACANT_BANDS`).
    """
    ordered = long_vacant.sort_values("dager", ascending=False, kind="stable")
    ordered = ordered.reset_index(drop=True)
    return pd.DataFrame(
        {
            "adresse": ordered["adresse"],
            "boligtype": ordered["boligtype"],
            "ledig_i": pd.Series([vacant_band(d) for d in ordered["dager"]], dtype="string"),
        }
    )


def publication_tables(
    reg: RegisterImport,
    *,
    market: pd.DataFrame | None = None,
    all_dwellings: float | None = None,
    as_of: Any = None,
) -> list[tuple[str, pd.DataFrame]]:
    """The register's tables for a report, titled in bokmål, with small counts suppressed.

    One call for notebooks: stock by type, target group, size and ownership, død tid,
    year-end vacancy, long-vacant dwellings (address and a band of how long, no dates) and rent
    per m² (beside the market price when ``market`` is given).

    Args:
        reg: The cleaned register.
        market: ``aar, verdi`` sales price per m² (``kvadratmeterpris``), optional.
        all_dwellings: All dwellings in the kommune, for the share column, optional.
        as_of: Reference date for vacancy (default: the export date).

    Returns:
        ``(title, table)`` pairs in display order; empty tables are left out.
    """
    tables: list[tuple[str, pd.DataFrame]] = [
        ("Boliger etter boligtype", stock_summary(reg, "boligtype", all_dwellings=all_dwellings)),
        ("Boliger etter målgruppe", stock_summary(reg, "maalgruppe")),
        ("Boliger etter størrelse (antall rom)", stock_summary(reg, "storrelse")),
        ("Boliger etter eierform", stock_summary(reg, "eierform")),
        ("Boliger etter status på uttrekksdatoen", stock_summary(reg, "status")),
    ]
    if len(reg.tenancies):
        result = vacancy(reg, as_of)
        tables += [
            ("Død tid mellom leieforhold, fordeling", result.distribution),
            ("Død tid etter boligtype (dager)", result.by_type),
            ("Ledige boliger 31. desember", result.year_end),
            (
                "Boliger som har stått ledige lenge (adresse)",
                published_long_vacant(result.long_vacant),
            ),
        ]
    tables.append(("Husleie per m² BRA etter boligtype", rent_per_m2(reg)))
    if market is not None and len(market):
        tables.append(
            ("Husleie og salgspris per m² (brutto leieavkastning)", rent_vs_market(reg, market))
        )
    return [(title, table) for title, table in tables if not table.empty]
