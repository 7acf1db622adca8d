"""Judge a device's traffic (``flows`` observations) against the site policy and catalog.

:func:`assess` names every flow (TLS SNI, then HTTP Host, then DNS answers), decides
whether its peer is on the internet, whether the site allows it (its resolvers, NTP
servers, VMS, allowed destinations), and which catalog entries it matches. The rules in
``auditor/rules/traffic.py`` turn that into findings.

The site policy reaches the rules through :func:`use_policy` (a context variable), so
rules keep the registry's ``Device -> Hit`` shape::

    with use_policy(SitePolicy(resolvers=["10.0.0.53"], isolated=True)):
        evaluate(devices)

Without one, :data:`DEFAULT_POLICY` applies: private ranges are local, nothing else is
allowed, cameras are not declared isolated.

A learned baseline (MUD-like) records, per device and per model, the destinations seen
(``proto/port/name-or-address``); :func:`drift` lists what a device does beyond it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from auditor.endpoints import Catalog, EndpointMatch, load_catalog
from auditor.errors import ConfigError
from auditor.model import Device, Observation
from auditor.uploads import UploadPolicy

DEFAULT_LOCAL = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
)
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(items: list[str] | tuple[str, ...], what: str) -> list[Net]:
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"site policy: {what} {item!r} is not an address or CIDR") from None
    return out


@dataclass
class SitePolicy:
    """What the site allows its cameras to talk to.

    ``resolvers`` / ``ntp_servers``: the site's own DNS and NTP servers (addresses).
    ``vms``: recorders and management hosts. ``allowed``: other allowed destinations
    (addresses/CIDRs, or name patterns such as ``*.city.example``). ``local_networks``:
    the site's own address space (never "internet"). ``isolated``: the cameras are
    meant to reach nothing outside ``local_networks`` except what is allowed.
    ``baseline``: a learned baseline (see :func:`learn_baseline`) to compare against.
    ``uploads``: the upload-burst threshold and quiet hours (:mod:`auditor.uploads`).
    """

    resolvers: list[str] = field(default_factory=list)
    ntp_servers: list[str] = field(default_factory=list)
    vms: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    local_networks: list[str] = field(default_factory=lambda: list(DEFAULT_LOCAL))
    isolated: bool = False
    baseline: dict[str, list[str]] | None = None
    # upload-burst threshold and quiet hours (auditor.uploads, auditor/rules/upload.py)
    uploads: UploadPolicy = field(default_factory=UploadPolicy)

    def __post_init__(self) -> None:
        if isinstance(self.uploads, dict):  # round trip through to_dict()
            self.uploads = UploadPolicy.from_dict(self.uploads)
        self._resolvers = _nets(self.resolvers, "resolver")
        self._ntp = _nets(self.ntp_servers, "NTP server")
        self._vms = _nets(self.vms, "VMS")
        self._allowed = _nets([a for a in self.allowed if _is_net(a)], "allowed destination")
        self._allowed_names = [a.lower() for a in self.allowed if not _is_net(a)]
        self._local = _nets(self.local_networks, "local network")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["baseline"] = None if self.baseline is None else f"{len(self.baseline)} profiles"
        return {k: v for k, v in d.items() if not k.startswith("_")}

    def is_local(self, ip: str) -> bool:
        """Return True for the site's own addresses and for non-routable ones."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if addr.is_multicast or addr.is_loopback or addr.is_link_local or addr.is_unspecified:
            return True
        if addr.version == 4 and ip == "255.255.255.255":
            return True
        return _in(addr, self._local)

    def allowance(self, ip: str, proto: str, port: int, names: list[str]) -> str | None:
        """Return why the site allows this destination (words), or None."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if port == 53 and _in(addr, self._resolvers):
            return "site resolver"
        if proto == "udp" and port == 123 and _in(addr, self._ntp):
            return "site NTP server"
        if _in(addr, self._vms):
            return "VMS / recorder"
        if _in(addr, self._allowed):
            return "allowed destination"
        for n in names:
            for pat in self._allowed_names:
                if n == pat or (pat.startswith("*.") and (n.endswith(pat[1:]) or n == pat[2:])):
                    return f"allowed name {pat}"
        return None

    def is_site_resolver(self, ip: str) -> bool:
        try:
            return _in(ipaddress.ip_address(ip), self._resolvers)
        except ValueError:
            return False


def _is_net(text: str) -> bool:
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return False
    return True


def _in(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: list[Net]) -> bool:
    return any(addr in n for n in nets if n.version == addr.version)


DEFAULT_POLICY = SitePolicy()
_POLICY: ContextVar[SitePolicy | None] = ContextVar("camaudit_site_policy", default=None)


@contextlib.contextmanager
def use_policy(policy: SitePolicy) -> Iterator[SitePolicy]:
    """Make ``policy`` the one traffic rules judge by, inside the ``with`` block."""
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


def current_policy() -> SitePolicy:
    """Return the policy set by :func:`use_policy`, or :data:`DEFAULT_POLICY`."""
    return _POLICY.get() or DEFAULT_POLICY


_BASELINE: ContextVar[dict[str, list[str]] | None] = ContextVar(
    "camaudit_traffic_baseline", default=None
)


@contextlib.contextmanager
def use_baseline(baseline: dict[str, list[str]] | None) -> Iterator[None]:
    """Make ``baseline`` the one drift is judged against when the policy carries none
    (``auditor.policy.apply_policy`` builds its own traffic policy, without a baseline)."""
    token = _BASELINE.set(baseline)
    try:
        yield
    finally:
        _BASELINE.reset(token)


@dataclass
class FlowView:
    """One flow of a device, judged: its name, whether it leaves the site, why allowed."""

    flow: dict[str, Any]
    origin: str  # the observation it came from, as evidence cites it
    name: str | None
    internet: bool
    allowed: str | None
    matches: list[EndpointMatch]

    @property
    def categories(self) -> set[str]:
        return {m.endpoint.category for m in self.matches}

    @property
    def outbound(self) -> bool:
        return self.flow.get("direction") == "out"

    def describe(self) -> str:
        """Return "udp → p2p.easy4ipcloud.com (198.19.8.1:8800) 14 pkts out/1.2 kB, ..."."""
        f = self.flow
        target = (
            f"{self.name} ({f.get('peer')}:{f.get('peer_port')})"
            if self.name
            else (f"{f.get('peer')}:{f.get('peer_port')}")
        )
        arrow = "→" if self.outbound else "←"
        text = (
            f"{f.get('proto')} {arrow} {target}: {f.get('packets_out', 0)} pkts/"
            f"{human_bytes(int(f.get('bytes_out') or 0))} out, {f.get('packets_in', 0)} pkts/"
            f"{human_bytes(int(f.get('bytes_in') or 0))} in, first seen "
            f"{timestamp(f.get('first_seen'))}"
        )
        if self.matches:
            m = self.matches[0]
            text += f"; {m.endpoint.service} [{m.endpoint.id}, by {m.how}]"
        return text

    def key(self) -> str:
        """Return the destination as a baseline records it: ``proto/port/name-or-ip``."""
        f = self.flow
        return f"{f.get('proto')}/{f.get('peer_port')}/{self.name or f.get('peer')}"


@dataclass
class DeviceTraffic:
    """Everything traffic rules need about one device."""

    flows: list[FlowView]
    dns: list[tuple[str, dict[str, Any]]]  # (origin, query entry)
    upnp: list[tuple[str, dict[str, Any]]]  # (origin, event)
    policy: SitePolicy


def human_bytes(n: int) -> str:
    """Return ``1.2 kB`` style sizes (powers of 1000, as network tools print)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def timestamp(ts: Any) -> str:
    """Return an epoch timestamp as ``2026-11-24 20:31:05Z`` (``?`` when absent)."""
    if not isinstance(ts, int | float) or ts <= 0:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))


