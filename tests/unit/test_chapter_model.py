"""The statistikkvedlegg's content model and HTML (pure, no browser).

Notebook outputs are made by boso.figures' own display objects, so a change in what the reports
hold that the chapter cannot read breaks these tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from boso import figures, outputs, site
from boso.chapter import model, render, runner
from boso.errors import DataError


def _output(obj: object) -> dict:
    data, meta = obj._repr_mimebundle_()
    return {"output_type": "display_data", "data": data, "metadata": meta}


def _finding(text: str) -> dict:
    return _output(figures.TextOutput(text))


def _figure(
    title: str, synthetic: bool = False, caption: str = "Kilde: SSB, tabell 07459."
) -> dict:
    fig = go.Figure(go.Scatter(x=[2020, 2021], y=[1, 2]), layout={"title": {"text": title}})
    return _output(figures.FigureOutput(fig, caption=caption, synthetic=synthetic, title=title))


def _table(title: str, synthetic: bool = False) -> dict:
    frame = pd.DataFrame({"Indikator": ["Sosialhjelp", "Leie"], "Asker": [21.3, 25.7]})
    return _output(
        figures.TableOutput(frame, "Kilde: SSB, tabell 12210.", synthetic=synthetic, title=title)
    )


def _code(*outputs: dict) -> dict:
    return {"cell_type": "code", "source": "", "metadata": {}, "outputs": list(outputs)}


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "source": text, "metadata": {}}


def _notebook(title: str, *cells: dict) -> dict:
    return {"metadata": {"boso": {"title": title}}, "cells": list(cells)}


BEFOLKNING = _notebook(
    "Befolkning",
    _md("# Befolkning"),
    _code(_finding("Asker (3203) · fylke: Akershus")),
    _md("## Utvikling\n\nFolkemengden 1. januar, **hvert** år."),
    _code(_finding("Befolkningen økte med 1,2 % per år."), _figure("Befolkning")),
    _code(_finding("Befolkningen økte med 1,2 % per år."), _figure("Befolkning, indeks")),
    _md("## Boligbygging"),
    _code(_finding("Fullførte boliger var 6,1 per 1000."), _figure("Boligbygging", True)),
)
LEVEKAR = _notebook(
    "Levekår",
    _md("# Levekår"),
    _md("## Levekårsbarometer"),
    _code(_finding("Siste år: sosialhjelp om lag som landet."), _table("Levekårsbarometer", True)),
    _md("## Sosialhjelp"),
    _code(_finding("Sosialhjelp var 21,3 per 1000."), _figure("Sosialhjelp", True)),
)
INFO = {
    "kommunenummer": "3203",
    "kommunenavn": "Asker",
    "fylkesnavn": "Akershus",
    "kostragruppe": "KOSTRA-gruppe 12",
}


def _chapter(*notebooks: tuple[str, dict]) -> model.Chapter:
    notebooks = notebooks or (("befolkning", BEFOLKNING), ("levekar", LEVEKAR))
    return model.build_chapter(INFO, list(notebooks), date="01.12.2026")


def test_sections_number_figures_and_tables_per_analysis_in_the_given_order() -> None:
    chapter = _chapter(("levekar", LEVEKAR), ("befolkning", BEFOLKNING))
    assert [s.title for s in chapter.sections] == ["Levekår", "Befolkning"]
    assert [f.label for f in chapter.figures] == [
        "Figur 1.1",
        "Figur 2.1",
        "Figur 2.2",
        "Figur 2.3",
    ]
    assert [t.label for t in chapter.tables] == ["Tabell 1.1"]
    headings = [b for b in chapter.sections[1].blocks if isinstance(b, model.Heading)]
    assert [(h.number, h.text) for h in headings] == [("2.1", "Utvikling"), ("2.2", "Boligbygging")]


def test_findings_refer_to_their_figures_once_and_the_kommune_line_is_left_out() -> None:
    befolkning = _chapter().sections[0]
    assert [(f.text, f.ref) for f in befolkning.findings] == [
        ("Befolkningen økte med 1,2 % per år.", "figur 1.1 og 1.2"),
        ("Fullførte boliger var 6,1 per 1000.", "figur 1.3"),
    ]
    levekar = _chapter().sections[1]
    assert levekar.findings[0].ref == "tabell 2.1"
    assert (
        render.with_ref("Sosialhjelp var 21,3.", "figur 2.1") == "Sosialhjelp var 21,3 (figur 2.1)."
    )


def test_tables_keep_the_formatted_cells_and_captions_of_the_report() -> None:
    table = _chapter().tables[0]
    assert table.header == ["Indikator", "Asker"]
    assert table.rows == [["Sosialhjelp", "21,3"], ["Leie", "25,7"]]
    assert table.caption == "Kilde: SSB, tabell 12210."
    assert table.synthetic
    figure = _chapter().figures[0]
    assert figure.caption == "Kilde: SSB, tabell 07459."
    assert figure.figure["data"][0]["y"] == [1, 2]  # the report's own figure JSON


def test_summary_has_barometer_and_one_finding_per_analysis() -> None:
    chapter = _chapter()
    assert chapter.barometer is chapter.tables[0]
    assert [line["ref"] for line in chapter.summary()] == ["figur 1.1 og 1.2", "tabell 2.1"]


def test_synthetic_notice_only_when_a_number_is_synthetic() -> None:
    real = _notebook("Befolkning", _md("## Utvikling"), _code(_finding("Økte."), _figure("B")))
    html_real = render.render_html(_chapter(("befolkning", real)))
    assert not _chapter(("befolkning", real)).synthetic
    assert outputs.SYNTHETIC_NOTICE not in html_real
    synthetic = _chapter()
    html = render.render_html(synthetic, "docx")
    assert synthetic.synthetic
    assert outputs.SYNTHETIC_NOTICE in html
    # Every synthetic figure and table says so in its own caption too.
    text = render.plain_text(html)
    assert "Figur 1.3. Boligbygging. Syntetiske demotall." in text
    assert "Tabell 2.1. Levekårsbarometer – Syntetiske demotall" in text


def test_word_html_has_real_tables_and_images_and_pdf_html_has_plot_slots() -> None:
    chapter = _chapter()
    docx_html = render.render_html(chapter, "docx")
    assert docx_html.count("<img ") == len(chapter.figures)
    assert "<td>21,3</td>" in docx_html
    pdf_html = render.render_html(chapter, "pdf")
    assert pdf_html.count('class="plot"') == len(chapter.figures)
    figures_for_print = render.print_figures(chapter)
    assert set(figures_for_print) == {f.anchor for f in chapter.figures}
    layout = figures_for_print["figur-1-1"]["layout"]
    assert layout["width"] == render.FIGURE_WIDTH and layout["title"]["text"] == "Befolkning"


def test_markdown_is_escaped_and_bold_survives() -> None:
    assert model.markdown_inline("**hvert** <år>") == "<strong>hvert</strong> &lt;år&gt;"


def test_a_notebook_without_cells_or_no_reports_is_refused() -> None:
    with pytest.raises(DataError, match="levekar"):
        model.read_section({"metadata": {}}, 1, "levekar")
    with pytest.raises(DataError, match="ingen kjørte rapporter"):
        model.build_chapter(INFO, [], date="01.12.2026")


def test_published_and_kept_chapters(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    asker = old / "kommuner" / "3203-asker"
    asker.mkdir(parents=True)
    (asker / "statistikkvedlegg.pdf").write_bytes(b"%PDF")
    runner._key_path(asker, "pdf").parent.mkdir(parents=True)
    runner._key_path(asker, "pdf").write_text(json.dumps({"key": "k"}))
    gone = old / "kommuner" / "9999-borte"
    gone.mkdir()
    (gone / "statistikkvedlegg.docx").write_bytes(b"PK")
    assert runner.published_chapters(old) == {"3203": ["pdf"], "9999": ["docx"]}
    (new / "kommuner" / "3203-asker").mkdir(parents=True)
    assert runner.keep_chapters(old, new) == 1
    assert (new / "kommuner" / "3203-asker" / "statistikkvedlegg.pdf").read_bytes() == b"%PDF"
    assert not (new / "kommuner" / "9999-borte").exists()
    # The key is not published, and a rebuilt site (swapped in at the same path) still finds it.
    assert not [p for p in [*old.rglob("*"), *new.rglob("*")] if p.suffix == ".key"]
    shutil.rmtree(old)
    new.rename(old)
    assert runner.stored_key(old / "kommuner" / "3203-asker", "pdf") == "k"


def test_kommune_page_links_the_published_chapter(tmp_path: Path) -> None:
    registry = pd.DataFrame(
        [("3203", "Asker", "32", "Akershus"), ("3903", "Holmestrand", "39", "Vestfold")],
        columns=["kommunenummer", "kommunenavn", "fylkesnummer", "fylkesnavn"],
    )
    inputs = site.SiteInputs(
        registry=registry, reports_dir=tmp_path, chapters={"3203": ["pdf", "docx"]}
    )
    pages = {p.path: p for p in site.build_model(inputs, renderer_text="x", built="y").pages}
    asker = pages["kommuner/3203-asker/index.html"].content
    assert '<a href="statistikkvedlegg.pdf">Statistikkvedlegg (PDF)</a>' in asker
    assert '<a href="statistikkvedlegg.docx">Statistikkvedlegg (Word)</a>' in asker
    assert "statistikkvedlegg" not in pages["kommuner/3903-holmestrand/index.html"].content


def test_chapter_code_digest_changes_with_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    before = runner.chapter_digest()
    assert before == runner.chapter_digest()
    monkeypatch.setattr("boso.__version__", "0.0.0-test")
    assert runner.chapter_digest() != before


def test_chapter_code_does_not_rerun_the_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from boso import reports

    package = tmp_path / "boso"
    (package / "chapter").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "chapter" / "model.py").write_text("A = 1")
    monkeypatch.setattr(reports.boso, "__file__", str(package / "__init__.py"))
    first = reports.package_digest()
    (package / "chapter" / "model.py").write_text("A = 2")
    assert reports.package_digest() == first
