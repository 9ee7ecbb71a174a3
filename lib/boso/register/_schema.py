"""The declared register schema (``boso/register_schema.toml``) and header matching.

Headers and their synonyms, field types, value shapes, plausible ranges, category spellings,
personal-column words, coordinate-system hints and the words that tell a place from a
person's name: everything the reader's stages check against is declared there, not in code.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

FIELD_TYPES = ("text", "integer", "number", "category", "date", "coordinate")


def fold(text: str) -> str:
    """Normalise a header or category value for matching.

    Case-folds, applies NKFC (so ``m²`` becomes ``m2``), transliterates æ/ø/å (and the older
    ``aa``) and removes everything that is not a letter or digit.
    """
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    text = text.replace("æ", "ae").replace("ø", "o").replace("å", "a").replace("aa", "a")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]+", "", text)


def words(text: str) -> list[str]:
    """The header's words, folded like :func:`fold` (for whole-word abbreviation matches)."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return [fold(w) for w in re.split(r"[^0-9a-zæøå]+", text) if w]


def strip_parentheses(text: str) -> str:
    """``"Øst (UTM32)"`` → ``"Øst"``; unit and CRS notes are kept out of the field match."""
    return re.sub(r"[\(\[][^\)\]]*[\)\]]", " ", str(text))


@dataclass(frozen=True)
class Schema:
    """The parsed ``register_schema.toml``."""

    synonyms: dict[str, str]  # folded synonym -> field
    labels: dict[str, str]  # field -> display label
    personal_contains: tuple[str, ...]
    personal_tokens: frozenset[str]
    crs_hints: dict[int, tuple[str, ...]]
    categories: dict[str, dict[str, str]]  # field -> folded spelling -> canonical label
    types: dict[str, str] = dataclasses.field(default_factory=dict)  # field -> declared type
    shapes: dict[str, re.Pattern[str]] = dataclasses.field(default_factory=dict)  # text fields
    shape_what: dict[str, str] = dataclasses.field(default_factory=dict)  # field -> "en adresse"
    ranges: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    not_after_export: frozenset[str] = frozenset()
    identifying: tuple[str, ...] = ()  # a row needs one of these to be a dwelling
    stable: frozenset[str] = frozenset()  # attributes of the dwelling itself
    zero_pad: dict[str, int] = dataclasses.field(default_factory=dict)  # field -> digits
    not_a_name: dict[str, str] = dataclasses.field(default_factory=dict)  # "street" / "place"
    street_words: frozenset[str] = frozenset()  # whole words ("vei", "gate", "allé")
    street_suffixes: tuple[str, ...] = ()  # ends of compounds ("veien" in "Kirkeveien")
    place_prefixes: frozenset[str] = frozenset()  # "øvre", "st", "kong"
    place_connectors: frozenset[str] = frozenset()  # "i", "på" ("Mo i Rana")
    compass_words: frozenset[str] = frozenset()  # "s", "nord" ("Kristiansand S")

    def fits_shape(self, field: str, value: str) -> bool:
        """Whether a kept text value has its field's declared shape (True: no shape declared)."""
        pattern = self.shapes.get(field)
        return pattern is None or pattern.fullmatch(value.strip()) is not None

    def pad(self, field: str, value: str) -> str:
        """A short all-digit value zero-padded to its declared width (``"301"`` → ``"0301"``).

        Spreadsheets drop the leading zero of postnummer; only the zeros are restored.
        """
        width = self.zero_pad.get(field)
        if width and re.fullmatch(rf"\d{{1,{width - 1}}}", value):
            return value.zfill(width)
        return value

    def is_street_word(self, word: str) -> bool:
        """Whether a lower-cased word is or ends in a street word (``gate``, ``Kirkeveien``)."""
        return word in self.street_words or word.endswith(self.street_suffixes)

    def in_range(self, field: str, value: float) -> bool:
        """Whether a number lies in its field's declared plausible range (True: none declared)."""
        low, high = self.ranges.get(field, (-math.inf, math.inf))
        return low <= value <= high

    def match_field(self, header: str) -> str | None:
        """The schema field a header names, or None."""
        full = fold(header)
        if full in self.synonyms:
            return self.synonyms[full]
        base = fold(strip_parentheses(header))
        if base and base in self.synonyms:
            return self.synonyms[base]
        return None

    def is_personal_header(self, header: str) -> bool:
        """Whether a header names a column about people (names, IDs, contact data, notes)."""
        full = fold(header)
        if any(part in full for part in self.personal_contains):
            return True
        return any(w in self.personal_tokens for w in words(header))

    def crs_hint(self, header: str) -> int | None:
        """EPSG code a coordinate header mentions (``"Øst (UTM32)"`` → 25832), or None."""
        full = fold(header)
        for epsg in (25832, 25833):
            if any(h in full for h in self.crs_hints[epsg]):
                return epsg
        if any(w in self.crs_hints[4326] for w in words(header)) or any(
            h in full for h in ("wgs84", "4326", "desimalgrader")
        ):
            return 4326
        return None

    def normalise_category(self, field: str, value: str) -> str | None:
        """Canonical label of a category value, or None when the value is not in the mapping."""
        table = self.categories[field]
        key = fold(value)
        if key in table:
            return table[key]
        return None


