"""Indicator arithmetic on hand-made frames in the processed schema."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from boso import indicators, processed

REGIONS = [
    ("kommune", "3203", "Asker"),
    ("kostragruppe", "EKG12", "KOSTRA-gruppe 12"),
    ("fylke", "32", "Akershus"),
    ("landet", "0", "Landet"),
]


def rows(
    values: dict[str, list[float]],
    years: range = range(2018, 2023),
    indikator: str = "kommunale_boliger_per_1000",
    status: dict[tuple[str, int], str] | None = None,
    synthetic: bool = False,
) -> pd.DataFrame:
    """Comparison rows: ``values`` maps region name → one value per year (NaN = missing)."""
    out = []
    for nivaa, region, name in REGIONS:
        if name not in values:
            continue
        for year, value in zip(years, values[name], strict=True):
            symbol = (status or {}).get((name, year), "" if not math.isnan(value) else "..")
            out.append(
                {
                    "indikator": indikator,
                    "nivaa": nivaa,
                    "region": region,
                    "regionnavn": name,
                    "kommunenummer": region if nivaa == "kommune" else None,
                    "kommunenavn": name if nivaa == "kommune" else None,
                    "aar": year,
                    "verdi": float(value),
                    "status": symbol,
                    "enhet": "per 1000 innbyggere",
                    "kilde": "SSB 12008",
                    "kilde_oppdatert": "2025-06-16T06:00:00Z",
                    "hentet": "2026-11-22T19:16:46Z",
                    "syntetisk": synthetic,
                    "harmonisering": "",
                    "merknad": "",
                    "sammenligning": name,
                }
            )
    return pd.DataFrame(out)


def test_filter_years_is_inclusive_and_open_ended() -> None:
    df = rows({"Asker": [1, 2, 3, 4, 5]})
    assert indicators.filter_years(df, 2019, 2021)["aar"].tolist() == [2019, 2020, 2021]
    assert indicators.filter_years(df, None, 2019)["aar"].tolist() == [2018, 2019]
    assert indicators.filter_years(df, 2022)["aar"].tolist() == [2022]
    assert len(indicators.filter_years(df)) == 5


def test_growth_is_compound_and_uses_first_and_last_values() -> None:
    s = pd.Series([np.nan, 100.0, 110.0, np.nan, 121.0], index=range(2018, 2023))
    y0, v0, y1, v1, pct = indicators.growth(s)
    assert (y0, v0, y1, v1) == (2019, 100.0, 2022, 121.0)
    assert pct == pytest.approx((1.21 ** (1 / 3) - 1) * 100)
    # Requested end points must exist: no silent shift to other years.
    assert indicators.growth(s, 2018, 2022) is None
    assert indicators.growth(pd.Series([5.0], index=[2020])) is None


def test_endpoint_growth_measures_peers_over_the_kommunes_years() -> None:
    df = rows(
        {
            "Asker": [np.nan, 100, 105, 110.25, np.nan],
            "Akershus": [50, 50, 51, 52.02, 60],
            "Landet": [np.nan] * 5,
        }
    )
    table = indicators.endpoint_growth(df)
    assert [g.region for g in table] == ["Asker", "Akershus"]  # landet has no values
    assert table[0].percent_per_year == pytest.approx(5.0)
    assert (table[1].first_year, table[1].last_year) == (2019, 2021)
    assert table[1].percent_per_year == pytest.approx(2.0)


def test_index_series_rebases_on_first_complete_year() -> None:
    df = rows({"Asker": [np.nan, 200, 220, 240, 260], "Landet": [10, 20, 21, 22, 23]})
    out = indicators.index_series(df)
    assert out.attrs["basisaar"] == 2019
    asker = out.loc[out["sammenligning"] == "Asker"].set_index("aar")["indeks"]
    assert math.isnan(asker[2018]) and asker[2019] == 100 and asker[2022] == pytest.approx(130)
    landet = out.loc[out["sammenligning"] == "Landet"].set_index("aar")["indeks"]
    assert landet[2018] == pytest.approx(50)


def test_latest_takes_the_kommunes_latest_year_and_keeps_missing_peers_nan() -> None:
    df = rows(
        {
            "Asker": [1, 2, 3, 4, np.nan],
            "KOSTRA-gruppe 12": [1, 1, 1, np.nan, 9],
            "Landet": [5, 5, 5, 6, 7],
        }
    )
    year, values = indicators.latest(df)
    assert year == 2021
    assert values["Asker"] == 4 and values["Landet"] == 6
    assert math.isnan(values["KOSTRA-gruppe 12"])
    assert list(values) == ["Asker", "KOSTRA-gruppe 12", "Landet"]


def test_missing_years_by_symbol() -> None:
    df = rows(
        {"Asker": [1, np.nan, np.nan, 4, np.nan]},
        status={("Asker", 2019): ":", ("Asker", 2020): ":", ("Asker", 2022): ".."},
    )
    assert indicators.missing_years(df) == {"Asker": {":": [2019, 2020], "..": [2022]}}


def test_barometer_marks_against_landet() -> None:
    frames = {
        "a": rows({"Asker": [1, 2, 3, 4, 12], "Akershus": [1] * 5, "Landet": [1, 1, 1, 1, 10]}),
        "b": rows({"Asker": [5] * 5, "Landet": [10] * 5}),
        "c": rows({"Asker": [10.2] * 5, "KOSTRA-gruppe 12": [3] * 5, "Landet": [10] * 5}),
        "d": rows({"Asker": [1.0] * 5, "Landet": [np.nan] * 5}),
    }
    table = indicators.barometer(frames, {"a": "Indikator A"})
    assert table.columns.tolist() == [
        "Indikator",
        "År",
        "Asker",
        "KOSTRA-gruppen",
        "Fylket",
        "Landet",
        "Mot landet",
        "Enhet",
    ]
    marks = dict(zip(table["Indikator"], table["Mot landet"], strict=True))
    assert marks == {
        "Indikator A": "▲ over landet",
        "b": "▼ under landet",
        "c": "≈ om lag som landet",
        "d": "ikke sammenlignbart",
    }
    assert math.isnan(table.loc[table["Indikator"] == "b", "Fylket"].iloc[0])


def test_provenance_collects_sources_dates_and_synthetic_flag() -> None:
    a = rows({"Asker": [1] * 5})
    b = rows({"Asker": [1] * 5}, synthetic=True).assign(kilde="SSB 07459")
    prov = indicators.provenance(a, b)
    assert prov.sources == ["SSB 12008", "SSB 07459"]
    assert prov.retrieved == "2026-11-22" and prov.updated == "2025-06-16"
    assert prov.synthetic is True
    assert indicators.provenance(a).synthetic is False


def test_prepare_makes_labels_unique_and_plain_strings() -> None:
    df = rows({"Asker": [1] * 5, "Akershus": [2] * 5}).replace(
        {"Asker": "Oslo", "Akershus": "Oslo"}
    )
    df["sammenligning"] = pd.Categorical(df["sammenligning"])
    out = indicators.prepare(df)
    assert not isinstance(out["sammenligning"].dtype, pd.CategoricalDtype)
    assert indicators.region_order(out) == ["Oslo", "Oslo (fylke)"]
    assert indicators.wide(out).columns.tolist() == ["Oslo", "Oslo (fylke)"]


def _write_processed(root, regions: pd.DataFrame, frame: pd.DataFrame) -> None:
    out = root / "data" / "processed"
    processed.write_table(regions, "core_klass__kommuner", out)
    processed.write_table(frame, "out_boso__kommunale_boliger_per_1000", out)


def test_comparison_for_oslo_whose_kommune_and_fylke_share_a_name(project) -> None:
    registry = pd.DataFrame(
        {
            "kommunenummer": ["0301"],
            "kommunenavn": ["Oslo"],
            "fylkesnummer": ["03"],
            "fylkesnavn": ["Oslo"],
            "kostragruppe": ["EKG13"],
            "kostragruppenavn": ["KOSTRA-gruppe 13"],
        }
    )
    df = rows({"Asker": [1, 2, 3, 4, 5], "Akershus": [2] * 5, "Landet": [3] * 5})
    df = df.drop(columns="sammenligning")
    df.loc[df["nivaa"] == "kommune", ["region", "kommunenummer"]] = "0301"
    df.loc[df["nivaa"] == "fylke", "region"] = "03"
    df = df.replace({"Asker": "Oslo", "Akershus": "Oslo"})
    _write_processed(project, registry, df)
    out = indicators.comparison("kommunale_boliger_per_1000", "0301", aar_fra=2020)
    assert indicators.region_order(out) == ["Oslo", "Oslo (fylke)", "Landet"]
    kommune = out.loc[out["sammenligning"] == "Oslo"]
    assert kommune["verdi"].tolist() == [3, 4, 5]


def test_index_base_ignores_regions_without_any_values() -> None:
    df = rows({"Asker": [np.nan, 50, 60, 70, 80], "Landet": [np.nan] * 5})
    out = indicators.index_series(df)
    assert out.attrs["basisaar"] == 2019
    assert out.loc[out["sammenligning"] == "Landet", "indeks"].isna().all()


# ------------------------------------------------------------------------------ gap reasons
NAN = float("nan")


def test_gap_reasons_come_from_the_rows_own_flags() -> None:
    df = rows(
        {"Asker": [NAN, NAN, 5.0, NAN, 7.0], "Akershus": [NAN] * 5, "Landet": [1.0] * 5},
        status={("Asker", 2021): ":"},
    )
    df.loc[(df["sammenligning"] == "Asker") & (df["aar"] < 2020), "harmonisering"] = "deling"
    reasons = indicators.gap_reasons(df)
    by_row = dict(zip(zip(df["sammenligning"], df["aar"], strict=True), reasons, strict=True))
    assert by_row[("Asker", 2018)] == by_row[("Asker", 2019)] == "deling"
    assert by_row[("Asker", 2021)] == ":"
    assert by_row[("Asker", 2020)] == "" and by_row[("Landet", 2018)] == ""
    assert {by_row[("Akershus", y)] for y in range(2018, 2023)} == {"ikke_publisert_nivaa"}
    assert indicators.missing_years(df)["Asker"] == {"deling": [2018, 2019], ":": [2021]}


def test_gap_reasons_of_a_rate_look_at_numerator_and_denominator() -> None:
    # The rate ends in 2022 because the denominator (population) ends in 2020 + offset 1;
    # the KOSTRA group has no population rows at all; 2018 is missing in the numerator.
    rate = rows({"Asker": [NAN, 2.0, 2.1, NAN, NAN], "KOSTRA-gruppe 12": [NAN] * 5})
    numerator = rows({"Asker": [NAN, 20.0, 21.0, 22.0, 23.0], "KOSTRA-gruppe 12": [9.0] * 5})
    numerator.loc[numerator["aar"] == 2018, "harmonisering"] = "deling"
    denominator = rows({"Asker": [10.0, 10.0, 10.0, NAN, NAN]}, years=range(2019, 2024))
    denominator = denominator.loc[denominator["verdi"].notna()]
    reasons = indicators.gap_reasons(rate, numerator, denominator, denominator_year_offset=1)
    own = rate["sammenligning"] == "Asker"
    asker = dict(zip(rate.loc[own, "aar"], reasons[own], strict=True))
    assert asker[2018] == "deling"
    assert asker[2019] == asker[2020] == ""
    assert asker[2021] == asker[2022] == "nevner_ikke_publisert"
    assert set(reasons[~own]) == {"nevner_nivaa"}
    # A kommune founded after the denominator's last year: "not published yet", not "never".
    new = rows({"Asker": [NAN] * 5}).assign(region="3999")
    late = indicators.gap_reasons(new, None, denominator, denominator_year_offset=1)
    assert list(late) == ["nevner_nivaa"] * 3 + ["nevner_ikke_publisert"] * 2


def test_gap_reasons_name_a_denominator_other_than_the_population() -> None:
    from boso import text

    share = rows({"Asker": [20.0, NAN]}, years=range(2022, 2024))
    households = rows({"Asker": [100.0]}, years=range(2022, 2023))
    reasons = indicators.gap_reasons(share, None, households, 0, "privathusholdninger")
    assert list(reasons) == ["", "nevner_ikke_publisert:privathusholdninger"]
    note = text.missing_note({"nevner_ikke_publisert:privathusholdninger": [2024]}, "Asker")
    assert note == (
        "Asker: uten tall i 2024 (tallet for privathusholdninger som raten regnes ut fra, "
        "er ikke publisert ennå)."
    )
