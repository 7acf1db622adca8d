"""The flow table: packets in, per-device flows with names out (``probe="flows"``).

The hot path (:meth:`FlowTable.add`) is plain ``struct.unpack_from`` on the capture's
buffer (an mmap for files), one dict lookup keyed by a tuple, and a list update: no
per-packet objects beyond the key. Payloads are only looked at on a flow's first few
payload packets (TLS SNI, HTTP Host, UDP/TCP signature, UPnP SOAP) and on DNS and SSDP
packets, which are rare.

Flows are unidirectional in the table and paired into conversations when reported.
Memory is bounded: past ``max_flows`` the least recently seen eighth of the table is
evicted and counted per device (``evicted``), never dropped silently. Packets that
cannot be put in a flow are counted by reason (``skipped``): ``truncated`` (cut inside
the headers), ``unknown_linktype``, ``fragment`` (IP fragments are not reassembled),
``malformed`` (impossible header values); ``non_ip`` counts ARP, LLDP and the like.
Packets cut by the snaplen after their headers still count, with their wire length
(``snaplen_cut``), but their payload is only inspected as far as it was captured.

A probe never decides what is bad: the observations say who talked to whom, how much,
when, and under which names; ``auditor.traffic`` judges.
"""

from __future__ import annotations

import heapq
import ipaddress
import struct
from collections.abc import Iterable
from typing import Any

from auditor.model import Observation
from auditor.traffic import DEFAULT_LOCAL
from probes.flowpayload import http_host, parse_dns, soap_add_port_mapping, ssdp, tls_sni
from probes.pcapio import CaptureReader, ReadStats

INSPECT_PAYLOADS = 4  # payload packets per flow direction looked into
SOAP_KEEP = 16384  # bytes of a UPnP control request kept while its arguments arrive
MAX_NAMES_PER_IP = 16
MAX_NAMED_IPS = 200_000
MAX_DNS_QUERIES = 100_000
MAX_UPNP_EVENTS = 10_000
# bytes per flow per minute, for upload bursts and quiet hours (auditor.rules.upload);
# a bucket is only written when the flow moves on to a later minute, so the hot path
# pays one comparison per packet
BUCKET_S = 60
MAX_BUCKETS = 1440  # a day of busy minutes per flow; later bytes stay in the totals

# the site's own address space unless told otherwise: one list, kept in auditor
DEFAULT_LOCAL_NETWORKS = DEFAULT_LOCAL
PROTO_NAMES = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "icmpv6"}

# rec fields (a list per unidirectional flow); BEND: end of the open minute bucket,
# BBASE: the flow's bytes when it opened, SERIES: closed buckets, flat [start, bytes, ...]
PKTS, BYTES, FIRST, LAST, FLAGS, MAC, SIG, NPAY, ALWAYS, NAME, SOAP, BEND, BBASE, SERIES = range(14)

_H = struct.Struct("!H").unpack_from
_HH = struct.Struct("!HH").unpack_from
_SLL = struct.Struct("!HHH").unpack_from
_IPV4 = struct.Struct("!BxHxxHxB2x4s4s").unpack_from
_ETH_IPV4 = struct.Struct("!12xHBxHxxHxB2x4s4s").unpack_from  # ethertype + IPv4 header
_IPV6 = struct.Struct("!4xHBx16s16s").unpack_from
_TCP = struct.Struct("!HH8xH").unpack_from
_NULL_LE = struct.Struct("<I").unpack_from

SKIP_REASONS = ("truncated", "unknown_linktype", "fragment", "malformed")
VLAN_TYPES = (0x8100, 0x88A8, 0x9100)
RAW_TYPES = (101, 12, 14, 228, 229)
ALWAYS_PORTS = (53, 5353, 1900)  # DNS and SSDP: every payload packet is parsed


