"""Parse and check the scan targets the user named.

camaudit never picks targets itself: everything it touches comes from here, from the
strings the user typed. Pure logic, no network.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from auditor.errors import TargetError

_RANGE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}-\d{1,3}((\.\d{1,3}){3})?$")

#: A scan larger than this many addresses must be asked for explicitly (--max-hosts).
DEFAULT_MAX_HOSTS = 65536


@dataclass(frozen=True)
class Targets:
    """The user's targets: the networks as typed and the host addresses they expand to."""

    networks: tuple[ipaddress.IPv4Network, ...]
    hosts: tuple[str, ...]

    def __contains__(self, ip: object) -> bool:
        try:
            addr = ipaddress.IPv4Address(str(ip))
        except ValueError:
            return False
        return any(addr in n for n in self.networks)


def _parse_one(text: str) -> Iterator[ipaddress.IPv4Network]:
    text = text.strip()
    if not text:
        raise TargetError("empty target")
    if _RANGE.match(text):
        # 198.18.0.10-198.18.0.20 or 198.18.0.10-20
        start_s, _, end_s = text.partition("-")
        try:
            start = ipaddress.IPv4Address(start_s)
            if "." not in end_s:
                end = ipaddress.IPv4Address(".".join([*start_s.split(".")[:3], end_s]))
            else:
                end = ipaddress.IPv4Address(end_s)
        except ValueError as exc:
            raise TargetError(f"target {text!r} is not a valid address range: {exc}") from exc
        if end < start:
            raise TargetError(f"target {text!r}: range end is before its start")
        yield from ipaddress.summarize_address_range(start, end)
        return
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise TargetError(
            f"target {text!r} is not an IPv4 address, CIDR (198.18.0.0/24) or range "
            f"(198.18.0.10-20)"
        ) from exc
    if not isinstance(net, ipaddress.IPv4Network):
        raise TargetError(f"target {text!r}: IPv6 targets are not supported yet")
    yield net


def parse_targets(texts: Iterable[str], max_hosts: int = DEFAULT_MAX_HOSTS) -> Targets:
    """Expand the user's target strings into host addresses.

    Returns a :class:`Targets`. Raises :class:`TargetError` when there are no targets, a
    target is malformed, or the expansion exceeds ``max_hosts`` addresses. Network and
    broadcast addresses of a CIDR are skipped (except for /31 and /32).
    """
    texts = [t for t in texts]
    if not texts:
        raise TargetError(
            "no targets: name the hosts or networks to audit, e.g. camaudit scan 198.18.0.0/24"
        )
    networks: list[ipaddress.IPv4Network] = []
    for t in texts:
        networks.extend(_parse_one(t))
    total = sum(n.num_addresses for n in networks)
    if total > max_hosts:
        raise TargetError(
            f"targets expand to {total} addresses, more than --max-hosts {max_hosts}; "
            "narrow them or raise --max-hosts"
        )
    seen: set[str] = set()
    hosts: list[str] = []
    for n in networks:
        addrs: Iterable[ipaddress.IPv4Address] = n.hosts() if n.prefixlen < 31 else iter(n)
        for a in addrs:
            s = str(a)
            if s not in seen:
                seen.add(s)
                hosts.append(s)
    return Targets(networks=tuple(networks), hosts=tuple(hosts))
