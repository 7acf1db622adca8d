"""Vulnerability advisories: which firmware a published CVE affects.

Data lives in ``auditor/data/advisories.toml`` (format in that file's header and in
``docs/data.md``). Matching uses only what the audit already knows — the real maker
(through OEM resolution), the label, the model and the firmware version — and never
sends anything to a device. A device with an unknown or unparseable firmware version
matches nothing: camaudit does not guess.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError
from auditor.model import Device, Severity
from auditor.versions import Version, build_date, parse_version

DATA_FILE = Path(__file__).parent / "data" / "advisories.toml"
_KEYS = {
    "id", "maker", "labels", "models", "affected", "fixed", "severity", "kev",
    "kev_added", "source", "summary",
}  # fmt: skip
_RANGE_KEYS = {"introduced", "fixed", "last_affected", "build_before"}


@dataclass(frozen=True)
class Range:
    """One affected range; every bound that is set must hold."""

    introduced: Version | None = None
    fixed: Version | None = None
    last_affected: Version | None = None
    build_before: int | None = None  # YYYYMMDD

    def contains(self, v: Version) -> bool:
        if self.introduced is not None and v < self.introduced:
            return False
        if self.fixed is not None and not v < self.fixed:
            return False
        if self.last_affected is not None and self.last_affected < v:
            return False
        if self.build_before is not None:
            if v.build is None:
                return False  # no build date on the device: the bound cannot be checked
            if v.build >= self.build_before:
                return False
        return True


@dataclass(frozen=True)
class Advisory:
    id: str
    maker: str
    labels: tuple[str, ...]
    models: tuple[str, ...]
    affected: tuple[Range, ...]
    fixed: str
    severity: Severity
    kev: bool
    source: str
    summary: str
    kev_added: str | None = None

    def covers_label(self, label: str | None) -> bool:
        if "*" in self.labels:
            return True
        name = (label or self.maker).lower()
        return any(name == lab.lower() for lab in self.labels)

    def covers_model(self, model: str | None) -> bool:
        if "*" in self.models:
            return True
        if not model:
            return False
        return any(fnmatch.fnmatch(model.upper(), pat.upper()) for pat in self.models)

    def affects(self, firmware: str | None) -> bool:
        if not firmware:
            return False
        try:
            version = parse_version(firmware)
        except ValueError:
            return False
        return any(r.contains(version) for r in self.affected)


def _version(value: Any, where: str, key: str) -> Version:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a version string")
    try:
        return parse_version(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {key}: {exc}") from None


def _range(entry: Any, where: str) -> Range:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: each 'affected' item must be a table")
    unknown = set(entry) - _RANGE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in affected range: {sorted(unknown)}")
    bb = entry.get("build_before")
    try:
        build = build_date(bb) if bb is not None else None
    except (ValueError, AttributeError) as exc:
        raise ConfigError(f"{where}: build_before: {exc}") from None
    if entry.get("fixed") is not None and entry.get("last_affected") is not None:
        raise ConfigError(f"{where}: a range has either 'fixed' or 'last_affected', not both")
    return Range(
        introduced=_version(entry["introduced"], where, "introduced")
        if "introduced" in entry
        else None,
        fixed=_version(entry["fixed"], where, "fixed") if "fixed" in entry else None,
        last_affected=_version(entry["last_affected"], where, "last_affected")
        if "last_affected" in entry
        else None,
        build_before=build,
    )


def _strs(entry: dict[str, Any], key: str, where: str, default: list[str]) -> tuple[str, ...]:
    value = entry.get(key, default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a non-empty list of strings")
    return tuple(value)


def _advisory(entry: Any, where: str) -> Advisory:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    for key in ("id", "maker", "source", "summary", "fixed", "severity"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ConfigError(f"{where}: '{key}' is required and must be a non-empty string")
    if not isinstance(entry.get("kev"), bool):
        raise ConfigError(f"{where}: 'kev' is required and must be true or false")
    try:
        severity = Severity.parse(entry["severity"])
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    kev_added = entry.get("kev_added")
    if kev_added is not None:
        try:
            dt.date.fromisoformat(str(kev_added))
        except ValueError:
            raise ConfigError(f"{where}: kev_added {kev_added!r} is not YYYY-MM-DD") from None
    affected = entry.get("affected")
    if not isinstance(affected, list) or not affected:
        raise ConfigError(f"{where}: 'affected' must be a non-empty list of ranges")
    return Advisory(
        id=entry["id"].strip(),
        maker=entry["maker"].strip(),
        labels=_strs(entry, "labels", where, [entry["maker"]]),
        models=_strs(entry, "models", where, ["*"]),
        affected=tuple(_range(r, where) for r in affected),
        fixed=entry["fixed"],
        severity=severity,
        kev=entry["kev"],
        source=entry["source"],
        summary=" ".join(entry["summary"].split()),
        kev_added=str(kev_added) if kev_added is not None else None,
    )


def parse_advisories(text: str, source: str = "advisories.toml") -> tuple[Advisory, ...]:
    """Parse advisory TOML; raise ConfigError naming ``source`` and the bad entry.

    Nothing is returned unless every entry is valid (no partial load).
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    unknown = set(doc) - {"advisory"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {sorted(unknown)}")
    entries = doc.get("advisory", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: 'advisory' must be an array of tables ([[advisory]])")
    out: list[Advisory] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        name = entry.get("id") if isinstance(entry, dict) else None
        where = f"{source}: advisory #{i}" + (f" ({name})" if isinstance(name, str) else "")
        adv = _advisory(entry, where)
        if adv.id in seen:
            raise ConfigError(f"{where}: id {adv.id} appears twice")
        seen.add(adv.id)
        out.append(adv)
    return tuple(out)


@lru_cache(maxsize=4)
def load_advisories(path: Path | None = None) -> tuple[Advisory, ...]:
    """Return the advisories in ``path`` (default: the shipped file), cached.

    Raises ConfigError when the file cannot be read or any entry is invalid.
    """
    target = path or DATA_FILE
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: cannot read advisories: {exc}") from exc
    return parse_advisories(text, source=str(target))


def matching(dev: Device, advisories: tuple[Advisory, ...] | None = None) -> list[Advisory]:
    """Return the advisories whose maker, label, model and firmware range fit ``dev``."""
    from auditor.oem import load_oem  # late: oem.toml is only needed when matching

    maker = dev.oem
    if maker is None and dev.vendor:
        res = load_oem().resolve(dev.vendor)
        maker = res.oem if res is not None else None
    if not maker or not dev.firmware:
        return []
    out = []
    for adv in advisories if advisories is not None else load_advisories():
        if adv.maker.lower() != maker.lower():
            continue
        if (
            adv.covers_label(dev.vendor)
            and adv.covers_model(dev.model)
            and adv.affects(dev.firmware)
        ):
            out.append(adv)
    return out
