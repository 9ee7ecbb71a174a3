"""User-facing messages are in bokmål: no English creeps back into raised errors or printed lines.

The scan reads every module under ``lib/boso`` and collects the literal text of
``raise SomeError("…")`` and of message calls (``warnings.warn``, ``print``, ``log``, …);
f-string placeholders count as ``{}``. A message holding a common English word fails the test
unless it is on the short, explicit allow-list below (programming errors that never reach a user).
"""

from __future__ import annotations

import ast
import errno
import gzip
import os
import re
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[2] / "lib" / "boso"

# Whole words, so that "the" does not match "theme" and "not" does not match "notat".
ENGLISH = frozenset(
    [
        "not",
        "found",
        "invalid",
        "expected",
        "missing",
        "must",
        "the",
        "is",
        "has",
        "cannot",
        "unknown",
        "should",
        "does",
        "with",
        "and",
        "of",
        "no",
        "got",
        "only",
    ]
)

# Calls whose first argument is shown to the user (progress, warnings, summaries).
MESSAGE_CALLS = {"warn", "print", "echo", "secho", "log", "warning", "info", "error"}

# (module relative to lib/boso, exception class, first words): programming errors only.
ALLOWED = {
    # Python's module __getattr__ protocol: the text is the interpreter's own convention.
    ("__init__.py", "AttributeError", "module 'boso' has no attribute"),
    # Unreachable by construction (guarded by "pragma: no cover").
    ("sources/__init__.py", "AssertionError", "candidates is never empty"),
    # A constructor argument check for code, never for user input.
    ("sources/http.py", "ValueError", "max_requests must be"),
}


