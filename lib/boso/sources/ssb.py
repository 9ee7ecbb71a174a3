"""SSB Statbank: PxWebApi v2 (JSON-stat2), with the older v0 API as fallback.

Flow of :func:`fetch_table`:

1. Read the table's metadata (``GET {v2}/tables/{id}/metadata?lang=no``; the v0 metadata when
   v2 does not know the table or is down) and validate every requested variable, code,
   codelist and ``outputValues`` against it, so a typo fails with a list of what exists
   instead of an opaque HTTP 400.
2. Resolve value expressions (``*``, ``?``/``*`` masks, ``top(n)``, ``bottom(n)``,
   ``range(a,b)``, ``from(x)``, ``to(x)``) to codes locally, to count cells.
3. Split the query so that no request exceeds 800 000 cells (along the variable with most
   selected codes, recursively), send each part by GET, or by POST when the URL would pass
   ~2 100 characters, and merge the parts back into one JSON-stat2 dataset in category order.
4. Validate the result and store it under ``data/raw/ssb/<table>.json`` with provenance. A bad
   or truncated response raises before anything is written, so a good earlier file stays.

If a v2 data request fails with 404/410 or is still unavailable after retries, the same
(validated) query is sent to v0 (``POST https://data.ssb.no/api/v0/no/table/{id}/``).
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from boso.errors import DataError, FetchError, QueryError
from boso.jsonstat import check_jsonstat, merge_jsonstat
from boso.raw import RawFile, RawStore
from boso.sources.http import GaveUpError, HttpClient, HttpStatusError, expect_json, response_json

V2_BASE = "https://data.ssb.no/api/pxwebapi/v2"
V0_BASE = "https://data.ssb.no/api/v0/no/table"
LANG = "no"
MAX_CELLS = 800_000
# SSB answers 404 to GET URLs longer than about 2 100 characters; stay below with a margin.
MAX_GET_URL = 2_000
OUTPUT_VALUES = ("aggregated", "single")
STATUS_SYMBOLS = ("..", ".", ":", "-")

_TABLE_ID = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_FUNC = re.compile(r"^\s*(top|bottom|range|from|to)\s*\((.*)\)\s*$", re.IGNORECASE)
# v2 statuses after which the v0 API is worth a try: "not here" and "gone".
_FALLBACK_STATUSES = frozenset({404, 410, 501})

Selection = Mapping[str, Sequence[str] | str]


class TableNotFoundError(QueryError):
    """Neither API knows the table (e.g. SSB has replaced it by a successor)."""


# --------------------------------------------------------------------------------------------
# Metadata


@dataclass(frozen=True)
class Variable:
    """One variable (dimension) of a Statbank table as its metadata describes it.

    Attributes:
        code: Variable code, e.g. ``"KOKkommuneregion0000"``.
        label: Its label (Norwegian).
        codes: Value codes in the table's order.
        elimination: Whether the variable may be left out of a query (then summed/eliminated).
        codelists: Codelist id -> type (``Aggregation``/``Valueset``); empty when unknown.
        time: Whether this is the time variable.
    """

    code: str
    label: str
    codes: tuple[str, ...]
    elimination: bool
    codelists: dict[str, str] = field(default_factory=dict)
    time: bool = False


@dataclass(frozen=True)
class TableMetadata:
    """What a table offers: its variables in order, and which API described it."""

    table_id: str
    label: str
    variables: dict[str, Variable]
    updated: str | None = None
    api: str = "v2"

    def variable(self, code: str) -> Variable:
        """Return variable ``code`` or raise :class:`QueryError` listing the variables."""
        try:
            return self.variables[code]
        except KeyError:
            raise QueryError(
                f"tabell {self.table_id} har ingen variabel {code!r}; "
                f"variabler: {', '.join(self.variables)}"
            ) from None


def parse_metadata(doc: Any, table_id: str) -> TableMetadata:
    """Read a PxWebApi v2 metadata document (JSON-stat2 ``dataset`` without values).

    Args:
        doc: The parsed JSON.
        table_id: For error messages.

    Returns:
        The table's variables.

    Raises:
        FetchError: The document lacks ``id``/``dimension`` or a dimension lacks categories.
    """
    where = f"metadata for SSB-tabell {table_id}"
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), list):
        raise FetchError(f"{where}: ikke et JSON-stat2-metadatadokument (mangler listen 'id')")
    dims = doc.get("dimension")
    if not isinstance(dims, dict):
        raise FetchError(f"{where}: mangler objektet 'dimension'")
    time_vars = set((doc.get("role") or {}).get("time") or [])
    variables: dict[str, Variable] = {}
    for code in doc["id"]:
        dim = dims.get(code)
        if not isinstance(dim, dict) or not isinstance(dim.get("category"), dict):
            raise FetchError(f"{where}: dimensjon {code!r} mangler eller er uten 'category'")
        codes = _category_codes(dim["category"], f"{where}, dimensjon {code!r}")
        ext = dim.get("extension") or {}
        codelists = {
            str(cl["id"]): str(cl.get("type", ""))
            for cl in ext.get("codelists") or []
            if isinstance(cl, dict) and "id" in cl
        }
        variables[code] = Variable(
            code=code,
            label=str(dim.get("label", code)),
            codes=tuple(codes),
            elimination=bool(ext.get("elimination", False)),
            codelists=codelists,
            time=code in time_vars,
        )
    return TableMetadata(table_id, str(doc.get("label", "")), variables, doc.get("updated"))


def parse_v0_metadata(doc: Any, table_id: str) -> TableMetadata:
    """Read the v0 API's metadata (``{"title", "variables": [{code, values, ...}]}``)."""
    where = f"v0-metadata for SSB-tabell {table_id}"
    if not isinstance(doc, dict) or not isinstance(doc.get("variables"), list):
        raise FetchError(f"{where}: mangler listen 'variables'")
    variables: dict[str, Variable] = {}
    for var in doc["variables"]:
        ok = isinstance(var, dict) and "code" in var and isinstance(var.get("values"), list)
        if not ok:
            raise FetchError(f"{where}: en variabel mangler 'code' eller 'values'")
        variables[var["code"]] = Variable(
            code=var["code"],
            label=str(var.get("text", var["code"])),
            codes=tuple(str(v) for v in var["values"]),
            elimination=bool(var.get("elimination", False)),
            time=bool(var.get("time", False)),
        )
    return TableMetadata(table_id, str(doc.get("title", "")), variables, None, api="v0")


