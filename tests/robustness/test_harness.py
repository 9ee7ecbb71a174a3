"""The harness itself: a broken command is classified the way RELIABILITY.md counts it."""

from __future__ import annotations

import pytest

from robustness.harness import CliResult, Recorder, run_boso, tree_digest


def test_unknown_indicator_is_one_clear_line(project, reliability):
    result = run_boso(["export", "finnes_ikke"], root=project)
    reliability.cli_error("cli", "export of an unknown indicator", result, "finnes_ikke")


def test_classification_of_a_traceback():
    rec = Recorder()

    broken = CliResult(["x"], 1, "", "", exception="Traceback (most recent call last):\n  boom")
    with pytest.raises(AssertionError):
        rec.cli_error("cli", "escaped exception", broken)
    assert rec.records[-1]["outcome"] == "traceback"


def test_changed_tree_is_data_lost(tmp_path):
    rec = Recorder()
    (tmp_path / "a.parquet").write_bytes(b"good")
    before = tree_digest(tmp_path)
    (tmp_path / "a.parquet").write_bytes(b"bad")
    with pytest.raises(AssertionError):
        rec.unchanged("build", "overwritten", before, tmp_path)
    assert rec.records[-1]["outcome"] == "data_lost"