@lru_cache(maxsize=1)
def load_schema() -> Schema:
    """Read the declared mapping shipped with the package."""
    raw = tomllib.loads(
        resources.files("boso").joinpath("register_schema.toml").read_text(encoding="utf-8")
    )
    synonyms: dict[str, str] = {}
    labels: dict[str, str] = {}
    types: dict[str, str] = {}
    shapes: dict[str, re.Pattern[str]] = {}
    shape_what: dict[str, str] = {}
    ranges: dict[str, tuple[float, float]] = {}
    not_after_export: set[str] = set()
    stable: set[str] = set()
    zero_pad: dict[str, int] = {}
    not_a_name: dict[str, str] = {}
    for field, spec in raw["fields"].items():
        labels[field] = spec.get("label", field)
        types[field] = spec.get("type", "text")
        if types[field] not in FIELD_TYPES:
            raise ValueError(f"register_schema.toml: {field}: ukjent type {types[field]!r}")
        if "shape" in spec:
            shape = raw["shapes"][spec["shape"]]
            shapes[field] = re.compile(shape["pattern"])
            shape_what[field] = shape["what"]
            if "not_a_name" in shape:
                rule = shape["not_a_name"]
                if rule not in ("street", "place"):
                    raise ValueError(f"register_schema.toml: {field}: ukjent navnesjekk {rule!r}")
                not_a_name[field] = rule
        if "range" in spec:
            low, high = spec["range"]
            ranges[field] = (float(low), float(high))
        if spec.get("not_after_export"):
            not_after_export.add(field)
        if spec.get("stable"):
            stable.add(field)
        if "zero_pad" in spec:
            zero_pad[field] = int(spec["zero_pad"])
        for syn in [field, *spec["synonyms"]]:
            key = fold(syn)
            if key in synonyms and synonyms[key] != field:
                raise ValueError(f"register_schema.toml: synonymet {syn!r} er oppgitt to ganger")
            synonyms[key] = field
    unknown = set(raw["dwelling"]["identified_by"]) - set(types)
    if unknown:
        raise ValueError(f"register_schema.toml: [dwelling]: ukjente felt {sorted(unknown)}")
    personal = raw["personal"]
    places = raw["place_words"]
    categories: dict[str, dict[str, str]] = {}
    for field, table in raw["categories"].items():
        categories[field] = {}
        for label, spellings in table.items():
            for spelling in [label, *spellings]:
                categories[field][fold(spelling)] = label
    return Schema(
        synonyms=synonyms,
        labels=labels,
        personal_contains=tuple(fold(p) for p in personal["contains"]),
        personal_tokens=frozenset(fold(t) for t in personal["tokens"]),
        crs_hints={int(k): tuple(fold(h) for h in v) for k, v in raw["crs_hints"].items()},
        categories=categories,
        types=types,
        shapes=shapes,
        shape_what=shape_what,
        ranges=ranges,
        not_after_export=frozenset(not_after_export),
        identifying=tuple(raw["dwelling"]["identified_by"]),
        stable=frozenset(stable),
        zero_pad=zero_pad,
        not_a_name=not_a_name,
        street_words=frozenset(_lower(places["street_words"])),
        street_suffixes=tuple(_lower(places["street_suffixes"])),
        place_prefixes=frozenset(_lower(places["prefixes"])),
        place_connectors=frozenset(_lower(places["connectors"])),
        compass_words=frozenset(_lower(places["compass"])),
    )


def _lower(words: list[str]) -> list[str]:
    # Place words are compared with æ/ø/å and é intact ("allé", "søndre"), only case-folded.
    return [unicodedata.normalize("NFKC", w).casefold().strip(".") for w in words]
