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
from auditor.versions import Version, parse_version

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SECTIONS: dict[str, set[str]] = {
    "site": {"name", "compliance"},
    "inventory": {"vendors", "makers", "models"},
    "network": {
        "allowed_resolvers", "allowed_ntp", "allowed_destinations", "allowed_names",
        "cameras_isolated",
    },
    "severity": set(),  # keys are rule ids
    "firmware_floor": {"vendor", "model", "minimum"},
    "approved_radio": {"kind", "mac", "device"},
    "accepted_risk": {"rule", "device", "justification", "expires", "accepted_by"},
}  # fmt: skip
_ARRAYS = {"firmware_floor", "approved_radio", "accepted_risk"}
_SELECTOR_KEYS = {"ip", "mac", "serial", "model"}


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
    kind: str  # "wifi" | "cellular" | "bluetooth" | "*"
    mac: str | None = None
    device: Selector | None = None


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
    allowed_resolvers: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
    allowed_ntp: tuple[str, ...] = ()  # addresses or host names
    allowed_destinations: tuple[IPNetwork, ...] = ()
    allowed_names: tuple[str, ...] = ()  # DNS names, "*.example.org" patterns allowed
    cameras_isolated: bool = False
    severity_overrides: dict[str, Severity] = field(default_factory=dict)
    accepted_risks: tuple[AcceptedRisk, ...] = ()

    def destination_allowed(self, ip: str | None = None, name: str | None = None) -> bool:
        """True when ``ip`` is inside an allowed network or ``name`` fits an allowed name."""
        if ip:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                addr = None
            if addr is not None and (
                any(addr in n for n in self.allowed_destinations) or addr in self.allowed_resolvers
            ):
                return True
            if ip in self.allowed_ntp:
                return True
        if name:
            n = name.rstrip(".").lower()
            return any(fnmatch.fnmatch(n, p.lower()) for p in self.allowed_names) or (
                n in (h.lower() for h in self.allowed_ntp)
            )
        return False


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
        raise doc.error(doc.key_line(section, key, i), f"[{section}] {key} must be a list of strings")
    return tuple(v.strip() for v in value)


