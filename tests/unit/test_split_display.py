"""Estimated (split) values and missing kommuner in figures; register tables for readers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_indicators import rows

from boso import figures
from boso.register import register_display_table


def estimated_rows() -> pd.DataFrame:
    df = rows({"Asker": [10.0, 11.0, 12.0, 13.0, 14.0], "Landet": [20.0] * 5})
    early = (df["nivaa"] == "kommune") & (df["aar"] < 2020)
    df.loc[early, "harmonisering"] = "estimert"
    return df


def test_estimated_years_are_a_dashed_segment_named_as_estimate() -> None:
    chart = figures.lines(estimated_rows())
    by_name = {t.name: t for t in chart.fig.data}
    solid, dashed = by_name["Asker"], by_name["Asker (anslag)"]
    assert solid.line.dash == "solid" and list(solid.x) == [2020, 2021, 2022]
    # The estimate joins the first published point so the line is not broken.
    assert dashed.line.dash == "dash" and list(dashed.x) == [2018, 2019, 2020]
    assert list(dashed.y) == [10.0, 11.0, 12.0]
    assert "anslått" in chart.caption and "andel av folketallet" in chart.caption
    assert "Tallene for Asker i 2018–2019 er anslag" in chart.finding


def test_unestimated_series_are_drawn_as_before() -> None:
    df = estimated_rows().assign(harmonisering="")
    chart = figures.lines(df)
    assert [t.name for t in chart.fig.data] == ["Asker", "Landet"]
    assert "anslag" not in chart.finding and "anslått" not in chart.caption


def test_kommune_without_values_can_show_the_peers_and_say_why() -> None:
    df = rows(
        {"Asker": [np.nan] * 5, "KOSTRA-gruppe 12": [3.0] * 5, "Landet": [4.0] * 5},
        status={("Asker", 2021): ":", ("Asker", 2022): ":"},
    )
    df.loc[(df["nivaa"] == "kommune") & (df["aar"] < 2021), "harmonisering"] = "deling"
    assert figures.lines(df).empty  # the default is unchanged
    chart = figures.lines(df, peers_if_empty=True)
    assert not chart.empty
    assert [t.name for t in chart.fig.data] == ["KOSTRA-gruppe 12", "Landet"]
    assert chart.finding.startswith("Asker har ingen tall for")
    assert "2018–2020 kan ikke regnes om" in chart.finding
    assert "prikket (:) i 2021–2022" in chart.finding
    nothing = rows({"Asker": [np.nan] * 5, "Landet": [np.nan] * 5})
    assert figures.lines(nothing, peers_if_empty=True).empty


def test_register_table_reads_like_an_ssb_table() -> None:
    table = pd.DataFrame(
        {
            "maalgruppe": pd.array(["Flyktninger", "Eldre", "Andre", "I alt"], dtype="string"),
            "antall": [24.0, 17.0, np.nan, 43.0],
            "andel": [55.81395, 39.5348, np.nan, 100.0],
            "andel_av_alle_boliger": [0.3353, 0.0394, np.nan, 0.6],
            "status": pd.array(["", "", ":", ""], dtype="string"),
            "syntetisk": [True] * 4,
        }
    )
    shown, note = register_display_table(table)
    assert list(shown.columns) == ["Målgruppe", "Antall", "Andel (%)", "Andel av alle boliger (%)"]
    assert shown["Antall"].tolist() == ["24", "17", ":", "43"]
    assert shown["Andel (%)"].tolist() == ["55,8", "39,5", ":", "100,0"]
    assert shown["Andel av alle boliger (%)"].tolist()[:2] == ["0,34", "0,04"]
    assert note.startswith(": = Vises ikke av personvernhensyn")
    assert ".." not in note


def test_register_year_table_keeps_the_year_of_a_suppressed_row() -> None:
    table = pd.DataFrame(
        {
            "aar": [2020, 2021],
            "dato": pd.to_datetime(["2020-12-31", "2021-12-31"]),
            "boliger": [215.0, 1215.0],
            "ledige": [7.0, np.nan],
            "ledighetsgrad": [3.2558, np.nan],
            "status": ["", ":"],
        }
    )
    shown, note = register_display_table(table)
    assert list(shown.columns) == ["År", "Boliger", "Ledige", "Ledighetsgrad (%)"]
    assert shown["År"].tolist() == ["2020", "2021"]
    assert shown.iloc[1].tolist() == ["2021", "1 215", ":", ":"]
    assert shown.iloc[0].tolist() == ["2020", "215", "7", "3,3"]
    assert ":" in note
