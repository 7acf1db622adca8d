"""The probe daemon's configuration: a TOML file, overridden by the environment.

Example ``/etc/camaudit/probe.toml``::

    name = "pi-north"                       # this probe's name on the server
    site = "north"
    server = "https://camaudit.city.example"  # omit on an air-gapped VLAN
    token_file = "/etc/camaudit/probe.token"  # or CAMAUDIT_TOKEN in the environment
    allowed_targets = ["10.20.0.0/24", "10.20.1.10-50"]
    data_dir = "/var/lib/camaudit/probe"      # outbox/ and the signing key live here
    poll_interval = 60                        # seconds between job pulls
    interfaces = ["eth0"]                     # optional: only these face the cameras

    [[schedule]]                              # local scans, e.g. on an air-gapped VLAN
    name = "nightly"
    targets = ["10.20.0.0/24"]
    every = 86400
    options = { ports = "80,443,554,8000", frame = false }

Environment (wins over the file): ``CAMAUDIT_PROBE_CONFIG`` (the file),
``CAMAUDIT_SERVER``, ``CAMAUDIT_TOKEN``, ``CAMAUDIT_TOKEN_FILE``, ``CAMAUDIT_SITE``,
``CAMAUDIT_PROBE_NAME``, ``CAMAUDIT_ALLOWED_TARGETS`` (comma-separated),
``CAMAUDIT_PROBE_DATA_DIR``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from auditor.errors import ConfigError, TargetError
from auditor.targets import Targets, parse_targets

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("/etc/camaudit/probe.toml")
KNOWN_KEYS = {
    "name", "site", "server", "token", "token_file", "allowed_targets", "data_dir",
    "poll_interval", "interfaces", "schedule", "ca_file", "max_backoff", "timeout",
}  # fmt: skip
SCHEDULE_KEYS = {"name", "targets", "every", "options"}


@dataclass(frozen=True)
class Schedule:
    name: str
    targets: list[str]
    every: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProbeConfig:
    name: str
    site: str
    allowed: Targets
    data_dir: Path
    server: str | None = None
    token: str | None = None
    poll_interval: float = 60.0
    max_backoff: float = 600.0
    timeout: float = 60.0
    interfaces: list[str] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    ca_file: Path | None = None
    source: str = "defaults"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def key_path(self) -> Path:
        return self.data_dir / "signing.key"

    def check_targets(self, targets: list[str]) -> Targets:
        """Parse ``targets`` and return them; raise TargetError for any outside ``allowed``."""
        parsed = parse_targets(targets)
        outside = [str(n) for n in parsed.networks if not _inside(n, self.allowed)]
        if outside:
            allowed = ", ".join(str(n) for n in self.allowed.networks)
            raise TargetError(
                f"targets {', '.join(outside)} are outside this probe's allowed ranges "
                f"({allowed}): refusing the job"
            )
        return parsed


def _inside(net: ipaddress.IPv4Network, allowed: Targets) -> bool:
    return any(net.subnet_of(a) for a in allowed.networks)


def _default_data_dir() -> Path:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/camaudit/probe")
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "camaudit" / "probe"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the probe configuration {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}; known: {sorted(KNOWN_KEYS)}")
    return data


def _read_token(path: Path) -> str:
    try:
        st = path.stat()
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the token file {path}: {exc}") from exc
    if st.st_mode & 0o004:
        log.warning("%s is world-readable; chmod 640 it (the token is a secret)", path)
    if not token:
        raise ConfigError(f"the token file {path} is empty")
    return token


def _check_server(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: server {url!r} must be an http:// or https:// URL")
    if parts.scheme == "http" and not (
        parts.hostname in ("localhost",) or _is_loopback(parts.hostname)
    ):
        log.warning("server %s is plain http: the probe token crosses the network in clear", url)
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _number(data: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = data.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: {key} must be a positive number of seconds, not {value!r}")
    return float(value)


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> ProbeConfig:
    """Read the probe's configuration; raise ConfigError naming what is wrong and where.

    ``path`` (or ``$CAMAUDIT_PROBE_CONFIG``, or /etc/camaudit/probe.toml when it exists)
    is read first; environment variables override it.
    """
    env = os.environ if env is None else env
    if path is None and env.get("CAMAUDIT_PROBE_CONFIG"):
        path = Path(env["CAMAUDIT_PROBE_CONFIG"])
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    data = _read_file(path) if path else {}
    where = str(path) if path else "environment"

    name = env.get("CAMAUDIT_PROBE_NAME") or data.get("name") or os.uname().nodename
    site = env.get("CAMAUDIT_SITE") or data.get("site") or ""
    server = env.get("CAMAUDIT_SERVER") or data.get("server") or None
    if server is not None:
        server = _check_server(str(server), where)
    token: str | None = env.get("CAMAUDIT_TOKEN") or data.get("token") or None
    token_file = env.get("CAMAUDIT_TOKEN_FILE") or data.get("token_file")
    if server and token is None and token_file:  # offline probes need no token
        token = _read_token(Path(token_file))
    if server and not token:
        raise ConfigError(
            f"{where}: a server is set but no token: set token_file or CAMAUDIT_TOKEN "
            "(camaudit probe add on the server prints it)"
        )

    raw_allowed: Any = data.get("allowed_targets")
    if env.get("CAMAUDIT_ALLOWED_TARGETS"):
        raw_allowed = [t for t in env["CAMAUDIT_ALLOWED_TARGETS"].split(",") if t.strip()]
    if not raw_allowed or not isinstance(raw_allowed, list):
        # camaudit never chooses targets: a probe with no allowed ranges scans nothing.
        raise ConfigError(
            f"{where}: allowed_targets is required (the ranges this probe may scan, "
            'e.g. allowed_targets = ["10.20.0.0/24"]); jobs outside them are refused'
        )
    try:
        allowed = parse_targets([str(t) for t in raw_allowed])
    except TargetError as exc:
        raise ConfigError(f"{where}: allowed_targets: {exc}") from exc

    data_dir = Path(env.get("CAMAUDIT_PROBE_DATA_DIR") or data.get("data_dir") or "")
    if not str(data_dir) or str(data_dir) == ".":
        data_dir = _default_data_dir()

    cfg = ProbeConfig(
        name=str(name),
        site=str(site),
        allowed=allowed,
        data_dir=data_dir,
        server=server,
        token=token,
        poll_interval=_number(data, "poll_interval", 60.0, where),
        max_backoff=_number(data, "max_backoff", 600.0, where),
        timeout=_number(data, "timeout", 60.0, where),
        interfaces=[str(i) for i in data.get("interfaces", [])],
        ca_file=Path(data["ca_file"]) if data.get("ca_file") else None,
        source=where,
    )
    for i, entry in enumerate(data.get("schedule", [])):
        cfg.schedules.append(_schedule(entry, i, where, cfg))
    return cfg


def _schedule(entry: Any, i: int, where: str, cfg: ProbeConfig) -> Schedule:
    label = f"{where}: schedule #{i + 1}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{label} must be a table")
    unknown = sorted(set(entry) - SCHEDULE_KEYS)
    if unknown:
        raise ConfigError(f"{label}: unknown keys {unknown}; known: {sorted(SCHEDULE_KEYS)}")
    targets = entry.get("targets")
    if not isinstance(targets, list) or not targets:
        raise ConfigError(f"{label}: targets must be a non-empty list")
    try:
        cfg.check_targets([str(t) for t in targets])
    except TargetError as exc:
        raise ConfigError(f"{label}: {exc}") from exc
    options = entry.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{label}: options must be a table")
    return Schedule(
        name=str(entry.get("name") or f"schedule-{i + 1}"),
        targets=[str(t) for t in targets],
        every=_number(entry, "every", 86400.0, label),
        options=dict(options),
    )
