"""IMDi settlement exports (bosetting av flyktninger): parse the long and wide CSV layouts.

IMDi publishes these figures through imdi.no/imdikator as CSV exports, not through an API: the
files are ISO-8859-1, ``;``-separated, with kommune labels that carry their validity
(``K0702 Holmestrand (t.o.m. 2017)``), ``.`` for missing and ``:`` for suppressed (1–3 persons).

* long layout: ``Enhet;År;Kommunenummer;Kommune;Bosetting;Antall``
* wide layout: three header rows (``Bosetting: …``, ``Enhet: …``, ``År: …``) over
  ``Region;Navn;<value columns>``

:func:`parse_export` detects the layout and returns one tidy frame:
``kode, kommunenavn, aar, serie, enhet, verdi, status``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from boso.errors import DataError
from boso.kommune import normalise_kommunenummer_series, parse_kommunenummer

ENCODING = "iso-8859-1"
LONG_COLUMNS = ["Enhet", "År", "Kommunenummer", "Kommune", "Bosetting", "Antall"]
# IMDi's "." means "no figure" (SSB would write ".."); ":" is suppressed.
SYMBOLS = {".": "..", ":": ":", "..": "..", "-": "-"}
_VALIDITY = re.compile(r"\s*\((?:t\.o\.m\.|f\.o\.m\.)[^)]*\)\s*$")

#: Where the exports are downloaded from online; IMDi has no stable API, so the URL of the
#: export is configurable (environment variable BOSO_IMDI_URL) rather than guessed.
DEFAULT_FILE = "imdi_bosetting_anmodning_vedtak_faktisk_1995-2023_long.csv"


def _decode(content: bytes, name: str) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode(ENCODING)
    # Valid UTF-8 that still contains Latin-1 mojibake is unlikely; accept it.
    return text


def _values(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    text = raw.fillna("").astype(str).str.strip()
    status = text.map(SYMBOLS).fillna("")
    empty = text == ""
    status = status.where(~empty, "..")
    numeric = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    bad = numeric.isna() & (status == "")
    if bad.any():
        first = text[bad].iloc[0]
        raise DataError(f"uventet verdi {first!r} (ventet et tall, '.' eller ':')")
    return numeric.to_numpy(dtype=float), status.to_numpy(dtype=object)


def clean_name(label: str) -> str:
    """``Holmestrand (t.o.m. 2017)`` → ``Holmestrand``."""
    return _VALIDITY.sub("", str(label)).strip()


def parse_long(text: str, name: str = "IMDi-eksport") -> pd.DataFrame:
    """Parse the long layout."""
    frame = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False)
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{name}: mangler kolonnene {missing}; fant {list(frame.columns)}")
    lines = sum(1 for line in text.splitlines()[1:] if line.strip())
    if len(frame) != lines:
        # A stray quote makes the CSV reader swallow line ends: fewer rows than lines.
        raise DataError(f'{name}: {lines} datalinjer, men {len(frame)} rader lest (tegn som ")')
    years = pd.to_numeric(frame["År"], errors="coerce")
    if years.isna().any():
        row = int(np.flatnonzero(years.isna())[0]) + 2
        raise DataError(f"{name}, rad {row}: År er ikke et årstall: {frame['År'].iloc[row - 2]!r}")
    try:
        values, status = _values(frame["Antall"])
    except DataError as exc:
        raise DataError(f"{name}, kolonne Antall: {exc}") from exc
    codes = normalise_kommunenummer_series(frame["Kommunenummer"], allow_prefix=True)
    return pd.DataFrame(
        {
            "kode": codes,
            "kommunenavn": frame["Kommune"].map(clean_name),
            "aar": years.astype(int),
            "serie": frame["Bosetting"].str.strip(),
            "enhet": frame["Enhet"].str.strip(),
            "verdi": values,
            "status": status,
        }
    )


def parse_wide(text: str, name: str = "IMDi-eksport") -> pd.DataFrame:
    """Parse the wide layout with three header rows."""
    lines = text.splitlines()
    if len(lines) < 4:
        raise DataError(f"{name}: bredt format krever tre overskriftsrader og data")
    headers = [line.split(";") for line in lines[:3]]
    width = len(headers[0])
    if any(len(h) != width for h in headers):
        raise DataError(f"{name}: de tre overskriftsradene har ulikt antall kolonner")
    body = pd.read_csv(
        io.StringIO("\n".join(lines[3:])),
        sep=";",
        header=None,
        dtype=str,
        keep_default_na=False,
        names=range(width),
    )

    def strip_prefix(cell: str, prefix: str) -> str:
        return cell.split(":", 1)[1].strip() if cell.startswith(prefix) else cell.strip()

    parts = []
    for column in range(2, width):
        serie = strip_prefix(headers[0][column], "Bosetting")
        enhet = strip_prefix(headers[1][column], "Enhet")
        year_text = strip_prefix(headers[2][column], "År")
        if not year_text.isdigit():
            raise DataError(
                f"{name}: overskriftskolonne {column + 1} har ikke noe årstall: {year_text!r}"
            )
        try:
            values, status = _values(body[column])
        except DataError as exc:
            raise DataError(f"{name}, kolonne {column + 1}: {exc}") from exc
        parts.append(
            pd.DataFrame(
                {
                    "kode": normalise_kommunenummer_series(body[0], allow_prefix=True),
                    "kommunenavn": body[1].map(clean_name),
                    "aar": int(year_text),
                    "serie": serie,
                    "enhet": enhet,
                    "verdi": values,
                    "status": status,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _lines(text: str) -> tuple[list[str], bool]:
    """The file's lines without line ends, and whether the last one had a line end."""
    terminated = text.endswith(("\n", "\r"))
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
        terminated = True
    return lines, terminated


