"""boso.register analyses on small hand-made registers: stock, død tid, rent, suppression, map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon

from boso.errors import DataError, QueryError
from boso.register import (
    RegisterImport,
    ValidationReport,
    publication_tables,
    read_register,
    register_map,
    rent_per_m2,
    rent_vs_market,
    stock_summary,
    suppress_small,
    vacancy,
)
from boso.register.analysis import vacant_band


def make_register(dwellings: list[dict], tenancies: list[tuple], *, synthetic=False, export=None):
    base = {
        "kommunenummer": "0301",
        "adresse": None,
        "bolignr": None,
        "boligtype": "Leilighet",
        "maalgruppe": "Flyktninger",
        "antall_rom": 2,
        "storrelse": "2 rom",
        "bra_m2": 50.0,
        "arealgruppe": "50–69 m²",
        "maanedsleie": 8000.0,
        "eierform": "Kommunalt eid",
        "status": "Utleid",
        "x": 262000.0,
        "y": 6650000.0,
        "syntetisk": synthetic,
    }
    d = pd.DataFrame([base | {"adresse": f"Gate {row['bolig_id']}"} | row for row in dwellings])
    t = pd.DataFrame(tenancies, columns=["bolig_id", "innflyttet", "utflyttet"])
    for col in ("innflyttet", "utflyttet"):
        t[col] = pd.to_datetime(t[col])
    t["kommunenummer"] = "0301"
    t["syntetisk"] = synthetic
    report = ValidationReport(file="test.csv", kommunenummer="0301", synthetic=synthetic)
    report.export_date = export
    return RegisterImport(d, t, report, "EPSG:25833")


# ---------------------------------------------------------------------------- suppress_small


def test_suppress_small_hides_one_and_two_keeps_zero_and_status():
    df = pd.DataFrame(
        {
            "gruppe": list("abcdef"),
            "antall": [0, 1, 2, 3, np.nan, 10],
            "andel": [0.0, 6.25, 12.5, 18.75, np.nan, 62.5],
            "status": ["", "", "", "", "..", ""],
        }
    )
    out = suppress_small(df, "antall", dependent_cols=["andel"])
    assert out["antall"].tolist()[0] == 0
    assert np.isnan(out["antall"].iloc[1]) and np.isnan(out["antall"].iloc[2])
    assert out["antall"].iloc[3] == 3 and out["antall"].iloc[5] == 10
    assert np.isnan(out["andel"].iloc[1]) and out["andel"].iloc[3] == 18.75
    assert out["status"].tolist() == ["", ":", ":", "", "..", ""]
    assert df["antall"].iloc[1] == 1  # the input is not modified


def test_suppress_small_threshold_and_several_count_columns():
    df = pd.DataFrame({"a": [4, 5, 9], "b": [9, 9, 4]})
    out = suppress_small(df, ["a", "b"], threshold=5)
    assert out["status"].tolist() == [":", "", ":"]
    assert np.isnan(out.loc[0, "a"]) and out.loc[0, "b"] == 9
    assert np.isnan(out.loc[2, "b"]) and out.loc[1, "a"] == 5
    with pytest.raises(QueryError):
        suppress_small(df, "c")


# ---------------------------------------------------------------------------- stock


def test_stock_summary_counts_shares_and_suppression():
    dwellings = (
        [{"bolig_id": f"L{i}"} for i in range(6)]
        + [{"bolig_id": f"H{i}", "boligtype": "Hybel"} for i in range(3)]
        + [{"bolig_id": "E1", "boligtype": "Enebolig"}]
        + [{"bolig_id": "S1", "boligtype": "Enebolig", "status": "Avhendet"}]
        + [{"bolig_id": "U1", "boligtype": None}]
    )
    reg = make_register(dwellings, [], synthetic=True)
    table = stock_summary(reg, "boligtype", all_dwellings=1100)
    rows = table.set_index("boligtype")
    assert rows.loc["Leilighet", "antall"] == 6
    # Enebolig + Uoppgitt = 11 - 6 - 3 = 2 would reveal both: the next smallest (Hybel) goes too.
    assert np.isnan(rows.loc["Hybel", "antall"]) and rows.loc["Hybel", "status"] == ":"
    assert rows.loc["I alt", "antall"] == 11  # the sold dwelling is not stock
    assert rows.loc["Leilighet", "andel"] == pytest.approx(6 / 11 * 100)
    assert rows.loc["I alt", "andel_av_alle_boliger"] == pytest.approx(1.0)
    # Enebolig (1) and Uoppgitt (1) are below 3: hidden with ":" — shares too.
    for label in ("Enebolig", "Uoppgitt"):
        assert np.isnan(rows.loc[label, "antall"]) and rows.loc[label, "status"] == ":"
        assert np.isnan(rows.loc[label, "andel"])
    assert table["syntetisk"].all()
    raw = stock_summary(reg, "boligtype", suppress=False, total=False).set_index("boligtype")
    assert raw.loc["Enebolig", "antall"] == 1 and "I alt" not in raw.index
    assert raw.loc["Hybel", "antall"] == 3


def test_stock_summary_by_two_columns_and_bad_column():
    reg = make_register(
        [{"bolig_id": f"A{i}", "eierform": "Innleid"} for i in range(4)]
        + [{"bolig_id": f"B{i}"} for i in range(3)],
        [],
    )
    table = stock_summary(reg, ["eierform", "boligtype"])
    assert table.iloc[0][["eierform", "boligtype", "antall"]].tolist() == [
        "Innleid",
        "Leilighet",
        4.0,
    ]
    with pytest.raises(QueryError):
        stock_summary(reg, "adresse")
    with pytest.raises(DataError):
        stock_summary(reg, "boligtype", all_dwellings=0)


# ---------------------------------------------------------------------------- vacancy


@pytest.fixture
def vacancy_register():
    dwellings = [
        {"bolig_id": "A", "adresse": "Aveien 1"},
        {"bolig_id": "B", "adresse": "Bveien 2", "boligtype": "Hybel", "status": "Ledig"},
        {"bolig_id": "C", "adresse": "Cveien 3"},
        {"bolig_id": "D", "adresse": "Dveien 4", "status": "Ledig"},
    ]
    tenancies = [
        ("A", "2020-01-01", "2020-03-01"),
        ("A", "2020-03-11", "2021-01-10"),  # 10 days død tid
        ("A", "2021-02-09", None),  # 30 days
        ("B", "2019-06-01", "2020-12-01"),  # still empty at as_of: 182 days
        ("C", "2019-01-01", "2019-12-01"),
        ("C", "2020-06-28", None),  # 210 days
        ("D", "2020-01-01", "2021-05-20"),  # empty 12 days at as_of
    ]
    return make_register(dwellings, tenancies, export="2021-06-01")


def test_vacancy_periods_median_and_long_vacant(vacancy_register):
    v = vacancy(vacancy_register, suppress=False)
    assert v.as_of == pd.Timestamp("2021-06-01")
    done = v.periods[~v.periods["pagaar"]].sort_values("dager")
    assert done["dager"].tolist() == [10, 30, 210]
    assert v.median_days == 30
    ongoing = v.periods[v.periods["pagaar"]].set_index("bolig_id")
    assert ongoing.loc["B", "dager"] == 182 and ongoing.loc["D", "dager"] == 12
    assert v.vacant_now == 2
    # Listed by address only — nothing about who lived there.
    assert list(v.long_vacant.columns) == ["adresse", "boligtype", "ledig_siden", "dager"]
    assert v.long_vacant["adresse"].tolist() == ["Bveien 2"]
    assert v.long_vacant["ledig_siden"].iloc[0] == pd.Timestamp("2020-12-01")
    dist = v.distribution.set_index("periode")["antall"]
    assert dist["8–30 dager"] == 2 and dist["over 180 dager"] == 1 and dist["0–7 dager"] == 0
    by_type = v.by_type.set_index("boligtype")
    assert by_type.loc["Leilighet", "perioder"] == 3
    assert by_type.loc["Leilighet", "median_dager"] == 30


def test_vacancy_year_end(vacancy_register):
    v = vacancy(vacancy_register, suppress=False)
    # Earliest move-out is in 2019, so year ends 2019 and 2020 (2021-12-31 is after as_of).
    ye = v.year_end.set_index("aar")
    assert ye.index.tolist() == [2019, 2020]
    # 31.12.2019: only B and C had had tenants (A and D enter the stock in 2020); C moved
    # out 01.12.2019 → 1 of 2 vacant.
    assert ye.loc[2019, "boliger"] == 2
    assert ye.loc[2019, "ledige"] == 1 and ye.loc[2019, "ledighetsgrad"] == 50.0
    # 31.12.2020: A, C, D let; B empty since 01.12.2020.
    assert ye.loc[2020, "boliger"] == 4
    assert ye.loc[2020, "ledige"] == 1 and ye.loc[2020, "ledighetsgrad"] == 25.0


def test_vacancy_suppresses_small_published_counts(vacancy_register):
    v = vacancy(vacancy_register)
    assert (v.year_end["status"] == ":").all() and v.year_end["ledighetsgrad"].isna().all()
    dist = v.distribution.set_index("periode")
    assert dist.loc["8–30 dager", "status"] == ":" and np.isnan(dist.loc["8–30 dager", "andel"])
    assert dist.loc["0–7 dager", "antall"] == 0  # zero is not suppressed
    assert v.by_type.set_index("boligtype").loc["Leilighet", "median_dager"] == 30


def test_vacancy_as_of_defaults_to_latest_date_and_can_be_set(vacancy_register):
    reg = vacancy_register
    reg.report.export_date = None
    assert vacancy(reg).as_of == pd.Timestamp("2021-05-20")
    early = vacancy(reg, as_of="2020-06-30", suppress=False)
    # Tenancies starting after as_of are ignored: A's second gap (ends 2021) is not there.
    assert early.periods[~early.periods["pagaar"]]["dager"].tolist() == [10, 210]
    assert early.periods[early.periods["pagaar"]]["bolig_id"].tolist() == []


def test_vacancy_overlapping_tenancies_are_not_negative_gaps():
    reg = make_register(
        [{"bolig_id": "A"}],
        [("A", "2020-01-01", "2020-06-01"), ("A", "2020-05-01", None)],
        export="2021-01-01",
    )
    assert vacancy(reg).periods.empty


# ---------------------------------------------------------------------------- rent


def test_rent_per_m2_medians_and_suppression():
    reg = make_register(
        [
            {"bolig_id": "A", "maanedsleie": 5000.0, "bra_m2": 50.0},
            {"bolig_id": "B", "maanedsleie": 6000.0, "bra_m2": 50.0},
            {"bolig_id": "C", "maanedsleie": 9000.0, "bra_m2": 60.0},
            {"bolig_id": "D", "maanedsleie": 4000.0, "bra_m2": 20.0, "boligtype": "Hybel"},
            {"bolig_id": "E", "maanedsleie": np.nan, "bra_m2": 20.0, "boligtype": "Hybel"},
            {"bolig_id": "F", "maanedsleie": 3000.0, "bra_m2": 0.0, "boligtype": "Hybel"},
        ],
        [],
    )
    published = rent_per_m2(reg).set_index("boligtype")
    assert published.loc["Hybel", "status"] == ":"
    # Hybel = I alt - Leilighet = 4 - 3 would reveal it: Leilighet is hidden as well.
    assert published.loc["Leilighet", "status"] == ":" and published.loc["I alt", "antall"] == 4
    assert np.isnan(published.loc["Hybel", "median_kr_m2_mnd"])
    table = rent_per_m2(reg, suppress=False).set_index("boligtype")
    assert table.loc["Leilighet", "antall"] == 3
    assert table.loc["Leilighet", "median_kr_m2_mnd"] == pytest.approx(120.0)
    assert table.loc["Leilighet", "median_kr_m2_aar"] == pytest.approx(1440.0)
    assert table.loc["Leilighet", "median_maanedsleie"] == 6000
    assert table.loc["I alt", "antall"] == 4  # missing rent and zero area left out
    assert table.loc["I alt", "median_kr_m2_mnd"] == pytest.approx(135.0)  # 100 120 150 200


def test_rent_vs_market_is_a_gross_yield_on_the_register_year():
    reg = make_register(
        [{"bolig_id": c, "maanedsleie": 5000.0, "bra_m2": 50.0} for c in "ABC"],
        [],
        export="2023-11-04",
    )
    market = pd.DataFrame({"aar": [2022, 2023, 2024], "verdi": [50000.0, 60000.0, np.nan]})
    table = rent_vs_market(reg, market).set_index("aar")
    assert table.loc[2023, "leie_kr_m2_aar"] == pytest.approx(1200.0)
    assert table.loc[2023, "brutto_avkastning"] == pytest.approx(2.0)
    assert np.isnan(table.loc[2022, "leie_kr_m2_aar"])
    assert table.loc[2022, "salgspris_kr_m2"] == 50000
    with pytest.raises(DataError, match="flere rader per år"):
        rent_vs_market(reg, pd.concat([market, market]))
    with pytest.raises(DataError, match="aar og verdi"):
        rent_vs_market(reg, market.rename(columns={"verdi": "pris"}))


# ---------------------------------------------------------------------------- map


def test_register_map_points_boundary_hover_and_synthetic_note(fixtures_dir: Path):
    reg = read_register(fixtures_dir / "register" / "messy_utf8bom_comma.csv", "0301")
    reg.report.synthetic = True
    square = Polygon([(255000, 6640000), (270000, 6640000), (270000, 6660000), (255000, 6660000)])
    fig = register_map(reg, square, color="boligtype")
    boundary, *points = fig.data
    assert boundary.fill == "toself" and boundary.hoverinfo == "skip"
    assert min(v for v in boundary.x if v is not None) == 255000
    assert {t.name for t in points} == {"Leilighet", "Annet", "Hybel", "Enebolig"}
    assert sum(len(t.x) for t in points) == 6
    hovers = " ".join(h for t in points for h in t.text)
    assert "Storgata 1" in hovers and "Rom: 2" in hovers and "Leilighet" in hovers
    as_json = fig.to_json()
    for secret in ("Hansen", "Olsen", "912 34 567", "01017012345", "example"):
        assert secret not in as_json
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert [a.text for a in fig.layout.annotations] == ["Syntetiske demotall"]
    assert not any(t.type in ("scattergeo", "scattermapbox", "scattermap") for t in fig.data)
    # Coordinates are EPSG:25833 metres.
    assert 6_600_000 < points[0].y[0] < 6_700_000
    json.loads(as_json)


def test_register_map_groups_dwellings_at_one_address_and_colours_by_status():
    reg = make_register(
        [
            {"bolig_id": "A", "adresse": "Lia 1", "antall_rom": 1},
            {"bolig_id": "B", "adresse": "Lia 1", "antall_rom": 3},
            {"bolig_id": "C", "adresse": "Lia 9", "status": "Ledig", "x": 263000.0},
        ],
        [],
    )
    fig = register_map(reg, None, color="status")
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"Utleid", "Ledig"}
    assert list(by_name["Utleid"].text) == ["<b>Lia 1</b><br>Leilighet<br>Rom: 1, 3<br>2 boliger"]
    assert not fig.layout.annotations  # not synthetic
    with pytest.raises(QueryError):
        register_map(reg, None, color="leietaker")


# ---------------------------------------------------------------------------- all tables


def test_publication_tables_titles_and_suppression(vacancy_register):
    market = pd.DataFrame({"aar": [2020, 2021], "verdi": [50000.0, 52000.0]})
    tables = dict(publication_tables(vacancy_register, market=market, all_dwellings=400))
    assert list(tables)[:2] == ["Boliger etter boligtype", "Boliger etter målgruppe"]
    assert "andel_av_alle_boliger" in tables["Boliger etter boligtype"].columns
    assert "Boliger som har stått ledige lenge (adresse)" in tables
    assert "Husleie og salgspris per m² (brutto leieavkastning)" in tables
    # Every count below 3 in a published table is hidden.
    for title, table in tables.items():
        for col in ("antall", "perioder", "ledige"):
            if col in table.columns:
                values = table[col].dropna()
                assert not ((values > 0) & (values < 3)).any(), title


# ------------------------------------------------------------------ column-name collisions


def test_grouping_by_the_dwelling_status_keeps_its_labels():
    # The register's own "status" (Utleid/Ledig) must not be overwritten by boso's status
    # symbol column: every category keeps its label and the ":" goes to the symbol column.
    statuses = ["Utleid"] * 5 + ["Ledig"] * 4 + ["Under rehabilitering"]
    reg = make_register([{"bolig_id": f"B{i}", "status": s} for i, s in enumerate(statuses)], [])
    table = stock_summary(reg, "status")
    assert "boligstatus" in table.columns
    labels = dict(zip(table["boligstatus"], table["antall"], strict=True))
    assert labels["Utleid"] == 5 and labels["I alt"] == 10
    assert np.isnan(labels["Under rehabilitering"])  # 1 dwelling: suppressed, not relabelled
    # secondary suppression: with Ledig shown, the 1 would be 10 - 5 - 4
    assert np.isnan(labels["Ledig"])
    assert set(table["status"]) == {"", ":"}
    assert not (table["boligstatus"].fillna("") == "").any()
    rents = rent_per_m2(reg, by="status")
    assert {"Utleid", "Ledig", "I alt"} <= set(rents["boligstatus"])
    titled = dict(publication_tables(reg))
    assert "boligstatus" in titled["Boliger etter status på uttrekksdatoen"].columns


def test_suppress_small_refuses_a_data_column_named_status():
    df = pd.DataFrame({"status": ["Utleid", "Ledig"], "antall": [5, 1]})
    with pytest.raises(DataError, match="status"):
        suppress_small(df, "antall")


@pytest.mark.parametrize(
    ("days", "band"),
    [
        (12, "under 3 måneder"),
        (90, "3–6 måneder"),
        (181, "3–6 måneder"),
        (182, "6–12 måneder"),
        (364, "6–12 måneder"),
        (365, "1–2 år"),
        (729, "1–2 år"),
        (730, "over 2 år"),
        (4000, "over 2 år"),
    ],
)
def test_vacant_band(days, band):
    assert vacant_band(days) == band


def test_published_long_vacant_list_has_no_dates_or_day_counts(vacancy_register):
    # Address + the day it emptied would date the previous tenant's move: bands only.
    table = dict(publication_tables(vacancy_register))[
        "Boliger som har stått ledige lenge (adresse)"
    ]
    assert list(table.columns) == ["adresse", "boligtype", "ledig_i"]
    assert table.to_dict("records") == [
        {"adresse": "Bveien 2", "boligtype": "Hybel", "ledig_i": "6–12 måneder"}
    ]
    text = table.to_csv()
    assert "2020-12-01" not in text and "182" not in text
