"""Turn a :class:`probes.flows.FlowTable` into ``flows`` observations.

Unidirectional flows are paired into conversations; conversations are grouped per
device by (protocol, direction, peer, service port), so a camera's hundred DNS lookups
from random source ports read as one line with ``conversations: 100``. The schema is in
``docs/observations.md`` (row ``flows``).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from auditor.model import Observation
from probes.pcapio import ReadStats

if TYPE_CHECKING:
    from probes.flows import FlowTable

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
FlowKey = tuple[int, bytes, int, bytes, int]


def _nets(texts: list[str]) -> list[Net]:
    return [ipaddress.ip_network(t, strict=False) for t in texts]


class _Addr:
    """Address text and locality, cached per raw address (a capture has few)."""

    def __init__(self, local: list[Net]) -> None:
        self.local = local
        self.cache: dict[bytes, tuple[str, bool, bool]] = {}

    def get(self, raw: bytes) -> tuple[str, bool, bool]:
        """Return (text, is local, may be a device: unicast and not unspecified)."""
        got = self.cache.get(raw)
        if got is None:
            addr = ipaddress.ip_address(raw)
            is_local = any(addr in n for n in self.local if n.version == addr.version)
            unicast = not (
                addr.is_multicast
                or addr.is_unspecified
                or addr.is_loopback
                or (addr.version == 4 and raw == b"\xff\xff\xff\xff")
                or (addr.version == 4 and raw[3] == 255 and is_local)  # likely broadcast
            )
            got = self.cache[raw] = (str(addr), is_local, unicast)
        return got


def _mac(raw: bytes | None) -> str | None:
    return ":".join(f"{b:02x}" for b in raw) if raw else None


def _starts(fwd: list[Any], rev: list[Any] | None, key: FlowKey) -> bool:
    """Return True when ``fwd``'s sender started the conversation."""
    from probes.flows import FIRST, FLAGS

    if rev is None:
        return True
    f_syn = fwd[FLAGS] & 0x12 == 0x02
    r_syn = rev[FLAGS] & 0x12 == 0x02
    if f_syn != r_syn:
        return f_syn
    if not (f_syn or r_syn):  # started before the capture: a well-known port serves
        sport, dport = key[2], key[4]
        if (sport < 1024) != (dport < 1024):
            return dport < 1024
    if fwd[FIRST] != rev[FIRST]:
        return bool(fwd[FIRST] < rev[FIRST])
    return key[4] <= key[2]  # same instant: the lower port is the service


