"""Figures, tables, captions and generated sentences (boso.figures, boso.text)."""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from io import StringIO

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from test_indicators import rows

from boso import figures, text, trends

# ------------------------------------------------------------------------------------- text


def test_norwegian_number_formatting() -> None:
    assert text.fmt_number(53610) == "53 610"
    assert text.fmt_number(1234567.891, 2) == "1 234 567,89"
    assert text.fmt_number(2.834, 1) == "2,8"
    assert text.fmt_number(-0.04, 1) == "0,0"
    assert text.fmt_number(float("nan")) == "–"
    assert text.fmt_value(95421.0) == "95 421"
    assert text.fmt_value(12.34) == "12,3"
    assert text.fmt_value(0.123) == "0,12"
    assert text.fmt_value(25.0, "prosent") == "25,0 %"
    assert text.fmt_value(73975.4, "kr per m²") == "73 975 kr per m²"
    assert text.fmt_percent(-1.25, signed=True) == "-1,2 %"
    assert text.fmt_percent(2.0, signed=True) == "+2,0 %"


def test_growth_sentence_matches_house_example() -> None:
    sentence = text.growth_sentence(
        "Befolkningen", "Asker", 2001, 53610, 2022, 95421, 2.8, {"Landet": 0.9}
    )
    assert sentence == (
        "Befolkningen i Asker økte fra 53 610 i 2001 til 95 421 i 2022, i snitt 2,8 % per år, "
        "mot 0,9 % i landet."
    )
    falling = text.growth_sentence("Antall lån", "Bærum", 2010, 172, 2024, 120, -2.5, {})
    assert "gikk ned fra 172 i 2010 til 120 i 2024, i snitt -2,5 % per år." in falling


def test_level_and_trend_sentences() -> None:
    sentence = text.level_sentence(
        "Boliger per 1000", "Asker", 2023, 12.34, "", {"KOSTRA-gruppe 12": 16.1, "Landet": 20.0}
    )
    assert sentence == (
        "Boliger per 1000 var 12,3 i Asker i 2023, mot 16,1 i KOSTRA-gruppe 12 og 20,0 i landet."
    )
    up = text.trend_sentence("Startlån", "Asker", 2010, 2022, 0.12, 0.05, 0.19)
    assert "økte med i snitt 0,12 per år i 2010–2022" in up
    assert "95 % konfidensintervall 0,05 til 0,19" in up
    flat = text.trend_sentence("Startlån", "Asker", 2010, 2022, 0.02, -0.05, 0.09)
    assert "omfatter null" in flat and "ingen klar trend" in flat
    rel = text.trend_sentence("Pris", "Asker", 2010, 2024, 3.1, 2.5, 3.7, relative=True)
    assert "3,1 % per år" in rel and "2,5 % til 3,7 %" in rel


def test_missing_note_and_year_runs() -> None:
    assert text.years_text([2017, 2015, 2016, 2020]) == "2015–2017 og 2020"
    note = text.missing_note({":": [2017, 2018], "..": [2016]}, "Asker")
    assert note == "Asker: prikket (:) i 2017–2018; uten tall i 2016 (ikke publisert av kilden)."
    split = text.missing_note({"deling": [2010, 2011], "nevner_ikke_publisert": [2024]})
    assert split.startswith("Uten tall i 2010–2011 (kommunen ble delt, og tall fra før delingen")
    assert "uten tall i 2024 (befolkningstallet som raten regnes per, er ikke publisert" in split
    assert text.missing_note({":": []}) == ""


# --------------------------------------------------------------------------------- captions


def test_caption_names_tables_and_dates() -> None:
    caption = figures.make_caption(
        [("SSB 12008", "Kommunalt disponerte boliger"), ("SSB STARTLAN", "Startlån"), ("IMDi", "")],
        "2026-11-22",
        "2025-06-16",
        ["Asker: prikket (:) i 2017."],
    )
    assert caption == (
        "Kilde: SSB, tabell 12008 (Kommunalt disponerte boliger), SSB (Startlån) og IMDi. "
        "Hentet 2026-11-22. "
        "Sist oppdatert hos kilden 2025-06-16. Asker: prikket (:) i 2017."
    )


# ---------------------------------------------------------------------------- chart builders