def _network(doc: _Doc, text: str, line: int | None, what: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise doc.error(line, f"{what}: {exc}") from None


def _selector(doc: _Doc, value: Any, section: str, i: int) -> Selector:
    line = doc.key_line(section, "device", i)
    if not isinstance(value, dict) or not value:
        raise doc.error(line, f"[[{section}]] device must be a table such as {{ ip = \"...\" }}")
    unknown = set(value) - _SELECTOR_KEYS
    if unknown:
        raise doc.error(line, f"[[{section}]] device: unknown key(s) {sorted(unknown)}; "
                        f"use {sorted(_SELECTOR_KEYS)}")  # fmt: skip
    if not all(isinstance(v, str) and v.strip() for v in value.values()):
        raise doc.error(line, f"[[{section}]] device values must be non-empty strings")
    mac = value.get("mac")
    if mac is not None and not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac.lower()):
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
            raise doc.error(doc.key_line(None, key) or doc.header_line(key),
                            f"unknown section or key {key!r}; known: {sorted(_SECTIONS)}")  # fmt: skip
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
                raise doc.error(doc.key_line(key, bad, i),
                                f"[{key}] unknown key {bad!r}; known: {sorted(_SECTIONS[key])}")  # fmt: skip


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
            raise doc.error(doc.key_line("site", "compliance"),
                            f"unknown compliance list {cid!r}; shipped: {sorted(lists)}")  # fmt: skip

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
                raise doc.error(doc.header_line("firmware_floor", i),
                                f"[[firmware_floor]] needs {req} = \"...\"")  # fmt: skip
        model = t.get("model", "*")
        if not isinstance(model, str):
            raise doc.error(doc.key_line("firmware_floor", "model", i), "model must be a string")
        line = doc.key_line("firmware_floor", "minimum", i)
        floors.append(FirmwareFloor(t["vendor"].strip(), model, _version(doc, t["minimum"], line,
                                    "[[firmware_floor]] minimum")))  # fmt: skip

    radios = []
    for i, t in enumerate(data.get("approved_radio", [])):
        kind = t.get("kind", "*")
        if kind not in ("wifi", "cellular", "bluetooth", "*"):
            raise doc.error(doc.key_line("approved_radio", "kind", i),
                            f"[[approved_radio]] kind {kind!r}: use wifi, cellular, bluetooth or *")  # fmt: skip
        mac = t.get("mac")
        if mac is not None and (
            not isinstance(mac, str) or not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac.lower())
        ):
            raise doc.error(doc.key_line("approved_radio", "mac", i),
                            f"[[approved_radio]] mac {mac!r} is not aa:bb:cc:dd:ee:ff")  # fmt: skip
        if mac is None and "device" not in t:
            raise doc.error(doc.header_line("approved_radio", i),
                            "[[approved_radio]] needs a mac or a device selector")  # fmt: skip
        sel = _selector(doc, t["device"], "approved_radio", i) if "device" in t else None
        radios.append(ApprovedRadio(kind, mac.lower() if mac else None, sel))

    risks = []
    for i, t in enumerate(data.get("accepted_risk", [])):
        head = doc.header_line("accepted_risk", i)
        rid = t.get("rule")
        if not isinstance(rid, str) or rid not in RULES:
            raise doc.error(doc.key_line("accepted_risk", "rule", i) or head,
                            f"[[accepted_risk]] unknown rule id {rid!r} (see docs/rules.md)")  # fmt: skip
        just = t.get("justification")
        if not isinstance(just, str) or len(just.strip()) < 10:
            raise doc.error(doc.key_line("accepted_risk", "justification", i) or head,
                            "[[accepted_risk]] needs a justification (at least 10 characters)")  # fmt: skip
        expires = t.get("expires")
        if isinstance(expires, dt.datetime) or not isinstance(expires, dt.date):
            raise doc.error(doc.key_line("accepted_risk", "expires", i) or head,
                            "[[accepted_risk]] expires must be a date, e.g. expires = 2027-06-30")  # fmt: skip
        if "device" not in t:
            raise doc.error(head, "[[accepted_risk]] needs device = { ip/mac/serial/model = ... }")
        by = t.get("accepted_by", "")
        if not isinstance(by, str):
            raise doc.error(doc.key_line("accepted_risk", "accepted_by", i), "accepted_by must be a string")
        sel = _selector(doc, t["device"], "accepted_risk", i)
        risks.append(AcceptedRisk(rid, sel, " ".join(just.split()), expires, by, head))

    resolvers = []
    for r in _str_list(doc, net.get("allowed_resolvers", []), "network", "allowed_resolvers"):
        try:
            resolvers.append(ipaddress.ip_address(r))
        except ValueError:
            raise doc.error(doc.key_line("network", "allowed_resolvers"),
                            f"allowed_resolvers: {r!r} is not an IP address") from None  # fmt: skip
    dest_line = doc.key_line("network", "allowed_destinations")
    dests = tuple(_network(doc, d, dest_line, "allowed_destinations")
                  for d in _str_list(doc, net.get("allowed_destinations", []), "network",
                                     "allowed_destinations"))  # fmt: skip
    isolated = net.get("cameras_isolated", False)
    if not isinstance(isolated, bool):
        raise doc.error(doc.key_line("network", "cameras_isolated"), "cameras_isolated must be true or false")
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
        allowed_resolvers=tuple(resolvers),
        allowed_ntp=_str_list(doc, net.get("allowed_ntp", []), "network", "allowed_ntp"),
        allowed_destinations=dests,
        allowed_names=_str_list(doc, net.get("allowed_names", []), "network", "allowed_names"),
        cameras_isolated=isolated,
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


def _radio_approved(policy: SitePolicy, dev: Device, ev: Evidence) -> bool:
    for a in policy.approved_radios:
        if a.device is not None and not a.device.matches(dev):
            continue
        if a.mac is not None and (ev.value or "").lower() != a.mac:
            continue
        if a.kind != "*" and a.kind not in ev.detail.lower() and a.kind != _radio_kind(ev):
            continue
        return True
    return False


def _radio_kind(ev: Evidence) -> str:
    text = ev.detail.lower()
    if "ifType 243" in ev.detail or "ifType 244" in ev.detail or "cellular" in text:
        return "cellular"
    return "wifi"


def apply_policy(devices: Iterable[Device], policy: SitePolicy | None, now: dt.date) -> None:
    """Evaluate every rule with ``policy`` active, then apply its overrides; return None.

    Findings of rules the policy adds (inventory, firmware floor, compliance) appear;
    ``[severity]`` overrides change severities; radio findings whose every radio is
    approved are dropped with a note; a finding covered by an accepted risk that has
    not expired on ``now`` becomes severity info, titled "Accepted risk: ...", with the
    justification as evidence. An expired acceptance stops applying and leaves a note.
    Idempotent, like :func:`auditor.rules.evaluate`.
    """
    from auditor.rules import evaluate  # late: the rules import this module

    devs = list(devices)
    with using_policy(policy):
        evaluate(devs)
    if policy is None:
        return
    for dev in devs:
        kept = []
        for f in dev.findings:
            if f.rule.startswith("CAM-RADIO-") and policy.approved_radios and f.evidence and all(
                _radio_approved(policy, dev, e) for e in f.evidence
            ):
                dev.notes.append(f"{f.rule}: every radio is approved by {policy.source}")
                continue
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
