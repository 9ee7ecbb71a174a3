"""Every analysis notebook, executed by `boso reports` on the snapshot for two kommuner.

Asker (3203) was merged in 2020 (Asker + Røyken + Hurum) and has a (synthetic) dwelling
register; Bærum (3201) was not merged and has none. The session's ``pipeline_project`` runs the
offline main job into an isolated project root; every figure output must carry data, and the
numbers drawn must be the ones ``boso.processed.load_indicator`` returns.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from boso.kommune import slug

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = ["befolkning", "levekar", "boligpriser", "startlan", "kommunale_boliger", "boligbehov"]
KOMMUNER = ["3203", "3201"]


@pytest.fixture(scope="module")
def built(pipeline_project: Path):
    """The session's pipeline project; its processed tables are what the reports read."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOSO_HOME", str(pipeline_project))
        yield pipeline_project


@pytest.fixture(scope="module")
def executed(built: Path) -> dict[tuple[str, str], dict]:
    """The reports `boso reports` executed with papermill for the test kommuner."""
    registry = pd.read_parquet(built / "data" / "processed" / "core_klass__kommuner.parquet")
    names = dict(zip(registry["kommunenummer"], registry["kommunenavn"], strict=True))
    results = {}
    for kommune in KOMMUNER:
        folder = built / "reports" / f"{kommune}-{slug(names[kommune])}"
        for name in NOTEBOOKS:
            target = folder / f"{name}.ipynb"
            assert target.is_file(), f"missing report {target}"
            results[(kommune, name)] = json.loads(target.read_text("utf-8"))
    return results


def outputs(nb: dict, kind: str | None = None) -> list[dict]:
    found = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("boso", {})
            if kind is None or meta.get("kind") == kind:
                found.append(out)
    return found


def _text(value: str | list[str]) -> str:
    # nbformat stores multi-line strings as lists of lines.
    return "".join(value) if isinstance(value, list) else value


def figure_by_title(nb: dict, title: str) -> dict:
    for out in outputs(nb, "figure"):
        if out["metadata"]["boso"]["title"] == title:
            return out["data"]["application/vnd.plotly.v1+json"]
    raise AssertionError(f"no figure titled {title!r}")


def values(trace: dict) -> list[float]:
    """The numbers a trace draws: y, or x where y holds category labels (horizontal bars)."""

    def numbers(seq: list) -> list[float]:
        return [v for v in seq or [] if isinstance(v, int | float) and not isinstance(v, bool)]

    ys = trace.get("y") or []
    if any(isinstance(v, str) for v in ys):
        return numbers(trace.get("x"))
    return numbers(ys)


def same_numbers(drawn: list, expected: list[float]) -> bool:
    if len(drawn) != len(expected):
        return False
    for a, b in zip(drawn, expected, strict=True):
        if b is None or (isinstance(b, float) and math.isnan(b)):
            if a is not None:
                return False
        elif a is None or not math.isclose(a, b, rel_tol=1e-12):
            return False
    return True


@pytest.mark.parametrize("kommune", KOMMUNER)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_every_figure_carries_data(executed, kommune: str, name: str) -> None:
    nb = executed[(kommune, name)]
    assert not [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert nb["metadata"]["boso"]["title"]
    figures = outputs(nb, "figure")
    assert figures, f"{name} for {kommune} shows no figures"
    for out in figures:
        data = out["data"]
        fig = data["application/vnd.plotly.v1+json"]
        numeric = [v for trace in fig["data"] for v in values(trace)]
        assert numeric, f"figure {out['metadata']['boso']['title']!r} has no numeric y"
        html = _text(data["text/html"])
        assert html.startswith('<figure class="boso-figure"')
        assert 'class="boso-caption">Kilde: ' in html and 'class="boso-csv"' in html
        synthetic = out["metadata"]["boso"]["synthetic"]
        assert ("Syntetiske demotall – ikke offisiell statistikk" in html) == synthetic
    # Every figure from synthetic tables says so; 07459 (befolkning) is real data.
    if name in ("levekar", "boligpriser", "startlan", "kommunale_boliger"):
        assert all(o["metadata"]["boso"]["synthetic"] for o in figures)


@pytest.mark.parametrize("kommune", KOMMUNER)
def test_figures_show_the_processed_numbers(executed, kommune: str) -> None:
    from boso import processed

    for notebook, indicator, title in (
        ("befolkning", "befolkning", "Befolkning"),
        (
            "kommunale_boliger",
            "kommunale_boliger_per_1000",
            "Kommunalt disponerte boliger per 1000 innbyggere",
        ),
        ("startlan", "startlan_per_1000", "Startlån per 1000 innbyggere"),
    ):
        expected = processed.load_indicator(indicator, kommunenummer=kommune).sort_values("aar")
        fig = figure_by_title(executed[(kommune, notebook)], title)
        trace = fig["data"][0]
        assert trace["x"] == expected["aar"].tolist()
        assert same_numbers(trace["y"], expected["verdi"].tolist()), (notebook, indicator)


def test_merged_kommune_has_register_and_the_other_not(executed) -> None:
    asker = executed[("3203", "kommunale_boliger")]
    baerum = executed[("3201", "kommunale_boliger")]
    titles = [o["metadata"]["boso"]["title"] for o in outputs(asker, "figure")]
    assert "Kommunale boliger i registeret" in titles
    tables = [o["metadata"]["boso"]["title"] for o in outputs(asker, "table")]
    assert {
        "Boliger etter boligtype",
        "Boliger etter målgruppe",
        "Boliger etter eierform",
        "Død tid mellom leieforhold, fordeling",
        "Husleie og salgspris per m² (brutto leieavkastning)",
    } <= set(tables)
    assert "Kommunale boliger i registeret" not in [
        o["metadata"]["boso"]["title"] for o in outputs(baerum, "figure")
    ]
    notices = [_text(o["data"]["text/plain"]) for o in outputs(baerum, "finding")]
    assert any("ikke lastet inn sitt eget boligregister" in n for n in notices)


def test_findings_state_numbers_in_norwegian(executed) -> None:
    nb = executed[("3203", "befolkning")]
    findings = [_text(o["data"]["text/plain"]) for o in outputs(nb, "finding")]
    population = next(f for f in findings if f.startswith("Befolkningen i Asker"))
    assert " % per år" in population and "," in population


def test_asker_boligbehov_states_2050_population_and_dwelling_need(executed, built: Path) -> None:
    from boso import processed

    nb = executed[("3203", "boligbehov")]
    findings = " ".join(_text(o["data"]["text/plain"]) for o in outputs(nb, "finding"))
    projection = processed.load_indicator("befolkning_framskrevet", kommunenummer="3203")
    in_2050 = projection.loc[projection["aar"] == 2050, "verdi"].sum()
    formatted = f"{in_2050:,.0f}".replace(",", " ")
    assert f"{formatted} i 2050" in findings
    assert "beregnet boligbehov på" in findings and "boliger fram til 2050" in findings
    assert "personer per privathusholdning" in findings and "holdt fast" in findings
    assert "per 1000 innbyggere som i" in findings
    # The projected part of the population line is dashed and drawn from the processed table.
    fig = figure_by_title(nb, "Befolkning og framskrevet befolkning")
    dashed = next(t for t in fig["data"] if t["line"]["dash"] == "dash")
    assert dashed["x"][-1] == 2050 and math.isclose(dashed["y"][-1], in_2050)
