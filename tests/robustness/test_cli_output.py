"""Family "cli_output": where ``boso`` writes its output (a file, a pipe) can fail; it says so in
one bokmål line naming the path, creates nothing it was not asked to, and half-writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from robustness.harness import run_boso, tree_digest

FAMILY = "cli_output"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the snapshot imported and the population indicator built."""
    root = tmp_path_factory.mktemp("cli_output")
    for sub in ("data/raw", "data/processed", "reports"):
        (root / sub).mkdir(parents=True)
    for argv in (["snapshot", "import", str(snapshot_dir)], ["build", "--indicator", "befolkning"]):
        result = run_boso(argv, root=root)
        assert result.code == 0, result.stderr + (result.exception or "")
    return root


def test_export_to_a_directory(built, tmp_path, reliability):
    result = run_boso(["export", "befolkning", "-o", str(tmp_path)], root=built)
    reliability.cli_error(FAMILY, "export -o <a directory>", result, str(tmp_path), "mappe")
    assert list(tmp_path.iterdir()) == []


def test_export_into_a_missing_directory_creates_nothing(built, tmp_path, reliability):
    target = tmp_path / "no" / "such" / "dir" / "x.csv"
    result = run_boso(["export", "befolkning", "-o", str(target)], root=built)
    reliability.cli_error(FAMILY, "export -o /no/such/dir/x", result, str(target.parent))
    assert not (tmp_path / "no").exists()


def test_export_below_a_file(built, tmp_path, reliability):
    afile = tmp_path / "a.csv"
    afile.write_text("keep\n")
    result = run_boso(["export", "befolkning", "-o", str(afile / "x.csv")], root=built)
    reliability.cli_error(FAMILY, "export -o <file>/x", result, str(afile))
    assert afile.read_text() == "keep\n"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_to_an_unwritable_place(built, fmt, reliability):
    # /sys refuses new files even for root, unlike a chmod'ed folder.
    target = Path("/sys") / f"boso-export.{fmt}"
    result = run_boso(["export", "befolkning", "--format", fmt, "-o", str(target)], root=built)
    reliability.cli_error(FAMILY, f"export --format {fmt} -o <unwritable>", result, str(target))
    assert not target.exists()


def test_failed_export_keeps_the_previous_file(built, tmp_path, reliability):
    previous = tmp_path / "befolkning.csv"
    assert run_boso(["export", "befolkning", "-o", str(previous)], root=built).code == 0
    before = tree_digest(tmp_path)
    result = run_boso(
        ["export", "befolkning", "--kommune", "9999", "-o", str(previous)], root=built
    )
    reliability.cli_error(FAMILY, "failed export over an existing file", result, "9999")
    reliability.unchanged(FAMILY, "failed export over an existing file", before, tmp_path)


def test_export_into_a_closed_pipe_is_quiet(built, reliability):
    env = {**os.environ, "BOSO_HOME": str(built)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "lib"), env.get("PYTHONPATH", "")])
    # `boso export befolkning | head -1`: far more than a pipe buffer, reader leaves early.
    proc = subprocess.Popen(
        [sys.executable, "-m", "boso.cli", "export", "befolkning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    header = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode("utf-8", "replace")
    code = proc.wait(timeout=120)
    outcome = "correct" if code == 0 and not stderr.strip() else "traceback"
    reliability.record(FAMILY, "export | head (closed pipe)", outcome, stderr)
    assert header.startswith(b"kommunenummer,")
    assert outcome == "correct", f"exit {code}: {stderr}"


def test_broken_pipe_and_os_errors_in_main(monkeypatch, reliability):
    """Every command, not only export: cli.main turns them into a quiet exit / one line."""
    from boso import cli

    def pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    def denied(args):
        raise PermissionError(13, "Permission denied", "/srv/boso/ut.csv")

    monkeypatch.setattr(cli, "_cmd_indicators", pipe)
    result = run_boso(["indicators"])
    outcome = (
        "correct"
        if result.code == 0 and not result.stderr and not result.traceback
        else "traceback"
    )
    reliability.record(FAMILY, "BrokenPipeError in any command", outcome, result.stderr)
    assert outcome == "correct"
    monkeypatch.setattr(cli, "_cmd_indicators", denied)
    result = run_boso(["indicators"])
    reliability.cli_error(
        FAMILY, "OSError on a path in any command", result, "/srv/boso/ut.csv", "tilgang"
    )
