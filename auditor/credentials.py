"""Per-site camera credentials, read from a TOML file the operator keeps (chmod 600).

Passwords never go on the command line (where ``ps`` and shell history would show
them) and camaudit never stores them: they live only in this file and in memory.

    # camaudit credentials; keep this file private (chmod 600)
    [[credential]]
    username = "admin"
    password = "..."
    targets = ["198.18.0.0/22"]   # optional: only try on these networks (default: all)
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from auditor.errors import ConfigError

MAX_CREDENTIALS = 8  # a few attempts per device at most: cameras lock accounts out


@dataclass(frozen=True)
class Credential:
    username: str
    password: str = field(repr=False)
    networks: tuple[ipaddress.IPv4Network, ...] = ()

    def applies_to(self, ip: str) -> bool:
        if not self.networks:
            return True
        addr = ipaddress.IPv4Address(ip)
        return any(addr in n for n in self.networks)


@dataclass(frozen=True)
class CredentialSet:
    credentials: tuple[Credential, ...] = ()
    warnings: tuple[str, ...] = ()

    def for_host(self, ip: str) -> list[tuple[str, str]]:
        """The (username, password) pairs to try on ``ip``, in file order."""
        return [(c.username, c.password) for c in self.credentials if c.applies_to(ip)]

    def __len__(self) -> int:
        return len(self.credentials)


def load_credentials(path: str | Path) -> CredentialSet:
    """Read a credentials file.

    Returns a :class:`CredentialSet` (with a warning when the file is readable by other
    users). Raises :class:`ConfigError` naming the file and entry when it is unreadable,
    not TOML, or an entry is malformed.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
        mode = p.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read credentials file: {exc.strerror}") from exc
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: not a valid TOML credentials file: {exc}") from exc
    unknown = set(doc) - {"credential"}
    if unknown:
        raise ConfigError(
            f"{p}: unknown top-level key(s) {sorted(unknown)}; expected [[credential]]"
        )
    entries = doc.get("credential", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{p}: 'credential' must be an array of tables ([[credential]])")
    if len(entries) > MAX_CREDENTIALS:
        raise ConfigError(
            f"{p}: {len(entries)} credentials; at most {MAX_CREDENTIALS} are tried so that "
            "cameras do not lock the account out"
        )
    creds: list[Credential] = []
    for i, e in enumerate(entries, start=1):
        where = f"{p}: credential #{i}"
        if not isinstance(e, dict):
            raise ConfigError(f"{where}: must be a table")
        extra = set(e) - {"username", "password", "targets"}
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {sorted(extra)}")
        user, pw = e.get("username"), e.get("password")
        if not isinstance(user, str) or not user:
            raise ConfigError(f"{where}: 'username' must be a non-empty string")
        if not isinstance(pw, str):
            raise ConfigError(f"{where}: 'password' must be a string")
        nets: list[ipaddress.IPv4Network] = []
        targets = e.get("targets", [])
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ConfigError(f"{where}: 'targets' must be a list of networks as strings")
        for t in targets:
            try:
                nets.append(ipaddress.IPv4Network(str(t), strict=False))
            except ValueError as exc:
                raise ConfigError(f"{where}: bad target network {t!r}: {exc}") from exc
        creds.append(Credential(user, pw, tuple(nets)))
    warnings: list[str] = []
    if mode & (stat.S_IRGRP | stat.S_IROTH) and os.name == "posix":
        warnings.append(f"{p} is readable by other users; run: chmod 600 {p}")
    return CredentialSet(tuple(creds), tuple(warnings))