def _category_codes(category: dict[str, Any], where: str) -> list[str]:
    index = category.get("index")
    if isinstance(index, dict):
        return [code for code, _ in sorted(index.items(), key=lambda item: item[1])]
    if isinstance(index, list):
        return [str(code) for code in index]
    labels = category.get("label")
    if isinstance(labels, dict) and len(labels) == 1:
        # JSON-stat allows a single category without index.
        return list(labels)
    raise FetchError(f"{where}: category mangler 'index'")


def get_metadata(
    table_id: str,
    client: HttpClient,
    *,
    base: str = V2_BASE,
    v0_base: str = V0_BASE,
) -> TableMetadata:
    """Fetch a table's metadata from v2, or from v0 when v2 does not have it or is down.

    Raises:
        QueryError: Neither API knows the table (or the id is malformed).
        FetchError: The services could not be reached.
    """
    check_table_id(table_id)
    url = f"{base}/tables/{table_id}/metadata?lang={LANG}"
    try:
        return parse_metadata(_json(client.get(url, check=expect_json), url), table_id)
    except HttpStatusError as exc:
        # v2 says "unknown table" as HTTP 400 with a problem body whose status is 404.
        if exc.status not in _FALLBACK_STATUSES and exc.status != 400:
            raise
        v2_problem = f"v2: HTTP {exc.status}" + (f" {exc.title}" if exc.title else "")
    except GaveUpError as exc:
        if exc.unreachable:
            raise  # v0 lives on the same host; no point in waiting for it too
        v2_problem = f"v2: {exc}"
    v0_url = f"{v0_base}/{table_id}/"
    try:
        return parse_v0_metadata(_json(client.get(v0_url, check=expect_json), v0_url), table_id)
    except HttpStatusError as exc:
        if exc.status in (400, 404, 410) and not exc.html:
            raise TableNotFoundError(
                f"SSB-tabell {table_id!r} ikke funnet ({v2_problem}; v0: HTTP {exc.status})"
            ) from None
        raise FetchError(f"SSB-tabell {table_id}: ingen metadata ({v2_problem}; {exc})") from exc
    except GaveUpError as exc:
        raise FetchError(f"SSB-tabell {table_id}: ingen metadata ({v2_problem}; {exc})") from exc


