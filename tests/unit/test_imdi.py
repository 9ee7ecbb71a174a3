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
        (b"hello;world\n1;2\n", "not an IMDi export"),
        (LONG.replace(";37", ";abc").encode(), "column Antall"),
        (LONG.replace("2019;0220", "20x9;0220").encode(), "År is not a year"),
        (b"Enhet;Aar;Kommunenummer\nPersoner;2019;0220\n", "missing columns"),
    ],
)
def test_bad_input_is_a_clear_error(content: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        imdi.parse_export(content, "bad.csv")
