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
