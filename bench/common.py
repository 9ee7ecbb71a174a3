"""Shared helpers for the benchmarks: each bench module has ``run() -> str`` (a Markdown section)
and updates its own section of BENCHMARKS.md between ``<!-- bench:NAME -->`` markers."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"
HEADER = """# Benchmarks

Each section is written by `bench/bench_<name>.py` (all of them: `make bench`). Numbers are
measured in one run on the machine named in the section, baseline and boso side by side; trust
the ratios more than the absolute times (2-core shared machine).
"""


def machine() -> str:
    """One line describing the machine the numbers come from."""
    return f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}"


def update_section(name: str, markdown: str) -> None:
    """Replace (or append) the section ``name`` in BENCHMARKS.md."""
    text = BENCHMARKS.read_text("utf-8") if BENCHMARKS.exists() else HEADER
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    BENCHMARKS.write_text(text, "utf-8")
