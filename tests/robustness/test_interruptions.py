"""Family "interruptions": ``kill -9`` of a real ``boso build``/``site``/``reports`` at several
points leaves the old state or the new one, never a mix, and the next run removes the leftovers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from robustness.harness import run_boso, tree_digest

FAMILY = "interruptions"
REPO = Path(__file__).resolve().parents[2]
BUILD = ["build", "--indicator", "befolkning", "--indicator", "startlan"]


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOSO_TEST_")}
    env["BOSO_HOME"] = str(root)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "lib"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _boso(root: Path, argv: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "boso.cli", *argv],
        env=_env(root, **extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "data").iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def states(snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """An 'old' project (processed tables that differ from what a build writes, registers) and
    the digest of data/processed after an uninterrupted build of it (the 'new' state)."""
    base = tmp_path_factory.mktemp("interrupt") / "old"
    for sub in ("data/raw", "data/processed", "reports"):
        (base / sub).mkdir(parents=True)
    assert _boso(base, ["snapshot", "import", str(snapshot_dir)]).returncode == 0
    assert _boso(base, BUILD).returncode == 0
    processed = base / "data" / "processed"
    # The old state must differ from the new one, or a mix could not be seen.
    for name in ("out_boso__befolkning", "out_boso__startlan"):
        frame = pd.read_parquet(processed / f"{name}.parquet")
        frame["verdi"] = frame["verdi"] + 1
        frame.to_parquet(processed / f"{name}.parquet", index=False)
    (processed / "core_klass__kommuner.parquet").unlink()  # the new state adds a table
    assert any(p.name.startswith("core_register__") for p in processed.iterdir())
    old = tree_digest(processed)
    fresh = base.parent / "fresh"
    shutil.copytree(base, fresh)
    assert _boso(fresh, BUILD).returncode == 0
    new = tree_digest(fresh / "data" / "processed")
    assert new != old and {k for k in old if k.startswith("core_register__")} <= set(new)
    return {"base": base, "old": old, "new": new}


def _check_after_kill(case, root, states, reliability, killed_with) -> None:
    processed = root / "data" / "processed"
    if not processed.exists():
        # Only the fallback swap (no RENAME_EXCHANGE) has this moment; every reader of the
        # processed store puts the old directory back first.
        from boso.processed import clean_leftovers

        clean_leftovers(processed)
    state = tree_digest(processed)
    if state not in (states["old"], states["new"]):
        reliability.record(FAMILY, case, "data_lost", f"mixed state after {killed_with}")
        raise AssertionError(f"{case}: data/processed is neither the old nor the new state")
    result = run_boso(BUILD, root=root)  # the next run
    clean = result.code == 0 and _leftovers(root) == []
    if not clean or tree_digest(processed) != states["new"]:
        reliability.record(FAMILY, case, "data_lost", result.stderr or str(_leftovers(root)))
        raise AssertionError(f"{case}: next build did not end clean: {_leftovers(root)}")
    reliability.record(FAMILY, case, "correct")


@pytest.mark.parametrize(
    ("point", "exchange"),
    [
        ("build:written-1", True),
        ("build:before-swap", True),
        ("build:after-swap", True),
        ("build:between-renames", False),
    ],
)
def test_kill_build_at_a_write_point(point, exchange, states, tmp_path, reliability):
    root = tmp_path / "p"
    shutil.copytree(states["base"], root)
    extra = {"BOSO_TEST_KILL_AT": point}
    if not exchange:
        extra["BOSO_TEST_NO_EXCHANGE"] = "1"
    proc = _boso(root, BUILD, **extra)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _leftovers(root), "the kill point was not reached inside the write phase"
    _check_after_kill(f"kill -9 of build at {point}", root, states, reliability, point)


def test_kill_build_from_outside_while_it_writes(states, tmp_path, reliability):
    root = tmp_path / "p"
    shutil.copytree(states["base"], root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "boso.cli", *BUILD],
        env=_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        stages = list((root / "data").glob(".processed.new-*"))
        if stages and any(stages[0].glob("*.parquet")):
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _check_after_kill("kill -9 of build from outside", root, states, reliability, "SIGKILL")


def test_a_failing_build_changes_nothing_and_leaves_nothing(states, tmp_path, reliability):
    root = tmp_path / "p"
    shutil.copytree(states["base"], root)
    result = run_boso(["build", "--indicator", "finnes_ikke"], root=root)
    reliability.cli_error(FAMILY, "build of an unknown indicator", result, "finnes_ikke")
    reliability.unchanged(
        FAMILY, "build of an unknown indicator", states["old"], root / "data" / "processed"
    )
    assert _leftovers(root) == []
