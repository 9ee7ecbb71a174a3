"""Family "snapshot_archive": ``boso snapshot import`` of a cut or corrupt snapshot is one line
(never ``EOFError``/``zlib.error``) and leaves data/raw and data/processed exactly as they were.

Every file of a snapshot is read and checked against MANIFEST.json before the first is written,
so a snapshot broken anywhere changes nothing.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boso.raw import RawStore, export_snapshot, sha256_bytes
from robustness.harness import run_boso, tree_digest
from robustness.sources_support import drop_categories, imported_raw, project_with_raw

FAMILY = "snapshot_archive"


@pytest.fixture(scope="module")
def archive(snapshot_dir, tmp_path_factory) -> Path:
    """A snapshot archive written by ``boso snapshot export`` from the KLASS and IMDi files."""
    raw = imported_raw(snapshot_dir, tmp_path_factory.mktemp("archive-raw"))
    subset = tmp_path_factory.mktemp("archive-subset")
    for source in ("klass",):
        shutil.copytree(raw / source, subset / source)
    wide = "imdi_bosetting_anmodning_vedtak_faktisk_1995-2022_wide_sep22.csv"
    (subset / "imdi").mkdir()
    for name in (wide, wide + ".provenance.json"):
        shutil.copy2(raw / "imdi" / name, subset / "imdi" / name)
    return export_snapshot(tmp_path_factory.mktemp("archive") / "boso-raw.tar.gz", RawStore(subset))


@pytest.fixture
def archive_project(snapshot_dir, archive, tmp_path_factory, tmp_path):
    raw = imported_raw(snapshot_dir, tmp_path_factory.mktemp("unused"))
    with project_with_raw(tmp_path / "project", raw, ("klass", "imdi")) as root:
        yield root


def _import(root: Path, path: Path):  # noqa: ANN202
    return run_boso(["snapshot", "import", str(path)], root=root)


def _digests(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    return tree_digest(root / "data" / "raw"), tree_digest(root / "data" / "processed")


def _assert_unchanged(reliability, case: str, root: Path, before) -> None:  # noqa: ANN001
    raw, processed = before
    reliability.unchanged(FAMILY, f"{case}: raw", raw, root / "data" / "raw")
    reliability.unchanged(FAMILY, f"{case}: processed", processed, root / "data" / "processed")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(fraction=st.floats(min_value=0.0, max_value=0.9999))
def test_archive_cut_anywhere_is_one_line_and_changes_nothing(
    archive_project, archive, fraction, reliability
):
    content = archive.read_bytes()
    cut = int(len(content) * fraction)
    broken = archive_project / "cut.tar.gz"
    broken.write_bytes(content[:cut])
    before = _digests(archive_project)
    result = _import(archive_project, broken)
    case = f"snapshot import: archive cut at byte {cut} of {len(content)}"
    reliability.cli_error(FAMILY, case, result, "cut.tar.gz")
    _assert_unchanged(reliability, case, archive_project, before)


@pytest.mark.parametrize(
    "case",
    ["a byte flipped in the middle", "a text file named .tar.gz", "an empty file", "gzip of junk"],
)
def test_corrupt_archive_is_one_line_and_changes_nothing(
    archive_project, archive, case, reliability
):
    import gzip

    content = archive.read_bytes()
    broken = archive_project / "broken.tar.gz"
    if case == "a byte flipped in the middle":
        middle = len(content) // 2
        broken.write_bytes(
            content[:middle] + bytes([content[middle] ^ 0xFF]) + content[middle + 1 :]
        )
    elif case == "a text file named .tar.gz":
        broken.write_text("this is not an archive\n")
    elif case == "an empty file":
        broken.write_bytes(b"")
    else:
        broken.write_bytes(gzip.compress(b"\x00junk" * 1000))
    before = _digests(archive_project)
    result = _import(archive_project, broken)
    reliability.cli_error(FAMILY, f"snapshot import: {case}", result, "broken.tar.gz")
    _assert_unchanged(reliability, f"snapshot import: {case}", archive_project, before)


def test_snapshot_folder_with_one_cut_file_writes_nothing(archive, tmp_path, reliability):
    """The last file listed is cut: before, every file listed earlier was already written."""
    folder = tmp_path / "snapshot"
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    manifest = json.loads((folder / "MANIFEST.json").read_text("utf-8"))
    last = folder / manifest["files"][-1]["path"]
    last.write_bytes(last.read_bytes()[:-10])
    root = tmp_path / "project"
    for sub in ("data/raw", "data/processed"):
        (root / sub).mkdir(parents=True)
    before = _digests(root)
    result = _import(root, folder)
    reliability.cli_error(FAMILY, "snapshot import: folder, last file cut", result, last.name)
    _assert_unchanged(reliability, "snapshot import: folder, last file cut", root, before)


def test_manifest_listing_a_missing_file_writes_nothing(archive, tmp_path, reliability):
    folder = tmp_path / "snapshot"
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    manifest = json.loads((folder / "MANIFEST.json").read_text("utf-8"))
    (folder / manifest["files"][-1]["path"]).unlink()
    root = tmp_path / "project"
    for sub in ("data/raw", "data/processed"):
        (root / sub).mkdir(parents=True)
    before = _digests(root)
    result = _import(root, folder)
    reliability.cli_error(FAMILY, "snapshot import: a listed file missing", result, "MANIFEST.json")
    _assert_unchanged(reliability, "snapshot import: a listed file missing", root, before)


def test_good_archive_imports_every_file_unchanged(archive, tmp_path, reliability):
    root = tmp_path / "project"
    for sub in ("data/raw", "data/processed"):
        (root / sub).mkdir(parents=True)
    result = _import(root, archive)
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("MANIFEST.json").read())
        expected = {e["path"]: e["sha256"] for e in manifest["files"]}
    stored = tree_digest(root / "data" / "raw")
    folder = {"klass": "klass", "imdi": "imdi"}
    ok = result.code == 0 and all(
        stored.get(f"{folder[p.split('/')[0]]}/{p.split('/', 1)[1]}") == sha
        for p, sha in expected.items()
    )
    reliability.record(FAMILY, "snapshot import: good archive", "correct" if ok else "data_lost")
    assert ok, result.stderr


# --------------------------------------------------------------------------------------------
# A snapshot whose SSB table covers less than the one in data/raw (the coverage-shrink rule)

SHRUNK_TABLE = "ssb/07459.json"


def _shrunk_snapshot(snapshot_dir: Path, folder: Path, dim: str, count: int) -> Path:
    """A snapshot holding only ``07459.json`` without the last ``count`` categories of ``dim``."""
    content = (snapshot_dir / SHRUNK_TABLE).read_bytes()
    doc = json.loads(content)
    index = doc["dimension"][dim]["category"]["index"]
    order = sorted(index, key=index.get) if isinstance(index, dict) else list(index)
    content = drop_categories(content, dim, set(order[-count:]))
    (folder / "ssb").mkdir(parents=True)
    (folder / SHRUNK_TABLE).write_bytes(content)
    manifest = json.loads((snapshot_dir / "MANIFEST.json").read_text("utf-8"))
    entry = next(e for e in manifest["files"] if e["path"] == SHRUNK_TABLE)
    entry = {**entry, "sha256": sha256_bytes(content), "bytes": len(content)}
    (folder / "MANIFEST.json").write_text(json.dumps({**manifest, "files": [entry]}), "utf-8")
    return folder


@pytest.fixture
def ssb_project(snapshot_dir, tmp_path_factory, tmp_path):
    raw = imported_raw(snapshot_dir, tmp_path_factory.mktemp("unused"))
    with project_with_raw(tmp_path / "project", raw, ("ssb", "klass")) as root:
        yield root


@pytest.mark.parametrize(
    ("case", "dim", "count", "mentions"),
    [
        ("two kommuner fewer", "Region", 2, ("07459", "Region", "356 → 354")),
        ("a year fewer", "Tid", 1, ("07459", "Tid", "22 → 21")),
    ],
)
def test_snapshot_with_a_shrunk_ssb_table_is_refused(
    ssb_project, snapshot_dir, tmp_path, case, dim, count, mentions, reliability
):
    snapshot = _shrunk_snapshot(snapshot_dir, tmp_path / "snapshot", dim, count)
    before = _digests(ssb_project)
    result = _import(ssb_project, snapshot)
    reliability.cli_error(FAMILY, f"snapshot import: SSB table with {case}", result, *mentions)
    _assert_unchanged(reliability, f"snapshot import: SSB table with {case}", ssb_project, before)
    assert not [p for p in (ssb_project / "data").iterdir() if p.name.startswith(".")]


def test_snapshot_with_a_shrunk_ssb_table_imports_with_force(
    ssb_project, snapshot_dir, tmp_path, reliability
):
    snapshot = _shrunk_snapshot(snapshot_dir, tmp_path / "snapshot", "Region", 2)
    old = (ssb_project / "data" / "raw" / SHRUNK_TABLE).read_bytes()
    result = run_boso(["snapshot", "import", "--force", str(snapshot)], root=ssb_project)
    raw = ssb_project / "data" / "raw" / "ssb"
    history = [p for p in (raw / "_history").glob("07459.json.*") if "provenance" not in p.name]
    ok = (
        result.code == 0
        and (raw / "07459.json").read_bytes() == (snapshot / SHRUNK_TABLE).read_bytes()
    )
    ok = ok and [p.read_bytes() for p in history] == [old]
    reliability.record(
        FAMILY, "snapshot import --force: shrunk SSB table", "correct" if ok else "data_lost"
    )
    assert ok, result.stderr
