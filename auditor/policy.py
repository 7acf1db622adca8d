"""Site policy: what a city approved, read from a TOML file it keeps.

``load_policy(path)`` validates the whole file or raises :class:`ConfigError` naming the
file and line; nothing is half-loaded. ``apply_policy(devices, policy, now)`` re-runs the
rules with the policy active (rules read it through :func:`current_policy`), then applies
severity overrides, approved radios and accepted risks. The documented example is
``docs/examples/site-policy.toml``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import fnmatch
import ipaddress
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError
from auditor.model import Device, Evidence, Severity
from auditor.uploads import UploadPolicy, parse_upload_keys
from auditor.versions import Version, parse_version

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SECTIONS: dict[str, set[str]] = {
    "site": {"name", "compliance"},
    "inventory": {"vendors", "makers", "models"},
    "network": {
        "allowed_resolvers", "allowed_ntp", "allowed_vms", "allowed_destinations",
        "local_networks", "cameras_isolated",
        "upload_burst", "upload_window", "quiet_hours", "timezone",
    },
    "approved_radio": {"kind", "mac", "device", "reason"},
    "severity": set(),  # keys are rule ids
    "firmware_floor": {"vendor", "model", "minimum"},
    "accepted_risk": {"rule", "device", "justification", "expires", "accepted_by"},
}  # fmt: skip
_ARRAYS = {"firmware_floor", "approved_radio", "accepted_risk"}
_SELECTOR_KEYS = {"ip", "mac", "serial", "model"}
_MAC = re.compile(r"([0-9a-f]{2}:){5}[0-9a-f]{2}")


@dataclass(frozen=True)
class Selector:
    """Which device(s) an entry applies to; every key given must match."""

    ip: IPNetwork | None = None
    mac: str | None = None
    serial: str | None = None
    model: str | None = None  # shell-style pattern

    def matches(self, dev: Device) -> bool:
        if self.ip is not None:
            try:
                if ipaddress.ip_address(dev.ip) not in self.ip:
                    return False
            except ValueError:
                return False
        if self.mac is not None and (dev.mac or "").lower() != self.mac:
            return False
        if self.serial is not None and dev.serial != self.serial:
            return False
        return self.model is None or fnmatch.fnmatch((dev.model or "").upper(), self.model.upper())

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in vars(self).items() if v is not None]
        return ", ".join(parts)


@dataclass(frozen=True)
class FirmwareFloor:
    vendor: str  # a label or a real maker
    model: str  # pattern, "*" for all
    minimum: Version


@dataclass(frozen=True)
class ApprovedRadio:
    """A radio the site approved: by kind, radio MAC and/or the device carrying it."""

    kind: str  # "wifi" | "cellular" | "bluetooth" | "*"
    mac: str | None = None
    device: Selector | None = None
    reason: str = ""


@dataclass(frozen=True)
class AcceptedRisk:
    rule: str
    device: Selector
    justification: str
    expires: dt.date
    accepted_by: str = ""
    line: int | None = None


@dataclass(frozen=True)
class SitePolicy:
    """A validated site policy. Empty lists mean "no constraint"."""

    source: str = "<policy>"
    name: str = ""
    compliance: tuple[str, ...] = ()
    approved_vendors: tuple[str, ...] = ()
    approved_makers: tuple[str, ...] = ()
    approved_models: tuple[str, ...] = ()
    firmware_floors: tuple[FirmwareFloor, ...] = ()
    approved_radios: tuple[ApprovedRadio, ...] = ()
    allowed_resolvers: tuple[str, ...] = ()  # addresses or CIDRs
    allowed_ntp: tuple[str, ...] = ()  # addresses or CIDRs
    allowed_vms: tuple[str, ...] = ()  # recorders / management hosts: addresses or CIDRs
    allowed_destinations: tuple[str, ...] = ()  # addresses, CIDRs or "*.example.org"
    local_networks: tuple[str, ...] = ()  # the site's own space; empty: private ranges
    cameras_isolated: bool = False
    uploads: UploadPolicy = field(default_factory=UploadPolicy)  # [network] upload_*, quiet_hours
    severity_overrides: dict[str, Severity] = field(default_factory=dict)
    accepted_risks: tuple[AcceptedRisk, ...] = ()

    def traffic_policy(self) -> Any:
        """The same allowances as :class:`auditor.traffic.SitePolicy` (the traffic rules')."""
        from auditor import traffic  # late: only needed when traffic rules run

        kwargs: dict[str, Any] = {
            "resolvers": list(self.allowed_resolvers),
            "ntp_servers": list(self.allowed_ntp),
            "vms": list(self.allowed_vms),
            "allowed": list(self.allowed_destinations),
            "isolated": self.cameras_isolated,
            "uploads": self.uploads,
        }
        if self.local_networks:
            kwargs["local_networks"] = list(self.local_networks)
        return traffic.SitePolicy(**kwargs)


_active: contextvars.ContextVar[SitePolicy | None] = contextvars.ContextVar(
    "camaudit_site_policy", default=None
)


def current_policy() -> SitePolicy | None:
    """The site policy rules should apply now (None when the audit runs without one)."""
    return _active.get()


@contextlib.contextmanager
def using_policy(policy: SitePolicy | None) -> Iterator[None]:
    """Make ``policy`` the one :func:`current_policy` returns inside the ``with`` block."""
    token = _active.set(policy)
    try:
        yield
    finally:
        _active.reset(token)


# ---------------------------------------------------------------- loading


class _Doc:
    """The policy text, for pointing errors at a line."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def header_line(self, section: str, index: int = 0) -> int | None:
        pat = re.compile(rf"^\s*\[\[?\s*{re.escape(section)}\s*\]\]?\s*(#.*)?$")
        hits = [i + 1 for i, ln in enumerate(self.lines) if pat.match(ln)]
        return hits[index] if index < len(hits) else None

    def key_line(self, section: str | None, key: str, index: int = 0) -> int | None:
        start = (self.header_line(section, index) or 0) if section else 0
        pat = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
        for i in range(start, len(self.lines)):
            if i > start and section and self.lines[i].lstrip().startswith("["):
                break
            if pat.match(self.lines[i]):
                return i + 1
        return start or None

    def error(self, line: int | None, msg: str) -> ConfigError:
        where = f"{self.source}:{line}" if line else self.source
        return ConfigError(f"{where}: {msg}")


def _str_list(doc: _Doc, value: Any, section: str, key: str, i: int = 0) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise doc.error(
            doc.key_line(section, key, i), f"[{section}] {key} must be a list of strings"
        )
    return tuple(v.strip() for v in value)


def _network(doc: _Doc, text: str, line: int | None, what: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise doc.error(line, f"{what}: {exc}") from None


def _selector(doc: _Doc, value: Any, section: str, i: int) -> Selector:
    line = doc.key_line(section, "device", i)
    if not isinstance(value, dict) or not value:
        raise doc.error(line, f'[[{section}]] device must be a table such as {{ ip = "..." }}')
    unknown = set(value) - _SELECTOR_KEYS
    if unknown:
        raise doc.error(
            line,
            f"[[{section}]] device: unknown key(s) {sorted(unknown)}; use {sorted(_SELECTOR_KEYS)}",
        )
    if not all(isinstance(v, str) and v.strip() for v in value.values()):
        raise doc.error(line, f"[[{section}]] device values must be non-empty strings")
    mac = value.get("mac")
    if mac is not None and not _MAC.fullmatch(mac.lower()):
        raise doc.error(line, f"[[{section}]] device.mac {mac!r} is not aa:bb:cc:dd:ee:ff")
    return Selector(
        ip=_network(doc, value["ip"], line, "device.ip") if "ip" in value else None,
        mac=mac.lower() if mac else None,
        serial=value.get("serial"),
        model=value.get("model"),
    )


def _version(doc: _Doc, value: Any, line: int | None, what: str) -> Version:
    if not isinstance(value, str):
        raise doc.error(line, f"{what} must be a version string")
    try:
        return parse_version(value)
    except ValueError as exc:
        raise doc.error(line, f"{what}: {exc}") from None


def _check_shape(doc: _Doc, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key not in _SECTIONS:
            raise doc.error(
                doc.key_line(None, key) or doc.header_line(key),
                f"unknown section or key {key!r}; known: {sorted(_SECTIONS)}",
            )
        tables = value if key in _ARRAYS else [value]
        if key in _ARRAYS and not isinstance(value, list):
            raise doc.error(doc.header_line(key), f"{key} must be an array: write [[{key}]]")
        for i, table in enumerate(tables):
            if not isinstance(table, dict):
                raise doc.error(doc.header_line(key, i), f"[{key}] must be a table")
            if key == "severity":
                continue
            unknown = set(table) - _SECTIONS[key]
            if unknown:
                bad = sorted(unknown)[0]
                raise doc.error(
                    doc.key_line(key, bad, i),
                    f"[{key}] unknown key {bad!r}; known: {sorted(_SECTIONS[key])}",
                )


def parse_policy(text: str, source: str = "<policy>") -> SitePolicy:
    """Parse and validate policy TOML; raise ConfigError "file:line: problem" when bad."""
    from auditor.compliance import load_lists
    from auditor.rules import RULES  # late: the rules import this module

    doc = _Doc(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        raise doc.error(int(m.group(1)) if m else None, f"invalid TOML: {exc}") from None
    _check_shape(doc, data)
    site, inv, net = data.get("site", {}), data.get("inventory", {}), data.get("network", {})

    compliance = _str_list(doc, site.get("compliance", []), "site", "compliance")
    lists = load_lists()
    for cid in compliance:
        if cid not in lists:
            raise doc.error(
                doc.key_line("site", "compliance"),
                f"unknown compliance list {cid!r}; shipped: {sorted(lists)}",
            )

    overrides: dict[str, Severity] = {}
    for rid, sev in data.get("severity", {}).items():
        line = doc.key_line("severity", rid)
        if rid not in RULES:
            raise doc.error(line, f"[severity] unknown rule id {rid!r} (see docs/rules.md)")
        try:
            overrides[rid] = Severity.parse(str(sev))
        except ValueError as exc:
            raise doc.error(line, f"[severity] {rid}: {exc}") from None

    floors = []
    for i, t in enumerate(data.get("firmware_floor", [])):
        for req in ("vendor", "minimum"):
            if not isinstance(t.get(req), str) or not t[req].strip():
                raise doc.error(
                    doc.header_line("firmware_floor", i), f'[[firmware_floor]] needs {req} = "..."'
                )
        model = t.get("model", "*")
        if not isinstance(model, str):
            raise doc.error(doc.key_line("firmware_floor", "model", i), "model must be a string")
        line = doc.key_line("firmware_floor", "minimum", i)
        floors.append(
            FirmwareFloor(
                t["vendor"].strip(),
                model,
                _version(doc, t["minimum"], line, "[[firmware_floor]] minimum"),
            )
        )

    radios = []
    for i, t in enumerate(data.get("approved_radio", [])):
        kind = t.get("kind", "*")
        if kind not in ("wifi", "cellular", "bluetooth", "*"):
            raise doc.error(
                doc.key_line("approved_radio", "kind", i),
                f"[[approved_radio]] kind {kind!r}: use wifi, cellular, bluetooth or *",
            )
        mac = t.get("mac")
        if mac is not None and (not isinstance(mac, str) or not _MAC.fullmatch(mac.lower())):
            raise doc.error(
                doc.key_line("approved_radio", "mac", i),
                f"[[approved_radio]] mac {mac!r} is not aa:bb:cc:dd:ee:ff",
            )
        if mac is None and "device" not in t:
            raise doc.error(
                doc.header_line("approved_radio", i),
                "[[approved_radio]] needs a mac or a device selector",
            )
        reason = t.get("reason", "")
        if not isinstance(reason, str):
            raise doc.error(doc.key_line("approved_radio", "reason", i), "reason must be a string")
        sel = _selector(doc, t["device"], "approved_radio", i) if "device" in t else None
        radios.append(ApprovedRadio(kind, mac.lower() if mac else None, sel, reason))

    risks = []
    for i, t in enumerate(data.get("accepted_risk", [])):
        head = doc.header_line("accepted_risk", i)
        rid = t.get("rule")
        if not isinstance(rid, str) or rid not in RULES:
            raise doc.error(
                doc.key_line("accepted_risk", "rule", i) or head,
                f"[[accepted_risk]] unknown rule id {rid!r} (see docs/rules.md)",
            )
        just = t.get("justification")
        if not isinstance(just, str) or len(just.strip()) < 10:
            raise doc.error(
                doc.key_line("accepted_risk", "justification", i) or head,
                "[[accepted_risk]] needs a justification (at least 10 characters)",
            )
        expires = t.get("expires")
        if isinstance(expires, dt.datetime) or not isinstance(expires, dt.date):
            raise doc.error(
                doc.key_line("accepted_risk", "expires", i) or head,
                "[[accepted_risk]] expires must be a date, e.g. expires = 2027-06-30",
            )
        if "device" not in t:
            raise doc.error(head, "[[accepted_risk]] needs device = { ip/mac/serial/model = ... }")
        by = t.get("accepted_by", "")
        if not isinstance(by, str):
            raise doc.error(
                doc.key_line("accepted_risk", "accepted_by", i), "accepted_by must be a string"
            )
        sel = _selector(doc, t["device"], "accepted_risk", i)
        risks.append(AcceptedRisk(rid, sel, " ".join(just.split()), expires, by, head))

    nets: dict[str, tuple[str, ...]] = {}
    for key in ("allowed_resolvers", "allowed_ntp", "allowed_vms", "local_networks"):
        nets[key] = _str_list(doc, net.get(key, []), "network", key)
        for item in nets[key]:
            _network(doc, item, doc.key_line("network", key), key)
    dests = _str_list(doc, net.get("allowed_destinations", []), "network", "allowed_destinations")
    for item in dests:
        if not re.fullmatch(r"(\*\.)?[a-z0-9][a-z0-9.\-]*", item.lower()):
            _network(
                doc,
                item,
                doc.key_line("network", "allowed_destinations"),
                "allowed_destinations (an address, a CIDR or a name like *.city.example)",
            )
    isolated = net.get("cameras_isolated", False)
    if not isinstance(isolated, bool):
        raise doc.error(
            doc.key_line("network", "cameras_isolated"), "cameras_isolated must be true or false"
        )
    try:
        uploads = parse_upload_keys(net)
    except ValueError as exc:  # the message starts with the offending key
        raise doc.error(doc.key_line("network", str(exc).split(":", 1)[0]), str(exc)) from None
    name = site.get("name", "")
    if not isinstance(name, str):
        raise doc.error(doc.key_line("site", "name"), "[site] name must be a string")
    return SitePolicy(
        source=source,
        name=name,
        compliance=compliance,
        approved_vendors=_str_list(doc, inv.get("vendors", []), "inventory", "vendors"),
        approved_makers=_str_list(doc, inv.get("makers", []), "inventory", "makers"),
        approved_models=_str_list(doc, inv.get("models", []), "inventory", "models"),
        firmware_floors=tuple(floors),
        approved_radios=tuple(radios),
        allowed_resolvers=nets["allowed_resolvers"],
        allowed_ntp=nets["allowed_ntp"],
        allowed_vms=nets["allowed_vms"],
        allowed_destinations=dests,
        local_networks=nets["local_networks"],
        cameras_isolated=isolated,
        uploads=uploads,
        severity_overrides=overrides,
        accepted_risks=tuple(risks),
    )


def load_policy(path: str | Path) -> SitePolicy:
    """Read and validate a site policy file; raise ConfigError naming file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read policy file: {exc}") from exc
    return parse_policy(text, str(p))


# ---------------------------------------------------------------- applying


def apply_policy(devices: Iterable[Device], policy: SitePolicy | None, now: dt.date) -> None:
    """Evaluate every rule with ``policy`` active, then apply its overrides; return None.

    Findings of rules the policy adds (inventory, firmware floor, compliance) appear;
    ``[severity]`` overrides change severities; approved radios and allowed
    destinations reach the radio and traffic rules; a finding covered by an accepted risk that has
    not expired on ``now`` becomes severity info, titled "Accepted risk: ...", with the
    justification as evidence. An expired acceptance stops applying and leaves a note.
    Idempotent, like :func:`auditor.rules.evaluate`.
    """
    from auditor import traffic  # late: the rules import this module
    from auditor.rules import evaluate

    devs = list(devices)
    if policy is None:
        with using_policy(None):
            evaluate(devs)
        return
    with using_policy(policy), traffic.use_policy(policy.traffic_policy()):
        evaluate(devs)
    for dev in devs:
        kept = []
        for f in dev.findings:
            if f.rule in policy.severity_overrides:
                f.severity = policy.severity_overrides[f.rule]
            for risk in policy.accepted_risks:
                if risk.rule != f.rule or not risk.device.matches(dev):
                    continue
                if risk.expires < now:
                    dev.notes.append(
                        f"accepted risk for {f.rule} ({policy.source}:{risk.line}) expired on "
                        f"{risk.expires.isoformat()}: the finding applies again"
                    )
                    continue
                f.severity = Severity.INFO
                f.title = f"Accepted risk: {f.title}"
                who = f" by {risk.accepted_by}" if risk.accepted_by else ""
                f.evidence.append(
                    Evidence(
                        f"policy:{policy.source}",
                        f"risk accepted{who} until {risk.expires.isoformat()}",
                        risk.justification,
                    )
                )
                break
            kept.append(f)
        dev.findings = sorted(kept, key=lambda x: (-int(x.severity), x.rule))
