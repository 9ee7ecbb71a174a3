"""boso.register on disk: raw copy, processed tables, report, snapshot hook, CLI, privacy scan."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from boso import raw
from boso.cli import main
from boso.errors import DataError
from boso.register import (
    import_register,
    import_snapshot_registers,
    kommunenummer_from_name,
    load_register,
    output_paths,
    publication_tables,
    read_register,
    register_map,
)
from privacy_scan import find_identifiers, snapshot_identifiers  # tests/privacy_scan.py

HOLMESTRAND = "holmestrand_3903_boligoversikt_SYNTETISK.xlsx"
ASKER = "asker_3203_kommunale_boliger_SYNTETISK.csv"


def _load_fixture_generator():
    # The identifiers planted in the messy fixtures are declared once, by their generator.
    path = Path(__file__).resolve().parents[1] / "fixtures" / "register" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("register_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_FIXTURES = _load_fixture_generator()
MESSY_IDENTIFIERS = _FIXTURES.MESSY_IDENTIFIERS
XLSX_IDENTIFIERS = _FIXTURES.XLSX_IDENTIFIERS


@pytest.fixture
def reg_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "register"


# ---------------------------------------------------------------------------- privacy scan


def test_privacy_scan_finds_planted_identifiers(tmp_path):
    (tmp_path / "ok.json").write_text('{"adresse": "Lia 1"}')
    (tmp_path / "bad.html").write_text("<p>Leietaker: Hansen, Kari (010170 12345)</p>")
    pd.DataFrame({"x": ["Lia 1", "kari.hansen@example.no"]}).to_parquet(tmp_path / "t.parquet")
    hits = find_identifiers([tmp_path], ["Hansen, Kari", "01017012345", "kari.hansen@example.no"])
    assert sorted((p.name, i) for p, i in hits) == [
        ("bad.html", "01017012345"),
        ("bad.html", "Hansen, Kari"),
        ("t.parquet", "kari.hansen@example.no"),
    ]


def test_no_identifier_from_the_inputs_reaches_processed(project, snapshot_dir, reg_dir):
    """The issue's privacy test: import both exports (and a messier one), scan the outputs."""
    municipal = snapshot_dir / "municipal"
    identifiers = snapshot_identifiers(snapshot_dir, name_parts=True)
    assert len([i for i in identifiers if re.fullmatch(r"\d{11}", i)]) >= 100
    # The scan really knows the names, whole, in natural order and as single parts.
    assert {"Larsen, Oleksandr", "Oleksandr Larsen", "Oleksandr"} <= set(identifiers)

    import_register(municipal / HOLMESTRAND, "3903", quiet=True)
    import_register(municipal / ASKER, "3203", quiet=True)
    import_register(reg_dir / "messy_utf8bom_comma.csv", "0301", quiet=True)
    import_register(reg_dir / "messy_export.xlsx", "0302", quiet=True)

    # What a report shows: the map's JSON (hover texts) and every published table.
    for nr in ("3903", "3203", "0301", "0302"):
        reg = load_register(nr)
        (project / "reports" / f"{nr}_kart.json").write_text(register_map(reg, None).to_json())
        tables = "\n".join(t.to_csv() for _, t in publication_tables(reg))
        (project / "reports" / f"{nr}_tabeller.csv").write_text(tables)

    processed = project / "data" / "processed"
    written = sorted(p.name for p in processed.iterdir())
    assert "core_register__3903.parquet" in written
    assert "core_register__3903__validering.json" in written
    outputs = [processed, project / "reports", project / "_site"]
    secrets = [
        *identifiers,
        *MESSY_IDENTIFIERS,
        *XLSX_IDENTIFIERS,
    ]
    assert find_identifiers(outputs, secrets) == []
    # ... while the raw copy (never published) still holds them: the scan is not blind.
    raw_hits = find_identifiers([project / "data" / "raw" / "register"], MESSY_IDENTIFIERS)
    assert {ident for _, ident in raw_hits} == set(MESSY_IDENTIFIERS)


# ---------------------------------------------------------------------------- import_register


def test_import_register_writes_raw_copy_tables_and_report(project, reg_dir, capsys):
    source = reg_dir / "messy_export.xlsx"
    result = import_register(source, "0302")
    stored = project / "data" / "raw" / "register" / "messy_export.xlsx"
    assert stored.read_bytes() == source.read_bytes()  # unchanged
    provenance = json.loads((stored.parent / "messy_export.xlsx.provenance.json").read_text())
    assert provenance["synthetic"] is True  # title row says SYNTETISKE TESTDATA
    assert provenance["sha256"] == raw.sha256_bytes(source.read_bytes())
    assert provenance["kommunenummer"] == "0302"

    out = output_paths("0302")
    assert out["dwellings"] == project / "data/processed/core_register__0302.parquet"
    dwellings = pd.read_parquet(out["dwellings"])
    tenancies = pd.read_parquet(out["tenancies"])
    assert out["tenancies"].name == "core_register__0302__leieforhold.parquet"
    assert dwellings["syntetisk"].all() and tenancies["syntetisk"].all()
    assert len(dwellings) == 3 and len(tenancies) == 3
    assert set(tenancies.columns) == {
        "kommunenummer",
        "bolig_id",
        "innflyttet",
        "utflyttet",
        "syntetisk",
    }
    report = json.loads(out["report"].read_text())
    assert report["rows_read"] == 6 and report["rows_kept"] == 4
    assert report["dropped_personal_columns"] == ["Kontakt", "Fnr"]
    assert {"row": 13, "column": None, "message": "summeringsrad; hoppet over"} in report[
        "problems"
    ]
    printed = capsys.readouterr().out
    assert "rader lest: 6, rader beholdt: 4" in printed
    assert "personopplysninger fjernet (kolonner): Kontakt, Fnr" in printed
    assert result.report.rows_kept == 4


