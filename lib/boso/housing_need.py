"""Framtidig boligbehov: projected population, implied dwelling need, kommunale boliger.

Pure functions on processed rows (as :func:`boso.indicators.comparison` returns them). The
arithmetic is deliberately simple and every assumption is returned with the numbers, so the
report can state it in words:

* **growth** = projected population in a target year − population in the projection's first
  year (SSB's registered starting population);
* **implied dwelling need** = growth ÷ persons per private household, with the household size
  held at its latest observed value (population 1 January ÷ private households the same year);
* **kommunale boliger needed** = today's kommunalt disponerte boliger per 1000 innbyggere ×
  projected population ÷ 1000, compared with today's number of such dwellings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from boso import text
from boso.outputs import SYNTHETIC_ANNOTATION

#: SSB's main alternative (middle fertility, life expectancy, internal migration, immigration).
MAIN_ALTERNATIVE = "MMMM"
#: The years the report looks ahead to.
TARGET_YEARS = (2035, 2050)
SYNTHETIC_REMARK = (
    f" ({SYNTHETIC_ANNOTATION}: tallet bygger på oppdiktede demotall, ikke statistikk.)"
)


# ------------------------------------------------------------------------------ projections
def main_alternative(df: pd.DataFrame) -> pd.DataFrame:
    """The main alternative's rows (all rows when the table has only one alternative)."""
    if "alternativ" in df.columns and (df["alternativ"] == MAIN_ALTERNATIVE).any():
        return df.loc[df["alternativ"] == MAIN_ALTERNATIVE]
    return df


def total_over_ages(df: pd.DataFrame) -> pd.DataFrame:
    """Sum age groups into one total per region and year (missing if any group is missing).

    Tables without an ``alder`` column are returned unchanged.
    """
    if "alder" not in df.columns:
        return df
    keys = [
        c
        for c in df.columns
        if c not in {"alder", "alder_navn", "verdi", "status"} and not df[c].isna().all()
    ]
    grouped = df.groupby(keys, dropna=False, sort=False, observed=True)
    out = grouped.agg(
        verdi=("verdi", lambda v: v.sum() if v.notna().all() else math.nan),
        status=("status", lambda s: next((x for x in s if x), "")),
    ).reset_index()
    out.loc[out["verdi"].notna(), "status"] = ""
    out.loc[out["verdi"].isna() & (out["status"] == ""), "status"] = ".."
    return out


def projection_totals(df: pd.DataFrame) -> pd.DataFrame:
    """Main alternative, all ages: one projected population per region and year."""
    return total_over_ages(main_alternative(df))


def projected_growth(df: pd.DataFrame, years: tuple[int, ...] = TARGET_YEARS) -> pd.DataFrame:
    """Growth from the projection's first year to each target year, per comparison region.

    Args:
        df: Projection rows with ``sammenligning``, ``nivaa``, ``aar``, ``verdi``.
        years: Target years (those beyond the projection are left out).

    Returns:
        ``sammenligning, nivaa, basisaar, basis, aar, framskrevet, endring, endring_prosent``,
        one row per region and target year, in the order the regions appear.
    """
    totals = projection_totals(df)
    rows = []
    for region, part in totals.groupby("sammenligning", sort=False, observed=True):
        part = part.dropna(subset=["verdi"]).sort_values("aar")
        if part.empty:
            continue
        base_year = int(part["aar"].iloc[0])
        base = float(part["verdi"].iloc[0])
        by_year = dict(zip(part["aar"].astype(int), part["verdi"].astype(float), strict=True))
        for year in years:
            if year not in by_year or year <= base_year:
                continue
            change = by_year[year] - base
            rows.append(
                {
                    "sammenligning": str(region),
                    "nivaa": str(part["nivaa"].iloc[0]) if "nivaa" in part else "kommune",
                    "basisaar": base_year,
                    "basis": base,
                    "aar": year,
                    "framskrevet": by_year[year],
                    "endring": change,
                    "endring_prosent": change / base * 100 if base else math.nan,
                }
            )
    columns = [
        "sammenligning",
        "nivaa",
        "basisaar",
        "basis",
        "aar",
        "framskrevet",
        "endring",
        "endring_prosent",
    ]
    return pd.DataFrame(rows, columns=columns)


