"""`boso chapter` on the offline main job's reports: open the PDF (pypdf) and Word (python-docx)
files and check what a reader gets; a PDF page is rendered with pdftoppm into test-artifacts/.

Uses the session's ``pipeline_project`` (3203 Asker, 3903 Holmestrand, 3201 Bærum executed).
Needs Debian's chromium (``make browser-deps``): skipped without it, failed in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import unicodedata
from pathlib import Path

import pytest

from boso.chapter import runner
from boso.cli import main
from boso.outputs import SYNTHETIC_NOTICE
from boso.static_export import unavailable_reason

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "chapter"
KOMMUNER = ("3203", "3201")


def _need(reason: str | None) -> None:
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def chapters(pipeline_project: Path) -> dict[str, object]:
    _need(unavailable_reason())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOSO_HOME", str(pipeline_project))
        assert main(["chapter", "--kommune", "3203"]) == 0
        # Bærum only for the incremental checks: the PDF is enough (keeps the test short).
        assert main(["chapter", "--kommune", "3201", "--format", "pdf"]) == 0
        assert main(["site", "--renderer", "nbconvert"]) == 0  # links and keeps them
    site = pipeline_project / "_site" / "kommuner"
    return {
        "root": pipeline_project,
        "asker": site / "3203-asker",
        "baerum": next(site.glob("3201-*")),
    }


def _report_outputs(folder: Path) -> list[tuple[str, str, bool]]:
    """(kind, title, synthetic) of every figure and table in a kommune's executed reports."""
    from boso import site

    found = []
    for report in site.discover_reports(folder.parent)[folder.name[:4]]:
        nb = json.loads(report.path.read_text("utf-8"))
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                meta = (output.get("metadata") or {}).get("boso") or {}
                if meta.get("kind") in ("figure", "table"):
                    found.append((meta["kind"], meta["title"], bool(meta.get("synthetic"))))
    return found


def _pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    # NFKC: the PDF's fonts use ligatures ("ﬁgur" → "figur").
    pages = PdfReader(path).pages
    return [" ".join(unicodedata.normalize("NFKC", p.extract_text() or "").split()) for p in pages]


def test_asker_pdf_has_summary_sections_numbered_figures_and_captions(chapters: dict) -> None:
    asker = chapters["asker"]
    pages = _pdf_pages(asker / "statistikkvedlegg.pdf")
    text = " ".join(pages)
    assert "Asker kommune" in pages[0] and "Akershus" in pages[0]
    assert "Datakilder og hentedatoer" in pages[0] and "KOSTRA-gruppe" in pages[0]
    summary = next(p for p in pages if "Sammendrag" in p)
    assert "Levekårsbarometer" in summary and "Hovedfunn" in summary
    assert "Data og metode" in pages[-1] or "Data og metode" in pages[-2]

    outputs = _report_outputs(chapters["root"] / "reports" / asker.name)
    n_figures = sum(kind == "figure" for kind, _, _ in outputs)
    numbers = re.findall(r"Figur (\d+)\.(\d+)\.", text)
    assert len(set(numbers)) == n_figures  # every figure of every analysis, numbered once
    sections = {int(s) for s, _ in numbers}
    folder = chapters["root"] / "reports" / asker.name
    analyses = [p for p in folder.glob("*.ipynb") if not p.name.startswith(".")]
    assert sections == set(range(1, len(analyses) + 1))
    assert re.search(r"Tabell 2\.1\. Levekårsbarometer", text)
    assert re.search(r"\(figur 1\.1( og 1\.2)?\)", text)  # finding sentences refer to figures
    assert text.count("Kilde: SSB, tabell") >= n_figures // 2
    # Asker's chapter shows synthetic numbers: the running header says so on every page.
    assert all(SYNTHETIC_NOTICE in page for page in pages)


def test_pdf_figures_are_vector_graphics(chapters: dict) -> None:
    from pypdf import PdfReader

    reader = PdfReader(chapters["asker"] / "statistikkvedlegg.pdf")
    images = 0
    for page in reader.pages:
        xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
        for ref in xobjects.values():
            if ref.get_object().get("/Subtype") == "/Image":
                images += 1
    assert images == 0
    assert reader.pages[0].mediabox.width == pytest.approx(595, abs=1)  # A4
    assert reader.pages[0].mediabox.height == pytest.approx(842, abs=1)


