"""Vendor default credentials for the opt-in ``--check-default-creds`` check.

Data in ``auditor/data/default_credentials.toml``. :func:`candidates` picks at most
:data:`MAX_ATTEMPTS` entries for a device's real maker; the probe
(``probes/defaultcreds.py``) tries them and reports only the entry id, never a password.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from auditor.errors import ConfigError

DATA_FILE = Path(__file__).parent / "data" / "default_credentials.toml"
MAX_ATTEMPTS = 3  # per device: cameras lock accounts after 3-5 failures
_KEYS = {"id", "makers", "labels", "username", "password", "note"}


@dataclass(frozen=True)
class DefaultCredential:
    id: str
    makers: tuple[str, ...]
    username: str
    password: str = field(repr=False)
    labels: tuple[str, ...] = ()
    note: str = ""


def parse_defaults(text: str, source: str) -> tuple[DefaultCredential, ...]:
    """Parse the defaults file; raise ConfigError naming ``source`` and the entry."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    if set(doc) - {"default"} or not isinstance(doc.get("default", []), list):
        raise ConfigError(f"{source}: expected only [[default]] entries")
    out = []
    for i, e in enumerate(doc.get("default", []), start=1):
        where = f"{source}: default #{i}"
        if not isinstance(e, dict) or set(e) - _KEYS:
            raise ConfigError(f"{where}: must be a table with keys {sorted(_KEYS)}")
        if not all(isinstance(e.get(k), str) for k in ("id", "username", "password")):
            raise ConfigError(f"{where}: id, username and password must be strings")
        makers, labels = e.get("makers", []), e.get("labels", [])
        if not isinstance(makers, list) or not all(isinstance(m, str) for m in makers + labels):
            raise ConfigError(f"{where}: makers/labels must be lists of strings")
        out.append(
            DefaultCredential(
                e["id"],
                tuple(makers),
                e["username"],
                e["password"],
                tuple(labels),
                str(e.get("note", "")),
            )
        )
    return tuple(out)


@lru_cache(maxsize=2)
def load_defaults(path: Path | None = None) -> tuple[DefaultCredential, ...]:
    target = path or DATA_FILE
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: cannot read: {exc}") from exc
    return parse_defaults(text, str(target))


def candidates(
    maker: str | None, label: str | None, limit: int = MAX_ATTEMPTS
) -> list[DefaultCredential]:
    """Return the defaults to try on a device of ``maker`` sold as ``label`` (<= ``limit``).

    Label-specific entries come first, then the maker's. Unknown maker: none (camaudit
    does not spray generic passwords at a device it cannot name).
    """
    names = {n.lower() for n in (maker, label) if n}
    if not names:
        return []
    entries = load_defaults()
    by_label = [e for e in entries if label and label.lower() in (x.lower() for x in e.labels)]
    by_maker = [e for e in entries if names & {m.lower() for m in e.makers} and e not in by_label]
    return (by_label + by_maker)[: max(0, min(limit, MAX_ATTEMPTS))]
