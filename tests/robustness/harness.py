"""What every robustness test shares: run boso as a user would, classify what happened, record it.

Each test breaks one input on purpose (or interrupts a run) and then *records* the outcome with
:func:`Recorder.record` before asserting on it, so ``tools/reliability_report.py`` can count, per
family, how many inputs were tried and how they ended (``RELIABILITY.md``):

- ``clear_error``: exit status 2 and one line on stderr naming the file/row/field, no traceback;
- ``correct``: the command succeeded and its result is right;
- ``traceback``: an exception escaped (must never happen);
- ``data_lost``: something good that was stored before was changed or removed (must never happen);
- ``leak``: personal data reached data/processed, reports/ or _site/ (must never happen).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

OUTCOMES = ("clear_error", "correct", "traceback", "data_lost", "leak")
GOOD_OUTCOMES = ("clear_error", "correct")


@dataclass
class CliResult:
    """What a ``boso`` command did: exit status, its output, and an escaped exception if any."""

    argv: list[str]
    code: int
    stdout: str
    stderr: str
    exception: str | None = None

    @property
    def traceback(self) -> bool:
        return self.exception is not None or "Traceback (most recent call last)" in self.stderr

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def is_clear_error(self, *mentions: str) -> bool:
        """Exit 2, exactly one non-empty stderr line, no traceback, naming every ``mentions``."""
        lines = self.error_lines
        return (
            self.code == 2
            and not self.traceback
            and len(lines) == 1
            and all(m.lower() in lines[0].lower() for m in mentions)
        )


def run_boso(argv: Sequence[str], root: Path | None = None) -> CliResult:
    """Run ``boso ARGV`` in this process (with ``BOSO_HOME=root`` when given) and capture it.

    An exception that escapes ``boso.cli.main`` is caught and kept as text: for a user it would
    have been a traceback.
    """
    from boso.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_home = os.environ.get("BOSO_HOME")
    if root is not None:
        os.environ["BOSO_HOME"] = str(root)
    exception = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse usage errors
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException:  # noqa: BLE001 - the point is to see what escapes
                exception = traceback.format_exc()
                code = 1
    finally:
        if root is not None:
            if old_home is None:
                os.environ.pop("BOSO_HOME", None)
            else:
                os.environ["BOSO_HOME"] = old_home
    return CliResult(list(argv), int(code or 0), out.getvalue(), err.getvalue(), exception)


def tree_digest(path: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every file under ``path`` (empty when it does not exist)."""
    if not path.exists():
        return {}
    if path.is_file():
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@dataclass
class Recorder:
    """Collects outcomes for RELIABILITY.md; written as JSON lines to ``$BOSO_RELIABILITY_LOG``."""

    records: list[dict[str, str]] = field(default_factory=list)

    def record(self, family: str, case: str, outcome: str, detail: str = "") -> str:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.records.append(
            {"family": family, "case": case, "outcome": outcome, "detail": detail[:300]}
        )
        return outcome

    def cli_error(self, family: str, case: str, result: CliResult, *mentions: str) -> str:
        """Record a command that should have refused with one clear line, and assert it did."""
        if result.traceback:
            outcome = "traceback"
        elif result.is_clear_error(*mentions):
            outcome = "clear_error"
        else:
            outcome = "traceback" if result.code not in (0, 2) else "correct"
            # exit 0 on broken input, or a message that does not name the thing: not clear.
            outcome = "data_lost" if result.code == 0 else outcome
        self.record(family, case, outcome, result.exception or result.stderr)
        assert outcome == "clear_error", (
            f"{case}: expected one clear line naming {mentions} and exit 2, got exit "
            f"{result.code}\nstderr: {result.stderr}\n{result.exception or ''}"
        )
        return outcome

    def unchanged(self, family: str, case: str, before: dict[str, str], path: Path) -> None:
        """Record ``data_lost`` (and fail) when the files under ``path`` differ from ``before``."""
        after = tree_digest(path)
        if after != before:
            differing = {k for k in before if before[k] != after.get(k)}
            changed = sorted(set(before) ^ set(after) | differing)
            self.record(family, case, "data_lost", ", ".join(changed[:10]))
            raise AssertionError(f"{case}: stored data changed: {changed[:10]}")

    def dump(self, target: str | os.PathLike[str]) -> None:
        with open(target, "a", encoding="utf-8") as handle:
            for rec in self.records:
                handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