def get_codelist(codelist_id: str, client: HttpClient, *, base: str = V2_BASE) -> dict[str, Any]:
    """Fetch a v2 codelist (``GET {base}/codelists/{id}``): its ``values`` with ``valueMap``.

    Raises:
        QueryError: SSB does not know the codelist.
        FetchError: Unreachable, or the answer has no ``values`` list.
    """
    url = f"{base}/codelists/{urllib.parse.quote(codelist_id, safe='')}?lang={LANG}"
    try:
        doc = _json(client.get(url, check=expect_json), url)
    except HttpStatusError as exc:
        if exc.not_found:
            raise QueryError(f"SSB-kodeliste {codelist_id!r} ikke funnet") from None
        raise
    if not isinstance(doc, dict) or not isinstance(doc.get("values"), list):
        raise FetchError(f"{url}: svaret med kodelisten mangler listen 'values'")
    return doc


def check_table_id(table_id: str) -> str:
    """Return ``table_id`` if it can be put in a URL as is, else raise :class:`QueryError`."""
    if not isinstance(table_id, str) or not _TABLE_ID.match(table_id):
        raise QueryError(f"ugyldig SSB-tabellnummer {table_id!r} (bare bokstaver, sifre og _)")
    return table_id


# --------------------------------------------------------------------------------------------
# Query: validation, value expressions, cell counting


@dataclass
class VariableQuery:
    """The selection for one variable.

    Attributes:
        code: Variable code.
        expressions: What to send (as the user wrote it, or explicit codes for a split part).
        codes: The codes it resolves to, in table/codelist order; None if unknown (v0 with a
            codelist whose values are not listed).
        codelist: Codelist id or None.
        output_values: ``aggregated``/``single`` or None.
        result_count: Categories this selection yields in the response (differs from
            ``len(codes)`` for ``outputValues=single``).
    """

    code: str
    expressions: list[str]
    codes: list[str] | None
    codelist: str | None = None
    output_values: str | None = None
    result_count: int = 1

    def with_codes(self, codes: list[str], result_count: int) -> VariableQuery:
        return VariableQuery(
            self.code, list(codes), list(codes), self.codelist, self.output_values, result_count
        )


@dataclass
class TableQuery:
    """A validated query for one table."""

    table_id: str
    variables: list[VariableQuery]
    api: str = "v2"
    # For outputValues=single: group code -> member codes (to count response categories).
    value_maps: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # Variables that cannot be eliminated, were not selected and so were given "*".
    auto_selected: list[str] = field(default_factory=list)

    @property
    def cells(self) -> int:
        """Cells the response holds: the product of the selected counts."""
        return math.prod(v.result_count for v in self.variables)

    def replace(self, var: VariableQuery) -> TableQuery:
        return TableQuery(
            self.table_id,
            [var if v.code == var.code else v for v in self.variables],
            self.api,
            self.value_maps,
            self.auto_selected,
        )


def resolve_expressions(
    expressions: Sequence[str] | str,
    codes: Sequence[str],
    *,
    time: bool = False,
    where: str = "",
) -> list[str]:
    """Resolve PxWebApi value expressions to codes, in ``codes`` order.

    Supports ``*`` (all), masks with ``*``/``?``, ``top(n[,offset])``, ``bottom(n[,offset])``,
    ``range(a,b)``, ``from(x)``, ``to(x)`` and literal codes. ``top`` takes the latest values
    of a time variable (the end of the list) and the first values otherwise.

    Args:
        expressions: One expression or a list.
        codes: The variable's codes in order.
        time: Whether the variable is the time variable (for ``top``/``bottom``).
        where: Prefix for error messages (``"tabell 12008, variabel 'Tid'"``).

    Returns:
        The selected codes, without duplicates, in ``codes`` order.

    Raises:
        QueryError: An unknown code, an empty match, or a malformed expression.
    """
    if isinstance(expressions, str):
        expressions = [expressions]
    if not expressions:
        raise QueryError(f"{where}: tomt utvalg")
    position = {code: i for i, code in enumerate(codes)}
    chosen: set[str] = set()
    unknown: list[str] = []
    for raw in expressions:
        expr = str(raw).strip()
        if expr.startswith("[") and expr.endswith("]"):
            expr = expr[1:-1].strip()  # the GET form of an expression with a comma
        func = _FUNC.match(expr)
        if expr == "*":
            chosen.update(codes)
        elif func:
            chosen.update(
                _resolve_function(
                    func.group(1).lower(), func.group(2), codes, position, time, where
                )
            )
        elif "*" in expr or "?" in expr:
            matched = [c for c in codes if fnmatch.fnmatchcase(c, expr)]
            if not matched:
                raise QueryError(
                    f"{where}: masken {expr!r} passer ikke med noen kode; {_list_codes(codes)}"
                )
            chosen.update(matched)
        elif expr in position:
            chosen.add(expr)
        else:
            unknown.append(expr)
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        raise QueryError(f"{where}: ukjent(e) kode(r) {names}; {_list_codes(codes)}")
    return sorted(chosen, key=position.__getitem__)


