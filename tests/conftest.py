"""Shared fixtures: the offline snapshot (../shared/snapshot) and an isolated project root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _snapshot() -> Path:
    env = os.environ.get("BOSO_SNAPSHOT")
    return Path(env) if env else REPO.parent / "shared" / "snapshot"


@pytest.fixture(scope="session")
def snapshot_dir() -> Path:
    """The shared offline snapshot; tests that need it fail loudly in CI when it is absent."""
    path = _snapshot()
    if not (path / "MANIFEST.json").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"offline snapshot not found at {path}")
        pytest.skip(f"offline snapshot not found at {path}")
    return path


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project root (BOSO_HOME) so tests never touch the checkout's data/."""
    for sub in ("data/raw", "data/processed", "reports"):
        (tmp_path / sub).mkdir(parents=True)
    monkeypatch.setenv("BOSO_HOME", str(tmp_path))
    return tmp_path


# merged 2020 (+register), merged twice, unmerged, split in 2024 (estimated history); kommuner
# with series that cannot be back-cast at all are run in-process by test_reports_whole.py
PIPELINE_KOMMUNER = ("3203", "3903", "3201", "1580")


@pytest.fixture(scope="session")
def pipeline_project(snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline main job, run once per session through the CLI in an isolated project:
    snapshot import → build → reports (all analyses) for a few kommuner → site."""
    import shutil

    from boso.cli import main

    root = tmp_path_factory.mktemp("pipeline")
    for sub in ("data/raw", "data/processed", "reports"):
        (root / sub).mkdir(parents=True)
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOSO_HOME", str(root))
        for argv in (
            ["snapshot", "import", str(snapshot_dir)],
            ["build"],
            ["reports", "--kommune", *PIPELINE_KOMMUNER],
            ["site", "--renderer", "nbconvert"],
        ):
            assert main(argv) == 0, f"boso {' '.join(argv)} failed"
    return root
