"""Processed store: the indicator schema check guards every write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from boso import processed
from boso.errors import DataError


def good_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "indikator": "befolkning",
            "nivaa": ["kommune", "kommune", "landet"],
            "region": ["3203", "3203", "0"],
            "regionnavn": ["Asker", "Asker", "Landet"],
            "kommunenummer": ["3203", "3203", None],
            "kommunenavn": ["Asker", "Asker", None],
            "aar": np.array([2020, 2021, 2020], dtype="int64"),
            "verdi": [1.0, np.nan, 3.0],
            "status": ["", ":", ""],
            "enhet": "personer",
            "kilde": "SSB 07459",
            "kilde_oppdatert": "2022-02-23",
            "hentet": "2026-11-22",
            "syntetisk": False,
            "harmonisering": "",
            "merknad": "",
        }
    )


def test_good_frame_round_trips(tmp_path: Path) -> None:
    path = processed.write_table(good_frame(), "out_boso__befolkning", tmp_path)
    assert path.is_file()
    back = processed.read_table("out_boso__befolkning", tmp_path)
    pd.testing.assert_frame_equal(back, good_frame())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns="status"), "mangler kolonnene"),
        (lambda f: f.assign(status=["", "x", ""]), "ukjente statussymboler"),
        (lambda f: f.assign(kommunenummer=["3203", "32", None]), "fire tegn"),
        (lambda f: f.assign(status=["", "", ""]), "manglende verdi uten statussymbol"),
        (lambda f: f.assign(verdi=[1.0, 0.0, 3.0]), "skjult/manglende verdi har likevel en verdi"),
        (lambda f: f.assign(aar=[2020, 2020, 2020]), "dupliserte rader"),
        (lambda f: f.assign(nivaa=["kommune", "kommune", "verden"]), "ukjent nivaa"),
    ],
)
def test_schema_violations_are_refused(tmp_path: Path, mutate, message: str) -> None:
    target = tmp_path / "out_boso__befolkning.parquet"
    processed.write_table(good_frame(), "out_boso__befolkning", tmp_path)
    before = target.read_bytes()
    with pytest.raises(DataError, match=message):
        processed.write_table(mutate(good_frame()), "out_boso__befolkning", tmp_path)
    assert target.read_bytes() == before


def test_missing_table_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="kjør `boso build`"):
        processed.read_table("out_boso__befolkning", tmp_path)


def _registry() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kommunenummer": ["3203", "0301", "9999", "1867"],
            "kommunenavn": ["Asker", "Oslo", "Uoppgitt", "Bø"],
            "fylkesnummer": ["32", "03", "99", "18"],
            "fylkesnavn": ["Akershus", "Oslo", "Uoppgitt", "Nordland"],
            "kostragruppe": ["EKG13", "EKG13", None, "EKG05"],
            "kostragruppenavn": ["KOSTRA-gruppe 13", "KOSTRA-gruppe 13", None, None],
        }
    )


def test_load_registry_checks_sorts_and_labels(tmp_path: Path) -> None:
    processed.write_table(_registry(), "core_klass__kommuner", tmp_path)
    registry = processed.load_registry(tmp_path)
    assert registry["kommunenummer"].tolist() == ["0301", "1867", "3203"]
    assert registry["kostragruppenavn"].tolist() == [
        "KOSTRA-gruppe 13",
        "KOSTRA-gruppe 5",
        "KOSTRA-gruppe 13",
    ]
    assert processed.kommune_info("301", tmp_path)["kommunenavn"] == "Oslo"


def test_load_registry_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="core_klass__kommuner.parquet mangler: kjør `boso build`"):
        processed.load_registry(tmp_path)
    with pytest.raises(DataError, match="mangler kolonne\\(r\\): fylkesnavn"):
        processed.check_registry(_registry().drop(columns="fylkesnavn"))
    only_codes = processed.check_registry(_registry()[["kommunenummer"]], required=())
    assert only_codes["kommunenummer"].tolist() == ["0301", "1867", "3203"]
    bad = _registry().assign(kommunenummer=["3203", "Oslo", "9999", "1867"])
    with pytest.raises(DataError, match="rad 1: kommunenummer 'Oslo' er ikke fire siffer"):
        processed.check_registry(bad)


def test_check_registry_refuses_a_repeated_kommunenummer() -> None:
    from boso.processed import check_registry

    registry = pd.DataFrame(
        {
            "kommunenummer": ["0301", "3203", "0301"],
            "kommunenavn": ["Oslo", "Asker", "Oslo"],
            "fylkesnummer": ["03", "32", "03"],
            "fylkesnavn": ["Oslo", "Akershus", "Oslo"],
        }
    )
    with pytest.raises(DataError, match="rad 2: kommunenummer 0301 står to ganger"):
        check_registry(registry)