def flow_name(flow: dict[str, Any]) -> str | None:
    """Return the best name for a flow's peer: TLS SNI, HTTP Host, then a DNS name."""
    for key in ("sni", "http_host"):
        if isinstance(flow.get(key), str) and flow[key]:
            return str(flow[key])
    names = flow.get("names")
    if isinstance(names, list) and names:
        return str(names[0])
    return None


def flow_observations(dev: Device) -> list[Observation]:
    """Return the device's per-device ``flows`` observations (not the summaries)."""
    return [
        o
        for o in dev.observations
        if o.probe == "flows" and o.data.get("kind", "device") == "device"
    ]


def assess(
    dev: Device, policy: SitePolicy | None = None, catalog: Catalog | None = None
) -> DeviceTraffic:
    """Judge every flow of ``dev``; return a :class:`DeviceTraffic` (never raises for data)."""
    policy = policy or current_policy()
    catalog = catalog or load_catalog()
    views: list[FlowView] = []
    dns: list[tuple[str, dict[str, Any]]] = []
    upnp: list[tuple[str, dict[str, Any]]] = []
    for obs in flow_observations(dev):
        origin = obs.data.get("source") or "flows"
        for f in _rows(obs.data.get("flows")):
            peer = str(f.get("peer", ""))
            proto = str(f.get("proto", ""))
            port = f.get("peer_port") if f.get("direction") == "out" else f.get("local_port")
            port = port if isinstance(port, int) else 0
            raw_names = f.get("names")
            names = (
                [n for n in raw_names if isinstance(n, str)] if isinstance(raw_names, list) else []
            )
            for extra in (f.get("sni"), f.get("http_host")):
                if isinstance(extra, str) and extra and extra not in names:
                    names.insert(0, extra)
            internet = not policy.is_local(peer)
            matches = (
                catalog.match(
                    names=names,
                    address=peer,
                    proto=proto,
                    port=port,
                    payload_hex=f.get("payload_hex_out") if f.get("direction") == "out" else None,
                )
                if f.get("direction") == "out"
                else []
            )
            views.append(
                FlowView(
                    flow=f,
                    origin=str(origin),
                    name=flow_name(f),
                    internet=internet,
                    allowed=policy.allowance(peer, proto, port, names),
                    matches=matches,
                )
            )
        # lists in well-formed data; anything else (a stored or ingested oddity) is no rows
        queries, events = obs.data.get("dns_queries"), obs.data.get("upnp")
        dns += [(str(origin), q) for q in _rows(queries)]
        upnp += [(str(origin), e) for e in _rows(events)]
    return DeviceTraffic(flows=views, dns=dns, upnp=upnp, policy=policy)


