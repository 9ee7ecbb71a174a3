"""Online sources: SSB Statbank, KLASS, Geonorge and IMDi -> ``data/raw``.

:func:`fetch_all` is what ``boso fetch`` runs. The SSB tables and their selections come from
the indicator catalog (``boso.catalog.ssb_queries()``), so a replaced table id is changed in one
place. All SSB and KLASS requests share one client and thus one rate limiter (both live on
data.ssb.no, whose 30-requests-per-minute limit is per IP address).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from boso.errors import BosoError, FetchError, QueryError
from boso.raw import RawFile, RawStore
from boso.sources.http import GaveUpError, HttpClient

SOURCES = ("ssb", "klass", "imdi", "geo")


def catalog_queries() -> dict[str, dict[str, Any]]:
    """``{table_id: {"selection", "codelist", "output_values", "file"?}}`` from the catalog.

    A separate function so tests can give :func:`fetch_ssb` a smaller set of tables.
    """
    from boso.catalog import ssb_queries

    return ssb_queries()


def fetch_ssb(
    store: RawStore,
    client: HttpClient,
    tables: Iterable[str] | None = None,
    *,
    queries: dict[str, dict[str, Any]] | None = None,
    log: Callable[[str], None] = print,
) -> list[RawFile]:
    """Fetch the catalog's SSB tables (or only ``tables``).

    Every table is tried even if one fails; the tables fetched are stored.

    Raises:
        QueryError: A requested table is not in the catalog (the message lists those that are).
        FetchError: One or more tables failed (all named, with their errors).
    """
    from boso.sources.ssb import TableNotFoundError, fetch_table

    queries = catalog_queries() if queries is None else queries
    wanted = list(tables) if tables else list(queries)
    unknown = [t for t in wanted if t not in queries]
    if unknown:
        raise QueryError(
            f"SSB-tabell(er) {', '.join(unknown)} står ikke i katalogen; tabeller i katalogen: "
            f"{', '.join(queries)}"
        )
    files = []
    failed: list[str] = []
    for table_id in wanted:
        spec = queries[table_id]
        try:
            raw_file = _fetch_with_successors(
                fetch_table, TableNotFoundError, table_id, spec, store, client, log
            )
        except GaveUpError as exc:
            if exc.unreachable:
                raise  # no network: every other table would wait out its retries as well
            log(f"feil: ssb/{table_id}: {exc}")
            failed.append(f"{table_id} ({exc})")
            continue
        except BosoError as exc:
            # One unavailable table should not cost the others; report them all at the end.
            log(f"feil: ssb/{table_id}: {exc}")
            failed.append(f"{table_id} ({exc})")
            continue
        prov = raw_file.provenance
        log(
            f"hentet ssb/{raw_file.name}: {prov.get('cells', '?')} celler, "
            f"{prov.get('requests', '?')} forespørsel(er), oppdatert {prov.get('source_updated')}"
        )
        files.append(raw_file)
    if failed:
        raise FetchError(
            f"{len(failed)} av {len(wanted)} SSB-tabell(er) feilet (tidligere filer beholdt): "
            + "; ".join(failed)
        )
    return files


def _fetch_with_successors(
    fetch_table: Callable[..., RawFile],
    not_found: type[Exception],
    table_id: str,
    spec: dict[str, Any],
    store: RawStore,
    client: HttpClient,
    log: Callable[[str], None],
) -> RawFile:
    """Fetch ``table_id``, or the first successor in ``spec["fallbacks"]`` SSB still has.

    SSB replaces some tables outright (14288 → 14746 for the 2026 projections); the file keeps
    the catalog's name so the build finds it, and the provenance records the table used.
    """
    candidates = [table_id, *spec.get("fallbacks", [])]
    for candidate, successor in zip(candidates, [*candidates[1:], None], strict=True):
        try:
            return fetch_table(
                candidate,
                spec["selection"],
                spec.get("codelist") or None,
                spec.get("output_values") or None,
                store,
                client,
                name=spec.get("file") or f"{table_id}.json",
                optional=spec.get("optional") or None,
            )
        except not_found:
            if successor is None:
                raise
            log(f"ssb/{candidate} finnes ikke lenger hos SSB; prøver etterfølgeren {successor}")
    raise AssertionError("candidates is never empty")  # pragma: no cover


def fetch_all(
    sources: Iterable[str] | None = None,
    tables: Iterable[str] | None = None,
    *,
    store: RawStore | None = None,
    client: HttpClient | None = None,
    geo_client: HttpClient | None = None,
    log: Callable[[str], None] = print,
) -> list[RawFile]:
    """Fetch every source (or only ``sources``) into the raw store.

    Args:
        sources: Any of ``ssb``, ``klass``, ``imdi``, ``geo`` (default: all).
        tables: Only these SSB tables (must be in the catalog); implies ``ssb`` if
            ``sources`` is not given.
        store: Raw store (default: the project's ``data/raw``).
        client: HTTP client for SSB and KLASS (default: one with SSB's rate limit).
        geo_client: HTTP client for Geonorge (default: one with Geonorge's own limiter).
        log: Progress lines (bokmål) go here.

    Returns:
        The files written.

    Raises:
        QueryError: Unknown source or table.
        FetchError: A download failed; files fetched before it are kept.
    """
    tables = list(tables) if tables else None
    default = ["ssb"] if tables else list(SOURCES)
    chosen = list(dict.fromkeys(sources)) if sources else default
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown:
        raise QueryError(f"ukjent(e) kilde(r) {', '.join(unknown)}; kilder: {', '.join(SOURCES)}")
    if tables and "ssb" not in chosen:
        raise QueryError("--table gjelder bare kilden ssb")
    store = store or RawStore()
    client = client or HttpClient()
    files: list[RawFile] = []
    if "ssb" in chosen:
        files += fetch_ssb(store, client, tables, log=log)
    if "klass" in chosen:
        from boso.sources import klass

        files += klass.fetch(store, client, log=log)
    if "imdi" in chosen:
        files += _fetch_imdi(store, explicit=bool(sources), log=log)
    if "geo" in chosen:
        from boso.sources import geonorge

        files.append(geonorge.fetch_boundaries(store, geo_client, log=log))
    return files


def _fetch_imdi(store: RawStore, *, explicit: bool, log: Callable[[str], None]) -> list[RawFile]:
    from boso.sources import imdi

    if not explicit and not os.environ.get("BOSO_IMDI_URL"):
        # IMDi has no stable API; without an export URL there is nothing to fetch.
        log("hopper over IMDi: sett BOSO_IMDI_URL til imdikator-eksporten for å hente den")
        return []
    raw_file = imdi.fetch(store)
    log(f"hentet imdi/{raw_file.name}")
    return [raw_file]