def _frame(synthetic: bool = True) -> pd.DataFrame:
    return rows(
        {
            "Asker": [10.0, np.nan, 12.0, 13.0, 14.0],
            "KOSTRA-gruppe 12": [9.0, 9.5, 10.0, 10.5, 11.0],
            "Akershus": [np.nan] * 5,
            "Landet": [20.0, 20.0, 21.0, 21.0, 22.0],
        },
        status={("Asker", 2019): ":"},
        synthetic=synthetic,
    )


def test_lines_draws_gaps_not_zeros_and_marks_them() -> None:
    chart = figures.lines(_frame())
    names = [t.name for t in chart.fig.data]
    assert names == ["Asker", "KOSTRA-gruppe 12", "Landet"]  # Akershus has no values at all
    asker = chart.fig.data[0]
    assert list(asker.x) == [2018, 2019, 2020, 2021, 2022]
    assert list(asker.y) == [10.0, None, 12.0, 13.0, 14.0]
    assert asker.connectgaps is False
    shapes = chart.fig.layout.shapes
    assert len(shapes) == 1 and shapes[0].x0 == pytest.approx(2018.55)
    assert "prikket" in chart.fig.layout.annotations[0].text
    assert "Asker: prikket (:) i 2019." in chart.caption
    assert "Akershus: uten tall i 2018–2022 (tallet publiseres ikke for dette nivået)." in (
        chart.caption
    )
    assert "SSB, tabell 12008" in chart.caption and "Hentet 2026-11-22" in chart.caption
    assert chart.finding == (
        "Kommunalt disponerte boliger per 1000 innbyggere var 14,0 i Asker i 2022, mot 11,0 i "
        "KOSTRA-gruppe 12 og 22,0 i landet."
    )
    assert chart.synthetic and chart.sources == ["SSB 12008"]


def test_lines_without_kommune_values_is_an_empty_chart_with_notice() -> None:
    chart = figures.lines(rows({"Asker": [np.nan] * 5, "Landet": [1.0] * 5}))
    assert chart.empty and "ingen tall" in chart.finding


def test_level_plots_only_the_kommune_and_compares_growth_in_words() -> None:
    df = rows(
        {"Asker": [100.0, 110.0, 121.0, 133.1, 146.41], "Landet": [50.0] * 5},
        indikator="befolkning",
    )
    chart = figures.level(df, subject="Befolkningen")
    assert [t.name for t in chart.fig.data] == ["Asker"]
    assert list(chart.fig.data[0].y) == df.loc[df["nivaa"] == "kommune", "verdi"].tolist()
    assert chart.finding.startswith("Befolkningen i Asker økte fra 100 i 2018 til 146 i 2022")
    assert "i snitt 10,0 % per år, mot 0,0 % i landet." in chart.finding


def test_numbers_in_one_style_per_indicator() -> None:
    # A count is a whole number at any size; a rate keeps its declared decimals at any size
    # (not "fra 109 i 2010 til 40,0 i 2024").
    from boso.catalog import load_catalog

    catalog = load_catalog()
    assert catalog["startlan"].shown_decimals == 0
    assert catalog["startlan_per_1000"].shown_decimals == 1
    assert catalog["kvadratmeterpris"].shown_decimals == 0
    assert all(i.decimals is not None for i in catalog.values() if i.kind == "rate")
    falling = [109.0, 90.0, 70.0, 55.0, 40.0]
    count = figures.level(rows({"Asker": falling}, indikator="startlan"), subject="Antall lån")
    assert "gikk ned fra 109 i 2018 til 40 i 2022" in count.finding
    rate = figures.level(rows({"Asker": falling}, indikator="startlan_per_1000"), subject="Lån")
    assert "gikk ned fra 109,0 i 2018 til 40,0 i 2022" in rate.finding
    assert rate.fig.data[0].hovertemplate.endswith("%{y:,.1f}<extra></extra>")
    bars = figures.latest_bars(rows({"Asker": falling, "Landet": [212.0] * 5}))
    assert list(bars.fig.data[0].text) == ["212,0", "40,0"]


def test_index_chart_rebases_to_100() -> None:
    df = rows({"Asker": [200.0, 210.0, 220.0, 230.0, 240.0], "Landet": [10.0] * 5})
    chart = figures.index_chart(df)
    assert chart.fig.data[0].y[0] == 100 and chart.fig.data[0].y[-1] == pytest.approx(120)
    assert "2018 = 100" in chart.title