def _rows(value: Any) -> list[dict[str, Any]]:
    """The dicts of a list-valued observation field; [] for anything that is not a list."""
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


# --- learned baseline (MUD-like) -------------------------------------------------------


def profile_keys(dev: Device) -> list[str]:
    """Return the baseline profiles a device belongs to: itself, then its model."""
    keys = [f"device:{k}" for k in dev.identity_keys] or [f"device:ip:{dev.ip}"]
    if dev.model:
        keys.append(f"model:{(dev.oem or dev.vendor or '?').lower()}:{dev.model.lower()}")
    return keys


def learn_baseline(
    devices: list[Device], into: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """Add every outbound destination of every device to a baseline; return it."""
    base = {k: set(v) for k, v in (into or {}).items()}
    for dev in devices:
        seen = {v.key() for v in assess(dev, DEFAULT_POLICY).flows if v.outbound and v.internet}
        for key in profile_keys(dev):
            base.setdefault(key, set()).update(seen)
    return {k: sorted(v) for k, v in sorted(base.items())}


def drift(dev: Device, traffic: DeviceTraffic) -> list[FlowView]:
    """Return outbound internet flows outside every baseline profile of ``dev``.

    The baseline is the policy's, else the one set by :func:`use_baseline`.
    Empty when there is no baseline or none of the device's profiles is in
    it (a device never seen has nothing to drift from; it is reported by other rules).
    """
    base = traffic.policy.baseline or _BASELINE.get()
    if not base:
        return []
    known: set[str] = set()
    found = False
    for key in profile_keys(dev):
        if key in base:
            found = True
            known.update(base[key])
    if not found:
        return []
    return [
        v
        for v in traffic.flows
        if v.outbound and v.internet and not v.allowed and v.key() not in known
    ]


def save_baseline(path: Path, baseline: dict[str, list[str]]) -> None:
    """Write a baseline as JSON (an auditor reviews and accepts it by keeping the file)."""
    path.write_text(json.dumps({"camaudit_baseline": 1, "profiles": baseline}, indent=2))


def load_baseline(path: Path) -> dict[str, list[str]]:
    """Read a baseline written by :func:`save_baseline`; raise ConfigError when invalid."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        profiles = doc["profiles"]
        return {str(k): [str(x) for x in v] for k, v in profiles.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a camaudit baseline ({exc})") from exc
