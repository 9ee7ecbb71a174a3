"""Kommune codes and reform harmonisation on small hand-made KLASS fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from boso import kommune as km
from boso.errors import DataError, QueryError


def change(old: str, old_name: str, new: str, new_name: str, when: str) -> dict[str, str]:
    return {
        "oldCode": old,
        "oldName": old_name,
        "newCode": new,
        "newName": new_name,
        "changeOccurred": when,
    }


CHANGES = {
    "codeChanges": [
        change("0702", "Holmestrand", "0715", "Holmestrand", "2018-01-01"),
        change("0714", "Hof", "0715", "Holmestrand", "2018-01-01"),
        change("0220", "Asker", "3025", "Asker", "2020-01-01"),
        change("0627", "Røyken", "3025", "Asker", "2020-01-01"),
        change("0628", "Hurum", "3025", "Asker", "2020-01-01"),
        change("0713", "Sande (Vestfold)", "3802", "Holmestrand", "2020-01-01"),
        change("0715", "Holmestrand", "3802", "Holmestrand", "2020-01-01"),
        change("0704", "Tønsberg", "3803", "Tønsberg", "2020-01-01"),
        change("5012", "Snillfjord", "5055", "Heim", "2020-01-01"),
        change("5012", "Snillfjord", "5056", "Hitra", "2020-01-01"),
        change("5013", "Hitra", "5056", "Hitra", "2020-01-01"),
        change("1736", "Snåsa", "1736", "Snåase - Snåsa", "2011-01-01"),
        change("3025", "Asker", "3203", "Asker", "2024-01-01"),
        change("3802", "Holmestrand", "3903", "Holmestrand", "2024-01-01"),
        change("3803", "Tønsberg", "3905", "Tønsberg", "2024-01-01"),
    ]
}


@pytest.fixture
def code_map() -> km.CodeMap:
    return km.CodeMap(km.parse_changes(CHANGES))


# The one kommunenummer rule (parse_kommunenummer): input, allow_prefix, expected (None: refused).
KOMMUNENUMMER_CASES = [
    (301, False, "0301"),
    ("301", False, "0301"),
    ("0301", False, "0301"),
    (" 0301 ", False, "0301"),
    (301.0, False, "0301"),
    ("3203", False, "3203"),
    ("K-3025", True, "3025"),
    ("K3001", True, "3001"),
    ("K0102", True, "0102"),
    ("K-3025", False, None),  # the register, user input, KLASS and Geonorge have no prefix
    ("K3001", False, None),
    ("", False, None),
    ("Oslo", False, None),
    ("12345", False, None),
    ("K-", True, None),
    ("03-01", False, None),
    ("301.0", False, None),  # text that only looks like a number
    ("1", False, None),  # fylke 00 does not exist
    ("01", False, None),
    ("0000", False, None),
    (True, False, None),
    (None, False, None),
    (float("nan"), False, None),
    (301.5, False, None),
    ("٣٠١", False, None),  # non-ASCII digits
    ("KK0301", True, None),
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0301", "0301"),
        (" 0301 ", "0301"),
        (3203, "3203"),
        ("301", None),
        (301, None),
        ("0000", None),
    ],
)
def test_parse_kommunenummer_four_digits(raw: object, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(DataError, match="ugyldig kommunenummer"):
            km.parse_kommunenummer(raw, four_digits=True)
    else:
        assert km.parse_kommunenummer(raw, four_digits=True) == expected


@pytest.mark.parametrize(("raw", "allow_prefix", "expected"), KOMMUNENUMMER_CASES)
def test_parse_kommunenummer(raw: object, allow_prefix: bool, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(DataError, match="ugyldig kommunenummer"):
            km.parse_kommunenummer(raw, allow_prefix=allow_prefix)
    else:
        assert km.parse_kommunenummer(raw, allow_prefix=allow_prefix) == expected


def test_normalise_kommunenummer_series_agrees_with_the_parser() -> None:
    cases = [(raw, expected) for raw, prefix, expected in KOMMUNENUMMER_CASES if prefix]
    cases += [("301", "0301"), (" 0301 ", "0301"), ("1", None), ("Oslo", None), ("0000", None)]
    raw = pd.Series([str(c) for c, _ in cases])
    out = km.normalise_kommunenummer_series(raw, allow_prefix=True)
    expected = [e if e is not None else str(c).strip() for c, e in cases]
    assert out.tolist() == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (3, "03"),
        ("3", "03"),
        ("03", "03"),
        (" 32 ", "32"),
        ("00", None),
        ("", None),
        ("320", None),
        ("Oslo", None),
        (True, None),
    ],
)
def test_parse_fylkesnummer(raw: object, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(DataError, match="ugyldig fylkesnummer"):
            km.parse_fylkesnummer(raw)
    else:
        assert km.parse_fylkesnummer(raw) == expected


def test_kostra_label() -> None:
    assert km.kostra_label("EKG13", "KOSTRA-gruppe 13") == "KOSTRA-gruppe 13"
    assert km.kostra_label("EKG05", None) == "KOSTRA-gruppe 5"
    assert km.kostra_label("EKG05", float("nan")) == "KOSTRA-gruppe 5"
    assert km.kostra_label(None, None) == ""
    assert km.kostra_label(float("nan"), "") == ""


def test_region_labels_tell_a_shared_name_apart_by_level() -> None:
    names = pd.Series(["Oslo", "KOSTRA-gruppe 13", "Oslo", "Landet"])
    levels = pd.Series(["kommune", "kostragruppe", "fylke", "landet"])
    assert km.region_labels(names, levels).tolist() == [
        "Oslo",
        "KOSTRA-gruppe 13",
        "Oslo (fylke)",
        "Landet",
    ]
    # Two kommuner of one name at one level are not renamed (a fylke map).
    same = km.region_labels(pd.Series(["Bø", "Bø"]), pd.Series(["kommune", "kommune"]))
    assert same.tolist() == ["Bø", "Bø"]


def test_asker_merger_chain(code_map: km.CodeMap) -> None:
    for old in ("0220", "0627", "0628"):
        assert code_map.resolve(old, 2019) == [("3203", False)]
    assert code_map.resolve("3025", 2021) == [("3203", False)]
    assert code_map.resolve("3203", 2024) == [("3203", False)]


def test_holmestrand_two_reforms(code_map: km.CodeMap) -> None:
    assert code_map.resolve("0702", 2017) == [("3903", False)]
    assert code_map.resolve("0714", 2015) == [("3903", False)]
    assert code_map.resolve("0715", 2018) == [("3903", False)]
    assert code_map.resolve("0713", 2019) == [("3903", False)]
    # 3803 is Tønsberg, not Holmestrand.
    assert code_map.resolve("3803", 2022) == [("3905", False)]


def test_changes_before_the_rows_year_do_not_apply(code_map: km.CodeMap) -> None:
    # 0715 reported for 2020 would be a code not in use; it must not map through 2018's change
    # again, only through later ones.
    assert code_map.resolve("0715", 2020) == [("0715", False)]


def test_split_is_flagged(code_map: km.CodeMap) -> None:
    assert code_map.resolve("5012", 2019) == [("5055", True), ("5056", True)]
    assert code_map.resolve("5013", 2019) == [("5056", False)]


def test_target_year_limits_the_changes() -> None:
    code_map = km.CodeMap(km.parse_changes(CHANGES), target_year=2020)
    assert code_map.resolve("0220", 2019) == [("3025", False)]


def frame(rows: list[tuple[str, int, float | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["kode", "aar", "verdi", "status"])


def test_counts_are_summed_over_predecessors(code_map: km.CodeMap) -> None:
    data = frame(
        [
            ("0220", 2019, 100.0, ""),
            ("0627", 2019, 20.0, ""),
            ("0628", 2019, 5.0, ""),
            ("3025", 2019, None, "."),
            ("0220", 2020, None, "."),
            ("3025", 2020, 130.0, ""),
        ]
    )
    out = km.harmonise_counts(data, code_map).set_index(["kommunenummer", "aar"])
    assert out.loc[("3203", 2019), "verdi"] == 125.0
    assert out.loc[("3203", 2019), "harmonisering"] == "sammenslaatt"
    assert out.loc[("3203", 2020), "verdi"] == 130.0
    assert out.loc[("3203", 2020), "harmonisering"] == "omkodet"


def test_suppressed_predecessor_is_never_zero(code_map: km.CodeMap) -> None:
    data = frame([("0220", 2019, 100.0, ""), ("0627", 2019, None, ":"), ("0628", 2019, 5.0, "")])
    out = km.harmonise_counts(data, code_map)
    row = out.loc[out["kommunenummer"] == "3203"].iloc[0]
    assert np.isnan(row["verdi"])
    assert row["status"] == ":"


def test_split_predecessor_is_not_counted_twice(code_map: km.CodeMap) -> None:
    data = frame([("5012", 2019, 1000.0, ""), ("5013", 2019, 4000.0, "")])
    out = km.harmonise_counts(data, code_map).set_index("kommunenummer")
    assert np.isnan(out.loc["5056", "verdi"])
    assert out.loc["5056", "harmonisering"] == "deling"
    assert np.isnan(out.loc["5055", "verdi"])


def test_own_value_of_target_code_wins_over_sum(code_map: km.CodeMap) -> None:
    # SSB sometimes back-casts the new code itself; adding predecessors would double count.
    data = frame([("3025", 2019, 125.0, ""), ("0220", 2019, 100.0, ""), ("0627", 2019, 25.0, "")])
    out = km.harmonise_counts(data, code_map)
    assert out.loc[out["kommunenummer"] == "3203", "verdi"].tolist() == [125.0]


def test_backcast_codes_map_from_their_structure_year(code_map: km.CodeMap) -> None:
    data = frame([("3025", 2001, 74695.0, ""), ("3802", 2001, 17000.0, "")])
    out = km.harmonise_counts(data, code_map, code_year=2020).set_index("kommunenummer")
    assert out.loc["3203", "verdi"] == 74695.0
    assert out.loc["3903", "verdi"] == 17000.0


def test_sum_over_regions_marks_incomplete_sums() -> None:
    data = pd.DataFrame(
        {
            "kommunenummer": ["3203", "3201", "3903"],
            "aar": [2020, 2020, 2020],
            "verdi": [10.0, np.nan, 5.0],
            "status": ["", ":", ""],
        }
    )
    membership = pd.Series({"3203": "32", "3201": "32", "3903": "39"})
    out = km.sum_over_regions(data, membership).set_index("region")
    assert np.isnan(out.loc["32", "verdi"]) and out.loc["32", "status"] == ":"
    assert out.loc["39", "verdi"] == 5.0


def test_registry_and_lookup() -> None:
    codes = km.parse_codes(
        {
            "codes": [
                {"code": "3203", "name": "Asker"},
                {"code": "3903", "name": "Holmestrand"},
                {"code": "9999", "name": "Uoppgitt"},
            ]
        }
    )
    groups = km.parse_kostra_groups(
        {
            "correspondenceItems": [
                {"sourceCode": "3203", "targetCode": "EKG13", "targetName": "KOSTRA-gruppe 13"},
                {"sourceCode": "3903", "targetCode": "EKG08", "targetName": "KOSTRA-gruppe 8"},
            ]
        }
    )
    registry = km.registry(codes, groups).set_index("kommunenummer")
    assert list(registry.index) == ["3203", "3903"]
    assert registry.loc["3203", "fylkesnavn"] == "Akershus"
    assert registry.loc["3903", "kostragruppe"] == "EKG08"
    with pytest.raises(QueryError, match="ukjent kommunenummer 3299"):
        km.check_kommunenummer("3299", registry.index)
    assert km.check_kommunenummer("3203", registry.index) == "3203"


def test_slug() -> None:
    assert km.slug("Bø (Nordland)") == "bo-nordland"
    assert km.slug("Ålesund") == "alesund"
    assert km.slug("Hábmer - Hamarøy") == "habmer-hamaroy"


def test_slug_keeps_sami_base_letters() -> None:
    assert km.slug("Porsanger - Porsáŋgu - Porsanki") == "porsanger-porsangu-porsanki"
    assert km.slug("Guovdageaidnu - Kautokeino") == "guovdageaidnu-kautokeino"
    assert km.slug("Unjárga - Nesseby") == "unjarga-nesseby"


def test_fylker_group_the_registry_in_its_order() -> None:
    registry = pd.DataFrame(
        {
            "kommunenummer": ["0301", "3203", "3218"],
            "fylkesnummer": ["03", "32", "32"],
            "fylkesnavn": ["Oslo", "Akershus", "Akershus"],
        }
    )
    assert km.fylker(registry) == [
        km.Fylke("03", "Oslo", ("0301",)),
        km.Fylke("32", "Akershus", ("3203", "3218")),
    ]
