"""Robustness of ``boso chapter``: bad selections, a broken report, a browser that dies, no browser.

The browser is replaced by a stub (the real one is tested in tests/e2e/test_chapter.py), so
these run in seconds: what is checked here is the runner's refusal lines, failure isolation and
that a good published file is never replaced by a broken one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from boso import figures
from robustness.harness import run_boso, tree_digest

FAMILY = "chapter"
REGISTRY = pd.DataFrame(
    [
        ("3203", "Asker", "32", "Akershus", "EKG12", "KOSTRA-gruppe 12"),
        ("3903", "Holmestrand", "39", "Vestfold", "EKG11", "KOSTRA-gruppe 11"),
    ],
    columns=[
        "kommunenummer",
        "kommunenavn",
        "fylkesnummer",
        "fylkesnavn",
        "kostragruppe",
        "kostragruppenavn",
    ],
)


def _report(kommunenavn: str) -> dict:
    finding = figures.TextOutput(f"Befolkningen i {kommunenavn} økte.")
    table = figures.TableOutput(
        pd.DataFrame({"År": [2024], "Verdi": [1.5]}), "Kilde: SSB.", title="Tall"
    )
    outputs = []
    for obj in (finding, table):
        data, meta = obj._repr_mimebundle_()
        outputs.append({"output_type": "display_data", "data": data, "metadata": meta})
    return {
        "metadata": {"boso": {"title": "Befolkning"}},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "## Utvikling"},
            {"cell_type": "code", "metadata": {}, "source": "", "outputs": outputs},
        ],
    }


class StubBrowser:
    """Renders a chapter to recognisable bytes; fails for kommuner listed in ``die_for``."""

    die_for: set[str] = set()

    def render(self, chapter, formats):  # noqa: ANN001 - the Browser interface
        if chapter.kommunenummer in self.die_for:
            raise RuntimeError("Target page, context or browser has been closed")
        return {
            fmt: f"{fmt}:{chapter.kommunenummer}:{len(chapter.tables)}".encode() for fmt in formats
        }

    def close(self) -> None:
        pass


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "processed").mkdir(parents=True)
    REGISTRY.to_parquet(tmp_path / "data" / "processed" / "core_klass__kommuner.parquet")
    for folder, navn in (
        ("3203-asker", "Asker"),
        ("3903-holmestrand", "Holmestrand"),
    ):
        target = tmp_path / "reports" / folder
        target.mkdir(parents=True)
        (target / "befolkning.ipynb").write_text(json.dumps(_report(navn)), "utf-8")
    monkeypatch.setattr("boso.chapter.runner.Browser", StubBrowser)
    monkeypatch.setattr("boso.chapter.runner.unavailable_reason", lambda: None)
    StubBrowser.die_for = set()
    return tmp_path


def _site(project: Path) -> Path:
    return project / "_site" / "kommuner"


def test_unknown_kommune_is_one_line(project: Path, reliability) -> None:
    result = run_boso(["chapter", "--kommune", "3230"], project)
    reliability.cli_error(FAMILY, "unknown kommune", result, "3230")
    assert not _site(project).exists()


def test_no_chromium_is_one_line_and_writes_nothing(
    project: Path, reliability, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "boso.chapter.runner.unavailable_reason", lambda: "fant ingen Chromium for statiske figurer"
    )
    result = run_boso(["chapter", "--kommune", "3203"], project)
    reliability.cli_error(FAMILY, "no chromium", result, "chromium", "ikke laget")
    assert not _site(project).exists()


def test_broken_report_fails_that_kommune_only_and_keeps_its_good_file(
    project: Path, reliability
) -> None:
    assert run_boso(["chapter", "--kommune", "3203", "3903"], project).code == 0
    asker = _site(project) / "3203-asker"
    assert (asker / "statistikkvedlegg.pdf").read_bytes() == b"pdf:3203:1"
    before = tree_digest(asker)
    report = project / "reports" / "3203-asker" / "befolkning.ipynb"
    report.write_text(report.read_text("utf-8")[:200], "utf-8")  # truncated download/copy
    (project / "reports" / "3903-holmestrand" / "befolkning.ipynb").write_text(
        json.dumps(_report("Holmestrand 2")), "utf-8"
    )
    result = run_boso(["chapter", "--kommune", "3203", "3903"], project)
    ok = (
        result.code == 1
        and not result.traceback
        and "befolkning.ipynb" in result.stdout
        and (_site(project) / "3903-holmestrand" / "statistikkvedlegg.pdf").is_file()
    )
    reliability.record(FAMILY, "truncated report notebook", "correct" if ok else "traceback")
    assert ok, result.stdout + result.stderr
    reliability.unchanged(FAMILY, "truncated report notebook", before, asker)


def test_browser_dying_mid_run_keeps_previous_files(project: Path, reliability) -> None:
    assert run_boso(["chapter", "--kommune", "3203"], project).code == 0
    asker = _site(project) / "3203-asker"
    before = tree_digest(asker)
    StubBrowser.die_for = {"3203"}
    result = run_boso(["chapter", "--kommune", "3203", "3903", "--force"], project)
    ok = (
        result.code == 1
        and "browser has been closed" in result.stdout
        and (_site(project) / "3903-holmestrand" / "statistikkvedlegg.docx").is_file()
    )
    reliability.record(FAMILY, "browser dies", "correct" if ok else "traceback")
    assert ok, result.stdout + result.stderr
    reliability.unchanged(FAMILY, "browser dies", before, asker)
    assert not list(asker.glob(".*.tmp"))  # no half-written files left behind
