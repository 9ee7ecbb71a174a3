"""Raw store: immutability, provenance, atomic replacement, snapshot import/export."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from boso import raw
from boso.errors import DataError


def make_snapshot(root: Path, files: dict[str, bytes], *, real: bool = True) -> Path:
    entries = []
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
        entries.append({"path": rel, "real": real, "sha256": hashlib.sha256(content).hexdigest()})
    (root / "MANIFEST.json").write_text(json.dumps({"files": entries}), "utf-8")
    return root


def test_write_stores_bytes_and_provenance(tmp_path: Path) -> None:
    store = raw.RawStore(tmp_path)
    stored = store.write("ssb", "12008.json", b'{"a": 1}', url="https://x/12008", query={"q": 1})
    assert stored.path.read_bytes() == b'{"a": 1}'
    sidecar = json.loads((tmp_path / "ssb" / "12008.json.provenance.json").read_text())
    assert sidecar["sha256"] == hashlib.sha256(b'{"a": 1}').hexdigest()
    assert sidecar["url"] == "https://x/12008" and sidecar["query"] == {"q": 1}
    assert sidecar["fetched_at"].endswith("Z")


def test_new_version_keeps_the_old_one_in_history(tmp_path: Path) -> None:
    store = raw.RawStore(tmp_path)
    store.write("ssb", "t.json", b"old", url="u")
    store.write("ssb", "t.json", b"new", url="u")
    assert (tmp_path / "ssb" / "t.json").read_bytes() == b"new"
    history = list((tmp_path / "ssb" / "_history").iterdir())
    assert any(p.read_bytes() == b"old" for p in history)
    assert [f.name for f in store.files()] == ["t.json"]


def test_same_bytes_again_keeps_first_provenance(tmp_path: Path) -> None:
    store = raw.RawStore(tmp_path)
    first = store.write("ssb", "t.json", b"x", url="u", fetched_at="2020-01-01T00:00:00Z")
    again = store.write("ssb", "t.json", b"x", url="u2")
    assert again.provenance["fetched_at"] == first.provenance["fetched_at"]
    assert not (tmp_path / "ssb" / "_history").exists()


def test_failed_validation_leaves_good_file_untouched(tmp_path: Path) -> None:
    store = raw.RawStore(tmp_path)
    store.write("ssb", "t.json", b"good", url="u")

    def reject(content: bytes) -> None:
        raise DataError("truncated")

    with pytest.raises(DataError, match="truncated"):
        store.write("ssb", "t.json", b"go", url="u", validate=reject)
    assert (tmp_path / "ssb" / "t.json").read_bytes() == b"good"
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "ssb").iterdir())


def test_names_cannot_escape_the_store(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="innenfor data/raw"):
        raw.RawStore(tmp_path).write("ssb", "../evil", b"x", url="u")


def test_snapshot_import_marks_synthetic_and_maps_folders(tmp_path: Path) -> None:
    snap = make_snapshot(
        tmp_path / "snap",
        {
            "ssb/12008.json": b'{"updated":"2025-06-16T06:00:00Z"}',
            "municipal/x_3203_SYNTETISK.csv": b"a;b\n",
        },
        real=False,
    )
    store = raw.RawStore(tmp_path / "raw")
    imported = raw.import_snapshot(snap, store)
    assert {(f.source, f.name) for f in imported} == {
        ("ssb", "12008.json"),
        ("register", "x_3203_SYNTETISK.csv"),
    }
    ssb = store.get("ssb", "12008.json")
    assert ssb.synthetic and ssb.provenance["source_updated"] == "2025-06-16T06:00:00Z"


def test_snapshot_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    snap = make_snapshot(tmp_path / "snap", {"ssb/t.json": b"complete"})
    (snap / "ssb" / "t.json").write_bytes(b"compl")
    store = raw.RawStore(tmp_path / "raw")
    with pytest.raises(DataError, match="sjekksummen stemmer ikke"):
        raw.import_snapshot(snap, store)
    assert not (tmp_path / "raw" / "ssb" / "t.json").exists()


def test_missing_snapshot_and_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="snapshot ikke funnet"):
        raw.import_snapshot(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="ingen MANIFEST.json"):
        raw.import_snapshot(tmp_path / "empty", raw.RawStore(tmp_path / "raw"))


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    store = raw.RawStore(tmp_path / "raw")
    store.write("ssb", "t.json", b"{}", url="https://x", synthetic=True)
    store.write("klass", "131_changes.json", b"[]", url="https://k")
    archive = raw.export_snapshot(tmp_path / "out.tar.gz", store)
    with tarfile.open(archive) as tar:
        assert {"MANIFEST.json", "ssb/t.json", "klass/131_changes.json"} <= set(tar.getnames())
    other = raw.RawStore(tmp_path / "raw2")
    imported = raw.import_snapshot(archive, other)
    assert len(imported) == 2
    assert other.get("ssb", "t.json").read_bytes() == b"{}"
    assert other.get("ssb", "t.json").synthetic
    assert other.get("klass", "131_changes.json").provenance["url"] == "https://k"


def test_export_of_empty_store_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="ingenting å eksportere"):
        raw.export_snapshot(tmp_path / "x.tar.gz", raw.RawStore(tmp_path / "raw"))