class FlowTable:
    """Unidirectional flows keyed by ``(proto, src, sport, dst, dport)`` (raw addresses).

    Feed it with :meth:`feed_reader` (files) or :meth:`add` (one packet), then call
    :meth:`observations`. Not thread-safe; one table per capture source.
    """

    def __init__(self, max_flows: int = 250_000, inspect: int = INSPECT_PAYLOADS) -> None:
        if max_flows < 8:
            raise ValueError("max_flows must be at least 8")
        self.max_flows = max_flows
        self.inspect = inspect
        self.flows: dict[tuple[int, bytes, int, bytes, int], list[Any]] = {}
        self.packets = 0
        self.bytes = 0
        self.non_ip = 0
        self.snaplen_cut = 0
        self.skipped: dict[str, int] = dict.fromkeys(SKIP_REASONS, 0)
        self.unknown_linktypes: dict[int, int] = {}
        self.evicted = [0, 0, 0]  # flows, packets, bytes
        self.evicted_by_ip: dict[bytes, list[int]] = {}
        self.names: dict[bytes, dict[str, float]] = {}  # address -> name -> first seen
        self.names_dropped = 0
        self.dns_queries: dict[tuple[bytes, bytes, str], list[Any]] = {}
        self.dns_dropped = 0
        self.upnp: list[dict[str, Any]] = []
        self.upnp_dropped = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.drops: dict[str, int] = {}  # filled by live capture: kernel counters

    # --- the hot path ----------------------------------------------------------------

    def feed_reader(self, reader: CaptureReader) -> None:
        """Add every packet of an open capture file; return None.

        The common case (Ethernet, IPv4 without options or fragmentation, TCP or UDP, a
        flow already in the table, nothing cut) is handled inline with two unpacks and
        one dict lookup; every other packet goes through :meth:`add`, which does the
        full job (and the accounting) for it.
        """
        buf = reader.buf
        get = self.flows.get
        slow = self.add
        inspect = self.inspect
        fast = _ETH_IPV4
        hh = _HH
        tcp = _TCP
        first = self.first_ts
        ts = 0.0
        npk = nbytes = 0
        for lt, ts, caplen, wirelen, off in reader.records():
            if first is None:
                first = ts
            if lt != 1 or caplen < 42:
                slow(lt, ts, caplen, wirelen, buf, off)
                continue
            etype, vihl, tot, frag, proto, src, dst = fast(buf, off)
            limit = off + 14 + tot
            if etype != 0x0800 or vihl != 0x45 or frag & 0x3FFF or limit > off + caplen or tot < 28:
                slow(lt, ts, caplen, wirelen, buf, off)
                continue
            l4 = off + 34
            if proto == 17:
                sport, dport = hh(buf, l4)
                flags = 0
                pay = l4 + 8
            elif proto == 6 and tot >= 40:
                sport, dport, offflags = tcp(buf, l4)
                flags = offflags & 0xFF
                pay = l4 + ((offflags >> 12) << 2)
            else:
                slow(lt, ts, caplen, wirelen, buf, off)
                continue
            key = (proto, src, sport, dst, dport)
            rec = get(key)
            if rec is None:  # a new flow: rare, let the full path create it
                slow(lt, ts, caplen, wirelen, buf, off)
                continue
            npk += 1
            nbytes += wirelen
            if ts >= rec[11]:  # a new minute for this flow: close the last one
                _roll(rec, ts)
            rec[0] += 1
            rec[1] += wirelen
            rec[3] = ts
            rec[4] |= flags
            if pay < limit and (rec[7] < inspect or rec[8]):
                rec[7] += 1
                self._inspect(rec, key, bytes(buf[pay:limit]), ts)
        self.packets += npk
        self.bytes += nbytes
        if first is not None:
            self.first_ts = first if self.first_ts is None else min(self.first_ts, first)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)

    def add(self, lt: int, ts: float, caplen: int, wirelen: int, buf: Any, off: int) -> None:
        """Account one packet of link type ``lt`` found at ``buf[off:off + caplen]``."""
        self.packets += 1
        end = off + caplen
        macoff = -1
        if lt == 1:
            if caplen < 14:
                self.skipped["truncated"] += 1
                return
            (etype,) = _H(buf, off + 12)
            macoff = off + 6
            p = off + 14
        elif lt == 113:  # Linux cooked v1: pkttype, hatype, addr len, addr[8], protocol
            if caplen < 16:
                self.skipped["truncated"] += 1
                return
            _pkttype, hatype, alen = _SLL(buf, off)
            (etype,) = _H(buf, off + 14)
            if alen == 6 and hatype == 1:
                macoff = off + 6
            p = off + 16
        elif lt == 276:  # Linux cooked v2: protocol, res, ifindex, hatype, pkttype, alen, addr
            if caplen < 20:
                self.skipped["truncated"] += 1
                return
            (etype,) = _H(buf, off)
            (hatype,) = _H(buf, off + 8)
            if buf[off + 11] == 6 and hatype == 1:
                macoff = off + 12
            p = off + 20
        elif lt in RAW_TYPES or lt == 0:
            p = off
            if lt == 0:  # BSD loopback: address family, writer's byte order
                if caplen < 4:
                    self.skipped["truncated"] += 1
                    return
                p = off + 4
            if p >= end:
                self.skipped["truncated"] += 1
                return
            version = buf[p] >> 4
            etype = 0x0800 if version == 4 else 0x86DD if version == 6 else 0
            if not etype:
                self.skipped["malformed"] += 1
                return
        else:
            self.skipped["unknown_linktype"] += 1
            self.unknown_linktypes[lt] = self.unknown_linktypes.get(lt, 0) + 1
            return
        while etype in VLAN_TYPES:
            if p + 4 > end:
                self.skipped["truncated"] += 1
                return
            (etype,) = _H(buf, p + 2)
            p += 4
        if etype == 0x0800:
            if p + 20 > end:
                self.skipped["truncated"] += 1
                return
            vihl, tot, frag, proto, src, dst = _IPV4(buf, p)
            ihl = (vihl & 15) << 2
            if vihl >> 4 != 4 or ihl < 20 or tot < ihl:
                self.skipped["malformed"] += 1
                return
            if frag & 0x3FFF:  # MF set or an offset: a fragment
                self.skipped["fragment"] += 1
                return
            l4 = p + ihl
            limit = p + tot
        elif etype == 0x86DD:
            if p + 40 > end:
                self.skipped["truncated"] += 1
                return
            plen, proto, src, dst = _IPV6(buf, p)
            l4 = p + 40
            limit = l4 + plen
            hops = 0
            while proto in (0, 43, 60) and hops < 8:  # hop-by-hop, routing, dest options
                if l4 + 8 > end:
                    self.skipped["truncated"] += 1
                    return
                proto = buf[l4]
                l4 += (buf[l4 + 1] + 1) << 3
                hops += 1
            if proto == 44:
                self.skipped["fragment"] += 1
                return
            if l4 > limit:
                self.skipped["malformed"] += 1
                return
        else:
            self.non_ip += 1
            return
        if limit > end:
            if wirelen <= caplen:  # the IP header claims more than the frame holds
                self.skipped["malformed"] += 1
                return
            self.snaplen_cut += 1
            limit = end
        if proto == 6:
            if l4 + 20 > limit:
                self.skipped["truncated" if limit == end else "malformed"] += 1
                return
            sport, dport, offflags = _TCP(buf, l4)
            flags = offflags & 0xFF
            pay = l4 + ((offflags >> 12) << 2)
        elif proto == 17:
            if l4 + 8 > limit:
                self.skipped["truncated" if limit == end else "malformed"] += 1
                return
            sport, dport = _HH(buf, l4)
            flags = 0
            pay = l4 + 8
        else:
            sport = dport = flags = 0
            pay = limit
        self.bytes += wirelen
        key = (proto, src, sport, dst, dport)
        rec = self.flows.get(key)
        if rec is None:
            always = proto == 17 and (sport in ALWAYS_PORTS or dport in ALWAYS_PORTS)
            mac = bytes(buf[macoff : macoff + 6]) if macoff >= 0 else None
            bend = (ts // BUCKET_S + 1) * BUCKET_S
            rec = [1, wirelen, ts, ts, flags, mac, None, 0, always, None, None, bend, 0, None]
            self.flows[key] = rec
            if len(self.flows) > self.max_flows:
                self._evict()
        else:
            if ts >= rec[BEND]:
                _roll(rec, ts)
            rec[0] += 1
            rec[1] += wirelen
            rec[3] = ts
            rec[4] |= flags
        if pay < limit and (rec[7] < self.inspect or rec[8]):
            rec[7] += 1
            self._inspect(rec, key, bytes(buf[pay:limit]), ts)

    # --- payloads ------------------------------------------------------------------

    def _inspect(
        self, rec: list[Any], key: tuple[int, bytes, int, bytes, int], payload: bytes, ts: float
    ) -> None:
        proto, src, sport, dst, dport = key
        if rec[SIG] is None:
            rec[SIG] = payload[:16].hex()
        if proto == 17:
            if sport in (53, 5353) or dport in (53, 5353):
                self._dns(src, dst, sport, payload, ts)
            elif dport == 1900 or sport == 1900:
                got = ssdp(payload)
                if got is not None:
                    event: dict[str, Any] = dict(got)
                    event.update(client=_ip(src), server=_ip(dst), at=ts, port=dport)
                    self._upnp_event(event)
            return
        if proto != 6:
            return
        if rec[NAME] is None and rec[NPAY] == 1:
            sni = tls_sni(payload)
            if sni:
                rec[NAME] = ("sni", sni)
            else:
                host = http_host(payload)
                if host:
                    rec[NAME] = ("http_host", host)
        soap = rec[SOAP]
        if soap is None and b"AddPortMapping" in payload:
            soap = rec[SOAP] = bytearray()
            rec[ALWAYS] = True
        if soap is not None:
            soap += payload[: SOAP_KEEP - len(soap)]
            args = soap_add_port_mapping(bytes(soap))
            if args is not None or len(soap) >= SOAP_KEEP or rec[NPAY] > 16:
                rec[SOAP] = None
                rec[ALWAYS] = False
                if args is not None:
                    mapping: dict[str, Any] = {"kind": "add-port-mapping"}
                    mapping.update(args)
                    mapping.update(client=_ip(src), server=_ip(dst), port=dport, at=ts)
                    self._upnp_event(mapping)

    def _upnp_event(self, event: dict[str, Any]) -> None:
        if len(self.upnp) < MAX_UPNP_EVENTS:
            self.upnp.append(event)
        else:
            self.upnp_dropped += 1

    def _dns(self, src: bytes, dst: bytes, sport: int, payload: bytes, ts: float) -> None:
        parsed = parse_dns(payload)
        if parsed is None:
            return
        is_response, questions, answers = parsed
        client, server = (dst, src) if is_response else (src, dst)
        for q in questions[:4]:
            qk = (client, server, q)
            entry = self.dns_queries.get(qk)
            if entry is None:
                if len(self.dns_queries) >= MAX_DNS_QUERIES:
                    self.dns_dropped += 1
                    continue
                entry = self.dns_queries[qk] = [0, ts, 0, []]
            if is_response:
                entry[2] += 1
            else:
                entry[0] += 1
        for owner, rtype, value in answers:
            if rtype == 5:
                continue
            try:
                raw = ipaddress.ip_address(value).packed
            except ValueError:
                continue
            names = self.names.get(raw)
            if names is None:
                if len(self.names) >= MAX_NAMED_IPS:
                    self.names_dropped += 1
                    continue
                names = self.names[raw] = {}
            for name in (owner, *questions[:2]):
                if name and name not in names and len(names) < MAX_NAMES_PER_IP:
                    names[name] = ts
            for q in questions[:1]:
                entry = self.dns_queries.get((client, server, q))
                if entry is not None and value not in entry[3] and len(entry[3]) < 8:
                    entry[3].append(value)

    # --- memory bound ----------------------------------------------------------------

    def _evict(self) -> None:
        """Drop the least recently seen eighth of the table, counting what went."""
        victims = heapq.nsmallest(
            max(1, self.max_flows // 8), self.flows.items(), key=lambda kv: kv[1][LAST]
        )
        for key, rec in victims:
            del self.flows[key]
            self.evicted[0] += 1
            self.evicted[1] += rec[PKTS]
            self.evicted[2] += rec[BYTES]
            per = self.evicted_by_ip.setdefault(key[1], [0, 0, 0])
            per[0] += 1
            per[1] += rec[PKTS]
            per[2] += rec[BYTES]

    # --- report --------------------------------------------------------------------

    def skip_summary(self) -> dict[str, Any]:
        """Return counters of everything not put in a flow, and why."""
        return {
            "skipped": {k: v for k, v in self.skipped.items()},
            "unknown_linktypes": {str(k): v for k, v in self.unknown_linktypes.items()},
            "non_ip": self.non_ip,
            "snaplen_cut": self.snaplen_cut,
            "evicted": dict(zip(("flows", "packets", "bytes"), self.evicted, strict=True)),
            "names_dropped": self.names_dropped,
            "dns_queries_dropped": self.dns_dropped,
            "upnp_events_dropped": self.upnp_dropped,
        }

    def observations(
        self,
        source: str,
        local_networks: Iterable[str] = DEFAULT_LOCAL_NETWORKS,
        read: ReadStats | None = None,
    ) -> list[Observation]:
        """Return one ``flows`` observation per device, then one summary (``ip="*"``).

        A conversation is listed under each endpoint inside ``local_networks``; when
        neither is, under the endpoint that started it, so nothing is left out.
        """
        from probes.flowreport import build_observations

        return build_observations(self, source, list(local_networks), read)


def _roll(rec: list[Any], ts: float) -> None:
    """Close ``rec``'s open minute (if it carried bytes) and open the one holding ``ts``."""
    delta = rec[BYTES] - rec[BBASE]
    if delta:
        series = rec[SERIES]
        if series is None:
            series = rec[SERIES] = []
        if len(series) < 2 * MAX_BUCKETS:
            series += (int(rec[BEND]) - BUCKET_S, delta)
    rec[BBASE] = rec[BYTES]
    rec[BEND] = (ts // BUCKET_S + 1) * BUCKET_S


def minute_bytes(rec: list[Any]) -> tuple[list[tuple[int, int]], int]:
    """Return ``([(minute start, bytes), ...], bytes in no bucket)`` for one flow record.

    Bytes fall in no bucket only past :data:`MAX_BUCKETS` busy minutes; they are still
    in the flow's totals.
    """
    flat = rec[SERIES] or []
    out = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
    open_bytes = rec[BYTES] - rec[BBASE]
    if open_bytes:
        out.append((int(rec[BEND]) - BUCKET_S, open_bytes))
    return out, rec[BYTES] - sum(b for _s, b in out)


def _ip(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def read_files(
    paths: Iterable[str], table: FlowTable | None = None, stats: ReadStats | None = None
) -> tuple[FlowTable, ReadStats]:
    """Read capture files into a flow table; return (table, read statistics).

    Files that cannot be opened are counted (``stats.errors["unreadable"]``), not raised.
    """
    table = table if table is not None else FlowTable()
    stats = stats if stats is not None else ReadStats()
    for path in paths:
        try:
            with CaptureReader(path, stats) as reader:
                table.feed_reader(reader)
        except OSError as exc:  # missing file, permission: reported with the others
            stats.problem("unreadable", f"{path}: {exc.strerror or exc}")
    return table, stats
