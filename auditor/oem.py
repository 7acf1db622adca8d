"""OEM resolution: which company really built a device sold under a label.

Data lives in ``auditor/data/oem.toml`` (makers, brands, OUI organisation patterns, the
legal instruments that name a maker). Classification uses it three ways:

* an OUI organisation → a maker (board evidence) or a brand (label evidence);
* a label → its maker, when every product under the label comes from one maker
  (``certainty = "all"``); when only some do (``"some"``, e.g. Lorex 2018-2022) the
  label alone proves nothing and a board signal is required;
* a maker → the instruments that cover it (NDAA §889, 2 CFR 200.216, FCC Covered List).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError

DATA_FILE = Path(__file__).parent / "data" / "oem.toml"


@dataclass(frozen=True)
class Maker:
    """A company that builds boards."""

    name: str
    full_name: str = ""
    country: str = ""
    oui: tuple[re.Pattern[str], ...] = ()
    covered: tuple[str, ...] = ()
    board_signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Brand:
    """A label sold on boxes built (all or in part) by ``oem``."""

    name: str
    oem: str
    certainty: str  # "all" | "some"
    note: str = ""
    oui: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Resolution:
    """The answer to "who made a device labelled X": maker, how sure, and why."""

    label: str
    oem: str | None  # None when the label only sometimes comes from a maker
    certainty: str  # "self" (label is a maker), "all", "some"
    note: str = ""
    possible_oem: str | None = None  # for "some": the maker it might be


@dataclass
class OemDB:
    """Makers and brands, with case-insensitive lookups."""

    makers: dict[str, Maker] = field(default_factory=dict)
    brands: dict[str, Brand] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._makers_ci = {k.lower(): v for k, v in self.makers.items()}
        self._brands_ci = {k.lower(): v for k, v in self.brands.items()}

    def maker(self, name: str | None) -> Maker | None:
        """Return the maker called ``name`` (any case), or None."""
        return self._makers_ci.get(name.lower()) if name else None

    def brand(self, name: str | None) -> Brand | None:
        """Return the brand called ``name`` (any case), or None."""
        return self._brands_ci.get(name.lower()) if name else None

    def resolve(self, label: str | None) -> Resolution | None:
        """Return who makes devices labelled ``label``, or None for an unknown label."""
        if not label:
            return None
        maker = self.maker(label)
        if maker is not None:
            return Resolution(label=maker.name, oem=maker.name, certainty="self")
        brand = self.brand(label)
        if brand is None:
            return None
        if brand.certainty == "all":
            return Resolution(label=brand.name, oem=brand.oem, certainty="all", note=brand.note)
        return Resolution(
            label=brand.name, oem=None, certainty="some", note=brand.note, possible_oem=brand.oem
        )

    def maker_for_organization(self, organization: str) -> Maker | None:
        """Return the maker whose OUI patterns match an IEEE organisation name, or None."""
        for maker in self.makers.values():
            if any(p.search(organization) for p in maker.oui):
                return maker
        return None

    def brand_for_organization(self, organization: str) -> Brand | None:
        """Return the brand whose OUI patterns match an IEEE organisation name, or None."""
        for brand in self.brands.values():
            if any(p.search(organization) for p in brand.oui):
                return brand
        return None

    def covered(self, maker: str | None) -> tuple[str, ...]:
        """Return the legal instruments that name ``maker`` (empty when none do)."""
        m = self.maker(maker)
        return m.covered if m else ()


def _patterns(value: Any, where: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: 'oui' must be a list of regex strings")
    try:
        return tuple(re.compile(v, re.IGNORECASE) for v in value)
    except re.error as exc:
        raise ConfigError(f"{where}: bad 'oui' pattern: {exc}") from exc


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def parse_oem(text: str, source: str = "oem.toml") -> OemDB:
    """Parse ``oem.toml`` text; raise ConfigError naming ``source`` and the entry when bad."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    makers: dict[str, Maker] = {}
    for name, entry in (doc.get("maker") or {}).items():
        where = f"{source}: [maker.{name}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        makers[name] = Maker(
            name=name,
            full_name=str(entry.get("full_name", "")),
            country=str(entry.get("country", "")),
            oui=_patterns(entry.get("oui", []), where),
            covered=_strings(entry.get("covered", []), where, "covered"),
            board_signals=_strings(entry.get("board_signals", []), where, "board_signals"),
        )
    brands: dict[str, Brand] = {}
    for name, entry in (doc.get("brand") or {}).items():
        where = f"{source}: [brand.{name}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        oem = entry.get("oem")
        if not isinstance(oem, str) or oem not in makers:  # a list is unhashable
            raise ConfigError(f"{where}: oem {oem!r} is not a [maker.*] in this file")
        certainty = entry.get("certainty", "all")
        if certainty not in ("all", "some"):
            raise ConfigError(f"{where}: certainty must be 'all' or 'some'")
        brands[name] = Brand(
            name=name,
            oem=oem,
            certainty=certainty,
            note=str(entry.get("note", "")),
            oui=_patterns(entry.get("oui", []), where),
        )
    return OemDB(makers=makers, brands=brands)


@lru_cache(maxsize=4)
def load_oem(path: Path | None = None) -> OemDB:
    """Return the OEM database (default: the shipped file), loaded once and cached.

    Raises ConfigError when the file is missing or invalid.
    """
    target = path or DATA_FILE
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{target}: cannot read: {exc}") from exc
    return parse_oem(text, source=target.name)