def history_with_projection(history: pd.DataFrame, projection: pd.DataFrame) -> pd.DataFrame:
    """Registered population and projection as one series per region.

    Years the history has keep the registered value; the projection continues after the last
    registered year. Column ``framskrevet`` tells the two parts apart.
    """
    projection = projection_totals(projection)
    columns = [c for c in history.columns if c in projection.columns]
    hist = history.loc[history["verdi"].notna(), columns].assign(framskrevet=False)
    last = hist.groupby("sammenligning", observed=True)["aar"].max()
    cut = projection["sammenligning"].map(last).fillna(-1)
    proj = projection.loc[projection["aar"] > cut, columns].assign(framskrevet=True)
    return pd.concat([hist, proj], ignore_index=True).sort_values(
        ["sammenligning", "aar"], kind="stable", ignore_index=True
    )


def registered_population(history: pd.DataFrame, projection: pd.DataFrame) -> pd.DataFrame:
    """Registered population: the history plus the projection's first (registered) year.

    SSB's projections start from the registered population 1 January of their first year;
    that year extends a history that ends earlier.
    """
    totals = projection_totals(projection)
    if totals.empty:
        return history
    first = totals.loc[totals["aar"] == totals["aar"].min()]
    key = ["sammenligning", "aar"] if "sammenligning" in history.columns else ["region", "aar"]
    have = history.loc[history["verdi"].notna(), key].drop_duplicates().assign(_have=True)
    first = first.merge(have, on=key, how="left")
    first = first.loc[first["_have"].isna()].drop(columns="_have")
    columns = [c for c in history.columns if c in first.columns]
    return pd.concat([history, first[columns]], ignore_index=True)


def _synthetic(df: pd.DataFrame) -> bool:
    return "syntetisk" in df.columns and bool(df["syntetisk"].fillna(False).astype(bool).any())


# ------------------------------------------------------------------------------- households
@dataclass(frozen=True)
class HouseholdSize:
    """Persons per private household in one year (the dwelling-need assumption)."""

    year: int
    population: float
    households: float
    synthetic: bool = False

    @property
    def persons(self) -> float:
        """Persons per household."""
        return self.population / self.households


def persons_per_household(
    population: pd.DataFrame, households: pd.DataFrame
) -> HouseholdSize | None:
    """Latest year where the kommune has both a population and a household count.

    Population includes people in institutions, so this is a little above the true size of
    private households; the report says so.

    Args:
        population: ``befolkning`` rows (only the ``kommune`` level is used).
        households: ``husholdninger`` rows (private households, all tenures).

    Returns:
        The household size, or None when the two never overlap.
    """

    def kommune(df: pd.DataFrame) -> pd.Series:
        if "nivaa" in df.columns:
            df = df.loc[df["nivaa"] == "kommune"]
        df = df.loc[df["verdi"].notna() & (df["verdi"] > 0)]
        return df.groupby("aar")["verdi"].sum()

    pop, hh = kommune(population), kommune(households)
    common = sorted(set(pop.index) & set(hh.index))
    if not common:
        return None
    year = int(common[-1])
    return HouseholdSize(year, float(pop[year]), float(hh[year]), _synthetic(households))


def dwelling_need(growth: float, persons: float) -> float:
    """Dwellings needed for ``growth`` more inhabitants at ``persons`` per household.

    A negative growth gives a negative need (dwellings that may fall empty).

    Raises:
        ValueError: ``persons`` is not a positive number.
    """
    if not persons or math.isnan(persons) or persons <= 0:
        raise ValueError(f"personer per husholdning må være et positivt tall, ikke {persons!r}")
    return growth / persons


