"""Errors that boso reports to users as one clear line (the CLI exits non-zero on them)."""

from __future__ import annotations

import errno


class BosoError(Exception):
    """Base class: a problem the user can act on, described in one line.

    In a notebook the error shows as that line alone: IPython asks an exception for
    ``_render_traceback_`` and prints what it returns instead of the traceback, so a researcher
    with a wrong ``kommunenummer`` sees the hint, not five frames of library code.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class DataError(BosoError):
    """Input data is malformed, truncated, wrongly encoded or inconsistent."""


class QueryError(BosoError):
    """A request names a table, variable, code or indicator that does not exist."""


class FetchError(BosoError):
    """A download failed after retries, or its response was incomplete."""


# The json module's syntax messages in bokmål; one table for every reader of JSON.
_JSON_PROBLEMS = (
    ("Expecting value", "ventet en verdi"),
    (
        "Expecting property name enclosed in double quotes",
        "ventet et feltnavn i doble anførselstegn",
    ),
    ("Expecting ',' delimiter", "ventet skilletegnet ','"),
    ("Expecting ':' delimiter", "ventet skilletegnet ':'"),
    ("Unterminated string starting at", "tekst som aldri avsluttes"),
    ("Invalid control character at", "ugyldig kontrolltegn"),
    ("Invalid \\escape", "ugyldig escape-sekvens"),
    ("Extra data", "mer data etter JSON-verdien"),
)


def json_problem_text(msg: str) -> str:
    """The json module's message ``msg`` in bokmål (an unknown one is called a syntax error)."""
    for english, bokmal in _JSON_PROBLEMS:
        if msg.startswith(english):
            return bokmal
    return "syntaksfeil"


def json_problem(exc: ValueError) -> str:
    """Why ``json.loads`` failed, in bokmål with the position: for "<fil>: <this>" messages.

    Args:
        exc: The ``json.JSONDecodeError`` or ``UnicodeDecodeError`` that ``json.loads`` raised.

    Returns:
        E.g. ``ugyldig JSON på linje 1 kolonne 1: ventet en verdi`` or
        ``ikke gyldig UTF-8 (byte 17)``.
    """
    if isinstance(exc, UnicodeDecodeError):
        return f"ikke gyldig UTF-8 (byte {exc.start})"
    lineno, colno = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    problem = json_problem_text(str(getattr(exc, "msg", "")))
    if lineno is None:
        return f"ugyldig JSON: {problem}"
    return f"ugyldig JSON på linje {lineno} kolonne {colno}: {problem}"


# File-system errors in bokmål; one table for the CLI and every module that reports one.
_OS_PROBLEMS = {
    errno.ENOENT: "finnes ikke",
    errno.EACCES: "ingen tilgang",
    errno.EPERM: "ingen tilgang",
    errno.EISDIR: "er en mappe, ikke en fil",
    errno.ENOTDIR: "en del av stien er ikke en mappe",
    errno.ENOSPC: "ikke mer plass på disken",
    errno.EDQUOT: "diskkvoten er brukt opp",
    errno.EROFS: "filsystemet er skrivebeskyttet",
    errno.EEXIST: "finnes allerede",
    errno.ENAMETOOLONG: "navnet er for langt",
    errno.EIO: "lese- eller skrivefeil på disken",
    errno.EMFILE: "for mange åpne filer",
}


def os_problem(exc: OSError) -> str:
    """Why a file operation failed, in bokmål, for "<fil>: ... (<this>)" messages.

    An error number without a translation is named by its symbol (e.g. ``ELOOP``), never by
    the operating system's English text.
    """
    if exc.errno in _OS_PROBLEMS:
        return _OS_PROBLEMS[exc.errno]
    if exc.errno:
        return f"systemfeil {errno.errorcode.get(exc.errno, exc.errno)}"
    return f"systemfeil ({type(exc).__name__})"
