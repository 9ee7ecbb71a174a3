"""What a reader sees: the built site walked page by page, and notebooks as a researcher runs them.

Uses the session's ``pipeline_project`` (snapshot → build → reports for 3203, 3903, 3201 →
site). Holmestrand (3903) has a dwelling register whose own ``status`` column once collided with
boso's status-symbol column; Asker (3203) was merged in 2020; the per-1000 rates end before
their counts because the population table ends earlier.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
# What a caption or finding says when values are missing (boso.text.missing_note and friends).
REASON = re.compile(r"uten tall i |prikket \(:\)|finnes ikke \(\.\)|Kilden har ingen rader")
# What JupyterLab renders of a display_data output: the first mime type it has a renderer for.
LAB_ORDER = ("application/vnd.plotly.v1+json", "text/html", "text/markdown", "text/plain")


def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _pages(site: Path) -> list[Path]:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10, f"too few pages in {site}"
    return pages


def _year_gaps(trace: dict) -> list[int]:
    """Years a year-axis trace leaves empty (None values); [] for maps and other traces."""
    xs, ys = trace.get("x") or [], trace.get("y") or []
    if not xs or len(xs) != len(ys):
        return []
    if not all(isinstance(x, int) and 1900 <= x <= 2100 for x in xs):
        return []
    return [x for x, y in zip(xs, ys, strict=True) if y is None]


def test_no_page_shows_developer_notes_empty_labels_or_unexplained_gaps(pipeline_project: Path):
    site = pipeline_project / "_site"
    figures_checked = gaps_checked = tables_checked = 0
    for page in _pages(site):
        raw = page.read_text("utf-8")
        where = page.relative_to(site)
        assert "ikke verifisert" not in raw, f"{where}: developer note shown to readers"
        for body in re.findall(r"<tbody>(.*?)</tbody>", raw, re.S):
            for first in re.findall(r"<tr[^>]*>\s*<t[dh][^>]*>(.*?)</t[dh]>", body, re.S):
                label = html.unescape(re.sub(r"<[^>]+>", "", first)).strip()
                assert label not in ("", ":"), f"{where}: table row with empty label {first!r}"
                tables_checked += 1
        for block in re.findall(r'<figure class="boso-figure".*?</figure>', raw, re.S):
            figures_checked += 1
            payload = re.search(r"var f=(\{.*?\});function draw", block, re.S)
            assert payload, f"{where}: figure without its data"
            caption = re.search(r'<figcaption class="boso-caption">(.*?)</figcaption>', block, re.S)
            assert caption, f"{where}: figure without caption"
            text = html.unescape(caption.group(1))
            for trace in json.loads(payload.group(1).replace("<\\/", "</"))["data"]:
                if _year_gaps(trace):
                    gaps_checked += 1
                    # an estimated segment ("Haram (anslag)") is the kommune's own series
                    name = (trace.get("name") or "").removesuffix(" (anslag)")
                    assert REASON.search(text) and name in text, (
                        f"{where}: {name!r} has no values in {_year_gaps(trace)} and the caption "
                        f"does not say why: {text}"
                    )
        for finding in re.findall(r'<p class="boso-finding">(.*?)</p>', raw, re.S):
            if "Det finnes ingen tall" in finding:
                assert REASON.search(html.unescape(finding)), f"{where}: {finding}"
    assert figures_checked > 20 and gaps_checked > 3 and tables_checked > 20


def test_register_status_table_keeps_its_categories(pipeline_project: Path):
    page = next((pipeline_project / "_site").rglob("3903-*/kommunale_boliger.html"))
    raw = page.read_text("utf-8")
    start = raw.index("Boliger etter status på uttrekksdatoen")
    table = raw[start : raw.index("</table>", start)]
    assert "<th>Boligstatus</th>" in table  # the register's status, under a bokmål header
    labels = [html.unescape(c).strip() for c in re.findall(r"<tr>\s*<td>(.*?)</td>", table, re.S)]
    assert "Utleid" in labels and "I alt" in labels
    assert all(label not in ("", ":") for label in labels)


def _lab_view(output: dict) -> tuple[str, str]:
    data = output.get("data") or {}
    mime = next(m for m in LAB_ORDER if m in data)
    return mime, _text(data[mime]) if isinstance(data[mime], str | list) else ""


def test_lab_shows_caption_and_csv_under_every_figure(pipeline_project: Path, tmp_path: Path):
    """A researcher's run: change the parameters, run all, look at what Lab displays."""
    import papermill

    target = tmp_path / "startlan.ipynb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOSO_HOME", str(pipeline_project))
        papermill.execute_notebook(
            str(REPO / "notebooks" / "startlan.ipynb"),
            str(target),
            parameters={"kommunenummer": "3903"},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(tmp_path),
        )
    nb = json.loads(target.read_text("utf-8"))
    outputs = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("data")]
    figures = [
        i for i, o in enumerate(outputs) if o["metadata"].get("boso", {}).get("kind") == "figure"
    ]
    assert len(figures) >= 3
    for i in figures:
        title = outputs[i]["metadata"]["boso"]["title"]
        assert _lab_view(outputs[i])[0] == "application/vnd.plotly.v1+json"  # html is dropped
        mime, shown = _lab_view(outputs[i + 1])
        assert mime == "text/html", f"{title}: no caption output after the figure"
        assert outputs[i + 1]["metadata"]["boso"] == {
            "kind": "caption",
            "of": "figure",
            "title": title,
        }
        assert 'class="boso-caption">Kilde: SSB' in shown and "Hentet 20" in shown, title
        assert re.search(r'<a class="boso-csv" download="[^"]+\.csv" href="data:text/csv', shown)
        assert "Syntetiske demotall" in shown  # startlån is synthetic in the snapshot


def test_wrong_kommunenummer_in_a_notebook_is_one_message(pipeline_project: Path, tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    target = tmp_path / "befolkning.ipynb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOSO_HOME", str(pipeline_project))
        with pytest.raises(PapermillExecutionError):
            papermill.execute_notebook(
                str(REPO / "notebooks" / "befolkning.ipynb"),
                str(target),
                parameters={"kommunenummer": "3999"},
                kernel_name="python3",
                progress_bar=False,
                cwd=str(tmp_path),
            )
    nb = json.loads(target.read_text("utf-8"))
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) == 1
    (error,) = errors
    (line,) = error["traceback"]  # the message alone: no frames of library code
    assert line.startswith("QueryError: ukjent kommunenummer 3999; kommuner i fylke 39: ")
    assert "3903" in line and error["ename"] == "QueryError"


def test_readme_library_examples_print_readable_results(pipeline_project: Path, monkeypatch):
    import pandas as pd

    readme = (REPO / "README.md").read_text("utf-8")
    section = readme[readme.index("## For researchers") : readme.index("## Command line")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    lines = [line.split("#")[0].strip() for line in code.splitlines()]
    calls = [line for line in lines if line.startswith("boso.")]
    assert len(calls) >= 3
    monkeypatch.setenv("BOSO_HOME", str(pipeline_project))
    monkeypatch.chdir(pipeline_project)
    namespace: dict = {}
    exec("import boso", namespace)
    checked = 0
    for call in calls:
        frame = eval(call, namespace)
        assert isinstance(frame, pd.DataFrame) and len(frame), call
        with pd.option_context("display.width", 80, "display.max_columns", 20):
            header = str(frame).splitlines()[0]
        if "verdi" in frame.columns:  # boso's frames: year and value are not elided
            assert "aar" in header and "verdi" in header, (call, header)
            checked += 1
    assert checked >= 2
