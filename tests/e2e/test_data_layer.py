"""The offline main job's data part on the shared snapshot: snapshot import → build → export.

Expected values are computed independently from the raw JSON-stat files (plain json, no boso
code), so a harmonisation bug cannot hide behind the reader it uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from boso import build, processed, raw
from boso.errors import DataError

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def built(snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    os.environ["BOSO_HOME"] = str(root)
    store = raw.RawStore(root / "data" / "raw")
    raw.import_snapshot(snapshot_dir, store)
    (root / "data" / "processed").mkdir(parents=True)
    build.build(store, root / "data" / "processed")
    yield root
    os.environ.pop("BOSO_HOME", None)


def cell(snapshot_dir: Path, table: str, region: str, contents: str, year: str) -> tuple:
    """Value and status of one cell, read with plain json (row-major over `id`)."""
    doc = json.loads((snapshot_dir / "ssb" / f"{table}.json").read_text("utf-8"))
    coords = {doc["id"][0]: region, "ContentsCode": contents, "Tid": year}
    position = 0
    for dim, size in zip(doc["id"], doc["size"], strict=True):
        index = doc["dimension"][dim]["category"]["index"]
        position = position * size + index[coords[dim]]
    return doc["value"][position], doc.get("status", {}).get(str(position), "")


def series(root: Path, indicator: str, kommune: str) -> pd.Series:
    frame = processed.load_indicator(indicator, kommune, root=root / "data" / "processed")
    return frame.set_index("aar")["verdi"]


def test_asker_is_back_cast_to_2024_borders(built: Path, snapshot_dir: Path) -> None:
    boliger = series(built, "kommunale_boliger", "3203")
    for year in ("2015", "2019"):
        expected = sum(
            cell(snapshot_dir, "12008", code, "KOSboligtot0000", year)[0]
            for code in ("0220", "0627", "0628")
        )
        assert boliger[int(year)] == expected
    assert boliger[2022] == cell(snapshot_dir, "12008", "3025", "KOSboligtot0000", "2022")[0]
    assert boliger[2024] == cell(snapshot_dir, "12008", "3203", "KOSboligtot0000", "2024")[0]


def test_holmestrand_through_two_reforms(built: Path, snapshot_dir: Path) -> None:
    boliger = series(built, "kommunale_boliger", "3903")
    expected_2017 = sum(
        cell(snapshot_dir, "12008", code, "KOSboligtot0000", "2017")[0]
        for code in ("0702", "0714", "0713")
    )
    expected_2019 = sum(
        cell(snapshot_dir, "12008", code, "KOSboligtot0000", "2019")[0] for code in ("0715", "0713")
    )
    assert boliger[2017] == expected_2017
    assert boliger[2019] == expected_2019
    # 3803 is Tønsberg, never part of Holmestrand.
    tonsberg = cell(snapshot_dir, "12008", "3803", "KOSboligtot0000", "2021")[0]
    assert boliger[2021] == cell(snapshot_dir, "12008", "3802", "KOSboligtot0000", "2021")[0]
    assert boliger[2021] != tonsberg


def test_rates_are_recomputed_never_summed(built: Path, snapshot_dir: Path) -> None:
    rate = series(built, "kommunale_boliger_per_1000", "3203")
    count = series(built, "kommunale_boliger", "3203")
    population = series(built, "befolkning", "3203")
    # Merged years: count / population 1 January the year after * 1000.
    assert rate[2018] == pytest.approx(count[2018] / population[2019] * 1000)
    summed = sum(
        cell(snapshot_dir, "12008", code, "KOSboligSper10000000", "2018")[0]
        for code in ("0220", "0627", "0628")
    )
    assert rate[2018] != pytest.approx(summed)
    # Unmerged years keep SSB's published rate.
    assert rate[2024] == cell(snapshot_dir, "12008", "3203", "KOSboligSper10000000", "2024")[0]


def test_population_back_cast_by_ssb(built: Path, snapshot_dir: Path) -> None:
    frame = processed.load_indicator("befolkning", "3203", root=built / "data" / "processed")
    doc = json.loads((snapshot_dir / "ssb" / "07459.json").read_text("utf-8"))
    years = list(doc["dimension"]["Tid"]["category"]["index"])
    row = doc["dimension"]["Region"]["category"]["index"]["K-3025"]
    expected = doc["value"][row * len(years) : (row + 1) * len(years)]
    assert frame["aar"].tolist() == [int(y) for y in years]
    assert frame["verdi"].tolist() == expected
    assert set(frame["harmonisering"]) == {"ssb_agg"}
    assert not frame["syntetisk"].any()


def test_suppressed_cells_stay_suppressed(built: Path, snapshot_dir: Path) -> None:
    # Kristiansund (1505) did not report 12008 for 2016-2017.
    boliger = processed.load_indicator(
        "kommunale_boliger", "1505", root=built / "data" / "processed"
    ).set_index("aar")
    assert cell(snapshot_dir, "12008", "1505", "KOSboligtot0000", "2016") == (None, "..")
    assert np.isnan(boliger.loc[2016, "verdi"])
    assert boliger.loc[2016, "status"] == ".."


def test_every_suppressed_raw_kommune_cell_is_missing_after_build(
    built: Path, snapshot_dir: Path
) -> None:
    doc = json.loads((snapshot_dir / "ssb" / "12210.json").read_text("utf-8"))
    regions = list(doc["dimension"]["KOKkommuneregion0000"]["category"]["index"])
    contents = list(doc["dimension"]["ContentsCode"]["category"]["index"])
    years = list(doc["dimension"]["Tid"]["category"]["index"])
    target = contents.index("KOSsosantkliente0000")
    suppressed = []
    for position, symbol in doc["status"].items():
        r, rest = divmod(int(position), len(contents) * len(years))
        c, t = divmod(rest, len(years))
        if symbol == ":" and c == target and regions[r] in {"3203", "3903", "0301"}:
            suppressed.append((regions[r], int(years[t])))
    table = processed.load_indicator(
        "sosialhjelp_antall", nivaa="kommune", root=built / "data" / "processed"
    ).set_index(["kommunenummer", "aar"])
    for key in suppressed:
        assert np.isnan(table.loc[key, "verdi"]) and table.loc[key, "status"] == ":"


def test_synthetic_flag_follows_the_source(built: Path) -> None:
    root = built / "data" / "processed"
    assert processed.load_indicator("kommunale_boliger", "3203", root=root)["syntetisk"].all()
    assert not processed.load_indicator("bosetting_faktisk", "3203", root=root)["syntetisk"].any()


def test_comparison_has_four_levels(built: Path) -> None:
    frame = processed.comparison(
        "kommunale_boliger_per_1000", "3203", root=built / "data" / "processed"
    )
    assert frame["nivaa"].drop_duplicates().tolist() == [
        "kommune",
        "kostragruppe",
        "fylke",
        "landet",
    ]
    labels = list(frame["sammenligning"].cat.categories)
    assert labels[0] == "Asker" and labels[2:] == ["Akershus", "Landet"]
    assert labels[1].startswith("KOSTRA-gruppe ")
    landet = frame.loc[frame["nivaa"] == "landet"]
    assert set(landet["harmonisering"]) == {"ssb"}


def test_imdi_settlement_is_harmonised(built: Path, snapshot_dir: Path) -> None:
    faktisk = series(built, "bosetting_faktisk", "3203")
    # 2019: Asker 37 + Røyken + Hurum from the IMDi long file.
    text = snapshot_dir / "imdi" / "imdi_bosetting_anmodning_vedtak_faktisk_1995-2023_long.csv"
    rows = pd.read_csv(text, sep=";", encoding="iso-8859-1", dtype=str)
    mask = (
        (rows["Enhet"] == "Personer")
        & (rows["Bosetting"] == "Faktisk bosetting")
        & (rows["År"] == "2019")
        & rows["Kommunenummer"].isin(["0220", "0627", "0628"])
    )
    assert faktisk[2019] == rows.loc[mask, "Antall"].astype(float).sum()


def test_build_is_idempotent(built: Path) -> None:
    root = built / "data" / "processed"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in root.glob("*.parquet")}
    build.build(raw.RawStore(built / "data" / "raw"), root)
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in root.glob("*.parquet")}
    assert before == after


def run_cli(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOSO_HOME": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "boso.cli", *args], capture_output=True, text=True, env=env
    )


def test_cli_export_asker_population(built: Path) -> None:
    result = run_cli("export", "befolkning", "--kommune", "3203", root=built)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("kommunenummer,kommunenavn,aar,verdi,status,enhet,kilde")
    assert lines[1].startswith("3203,Asker,2001,74695.0,")
    assert len(lines) == 1 + 22


def test_cli_export_parquet_and_errors(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    ok = run_cli(
        "export", "startlan", "--kommune", "3903", "--format", "parquet", "-o", str(out), root=built
    )
    assert ok.returncode == 0, ok.stderr
    assert set(pd.read_parquet(out)["kommunenummer"]) == {"3903"}
    unknown = run_cli("export", "befolkning", "--kommune", "3299", root=built)
    assert unknown.returncode == 2
    assert "ukjent kommunenummer 3299" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    bad = run_cli("export", "folketall", root=built)
    assert bad.returncode == 2 and "ukjent indikator" in bad.stderr


def test_cli_indicators_lists_required_ids(built: Path) -> None:
    result = run_cli("indicators", root=built)
    ids = {line.split()[0] for line in result.stdout.splitlines()}
    required = {
        "befolkning", "fullforte_boliger", "kvadratmeterpris", "kommunale_boliger",
        "kommunale_boliger_per_1000", "startlan", "lavinntekt_barn", "sosialhjelp",
        "leie_andel", "bosetting_anmodet", "bosetting_vedtatt", "bosetting_faktisk",
    }  # fmt: skip
    assert required <= ids


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 3], "ugyldig JSON"),
        (lambda b: b.decode("utf-8").encode("latin-1", errors="replace"), "ikke gyldig UTF-8"),
        (lambda b: b.replace(b'"size":[890,4,10]', b'"size":[890,4,11]'), "size. sier 11"),
    ],
)
def test_broken_raw_file_stops_the_build_and_keeps_processed(
    built: Path, tmp_path: Path, damage, message: str
) -> None:
    store_dir = tmp_path / "raw"
    shutil.copytree(built / "data" / "raw", store_dir)
    target = store_dir / "ssb" / "12210.json"
    target.write_bytes(damage(target.read_bytes()))
    processed_dir = built / "data" / "processed"
    before = {p.name: p.read_bytes() for p in processed_dir.glob("*.parquet")}
    with pytest.raises(DataError, match=message) as info:
        build.build(raw.RawStore(store_dir), processed_dir)
    assert "12210.json" in str(info.value)
    after = {p.name: p.read_bytes() for p in processed_dir.glob("*.parquet")}
    assert before == after


def test_only_current_regions_are_published(built: Path) -> None:
    root = built / "data" / "processed"
    fylker = processed.load_indicator("kommunale_boliger", nivaa="fylke", root=root)
    assert sorted(fylker["region"].unique()) == sorted(
        ["03", "11", "15", "18", "31", "32", "33", "34", "39", "40", "42", "46", "50", "55", "56"]
    )
    assert not fylker["regionnavn"].str.startswith("Fylke ").any()
    kommuner = processed.load_indicator("kommunale_boliger", nivaa="kommune", root=root)
    assert kommuner["kommunenummer"].nunique() == 357