def test_synthetic_flag_from_file_name_or_caller(project, reg_dir, tmp_path):
    plain = tmp_path / "oslo_0301_boliger.csv"
    plain.write_bytes((reg_dir / "latin1_semicolon.csv").read_bytes())
    assert not import_register(plain, "0301", quiet=True).synthetic
    assert not pd.read_parquet(output_paths("0301")["dwellings"])["syntetisk"].any()
    assert import_register(plain, "0301", quiet=True, synthetic=True).synthetic
    named = tmp_path / "oslo_0301_boliger_SYNTETISK.csv"
    named.write_bytes(plain.read_bytes())
    assert import_register(named, "0301", quiet=True).synthetic


def test_unreadable_file_writes_nothing(project, tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="bad.xlsx"):
        import_register(bad, "0301", quiet=True)
    assert not any((project / "data" / "raw").rglob("*.xlsx"))
    assert list((project / "data" / "processed").iterdir()) == []


def test_load_register_round_trip_and_absent(project, reg_dir):
    assert load_register("0301") is None
    original = import_register(reg_dir / "messy_utf8bom_comma.csv", "0301", quiet=True)
    loaded = load_register("0301")
    assert loaded is not None
    pd.testing.assert_frame_equal(loaded.dwellings, original.dwellings, check_dtype=False)
    pd.testing.assert_frame_equal(loaded.tenancies, original.tenancies, check_dtype=False)
    assert loaded.report.problems == original.report.problems
    assert loaded.report.export_date == "2025-01-15"
    assert loaded.source_crs == "EPSG:4326"


def test_boundary_from_processed_geo_table(project, reg_dir):
    import geopandas as gpd
    from pyproj import Transformer
    from shapely.geometry import box

    to33 = Transformer.from_crs(4326, 25833, always_xy=True)
    x0, y0 = to33.transform(10.70, 59.89)
    x1, y1 = to33.transform(10.80, 59.95)
    gpd.GeoDataFrame(
        {"kommunenummer": ["0301"], "kommunenavn": ["Oslo"]},
        geometry=[box(x0, y0, x1, y1)],
        crs=25833,
    ).to_parquet(project / "data" / "processed" / "core_geo__kommuner.parquet")
    result = import_register(reg_dir / "messy_utf8bom_comma.csv", "0301", quiet=True)
    assert result.report.boundary_status == "kontrollert"
    assert [p["bolig_id"] for p in result.report.points_outside] == ["T-006"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("asker_3203_kommunale_boliger_SYNTETISK.csv", "3203"),
        ("holmestrand_3903_boligoversikt_SYNTETISK.xlsx", "3903"),
        ("0301-boliger.csv", "0301"),
        ("boliger_2024.csv", "2024"),
        ("boliger.csv", None),
    ],
)
def test_kommunenummer_from_name(name, expected):
    assert kommunenummer_from_name(name) == expected


def test_import_snapshot_registers_cleans_raw_register_files(project, reg_dir, capsys):
    store = raw.RawStore()
    good = store.write(
        "register",
        "testby_0301_boliger.csv",
        (reg_dir / "latin1_semicolon.csv").read_bytes(),
        url="snapshot:municipal/testby_0301_boliger.csv",
        synthetic=True,
    )
    broken = store.write("register", "brokby_0302_boliger.xlsx", b"PK\x03\x04", url="x")
    nameless = store.write("register", "boliger.csv", b"Adresse\n", url="x")
    other = store.write("ssb", "12008.json", b"{}", url="x")
    import_snapshot_registers([good, broken, nameless, other])
    loaded = load_register("0301")
    assert loaded is not None and loaded.synthetic and len(loaded.dwellings) == 4
    assert load_register("0302") is None
    err = capsys.readouterr().err
    assert "brokby_0302_boliger.xlsx" in err and "boliger.csv" in err
    # No second raw copy: the register folder holds just what the snapshot import wrote.
    names = sorted(p.name for p in (project / "data/raw/register").iterdir())
    assert names == sorted(
        [
            "boliger.csv",
            "boliger.csv.provenance.json",
            "brokby_0302_boliger.xlsx",
            "brokby_0302_boliger.xlsx.provenance.json",
            "testby_0301_boliger.csv",
            "testby_0301_boliger.csv.provenance.json",
        ]
    )


