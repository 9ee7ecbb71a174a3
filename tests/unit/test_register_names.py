"""A person's name typed where a place belongs (``adresse``, ``poststed``) is not stored.

The rule is declared in ``register_schema.toml`` (``not_a_name`` and ``[place_words]``) and
applied in :mod:`boso.register.privacy`: the cell goes, the row stays, and the report names the
row and column but never the value.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from boso.register import read_register, read_register_bytes
from boso.register._schema import load_schema
from boso.register.privacy import check_not_a_name, name_as_place, name_as_street

NAME_MESSAGE = "kan være et personnavn"


@pytest.mark.parametrize(
    "address",
    [
        "Storgata 1",
        "Tangelia 76 A",
        "Øvre gate 1",
        "St. Olavs gate 12 H0101",
        "Øvre Lia 3",
        "Kong Oscars gate 2",
        "Karl Johans gate 1",
        "Henrik Ibsens gate 1",
        "Dronning Mauds gate 10",
        "Bygdøy allé 5",
        "Bygdøy Allé 5",
        "Gamle Drammensvei 4",
        "Nedre Slottsgate 3",
        "Aker Brygge 1",
        "KIRKEVEIEN 3",
        "KONG OSCARS GATE 2",
        "Sankt Hanshaugen 1",
        "Haugen 12",
        "Hegglia 4 H0201",
        "Berg Søndre 2",
    ],
)
def test_real_addresses_are_kept(address):
    schema = load_schema()
    assert schema.fits_shape("adresse", address)
    assert not name_as_street(address, schema)
    assert check_not_a_name("adresse", address, schema)


@pytest.mark.parametrize(
    "address",
    [
        "Kari Hansen 12",
        "KARI HANSEN 12",
        "kari hansen 12",
        "Kari Haugen 3",  # a surname that is also a place word is still a name
        "Ola Bakken 7 H0101",
        "Kari-Anne Nordheim 2",
        "Aisha Abdirahman 5 B",
        "Tesfay Solbakk Haugvik 40",
    ],
)
def test_name_shaped_addresses_are_suspect(address):
    schema = load_schema()
    assert schema.fits_shape("adresse", address)  # the shape alone lets them through
    assert name_as_street(address, schema)
    assert not check_not_a_name("adresse", address, schema)


@pytest.mark.parametrize(
    "place",
    [
        "HOLMESTRAND",
        "Oslo",
        "Sandnessjøen",
        "Mo i Rana",
        "BØ I TELEMARK",
        "Sande i Vestfold",
        "Kristiansand S",
        "KRISTIANSUND N",
        "Vestre Gausdal",
        "ØVRE ÅRDAL",
        "Øystre Slidre",
        "Nordre Follo",
        "Evje og Hornnes",
    ],
)
def test_real_poststeder_are_kept(place):
    schema = load_schema()
    assert schema.fits_shape("poststed", place)
    assert not name_as_place(place, schema)


@pytest.mark.parametrize("place", ["Kari Hansen", "KARI HANSEN", "Liv Tveitane", "Ola Per Moen"])
def test_name_shaped_poststeder_are_suspect(place):
    schema = load_schema()
    assert schema.fits_shape("poststed", place)
    assert name_as_place(place, schema)
    assert not check_not_a_name("poststed", place, schema)


def test_the_rule_is_declared_in_the_schema():
    schema = load_schema()
    assert schema.not_a_name == {"adresse": "street", "poststed": "place"}
    assert check_not_a_name("bolig_id", "Kari Hansen", schema)  # other fields: shapes only
    assert {"gate", "vei"} <= schema.street_words and "veien" in schema.street_suffixes
    assert {"øvre", "st", "kong"} <= schema.place_prefixes
    # Surnames that are also place words must not make a street by themselves.
    assert not {"haugen", "bakken", "lia", "berg", "vik", "strand", "moen"} & (
        schema.street_words | set(schema.street_suffixes)
    )
    assert schema.stable == {"adresse", "boligtype", "antall_rom", "bra_m2", "eierform", "x", "y"}
    assert schema.zero_pad == {"postnr": 4}
    assert schema.identifying == ("bolig_id", "adresse", "gnr")


def _export(rows: list[str]) -> bytes:
    header = "Objekt-ID;Adresse;Postnr;Poststed;Boligtype;Innflyttet;Utflyttet"
    return ("\r\n".join([header, *rows]) + "\r\n").encode("cp1252")


def test_a_name_in_place_columns_loses_the_cell_not_the_row():
    content = _export(
        [
            "A-1;Storgata 1;301;OSLO;Leilighet;01.02.2019;",
            "A-2;Kari Hansen 12;0302;OSLO;Hybel;01.03.2019;",
            "A-3;Kirkeveien 3;0303;Kari Hansen;Hybel;01.04.2019;",
            "A-4;Øvre gate 4;0304;Mo i Rana;Hybel;01.05.2019;",
        ]
    )
    result = read_register_bytes(content, "eksport.csv", "0301")
    d = result.dwellings.set_index("bolig_id")
    assert list(d.index) == ["A-1", "A-2", "A-3", "A-4"]  # every row kept
    assert d.loc["A-1", "postnr"] == "0301"  # the leading zero restored (declared zero_pad)
    assert d.loc["A-2", "adresse"] is None or str(d.loc["A-2", "adresse"]) == "<NA>"
    assert d.loc["A-2", "poststed"] == "OSLO"
    assert str(d.loc["A-3", "poststed"]) == "<NA>"
    assert d.loc["A-3", "adresse"] == "Kirkeveien 3"
    assert d.loc["A-4", "poststed"] == "Mo i Rana"
    named = [p for p in result.report.problems if NAME_MESSAGE in p.message]
    assert [(p.row, p.column) for p in named] == [(3, "Adresse"), (4, "Poststed")]
    assert named[0].message == (
        "verdi i kolonne Adresse rad 3 kan være et personnavn, ikke en adresse (ikke lagret)"
    )
    assert result.report.values_not_kept == 2
    # Never the value: not in the report, its summary, or the tables.
    text = json.dumps(result.report.to_dict(), ensure_ascii=False) + result.report.summary()
    text += result.dwellings.to_csv() + result.tenancies.to_csv()
    assert "Kari" not in text and "Hansen" not in text


def _registers() -> list[tuple[Path, str]]:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "register"
    found = [(p, "0301") for p in sorted(fixtures.iterdir()) if p.suffix in (".csv", ".xlsx")]
    snapshot = Path(os.environ.get("BOSO_SNAPSHOT", "/nonexistent")) / "municipal"
    if snapshot.is_dir():
        for path in sorted(snapshot.iterdir()):
            knr = next((part for part in path.stem.split("_") if part.isdigit()), None)
            if knr and path.suffix in (".csv", ".xlsx"):
                found.append((path, knr))
    return found


@pytest.mark.parametrize(("path", "knr"), _registers(), ids=lambda v: getattr(v, "name", v))
def test_real_registers_lose_no_cell_to_the_name_rule(path, knr):
    result = read_register(path, knr)
    assert not [p for p in result.report.problems if NAME_MESSAGE in p.message]
    assert not [p for p in result.report.problems if "stemmer ikke med postnummeret" in p.message]


ODD_PLACE = "stemmer ikke med postnummeret"


def test_a_one_word_name_as_poststed_is_caught_by_its_postnummer():
    # One word passes the shape of a poststed; the other rows with 0301 say what it should be.
    content = _export(
        [
            "A-1;Storgata 1;0301;OSLO;Leilighet;01.02.2019;",
            "A-2;Storgata 2;0301;Oslo;Hybel;01.03.2019;",
            "A-3;Storgata 3;0301;OSLO;Hybel;01.04.2019;",
            "A-4;Storgata 4;0301;Hansen;Hybel;01.05.2019;",
            "A-5;Storgata 5;0302;Hansen;Hybel;01.05.2019;",
        ]
    )
    result = read_register_bytes(content, "eksport.csv", "0301")
    d = result.dwellings.set_index("bolig_id")
    assert list(d.index) == ["A-1", "A-2", "A-3", "A-4", "A-5"]  # every row kept
    assert str(d.loc["A-4", "poststed"]) == "<NA>"
    assert d.loc["A-2", "poststed"] == "Oslo"  # case and spacing are not a disagreement
    # A postnummer seen once has nothing to agree with: structure alone decides there.
    assert d.loc["A-5", "poststed"] == "Hansen"
    odd = [p for p in result.report.problems if ODD_PLACE in p.message]
    assert [(p.row, p.column) for p in odd] == [(5, "Poststed")]
    text = json.dumps(result.report.to_dict(), ensure_ascii=False) + result.report.summary()
    assert "Hansen" not in text


def test_a_postnummer_without_a_clear_majority_keeps_its_poststeder():
    content = _export(
        [
            "A-1;Storgata 1;1384;ASKER;Leilighet;01.02.2019;",
            "A-2;Storgata 2;1384;ASKER;Hybel;01.03.2019;",
            "A-3;Storgata 3;1384;HEGGEDAL;Hybel;01.04.2019;",
        ]
    )
    result = read_register_bytes(content, "eksport.csv", "0301")
    assert list(result.dwellings["poststed"]) == ["ASKER", "ASKER", "HEGGEDAL"]
    assert not [p for p in result.report.problems if ODD_PLACE in p.message]
