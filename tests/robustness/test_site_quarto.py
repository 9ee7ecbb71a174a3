"""Family ``site_quarto``: `boso site --renderer quarto` with broken inputs or a failing Quarto.

Quarto itself is the stand-in of ``tests/pandoc_check.py`` (pandoc) or a script that fails or
renders nothing. Each case either refuses with one clear line and leaves the published
``_site/`` as it was, or builds a correct site.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from boso import site
from boso.site import quarto
from pandoc_check import write_fake_quarto
from robustness.harness import run_boso, tree_digest

FAMILY = "site_quarto"
FIXTURE_REPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "site" / "reports"
REGISTRY = pd.DataFrame(
    [("3203", "Asker", "32", "Akershus"), ("0301", "Oslo", "03", "Oslo")],
    columns=["kommunenummer", "kommunenavn", "fylkesnummer", "fylkesnavn"],
)


@pytest.fixture
def quarto_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a registry, two executed reports, a stand-in quarto and a built site."""
    REGISTRY.to_parquet(project / "data/processed/core_klass__kommuner.parquet")
    shutil.copytree(FIXTURE_REPORTS / "3203-asker", project / "reports/3203-asker")
    bin_dir = project / "bin"
    bin_dir.mkdir()
    write_fake_quarto(bin_dir, project / "quarto-calls.jsonl")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = run_boso(["site", "--renderer", "quarto"], root=project)
    assert result.code == 0, result.stderr + (result.exception or "")
    return project


def replace_quarto(project: Path, body: str) -> None:
    script = project / "bin" / "quarto"
    script.write_text(f"#!{sys.executable}\nimport sys\n{body}\n", "utf-8")
    script.chmod(0o755)


def site_of(project: Path) -> dict[str, str]:
    digest = tree_digest(project / "_site")
    digest.pop(site.MANIFEST_NAME, None)
    return digest


@pytest.mark.parametrize(
    ("case", "config", "mentions"),
    [
        ("_quarto.yml not YAML", "project: [unclosed\n", ("_quarto.yml", "YAML")),
        (
            "output-dir outside site_src",
            "project:\n  type: website\n  output-dir: ../_site\n",
            ("_quarto.yml", "output-dir"),
        ),
    ],
)
def test_broken_config(quarto_project: Path, reliability, case, config, mentions):
    before = tree_digest(quarto_project / "_site")
    (quarto_project / "_quarto.yml").write_text(config, "utf-8")
    result = run_boso(["site", "--renderer", "quarto"], root=quarto_project)
    reliability.cli_error(FAMILY, case, result, *mentions)
    reliability.unchanged(FAMILY, case, before, quarto_project / "_site")


@pytest.mark.parametrize(
    ("case", "script", "mentions"),
    [
        (
            "quarto fails",
            "print('ERROR: pandoc crashed', file=sys.stderr); sys.exit(1)",
            ("quarto render feilet", "pandoc crashed"),
        ),
        ("quarto renders nothing", "sys.exit(0)", ("quarto render laget ikke",)),
    ],
)
def test_quarto_misbehaves(quarto_project: Path, reliability, case, script, mentions):
    before = tree_digest(quarto_project / "_site")
    # A changed report, so that Quarto has something to do.
    nb = quarto_project / "reports/3203-asker/befolkning.ipynb"
    nb.write_text(nb.read_text("utf-8").replace("Folkemengden", "Befolkningen"), "utf-8")
    replace_quarto(quarto_project, script)
    result = run_boso(["site", "--renderer", "quarto"], root=quarto_project)
    reliability.cli_error(FAMILY, case, result, *mentions)
    reliability.unchanged(FAMILY, case, before, quarto_project / "_site")


def test_truncated_report(quarto_project: Path, reliability):
    case = "report notebook truncated"
    before = tree_digest(quarto_project / "_site")
    nb = quarto_project / "reports/3203-asker/befolkning.ipynb"
    nb.write_bytes(nb.read_bytes()[:500])
    result = run_boso(["site", "--renderer", "quarto"], root=quarto_project)
    reliability.cli_error(FAMILY, case, result, "befolkning.ipynb")
    reliability.unchanged(FAMILY, case, before, quarto_project / "_site")


@pytest.mark.parametrize(
    "case", ["state file garbage", "rendered page deleted by hand", "site_src deleted"]
)
def test_damaged_working_copy_is_rebuilt(quarto_project: Path, reliability, case):
    before = site_of(quarto_project)
    src = quarto_project / "site_src"
    if case == "state file garbage":
        (src / quarto.QUARTO_STATE_NAME).write_text("{not json", "utf-8")
    elif case == "rendered page deleted by hand":
        (src / "_site/kommuner/3203-asker/befolkning.html").unlink()
    else:
        shutil.rmtree(src)
    result = run_boso(["site", "--renderer", "quarto"], root=quarto_project)
    ok = (
        result.code == 0
        and not result.traceback
        and site_of(quarto_project).keys() == before.keys()
    )
    reliability.record(FAMILY, case, "correct" if ok else "traceback", result.stderr)
    assert ok, result.stderr + (result.exception or "")
    page = quarto_project / "_site/kommuner/3203-asker/befolkning.html"
    assert "Folkemengden" in page.read_text("utf-8")
