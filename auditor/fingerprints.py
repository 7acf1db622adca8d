"""The fingerprint engine: declarative patterns over what probes saw.

Fingerprints live in ``auditor/data/fingerprints/<vendor>.toml``, one file per vendor (or
per family of non-cameras), in the spirit of Rapid7 Recog and nmap's service probes: a
pattern, examples that must match, counter-examples that must not, and what a match
means. The format is documented in ``docs/fingerprints.md``; in short::

    [vendor]
    name = "Hikvision"

    [[fingerprint]]
    id = "app-webs"                 # unique in the file; cited as hikvision.toml#app-webs
    source = "http.server"          # which observed field it reads (see SOURCES)
    pattern = '^App-webs/'          # Python regex, searched, case-insensitive by default
    oem = "Hikvision"               # board maker a match proves (optional)
    vendor = "Hikvision"            # label a match shows (optional)
    device_type = "camera"          # camera | nvr | computer | printer | switch (optional)
    weight = 0.6                    # 0 < weight <= 1: how much a match alone proves
    examples = ["App-webs/"]
    counter_examples = ["Apache/2.4.41 (Ubuntu)"]

Named groups ``model``, ``firmware``, ``serial``, ``mac`` and ``vendor`` in a pattern
capture those facts from the matched value.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data" / "fingerprints"

# Every field a fingerprint may read; auditor.classify documents where each comes from.
SOURCES: dict[str, str] = {
    "http.server": "HTTP Server header",
    "http.realm": "HTTP auth realm (each WWW-Authenticate challenge)",
    "http.title": "HTML <title>",
    "http.body": "first 2048 characters of the HTTP body",
    "http.header": "every HTTP header as 'name: value' (name lower-case)",
    "http.path": "extra vendor paths probed, as 'PATH STATUS' e.g. '/ISAPI/... 401'",
    "tls.subject": "TLS certificate subject",
    "tls.issuer": "TLS certificate issuer",
    "rtsp.server": "RTSP Server header",
    "rtsp.realm": "RTSP auth realm",
    "rtsp.sdp": "RTSP DESCRIBE SDP body",
    "onvif.manufacturer": "ONVIF GetDeviceInformation Manufacturer",
    "onvif.model": "ONVIF GetDeviceInformation Model",
    "onvif.firmware": "ONVIF GetDeviceInformation FirmwareVersion",
    "onvif.hardware_id": "ONVIF GetDeviceInformation HardwareId",
    "onvif.scopes": "each ONVIF scope URI (device service GetScopes)",
    "wsd.types": "each WS-Discovery type QName",
    "wsd.scopes": "each WS-Discovery scope URI",
    "vendor_port.service": "vendor port/discovery service name, e.g. 'xiongmai-netip'",
    "vendor_port.field": "each parsed vendor-protocol field as 'name=value'",
    "port.open": "each open TCP port number, e.g. '34567'",
}
DEVICE_TYPES = ("camera", "nvr", "computer", "printer", "switch")
CAPTURES = ("model", "firmware", "serial", "mac", "vendor")

_ENTRY_KEYS = {
    "id", "source", "pattern", "description", "vendor", "oem", "device_type", "weight",
    "examples", "counter_examples", "case_sensitive", "references",
}  # fmt: skip
_REQUIRED = ("id", "source", "pattern", "examples")


@dataclass(frozen=True)
class Fingerprint:
    """One entry of a fingerprint file, with its pattern compiled."""

    id: str
    file: str  # file name, e.g. "hikvision.toml"
    source: str
    pattern: re.Pattern[str]
    vendor: str | None = None
    oem: str | None = None
    device_type: str | None = None
    weight: float = 0.5
    description: str = ""
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """Where this entry lives, as cited in evidence: ``hikvision.toml#app-webs``."""
        return f"{self.file}#{self.id}"


@dataclass(frozen=True)
class Match:
    """A fingerprint that matched a value, with the named groups it captured."""

    fingerprint: Fingerprint
    value: str
    captures: dict[str, str] = field(default_factory=dict)


