"""The phone-home endpoint catalog (``auditor/data/endpoints.toml``) and its matching.

An entry names a service cameras talk to (a vendor cloud, a P2P broker, STUN, NTP, a
public resolver) by DNS/SNI/Host name patterns, addresses, ports and payload
signatures. :meth:`Catalog.match` says which entries a flow matches and how (``name``,
``address``, ``payload``, ``port``), so a finding can say why it believes what it says.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError

DATA_FILE = Path(__file__).parent / "data" / "endpoints.toml"
CATEGORIES = ("cloud", "p2p", "stun", "ntp", "dns", "ddns", "update", "telemetry")


@dataclass(frozen=True)
class Endpoint:
    """One catalog entry (see the key list at the top of endpoints.toml)."""

    id: str
    vendor: str
    service: str
    category: str
    names: tuple[str, ...] = ()
    addresses: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    ports: tuple[tuple[str, int], ...] = ()
    port_match: bool = False
    payload: tuple[tuple[tuple[int, bytes], ...], ...] = ()
    proto: str | None = None
    examples: tuple[str, ...] = ()
    reference: str = ""

    def name_matches(self, name: str) -> bool:
        """Return True when ``name`` (lower case, no trailing dot) fits a pattern."""
        for pat in self.names:
            if fnmatch.fnmatchcase(name, pat):
                return True
            if pat.startswith("*.") and name == pat[2:]:
                return True
        return False

    def payload_matches(self, head: bytes) -> bool:
        """Return True when the first payload bytes ``head`` carry a signature."""
        return any(
            all(head[off : off + len(sig)] == sig for off, sig in alt) for alt in self.payload
        )


@dataclass(frozen=True)
class EndpointMatch:
    """An entry a flow matched, and the signal that matched (``name``/``address``/...)."""

    endpoint: Endpoint
    how: str
    value: str


class Catalog:
    """All endpoint entries, with lookups for one flow."""

    def __init__(self, entries: list[Endpoint]) -> None:
        self.entries = entries

    def match(
        self,
        *,
        names: list[str],
        address: str,
        proto: str,
        port: int,
        payload_hex: str | None,
    ) -> list[EndpointMatch]:
        """Return the entries one outgoing flow matches, strongest signal first."""
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            addr = None
        try:
            head = bytes.fromhex(payload_hex or "")
        except ValueError:
            head = b""
        out: list[EndpointMatch] = []
        for e in self.entries:
            hit = next((EndpointMatch(e, "name", n) for n in names if e.name_matches(n)), None)
            if hit is None and addr is not None and _addr_in(addr, e.addresses):
                hit = EndpointMatch(e, "address", address)
            proto_ok = e.proto is None or e.proto == proto
            if hit is None and proto_ok and head and e.payload_matches(head):
                hit = EndpointMatch(e, "payload", head[:8].hex())
            if hit is None and proto_ok and e.port_match and (proto, port) in e.ports:
                hit = EndpointMatch(e, "port", f"{proto}/{port}")
            if hit is not None:
                out.append(hit)
        rank = {"name": 0, "address": 1, "payload": 2, "port": 3}
        out.sort(key=lambda m: rank[m.how])
        return out


def _addr_in(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
    nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
) -> bool:
    return any(addr in net for net in nets if net.version == addr.version)


def _entry(raw: dict[str, Any], where: str) -> Endpoint:
    try:
        category = str(raw["category"])
        if category not in CATEGORIES:
            raise ValueError(f"category {category!r} not one of {', '.join(CATEGORIES)}")
        ports = []
        for p in raw.get("ports", []):
            proto, _, num = str(p).partition("/")
            if proto not in ("udp", "tcp") or not num.isdigit():
                raise ValueError(f"port {p!r} is not 'udp/N' or 'tcp/N'")
            ports.append((proto, int(num)))
        payload = tuple(
            tuple((int(sig.get("offset", 0)), bytes.fromhex(str(sig["hex"]))) for sig in [alt])
            for alt in raw.get("payload", [])
        )
        return Endpoint(
            id=str(raw["id"]),
            vendor=str(raw.get("vendor", "any")),
            service=str(raw.get("service", raw["id"])),
            category=category,
            names=tuple(str(n).lower().rstrip(".") for n in raw.get("names", [])),
            addresses=tuple(
                ipaddress.ip_network(a, strict=False) for a in raw.get("addresses", [])
            ),
            ports=tuple(ports),
            port_match=bool(raw.get("port_match", False)),
            payload=payload,
            proto=raw.get("proto"),
            examples=tuple(str(x) for x in raw.get("examples", [])),
            reference=str(raw.get("reference", "")),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:  # wrong shapes/types
        raise ConfigError(f"{where}: {exc}") from exc


def parse_catalog(text: str, where: str = "endpoints.toml") -> Catalog:
    """Parse catalog TOML; raise ConfigError naming ``where`` on any problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    entries = [
        _entry(raw, f"{where} [[endpoint]] #{i + 1}")
        for i, raw in enumerate(doc.get("endpoint", []))
    ]
    ids = [e.id for e in entries]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ConfigError(f"{where}: duplicate endpoint ids {sorted(dup)}")
    return Catalog(entries)


@lru_cache(maxsize=4)
def load_catalog(path: Path = DATA_FILE) -> Catalog:
    """Return the catalog from ``path`` (cached); raise ConfigError when it is broken."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_catalog(text, str(path))