def _resolve_function(
    name: str,
    args_text: str,
    codes: Sequence[str],
    position: dict[str, int],
    time: bool,
    where: str,
) -> list[str]:
    args = [a.strip().strip("'\"") for a in args_text.split(",")] if args_text.strip() else []
    if name in ("top", "bottom"):
        if not 1 <= len(args) <= 2 or not all(a.isdigit() for a in args):
            raise QueryError(
                f"{where}: {name}() trenger et antall (og en forskyvning): {name}({args_text})"
            )
        count = int(args[0])
        offset = int(args[1]) if len(args) == 2 else 0
        ordered = list(codes)
        # "top" means the latest periods for time, the first values otherwise.
        if (name == "top") == time:
            ordered.reverse()
        return ordered[offset : offset + count]
    if name == "range":
        if len(args) != 2:
            raise QueryError(f"{where}: range() trenger to koder: range({args_text})")
        lo, hi = (_position(a, position, codes, where) for a in args)
        return list(codes[min(lo, hi) : max(lo, hi) + 1])
    if len(args) != 1:
        raise QueryError(f"{where}: {name}() trenger én kode: {name}({args_text})")
    at = _position(args[0], position, codes, where)
    return list(codes[at:]) if name == "from" else list(codes[: at + 1])


def _position(code: str, position: dict[str, int], codes: Sequence[str], where: str) -> int:
    try:
        return position[code]
    except KeyError:
        raise QueryError(f"{where}: ukjent kode {code!r}; {_list_codes(codes)}") from None


def _list_codes(codes: Sequence[str]) -> str:
    if len(codes) <= 20:
        return f"koder: {', '.join(codes)}"
    return f"koder ({len(codes)}): {', '.join(codes[:10])}, …, {', '.join(codes[-3:])}"


def build_query(
    meta: TableMetadata,
    selection: Selection,
    codelists: Mapping[str, str] | None = None,
    output_values: Mapping[str, str] | None = None,
    *,
    client: HttpClient | None = None,
    base: str = V2_BASE,
) -> TableQuery:
    """Validate a selection against the metadata and resolve it to codes.

    Args:
        meta: The table's metadata.
        selection: Variable -> value expressions (a string or a list).
        codelists: Variable -> codelist id (``agg_KommSummer``, ``vs_Kommun``…).
        output_values: Variable -> ``aggregated`` or ``single`` (with an aggregation codelist).
        client: Used to read codelists' values (v2); without it codelist codes are not checked.
        base: v2 base URL.

    Returns:
        The validated query.

    A variable that the table cannot eliminate and that ``selection`` leaves out is selected
    whole (``*``) and listed in ``TableQuery.auto_selected``; eliminable ones left out are
    not sent, so SSB sums them.

    Raises:
        QueryError: Unknown variable, code, codelist or outputValues.
    """
    codelists = dict(codelists or {})
    output_values = dict(output_values or {})
    tid = meta.table_id
    for var in [*selection, *codelists, *output_values]:
        meta.variable(var)
    for var, how in output_values.items():
        if how not in OUTPUT_VALUES:
            raise QueryError(
                f"tabell {tid}, variabel {var!r}: outputValues må være en av "
                f"{', '.join(OUTPUT_VALUES)}, ikke {how!r}"
            )
        if var not in codelists:
            raise QueryError(
                f"tabell {tid}, variabel {var!r}: outputValues krever en kodeliste for variabelen"
            )
    query = TableQuery(tid, [], api=meta.api)
    for var_code, expressions in selection.items():
        var = meta.variable(var_code)
        where = f"tabell {tid}, variabel {var_code!r}"
        exprs = [expressions] if isinstance(expressions, str) else [str(e) for e in expressions]
        # SSB answers a repeated value code with HTTP 500, so never send one twice.
        exprs = list(dict.fromkeys(e.strip() for e in exprs))
        codelist = codelists.get(var_code)
        how = output_values.get(var_code)
        codes: list[str] | None
        if codelist:
            if var.codelists and codelist not in var.codelists:
                raise QueryError(
                    f"{where}: ingen kodeliste {codelist!r}; kodelister: "
                    f"{', '.join(var.codelists) or '(ingen)'}"
                )
            codes, result_count = _resolve_codelist(
                query, var, codelist, how, exprs, client, base, where
            )
        else:
            codes = resolve_expressions(exprs, var.codes, time=var.time, where=where)
            result_count = len(codes)
        query.variables.append(VariableQuery(var_code, exprs, codes, codelist, how, result_count))
    for var in meta.variables.values():
        if var.code not in selection and not var.elimination:
            # The API needs a selection for a variable it cannot sum away; take all of it
            # (the build sums unlisted dimensions) and say so in the provenance.
            query.variables.append(
                VariableQuery(var.code, ["*"], list(var.codes), result_count=len(var.codes))
            )
            query.auto_selected.append(var.code)
    return query