class FingerprintDB:
    """All fingerprints, indexed by source. ``match`` memoises by (source, value)."""

    def __init__(self, fingerprints: list[Fingerprint]) -> None:
        self.fingerprints = list(fingerprints)
        self._by_source: dict[str, list[Fingerprint]] = {}
        for fp in self.fingerprints:
            self._by_source.setdefault(fp.source, []).append(fp)
        # Same banners repeat across a fleet of identical cameras; the cache makes the
        # second camera of a model nearly free. Bounded so a hostile scan can't grow it.
        self._cache: dict[tuple[str, str], tuple[Match, ...]] = {}

    def __len__(self) -> int:
        return len(self.fingerprints)

    def match(self, source: str, value: str) -> tuple[Match, ...]:
        """Return every fingerprint for ``source`` whose pattern is found in ``value``."""
        key = (source, value)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        out: list[Match] = []
        for fp in self._by_source.get(source, ()):
            m = fp.pattern.search(value)
            if m is None:
                continue
            caps = {k: v.strip() for k, v in m.groupdict().items() if v and v.strip()}
            out.append(Match(fingerprint=fp, value=value, captures=caps))
        result = tuple(out)
        if len(self._cache) < 50_000:
            self._cache[key] = result
        return result

    def check_examples(self) -> list[str]:
        """Return one message per example that fails to match or counter-example that does."""
        problems: list[str] = []
        for fp in self.fingerprints:
            for ex in fp.examples:
                if not fp.pattern.search(ex):
                    problems.append(f"{fp.ref}: example does not match: {ex!r}")
            for ex in fp.counter_examples:
                if fp.pattern.search(ex):
                    problems.append(f"{fp.ref}: counter-example matches: {ex!r}")
        return problems


def _str(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _str_list(entry: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _parse_entry(entry: Any, file: str, index: int, defaults: dict[str, Any]) -> Fingerprint:
    where = f"{file}: fingerprint #{index + 1}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a table ([[fingerprint]])")
    if isinstance(entry.get("id"), str):
        where = f"{file}#{entry['id']}"
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    for key in _REQUIRED:
        if key not in entry:
            raise ConfigError(f"{where}: missing required key '{key}'")
    fid = _str(entry, "id", where) or ""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", fid):
        raise ConfigError(f"{where}: id must be lower-case letters, digits, '.', '_' or '-'")
    source = _str(entry, "source", where) or ""
    if source not in SOURCES:
        raise ConfigError(f"{where}: unknown source {source!r}; expected one of {sorted(SOURCES)}")
    flags = 0 if entry.get("case_sensitive", False) is True else re.IGNORECASE
    pattern_text = _str(entry, "pattern", where) or ""
    try:
        pattern = re.compile(pattern_text, flags)
    except re.error as exc:
        raise ConfigError(f"{where}: bad pattern {pattern_text!r}: {exc}") from exc
    bad_groups = set(pattern.groupindex) - set(CAPTURES)
    if bad_groups:
        raise ConfigError(f"{where}: unknown named group(s) {sorted(bad_groups)}")
    device_type = _str(entry, "device_type", where) or defaults.get("device_type")
    if device_type is not None and device_type not in DEVICE_TYPES:
        raise ConfigError(f"{where}: device_type {device_type!r} not in {DEVICE_TYPES}")
    weight = entry.get("weight", 0.5)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 1:
        raise ConfigError(f"{where}: weight must be a number in (0, 1]")
    examples = _str_list(entry, "examples", where)
    if not examples:
        raise ConfigError(f"{where}: needs at least one example")
    _str_list(entry, "references", where)
    return Fingerprint(
        id=fid,
        file=file,
        source=source,
        pattern=pattern,
        vendor=_str(entry, "vendor", where),
        oem=_str(entry, "oem", where),
        device_type=device_type,
        weight=float(weight),
        description=_str(entry, "description", where) or "",
        examples=examples,
        counter_examples=_str_list(entry, "counter_examples", where),
    )


def parse_fingerprint_file(text: str, file: str) -> list[Fingerprint]:
    """Parse one fingerprint file's TOML text; ``file`` names it in errors and citations.

    Raises ConfigError naming the file (and the entry) for bad TOML, unknown keys or
    sources, bad regexes, duplicate ids or a missing example.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from exc
    unknown = set(doc) - {"vendor", "fingerprint"}
    if unknown:
        raise ConfigError(f"{file}: unknown top-level key(s) {sorted(unknown)}")
    header = doc.get("vendor", {})
    if not isinstance(header, dict):
        raise ConfigError(f"{file}: [vendor] must be a table")
    defaults = {"device_type": header.get("device_type")}
    entries = doc.get("fingerprint", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{file}: needs at least one [[fingerprint]] entry")
    out: list[Fingerprint] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        fp = _parse_entry(entry, file, i, defaults)
        if fp.id in seen:
            raise ConfigError(f"{file}#{fp.id}: duplicate id")
        seen.add(fp.id)
        out.append(fp)
    return out


def load_fingerprint_dir(directory: Path) -> FingerprintDB:
    """Load every ``*.toml`` in ``directory`` (sorted by name); raise ConfigError when bad."""
    fps: list[Fingerprint] = []
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise ConfigError(f"{directory}: no fingerprint files (*.toml)")
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path.name}: cannot read: {exc}") from exc
        fps.extend(parse_fingerprint_file(text, path.name))
    return FingerprintDB(fps)


@lru_cache(maxsize=4)
def load_fingerprints(directory: Path | None = None) -> FingerprintDB:
    """Return the fingerprint database (default: the shipped files), loaded once and cached."""
    return load_fingerprint_dir(directory or DATA_DIR)