def check_complete(text: str, name: str = "IMDi-eksport") -> None:
    """Refuse an export that was cut off: the checks that need no earlier copy of the file.

    * every data line has as many ``;``-fields as the header (a line cut mid-way has fewer);
    * the long layout's last line ends with a line end, as IMDi's exports do (a file cut in
      the middle of the last number would otherwise pass with a wrong value: 1 130 → 1);
    * the long layout's last (Enhet, År) block does not stop early: it is sorted by
      Kommunenummer, so a block that ends before kommuner the previous year had after it, or
      whose last kommune lacks a series nearly every other kommune has, was cut;
    * the long layout holds more than one (Enhet, År) block: the first block has nothing to be
      compared with, so only the start of the next one shows that it is whole (a file cut at
      a line end inside its first year would otherwise pass without the kommuner after the
      cut). IMDi's exports hold every year for both units.

    Args:
        text: The decoded export.
        name: File name for error messages.

    Raises:
        DataError: ``<name>, linje N: …`` naming the first line that shows the damage.
    """
    lines, terminated = _lines(text)
    if not lines:
        raise DataError(f"{name}: filen er tom")
    header = lines[0].lstrip("\ufeff")
    width = header.count(";") + 1
    long_layout = header.startswith("Enhet;")
    first_data = 4 if header.startswith("Region;") else 2
    for number, line in enumerate(lines[first_data - 1 :], start=first_data):
        fields = line.count(";") + 1
        if fields != width:
            where = "siste linje" if number == len(lines) else "linjen"
            raise DataError(
                f"{name}, linje {number}: {fields} felt, ventet {width} "
                f"({where} er avkortet eller ødelagt)"
            )
    if not long_layout:
        return
    if len(lines) < 2:
        raise DataError(
            f"{name}, linje 1: bare overskriften, ingen datalinjer – eksporten er avkortet"
        )
    if not terminated:
        raise DataError(
            f"{name}, linje {len(lines)}: siste linje slutter uten linjeskift – "
            "eksporten er avkortet (siste tall kan være kuttet)"
        )
    _check_last_block(lines, name)
    _check_more_than_one_block(lines, name)


def _check_more_than_one_block(lines: list[str], name: str) -> None:
    columns = lines[0].lstrip("\ufeff").split(";")
    if "Enhet" not in columns or "År" not in columns:
        return  # parse_long names the missing columns
    enhet, aar = columns.index("Enhet"), columns.index("År")

    def block(line: str) -> tuple[str, str]:
        fields = line.split(";")
        return fields[enhet].strip(), fields[aar].strip()

    first = block(lines[1])
    if all(block(line) == first for line in lines[2:]):
        raise DataError(
            f"{name}, linje {len(lines)}: eksporten har bare én blokk ({first[0]} {first[1]}), "
            "så det kan ikke sees om den er avkortet inne i blokken; eksporter alle år fra "
            "imdikator"
        )


