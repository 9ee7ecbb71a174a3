"""The register section of a kommune report (boso.register.report) on a real fixture export.

The register is imported through the real reader into a tmp processed directory and shown by
the real report code; only IPython's display is replaced, to collect what a reader would see.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_maps import SQUARES, write_geo

from boso import figures
from boso.errors import QueryError
from boso.register import import_register, load_register, publication_tables, register_map, report

REGISTER = Path(__file__).resolve().parents[1] / "fixtures" / "register"
#: What a register knows about its tenants and their tenancies; never in the map's CSV link.
TENANT_COLUMNS = {"maanedsleie", "status", "innflyttet", "utflyttet", "antall_leieforhold"}


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list:
    outputs: list = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: outputs.append(obj))
    return outputs


def test_show_register_without_register_shows_notice(project: Path, shown: list) -> None:
    assert report.show_register("3201") is False
    assert len(shown) == 1 and "ikke lastet inn" in shown[0].sentence


def test_show_register_draws_map_and_tables(
    project: Path, shown: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_register(REGISTER / "messy_utf8bom_comma.csv", "3203", quiet=True, synthetic=True)
    reg = load_register("3203")
    boundaries = []

    def register_map(r, boundary):  # noqa: ANN001, ANN202 - the real map, boundary noted
        boundaries.append(boundary)
        return real_map(r, boundary)

    real_map = report.register_map
    monkeypatch.setattr(report, "register_map", register_map)
    assert report.show_register("3203", write_geo(project / "g.parquet")) is True
    assert len(boundaries) == 1 and boundaries[0].equals(SQUARES["3203"][1])
    figure = next(o for o in shown if isinstance(o, figures.FigureOutput))
    assert figure.synthetic and "Syntetiske demotall" in figure._html()
    # Only descriptive dwelling columns go into the CSV link, never anything about tenants.
    expected = [c for c in report.PUBLIC_DWELLING_COLUMNS if c in reg.dwellings.columns]
    assert figure.data.columns.tolist() == expected
    assert {"bolig_id", "adresse", "boligtype"} <= set(expected)
    assert not TENANT_COLUMNS & set(figure.data.columns)
    # Nor the target group: next to an address it tells who lives there.
    assert "maalgruppe" not in figure.data.columns
    drawn = json.dumps(figure.figure)
    assert not [g for g in reg.dwellings["maalgruppe"].dropna().unique() if g in drawn]
    tables = [o for o in shown if isinstance(o, figures.TableOutput)]
    assert [o.title for o in tables] == [title for title, _ in publication_tables(reg)]
    assert {"Boliger etter boligtype", "Død tid etter boligtype (dager)"} <= {
        o.title for o in tables
    }
    assert all(o.synthetic for o in tables)
    assert any("Median død tid" in getattr(o, "sentence", "") for o in shown)
    assert any("Registeret har 6 boliger" in getattr(o, "sentence", "") for o in shown)


@pytest.mark.parametrize(
    ("vacant", "said"),
    [
        (0, "0 boliger"),
        (1, "færre enn 3 boliger (prikket)"),
        (2, "færre enn 3 boliger (prikket)"),
        (3, "3 boliger"),
        (1234, "1 234 boliger"),
    ],
)
def test_vacant_now_below_three_is_suppressed_in_the_sentence(vacant: int, said: str) -> None:
    assert report.vacant_now_text(vacant) == said


def test_the_map_cannot_be_coloured_by_target_group(project: Path) -> None:
    import_register(REGISTER / "messy_utf8bom_comma.csv", "3203", quiet=True, synthetic=True)
    with pytest.raises(QueryError, match="ikke 'maalgruppe'"):
        register_map(load_register("3203"), color="maalgruppe")