def test_word_file_is_editable_with_headings_captions_tables_and_images(chapters: dict) -> None:
    from docx import Document

    doc = Document(str(chapters["asker"] / "statistikkvedlegg.docx"))
    styles = [(p.style.name, p.text) for p in doc.paragraphs]
    headings = [t for s, t in styles if s == "Heading 1"]
    assert headings[0] == "Sammendrag" and headings[-1] == "Data og metode"
    assert any(t.startswith("1 ") for t in headings) and any(t.startswith("2 ") for t in headings)
    captions = [t for s, t in styles if s == "Image Caption"]
    outputs = _report_outputs(chapters["root"] / "reports" / chapters["asker"].name)
    assert len(captions) == sum(kind == "figure" for kind, _, _ in outputs)
    assert captions[0].startswith("Figur 1.1.") and "Kilde:" in captions[0]
    table_captions = [t for s, t in styles if s == "Table Caption"]
    assert any(t.startswith("Tabell 2.1. Levekårsbarometer") for t in table_captions)
    # Real tables, with the report's formatted cells.
    barometer = next(t for t in doc.tables if t.rows[0].cells[0].text == "Indikator")
    assert len(barometer.rows) >= 2 and barometer.rows[0].cells[1].text == "År"
    assert SYNTHETIC_NOTICE in doc.sections[0].header.paragraphs[0].text
    assert doc.sections[0].page_width.mm == pytest.approx(210, abs=0.5)
    # Images at least 200 dpi at the size they are placed.
    shape = doc.inline_shapes[0]
    blip = shape._inline.graphic.graphicData.pic.blipFill.blip.embed
    png = doc.part.related_parts[blip].blob
    width_px = struct.unpack(">I", png[16:20])[0]
    assert width_px / shape.width.inches >= 200


def test_kommune_page_links_both_files_and_a_rerun_changes_nothing(chapters: dict) -> None:
    asker = chapters["asker"]
    page = (asker / "index.html").read_text("utf-8")
    assert 'href="statistikkvedlegg.pdf">Statistikkvedlegg (PDF)' in page
    assert 'href="statistikkvedlegg.docx">Statistikkvedlegg (Word)' in page
    before = {p.name: p.stat().st_mtime_ns for p in asker.glob("statistikkvedlegg.*")}
    summary = runner.run_chapters(["3203"], root=chapters["root"], progress=False)
    summary.results += runner.run_chapters(
        ["3201"], formats=("pdf",), root=chapters["root"], progress=False
    ).results
    assert sorted((r.kommunenummer, r.analysis, r.status) for r in summary.results) == [
        ("3201", "statistikkvedlegg.pdf", "skipped"),
        ("3203", "statistikkvedlegg.docx", "skipped"),
        ("3203", "statistikkvedlegg.pdf", "skipped"),
    ]
    assert before == {p.name: p.stat().st_mtime_ns for p in asker.glob("statistikkvedlegg.*")}


def test_a_changed_report_rebuilds_only_that_kommune(chapters: dict) -> None:
    root = chapters["root"]
    report = root / "reports" / chapters["baerum"].name / "startlan.ipynb"
    original = report.read_text("utf-8")
    nb = json.loads(original)
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "## Merknad\n\nNy."})
    try:
        report.write_text(json.dumps(nb), "utf-8")
        summary = runner.run_chapters(KOMMUNER, formats=("pdf",), root=root, progress=False, jobs=1)
        status = {(r.kommunenummer, r.status) for r in summary.results}
        assert status == {("3203", "skipped"), ("3201", "ok")}
        assert "Merknad" in " ".join(_pdf_pages(chapters["baerum"] / "statistikkvedlegg.pdf"))
    finally:
        report.write_text(original, "utf-8")


def test_pdf_page_as_png_in_test_artifacts(chapters: dict) -> None:
    _need(None if shutil.which("pdftoppm") else "pdftoppm missing (make browser-deps)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "statistikkvedlegg-asker-side"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "2", "-l", "2", "-singlefile"]
        + [str(chapters["asker"] / "statistikkvedlegg.pdf"), str(target)],
        check=True,
    )
    png = target.with_suffix(".png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert height / width == pytest.approx(297 / 210, rel=0.02)


def test_without_chromium_one_line_and_the_rest_goes_on(
    chapters: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOSO_HOME", str(chapters["root"]))
    monkeypatch.setattr("boso.static_export.browser_path", lambda: None)
    assert main(["chapter", "--kommune", "3203"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Chromium" in err[0] and "ikke laget" in err[0]
    assert main(["chapter", "--all", "--skip-if-no-browser"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Chromium" in err[0]