def _resolve_codelist(
    query: TableQuery,
    var: Variable,
    codelist: str,
    how: str | None,
    exprs: list[str],
    client: HttpClient | None,
    base: str,
    where: str,
) -> tuple[list[str] | None, int]:
    if client is None or query.api != "v2":
        # Without the codelist's values (v0 has no codelist endpoint) only literal codes can
        # be counted; the server validates the rest.
        literal = all(not _FUNC.match(e) and "*" not in e and "?" not in e for e in exprs)
        codes = list(dict.fromkeys(exprs)) if literal else None
        return codes, len(codes) if codes else len(var.codes)
    doc = get_codelist(codelist, client, base=base)
    values = [v for v in doc["values"] if isinstance(v, dict) and "code" in v]
    list_codes = [str(v["code"]) for v in values]
    codes = resolve_expressions(exprs, list_codes, time=var.time, where=f"{where} ({codelist})")
    if how == "single":
        members = {str(v["code"]): [str(m) for m in v.get("valueMap") or []] for v in values}
        query.value_maps[var.code] = members
        return codes, _single_count(codes, members)
    return codes, len(codes)


def _single_count(codes: Sequence[str], members: Mapping[str, Sequence[str]]) -> int:
    return len({m for code in codes for m in (members.get(code) or [code])}) or len(codes)


# --------------------------------------------------------------------------------------------
# Requests


def v2_data_url(query: TableQuery, *, base: str = V2_BASE, with_codes: bool = True) -> str:
    """The v2 GET URL for ``query`` (``valueCodes``, ``codelist``, ``outputValues`` params)."""
    params = [("lang", LANG), ("outputFormat", "json-stat2")]
    for var in query.variables:
        if with_codes:
            params.append((f"valueCodes[{var.code}]", get_value_codes(var.expressions)))
        if var.codelist:
            params.append((f"codelist[{var.code}]", var.codelist))
        if var.output_values:
            params.append((f"outputValues[{var.code}]", var.output_values))
    return f"{base}/tables/{query.table_id}/data?{_encode(params)}"


def get_value_codes(expressions: Sequence[str]) -> str:
    """Join expressions for a GET ``valueCodes`` parameter.

    A comma separates values there, so an expression that contains one (``range(a,b)``,
    ``top(n,offset)``) is wrapped in square brackets, as PxWebApi v2 requires; unwrapped it
    is split in two and rejected with 400.
    """
    return ",".join(f"[{e}]" if "," in e and not e.startswith("[") else e for e in expressions)


def _encode(params: list[tuple[str, str]]) -> str:
    # Parentheses, commas and masks stay readable; brackets are percent-encoded here because
    # urllib3 would encode them anyway, and the URL's length must be measured as sent.
    safe = "(),*?-_.~"
    return "&".join(
        f"{urllib.parse.quote(k, safe=safe)}={urllib.parse.quote(v, safe=safe)}" for k, v in params
    )


def v2_post_body(query: TableQuery) -> dict[str, Any]:
    """The v2 POST body: ``{"selection": [{variableCode, codelist?, valueCodes}]}``."""
    selection = []
    for var in query.variables:
        item: dict[str, Any] = {"variableCode": var.code, "valueCodes": list(var.expressions)}
        if var.codelist:
            item["codelist"] = var.codelist
        selection.append(item)
    return {"selection": selection}


