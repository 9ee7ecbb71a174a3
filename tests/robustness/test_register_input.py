"""Family ``register_input``: broken dwelling-register exports and how ``boso register import``
treats them.

Each case imports a good generated export first (``tests/fixtures/register/make_fixtures.py``),
then the broken one, and checks either one clear line with exit 2 and the stored register
unchanged, or a correct result in which only the broken rows lost their broken values.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from robustness.harness import run_boso, tree_digest

FAMILY = "register_input"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "register"
FIRST_DATA_LINE = 5  # three title lines and the header come first
KNR = "0301"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "register_fixtures", FIXTURES / "make_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


@pytest.fixture
def registry_project(project: Path) -> Path:
    """A project with a tiny KLASS 131 codesAt file, so kommunenummer can be checked."""
    klass = project / "data" / "raw" / "klass"
    klass.mkdir(parents=True)
    codes = [
        {"code": "0301", "name": "Oslo"},
        {"code": "3203", "name": "Asker"},
        {"code": "3903", "name": "Holmestrand"},
        {"code": "9999", "name": "Uoppgitt"},
    ]
    (klass / "131_codesAt_2024-01-01.json").write_text(json.dumps({"codes": codes}), "utf-8")
    return project


def _write(root: Path, name: str, content: bytes) -> Path:
    path = root / name
    path.write_bytes(content)
    return path


def _good(root: Path, rows: int = 60, seed: int = 1) -> tuple[list[str], list[list[str]], Path]:
    header, rows_ = GEN.generated_export(rows, seed=seed)
    path = _write(root, f"eksport_{KNR}.csv", GEN.to_csv(header, rows_))
    result = run_boso(["register", "import", str(path), "--kommune", KNR], root=root)
    assert result.code == 0, result.stderr
    return header, rows_, path


def _stored(root: Path) -> dict[str, str]:
    return {**tree_digest(root / "data" / "processed"), **tree_digest(root / "data" / "raw")}


def _processed(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    base = root / "data" / "processed"
    return (
        pd.read_parquet(base / f"core_register__{KNR}.parquet"),
        pd.read_parquet(base / f"core_register__{KNR}__leieforhold.parquet"),
        json.loads((base / f"core_register__{KNR}__validering.json").read_text("utf-8")),
    )


def _refused(root: Path, reliability, case: str, path: Path, *mentions: str, extra=()) -> None:
    before = _stored(root)
    result = run_boso(["register", "import", str(path), "--kommune", KNR, *extra], root=root)
    reliability.cli_error(FAMILY, case, result, *mentions)
    after = {**tree_digest(root / "data" / "processed"), **tree_digest(root / "data" / "raw")}
    if after != before:
        reliability.record(FAMILY, case, "data_lost", "stored register changed")
    assert after == before, "a refused import changed the stored register"


@pytest.mark.parametrize("row", [0, 7, 57, 59])
def test_stray_quote_is_an_error_not_a_small_register(registry_project, reliability, row):
    """Early, a third of the way, near the end (swallows two rows) and in the last row."""
    root = registry_project
    header, rows, _ = _good(root)
    rows[row][1] = '"' + rows[row][1]  # one stray quote in an address
    path = _write(root, "stray_quote.csv", GEN.to_csv(header, rows))
    line = FIRST_DATA_LINE + row
    _refused(
        root, reliability, f"one stray quote in row {row}", path, "stray_quote.csv", f"linje {line}"
    )


def test_cut_file_is_an_error(registry_project, reliability):
    root = registry_project
    header, rows, good = _good(root)
    content = GEN.to_csv(header, rows)
    path = _write(root, "avkortet.csv", content[: len(content) * 2 // 3])
    _refused(root, reliability, "file cut mid-row", path, "avkortet.csv", "avkortet")


def test_one_bad_coordinate_costs_only_its_row(registry_project, reliability):
    root = registry_project
    header, rows = GEN.generated_export(60, seed=2)
    east, north = header.index("Øst (UTM33)"), header.index("Nord (UTM33)")
    rows[0][east] = "12"  # not a UTM easting/northing pair anywhere near Norway
    rows[0][north] = "34"
    rows[1][east] = "abc"
    path = _write(root, f"eksport_{KNR}.csv", GEN.to_csv(header, rows))
    result = run_boso(["register", "import", str(path), "--kommune", KNR], root=root)
    dwellings, _, report = _processed(root)
    bad_ids = {rows[0][0], rows[1][0]}
    others = dwellings[~dwellings["bolig_id"].isin(bad_ids)]
    rows_named = {p["row"] for p in report["problems"] if p["row"] is not None}
    correct = (
        result.code == 0
        and others["x"].notna().all()
        and {FIRST_DATA_LINE, FIRST_DATA_LINE + 1} <= rows_named
        and not any(
            "rader" in p["message"] and "ikke brukt" in p["message"] for p in report["problems"]
        )
    )
    reliability.record(FAMILY, "one bad coordinate row", "correct" if correct else "data_lost")
    assert correct, report["problems"]
    # Dwellings whose only rows were bad have no point; the others all keep theirs.
    assert len(others) >= len(dwellings) - 2


def test_exact_duplicates_removed_and_counted(registry_project, reliability):
    root = registry_project
    header, rows = GEN.generated_export(40, seed=3)
    path = _write(root, "clean.csv", GEN.to_csv(header, rows))
    run_boso(["register", "import", str(path), "--kommune", KNR], root=root)
    clean_dwellings, clean_tenancies, _ = _processed(root)
    doubled = rows + [rows[2], rows[5], rows[5]]
    path = _write(root, "dubletter.csv", GEN.to_csv(header, doubled))
    result = run_boso(["register", "import", str(path), "--kommune", KNR], root=root)
    dwellings, tenancies, report = _processed(root)
    correct = (
        result.code == 0
        and report["duplicates_removed"] == 3
        and len(tenancies) == len(clean_tenancies)
        and len(dwellings) == len(clean_dwellings)
        and "eksakte dubletter fjernet: 3" in result.stdout
    )
    reliability.record(FAMILY, "exact duplicate rows", "correct" if correct else "data_lost")
    assert correct, (report["duplicates_removed"], len(tenancies), len(clean_tenancies))


@pytest.mark.parametrize(
    ("column", "value", "field", "limit"),
    [
        ("Månedsleie", "1e308", "maanedsleie", 100_000),
        ("BRA m²", "1000000000000000", "bra_m2", 1_000),
        ("Antall rom", "99", "antall_rom", 20),
        ("Innflyttet", "01.06.2030", "innflyttet", pd.Timestamp("2025-01-15")),  # export date
    ],
)
def test_out_of_range_values_flagged_and_not_used(
    registry_project, reliability, column, value, field, limit
):
    root = registry_project
    header, rows = GEN.generated_export(30, seed=4)
    rows[4][header.index(column)] = value
    path = _write(root, f"eksport_{KNR}.csv", GEN.to_csv(header, rows))
    result = run_boso(["register", "import", str(path), "--kommune", KNR], root=root)
    dwellings, tenancies, report = _processed(root)
    flagged = [
        p
        for p in report["problems"]
        if p["row"] == FIRST_DATA_LINE + 4
        and p["column"] == column
        and "ikke brukt" in p["message"]
    ]
    stored = tenancies[field] if field == "innflyttet" else dwellings[field].astype("Float64")
    used = bool((stored > limit).fillna(False).any())
    correct = result.code == 0 and len(flagged) == 1 and not used
    reliability.record(FAMILY, f"{column} = {value}", "correct" if correct else "data_lost")
    assert correct, (flagged, used)


@pytest.mark.parametrize("kommune", ["9999", "0000", "12", "abcd"])
def test_unknown_kommune_refused(registry_project, reliability, kommune):
    root = registry_project
    header, rows = GEN.generated_export(10, seed=5)
    path = _write(root, "eksport.csv", GEN.to_csv(header, rows))
    before = tree_digest(root / "data" / "processed")
    result = run_boso(["register", "import", str(path), "--kommune", kommune], root=root)
    reliability.cli_error(FAMILY, f"--kommune {kommune}", result, "kommunenummer")
    reliability.unchanged(FAMILY, f"--kommune {kommune}", before, root / "data" / "processed")
    assert not list((root / "data" / "processed").glob("core_register__*"))


def test_unknown_kommune_checked_against_processed_registry(project, reliability):
    registry = pd.DataFrame({"kommunenummer": ["0301", "4601"], "kommunenavn": ["Oslo", "Bergen"]})
    registry.to_parquet(project / "data" / "processed" / "core_klass__kommuner.parquet")
    header, rows = GEN.generated_export(10, seed=5)
    path = _write(project, "eksport.csv", GEN.to_csv(header, rows))
    result = run_boso(["register", "import", str(path), "--kommune", "3203"], root=project)
    reliability.cli_error(FAMILY, "kommune not in core_klass__kommuner", result, "3203")
    ok = run_boso(["register", "import", str(path), "--kommune", "0301"], root=project)
    assert ok.code == 0, ok.stderr


def test_shrink_by_more_than_half_needs_force(registry_project, reliability):
    root = registry_project
    header, rows, _ = _good(root, rows=60)
    old_dwellings, _, _ = _processed(root)
    small = _write(root, "liten.csv", GEN.to_csv(header, rows[:10]))
    _refused(root, reliability, "shrink without --force", small, "--force", "liten.csv")
    result = run_boso(["register", "import", str(small), "--kommune", KNR, "--force"], root=root)
    dwellings, _, _ = _processed(root)
    history = list((root / "data" / "processed" / "_history").glob(f"core_register__{KNR}.*"))
    kept = [pd.read_parquet(h / f"core_register__{KNR}.parquet") for h in history]
    correct = (
        result.code == 0
        and len(dwellings) < len(old_dwellings) / 2
        and any(len(k) == len(old_dwellings) for k in kept)
    )
    reliability.record(FAMILY, "shrink with --force", "correct" if correct else "data_lost")
    assert correct


@pytest.mark.parametrize("failing_call", ["staging", "swap"])
def test_failed_write_leaves_previous_register(
    registry_project, reliability, monkeypatch, failing_call
):
    """Disk full while staging, or while the new files replace the old: the old register stays."""
    from boso.register import store

    root = registry_project
    _good(root, rows=40)
    processed = root / "data" / "processed"
    before = tree_digest(processed)
    real_replace = os.replace
    swaps = {"n": 0}

    def failing_replace(src, dst):
        in_staging = Path(dst).parent.name.startswith(".core_register__")
        if failing_call == "staging" and in_staging:
            raise OSError(28, "No space left on device")
        if failing_call == "swap" and Path(dst).parent == processed and not in_staging:
            swaps["n"] += 1
            if swaps["n"] == 2:  # the tenancies are already replaced by then
                raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", failing_replace)
    header2, rows2 = GEN.generated_export(40, seed=9)
    path = _write(root, "ny.csv", GEN.to_csv(header2, rows2))
    result = run_boso(["register", "import", str(path), "--kommune", KNR], root=root)
    monkeypatch.undo()
    case = f"disk full during the {failing_call}"
    reliability.cli_error(FAMILY, case, result, "beholdt")
    after = {k: v for k, v in tree_digest(processed).items() if "_history" not in k}
    if after != before:
        reliability.record(FAMILY, case, "data_lost")
    assert after == before
    assert list(processed.glob(".core_register__*")) == []


KILLED_DURING_SWAP = """
import os, sys
from pathlib import Path
from boso.register import store

