"""Register trust (issue 8): declared shapes/types/ranges, and the sentence under the map."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from boso.register import import_register, map_sentence, mapped_count
from boso.register._schema import load_schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "register"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "register_fixtures", FIXTURES / "make_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def test_every_field_declares_a_type_and_every_text_field_a_shape():
    schema = load_schema()
    assert set(schema.types) == set(schema.labels)
    text_fields = {f for f, t in schema.types.items() if t == "text"}
    assert (
        text_fields
        == set(schema.shapes)
        == {"bolig_id", "adresse", "postnr", "poststed", "bolignr"}
    )
    assert {"maanedsleie", "bra_m2", "antall_rom"} <= set(schema.ranges)
    assert schema.not_after_export == {"innflyttet", "utflyttet"}


@pytest.mark.parametrize(
    ("field", "value", "fits"),
    [
        ("adresse", "Storgata 1", True),
        ("adresse", "Tangelia 76 A", True),
        ("adresse", "St. Olavs gate 12 H0101", True),
        ("adresse", "Hansen, Kari", False),
        ("adresse", "Kari Hansen", False),
        ("bolig_id", "HOL-0001", True),
        ("bolig_id", "Nordmann", False),
        ("bolignr", "H0101", True),
        ("bolignr", "Ola Nordmann", False),
        ("postnr", "3080", True),
        ("postnr", "30800", False),
    ],
)
def test_declared_shapes(field, value, fits):
    assert load_schema().fits_shape(field, value) is fits


def test_map_sentence_follows_what_is_drawn():
    assert (
        map_sentence(215, 215, True) == "Registeret har 215 boliger; kartet viser dem som punkter."
    )
    partial = map_sentence(215, 213, True)
    assert "kartet viser 213 av dem" in partial and "2 mangler brukbare koordinater" in partial
    none = map_sentence(215, 0, True)
    assert "ingen av dem har brukbare koordinater" in none and "bare kommunegrensen" in none
    assert "punkter" not in none
    assert "Kommunegrensen er ikke tilgjengelig" in map_sentence(10, 10, False)


def test_show_register_describes_the_points_drawn(project, monkeypatch):
    """Two dwellings with broken coordinates: the text says how many points the map has."""
    import boso.outputs as outputs
    from boso.register import report

    header, rows = GEN.generated_export(30, seed=11)
    north = header.index("Nord (UTM33)")
    # Dwellings GEN-0001 and GEN-0002: every one of their rows gets a northing far off Norway.
    for row in rows:
        if row[0] in ("GEN-0001", "GEN-0002"):
            row[north] = "12,5"
    path = project / "eksport_0301.csv"
    path.write_bytes(GEN.to_csv(header, rows))
    reg = import_register(path, "0301", quiet=True)
    drawn = mapped_count(reg)
    assert drawn == len(reg.dwellings) - 2

    sentences, maps_drawn = [], []
    monkeypatch.setattr(outputs, "show_text", sentences.append)
    monkeypatch.setattr(outputs, "show_table", lambda *a, **k: None)
    monkeypatch.setattr(outputs, "show_figure", lambda fig, **k: maps_drawn.append(fig))
    assert report.show_register("0301") is True
    points = sum(
        int(t.customdata.shape[0]) if t.customdata is not None else len(t.x)
        for t in maps_drawn[0].data
        if t.mode == "markers"
    )
    assert points <= drawn  # dwellings at one address share a point
    assert any(f"kartet viser {drawn} av dem som punkter" in s for s in sentences), sentences
    assert any("2 mangler brukbare koordinater" in s for s in sentences)


def test_a_header_shaped_like_an_identifier_is_not_quoted(project):
    import json

    header, rows = GEN.generated_export(10, seed=12)
    header = [*header, "kari.nordheim@example.no", "31129912345"]
    rows = [[*r, "x", "y"] for r in rows]
    path = project / "eksport_0301.csv"
    path.write_bytes(GEN.to_csv(header, rows))
    reg = import_register(path, "0301", quiet=True)
    text = json.dumps(reg.report.to_dict(), ensure_ascii=False)
    assert "kari.nordheim" not in text and "31129912345" not in text
    assert len(reg.report.unknown_columns) + len(reg.report.dropped_personal_columns) == 2


@pytest.mark.parametrize("vacant", [0, 1, 2, 3])
def test_the_vacancy_sentence_suppresses_counts_below_three(project, monkeypatch, vacant):
    """The number of dwellings vacant on the export date is a register count like any other."""
    import boso.outputs as outputs
    from boso.register import report

    header, rows = GEN.generated_export(30, seed=11)
    path = project / "eksport_0301.csv"
    path.write_bytes(GEN.to_csv(header, rows))
    import_register(path, "0301", quiet=True)
    real_vacancy = report.vacancy

    def vacancy_with(reg, *args, **kwargs):
        result = real_vacancy(reg, *args, **kwargs)
        result.vacant_now = vacant
        result.median_days = 40.0
        return result

    sentences = []
    monkeypatch.setattr(report, "vacancy", vacancy_with)
    monkeypatch.setattr(outputs, "show_text", sentences.append)
    monkeypatch.setattr(outputs, "show_table", lambda *a, **k: None)
    monkeypatch.setattr(outputs, "show_figure", lambda fig, **k: None)
    assert report.show_register("0301") is True
    said = next(s for s in sentences if "sto ledige på eksportdatoen" in s)
    if 0 < vacant < 3:
        assert "færre enn 3 boliger (prikket)" in said and f" {vacant} boliger" not in said
    else:
        assert f"{vacant} boliger sto ledige" in said