# ------------------------------------------------------------------------ kommunale boliger
@dataclass(frozen=True)
class KommunaleNeed:
    """Kommunale boliger needed in ``target_year`` to keep today's rate per 1000."""

    rate_year: int
    rate: float
    count_year: int | None
    count: float | None
    target_year: int
    population: float
    synthetic: bool = False

    @property
    def needed(self) -> float:
        """Dwellings at today's rate for the projected population."""
        return self.rate * self.population / 1000

    @property
    def additional(self) -> float | None:
        """Needed minus today's number (None when today's number is unknown)."""
        return None if self.count is None else self.needed - self.count


def _latest_kommune_value(df: pd.DataFrame) -> tuple[int, float] | None:
    if "nivaa" in df.columns:
        df = df.loc[df["nivaa"] == "kommune"]
    df = df.loc[df["verdi"].notna()].sort_values("aar")
    if df.empty:
        return None
    return int(df["aar"].iloc[-1]), float(df["verdi"].iloc[-1])


def kommunale_boliger_needed(
    rate: pd.DataFrame,
    count: pd.DataFrame,
    projection: pd.DataFrame,
    years: tuple[int, ...] = TARGET_YEARS,
) -> list[KommunaleNeed]:
    """Kommunale boliger needed to keep the latest rate per 1000 innbyggere.

    Args:
        rate: ``kommunale_boliger_per_1000`` rows (the kommune's latest value is used).
        count: ``kommunale_boliger`` rows (today's number, for the difference).
        projection: ``befolkning_framskrevet`` rows.
        years: Target years.

    Returns:
        One entry per target year the projection covers; empty when the kommune has no rate.
    """
    latest_rate = _latest_kommune_value(rate)
    if latest_rate is None:
        return []
    latest_count = _latest_kommune_value(count)
    totals = projection_totals(projection)
    if "nivaa" in totals.columns:
        totals = totals.loc[totals["nivaa"] == "kommune"]
    by_year = totals.dropna(subset=["verdi"]).set_index("aar")["verdi"]
    return [
        KommunaleNeed(
            rate_year=latest_rate[0],
            rate=latest_rate[1],
            count_year=latest_count[0] if latest_count else None,
            count=latest_count[1] if latest_count else None,
            target_year=year,
            population=float(by_year[year]),
            synthetic=_synthetic(rate) or _synthetic(count),
        )
        for year in years
        if year in by_year.index
    ]


# ------------------------------------------------------------------------------ the summary
def need_table(
    growth: pd.DataFrame, household: HouseholdSize | None, kommunale: list[KommunaleNeed]
) -> pd.DataFrame:
    """The kommune's numbers per target year, with bokmål headers (for display).

    Counts are rounded to whole dwellings; the assumptions are in :func:`need_sentences`.
    """
    own = growth.loc[growth["nivaa"] == "kommune"]
    by_year = {k.target_year: k for k in kommunale}
    rows = []
    for row in own.itertuples(index=False):
        need = dwelling_need(row.endring, household.persons) if household else math.nan
        kom = by_year.get(int(row.aar))
        rows.append(
            {
                "År": int(row.aar),
                "Framskrevet befolkning": round(row.framskrevet),
                f"Endring fra {row.basisaar}": round(row.endring),
                "Endring (%)": round(row.endring_prosent, 1),
                "Boligbehov (boliger)": round(need) if not math.isnan(need) else None,
                "Kommunale boliger ved dagens dekning": round(kom.needed) if kom else None,
                "Flere kommunale boliger enn i dag": (
                    round(kom.additional) if kom and kom.additional is not None else None
                ),
            }
        )
    return pd.DataFrame(rows)


def _signed(value: float) -> str:
    return ("+" if value > 0 else "−" if value < 0 else "") + text.fmt_number(abs(value))


