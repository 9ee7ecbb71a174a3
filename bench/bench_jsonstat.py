"""Benchmark: JSON-stat 2.0 -> DataFrame, pyjstat (baseline) vs boso.jsonstat.

Builds a synthetic ~3-million-cell cube shaped like SSB 07459 (Region 357 × Kjonn 2 × Alder 106
× ContentsCode 1 × Tid 40, with a few status symbols) in a temporary directory. Each reader runs
in its own subprocess, starting from the JSON text in memory (so both include ``json.loads``),
which reports its wall times and peak RSS (``resource.getrusage``) and saves its frame; the
parent checks that both frames are equal and returns a Markdown section for BENCHMARKS.md.

Run: ``.venv/bin/python bench/bench_jsonstat.py`` (or ``make bench``).
"""

from __future__ import annotations

import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.common import machine, update_section  # noqa: E402

SHAPE = {"Region": 357, "Kjonn": 2, "Alder": 106, "ContentsCode": 1, "Tid": 40}
TARGET_RATIO = 10.0


def build_cube(seed: int = 7459) -> dict:
    """A JSON-stat 2.0 dataset shaped like SSB 07459, with deterministic synthetic values."""
    rng = np.random.default_rng(seed)
    regions = [f"{i:04d}" for i in range(101, 101 + SHAPE["Region"])]
    dims = {
        "Region": ("region", regions, {c: f"Kommune {c}" for c in regions}),
        "Kjonn": ("kjønn", ["1", "2"], {"1": "Menn", "2": "Kvinner"}),
        "Alder": (
            "alder",
            [f"{a:03d}" for a in range(106)],
            {f"{a:03d}": f"{a} år" for a in range(106)},
        ),
        "ContentsCode": ("statistikkvariabel", ["Personer1"], {"Personer1": "Personer"}),
        "Tid": ("år", [str(y) for y in range(1986, 2026)], None),
    }
    dimension = {}
    for dim_id, (label, codes, labels) in dims.items():
        category = {
            "index": {c: i for i, c in enumerate(codes)},
            "label": labels or {c: c for c in codes},
        }
        if dim_id == "ContentsCode":
            category["unit"] = {"Personer1": {"base": "personer", "decimals": 0}}
        dimension[dim_id] = {"label": label, "category": category}
    n = math.prod(SHAPE.values())
    values: list = rng.integers(0, 2000, size=n).tolist()
    status = {}
    # A few symbols as SSB sends them: value null, symbol in the sparse status object.
    for symbol, count in (("..", 95), (":", 40), (".", 400)):
        for pos in rng.choice(n, size=count, replace=False).tolist():
            values[pos] = None
            status[str(pos)] = symbol
    return {
        "version": "2.0",
        "class": "dataset",
        "label": "07459: Befolkning, etter region, kjønn, alder og år (syntetisk benchmark-kube)",
        "source": "Statistisk sentralbyrå",
        "updated": "2025-02-21T07:00:00Z",
        "role": {"time": ["Tid"], "metric": ["ContentsCode"], "geo": ["Region"]},
        "id": list(SHAPE),
        "size": list(SHAPE.values()),
        "dimension": dimension,
        "value": values,
        "status": status,
    }


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _child(reader: str, json_path: str, out_path: str, repeats: int) -> None:
    """Runs in a subprocess: time ``reader`` on the JSON text, save the frame, print stats."""
    if reader == "pyjstat":
        import warnings

        from pyjstat import pyjstat

        warnings.simplefilter("ignore", DeprecationWarning)

        def read(text: str) -> pd.DataFrame:
            return pyjstat.Dataset.read(text).write("dataframe")
    else:
        from boso.jsonstat import read_jsonstat as read

    text = Path(json_path).read_text("utf-8")
    base = _rss_mb()
    times = []
    frame = None
    for _ in range(repeats):
        frame = None  # drop the previous frame so peak memory is one conversion's
        start = time.perf_counter()
        frame = read(text)
        times.append(time.perf_counter() - start)
    peak = _rss_mb()
    frame.to_parquet(out_path)
    print(json.dumps({"times": times, "peak_rss_mb": peak, "base_rss_mb": base}))