# ---------------------------------------------------------------------------- CLI


def test_cli_register_import(project, reg_dir, capsys):
    source = str(reg_dir / "latin1_semicolon.csv")
    assert main(["register", "import", source, "--kommune", "0301"]) == 0
    out = capsys.readouterr().out
    assert "Boligregister 0301" in out and "boliger: 4" in out
    assert output_paths("0301")["dwellings"].is_file()


@pytest.mark.parametrize(
    ("content", "kommune", "expected"),
    [
        (b"\x00\x01binary" * 30, "0301", "binære data"),
        (None, "0301", "finnes ikke"),
        (b"Adresse;Boligtype;Malgruppe\nLia 1;Hybel;Ungdom\n", "30", "ugyldig kommunenummer"),
    ],
)
def test_cli_register_import_errors_are_one_line(
    project, tmp_path, capsys, content, kommune, expected
):
    target = tmp_path / "eksport.csv"
    if content is not None:
        target.write_bytes(content)
    assert main(["register", "import", str(target), "--kommune", kommune]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and expected in err and err.startswith("boso: feil:")


# ---------------------------------------------------------------------------- snapshot exports


def test_both_snapshot_exports_import_cleanly(snapshot_dir):
    import geopandas as gpd

    boundary = gpd.read_file(snapshot_dir / "geo/2024/Kommuner-S.geojson")
    asker = read_register(snapshot_dir / "municipal" / ASKER, "3203", boundary=boundary)
    assert asker.report.encoding == "Windows-1252" and asker.report.delimiter == ";"
    assert len(asker.dwellings) == 215  # as the manifest says
    assert asker.report.rows_read == asker.report.rows_kept == 521
    assert asker.report.problems == []
    assert asker.source_crs == "EPSG:25832"
    assert asker.report.points_outside == []
    assert asker.report.unmapped_values == {}
    assert set(asker.dwellings["eierform"]) == {"Kommunalt eid", "Innleid", "Tildelingsrett"}

    holm = read_register(snapshot_dir / "municipal" / HOLMESTRAND, "3903", boundary=boundary)
    assert holm.report.sheet == "Boliger" and holm.report.header_row == 4
    assert len(holm.dwellings) == 54
    assert holm.report.rows_kept == 146
    assert [(p.row, p.message) for p in holm.report.problems] == [
        (152, "summeringsrad; hoppet over")
    ]
    assert holm.report.dropped_personal_columns == ["Leietaker", "Fødselsnummer"]
    assert holm.source_crs == "EPSG:25833"
    assert holm.report.points_outside == []
    assert holm.report.export_date == "2024-11-04"
    assert asker.synthetic and holm.synthetic
    # Excel serial 41915 is 2014-10-03: HOL-0001's first tenancy.
    first = holm.tenancies[holm.tenancies["bolig_id"] == "HOL-0001"].iloc[0]
    assert first["innflyttet"] == pd.Timestamp("2014-10-03")


def test_snapshot_import_cli_cleans_both_registers(project, snapshot_dir, capsys):
    assert main(["snapshot", "import", str(snapshot_dir)]) == 0
    out = capsys.readouterr().out
    assert "boligregister 3203: 215 boliger" in out
    assert "boligregister 3903: 54 boliger" in out
    for nr in ("3203", "3903"):
        reg = load_register(nr)
        assert reg is not None and reg.synthetic
        # The raw geo file from the snapshot served as the boundary.
        assert reg.report.boundary_status == "kontrollert"


def test_boundary_from_plain_wkb_parquet_and_plain_frame(project, reg_dir):
    import shapely
    from pyproj import Transformer
    from shapely.geometry import box

    to33 = Transformer.from_crs(4326, 25833, always_xy=True)
    x0, y0 = to33.transform(10.70, 59.89)
    x1, y1 = to33.transform(10.80, 59.95)
    square = box(x0, y0, x1, y1)
    pd.DataFrame({"kommunenummer": ["0301"], "geometry": [shapely.to_wkb(square)]}).to_parquet(
        project / "data" / "processed" / "core_geo__kommuner.parquet"
    )
    result = import_register(reg_dir / "messy_utf8bom_comma.csv", "0301", quiet=True)
    assert [p["bolig_id"] for p in result.report.points_outside] == ["T-006"]
    # The frame boso.maps.read_geo returns: shapely objects, no GeoDataFrame.
    plain = pd.DataFrame({"kommunenummer": ["0301", "0302"], "geometry": [square, box(0, 0, 1, 1)]})
    again = read_register(reg_dir / "messy_utf8bom_comma.csv", "0301", boundary=plain)
    assert [p["bolig_id"] for p in again.report.points_outside] == ["T-006"]
    missing = read_register(reg_dir / "messy_utf8bom_comma.csv", "0303", boundary=plain)
    assert missing.report.boundary_status == "grense ikke tilgjengelig"
