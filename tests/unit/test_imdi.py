"""IMDi settlement exports: both layouts, symbols, encodings, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from boso.errors import DataError
from boso.sources import imdi

LONG = (
    "Enhet;År;Kommunenummer;Kommune;Bosetting;Antall\n"
    "Personer;2019;0220;Asker (t.o.m. 2019);Faktisk bosetting;37\n"
    "Personer;2019;0627;Røyken (t.o.m. 2019);Faktisk bosetting;:\n"
    "Personer;2011;0628;Hurum (t.o.m. 2019);Faktisk bosetting;.\n"
    "Prosent;2019;0220;Asker (t.o.m. 2019);Faktisk bosetting;100\n"
    "Personer;2019;9999;Uoppgitt;Faktisk bosetting;3\n"
)

WIDE = (
    "Region;Navn;Bosetting: Anmodning om bosetting;Bosetting: Faktisk bosetting\n"
    ";;Enhet: Personer;Enhet: Personer\n"
    ";;År: 2019;År: 2019\n"
    "K3001;Halden;20;:\n"
    "K0104;Moss (t.o.m. 2019);.;12\n"
)


def test_long_layout_latin1() -> None:
    frame = imdi.parse_export(LONG.encode("iso-8859-1"), "x.csv")
    assert list(frame.columns) == [
        "kode",
        "kommunenavn",
        "aar",
        "serie",
        "enhet",
        "verdi",
        "status",
    ]
    assert "9999" not in set(frame["kode"])
    first = frame.iloc[0]
    assert (first["kode"], first["kommunenavn"], first["aar"], first["verdi"]) == (
        "0220",
        "Asker",
        2019,
        37.0,
    )
    suppressed = frame.loc[frame["kode"] == "0627"].iloc[0]
    assert np.isnan(suppressed["verdi"]) and suppressed["status"] == ":"
    missing = frame.loc[frame["kode"] == "0628"].iloc[0]
    assert np.isnan(missing["verdi"]) and missing["status"] == ".."


def test_long_layout_utf8_with_bom() -> None:
    frame = imdi.parse_export(b"\xef\xbb\xbf" + LONG.encode("utf-8"), "x.csv")
    assert frame.loc[frame["kode"] == "0627", "kommunenavn"].iloc[0] == "Røyken"


def test_wide_layout() -> None:
    frame = imdi.parse_export(WIDE.encode("iso-8859-1"), "w.csv")
    halden = frame.loc[frame["kode"] == "3001"].set_index("serie")
    assert halden.loc["Anmodning om bosetting", "verdi"] == 20
    assert halden.loc["Faktisk bosetting", "status"] == ":"
    moss = frame.loc[frame["kode"] == "0104"].set_index("serie")
    assert moss.loc["Faktisk bosetting", "verdi"] == 12
    assert moss.loc["Anmodning om bosetting", "status"] == ".."
    assert set(frame["aar"]) == {2019}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello;world\n1;2\n", "ikke en IMDi-eksport"),
        (LONG.replace(";37", ";abc").encode(), "kolonne Antall"),
        (LONG.replace("2019;0220", "20x9;0220").encode(), "År er ikke et årstall"),
        (b"Enhet;Aar;Kommunenummer\nPersoner;2019;0220\n", "mangler kolonnene"),
    ],
)
def test_bad_input_is_a_clear_error(content: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        imdi.parse_export(content, "bad.csv")


def test_long_export_without_its_last_line_end_is_cut() -> None:
    # "…;37" cut to "…;3" would otherwise be read as 3.
    cut = LONG.rstrip("\n")
    with pytest.raises(DataError, match=r"linje 6: siste linje slutter uten linjeskift"):
        imdi.parse_export(cut.encode("iso-8859-1"), "x.csv")


def test_wide_export_ends_without_a_line_end_as_imdi_writes_it() -> None:
    frame = imdi.parse_export(WIDE.rstrip("\n").encode("iso-8859-1"), "w.csv")
    assert set(frame["kode"]) == {"3001", "0104"}


def test_a_row_with_fewer_fields_is_named_by_line() -> None:
    lines = LONG.splitlines()
    lines[2] = lines[2].rsplit(";", 1)[0]
    with pytest.raises(DataError, match=r"x.csv, linje 3: 5 felt, ventet 6"):
        imdi.parse_export(("\n".join(lines) + "\n").encode(), "x.csv")


def test_check_replaces_refuses_less_and_accepts_more() -> None:
    old = LONG.encode("iso-8859-1")
    with pytest.raises(DataError, match="første"):
        imdi.check_replaces(old, old[: len(old) // 2], "x.csv")
    fewer = "".join(line + "\n" for line in LONG.splitlines() if ";0220;" not in line)
    with pytest.raises(DataError, match="mangler 2 kommune×år"):
        imdi.check_replaces(old, fewer.encode("iso-8859-1"), "x.csv")
    more = LONG + "Personer;2020;3025;Asker;Faktisk bosetting;40\n"
    imdi.check_replaces(old, more.encode("iso-8859-1"), "x.csv")