def v0_body(query: TableQuery) -> dict[str, Any]:
    """The v0 POST body (``{"query": [...], "response": {"format": "json-stat2"}}``).

    v2 codelist ids map to v0 filters: ``agg_X`` -> ``agg:X`` (``agg_single:X`` for
    ``outputValues=single``), ``vs_X`` -> ``vs:X``. Codes are sent explicitly (resolved from
    the metadata), since v0 lacks v2's ``range``/``from``/``to``.
    """
    items = []
    for var in query.variables:
        values = list(var.codes) if var.codes is not None else list(var.expressions)
        if var.codelist:
            kind, _, name = var.codelist.partition("_")
            if kind == "agg":
                filt = f"agg_single:{name}" if var.output_values == "single" else f"agg:{name}"
            elif kind == "vs":
                filt = f"vs:{name}"
            else:
                filt = f"agg:{var.codelist}"
        elif var.codes is None and var.expressions == ["*"]:
            filt, values = "all", ["*"]
        else:
            filt = "item"
        items.append({"code": var.code, "selection": {"filter": filt, "values": values}})
    return {"query": items, "response": {"format": "json-stat2"}}


class _FallbackError(Exception):
    """v2 is not usable for this query; try v0."""


def _send_v2(query: TableQuery, client: HttpClient, base: str) -> tuple[bytes, str]:
    url = v2_data_url(query, base=base)
    post_url = v2_data_url(query, base=base, with_codes=False)
    try:
        if len(url) <= MAX_GET_URL:
            try:
                response = client.get(url, check=expect_json)
            except HttpStatusError as exc:
                if not (exc.html and exc.status in (404, 414)):
                    raise
                # The web server's HTML 404 (or 414) for a GET URL it finds too long says
                # nothing about the table: send the same selection as a POST body instead.
                url = post_url
                response = client.post(url, v2_post_body(query), check=expect_json)
        else:
            url = post_url
            response = client.post(url, v2_post_body(query), check=expect_json)
    except HttpStatusError as exc:
        # An HTML page even for the POST says nothing about the table either: try v0, and
        # never report "unknown table" on its account.
        if exc.html or exc.status in _FALLBACK_STATUSES or exc.not_found:
            raise _FallbackError(str(exc)) from exc
        raise
    except GaveUpError as exc:
        if exc.unreachable:
            raise  # v0 lives on the same host
        raise _FallbackError(str(exc)) from exc
    return response.content, url


def _send_v0(query: TableQuery, client: HttpClient, v0_base: str) -> tuple[bytes, str]:
    url = f"{v0_base}/{query.table_id}/"
    return client.post(url, v0_body(query), check=expect_json).content, url


# --------------------------------------------------------------------------------------------
# JSON-stat2 checks and merging


def check_dataset(doc: Any, where: str) -> dict[str, Any]:
    """Check that ``doc`` is a complete JSON-stat2 dataset, by the reader's own rule.

    The rule lives in :func:`boso.jsonstat.check_jsonstat` (``strict_v2``: one dataset in the
    2.0 layout, as PxWebApi sends it), so what is fetched is exactly what ``build`` can read.

    Raises:
        FetchError: Naming ``where`` and what is wrong (a truncated or invalid response).
    """
    try:
        check_jsonstat(doc, strict_v2=True)
    except DataError as exc:
        raise FetchError(f"{where}: {exc}") from None
    return _int_sizes(doc)


def validate_jsonstat_bytes(content: bytes, where: str) -> dict[str, Any]:
    """Parse and check raw JSON-stat2 bytes (see :func:`check_dataset`)."""
    try:
        doc = check_jsonstat(content, strict_v2=True)
    except DataError as exc:
        raise FetchError(f"{where}: {exc}") from None
    return _int_sizes(doc)


def _int_sizes(doc: dict[str, Any]) -> dict[str, Any]:
    if any(type(size) is not int for size in doc["size"]):
        # The format allows sizes as numeric strings; the client counts cells with them.
        return {**doc, "size": [int(size) for size in doc["size"]]}
    return doc


def _check_matches(doc: dict[str, Any], query: TableQuery, where: str) -> None:
    """The response must carry exactly the categories asked for (guards silent truncation)."""
    for var in query.variables:
        if var.codes is None or var.output_values == "single":
            continue
        if var.code not in doc["id"]:
            raise FetchError(f"{where}: svaret mangler den valgte variabelen {var.code!r}")
        got = _category_codes(doc["dimension"][var.code]["category"], where)
        if set(got) != set(var.codes):
            missing = [c for c in var.codes if c not in set(got)]
            raise FetchError(
                f"{where}: svaret har {len(got)} koder for {var.code!r}, ventet "
                f"{len(var.codes)} (mangler f.eks. {missing[:3]})"
            )


