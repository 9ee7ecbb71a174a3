"""Framtidig boligbehov: projection growth, dwelling need and kommunale boliger arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from boso import figures, housing_need

REGIONS = {"Asker": "kommune", "KOSTRA-gruppe 12": "kostragruppe", "Landet": "landet"}


def projection(values: dict[str, list[float]], years: list[int], **extra: object) -> pd.DataFrame:
    """Projection rows like indicators.comparison returns them."""
    rows = []
    for region, series in values.items():
        for year, value in zip(years, series, strict=True):
            rows.append(
                {
                    "indikator": "befolkning_framskrevet",
                    "sammenligning": region,
                    "regionnavn": region,
                    "nivaa": REGIONS[region],
                    "kommunenummer": "3203" if region == "Asker" else None,
                    "aar": year,
                    "verdi": value,
                    "status": "" if not math.isnan(value) else "..",
                    "kilde": "SSB 14288",
                    "enhet": "personer",
                    "syntetisk": False,
                    "harmonisering": "",
                    **extra,
                }
            )
    return pd.DataFrame(rows)


def history(values: dict[str, list[float]], years: list[int], **kwargs: object) -> pd.DataFrame:
    return projection(values, years, **kwargs).assign(indikator="befolkning", kilde="SSB 07459")


def test_growth_to_2035_and_2050_from_the_first_projection_year() -> None:
    df = projection(
        {"Asker": [1000.0, 1100.0, 1250.0], "Landet": [50000.0, 51000.0, 49000.0]},
        [2024, 2035, 2050],
    )
    growth = housing_need.projected_growth(df).set_index(["sammenligning", "aar"])
    asker = growth.loc[("Asker", 2050)]
    assert asker["basisaar"] == 2024 and asker["basis"] == 1000.0
    assert asker["endring"] == 1250.0 - 1000.0
    assert asker["endring_prosent"] == pytest.approx((1250 - 1000) / 1000 * 100)
    landet = growth.loc[("Landet", 2050)]
    assert landet["endring"] == 49000.0 - 50000.0 and landet["endring_prosent"] < 0
    assert set(growth.index.get_level_values("aar")) == {2035, 2050}


def test_main_alternative_and_age_groups_are_summed_before_growth() -> None:
    years = [2024, 2050]
    parts = []
    for alternative, factor in (("MMMM", 1.0), ("HHMH", 2.0)):
        for age, base in (("0-19", 300.0), ("20-66", 600.0), ("67-", 100.0)):
            parts.append(
                projection({"Asker": [base, base * 1.1 * factor]}, years).assign(
                    alternativ=alternative, alder=age, alder_navn=age
                )
            )
    df = pd.concat(parts, ignore_index=True)
    totals = housing_need.projection_totals(df)
    assert totals.set_index("aar")["verdi"].to_dict() == {2024: 1000.0, 2050: 1000.0 * 1.1}
    growth = housing_need.projected_growth(df)
    assert growth["endring"].tolist() == [pytest.approx(100.0)]
    # One missing age group makes the total missing, never a partial sum.
    gap = df.copy()
    gap.loc[(gap["alder"] == "67-") & (gap["aar"] == 2050), ["verdi", "status"]] = [np.nan, ":"]
    total = housing_need.projection_totals(gap).set_index("aar")
    assert math.isnan(total.loc[2050, "verdi"]) and total.loc[2050, "status"] == ":"
    assert housing_need.age_groups(df)["alternativ"].unique().tolist() == ["MMMM"]
    assert set(housing_need.alternatives(df)["alternativ"]) == {"MMMM", "HHMH"}


def test_persons_per_household_uses_the_latest_common_year() -> None:
    population = history({"Asker": [900.0, 950.0, 1000.0]}, [2020, 2021, 2022])
    households = history({"Asker": [400.0, 420.0]}, [2019, 2021]).assign(syntetisk=True)
    size = housing_need.persons_per_household(population, households)
    assert size.year == 2021 and size.persons == pytest.approx(950.0 / 420.0)
    assert size.synthetic
    assert housing_need.persons_per_household(population, households.iloc[:1]) is None


def test_registered_population_takes_the_projection_start_year() -> None:
    hist = history({"Asker": [900.0, 950.0]}, [2021, 2022])
    proj = projection({"Asker": [1000.0, 1200.0]}, [2024, 2050])
    both = housing_need.registered_population(hist, proj)
    assert both.set_index("aar")["verdi"].to_dict() == {2021: 900.0, 2022: 950.0, 2024: 1000.0}


def test_dwelling_need_is_growth_over_household_size() -> None:
    assert housing_need.dwelling_need(1000.0, 2.5) == 1000.0 / 2.5
    assert housing_need.dwelling_need(-500.0, 2.0) == -250.0
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            housing_need.dwelling_need(100.0, bad)


def test_kommunale_boliger_needed_at_todays_rate() -> None:
    rate = history({"Asker": [19.0, 20.0, np.nan]}, [2022, 2023, 2024])
    count = history({"Asker": [1900.0, 1990.0]}, [2022, 2023])
    proj = projection({"Asker": [100000.0, 110000.0, 120000.0]}, [2024, 2035, 2050])
    need = housing_need.kommunale_boliger_needed(rate, count, proj)
    assert [n.target_year for n in need] == [2035, 2050]
    # The latest year *with a value* is today's rate.
    assert need[0].rate_year == 2023 and need[0].rate == 20.0
    assert need[1].needed == pytest.approx(20.0 * 120000.0 / 1000)
    assert need[1].additional == pytest.approx(20.0 * 120000.0 / 1000 - 1990.0)
    assert housing_need.kommunale_boliger_needed(rate.iloc[2:], count, proj) == []


def test_sentences_state_the_numbers_and_assumptions() -> None:
    proj = projection(
        {"Asker": [98815.0, 105454.0, 112954.0], "Landet": [5.5e6, 5.8e6, 6.1e6]},
        [2024, 2035, 2050],
    )
    growth = housing_need.projected_growth(proj)
    size = housing_need.HouseholdSize(2024, 98815.0, 45000.0, synthetic=True)
    rate = history({"Asker": [20.0]}, [2024]).assign(syntetisk=True)
    count = history({"Asker": [1986.0]}, [2024]).assign(syntetisk=True)
    need = housing_need.kommunale_boliger_needed(rate, count, proj)
    text = " ".join(housing_need.need_sentences("Asker", growth, size, need))
    assert "112 954 i 2050" in text and "98 815 i 2024" in text
    expected_need = round(housing_need.dwelling_need(112954.0 - 98815.0, size.persons))
    assert f"+{expected_need:,}".replace(",", " ") + " boliger fram til 2050" in text
    assert "privathusholdninger i 2024, holdt fast" in text
    assert "Syntetiske demotall" in text
    table = housing_need.need_table(growth, size, need)
    assert table.loc[table["År"] == 2050, "Boligbehov (boliger)"].item() == expected_need
    no_data = housing_need.need_sentences("Asker", growth, None, [])
    assert any("kan ikke beregnes" in s for s in no_data)


def test_history_and_projection_make_one_line_with_a_dashed_part() -> None:
    hist = history({"Asker": [900.0, 950.0, 980.0]}, [2020, 2021, 2022])
    proj = projection({"Asker": [990.0, 1000.0, 1100.0]}, [2022, 2024, 2050])
    combined = housing_need.history_with_projection(hist, proj)
    assert combined.loc[combined["framskrevet"], "aar"].tolist() == [2024, 2050]
    assert combined.loc[combined["aar"] == 2022, "verdi"].tolist() == [980.0]
    chart = figures.history_projection(combined)
    solid, dashed = chart.fig.data
    assert solid.line.dash == "solid" and list(solid.x) == [2020, 2021, 2022]
    # The dashed projection starts from the last registered point, so the line is unbroken.
    assert dashed.line.dash == "dash" and list(dashed.x) == [2022, 2024, 2050]
    assert "1 100 i 2050" in chart.finding
    assert "Stiplet linje" in chart.caption