def test_latest_bars_and_series_bars() -> None:
    bars = figures.latest_bars(_frame())
    assert list(bars.fig.data[0].y) == ["Landet", "Akershus", "KOSTRA-gruppe 12", "Asker"]
    assert list(bars.fig.data[0].x) == [22.0, None, 11.0, 14.0]
    assert "Akershus: uten tall i 2022 (tallet publiseres ikke for dette nivået)." in bars.caption
    kommune = _frame().query("nivaa == 'kommune'")
    series = figures.series_bars(
        {"Anmodet": kommune.assign(verdi=[5.0, 6, 7, 8, 9]), "Bosatt": kommune},
        "Bosetting",
    )
    assert [list(t.y) for t in series.fig.data] == [[5, 6, 7, 8, 9], [10, None, 12, 13, 14]]
    assert series.finding == "Asker i 2022: anmodet 9,0 og bosatt 14,0."


def test_dimension_charts() -> None:
    a = _frame().assign(boligtype="01", boligtype_navn="Eneboliger")
    b = _frame().assign(
        boligtype="03", boligtype_navn="Blokkleiligheter", verdi=lambda d: d.verdi * 2
    )
    df = pd.concat([a, b], ignore_index=True)
    chart = figures.dimension_lines(df)
    assert [t.name for t in chart.fig.data] == ["Blokkleiligheter", "Eneboliger"]
    assert list(chart.fig.data[1].y) == [10.0, None, 12.0, 13.0, 14.0]
    stacked = figures.dimension_lines(df, bars=True)
    assert stacked.fig.layout.barmode == "stack" and stacked.fig.data[0].type == "bar"
    per_type = figures.by_dimension(df)
    assert [c.title.split(": ")[1] for c in per_type] == ["blokkleiligheter", "eneboliger"]
    assert per_type[0].fig.data[0].y[0] == 20.0


def test_trend_chart_states_estimate_and_interval() -> None:
    df = rows(
        {"Asker": [1.0, 2.1, 2.9, 4.2, 5.0], "KOSTRA-gruppe 12": [1.0, 1.1, 1.2, 1.3, 1.4]},
        indikator="startlan_per_1000",
    )
    chart = figures.trend(df)
    fit = trends.linear_trend(df.loc[df["nivaa"] == "kommune", ["aar", "verdi"]])
    assert [t.name for t in chart.fig.data][-2:] == ["95 % konfidensintervall", "Trend (OLS)"]
    assert list(chart.fig.data[-1].y) == pytest.approx(fit.fitted["trend"].tolist())
    assert text.fmt_value(fit.slope) in chart.finding
    assert "95 % konfidensintervall" in chart.finding
    assert "Til sammenligning var trenden 0,10 per år i KOSTRA-gruppe 12" in chart.finding


def test_growth_table_and_chart() -> None:
    base = rows(
        {"Asker": [100 * 1.05**i for i in range(5)], "Landet": [100 * 1.02**i for i in range(5)]}
    )
    df = base.assign(boligtype="01", boligtype_navn="Eneboliger", indikator="kvadratmeterpris")
    table = figures.growth_table(df)
    assert table.df.columns[:2].tolist() == ["Boligtype", "Område"]
    assert table.df["Vekst per år (%)"].tolist() == pytest.approx([5.0, 2.0])
    assert (
        "økte med i snitt 5,0 % per år" in table.finding and "landet: 2,0 % per år" in table.finding
    )
    chart = figures.growth_chart(table)
    assert list(chart.fig.data[0].x) == pytest.approx([5.0, 2.0])


# ------------------------------------------------------------------------------ mimebundles