def need_sentences(
    place: str,
    growth: pd.DataFrame,
    household: HouseholdSize | None,
    kommunale: list[KommunaleNeed],
) -> list[str]:
    """Bokmål sentences: projected population, dwelling need and kommunale boliger.

    Each number comes with the assumption it rests on.
    """
    own = growth.loc[growth["nivaa"] == "kommune"].sort_values("aar")
    if own.empty:
        return [f"Det finnes ingen befolkningsframskriving for {place}."]
    first = own.iloc[0]
    base_year, base = int(first["basisaar"]), float(first["basis"])
    steps = " og ".join(
        f"{text.fmt_number(r.framskrevet)} i {r.aar} "
        f"({text.fmt_percent(r.endring_prosent, signed=True)})"
        for r in own.itertuples(index=False)
    )
    sentences = [
        f"Etter SSBs hovedalternativ (MMMM) går folketallet i {place} fra "
        f"{text.fmt_number(base)} i {base_year} til {steps}."
    ]
    others = growth.loc[(growth["nivaa"] != "kommune") & (growth["aar"] == own["aar"].max())]
    if not others.empty:
        compare = ", ".join(
            f"{r.sammenligning} {text.fmt_percent(r.endring_prosent, signed=True)}"
            for r in others.itertuples(index=False)
        )
        sentences.append(f"Til sammenligning fram til {int(own['aar'].max())}: {compare}.")
    if household is None:
        sentences.append(
            "Boligbehovet kan ikke beregnes: det mangler tall for privathusholdninger i kommunen."
        )
    else:
        needs = " og ".join(
            f"{_signed(dwelling_need(r.endring, household.persons))} boliger fram til {r.aar}"
            for r in own.itertuples(index=False)
        )
        sentences.append(
            f"Med {text.fmt_number(household.persons, 2)} personer per privathusholdning "
            f"(folkemengde ÷ privathusholdninger i {household.year}, holdt fast) gir "
            f"befolkningsendringen et beregnet boligbehov på {needs}. Forutsetningen er at "
            "husholdningene blir like store som i dag; færre personer per husholdning "
            "(flere eldre som bor alene) gir et større behov."
            + (SYNTHETIC_REMARK if household.synthetic else "")
        )
    if not kommunale:
        sentences.append(
            "Behovet for kommunalt disponerte boliger kan ikke beregnes: kommunen har ikke "
            "tall for slike boliger per 1000 innbyggere."
        )
    else:
        k0 = kommunale[0]
        parts = []
        for k in kommunale:
            extra = (
                f" ({_signed(k.additional)} mot {text.fmt_number(k.count)} i {k.count_year})"
                if k.additional is not None
                else ""
            )
            parts.append(f"{text.fmt_number(k.needed)} i {k.target_year}{extra}")
        sentences.append(
            f"Skal kommunen ha like mange kommunalt disponerte boliger per 1000 innbyggere som "
            f"i {k0.rate_year} ({text.fmt_number(k0.rate, 1)}), trengs det "
            f"{' og '.join(parts)}, forutsatt at behovet følger folketallet."
            + (SYNTHETIC_REMARK if k0.synthetic else "")
        )
    return sentences


# ------------------------------------------------------------------------------ for display
def growth_display(growth: pd.DataFrame) -> pd.DataFrame:
    """One row per region: population in the first year and each target year, growth in %."""
    rows = []
    for region, part in growth.groupby("sammenligning", sort=False):
        base_year = int(part["basisaar"].iloc[0])
        row: dict[str, object] = {"Område": region, str(base_year): round(part["basis"].iloc[0])}
        for r in part.itertuples(index=False):
            row[str(r.aar)] = round(r.framskrevet)
        for r in part.itertuples(index=False):
            row[f"Vekst {base_year}–{r.aar} (%)"] = round(r.endring_prosent, 1)
        rows.append(row)
    return pd.DataFrame(rows)


def age_groups(projection: pd.DataFrame) -> pd.DataFrame | None:
    """The kommune's main-alternative projection by age group, or None without ages."""
    if "alder" not in projection.columns:
        return None
    rows = main_alternative(projection)
    if "nivaa" in rows.columns:
        rows = rows.loc[rows["nivaa"] == "kommune"]
    return rows if not rows.empty else None


def alternatives(projection: pd.DataFrame) -> pd.DataFrame | None:
    """The kommune's projection per alternative (all ages), or None with only one."""
    if "alternativ" not in projection.columns or projection["alternativ"].nunique() < 2:
        return None
    rows = projection.loc[projection["nivaa"] == "kommune"] if "nivaa" in projection else projection
    return total_over_ages(rows)
