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
        raise DataError(f"unexpected value {first!r} (expected a number, '.' or ':')")
    return numeric.to_numpy(dtype=float), status.to_numpy(dtype=object)


def clean_name(label: str) -> str:
    """``Holmestrand (t.o.m. 2017)`` → ``Holmestrand``."""
    return _VALIDITY.sub("", str(label)).strip()


def parse_long(text: str, name: str = "IMDi export") -> pd.DataFrame:
    """Parse the long layout."""
    frame = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False)
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{name}: missing columns {missing}; found {list(frame.columns)}")
    years = pd.to_numeric(frame["År"], errors="coerce")
    if years.isna().any():
        row = int(np.flatnonzero(years.isna())[0]) + 2
        raise DataError(f"{name}, row {row}: År is not a year: {frame['År'].iloc[row - 2]!r}")
    try:
        values, status = _values(frame["Antall"])
    except DataError as exc:
        raise DataError(f"{name}, column Antall: {exc}") from exc
    codes = frame["Kommunenummer"].str.strip().str.lstrip("K").str.zfill(4)
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


def parse_wide(text: str, name: str = "IMDi export") -> pd.DataFrame:
    """Parse the wide layout with three header rows."""
    lines = text.splitlines()
    if len(lines) < 4:
        raise DataError(f"{name}: wide layout needs three header rows and data")
    headers = [line.split(";") for line in lines[:3]]
    width = len(headers[0])
    if any(len(h) != width for h in headers):
        raise DataError(f"{name}: the three header rows have different numbers of columns")
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
            raise DataError(f"{name}: header column {column + 1} has no year: {year_text!r}")
        try:
            values, status = _values(body[column])
        except DataError as exc:
            raise DataError(f"{name}, column {column + 1}: {exc}") from exc
        parts.append(
            pd.DataFrame(
                {
                    "kode": body[0].str.strip().str.lstrip("K").str.zfill(4),
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


def parse_export(content: bytes, name: str = "IMDi export") -> pd.DataFrame:
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
        frame = parse_long(text, name)
    elif first.startswith("Region;") and text.count("\n") >= 3:
        frame = parse_wide(text, name)
    else:
        raise DataError(f"{name}: not an IMDi export (first line {first[:60]!r})")
    valid = frame["kode"].str.fullmatch(r"\d{4}")
    if not valid.all():
        bad = frame.loc[~valid, "kode"].iloc[0]
        raise DataError(f"{name}: unexpected Kommunenummer {bad!r}")
    return frame.loc[frame["kode"] != "9999"].reset_index(drop=True)


def fetch(store, url: str | None = None, *, session=None):  # noqa: ANN001 - optional deps
    """Download an IMDi export (URL from ``url`` or ``$BOSO_IMDI_URL``) into ``data/raw/imdi``.

    IMDi has no stable API for these figures: export the table from imdikator and give its URL.
    The response is parsed before it is stored, so a broken download never replaces a good file.
    """
    import os

    from boso.errors import FetchError

    url = url or os.environ.get("BOSO_IMDI_URL")
    if not url:
        raise FetchError(
            "IMDi: no export URL (set BOSO_IMDI_URL to the imdikator CSV export of "
            "'Bosetting: anmodning, vedtak, faktisk bosetting')"
        )
    from boso.sources.http import default_session

    session = session or default_session()
    response = session.get(url, timeout=60)
    if response.status_code != 200:
        raise FetchError(f"IMDi: {url} answered HTTP {response.status_code}")
    content = response.content
    name = Path(url.split("?", 1)[0]).name or DEFAULT_FILE
    if not name.endswith(".csv"):
        name = DEFAULT_FILE
    return store.write(
        "imdi",
        name,
        content,
        url=url,
        validate=lambda data: parse_export(data, name),
    )
