"""The output contract: what the notebooks write is what the site and the chapter read."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from boso import outputs, text
from boso.chapter import export, model, render
from boso.site import html


def as_output(obj) -> dict:  # noqa: ANN001 - any output object of boso.outputs
    """A displayed output as nbformat stores it (``data`` + ``metadata``)."""
    data, metadata = obj._repr_mimebundle_()
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def test_a_figure_output_reads_back_as_a_figure() -> None:
    fig = go.Figure(go.Scatter(x=[2020, 2021], y=[1.0, 2.0]))
    shown = outputs.FigureOutput(fig, caption="Kilde: SSB.", sources=["SSB 07459"], title="T")
    out = as_output(shown)
    assert outputs.output_kind(out) == outputs.KIND_FIGURE
    assert outputs.PLOTLY_MIME in out["data"]
    assert outputs.output_meta(out)["sources"] == ["SSB 07459"]
    assert outputs.output_synthetic(out) is False
    caption = as_output(outputs.CaptionOutput(shown))
    assert outputs.output_kind(caption) == outputs.CAPTION_KIND
    # The site leaves the front-end caption out: the figure's own HTML carries it.
    assert html.page_outputs([out, caption]) == [out]


def test_synthetic_outputs_are_marked_and_read_as_synthetic() -> None:
    table = outputs.TableOutput(pd.DataFrame({"aar": [2020], "verdi": [1.5]}), synthetic=True)
    out = as_output(table)
    assert outputs.output_kind(out) == outputs.KIND_TABLE
    assert outputs.SYNTHETIC_NOTICE in out["data"]["text/html"]
    assert outputs.output_synthetic(out)
    # A foreign output without boso metadata still counts by the mark in its HTML.
    html = out["data"]["text/html"]
    bare = {"data": {"text/html": [html[:20], html[20:]]}, "metadata": {}}
    assert outputs.output_synthetic(bare)
    assert not outputs.output_synthetic({"data": {"text/html": "<p>x</p>"}})
    finding = as_output(outputs.TextOutput("Setning."))
    assert outputs.output_kind(finding) == outputs.KIND_FINDING
    assert outputs.output_kind({"data": {}}) == ""


def test_the_synthetic_notice_is_defined_once() -> None:
    assert html.SYNTHETIC_NOTICE is outputs.SYNTHETIC_NOTICE
    assert export.SYNTHETIC_NOTICE is outputs.SYNTHETIC_NOTICE
    assert render.NOTICE_SHORT is outputs.SYNTHETIC_ANNOTATION
    assert outputs.SYNTHETIC_NOTICE.startswith(outputs.SYNTHETIC_ANNOTATION)
    assert model.PLOTLY_MIME is outputs.PLOTLY_MIME


def test_growth_row_sentence_quotes_landet_only_when_known() -> None:
    plain = text.growth_row_sentence("Pris", "Asker", 2015, 2023, 3.0, 2.0, 4.0)
    with_landet = text.growth_row_sentence("Pris", "Asker", 2015, 2023, 3.0, 2.0, 4.0, 2.5)
    assert plain.endswith(".") and "landet" not in plain
    assert with_landet == plain[:-1] + "; landet: 2,5 % per år."
    assert text.growth_row_sentence("Pris", "Asker", 2015, 2023, 3.0, 2.0, 4.0, math.nan) == plain


def test_barometer_sentence_names_each_mark() -> None:
    assert text.barometer_sentence("Asker", []) == ""
    sentence = text.barometer_sentence("Asker", [("Sosialhjelp", "over"), ("Lavinntekt", "under")])
    assert sentence == "Siste år med tall for Asker: sosialhjelp over og lavinntekt under."