def _run_child(reader: str, json_path: Path, out_path: Path, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--child", reader, str(json_path), str(out_path), str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _frames_equal(ours: pd.DataFrame, theirs: pd.DataFrame) -> bool:
    """Same comparison as tests/unit/test_jsonstat.py: columns, dimension strings, values."""
    dim_cols = list(theirs.columns[:-1])
    if list(ours.columns) != [*dim_cols, "value", "status"] or len(ours) != len(theirs):
        return False
    for col in dim_cols:
        if not np.array_equal(ours[col].astype(str).to_numpy(), theirs[col].astype(str).to_numpy()):
            return False
    their_values = pd.to_numeric(theirs["value"]).astype("float64").to_numpy()
    return bool(np.array_equal(ours["value"].to_numpy(), their_values, equal_nan=True))


def run(pyjstat_repeats: int = 1, boso_repeats: int = 5) -> str:
    """Run the benchmark and return the Markdown section."""
    with tempfile.TemporaryDirectory(prefix="bench_jsonstat_") as tmp:
        tmpdir = Path(tmp)
        cube = build_cube()
        json_path = tmpdir / "07459_like.json"
        json_path.write_text(json.dumps(cube, ensure_ascii=False, separators=(",", ":")), "utf-8")
        n_cells = math.prod(cube["size"])
        size_mb = json_path.stat().st_size / 1e6
        n_status = len(cube["status"])
        del cube

        base = _run_child("pyjstat", json_path, tmpdir / "pyjstat.parquet", pyjstat_repeats)
        ours = _run_child("boso", json_path, tmpdir / "boso.parquet", boso_repeats)
        equal = _frames_equal(
            pd.read_parquet(tmpdir / "boso.parquet"), pd.read_parquet(tmpdir / "pyjstat.parquet")
        )

    t_base, t_ours = statistics.median(base["times"]), statistics.median(ours["times"])
    ratio = t_base / t_ours
    mem_ratio = base["peak_rss_mb"] / ours["peak_rss_mb"]
    shape = " × ".join(str(s) for s in SHAPE.values())
    verdict = "meets" if ratio >= TARGET_RATIO else "**misses**"
    rows = [
        ("pyjstat `Dataset.read(text).write('dataframe')` (baseline)", base, t_base),
        ("boso `read_jsonstat(text)`", ours, t_ours),
    ]
    table = "\n".join(
        f"| {name} | {len(r['times'])} | {t:.2f} s | {r['peak_rss_mb']:.0f} MB"
        f" | {r['base_rss_mb']:.0f} MB |"
        for name, r, t in rows
    )
    return f"""## JSON-stat2 → DataFrame

Synthetic cube shaped like SSB 07459 ({shape} = {n_cells:,} cells, {size_mb:.1f} MB compact
JSON, {n_status} cells with status symbols). Each reader converts the JSON text (already in
memory) in its own process; peak RSS is that process's high-water mark, which includes the
interpreter, the imports and the JSON text (shown as "RSS before").

| reader | runs | time (median) | peak RSS | RSS before |
|---|---|---|---|---|
{table}
| **ratio (baseline / boso)** | | **{ratio:.1f}×** | **{mem_ratio:.1f}×** | |

Target ≥ {TARGET_RATIO:.0f}× faster: {verdict}. Frames equal (same columns and row order,
dimension values as strings, values with NaN where missing): **{"yes" if equal else "NO"}**.
boso times: {", ".join(f"{t:.2f}" for t in ours["times"])} s.

Machine: {machine()}.
"""


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        section = run()
        update_section("jsonstat", section)
        print(section)
