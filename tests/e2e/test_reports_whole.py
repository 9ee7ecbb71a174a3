"""Every report of every kommune is whole: at least one figure and a finding sentence.

Executing 357 × 6 notebooks is the lead's ``boso reports --all``; here the same guarantee is
checked cheaply on the processed tables of the session's pipeline project: a notebook draws a
figure for a kommune when one of the tables it reads has a value for it, and the few kommuner
without any (a series that cannot be back-cast across a split and is suppressed since) run
the notebook's own code in-process to show that they still get a figure and a reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from boso import figures, outputs

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def project(pipeline_project: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOSO_HOME", str(pipeline_project))
        yield pipeline_project


def drawn_tables(notebook: Path) -> list[str]:
    """The processed indicator tables a notebook read in the pipeline's reports (as recorded)."""
    from boso.config import paths

    reads: set[str] = set()
    for key in paths().reports.glob(f"*-*/.{notebook.stem}.key"):
        reads.update(json.loads(key.read_text("utf-8"))["inputs"])
    return sorted(r for r in reads if r.startswith("out_boso__"))


def run_in_process(notebook: Path, kommunenummer: str, monkeypatch: pytest.MonkeyPatch) -> list:
    """Execute a notebook's code cells here, collecting what it displays."""
    shown: list = []
    monkeypatch.setattr(outputs, "_display", shown.append)
    namespace: dict = {}
    for cell in json.loads(notebook.read_text("utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source += f"\nkommunenummer = {kommunenummer!r}"
        exec(compile(source, str(notebook), "exec"), namespace)  # noqa: S102 - our notebooks
    return shown


def whole(shown: list) -> bool:
    figs = [o for o in shown if isinstance(o, figures.FigureOutput)]
    sentences = [o for o in shown if isinstance(o, figures.TextOutput)]
    # The first sentence is the kommune header; a finding must come after it.
    return bool(figs) and len(sentences) >= 2


def test_every_kommune_gets_a_figure_in_every_analysis(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processed = project / "data" / "processed"
    registry = pd.read_parquet(processed / "core_klass__kommuner.parquet")
    with_values: dict[str, set[str]] = {}
    for notebook in NOTEBOOKS:
        for table in drawn_tables(notebook):
            if table not in with_values:
                frame = pd.read_parquet(
                    processed / f"{table}.parquet", columns=["nivaa", "kommunenummer", "verdi"]
                )
                own = frame.loc[(frame["nivaa"] == "kommune") & frame["verdi"].notna()]
                with_values[table] = set(own["kommunenummer"])
    assert len(NOTEBOOKS) >= 6
    gaps = [
        (notebook, code)
        for notebook in NOTEBOOKS
        for code in registry["kommunenummer"]
        if not any(code in with_values[t] for t in drawn_tables(notebook))
    ]
    for notebook, code in gaps:
        shown = run_in_process(notebook, code, monkeypatch)
        assert whole(shown), f"{notebook.stem} for {code} has no figure or no finding"


def test_pipeline_reports_each_have_a_figure_and_a_finding(project: Path) -> None:
    reports = sorted((project / "reports").glob("*-*/*.ipynb"))
    assert {p.parent.name[:4] for p in reports} >= {"1580", "3203"}
    for path in reports:
        nb = json.loads(path.read_text("utf-8"))
        kinds = [
            out.get("metadata", {}).get("boso", {}).get("kind")
            for cell in nb["cells"]
            for out in cell.get("outputs", [])
        ]
        assert "figure" in kinds, f"{path.parent.name}/{path.name} has no figure"
        assert kinds.count("finding") >= 2, f"{path.parent.name}/{path.name} has no finding"


def test_split_kommune_history_is_estimated_and_drawn_dashed(project: Path) -> None:
    from boso import processed

    series = processed.load_indicator("befolkning", kommunenummer="1580")
    estimated = series.loc[series["harmonisering"] == "estimert"]
    assert len(estimated) and estimated["verdi"].notna().all()
    folder = next((project / "reports").glob("1580-*"))
    nb = json.loads((folder / "befolkning.ipynb").read_text("utf-8"))
    plots = [
        (out["data"]["application/vnd.plotly.v1+json"], out["data"]["text/html"])
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
        if "application/vnd.plotly.v1+json" in out.get("data", {})
    ]
    fig, html = plots[0]
    dashed = [t for t in fig["data"] if t["name"].endswith("(anslag)")]
    assert dashed and dashed[0]["line"]["dash"] == "dash"
    assert "andel av folketallet" in "".join(html)


def test_ssb_backcast_of_divided_kommuner_is_used(project: Path, snapshot_dir: Path) -> None:
    from boso import processed

    raw = json.loads((snapshot_dir / "ssb" / "07459.json").read_text("utf-8"))
    regions = list(raw["dimension"]["Region"]["category"]["index"])
    years = list(raw["dimension"]["Tid"]["category"]["index"])
    for code in ("1806", "1875", "5055", "5056", "5059"):
        series = processed.load_indicator("befolkning", kommunenummer=code).set_index("aar")
        position = regions.index(f"K-{code}")
        for i, year in enumerate(years):
            expected = raw["value"][position * len(years) + i]
            if expected is None:
                continue
            assert series.loc[int(year), "verdi"] == expected, (code, year)