def build_observations(
    table: FlowTable, source: str, local_networks: list[str], read: ReadStats | None
) -> list[Observation]:
    """Return per-device ``flows`` observations and a summary one; see the module doc."""
    from probes.flows import BYTES, FIRST, FLAGS, LAST, MAC, NAME, PKTS, PROTO_NAMES, SIG
    from probes.flows import minute_bytes as _minute_bytes

    addrs = _Addr(_nets(local_networks))
    flows = table.flows
    names_by_ip: dict[bytes, set[str]] = {ip: set(n) for ip, n in table.names.items()}
    # MACs: which source MACs each address used; a MAC that also sources non-local
    # addresses is a router's, and says nothing about the device behind it.
    macs_of: dict[bytes, dict[bytes, int]] = defaultdict(lambda: defaultdict(int))
    router_macs: set[bytes] = set()
    for key, rec in flows.items():
        if rec[MAC] is None:
            continue
        macs_of[key[1]][rec[MAC]] += rec[PKTS]
        _txt, src_local, src_unicast = addrs.get(key[1])
        # only a routable foreign source proves a router: a device's own IPv6 duplicate
        # address detection comes from "::" and its solicitations from fe80::/10
        if not src_local and src_unicast and not ipaddress.ip_address(key[1]).is_link_local:
            router_macs.add(rec[MAC])
    devices: dict[bytes, dict[tuple[Any, ...], dict[str, Any]]] = defaultdict(dict)
    done: set[FlowKey] = set()
    conversations = 0
    for key, rec in flows.items():
        if key in done:
            continue
        proto, src, sport, dst, dport = key
        rkey = (proto, dst, dport, src, sport)
        rrec = flows.get(rkey)
        done.add(key)
        if rrec is not None:
            done.add(rkey)
        conversations += 1
        if not _starts(rec, rrec, key):
            key, rkey, rec, rrec = rkey, key, rrec, rec  # type: ignore[assignment]
            proto, src, sport, dst, dport = key
        s_txt, s_local, s_dev = addrs.get(src)
        d_txt, d_local, d_dev = addrs.get(dst)
        sides = []
        if s_local and s_dev:
            sides.append((src, "out"))
        if d_local and d_dev:
            sides.append((dst, "in"))
        if not sides:
            sides.append((src, "out"))
        for dev, direction in sides:
            out_rec, in_rec = (rec, rrec) if direction == "out" else (rrec, rec)
            peer, peer_raw = (d_txt, dst) if direction == "out" else (s_txt, src)
            local_port, peer_port = (sport, dport) if direction == "out" else (dport, sport)
            group = (proto, direction, peer, peer_port if direction == "out" else local_port)
            entry = devices[dev].get(group)
            if entry is None:
                entry = devices[dev][group] = {
                    "proto": PROTO_NAMES.get(proto, str(proto)),
                    "direction": direction,
                    "peer": peer,
                    "peer_port": peer_port,
                    "local_port": local_port,
                    "peer_local": addrs.get(peer_raw)[1],
                    "conversations": 0,
                    "packets_out": 0,
                    "bytes_out": 0,
                    "packets_in": 0,
                    "bytes_in": 0,
                    "first_seen": None,
                    "last_seen": None,
                    "tcp_flags": 0,
                    "names": set(names_by_ip.get(peer_raw, ())),
                    "sni": None,
                    "http_host": None,
                    "payload_hex_out": None,
                    "payload_hex_in": None,
                }
            entry["conversations"] += 1
            if direction == "out" and out_rec is not None and not entry["peer_local"]:
                # uploads to the internet, minute by minute (upload bursts, quiet hours)
                minutes = entry.setdefault("_minutes", defaultdict(int))
                buckets, loose = _minute_bytes(out_rec)
                for start, n in buckets:
                    minutes[start] += n
                entry["bytes_out_unbucketed"] = entry.get("bytes_out_unbucketed", 0) + loose
            for r, suffix in ((out_rec, "out"), (in_rec, "in")):
                if r is None:
                    continue
                entry["packets_" + suffix] += r[PKTS]
                entry["bytes_" + suffix] += r[BYTES]
                entry["tcp_flags"] |= r[FLAGS]
                fs, ls = entry["first_seen"], entry["last_seen"]
                entry["first_seen"] = r[FIRST] if fs is None else min(fs, r[FIRST])
                entry["last_seen"] = r[LAST] if ls is None else max(ls, r[LAST])
                if r[SIG] is not None and entry["payload_hex_" + suffix] is None:
                    entry["payload_hex_" + suffix] = r[SIG]
                if r[NAME] is not None and entry[r[NAME][0]] is None:
                    entry[r[NAME][0]] = r[NAME][1]
                    entry["names"].add(r[NAME][1])
    # DNS queries and UPnP events per client
    dns_by_client: dict[bytes, list[dict[str, Any]]] = defaultdict(list)
    for (client, server, qname), (asked, first, answered, addrs_) in table.dns_queries.items():
        dns_by_client[client].append(
            {
                "server": addrs.get(server)[0],
                "name": qname,
                "queries": asked,
                "answers": answered,
                "first_seen": round(first, 6),
                "addresses": list(addrs_),
            }
        )
    upnp_by_client: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ev in table.upnp:
        upnp_by_client[str(ev.get("client"))].append(dict(ev))
    out: list[Observation] = []
    all_devs = set(devices) | {c for c in dns_by_client if addrs.get(c)[2]}
    for dev in sorted(all_devs, key=lambda raw: (len(raw), raw)):
        txt = addrs.get(dev)[0]
        entries = sorted(
            devices.get(dev, {}).values(), key=lambda e: (e["peer_local"], -e["bytes_out"])
        )
        shown = entries[:MAX_FLOWS_PER_DEVICE]
        for e in shown:
            e["names"] = sorted(e["names"])[:8]
            e["tcp_flags"] = flag_text(e["tcp_flags"]) if e["proto"] == "tcp" else None
            e["first_seen"] = round(e["first_seen"] or 0.0, 6)
            e["last_seen"] = round(e["last_seen"] or 0.0, 6)
            if "_minutes" in e:
                minutes = e.pop("_minutes")
                e["bytes_out_by_minute"] = [[t, minutes[t]] for t in sorted(minutes)]
        dev_macs = {m: n for m, n in macs_of.get(dev, {}).items() if m not in router_macs}
        mac = max(dev_macs, key=lambda m: dev_macs[m]) if len(dev_macs) == 1 else None
        lost = table.evicted_by_ip.get(dev, [0, 0, 0])
        dns = sorted(dns_by_client.get(dev, []), key=lambda d: d["first_seen"])
        data = {
            "kind": "device",
            "source": source,
            "macs": sorted(str(_mac(m)) for m in dev_macs),
            "flows": shown,
            "flows_omitted": len(entries) - len(shown),
            "dns_queries": dns[:500],
            "dns_queries_omitted": max(0, len(dns) - 500),
            "upnp": upnp_by_client.get(txt, [])[:100],
            "evicted": {"flows": lost[0], "packets": lost[1], "bytes": lost[2]},
            "packets": sum(e["packets_out"] + e["packets_in"] for e in entries),
            "bytes": sum(e["bytes_out"] + e["bytes_in"] for e in entries),
        }
        first = min((e["first_seen"] for e in shown), default=table.first_ts or 0.0)
        out.append(Observation(probe="flows", ip=txt, data=data, mac=_mac(mac), at=first))
    summary = {
        "kind": "summary",
        "source": source,
        "packets": table.packets,
        "bytes": table.bytes,
        "flows": len(flows),
        "conversations": conversations,
        "devices": len(out),
        "first_seen": table.first_ts,
        "last_seen": table.last_ts,
        "router_macs": sorted(str(_mac(m)) for m in router_macs),
        "drops": dict(table.drops),
        "read": read.to_dict() if read is not None else None,
        **table.skip_summary(),
    }
    out.append(Observation(probe="flows", ip="*", data=summary, at=table.first_ts or 0.0))
    return out


MAX_FLOWS_PER_DEVICE = 2_000


def flag_text(flags: int) -> str:
    """Return TCP flags as letters, tcpdump's order (``"SAFPRU"``); empty when none."""
    order = ((2, "S"), (16, "A"), (1, "F"), (8, "P"), (4, "R"), (32, "U"))
    return "".join(c for bit, c in order if flags & bit)