def test_figure_output_follows_the_convention() -> None:
    chart = figures.lines(_frame(synthetic=True))
    out = figures.FigureOutput(
        chart.fig, chart.data, chart.caption, chart.sources, chart.retrieved, True, chart.title
    )
    bundle, meta = out._repr_mimebundle_()
    assert set(bundle) == {"application/vnd.plotly.v1+json", "text/html", "text/plain"}
    assert meta == {
        "boso": {
            "kind": "figure",
            "synthetic": True,
            "sources": ["SSB 12008"],
            "title": chart.title,
        }
    }
    fig_json = bundle["application/vnd.plotly.v1+json"]
    assert fig_json["data"][0]["y"] == [10.0, None, 12.0, 13.0, 14.0]
    assert "Syntetiske demotall" in [a["text"] for a in fig_json["layout"]["annotations"]]
    html = bundle["text/html"]
    assert html.startswith('<figure class="boso-figure" data-synthetic="true">')
    assert '<p class="boso-synthetic">Syntetiske demotall – ikke offisiell statistikk</p>' in html
    assert re.search(r'<div class="plotly-graph-div boso-plot" id="fig-[0-9a-f]+-\d+"', html)
    assert "Plotly.newPlot(" in html and "window.Plotly" in html
    assert "<script src" not in html and "require" not in html and "cdn" not in html.lower()
    assert '<figcaption class="boso-caption">Kilde: SSB, tabell 12008' in html
    href = re.search(r'<a class="boso-csv" download="[^"]+\.csv" href="([^"]+)"', html).group(1)
    assert href.startswith("data:text/csv;charset=utf-8,")
    csv = pd.read_csv(StringIO(urllib.parse.unquote(href.split(",", 1)[1].replace("&amp;", "&"))))
    assert csv.loc[csv["sammenligning"] == "Asker", "verdi"].isna().tolist()[1]
    assert csv.loc[csv["sammenligning"] == "Asker", "status"].fillna("").tolist()[1] == ":"
    assert html.endswith("</figure>")


def test_figure_output_without_synthetic_data_has_no_notice() -> None:
    chart = figures.lines(_frame(synthetic=False))
    bundle, meta = figures.FigureOutput(chart.fig, chart.data)._repr_mimebundle_()
    assert 'data-synthetic="false"' in bundle["text/html"]
    assert "boso-synthetic" not in bundle["text/html"]
    assert "annotations" not in bundle["application/vnd.plotly.v1+json"]["layout"] or all(
        a["text"] != "Syntetiske demotall"
        for a in bundle["application/vnd.plotly.v1+json"]["layout"]["annotations"]
    )
    assert meta["boso"]["synthetic"] is False


def test_script_payload_cannot_close_the_script_element() -> None:
    fig = go.Figure(go.Scatter(x=[1], y=[2], name="</script><b>x"))
    html = figures.FigureOutput(fig)._repr_mimebundle_()[0]["text/html"]
    assert html.count("</script>") == 1
    payload = re.search(r"var f=(\{.*\});function", html).group(1)
    assert json.loads(payload)["data"][0]["name"] == "</script><b>x"