real = os.replace
swaps = []

def replace(src, dst):
    if Path(dst).parent.name == "processed" and not Path(dst).name.startswith("."):
        swaps.append(dst)
        if len(swaps) == 2:
            os._exit(9)  # as kill -9: no cleanup of any kind runs
    return real(src, dst)

store.os.replace = replace
store.import_register(sys.argv[1], "0301", quiet=True)
"""


@pytest.mark.parametrize("then", ["load", "import"])
def test_import_killed_during_the_swap_is_finished_not_mixed(registry_project, reliability, then):
    root = registry_project
    _good(root, rows=40)
    header, rows = GEN.generated_export(36, seed=21)
    path = _write(root, "ny.csv", GEN.to_csv(header, rows))
    env = {**os.environ, "BOSO_HOME": str(root)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_DURING_SWAP, str(path)], env=env, capture_output=True
    )
    assert killed.returncode == 9, killed.stderr
    processed = root / "data" / "processed"
    assert list(processed.glob(".core_register__*.swap.json")), "the kill came too late"
    if then == "load":
        from boso.register import load_register

        reg = load_register(KNR, processed)
        dwellings, tenancies = reg.dwellings, reg.tenancies
    else:
        other = _write(root, "annen.csv", GEN.to_csv(*GEN.generated_export(36, seed=22)))
        result = run_boso(["register", "import", str(other), "--kommune", KNR], root=root)
        assert result.code == 0, result.stderr
        dwellings, tenancies, _ = _processed(root)
        header, rows = GEN.generated_export(36, seed=22)
    # One consistent register: every tenancy belongs to a dwelling of the same import.
    expected = {r[0] for r in rows}
    consistent = set(dwellings["bolig_id"]) == expected and set(tenancies["bolig_id"]) <= expected
    leftovers = list(processed.glob(".core_register__*"))
    outcome = "correct" if consistent and not leftovers else "data_lost"
    reliability.record(FAMILY, f"import killed during the swap, then {then}", outcome)
    assert consistent and leftovers == [], leftovers


def test_leftover_staging_of_a_killed_import_is_removed(registry_project, reliability):
    root = registry_project
    dead = root / "data" / "processed" / ".core_register__0301.staging-999999999-abc"
    dead.mkdir(parents=True)
    (dead / "core_register__0301.parquet").write_bytes(b"half")
    _good(root, rows=20)
    removed = not dead.exists()
    reliability.record(
        FAMILY, "staging folder of a killed import", "correct" if removed else "data_lost"
    )
    assert removed


def test_broken_pipe_is_quiet(registry_project, reliability):
    """``boso register import … | head``: the reader leaves early; no traceback, import kept."""
    root = registry_project
    header, rows = GEN.generated_export(30, seed=6)
    path = _write(root, f"eksport_{KNR}.csv", GEN.to_csv(header, rows))
    env = {**os.environ, "BOSO_HOME": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "boso.cli", "register", "import", str(path), "--kommune", KNR],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.close()  # like `head` that has already exited
    stderr = proc.stderr.read().decode("utf-8", "replace")
    code = proc.wait(timeout=120)
    stored = (root / "data" / "processed" / f"core_register__{KNR}.parquet").is_file()
    outcome = "traceback" if ("Traceback" in stderr or "Error" in stderr) else "correct"
    outcome = "data_lost" if outcome == "correct" and not stored else outcome
    reliability.record(FAMILY, "stdout closed (| head)", outcome, stderr)
    assert code == 0 and outcome == "correct", stderr


@pytest.mark.parametrize(
    ("name", "kommune", "dwellings", "tenancies"),
    [
        ("asker_3203_kommunale_boliger_SYNTETISK.csv", "3203", 215, 513),
        ("holmestrand_3903_boligoversikt_SYNTETISK.xlsx", "3903", 54, 145),
    ],
)
def test_snapshot_exports_keep_their_counts(
    registry_project, snapshot_dir, reliability, name, kommune, dwellings, tenancies
):
    """Pinned before the trust work: the snapshot's two exports import with the same counts."""
    root = registry_project
    path = snapshot_dir / "municipal" / name
    result = run_boso(["register", "import", str(path), "--kommune", kommune], root=root)
    base = root / "data" / "processed"
    frame = pd.read_parquet(base / f"core_register__{kommune}.parquet")
    periods = pd.read_parquet(base / f"core_register__{kommune}__leieforhold.parquet")
    correct = result.code == 0 and len(frame) == dwellings and len(periods) == tenancies
    reliability.record(FAMILY, f"snapshot export {kommune}", "correct" if correct else "data_lost")
    assert correct, (result.stderr, len(frame), len(periods))