def _check_last_block(lines: list[str], name: str) -> None:
    columns = lines[0].lstrip("\ufeff").split(";")
    try:
        at = {c: columns.index(c) for c in ("Enhet", "År", "Kommunenummer", "Bosetting")}
    except ValueError:
        return  # parse_long names the missing columns
    last = lines[-1].split(";")
    enhet, year_text = last[at["Enhet"]].strip(), last[at["År"]].strip()
    if not year_text.isdigit():
        return
    prev_year = str(int(year_text) - 1)
    # Only the last year's and the year before's rows matter; a substring test is cheap.
    rows = [
        line.split(";")
        for line in lines[1:]
        if f";{year_text};" in f";{line};" or f";{prev_year};" in f";{line};"
    ]

    def code(row: list[str]) -> str:
        # As parse_long reads it; a malformed code stays as written for parse_export to name.
        try:
            return parse_kommunenummer(row[at["Kommunenummer"]], allow_prefix=True)
        except DataError:
            return row[at["Kommunenummer"]].strip()

    block: dict[str, set[str]] = {}
    previous: set[str] = set()
    other: set[str] = set()
    for row in rows:
        row_enhet, row_year = row[at["Enhet"]].strip(), row[at["År"]].strip()
        if row_enhet == enhet and row_year == year_text:
            block.setdefault(code(row), set()).add(row[at["Bosetting"]].strip())
        elif row_enhet == enhet and row_year == prev_year:
            previous.add(code(row))
        elif row_year == year_text:
            other.add(code(row))
    reference = previous or other
    kommuner = sorted(c for c in block if c != "9999")
    if not kommuner or len(reference) < 10:
        return
    after = sorted(c for c in reference if c > kommuner[-1] and c != "9999")
    if after:
        ref_name = f"{enhet} {prev_year}" if previous else f"{year_text} (annen enhet)"
        raise DataError(
            f"{name}, linje {len(lines)}: blokken {enhet} {year_text} slutter ved kommune "
            f"{kommuner[-1]}, men {ref_name} har {len(after)} kommune(r) etter den "
            f"(f.eks. {after[0]}) – eksporten er avkortet"
        )
    last_code = code(last)
    if len(block) >= 10:
        counts: dict[str, int] = {}
        for series in block.values():
            for serie in series:
                counts[serie] = counts.get(serie, 0) + 1
        usual = {s for s, n in counts.items() if n >= 0.9 * len(block)}
        lacking = sorted(usual - block.get(last_code, set()))
        if lacking:
            raise DataError(
                f"{name}, linje {len(lines)}: siste kommune {last_code} i {enhet} {year_text} "
                f"mangler {', '.join(lacking)}, som nesten alle andre har – eksporten er avkortet"
            )


def coverage(frame: pd.DataFrame) -> set[tuple[str, int, str, str]]:
    """``(kode, aar, serie, enhet)`` of every row of a parsed export (see :func:`parse_export`)."""
    # tolist() first: iterating Arrow-backed string columns element by element is slow.
    return set(
        zip(
            frame["kode"].tolist(),
            frame["aar"].astype(int).tolist(),
            frame["serie"].tolist(),
            frame["enhet"].tolist(),
            strict=True,
        )
    )


def check_replaces(
    old: bytes, new: bytes, name: str = "IMDi-eksport", *, parsed: pd.DataFrame | None = None
) -> None:
    """Refuse a new export that covers less than the stored one it would replace.

    Args:
        old: The stored export's bytes.
        new: The downloaded export's bytes.
        name: File name for error messages.
        parsed: ``parse_export(new)`` when the caller has it already.

    Raises:
        DataError: The new file is a cut copy of the old one, or lacks kommune × år × serie
            combinations the old one has.
    """
    if len(new) < len(old) and old.startswith(new):
        raise DataError(
            f"{name}: ny eksport er de første {len(new)} av {len(old)} byte av den lagrede – "
            "avkortet; den lagrede beholdes"
        )
    try:
        old_frame = parse_export(old, name)
    except DataError:
        return  # nothing trustworthy to compare with
    before = coverage(old_frame)
    fresh = parse_export(new, name) if parsed is None else parsed
    lost = before - coverage(fresh)
    if not lost:
        # A number that becomes "no figure" is lost as well (e.g. the last value of a cut file).
        emptied = coverage(old_frame.loc[old_frame["verdi"].notna()]) - coverage(
            fresh.loc[fresh["verdi"].notna() | (fresh["status"] == ":")]
        )
        if emptied:
            kode, aar, serie, enhet = sorted(emptied)[0]
            raise DataError(
                f"{name}: ny eksport har ikke lenger tall for {len(emptied)} kommune×år som "
                f"den lagrede har tall for (f.eks. {kode} {aar} {serie}, {enhet}) – den "
                "lagrede beholdes"
            )
    if lost:
        kode, aar, serie, enhet = sorted(lost)[0]
        raise DataError(
            f"{name}: ny eksport mangler {len(lost)} kommune×år som den lagrede har "
            f"(f.eks. {kode} {aar} {serie}, {enhet}) – den lagrede beholdes"
        )


