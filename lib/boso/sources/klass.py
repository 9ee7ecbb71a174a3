"""SSB KLASS: kommune codes (classification 131), their changes, and KOSTRA groups (112).

Files are stored exactly as received under ``data/raw/klass/`` with the snapshot's names, so
``boso build`` reads fetched and imported data alike:

* ``131_changes_<from>_<to>.json``        ``{"codeChanges": [...]}``
* ``131_codesAt_<date>.json``             ``{"codes": [...]}``
* ``131_correspondsAt_112_<date>.json``   ``{"correspondenceItems": [...]}``

Each answer's shape is checked before it is written, so an error page or a truncated answer
never replaces a good file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from boso.errors import FetchError, QueryError, json_problem
from boso.raw import RawFile, RawStore
from boso.sources.http import HttpClient, HttpStatusError, expect_json

BASE = "https://data.ssb.no/api/klass/v1"
KOMMUNER = "131"
KOSTRA_GROUPS = "112"
HEADERS = {"Accept": "application/json"}

# The snapshot's files; fetching the same names keeps `boso build` source-agnostic.
DEFAULT_CHANGES = ("2011-01-01", "2024-01-01")
DEFAULT_CODES_AT = ("2020-01-01", "2024-01-01")
DEFAULT_CORRESPONDS_AT = ("2024-01-01",)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ID = re.compile(r"^\d{1,5}$")

# list key -> fields every item must have
_SHAPES: dict[str, tuple[str, ...]] = {
    "codeChanges": ("oldCode", "newCode", "changeOccurred"),
    "codes": ("code", "name"),
    "correspondenceItems": ("sourceCode", "targetCode"),
}


def check_klass(content: bytes, key: str, where: str) -> dict[str, Any]:
    """Check a KLASS answer: a JSON object whose ``key`` is a list of complete items.

    Args:
        content: The bytes as received.
        key: ``codeChanges``, ``codes`` or ``correspondenceItems``.
        where: URL or file name for error messages.

    Returns:
        The parsed document.

    Raises:
        FetchError: Not JSON, no such list, or an item lacks a required field.
    """
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"{where}: {json_problem(exc)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise FetchError(f"{where}: ventet et JSON-objekt med en {key!r}-liste")
    required = _SHAPES[key]
    for i, item in enumerate(doc[key]):
        if not isinstance(item, dict):
            raise FetchError(f"{where}: {key}[{i}] er ikke et objekt")
        missing = [f for f in required if f not in item]
        if missing:
            raise FetchError(f"{where}: {key}[{i}] mangler {', '.join(missing)}")
    if key != "codeChanges" and not doc[key]:
        # An empty code list would wipe every kommune downstream; refuse it.
        raise FetchError(f"{where}: {key!r} er tom")
    return doc


def _check_date(value: str) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise QueryError(f"KLASS-dato må være ÅÅÅÅ-MM-DD, ikke {value!r}")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"KLASS-dato {value!r} er ikke en gyldig dato") from None
    return value


def _check_id(value: str) -> str:
    if not _ID.match(str(value)):
        raise QueryError(f"KLASS-klassifikasjonsnummer må være sifre, ikke {value!r}")
    return str(value)


def _fetch(
    store: RawStore,
    client: HttpClient,
    url: str,
    name: str,
    key: str,
    query: dict[str, Any],
) -> RawFile:
    try:
        response = client.get(url, headers=HEADERS, check=expect_json)
    except HttpStatusError as exc:
        if exc.status == 404:
            raise QueryError(f"KLASS har ingenting på {url} (HTTP 404)") from None
        raise

    def validate(content: bytes) -> None:
        doc = check_klass(content, key, url)
        if store.exists("klass", name):
            check_not_shrunk(store.get("klass", name).read_bytes(), doc, key, url)

    return store.write(
        "klass",
        name,
        response.content,
        url=url,
        query=query,
        synthetic=False,
        validate=validate,
        extra={"format": "json"},
    )


# What identifies an item of each list (names and notes may be corrected between fetches).
_IDENTITY: dict[str, tuple[str, ...]] = {
    "codeChanges": ("oldCode", "newCode", "changeOccurred"),
    "codes": ("code",),
    "correspondenceItems": ("sourceCode", "targetCode"),
}


def check_not_shrunk(old: bytes, new: dict[str, Any], key: str, where: str) -> None:
    """Refuse an answer that lacks items the stored file (same query) has.

    KLASS answers for a fixed date or period describe the past, so a new answer may add or
    correct items but should not lose any; one that does (a partial answer) would silently drop
    kommuner from every table.

    Raises:
        FetchError: Items of the stored file are missing from ``new``.
    """
    try:
        before = json.loads(old)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return  # the stored file is broken itself; the new answer replaces it
    if not isinstance(before, dict) or not isinstance(before.get(key), list):
        return
    fields = _IDENTITY[key]

    def identities(doc: dict[str, Any]) -> set[tuple[str, ...]]:
        return {
            tuple(str(item.get(f)) for f in fields) for item in doc[key] if isinstance(item, dict)
        }

    lost = identities(before) - identities(new)
    if lost:
        example = "/".join(sorted(lost)[0])
        raise FetchError(
            f"{where}: svaret mangler {len(lost)} av {len(before[key])} oppføringer som den "
            f"lagrede filen har (f.eks. {example}); den lagrede beholdes"
        )


def fetch_changes(
    store: RawStore,
    from_date: str,
    to_date: str,
    client: HttpClient | None = None,
    *,
    classification: str = KOMMUNER,
    base: str = BASE,
) -> RawFile:
    """Fetch ``classifications/<id>/changes?from=&to=`` into ``<id>_changes_<from>_<to>.json``."""
    cid = _check_id(classification)
    a, b = _check_date(from_date), _check_date(to_date)
    url = f"{base}/classifications/{cid}/changes?from={a}&to={b}"
    return _fetch(
        store,
        client or HttpClient(),
        url,
        f"{cid}_changes_{a}_{b}.json",
        "codeChanges",
        {"classification": cid, "from": a, "to": b},
    )


def fetch_codes_at(
    store: RawStore,
    date: str,
    client: HttpClient | None = None,
    *,
    classification: str = KOMMUNER,
    base: str = BASE,
) -> RawFile:
    """Fetch ``classifications/<id>/codesAt?date=`` into ``<id>_codesAt_<date>.json``."""
    cid = _check_id(classification)
    d = _check_date(date)
    url = f"{base}/classifications/{cid}/codesAt?date={d}"
    return _fetch(
        store,
        client or HttpClient(),
        url,
        f"{cid}_codesAt_{d}.json",
        "codes",
        {"classification": cid, "date": d},
    )


def fetch_corresponds_at(
    store: RawStore,
    date: str,
    client: HttpClient | None = None,
    *,
    classification: str = KOMMUNER,
    target: str = KOSTRA_GROUPS,
    base: str = BASE,
) -> RawFile:
    """Fetch the 131 -> 112 correspondence at ``date`` (each kommune's KOSTRA group).

    Stored as ``<id>_correspondsAt_<target>_<date>.json``.
    """
    cid, tid = _check_id(classification), _check_id(target)
    d = _check_date(date)
    url = f"{base}/classifications/{cid}/correspondsAt?targetClassificationId={tid}&date={d}"
    return _fetch(
        store,
        client or HttpClient(),
        url,
        f"{cid}_correspondsAt_{tid}_{d}.json",
        "correspondenceItems",
        {"classification": cid, "target": tid, "date": d},
    )


def fetch(
    store: RawStore | None = None,
    client: HttpClient | None = None,
    *,
    changes: tuple[str, str] = DEFAULT_CHANGES,
    codes_at: Sequence[str] = DEFAULT_CODES_AT,
    corresponds_at: Sequence[str] = DEFAULT_CORRESPONDS_AT,
    log: Callable[[str], None] | None = None,
) -> list[RawFile]:
    """Fetch the KLASS files boso builds on (defaults: the snapshot's dates).

    Args:
        store: Raw store (default: the project's).
        client: HTTP client (default: a new rate-limited one).
        changes: ``(from, to)`` for the 131 change list.
        codes_at: Dates for 131 ``codesAt``.
        corresponds_at: Dates for the 131 -> 112 correspondence.
        log: Called with one line per stored file.

    Returns:
        The stored files.
    """
    store = store or RawStore()
    client = client or HttpClient()
    files = [fetch_changes(store, changes[0], changes[1], client)]
    files += [fetch_codes_at(store, d, client) for d in codes_at]
    files += [fetch_corresponds_at(store, d, client) for d in corresponds_at]
    if log:
        for f in files:
            log(f"hentet klass/{f.name}")
    return files
