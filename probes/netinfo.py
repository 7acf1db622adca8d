"""Which local interface faces the user's targets.

ARP and multicast go out of one interface only: the one whose *connected* subnet holds
the user's targets. A target that is only reachable through a router (or the default
route) gets unicast traffic only, so camaudit never sprays discovery onto eth0 or any
segment the user did not name.

The facts come from ``ip -j addr`` (iproute2's JSON); the parser is pure so tests feed it
recorded output.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from auditor.errors import ProbeError, TargetError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Interface:
    """One IPv4 address on one local interface, with the subnet it is connected to."""

    name: str
    index: int
    address: ipaddress.IPv4Address
    network: ipaddress.IPv4Network
    mac: str | None = None
    flags: frozenset[str] = field(default_factory=frozenset)
    link_type: str = "ether"

    @property
    def up(self) -> bool:
        return "UP" in self.flags

    @property
    def loopback(self) -> bool:
        return self.link_type == "loopback" or "LOOPBACK" in self.flags

    @property
    def can_multicast(self) -> bool:
        return self.up and "MULTICAST" in self.flags

    @property
    def can_arp(self) -> bool:
        return self.up and self.link_type == "ether" and "NOARP" not in self.flags

    def faces(self, net: ipaddress.IPv4Network) -> bool:
        """True when all of ``net`` lies inside this interface's connected subnet."""
        return net.subnet_of(self.network)


def parse_ip_addr(text: str) -> list[Interface]:
    """Parse ``ip -j addr`` output into one :class:`Interface` per IPv4 address.

    Raises :class:`ProbeError` on output that is not the JSON list iproute2 prints.
    """
    try:
        links = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProbeError(f"cannot parse `ip -j addr` output: {exc}") from exc
    if not isinstance(links, list):
        raise ProbeError("cannot parse `ip -j addr` output: not a list")
    out: list[Interface] = []
    for link in links:
        if not isinstance(link, dict):
            continue
        flags = frozenset(str(f) for f in link.get("flags") or [])
        for a in link.get("addr_info") or []:
            if a.get("family") != "inet" or "local" not in a:
                continue
            try:
                iface = ipaddress.IPv4Interface(f"{a['local']}/{int(a.get('prefixlen', 32))}")
            except (ValueError, TypeError):  # a broken entry must not hide the others
                log.debug("skipping unparsable address %r on %s", a, link.get("ifname"))
                continue
            out.append(
                Interface(
                    name=str(link.get("ifname", "")),
                    index=int(link.get("ifindex", 0)),
                    address=iface.ip,
                    network=iface.network,
                    mac=link.get("address"),
                    flags=flags,
                    link_type=str(link.get("link_type", "ether")),
                )
            )
    return out


def run_ip(args: Sequence[str]) -> str:
    ip = shutil.which("ip")
    if ip is None:
        raise ProbeError("iproute2 `ip` not found; install iproute2")
    try:
        done = subprocess.run(  # fixed argv, no shell
            [ip, "-j", *args], capture_output=True, text=True, timeout=5, check=True
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise ProbeError(f"`ip -j {' '.join(args)}` failed: {exc}") from exc
    return done.stdout


def list_interfaces() -> list[Interface]:
    """The host's IPv4 interfaces (``ip -j addr``). Raises :class:`ProbeError`."""
    return parse_ip_addr(run_ip(["addr"]))


def facing_interface(
    net: ipaddress.IPv4Network, interfaces: Iterable[Interface]
) -> Interface | None:
    """The up interface whose connected subnet contains all of ``net``, if any.

    With several, the most specific subnet wins (a /24 on camlab0 beats a /16 elsewhere).
    """
    best: Interface | None = None
    for i in interfaces:
        if i.up and i.faces(net) and (best is None or i.network.prefixlen > best.network.prefixlen):
            best = i
    return best


def facing_map(
    networks: Iterable[ipaddress.IPv4Network], interfaces: Iterable[Interface]
) -> dict[Interface, list[ipaddress.IPv4Network]]:
    """Group the user's networks by the interface that faces them; unreachable nets omitted.

    A target net wider than the connected subnet (a /16 typed while we sit on a /24) is
    not "connected": only its part inside the subnet is, so we narrow it to that part.
    """
    ifaces = list(interfaces)
    out: dict[Interface, list[ipaddress.IPv4Network]] = {}
    for net in networks:
        i = facing_interface(net, ifaces)
        if i is not None:
            out.setdefault(i, []).append(net)
            continue
        for cand in ifaces:
            if cand.up and cand.network.subnet_of(net):
                out.setdefault(cand, []).append(cand.network)
    return out


def require_facing(
    iface: Interface, hosts: Iterable[str], networks: Iterable[ipaddress.IPv4Network]
) -> list[str]:
    """Check that ``iface`` faces the user's targets; return the hosts on its subnet.

    This is the guard every broadcast, ARP or multicast sender calls before it sends.
    Raises :class:`TargetError` when the interface's subnet holds none of the user's
    networks (for example eth0 while the user named a camera VLAN elsewhere).
    """
    nets = list(networks)
    if not any(iface.network.overlaps(n) for n in nets):
        raise TargetError(
            f"interface {iface.name} ({iface.network}) does not face the targets "
            f"{', '.join(map(str, nets)) or '(none)'}: refusing to send discovery traffic on it"
        )
    on_link = [
        h
        for h in hosts
        if ipaddress.IPv4Address(h) in iface.network
        and any(ipaddress.IPv4Address(h) in n for n in nets)
    ]
    return on_link
