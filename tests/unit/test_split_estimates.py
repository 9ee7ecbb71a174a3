"""Split kommuner and projections in the build, on small hand-made tables.

Ålesund (1507, itself Ålesund 1504 + Haram 1534 from 2020) was split in 2024 into 1508 Ålesund
and 1580 Haram: a *pure* split, so each part's earlier counts are estimated by its share of the
population on 1 January 2024. Snillfjord (5012) was divided in 2020 between 5055 Heim and 5056
Hitra, which also took in other kommuner: the parts are unknown and stay missing.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from boso import build
from boso import kommune as km
from boso.catalog import load_catalog


def change(old: str, new: str, when: str) -> dict[str, str]:
    return {"oldCode": old, "oldName": old, "newCode": new, "newName": new, "changeOccurred": when}


CHANGES = km.parse_changes(
    {
        "codeChanges": [
            change("1504", "1507", "2020-01-01"),
            change("1534", "1507", "2020-01-01"),
            change("5011", "5055", "2020-01-01"),
            change("5012", "5055", "2020-01-01"),
            change("5012", "5056", "2020-01-01"),
            change("5013", "5056", "2020-01-01"),
            change("1507", "1508", "2024-01-01"),
            change("1507", "1580", "2024-01-01"),
        ]
    }
)
CURRENT = ["1508", "1580", "5055", "5056"]
POP_2024 = {"1508": 67000.0, "1580": 9500.0, "5055": 6000.0, "5056": 5200.0}


def code_map() -> km.CodeMap:
    return km.CodeMap(CHANGES, target_year=2024)


def source(rows: list[tuple], dims: tuple[str, ...] = ()) -> build.SourceTable:
    frame = pd.DataFrame(rows, columns=["region", *dims, "aar", "verdi", "status"])
    return build.SourceTable(
        frame=frame,
        region_labels={},
        dimension_labels={d: {} for d in dims},
        region_notes={},
        updated="2024-06-13",
        fetched="2026-12-01",
        synthetic=False,
        label="test",
    )


def context(tables: dict[str, build.SourceTable]) -> build.BuildContext:
    codes = pd.DataFrame({"kommunenummer": CURRENT, "kommunenavn": CURRENT})
    groups = pd.DataFrame(
        {
            "kommunenummer": CURRENT,
            "kostragruppe": ["EKG13", "EKG02", "EKG02", "EKG02"],
            "kostragruppenavn": ["KOSTRA-gruppe 13", "KOSTRA-gruppe 2"] + ["KOSTRA-gruppe 2"] * 2,
        }
    )
    ctx = build.BuildContext(
        store=None,  # type: ignore[arg-type] - every table is given below
        registry=km.registry(codes, groups),
        code_map=code_map(),
        structures={2020: set(), 2024: set(CURRENT)},
    )
    for file, table in tables.items():
        ctx.tables[("ssb", file, "")] = table
    return ctx


def projection_table(alternatives=("MMMM",), ages=None) -> build.SourceTable:
    rows = []
    ages = ages or [None]
    for code, pop in POP_2024.items():
        for alt_i, alt in enumerate(alternatives):
            for age_i, age in enumerate(ages):
                share = 1 / len(ages)
                for year, growth in ((2024, 1.0), (2035, 1.05 + alt_i / 100), (2050, 1.1)):
                    value = round(pop * share * (growth if year > 2024 else 1.0) + age_i, 0)
                    rows.append((code, alt, *([age] if age else []), year, value, ""))
    dims = ("ContentsCode", "Alder") if ages != [None] else ("ContentsCode",)
    return source(rows, dims)


def population_table() -> build.SourceTable:
    """07459-like: old codes before 2020, 2020-2023 codes after; no 2024 column."""
    rows = [
        ("1504", "Personer1", 2019, 47000.0, ""),
        ("1534", "Personer1", 2019, 9000.0, ""),
        ("5011", "Personer1", 2019, 4300.0, ""),
        ("5012", "Personer1", 2019, 980.0, ""),
        ("5013", "Personer1", 2019, 4800.0, ""),
        ("1507", "Personer1", 2021, 66500.0, ""),
        ("5055", "Personer1", 2021, 5900.0, ""),
        ("5056", "Personer1", 2021, 5100.0, ""),
    ]
    return source(rows, ("ContentsCode",))


def test_shares_exist_only_for_a_pure_split() -> None:
    population = pd.DataFrame(
        {"kommunenummer": list(POP_2024), "aar": 2024, "verdi": list(POP_2024.values())}
    )
    shares = km.split_shares(code_map(), population)
    total = POP_2024["1508"] + POP_2024["1580"]
    assert shares.set_index("maalkode")["andel"].to_dict() == pytest.approx(
        {"1508": POP_2024["1508"] / total, "1580": POP_2024["1580"] / total}
    )
    assert set(shares["kode"]) == {"1507"} and set(shares["aar"]) == {2024}
    # Without the successors' population at the split there is nothing to share by.
    assert km.split_shares(code_map(), population.loc[population["aar"] == 2023]).empty


def test_counts_of_a_split_kommune_are_estimated_by_population_share() -> None:
    ctx = context({"07459.json": population_table(), "14288.json": projection_table()})
    result = build.compute_indicator(ctx, load_catalog()["befolkning"])
    kommune = result.loc[result["nivaa"] == "kommune"].set_index(["region", "aar"])
    share_1580 = POP_2024["1580"] / (POP_2024["1508"] + POP_2024["1580"])
    # 2019: old Ålesund + old Haram, through 1507, then shared out.
    assert kommune.loc[("1580", 2019), "verdi"] == pytest.approx((47000 + 9000) * share_1580)
    assert kommune.loc[("1508", 2021), "verdi"] == pytest.approx(66500 * (1 - share_1580))
    assert kommune.loc[("1580", 2019), "harmonisering"] == "estimert"
    # Heim and Hitra took in more than the split Snillfjord: 2019 cannot be estimated.
    assert math.isnan(kommune.loc[("5055", 2019), "verdi"])
    assert kommune.loc[("5055", 2019), "harmonisering"] == "deling"
    assert kommune.loc[("5055", 2021), "verdi"] == 5900.0
    # Regions sum what was published, not the estimates: landet is exact.
    landet = result.loc[result["nivaa"] == "landet"].set_index("aar")["verdi"]
    assert landet[2019] == 47000 + 9000 + 4300 + 980 + 4800
    assert landet[2021] == 66500 + 5900 + 5100


def test_a_split_kommunes_rate_is_its_own_rate_not_a_share() -> None:
    rates = source(
        [
            ("1504", "EUskala60", 2019, 10.0, ""),
            ("1534", "EUskala60", 2019, 12.0, ""),
            ("1507", "EUskala60", 2021, 11.0, ""),
            ("1508", "EUskala60", 2024, 10.5, ""),
        ],
        ("ContentsCode",),
    )
    ctx = context(
        {
            "07459.json": population_table(),
            "14288.json": projection_table(),
            "08764.json": rates,
        }
    )
    result = build.compute_indicator(ctx, load_catalog()["lavinntekt_barn"])
    kommune = result.loc[result["nivaa"] == "kommune"].set_index(["region", "aar"])
    for code in ("1508", "1580"):
        assert kommune.loc[(code, 2021), "verdi"] == 11.0
        assert kommune.loc[(code, 2021), "harmonisering"] == "estimert"
        # Two predecessors' rates are never summed or averaged.
        assert math.isnan(kommune.loc[(code, 2019), "verdi"])
    assert kommune.loc[("1508", 2024), "verdi"] == 10.5
    assert kommune.loc[("1508", 2024), "harmonisering"] == ""


def test_projection_with_alternatives_and_age_groups() -> None:
    ages = ["000", "019", "020", "066", "067", "105+"]
    ctx = context(
        {
            "07459.json": population_table(),
            "14288.json": projection_table(("MMMM", "LLML", "HHMH"), ages),
        }
    )
    indicator = load_catalog()["befolkning_framskrevet"]
    labelled = build.label_indicator(ctx, indicator, build.compute_indicator(ctx, indicator))
    assert {"alternativ", "alternativ_navn", "alder", "alder_navn"} <= set(labelled.columns)
    assert set(labelled["alternativ"]) == {"MMMM", "LLML", "HHMH"}
    assert set(labelled["alder"]) == {"0-19", "20-44", "45-66", "67-79", "80-"}
    names = dict(zip(labelled["alder"], labelled["alder_navn"], strict=True))
    assert names["0-19"] == "0–19 år" and names["80-"] == "80 år og eldre"
    raw = ctx.tables[("ssb", "14288.json", "")].frame
    kommune = labelled.loc[(labelled["nivaa"] == "kommune") & (labelled["region"] == "1508")]
    for alt in ("MMMM", "HHMH"):
        expected = raw.loc[
            (raw["region"] == "1508") & (raw["ContentsCode"] == alt) & (raw["aar"] == 2050),
            "verdi",
        ].sum()
        got = kommune.loc[(kommune["alternativ"] == alt) & (kommune["aar"] == 2050), "verdi"]
        assert got.sum() == expected
    young = raw.loc[
        (raw["region"] == "1580")
        & (raw["ContentsCode"] == "MMMM")
        & (raw["aar"] == 2024)
        & raw["Alder"].isin(["000", "019"]),
        "verdi",
    ].sum()
    row = labelled.loc[
        (labelled["region"] == "1580")
        & (labelled["alternativ"] == "MMMM")
        & (labelled["alder"] == "0-19")
        & (labelled["aar"] == 2024)
    ]
    assert row["verdi"].item() == young
    landet = labelled.loc[(labelled["nivaa"] == "landet") & (labelled["aar"] == 2050)]
    mmmm = raw.loc[(raw["ContentsCode"] == "MMMM") & (raw["aar"] == 2050), "verdi"].sum()
    assert landet.loc[landet["alternativ"] == "MMMM", "verdi"].sum() == mmmm


def test_projection_with_one_alternative_has_no_alternativ_column() -> None:
    ctx = context({"07459.json": population_table(), "14288.json": projection_table()})
    indicator = load_catalog()["befolkning_framskrevet"]
    labelled = build.label_indicator(ctx, indicator, build.compute_indicator(ctx, indicator))
    assert "alternativ" not in labelled.columns and "alder" not in labelled.columns
    asker = labelled.loc[labelled["region"] == "1508"].set_index("aar")["verdi"]
    assert asker[2024] == POP_2024["1508"]
    assert labelled["status"].isin(["", "..", ".", ":", "-"]).all()
    assert not np.isnan(asker[2050])


def test_age_codes_outside_every_group_are_refused() -> None:
    with pytest.raises(Exception, match="utenfor"):
        build.group_codes(pd.Series(["005", "150"]), ["0-19", "20-99"])
    grouped = build.group_codes(pd.Series(["005", "105+", "Total"]), ["0-19", "20-"])
    assert grouped.tolist() == ["0-19", "20-", "Total"]
