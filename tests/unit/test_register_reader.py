"""boso.register reader: formats, header recognition, privacy, validation, coordinates."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from pyproj import Transformer
from shapely.geometry import box

from boso.errors import DataError
from boso.register import read_register, read_register_bytes
from boso.register._schema import load_schema
from boso.register.values import parse_date, parse_number

OSLO_POINTS = [(10.7520, 59.9130), (10.7540, 59.9140), (10.7300, 59.9200), (10.7310, 59.9210)]


@pytest.fixture
def reg_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "register"


@pytest.fixture
def oslo_box():
    """A box around the fixture points in EPSG:25833 (stands in for a kommune polygon)."""
    to33 = Transformer.from_crs(4326, 25833, always_xy=True)
    x0, y0 = to33.transform(10.70, 59.89)
    x1, y1 = to33.transform(10.80, 59.95)
    return box(x0, y0, x1, y1)


def problems_at(result, row):
    return [p for p in result.report.problems if p.row == row]


# ---------------------------------------------------------------------------- value parsers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("85,8", 85.8),
        ("11140,00", 11140.0),
        ("7 450,00", 7450.0),
        ("7\u00a0450,00", 7450.0),
        ("kr 8 390,-", 8390.0),
        ("1.234,50", 1234.5),
        ("1,234.50", 1234.5),
        ("1.234.567", 1234567.0),
        ("45.9", 45.9),
        ("72,5 m²", 72.5),
        (8390, 8390.0),
        (72.5, 72.5),
    ],
)
def test_parse_number_accepts_norwegian_formats(text, expected):
    assert parse_number(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["abc", "", "1,2,3", "--", "nan", "inf", True, "12a"])
def test_parse_number_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_number(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("27.10.2016", "2016-10-27"),
        ("1.2.2019", "2019-02-01"),
        ("2019-02-01", "2019-02-01"),
        ("2019-02-01 00:00:00", "2019-02-01"),
        ("01/02/2019", "2019-02-01"),
        (41915, "2014-10-03"),  # Excel serial (Holmestrand's first move-in)
        (43902.0, "2020-03-12"),
        ("43902", "2020-03-12"),
        (dt.datetime(2020, 3, 12, 14, 30), "2020-03-12"),
        (dt.date(2020, 3, 12), "2020-03-12"),
    ],
)
def test_parse_date_formats(value, expected):
    assert parse_date(value) == pd.Timestamp(expected)


@pytest.mark.parametrize("value", ["31.02.2021", "i går", "2019-13-01", 12, 10**7, "01.01.1850"])
def test_parse_date_rejects_garbage_and_implausible(value):
    with pytest.raises(ValueError):
        parse_date(value)


# ---------------------------------------------------------------------------- header mapping


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("BRA m²", "bra_m2"),
        ("Areal BRA (m2)", "bra_m2"),
        ("Husleie pr. mnd (kr)", "maanedsleie"),
        ("Månedsleie", "maanedsleie"),
        ("MAANEDSLEIE", "maanedsleie"),
        ("Gårdsnr.", "gnr"),
        ("GAARDSNR", "gnr"),
        ("Bruksnr.", "bnr"),
        ("Post nr.", "postnr"),
        ("Målgruppe/kategori", "maalgruppe"),
        ("Malgruppe", "maalgruppe"),
        ("Type bolig", "boligtype"),
        ("Eierforhold", "eierform"),
        ("Status leieforhold", "status"),
        ("Innflytting", "innflyttet"),
        ("utflyttet ", "utflyttet"),
        ("Øst (UTM32)", "x"),
        ("Nord (EUREF89 UTM33)", "y"),
        ("Objekt-ID", "bolig_id"),
        ("Bruksenhet", "bolignr"),
        ("Breddegrad", "lat"),
    ],
)
def test_header_synonyms_map_to_schema(header, field):
    assert load_schema().match_field(header) == field


@pytest.mark.parametrize("header", ["Leietaker", "Fødselsnummer", "Tlf.", "E-post", "Merknad"])
def test_personal_headers_are_recognised(header):
    schema = load_schema()
    assert schema.match_field(header) is None
    assert schema.is_personal_header(header)


@pytest.mark.parametrize("header", ["Kostnadssted", "Energimerke", "Byggeår"])
def test_unrelated_headers_are_neither_schema_nor_personal(header):
    schema = load_schema()
    assert schema.match_field(header) is None
    assert not schema.is_personal_header(header)


def test_crs_hints_from_headers():
    schema = load_schema()
    assert schema.crs_hint("Øst (UTM32)") == 25832
    assert schema.crs_hint("Nord (EUREF89 UTM33)") == 25833
    assert schema.crs_hint("Nord (EPSG:25833)") == 25833
    assert schema.crs_hint("Breddegrad (WGS84)") == 4326
    assert schema.crs_hint("X") is None


# ---------------------------------------------------------------------------- messy CSV


def test_messy_csv_layout_and_counts(reg_dir, oslo_box):
    result = read_register(reg_dir / "messy_utf8bom_comma.csv", "0301", boundary=oslo_box)
    report = result.report
    assert report.format == "csv"
    assert report.encoding == "UTF-8 (BOM)"
    assert report.delimiter == ","
    assert report.header_row == 4
    assert report.export_date == "2025-01-15"
    # 10 non-blank rows under the header: 7 kept, a repeated header, a stray row, a totals row.
    assert report.rows_read == 10
    assert report.rows_kept == 7
    assert list(result.dwellings["bolig_id"]) == [
        "T-001",
        "T-002",
        "T-003",
        "T-004",
        "T-005",
        "T-006",
    ]
    assert problems_at(result, 10)[0].message.startswith("gjentatt overskriftsrad")
    assert problems_at(result, 16)[0].message.startswith("summeringsrad")
    assert "mangler både adresse og objekt-ID" in problems_at(result, 15)[0].message


def test_messy_csv_personal_columns_dropped_by_header_and_content(reg_dir):
    result = read_register(reg_dir / "messy_utf8bom_comma.csv", "0301")
    report = result.report
    # Navn/Telefon/E-post/Merknad by header; Referanse only by its 11-digit contents.
    assert report.dropped_personal_columns == ["Navn", "Telefon", "E-post", "Merknad", "Referanse"]
    assert report.unknown_columns == ["Kostnadssted"]
    assert "Referanse" not in report.column_mapping
    everything = result.dwellings.to_csv() + result.tenancies.to_csv() + str(report.to_dict())
    for secret in ("Hansen", "Olsen", "912 34 567", "kari.hansen", "01017012345", "hund"):
        assert secret not in everything


def test_messy_csv_categories_normalised_and_unmapped_reported(reg_dir):
    result = read_register(reg_dir / "messy_utf8bom_comma.csv", "0301")
    d = result.dwellings.set_index("bolig_id")
    assert d.loc["T-002", "boligtype"] == "Leilighet"  # "LEILIGHET"
    assert d.loc["T-003", "boligtype"] == "Leilighet"  # "leil."
    assert d.loc["T-002", "maalgruppe"] == "Vanskeligstilte"
    assert d.loc["T-002", "eierform"] == "Innleid"
    assert d.loc["T-004", "boligtype"] == "Annet"
    assert result.report.unmapped_values == {"boligtype": {"Garasje": 1}}


def test_messy_csv_bad_values_reported_with_row_and_column(reg_dir):
    result = read_register(reg_dir / "messy_utf8bom_comma.csv", "0301")
    rent = problems_at(result, 11)
    assert any(p.column == "Husleie pr. mnd" and "ikke et tall" in p.message for p in rent)
    assert any(
        p.column == "Fra dato" and "ugyldig dato" in p.message for p in problems_at(result, 12)
    )
    backwards = problems_at(result, 9)
    assert any(p.column == "Til dato" and "før innflyttingsdato" in p.message for p in backwards)
    d = result.dwellings.set_index("bolig_id")
    assert np.isnan(d.loc["T-004", "maanedsleie"])  # never turned into 0
    assert d.loc["T-001", "maanedsleie"] == 7900.0  # the latest row's rent
    assert d.loc["T-001", "bra_m2"] == 45.5


def test_messy_csv_tenancies_and_status(reg_dir):
    result = read_register(reg_dir / "messy_utf8bom_comma.csv", "0301")
    ten = result.tenancies
    assert list(ten.columns) == [
        "kommunenummer",
        "bolig_id",
        "innflyttet",
        "utflyttet",
        "syntetisk",
    ]
    t1 = ten[ten["bolig_id"] == "T-001"]
    assert list(t1["innflyttet"]) == [pd.Timestamp("2020-01-15"), pd.Timestamp("2021-08-01")]
    assert pd.isna(t1["utflyttet"].iloc[1])
    assert "T-003" not in set(ten["bolig_id"])  # move-out before move-in: period rejected
    d = result.dwellings.set_index("bolig_id")
    assert d.loc["T-003", "status"] == "Ledig"  # last tenancy ended → the dwelling is empty
    assert d.loc["T-004", "status"] == "Ledig"
    assert d.loc["T-001", "status"] == "Utleid"


def test_wgs84_detected_and_point_outside_boundary_reported(reg_dir, oslo_box):
    result = read_register(reg_dir / "messy_utf8bom_comma.csv", "0301", boundary=oslo_box)
    assert result.source_crs == "EPSG:4326"
    to33 = Transformer.from_crs(4326, 25833, always_xy=True)
    x, y = to33.transform(10.7520, 59.9130)
    t1 = result.dwellings.set_index("bolig_id").loc["T-001"]
    assert t1["x"] == pytest.approx(x, abs=0.01)
    assert t1["y"] == pytest.approx(y, abs=0.01)
    assert result.report.boundary_status == "kontrollert"
    assert [p["bolig_id"] for p in result.report.points_outside] == ["T-006"]
    assert result.report.points_outside[0]["row"] == 13
    flags = result.dwellings.set_index("bolig_id")["utenfor_grense"]
    assert bool(flags["T-006"]) and not bool(flags["T-001"])


def test_without_boundary_the_check_is_reported_unavailable(reg_dir):
    result = read_register(reg_dir / "messy_utf8bom_comma.csv", "0301")
    assert result.report.boundary_status == "grense ikke tilgjengelig"
    assert result.report.points_outside == []
    assert result.dwellings["utenfor_grense"].isna().all()


# ---------------------------------------------------------------------------- latin-1 CSV, UTM


def test_latin1_csv_decodes_and_detects_utm32_from_values(reg_dir, oslo_box):
    result = read_register(reg_dir / "latin1_semicolon.csv", "0301", boundary=oslo_box)
    assert result.report.delimiter == ";"
    assert set(result.dwellings["adresse"]) == {"Åsveien 3", "Bærumsveien 7", "Øvre gate 1"}
    # Bare X/Y headers: the values only land inside the boundary when read as UTM 32.
    assert result.source_crs == "EPSG:25832"
    assert "kommunegrensen" in result.report.crs_basis
    assert result.report.points_outside == []
    to33 = Transformer.from_crs(4326, 25833, always_xy=True)
    x, _ = to33.transform(*OSLO_POINTS[0])
    first = result.dwellings.set_index("bolig_id").loc["Åsveien 3 H0101"]
    assert first["x"] == pytest.approx(x, abs=0.05)


def test_utm_without_hint_or_boundary_is_assumed_33_and_reported(reg_dir):
    result = read_register(reg_dir / "latin1_semicolon.csv", "0301")
    assert result.source_crs == "EPSG:25833"
    assert result.report.crs_basis == "antatt"
    assert any("antok EPSG:25833" in p.message for p in result.report.problems)


def test_dwelling_identity_from_address_and_unit_number(reg_dir):
    result = read_register(reg_dir / "latin1_semicolon.csv", "0301")
    assert sorted(result.dwellings["bolig_id"]) == [
        "Bærumsveien 7",
        "Åsveien 3 H0101",
        "Åsveien 3 H0102",
        "Øvre gate 1",
    ]
    d = result.dwellings.set_index("bolig_id")
    assert d.loc["Åsveien 3 H0101", "status"] == "Ledig"
    assert d.loc["Øvre gate 1", "status"] == "Under rehabilitering"
    assert d.loc["Åsveien 3 H0101", "maalgruppe"] == "Psykisk helse og rus"
    assert d.loc["Bærumsveien 7", "maalgruppe"] == "Annet"
    assert d.loc["Åsveien 3 H0101", "gnr"] == 12
    assert d.loc["Åsveien 3 H0101", "antall_leieforhold"] == 2
    assert d.loc["Åsveien 3 H0102", "eierform"] == "Innleid"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "iso-8859-1"])
def test_same_export_in_every_encoding_gives_the_same_tables(reg_dir, encoding):
    text = (reg_dir / "latin1_semicolon.csv").read_bytes().decode("iso-8859-1")
    reference = read_register(reg_dir / "latin1_semicolon.csv", "0301")
    result = read_register_bytes(text.encode(encoding), "eksport.csv", "0301")
    pd.testing.assert_frame_equal(result.dwellings, reference.dwellings)
    pd.testing.assert_frame_equal(result.tenancies, reference.tenancies)


def test_comma_delimited_with_quoted_decimal_commas(reg_dir):
    text = (reg_dir / "latin1_semicolon.csv").read_bytes().decode("iso-8859-1")
    lines = [
        ",".join(f'"{cell}"' if "," in cell else cell for cell in line.split(";"))
        for line in text.splitlines()
    ]
    result = read_register_bytes("\n".join(lines).encode("utf-8"), "komma.csv", "0301")
    assert result.report.delimiter == ","
    reference = read_register(reg_dir / "latin1_semicolon.csv", "0301")
    pd.testing.assert_frame_equal(result.dwellings, reference.dwellings)


# ---------------------------------------------------------------------------- xlsx


def test_xlsx_finds_sheet_header_dates_and_drops_personal_columns(reg_dir, oslo_box):
    result = read_register(reg_dir / "messy_export.xlsx", "0301", boundary=oslo_box)
    report = result.report
    assert report.format == "xlsx"
    assert report.sheet == "Utleieboliger"
    assert report.header_row == 5
    assert report.synthetic  # "SYNTETISKE TESTDATA" in the title rows
    assert report.export_date == "2025-02-03"
    assert report.dropped_personal_columns == ["Kontakt", "Fnr"]
    assert report.rows_read == 6 and report.rows_kept == 4
    assert [p.row for p in report.problems] == [9, 13]  # repeated header, totals row
    assert result.source_crs == "EPSG:25833"
    ten = result.tenancies.set_index(["bolig_id", "innflyttet"])
    assert ten.loc[("X-1", pd.Timestamp("2019-05-01")), "utflyttet"] == pd.Timestamp("2020-08-31")
    assert ("X-1", pd.Timestamp("2020-09-15")) in ten.index  # serial 44089
    assert ("X-2", pd.Timestamp("2019-02-04")) in ten.index  # serial 43500
    assert result.dwellings["syntetisk"].all()


def test_xlsx_written_in_memory_with_unusual_layout():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Rapport"])
    ws.append([])
    ws.append(["Boligadresse", "Boligtype", "Målgruppe", "Innflyttingsdato", "Kommentar"])
    ws.append(["Lia 1", "Hybel", "Ungdom", dt.date(2021, 1, 5), "Skal flytte snart"])
    ws.append(["Lia 2", "Hybel", "Ungdom", "05.01.2021", None])
    buffer = io.BytesIO()
    wb.save(buffer)
    result = read_register_bytes(buffer.getvalue(), "liste.xlsx", "0301")
    assert result.report.dropped_personal_columns == ["Kommentar"]
    assert list(result.tenancies["innflyttet"]) == [pd.Timestamp("2021-01-05")] * 2
    assert "Skal flytte" not in result.dwellings.to_csv()


# ---------------------------------------------------------------------------- privacy in cells


def test_identifier_inside_a_schema_column_is_blanked_without_echo():
    text = (
        "Adresse;Boligtype;Målgruppe;Innflyttet\n"
        "Lia 1;Hybel;Ungdom;01.01.2020\n"
        "12345678901;Hybel;Ungdom;01.01.2020\n"
        "Lia 3;ola@example.no;Ungdom;01.01.2020\n"
    )
    result = read_register_bytes(text.encode(), "x.csv", "0301")
    dump = result.dwellings.to_csv() + str(result.report.to_dict())
    assert "12345678901" not in dump and "ola@example.no" not in dump
    assert any(p.row == 3 and p.column == "Adresse" for p in result.report.problems)
    assert any(p.row == 4 and p.column == "Boligtype" for p in result.report.problems)


def test_unknown_column_of_names_or_phones_is_personal_by_content():
    text = (
        "Adresse;Boligtype;Målgruppe;Kontaktinfo;Ansvarlig\n"
        "Lia 1;Hybel;Ungdom;41234567;Kari Nordmann\n"
        "Lia 2;Hybel;Ungdom;98765432;Ola Hansen\n"
    )
    result = read_register_bytes(text.encode(), "x.csv", "0301")
    assert result.report.dropped_personal_columns == ["Kontaktinfo", "Ansvarlig"]
    assert result.report.unknown_columns == []


# ---------------------------------------------------------------------------- clear errors


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "tom"),
        (b"   \n\n", "tom"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
        (b"PK\x03\x04" + b"\x00" * 50, "Excel"),
        (b"a;b;c\n1;2;3\n", "overskriftsrad"),
        (b"\x00\x01\x02garbage\xff" * 40, "binære"),
        ("Adresse;Boligtype;Målgruppe\n".encode(), "ingen boligrader"),
    ],
)
def test_unreadable_inputs_give_one_clear_data_error(content, expected):
    with pytest.raises(DataError) as info:
        read_register_bytes(content, "eksport.csv", "0301")
    message = str(info.value)
    assert message.startswith("eksport.csv: ")
    assert expected in message
    assert "\n" not in message


def test_missing_file_and_bad_kommunenummer(tmp_path):
    with pytest.raises(DataError, match="finnes ikke"):
        read_register(tmp_path / "nope.csv", "0301")
    with pytest.raises(DataError, match="mappe"):
        read_register(tmp_path, "0301")
    (tmp_path / "a.csv").write_text("Adresse;Boligtype;Målgruppe\nLia 1;Hybel;Ungdom\n")
    with pytest.raises(DataError, match="kommunenummer"):
        read_register(tmp_path / "a.csv", "301")