def parse_export(content: bytes, name: str = "IMDi-eksport") -> pd.DataFrame:
    """Parse an IMDi settlement export in either layout.

    Args:
        content: The file's bytes (ISO-8859-1 or UTF-8).
        name: File name for error messages.

    Returns:
        ``kode, kommunenavn, aar, serie, enhet, verdi, status`` (``status`` uses SSB's symbols:
        IMDi's ``.`` becomes ``..``).

    Raises:
        DataError: The file is not an IMDi export in a known layout.
    """
    text = _decode(content, name)
    first = text.split("\n", 1)[0].strip().lstrip("\ufeff")
    if first.startswith("Enhet;"):
        check_complete(text, name)
        frame = parse_long(text, name)
    elif first.startswith("Region;") and text.count("\n") >= 3:
        check_complete(text, name)
        frame = parse_wide(text, name)
    else:
        raise DataError(f"{name}: ikke en IMDi-eksport (første linje {first[:60]!r})")
    valid = frame["kode"].str.fullmatch(r"\d{4}")
    if not valid.all():
        bad = frame.loc[~valid, "kode"].iloc[0]
        raise DataError(f"{name}: ukjent kommunenummer {bad!r}")
    return frame.loc[frame["kode"] != "9999"].reset_index(drop=True)


def imdi_client(session=None):  # noqa: ANN001, ANN201 - keeps requests an optional import
    """An :class:`~boso.sources.http.HttpClient` for IMDi: SSB's retry, backoff and rate rules.

    IMDi's host gets its own limiter (30 requests per 60 s): its budget is not SSB's.
    """
    from boso.sources.http import HttpClient, RateLimiter

    return HttpClient(session, limiter=RateLimiter(30, 60.0), timeout=60.0)


def _check_body(response) -> None:  # noqa: ANN001
    """``check`` for the download: a cut export is a transfer problem, retried like a 5xx."""
    from boso.sources.http import IncompleteBodyError

    name = Path(str(response.url).split("?", 1)[0]).name or DEFAULT_FILE
    try:
        text = _decode(response.content, name)
    except UnicodeDecodeError:
        return  # parse_export reports it; retrying will not fix an encoding
    first = text.split("\n", 1)[0].strip().lstrip("\ufeff")
    if not first.startswith(("Enhet;", "Region;")):
        return  # not an export at all: parse_export says so, without retrying
    try:
        check_complete(text, name)
    except DataError as exc:
        raise IncompleteBodyError(f"IMDi-eksporten er ufullstendig: {exc}") from None


def fetch(store, url: str | None = None, *, session=None, client=None):  # noqa: ANN001, ANN201
    """Download an IMDi export (URL from ``url`` or ``$BOSO_IMDI_URL``) into ``data/raw/imdi``.

    IMDi has no stable API for these figures: export the table from imdikator and give its URL.
    The download gets the same retries as SSB's (429/5xx, timeouts, dropped connections, a
    body shorter than its ``Content-Length`` or cut mid-line). The answer is parsed and
    compared with the stored export before anything is written: a file that covers fewer
    kommune × år than the one it would replace is refused and the stored one stays.

    Args:
        store: The raw store.
        url: The export's URL (default ``$BOSO_IMDI_URL``).
        session: A ``requests.Session`` for the default client (tests).
        client: The HTTP client (default :func:`imdi_client`).

    Raises:
        FetchError: No URL, the download failed after retries, or the export is incomplete.
    """
    import os

    from boso.errors import FetchError

    url = url or os.environ.get("BOSO_IMDI_URL")
    if not url:
        raise FetchError(
            "IMDi: ingen eksport-URL (sett BOSO_IMDI_URL til imdikator-eksporten (CSV) av "
            "'Bosetting: anmodning, vedtak, faktisk bosetting')"
        )
    client = client or imdi_client(session)
    response = client.get(url, check=_check_body)
    content = response.content
    name = Path(url.split("?", 1)[0]).name or DEFAULT_FILE
    if not name.endswith(".csv"):
        name = DEFAULT_FILE

    def validate(data: bytes) -> None:
        try:
            parsed = parse_export(data, name)
            if store.exists("imdi", name):
                check_replaces(store.get("imdi", name).read_bytes(), data, name, parsed=parsed)
        except DataError as exc:
            raise FetchError(f"IMDi {url}: {exc}") from None

    return store.write("imdi", name, content, url=url, validate=validate, extra={"format": "csv"})