def test_show_figure_emits_the_figure_then_its_caption(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    figures.show_figure(go.Figure(go.Bar(x=[1], y=[2])), caption="Kilde: x.", sources=["x"])
    assert [type(o).__name__ for o in shown] == ["FigureOutput", "CaptionOutput"]
    assert shown[1].figure is shown[0]
    shown.clear()
    chart = figures.lines(_frame())
    figures.show(chart, figures.lines(rows({"Asker": [np.nan] * 5})))
    kinds = [type(o).__name__ for o in shown]
    assert kinds == ["TextOutput", "FigureOutput", "CaptionOutput", "TextOutput"]
    assert shown[0].sentence == chart.finding


def test_caption_output_carries_caption_csv_and_notice_for_lab() -> None:
    # JupyterLab draws the plotly JSON and drops the figure's HTML: the caption output after
    # it is HTML only, so Lab shows the source, the CSV link and the synthetic notice.
    chart = figures.lines(_frame())
    figure = figures.FigureOutput(
        chart.fig, chart.data, chart.caption, chart.sources, chart.retrieved, True, chart.title
    )
    bundle, meta = figures.CaptionOutput(figure)._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    html = bundle["text/html"]
    assert f'<p class="boso-caption">{chart.caption[:40]}' in html
    assert "Syntetiske demotall – ikke offisiell statistikk" in html
    href = re.search(r'<a class="boso-csv" download="[^"]+\.csv" href="([^"]+)"', html).group(1)
    csv = urllib.parse.unquote(href.split(",", 1)[1])
    back = pd.read_csv(StringIO(csv))
    assert back["verdi"].tolist() == pytest.approx(chart.data["verdi"].tolist(), nan_ok=True)
    assert meta == {"boso": {"kind": "caption", "of": "figure", "title": chart.title}}
    from boso.site import html

    assert html.CAPTION_KIND == figures.CAPTION_KIND
    outputs = [{"metadata": {"boso": {"kind": "figure"}}}, {"metadata": meta}, {"metadata": {}}]
    assert html.page_outputs(outputs) == [outputs[0], outputs[2]]


def test_with_caption_writes_the_source_under_the_plot() -> None:
    chart = figures.lines(_frame())
    image = figures.with_caption(chart.fig, chart.caption, synthetic=True, width=900)
    texts = [a.text for a in image.layout.annotations]
    caption = next(t for t in texts if t.startswith("Syntetiske demotall – ikke"))
    assert "Kilde: SSB, tabell 12008" in caption.replace("<br>", " ")
    assert image.layout.height > figures.DEFAULT_HEIGHT and image.layout.margin.b > 90
    assert not [a for a in (chart.fig.layout.annotations or ()) if a.text == caption]


def test_table_output_formats_norwegian_and_links_csv() -> None:
    df = pd.DataFrame({"Indikator": ["A"], "År": [2023], "Verdi": [12345.678], "Tom": [math.nan]})
    bundle, meta = figures.TableOutput(
        df, caption="Kilde: SSB.", sources=["SSB 1"], synthetic=True, title="T"
    )._repr_mimebundle_()
    html = bundle["text/html"]
    assert html.startswith('<div class="boso-table" data-synthetic="true">')
    assert "boso-synthetic" in html and "boso-caption" in html and "boso-csv" in html
    assert "12 346" in html and "<td>2023</td>" in html and "<td>–</td>" in html
    assert meta["boso"] == {"kind": "table", "synthetic": True, "sources": ["SSB 1"], "title": "T"}


def test_barometer_table_has_finding_and_note() -> None:
    frames = {
        "lavinntekt_barn": rows({"Asker": [5.0] * 5, "Landet": [10.0] * 5}),
        "leie_andel": rows({"Asker": [25.0] * 5, "Landet": [24.8] * 5}),
    }
    table = figures.barometer(frames)
    assert table.df["Mot landet"].tolist() == ["▼ under landet", "≈ om lag som landet"]
    assert table.finding.startswith("Siste år med tall for Asker:")
    assert "under landet" in table.finding and "innenfor ±5 %" in table.caption


def test_show_states_a_shared_finding_once(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    data = _frame()
    line, bars = figures.lines(data), figures.latest_bars(data)
    assert line.finding and line.finding == bars.finding
    figures.show(line, bars)
    kinds = [type(o).__name__ for o in shown]
    assert kinds == ["TextOutput", "FigureOutput", "CaptionOutput", "FigureOutput", "CaptionOutput"]


def test_by_dimension_findings_name_the_dimension() -> None:
    blokk = _frame().assign(boligtype_navn="Blokkleiligheter")
    smahus = _frame().assign(boligtype_navn="Småhus", verdi=lambda d: d["verdi"] * 2)
    charts = figures.by_dimension(pd.concat([blokk, smahus], ignore_index=True))
    assert [c.title.split(": ")[-1] for c in charts] == ["blokkleiligheter", "småhus"]
    assert "(blokkleiligheter) var 14,0 i Asker i 2022" in charts[0].finding
    assert "(småhus) var 28,0 i Asker i 2022" in charts[1].finding


def test_every_gap_in_a_figure_has_a_reason() -> None:
    nan = float("nan")
    split = rows({"Asker": [nan] * 5, "Landet": [1.0] * 5})
    split.loc[split["sammenligning"] == "Asker", "harmonisering"] = "deling"
    empty = figures.lines(split)
    assert empty.empty
    assert empty.finding.startswith("Det finnes ingen tall for «Kommunalt disponerte boliger")
    assert "i Asker. Uten tall i 2018–2022 (kommunen ble delt" in empty.finding
    partial = rows({"Asker": [1.0] * 5, "Landet": [1.0, 1.0, 1.0, nan, nan]})
    chart = figures.lines(partial)
    assert "Landet: uten tall i 2021–2022 (ikke publisert av kilden)." in chart.caption
    bars = figures.series_bars({"Bosatt": rows({"Asker": [1.0, nan, 3.0, 4.0, 5.0]})}, "T")
    assert "Bosatt: uten tall i 2019 (ikke publisert av kilden)." in bars.caption


@pytest.mark.parametrize("dim", ["status", "verdi", "mangler"])
def test_charts_cannot_be_split_by_boso_own_columns(dim: str) -> None:
    from boso.errors import QueryError

    with pytest.raises(QueryError, match=dim):
        figures.dimension_lines(rows({"Asker": [1.0] * 5}), dim=dim)
    with pytest.raises(QueryError, match=dim):
        figures.by_dimension(rows({"Asker": [1.0] * 5}), dim=dim)