def merge_datasets(
    parts: Sequence[dict[str, Any]], dim: str, order: Sequence[str] | None = None
) -> dict[str, Any]:
    """Concatenate JSON-stat2 datasets that differ only in dimension ``dim``.

    See :func:`boso.jsonstat.merge_jsonstat`, which does the work.

    Raises:
        FetchError: The parts do not fit together (other dimensions differ, or a category
            occurs in two parts), or a part is not a valid dataset.
    """
    try:
        return merge_jsonstat(parts, dim, order)
    except DataError as exc:
        raise FetchError(str(exc)) from None


# --------------------------------------------------------------------------------------------
# Splitting and fetching


def split_query(query: TableQuery, max_cells: int = MAX_CELLS) -> tuple[str, list[TableQuery]]:
    """Split ``query`` once along its largest variable so that parts approach ``max_cells``.

    Returns:
        The variable split along and the parts (each may still be too large when the other
        variables alone exceed ``max_cells``; :func:`fetch_dataset` then splits again).

    Raises:
        QueryError: No variable has more than one known code, so nothing can be split.
    """
    candidates = [v for v in query.variables if v.codes is not None and len(v.codes) > 1]
    if not candidates:
        raise QueryError(
            f"tabell {query.table_id}: spørringen har {query.cells} celler (grense {max_cells}) "
            "og kan ikke deles opp"
        )
    # Prefer variables whose response categories are the requested codes (not outputValues
    # =single, where parts could overlap).
    var = max(candidates, key=lambda v: (v.output_values != "single", v.result_count))
    assert var.codes is not None
    per_code = query.cells / var.result_count
    chunk = max(1, int(max_cells // per_code)) if per_code <= max_cells else 1
    if var.output_values == "single":
        chunk = max(1, int(len(var.codes) * chunk / max(var.result_count, 1)))
    members = query.value_maps.get(var.code, {})
    parts = []
    for start in range(0, len(var.codes), chunk):
        codes = var.codes[start : start + chunk]
        count = _single_count(codes, members) if var.output_values == "single" else len(codes)
        parts.append(query.replace(var.with_codes(codes, count)))
    return var.code, parts


@dataclass
class FetchResult:
    """A fetched dataset and how it was obtained."""

    dataset: dict[str, Any]
    content: bytes
    urls: list[str]
    api: str

    @property
    def requests(self) -> int:
        return len(self.urls)


def fetch_dataset(
    query: TableQuery,
    client: HttpClient,
    *,
    base: str = V2_BASE,
    v0_base: str = V0_BASE,
    max_cells: int = MAX_CELLS,
) -> FetchResult:
    """Fetch ``query`` (split and merged as needed) from v2, falling back to v0.

    Returns:
        The merged dataset, its bytes (exactly as received when one request sufficed), the
        request URLs and the API used.

    Raises:
        FetchError: A response was invalid/truncated, or both APIs failed.
    """
    api = "v0" if query.api == "v0" else "v2"
    if api == "v2":
        try:
            return _fetch_parts(query, client, "v2", base, v0_base, max_cells)
        except _FallbackError as exc:
            v2_problem = str(exc)
    else:
        v2_problem = "tabellen finnes ikke i v2"
    try:
        return _fetch_parts(query, client, "v0", base, v0_base, max_cells)
    except FetchError as exc:
        raise FetchError(
            f"SSB-tabell {query.table_id}: v2 feilet ({v2_problem}) og v0 feilet ({exc})"
        ) from exc


def _fetch_parts(
    query: TableQuery,
    client: HttpClient,
    api: str,
    base: str,
    v0_base: str,
    max_cells: int,
) -> FetchResult:
    if query.cells <= max_cells:
        if api == "v2":
            content, url = _send_v2(query, client, base)
        else:
            content, url = _send_v0(query, client, v0_base)
        where = f"SSB-tabell {query.table_id} ({url[:120]})"
        doc = validate_jsonstat_bytes(content, where)
        _check_matches(doc, query, where)
        return FetchResult(doc, content, [url], api)
    dim, parts = split_query(query, max_cells)
    results = [_fetch_parts(p, client, api, base, v0_base, max_cells) for p in parts]
    whole = next(v for v in query.variables if v.code == dim)
    merged = merge_datasets([r.dataset for r in results], dim, order=_merge_order(query, whole))
    content = json.dumps(merged, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return FetchResult(merged, content, [u for r in results for u in r.urls], api)


def _merge_order(query: TableQuery, var: VariableQuery) -> list[str] | None:
    if var.output_values == "single":
        members = query.value_maps.get(var.code, {})
        order = [m for code in var.codes or [] for m in members.get(code, [code])]
        return list(dict.fromkeys(order))
    return list(var.codes) if var.codes is not None else None


def fetch_table(
    table_id: str,
    selection: Selection,
    codelists: Mapping[str, str] | None = None,
    output_values: Mapping[str, str] | None = None,
    store: RawStore | None = None,
    client: HttpClient | None = None,
    *,
    name: str | None = None,
    base: str = V2_BASE,
    v0_base: str = V0_BASE,
    max_cells: int = MAX_CELLS,
    optional: Mapping[str, Sequence[str] | str] | None = None,
) -> RawFile:
    """Fetch one Statbank table and store it as ``data/raw/ssb/<table>.json``.

    Args:
        table_id: Table id, e.g. ``"12008"``.
        selection: Variable -> value expressions, e.g. ``{"KOKkommuneregion0000": "*",
            "ContentsCode": ["KOSboligSper10000000"], "Tid": "from(2015)"}``.
        codelists: Variable -> codelist id, e.g. ``{"Region": "agg_KommSummer"}``.
        output_values: Variable -> ``aggregated``/``single``.
        store: Raw store (default: the project's).
        client: HTTP client (default: a new one with SSB's rate limit).
        name: File name in ``data/raw/ssb`` (default ``<table_id>.json``).
        base: PxWebApi v2 base URL.
        v0_base: v0 table base URL.
        max_cells: Cell limit per request.
        optional: Variable -> codes (or ``"*"``) added to ``selection`` only where the table
            has them (projection alternatives and age groups that one edition lacks).

    Returns:
        The stored raw file (provenance: url, query, fetched_at, sha256, source_updated).

    Raises:
        QueryError: Unknown table, variable, code, codelist or outputValues.
        FetchError: Download failed or returned an invalid/truncated dataset; the store is
            left as it was.
    """
    client = client or HttpClient()
    store = store or RawStore()
    meta = get_metadata(table_id, client, base=base, v0_base=v0_base)
    if optional:
        selection = with_optional(meta, selection, optional)
    query = build_query(meta, selection, codelists, output_values, client=client, base=base)
    result = fetch_dataset(query, client, base=base, v0_base=v0_base, max_cells=max_cells)
    where = f"SSB-tabell {table_id}"
    canonical_url = (
        v2_data_url(query, base=base) if result.api == "v2" else f"{v0_base}/{table_id}/"
    )
    provenance_query = {
        "table": table_id,
        "selection": {k: ([v] if isinstance(v, str) else list(v)) for k, v in selection.items()},
        "codelist": dict(codelists or {}),
        "output_values": dict(output_values or {}),
        "api": result.api,
    }
    if query.auto_selected:
        provenance_query["auto_selected"] = list(query.auto_selected)
    if result.api == "v0":
        provenance_query["v0_body"] = v0_body(query)
    return store.write(
        "ssb",
        name or f"{table_id}.json",
        result.content,
        url=canonical_url,
        query=provenance_query,
        source_updated=result.dataset.get("updated"),
        synthetic=False,
        validate=lambda content: _validate_for_store(content, where),
        extra={
            "table_id": table_id,
            "format": "json-stat2",
            "requests": result.requests,
            "cells": math.prod(result.dataset["size"]),
        },
    )


def with_optional(
    meta: TableMetadata,
    selection: Selection,
    optional: Mapping[str, Sequence[str] | str],
) -> dict[str, Sequence[str] | str]:
    """``selection`` plus the optional variables and codes that ``meta`` has."""
    merged: dict[str, Sequence[str] | str] = dict(selection)
    for var_code, codes in optional.items():
        var = meta.variables.get(var_code)
        if var is None:
            continue
        if isinstance(codes, str):
            merged.setdefault(var_code, codes)
            continue
        present = [c for c in codes if c in var.codes]
        current = merged.get(var_code)
        if isinstance(current, str) or not present:
            continue
        merged[var_code] = list(dict.fromkeys([*(current or []), *present]))
    return merged


def _validate_for_store(content: bytes, where: str) -> None:
    # The same full check as build's reader: what it cannot read is not stored.
    validate_jsonstat_bytes(content, where)


def _json(response: Any, url: str) -> Any:
    return response_json(response, url)
