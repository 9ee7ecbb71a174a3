"""What a researcher sees of the library: help(boso), error messages, printed frames."""

from __future__ import annotations

import pydoc

import pandas as pd
import pytest

import boso
from boso import processed
from boso.errors import BosoError, QueryError


def test_help_lists_the_public_api_not_the_lazy_import_machinery() -> None:
    doc = pydoc.render_doc(boso, renderer=pydoc.plaintext)
    for name in ("load_indicator", "comparison", "kommune_info", "read_jsonstat"):
        assert name in dir(boso)
        assert callable(getattr(boso, name))
        assert f"boso.{name}(" in doc  # the docstring shows how to call it
    assert "__getattr__" not in doc and "boso.load(" not in doc
    assert boso.load_indicator is processed.load_indicator
    assert boso.figures.__name__ == "boso.figures"


def test_boso_errors_render_as_one_line_in_ipython() -> None:
    error = QueryError("ukjent kommunenummer 3999; kommuner i fylke 39: 3901, 3903")
    lines = error._render_traceback_()
    assert lines == ["QueryError: ukjent kommunenummer 3999; kommuner i fylke 39: 3901, 3903"]
    assert isinstance(error, BosoError)


def test_printed_frames_show_year_and_value_first(tmp_path, monkeypatch) -> None:
    frame = pd.DataFrame(
        {
            "indikator": "befolkning",
            "nivaa": ["kommune", "kommune", "landet"],
            "region": ["3203", "3203", "0"],
            "regionnavn": ["Asker", "Asker", "Landet"],
            "kommunenummer": ["3203", "3203", None],
            "kommunenavn": ["Asker", "Asker", None],
            "aar": [2020, 2021, 2020],
            "verdi": [1.0, float("nan"), 3.0],
            "status": ["", ":", ""],
            "enhet": "personer",
            "kilde": "SSB 07459",
            "kilde_oppdatert": "2022-02-23",
            "hentet": "2026-11-22",
            "syntetisk": False,
            "harmonisering": "",
            "merknad": "",
        }
    )
    processed.write_table(frame, "out_boso__befolkning", tmp_path)
    registry = pd.DataFrame(
        {
            "kommunenummer": ["3203"],
            "kommunenavn": ["Asker"],
            "fylkesnummer": ["32"],
            "kostragruppe": [None],
        }
    )
    monkeypatch.setattr(processed, "load_registry", lambda root=None: registry)
    rows = processed.load_indicator("befolkning", "3203", root=tmp_path)
    assert list(rows.columns[:4]) == ["kommunenummer", "aar", "verdi", "status"]
    with pd.option_context("display.width", 80):
        printed = str(rows)
    assert "aar" in printed and "verdi" in printed and "2021" in printed
    compared = processed.comparison("befolkning", "3203", root=tmp_path)
    assert list(compared.columns[:4]) == ["sammenligning", "aar", "verdi", "status"]
    assert sorted(compared.columns) == sorted([*frame.columns, "sammenligning"])


def test_unknown_names_still_raise() -> None:
    with pytest.raises(AttributeError, match="nonexistent"):
        boso.nonexistent  # noqa: B018
