"""Family ``jsonstat``: broken JSON-stat files, as a download or a hand-edit can break them.

Real-shaped files (``tests/fixtures/jsonstat``: SSB v2, SSB v0 and Statistics Sweden answers)
are corrupted at random but reproducibly (seeded): truncated at any byte, a wrong ``size``, a
dimension removed, a bad ``status``, a garbage value, re-encoded as latin-1. Every corrupted
file must give exactly one line naming the file and the field (the reader, which ``build``
uses), and the SSB client's check before storing (``fetch``) must refuse it with the same line.
A corruption that happens to leave a valid file (a cut after the closing brace) must read back
exactly as the original. Anything else is recorded as a traceback or as damaged data.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from boso.errors import DataError, FetchError
from boso.jsonstat import read_jsonstat_codes_and_labels
from boso.sources import ssb

FAMILY = "jsonstat"
SHAPES = [
    "ssb-v2-12134-shape.json",
    "ssb-v0-07221-shape.json",
    "ssb-v0-05300-shape.json",
    "scb-v2-tab6471-shape.json",
]
SEEDS = range(5)


def _truncate(text: str, rng: random.Random) -> tuple[bytes, str]:
    data = text.encode("utf-8")
    return data[: rng.randrange(1, len(data))], "ugyldig JSON"


def _wrong_size(text: str, rng: random.Random) -> tuple[bytes, str]:
    doc = json.loads(text)
    i = rng.randrange(len(doc["size"]))
    doc["size"][i] += rng.choice([-1, 1, 7])
    return json.dumps(doc, ensure_ascii=False).encode(), "size"


def _missing_dimension(text: str, rng: random.Random) -> tuple[bytes, str]:
    doc = json.loads(text)
    del doc["dimension"][rng.choice(doc["id"])]
    return json.dumps(doc, ensure_ascii=False).encode(), "dimension"


def _bad_status(text: str, rng: random.Random) -> tuple[bytes, str]:
    doc = json.loads(text)
    n = len(doc["value"])
    doc["status"] = rng.choice(
        [
            [".."] * rng.choice([2, n - 1, n + 1]),  # neither one for all nor one per cell
            {str(n + rng.randrange(5)): ".."},  # a cell that does not exist
            {"0": rng.choice([1, True, [".."], {"s": ".."}])},  # not a symbol
            {rng.choice(["-1", "x", "1.0", " 1"]): ".."},  # not a position
            7,
        ]
    )
    return json.dumps(doc, ensure_ascii=False).encode(), "status"


def _garbage_value(text: str, rng: random.Random) -> tuple[bytes, str]:
    doc = json.loads(text)
    doc["value"][rng.randrange(len(doc["value"]))] = rng.choice(["1,5", "x", "", True, [1], {}])
    return json.dumps(doc, ensure_ascii=False).encode(), "value"


def _latin1(text: str, rng: random.Random) -> tuple[bytes, str]:
    return text.replace('"label": "', '"label": "Bærum ', 1).encode("latin-1", "replace"), "UTF-8"


CORRUPTIONS = {
    "truncated": _truncate,
    "wrong size": _wrong_size,
    "missing dimension": _missing_dimension,
    "bad status": _bad_status,
    "garbage value": _garbage_value,
    "latin-1": _latin1,
}


def _outcome(call: Any) -> tuple[str, Any]:
    """("error", message) for a DataError/FetchError, ("ok", result), or ("traceback", text)."""
    try:
        return "ok", call()
    except (DataError, FetchError) as exc:
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - the point is to see what escapes
        return "traceback", f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", list(CORRUPTIONS))
@pytest.mark.parametrize("shape", SHAPES)
def test_corrupted_file_gives_one_clear_line_in_build_and_fetch(
    fixtures_dir: Path, tmp_path: Path, reliability, shape: str, kind: str, seed: int
) -> None:
    text = (fixtures_dir / "jsonstat" / shape).read_text("utf-8")
    broken, field = CORRUPTIONS[kind](text, random.Random(f"{shape}/{kind}/{seed}"))
    path = tmp_path / "ssb" / shape
    path.parent.mkdir()
    path.write_bytes(broken)
    case = f"{kind} ({shape}, seed {seed})"

    read = _outcome(lambda: read_jsonstat_codes_and_labels(path))
    fetch = _outcome(lambda: ssb.validate_jsonstat_bytes(broken, f"SSB table {shape}"))
    if "traceback" in (read[0], fetch[0]):
        reliability.record(FAMILY, case, "traceback", f"{read} / {fetch}")
        pytest.fail(f"{case}: an exception escaped: {read} / {fetch}")
    if read[0] == "ok":
        # Still valid JSON-stat (a cut in trailing whitespace): must be the original data.
        same = read[1].equals(read_jsonstat_codes_and_labels(text)) and fetch[0] == "ok"
        reliability.record(FAMILY, case, "correct" if same else "data_lost")
        assert same, f"{case}: read without error but not as the original"
        return
    message = read[1]
    # fetch checks the response bytes before there is a file: the same words, its own prefix.
    unnamed = _outcome(lambda: read_jsonstat_codes_and_labels(broken))[1]
    same_rule = fetch == ("error", f"SSB table {shape}: {unnamed}")
    clear = (
        "\n" not in message
        and str(path) in message
        and field.lower() in message.lower()
        and same_rule
    )
    reliability.record(
        FAMILY, case, "clear_error" if clear else "data_lost", f"{message} / {fetch}"
    )
    assert clear, f"{case}: not one clear line naming the file and {field!r}: {message} / {fetch}"


def test_good_shapes_read_and_pass_the_fetch_check(fixtures_dir: Path, reliability) -> None:
    for shape in SHAPES:
        content = (fixtures_dir / "jsonstat" / shape).read_bytes()
        frame = read_jsonstat_codes_and_labels(content)
        assert isinstance(frame, pd.DataFrame) and len(frame) == len(json.loads(content)["value"])
        ssb.validate_jsonstat_bytes(content, shape)
        reliability.record(FAMILY, f"valid {shape}", "correct")
