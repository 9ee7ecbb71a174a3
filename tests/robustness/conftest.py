"""Fixtures for the robustness suite (see ``harness.py`` and ``tools/reliability_report.py``)."""

from __future__ import annotations

import os

import pytest

from robustness.harness import Recorder

_RECORDER = Recorder()


@pytest.fixture
def reliability() -> Recorder:
    """Record each tried input's outcome; ``$BOSO_RELIABILITY_LOG`` receives them at the end."""
    return _RECORDER


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("BOSO_RELIABILITY_LOG")
    if target and _RECORDER.records:
        _RECORDER.dump(target)
