"""Procurement and compliance lists a site can enable (``auditor/data/compliance/*.toml``).

Each list names makers (``makers``) or the makers' home countries (``maker_countries``,
read from ``oem.toml``) it covers, with the instrument's sources. A device is covered
through its real maker, so a rebrand is covered when its board maker is.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from auditor.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data" / "compliance"
_KEYS = {
    "id", "name", "jurisdiction", "effective", "makers", "maker_countries", "rule",
    "sources", "summary",
}  # fmt: skip


@dataclass(frozen=True)
class ComplianceList:
    id: str
    name: str
    jurisdiction: str
    effective: dt.date
    sources: tuple[str, ...]
    summary: str
    makers: tuple[str, ...] = ()
    maker_countries: tuple[str, ...] = ()
    rule: str | None = None  # a built-in rule that already enforces this list

    def covers(self, maker: str | None, country: str | None) -> bool:
        """True when ``maker`` (a real maker name) or its home ``country`` is listed."""
        if maker and maker.lower() in (m.lower() for m in self.makers):
            return True
        return bool(country) and country in self.maker_countries


def _strs(value: object, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def parse_list(text: str, source: str) -> ComplianceList:
    """Parse one compliance list; raise ConfigError naming ``source`` when invalid."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    unknown = set(doc) - _KEYS
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {sorted(unknown)}")
    for key in ("id", "name", "jurisdiction", "summary"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise ConfigError(f"{source}: '{key}' is required and must be a string")
    effective = doc.get("effective")
    if not isinstance(effective, dt.date) or isinstance(effective, dt.datetime):
        raise ConfigError(f"{source}: 'effective' must be a TOML date (YYYY-MM-DD)")
    makers = _strs(doc.get("makers", []), source, "makers")
    countries = _strs(doc.get("maker_countries", []), source, "maker_countries")
    if not makers and not countries:
        raise ConfigError(f"{source}: a list needs 'makers' or 'maker_countries'")
    sources = _strs(doc.get("sources", []), source, "sources")
    if not sources:
        raise ConfigError(f"{source}: 'sources' must cite at least one public source")
    rule = doc.get("rule")
    if rule is not None and not isinstance(rule, str):
        raise ConfigError(f"{source}: 'rule' must be a rule id string")
    return ComplianceList(
        id=doc["id"],
        name=doc["name"],
        jurisdiction=doc["jurisdiction"],
        effective=effective,
        sources=sources,
        summary=" ".join(doc["summary"].split()),
        makers=makers,
        maker_countries=countries,
        rule=rule,
    )


@lru_cache(maxsize=4)
def load_lists(directory: Path | None = None) -> dict[str, ComplianceList]:
    """Return every shipped compliance list by id; raise ConfigError on a bad file."""
    base = directory or DATA_DIR
    out: dict[str, ComplianceList] = {}
    for path in sorted(base.glob("*.toml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
        lst = parse_list(text, str(path))
        if lst.id in out:
            raise ConfigError(f"{path}: list id {lst.id!r} is used twice")
        out[lst.id] = lst
    return out