def _literal(node: ast.AST) -> str | None:
    """The constant text of a message expression, with ``{}`` for f-string fields."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        if left is None and right is None:
            return None
        return (left or "{}") + (right or "{}")
    return None


def _name(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return getattr(func, "id", "")


def messages(source: str) -> list[tuple[int, str, str]]:
    """``(line, exception or call name, text)`` of every literal user-facing message."""
    found = []
    for node in ast.walk(ast.parse(source)):
        calls = []
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            calls.append(node.exc)
        elif isinstance(node, ast.Call) and _name(node.func) in MESSAGE_CALLS:
            calls.append(node)
        for call in calls:
            text = _literal(call.args[0]) if call.args else None
            if text is not None:
                found.append((call.lineno, _name(call.func), text))
    return found


def english_words(text: str) -> list[str]:
    return sorted(ENGLISH.intersection(re.findall(r"[a-zæøå]+", text.lower())))


def _allowed(module: str, kind: str, text: str) -> bool:
    return any(m == module and k == kind and text.startswith(t) for m, k, t in ALLOWED)


def test_library_messages_are_in_bokmal() -> None:
    offenders = []
    for path in sorted(LIB.rglob("*.py")):
        module = path.relative_to(LIB).as_posix()
        for line, kind, text in messages(path.read_text("utf-8")):
            words = english_words(text)
            if words and not _allowed(module, kind, text):
                offenders.append(f"{module}:{line}: {kind}({text[:80]!r}) — {', '.join(words)}")
    assert not offenders, "English in user-facing messages:\n" + "\n".join(offenders)


def test_allow_list_has_no_stale_entries() -> None:
    """Each allowed message still exists, so the list cannot silently grow into a loophole."""
    present = set()
    for module, kind, start in ALLOWED:
        source = (LIB / module).read_text("utf-8")
        if any(k == kind and t.startswith(start) for _, k, t in messages(source)):
            present.add((module, kind, start))
    assert present == ALLOWED


@pytest.mark.parametrize(
    ("snippet", "caught"),
    [
        ('raise DataError(f"{path}: file not found")', True),
        ('raise QueryError("unknown table " + name)', True),
        ('raise FetchError(f"SSB table {t}: the response is invalid")', True),
        ('warnings.warn("column is missing")', True),
        ('log(f"wrote {n} rows and skipped {m}")', True),
        ('raise DataError(f"{path}: fil ikke funnet")', False),
        ('raise QueryError(f"ukjent kommunenummer {kode}")', False),
        ('log(f"hentet ssb/{name}: {n} celler")', False),
        ("raise DataError(message)", False),  # not a literal: nothing to judge
    ],
)
def test_scanner_tells_english_from_bokmal(snippet: str, caught: bool) -> None:
    found = messages(snippet)
    assert bool(found and any(english_words(text) for _, _, text in found)) is caught


# ----------------------------------------------------------------------------- JSON decoder text
#
# ``json.JSONDecodeError``'s own text ("Expecting value: line 1 column 1 (char 0)") is English;
# a message that puts the caught exception itself into an f-string carries it to the user.
# Such handlers must describe the problem with ``boso.errors.json_problem`` instead.


def _catches_json_errors(handler: ast.ExceptHandler) -> bool:
    return handler.type is not None and "JSONDecodeError" in ast.unparse(handler.type)


def raw_json_errors(source: str) -> list[tuple[int, str]]:
    """``(line, message)`` of raised messages that embed a caught JSON decoder exception."""
    found = []
    for handler in ast.walk(ast.parse(source)):
        if not isinstance(handler, ast.ExceptHandler) or not _catches_json_errors(handler):
            continue
        if handler.name is None:
            continue
        for node in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
            if not isinstance(node, ast.JoinedStr):
                continue
            for part in node.values:
                if (
                    isinstance(part, ast.FormattedValue)
                    and isinstance(part.value, ast.Name)
                    and part.value.id == handler.name
                ):
                    found.append((node.lineno, ast.unparse(node)))
    return found


def test_json_decoder_text_never_reaches_a_message() -> None:
    offenders = []
    for path in sorted(LIB.rglob("*.py")):
        module = path.relative_to(LIB).as_posix()
        for line, text in raw_json_errors(path.read_text("utf-8")):
            offenders.append(f"{module}:{line}: {text[:100]}")
    assert not offenders, "json's English error text in user messages:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("snippet", "caught"),
    [
        (
            "try:\n    json.loads(b)\nexcept json.JSONDecodeError as exc:\n"
            '    raise DataError(f"{where}: ikke gyldig JSON ({exc})")',
            True,
        ),
        (
            "try:\n    json.loads(b)\nexcept (UnicodeDecodeError, json.JSONDecodeError) as e:\n"
            '    raise FetchError(f"{url}: {e}") from None',
            True,
        ),
        (
            "try:\n    json.loads(b)\nexcept json.JSONDecodeError as exc:\n"
            '    raise DataError(f"{where}: {json_problem(exc)}")',
            False,
        ),
    ],
)
def test_json_scanner_finds_embedded_decoder_text(snippet: str, caught: bool) -> None:
    assert bool(raw_json_errors(snippet)) is caught


def _klass_error(content: bytes) -> str:
    from boso.errors import BosoError
    from boso.sources.klass import check_klass

    with pytest.raises(BosoError) as info:
        check_klass(
            content, "codes", "https://data.ssb.no/api/klass/v1/classifications/131/codesAt"
        )
    return str(info.value)


def _geonorge_error(tmp_path: Path, content: bytes) -> str:
    from boso.errors import BosoError
    from boso.sources.geonorge import read_boundaries

    path = tmp_path / "grenser.geojson"
    path.write_bytes(content)
    with pytest.raises(BosoError) as info:
        read_boundaries(path)
    return str(info.value)


BROKEN_JSON = [
    (b"", "linje 1 kolonne 1"),
    (b"<html>feil</html>", "linje 1 kolonne 1"),
    (b'{"codes": [{"code": "0301"', "linje 1 kolonne 27"),
    (b'{"codes": []}\n{"x": 1}', "linje 2 kolonne 1"),
    (b'{"codes": [\n  {"code": "0301",}\n]}', "linje 2 kolonne"),
    (b'{"codes": "\xff\xfe"}', "UTF-8"),
]


@pytest.mark.parametrize(("content", "position"), BROKEN_JSON)
def test_klass_json_errors_are_one_bokmal_line(content: bytes, position: str) -> None:
    message = _klass_error(content)
    assert "classifications/131/codesAt" in message and position in message
    assert "\n" not in message and not english_words(message.split(": ", 1)[1]), message
    assert "Expecting" not in message and "char" not in message


@pytest.mark.parametrize(("content", "position"), BROKEN_JSON)
def test_geonorge_json_errors_are_one_bokmal_line(
    tmp_path: Path, content: bytes, position: str
) -> None:
    message = _geonorge_error(tmp_path, content)
    assert "grenser.geojson" in message and position in message
    assert "\n" not in message and not english_words(message.split(": ", 1)[1]), message
    assert "Expecting" not in message and "char" not in message


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"this is not an archive\n",
        b"\x1f\x8b" + b"\x00" * 40,  # a gzip header with nothing valid after it
        gzip.compress(b"\x00junk" * 1000),
        gzip.compress(bytes(range(256)) * 400)[:600],  # cut mid-stream
    ],
)
def test_snapshot_archive_errors_are_bokmal(tmp_path: Path, content: bytes) -> None:
    """tarfile/gzip/zlib's own English text stays out of the one line."""
    from boso.errors import DataError
    from boso.raw import RawStore, import_snapshot

    archive = tmp_path / "snapshot.tar.gz"
    archive.write_bytes(content)
    with pytest.raises(DataError) as info:
        import_snapshot(archive, RawStore(tmp_path / "raw"))
    message = str(info.value)
    assert "snapshot.tar.gz" in message and "\n" not in message
    assert not english_words(message.split(": ", 1)[1]), message


# ---------------------------------------------------------------------------------------------
# File-system errors: one bokmål table (errors.os_problem), never the OS's English strerror


def test_no_message_inserts_the_os_error_text() -> None:
    offenders = []
    for path in sorted(LIB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FormattedValue):
                inner = ast.unparse(node.value)
                if "strerror" in inner:
                    offenders.append(f"{path.relative_to(LIB)}:{node.lineno}: {inner}")
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (errno.ENOSPC, "ikke mer plass på disken"),
        (errno.EACCES, "ingen tilgang"),
        (errno.EROFS, "filsystemet er skrivebeskyttet"),
        (errno.ELOOP, "systemfeil ELOOP"),
    ],
)
def test_os_problem_is_bokmal(number: int, expected: str) -> None:
    from boso.errors import os_problem

    assert os_problem(OSError(number, os.strerror(number), "/x")) == expected


def test_export_write_error_is_bokmal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Disk-full messages used to end in the OS text, e.g. "(No space left on device)".
    from boso.errors import DataError
    from boso.processed import _write_output

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / ".tmp"))

    monkeypatch.setattr("boso.processed.atomic_write_bytes", full)
    with pytest.raises(DataError) as caught:
        _write_output(tmp_path / "ut.csv", b"x")
    assert (
        str(caught.value)
        == f"{tmp_path / 'ut.csv'}: kan ikke skrive filen (ikke mer plass på disken)"
    )
