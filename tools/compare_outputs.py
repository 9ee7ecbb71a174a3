"""Compare two output trees (``reports/``, ``_site/``) of boso runs, ignoring run-specific noise.

A refactoring must leave what readers see unchanged. This tool makes that checkable: run the
same kommuner with the old and the new code into two project roots, then::

    python tools/compare_outputs.py OLD_ROOT NEW_ROOT [--tree reports --tree _site]

Noise that differs between any two runs is removed before comparing: papermill's timings and
paths, Jupyter's execution timestamps, the project root in paths, and the site's build stamp.
Everything else (text, numbers, figure JSON, tables, links) must be byte-identical. Exits 1 and
lists the differing files (with the first differing lines) when anything else differs.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

# Cell and notebook metadata written by papermill/Jupyter for every run.
_VOLATILE_KEYS = {"execution", "papermill"}
_STAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(\+00:00|Z| UTC)?"
    r"|\b\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}\b"
    # fetched-at inside the URL-encoded CSV links of figures and tables
    r"|\d{4}-\d{2}-\d{2}T\d{2}%3A\d{2}%3A\d{2}(\.\d+)?(Z|%2B00%3A00)"
)
# Figure element ids: the content hash stays; the per-kernel counter before boso 2026-12-02
# depended on which reports the warm kernel had run before.
_FIGURE_ID = re.compile(r"(fig-[0-9a-f]{10})-\d+")
_SECONDS = re.compile(r'(^\s*)"seconds": [\d.]+', re.MULTILINE)
_DATE = re.compile(
    r"\b\d{1,2}\. (januar|februar|mars|april|mai|juni|juli|august|september|"
    r"oktober|november|desember) \d{4}\b"
)


def _scrub(value: Any, root: str) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, root) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_scrub(v, root) for v in value]
    if isinstance(value, str):
        return _scrub_text(value, root)
    return value


def normalised_notebook(path: Path, root: Path) -> str:
    """The notebook as indented JSON without run-specific metadata."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook.get("cells", []):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.pop("id", None)  # papermill gives the injected cell a random id
    return json.dumps(_scrub(notebook, str(root)), indent=1, ensure_ascii=False, sort_keys=True)


def normalised_text(path: Path, root: Path) -> str:
    """A text file with the project root and build stamps replaced."""
    return _scrub_text(path.read_text(encoding="utf-8"), str(root))


def _scrub_text(text: str, root: str) -> str:
    text = _SECONDS.sub(r'\1"seconds": <S>', text.replace(root, "<ROOT>"))
    text = _FIGURE_ID.sub(r"\1-N", text)
    return _DATE.sub("<DATE>", _STAMP.sub("<STAMP>", text))


def normalised(path: Path, root: Path) -> str | bytes:
    if path.suffix == ".ipynb":
        return normalised_notebook(path, root)
    if path.suffix in {".html", ".json", ".qmd", ".csv", ".js", ".css", ".txt", ".md", ".yml"}:
        return normalised_text(path, root)
    return path.read_bytes()


def _files(folder: Path) -> set[Path]:
    # Hidden files are the runners' cache keys (hashes of code and inputs): they are meant to
    # change with the code and are never shown to readers.
    return {
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def compare_tree(old_root: Path, new_root: Path, tree: str, show: int) -> list[str]:
    """Return one message per difference between ``old_root/tree`` and ``new_root/tree``."""
    old_dir, new_dir = old_root / tree, new_root / tree
    old_files, new_files = _files(old_dir), _files(new_dir)
    problems = [f"{tree}/{p}: only in old" for p in sorted(old_files - new_files)]
    problems += [f"{tree}/{p}: only in new" for p in sorted(new_files - old_files)]
    for rel in sorted(old_files & new_files):
        old = normalised(old_dir / rel, old_root)
        new = normalised(new_dir / rel, new_root)
        if old == new:
            continue
        if isinstance(old, bytes) or isinstance(new, bytes):
            problems.append(f"{tree}/{rel}: binary content differs")
            continue
        diff = list(
            difflib.unified_diff(old.splitlines(), new.splitlines(), "old", "new", n=0, lineterm="")
        )
        lines = [line[:300] for line in diff[2 : 2 + show]]
        problems.append(f"{tree}/{rel}: differs\n    " + "\n    ".join(lines))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_root", type=Path)
    parser.add_argument("new_root", type=Path)
    parser.add_argument("--tree", action="append", help="subfolder to compare (repeatable)")
    parser.add_argument("--show", type=int, default=12, help="diff lines shown per file")
    args = parser.parse_args(argv)
    trees = args.tree or ["reports", "_site"]
    problems: list[str] = []
    compared = 0
    for tree in trees:
        if not (args.old_root / tree).is_dir() or not (args.new_root / tree).is_dir():
            print(f"{tree}: mangler i en av mappene", file=sys.stderr)
            return 2
        compared += len(_files(args.old_root / tree))
        problems += compare_tree(args.old_root.resolve(), args.new_root.resolve(), tree, args.show)
    for problem in problems:
        print(problem)
    print(f"{compared} filer sammenlignet, {len(problems)} forskjeller")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
