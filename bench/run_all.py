"""Run every benchmark and update BENCHMARKS.md (``make bench``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import update_section  # noqa: E402

BENCHES = ["jsonstat", "reports", "site", "chapter"]

if __name__ == "__main__":
    only = sys.argv[1:] or BENCHES
    for name in only:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"== {name}", flush=True)
        section = module.run()
        update_section(name, section)
        print(section, flush=True)
