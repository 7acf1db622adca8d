"""WS-Discovery (ONVIF discovery): Probe out, ProbeMatches in.

Public protocol facts (WS-Discovery 2005/04 as profiled by ONVIF Core):
- Probes are SOAP 1.2 envelopes sent over UDP to 239.255.255.250:3702 (multicast) or
  straight to a device's port 3702 (unicast, "directed probe"); every message carries
  a fresh ``wsa:MessageID`` and replies name it in ``wsa:RelatesTo``.
- ONVIF devices match ``dn:NetworkVideoTransmitter``
  (http://www.onvif.org/ver10/network/wsdl) and/or ``tds:Device``
  (http://www.onvif.org/ver10/device/wsdl). Some firmware answers only one of the two,
  so both are sent.
- Devices wait a random 0-500 ms (APP_MAX_DELAY) before answering a multicast probe.
- A ProbeMatch carries the endpoint reference (``urn:uuid:...``), Types, Scopes
  (``onvif://www.onvif.org/hardware/<model>``, ``.../name/<name>``, ...), XAddrs (service
  URLs, space separated) and MetadataVersion.

Replies are parsed with defusedxml (no DTDs, no entities: an XML bomb is recorded as an
error, not expanded), at most 64 KiB per datagram, and only from hosts the user named.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XmlParseError

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from auditor.errors import ParseError
from auditor.model import Observation
from probes.netinfo import Interface, require_facing
from probes.transport import STR_CAP, clip, grow_rcvbuf

log = logging.getLogger(__name__)

WSD_PORT = 3702
WSD_MULTICAST = "239.255.255.250"
MAX_DATAGRAM = 64 * 1024
MAX_LIST = 64  # scopes/xaddrs/types kept per match
#: Endpoints kept per host: a camera has one (an NVR a few); thousands is a reply flood.
MAX_ENDPOINTS_PER_HOST = 16

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"

#: probe type QName -> its namespace
PROBE_TYPES: dict[str, str] = {
    "dn:NetworkVideoTransmitter": "http://www.onvif.org/ver10/network/wsdl",
    "tds:Device": "http://www.onvif.org/ver10/device/wsdl",
}


def build_probe(message_id: str, probe_type: str) -> bytes:
    """A WS-Discovery Probe for one type (a key of :data:`PROBE_TYPES`)."""
    prefix, _, _local = probe_type.partition(":")
    ns = PROBE_TYPES[probe_type]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_WSA}" xmlns:d="{NS_WSD}" '
        f'xmlns:{prefix}="{ns}">'
        "<s:Header>"
        f'<a:Action s:mustUnderstand="1">{NS_WSD}/Probe</a:Action>'
        f"<a:MessageID>{message_id}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{NS_WSA}/role/anonymous</a:Address></a:ReplyTo>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        "</s:Header>"
        f"<s:Body><d:Probe><d:Types>{probe_type}</d:Types></d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


@dataclass
class ProbeMatch:
    endpoint: str
    types: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    xaddrs: list[str] = field(default_factory=list)
    metadata_version: int | None = None


@dataclass
class WsdMessage:
    action: str | None
    relates_to: str | None
    matches: list[ProbeMatch]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _text(el: Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _find(el: Element, *path: str) -> Element | None:
    cur: Element | None = el
    for name in path:
        if cur is None:
            return None
        kids = _children(cur, name)
        cur = kids[0] if kids else None
    return cur


def _words(text: str) -> list[str]:
    return [clip(w) for w in text.split()][:MAX_LIST]


def parse_message(data: bytes) -> WsdMessage:
    """Parse one WS-Discovery datagram. Raises :class:`ParseError` with a short reason.

    Namespace-agnostic on purpose: firmware uses both the 2004/08 and 2005/08
    WS-Addressing namespaces and the odd prefix; we match on local names.
    """
    if len(data) > MAX_DATAGRAM:
        raise ParseError(f"reply larger than {MAX_DATAGRAM} bytes")
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:  # DTD / entity / external reference: a bomb or worse
        raise ParseError(f"malformed XML: forbidden construct ({type(exc).__name__})") from exc
    except (XmlParseError, ValueError) as exc:  # not XML, truncated, bad encoding
        raise ParseError(f"malformed XML: {clip(exc, 120)}") from exc
    if _local(root.tag) != "Envelope":
        raise ParseError(f"malformed XML: root is {clip(_local(root.tag), 60)}, not Envelope")
    header = _find(root, "Header")
    body = _find(root, "Body")
    action = _text(_find(header, "Action")) if header is not None else ""
    relates = _text(_find(header, "RelatesTo")) if header is not None else ""
    matches: list[ProbeMatch] = []
    if body is not None:
        for pms in _children(body, "ProbeMatches"):
            for pm in _children(pms, "ProbeMatch"):
                endpoint = _text(_find(pm, "EndpointReference", "Address"))
                mv_text = _text(_find(pm, "MetadataVersion"))
                try:
                    mv: int | None = int(mv_text) if mv_text else None
                except ValueError:
                    mv = None
                matches.append(
                    ProbeMatch(
                        endpoint=clip(endpoint),
                        types=_words(_text(_find(pm, "Types"))),
                        scopes=_words(_text(_find(pm, "Scopes"))),
                        xaddrs=_words(_text(_find(pm, "XAddrs"))),
                        metadata_version=mv,
                    )
                )
    return WsdMessage(action=clip(action) or None, relates_to=relates or None, matches=matches)


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        self.queue.put_nowait((data, (str(addr[0]), int(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a host without WS-Discovery: expected, not an error
        log.debug("wsdiscovery socket: %s", exc)


#: Receive buffer asked for: a multicast round makes every camera on the segment answer
#: at once (about 3 KiB of kernel memory per reply).
RCVBUF_BYTES = 4 << 20
#: Datagrams read per wake-up, so one flooding device cannot monopolise the loop.
MAX_READS_PER_WAKEUP = 512
#: Replies parsed per turn of the loop before the rest of the scan gets its turn.
MAX_HANDLED_PER_TURN = 64


class _UdpSocket:
    """A non-blocking UDP socket on the loop that reads every queued datagram per wake-up.

    asyncio's own datagram transport reads ONE datagram per loop iteration. With the
    port scan keeping the loop busy (an iteration can take tens of milliseconds), the
    replies of a few hundred cameras then overflow the socket buffer and those cameras
    look silent. Sends that meet a full buffer wait for it to drain, in order.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, proto: _Collector
    ) -> None:
        self.loop, self.sock, self.proto = loop, sock, proto
        self.backlog: deque[tuple[bytes, tuple[str, int]]] = deque()
        loop.add_reader(sock.fileno(), self._read)

    def _read(self) -> None:
        for _ in range(MAX_READS_PER_WAKEUP):
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):  # drained
                return
            except OSError as exc:  # ICMP errors surface here on a UDP socket: harmless
                self.proto.error_received(exc)
                continue
            self.proto.datagram_received(data, addr)

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.backlog:
            try:
                self.sock.sendto(data, addr)
                return
            except (BlockingIOError, InterruptedError):  # buffer full: queue, send later
                self.loop.add_writer(self.sock.fileno(), self._flush)
            except OSError as exc:  # e.g. no route to one target: the others still go
                self.proto.error_received(exc)
                return
        self.backlog.append((data, addr))

    def _flush(self) -> None:
        while self.backlog:
            data, addr = self.backlog[0]
            try:
                self.sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.proto.error_received(exc)
            self.backlog.popleft()
        self.loop.remove_writer(self.sock.fileno())

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.loop.remove_writer(self.sock.fileno())
        self.sock.close()


@dataclass
class _Sent:
    via: str
    probe_type: str
    host: str | None  # None for multicast
    at: float = 0.0  # loop time it was sent: a reply's latency says how slow the device is


async def discover(
    hosts: Iterable[str],
    networks: Iterable[ipaddress.IPv4Network],
    *,
    multicast_ifaces: Iterable[Interface] = (),
    timeout: float = 2.0,
    rounds: int = 2,
    port: int = WSD_PORT,
    bind: str = "0.0.0.0",
    on_match: Callable[[Observation], None] | None = None,
    confirmed_later: Iterable[str] = (),
    confirmations: asyncio.Queue[str] | None = None,
) -> list[Observation]:
    """Probe the user's ``hosts`` (unicast) and, on each of ``multicast_ifaces``, the
    multicast group; collect ProbeMatches until ``timeout`` seconds have passed.

    Returns one ``wsdiscovery`` observation per endpoint (plus one with ``error`` per
    host whose reply could not be parsed). Raises :class:`auditor.errors.TargetError` if a
    multicast interface does not face the targets. Replies from hosts the user did not
    name are dropped. ``on_match`` is called with each new endpoint's observation as it
    arrives, so a caller can start on a host before the listening window closes.

    Hosts in ``confirmed_later`` are probed by unicast only once the caller puts them on
    ``confirmations`` (the engine does that as ARP finds them alive). Unicast to an
    on-link address makes the kernel resolve it: a /22 of mostly empty addresses would
    fill the neighbour table ("neighbor table overflow") and then even the router's
    entry cannot be made, so cameras behind it fall silent. ARP, sent raw, knows first.
    """
    host_list = list(dict.fromkeys(hosts))
    nets = list(networks)
    wanted = set(host_list)
    later = set(confirmed_later) & wanted if confirmations is not None else set()
    # unicast targets so far, in order; confirmed hosts join as they come
    unicast = [h for h in host_list if h not in later]
    mifaces = list(multicast_ifaces)
    for i in mifaces:
        require_facing(i, host_list, nets)  # raises before anything is sent
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    grow_rcvbuf(sock, RCVBUF_BYTES)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    sock.bind((bind, 0))
    proto = _Collector()
    transport = _UdpSocket(loop, sock, proto)
    sent: dict[str, _Sent] = {}
    answered: set[tuple[str, str]] = set()  # (host, probe_type) seen
    by_endpoint: dict[str, Observation] = {}
    errors: dict[str, Observation] = {}
    floods: dict[str, Observation] = {}  # hosts past MAX_ENDPOINTS_PER_HOST
    per_host: dict[str, int] = {}
    start = loop.time()
    deadline = start + timeout

    def send_unicast(h: str, ptype: str) -> None:
        if (h, ptype) in answered or h in floods:  # asking a flooder again drowns others
            return
        mid = f"urn:uuid:{uuid.uuid4()}"
        sent[mid] = _Sent("unicast", ptype, h, loop.time())
        transport.sendto(build_probe(mid, ptype), (h, port))

    def send_round() -> None:
        for ptype in PROBE_TYPES:
            for iface in mifaces:
                mid = f"urn:uuid:{uuid.uuid4()}"
                sent[mid] = _Sent("multicast", ptype, None, loop.time())
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(str(iface.address))
                )
                transport.sendto(build_probe(mid, ptype), (WSD_MULTICAST, port))
            for h in unicast:
                send_unicast(h, ptype)

    retries: list[asyncio.TimerHandle] = []

    async def take_confirmations() -> None:
        assert confirmations is not None
        while True:
            h = await confirmations.get()
            if h in later:
                later.discard(h)
                unicast.append(h)  # later rounds ask it again if it stays silent
                for ptype in PROBE_TYPES:
                    send_unicast(h, ptype)
                    # and once more after a gap, like every host gets a second round
                    # (send_unicast skips a type already answered)
                    retries.append(loop.call_later(gap, send_unicast, h, ptype))

    def handle(data: bytes, addr: tuple[str, int]) -> None:
        ip = addr[0]
        if ip not in wanted:
            log.debug("wsdiscovery: dropping reply from %s (not a target)", ip)
            return
        if ip in floods:  # already past its cap: not worth parsing
            return
        try:
            msg = parse_message(data)
        except ParseError as exc:
            errors.setdefault(
                ip,
                Observation(probe="wsdiscovery", ip=ip, port=port, error=str(exc)[:STR_CAP]),
            )
            return
        info = sent.get(msg.relates_to or "")
        via = info.via if info else "unicast"
        reply_ms = round((loop.time() - info.at) * 1000) if info else None
        ptypes = [info.probe_type] if info else []
        if info:
            answered.add((ip, info.probe_type))
        for m in msg.matches:
            key = m.endpoint or f"ip:{ip}"
            prev = by_endpoint.get(key)
            if prev is None and per_host.get(ip, 0) >= MAX_ENDPOINTS_PER_HOST:
                floods.setdefault(ip, Observation(
                    probe="wsdiscovery", ip=ip, port=port,
                    error=f"too many WS-Discovery endpoints (> {MAX_ENDPOINTS_PER_HOST}): "
                    "a reply flood; the rest were dropped",
                ))  # fmt: skip
                continue
            if prev is not None:
                quickest = prev.data["reply_ms"]
                if reply_ms is not None and (quickest is None or quickest > reply_ms):
                    prev.data["reply_ms"] = reply_ms  # the quickest answer is the device's pace
                pt = prev.data["probe_types"]
                pt.extend(p for p in ptypes if p not in pt)
                if via not in prev.data["via_all"]:
                    prev.data["via_all"].append(via)
                continue
            per_host[ip] = per_host.get(ip, 0) + 1
            by_endpoint[key] = Observation(
                probe="wsdiscovery",
                ip=ip,
                port=port,
                data={
                    "endpoint": m.endpoint,
                    "types": m.types,
                    "scopes": m.scopes,
                    "xaddrs": m.xaddrs,
                    "metadata_version": m.metadata_version,
                    "via": via,
                    "via_all": [via],
                    "probe_types": list(ptypes),
                    "relates_to_known": info is not None,
                    "reply_ms": reply_ms,
                },
            )
            if on_match is not None:
                on_match(by_endpoint[key])

    n_rounds = max(1, rounds)
    # Rounds spread over the window: a host whose reply the kernel dropped (another
    # device flooding our socket buffer) is asked again once the flood has drained.
    gap = timeout / (n_rounds + 1)
    feeder = asyncio.create_task(take_confirmations()) if later else None
    try:
        next_round = start
        done_rounds = 0
        while True:
            now = loop.time()
            if done_rounds < n_rounds and now >= next_round:
                send_round()
                done_rounds += 1
                next_round = now + gap
            left = deadline - now
            if left <= 0:
                break
            wait = min(left, max(0.0, next_round - now)) if done_rounds < n_rounds else left
            try:
                data, addr = await asyncio.wait_for(proto.queue.get(), max(wait, 0.001))
            except TimeoutError:
                continue
            handle(data, addr)
            # Drain what else has arrived now: one datagram per loop iteration would,
            # on a busy loop (a thousand port-scan connects), leave replies queued
            # past the window and those hosts waiting for it to close.
            for _ in range(MAX_HANDLED_PER_TURN):
                if proto.queue.empty():
                    break
                handle(*proto.queue.get_nowait())
            if all((h, p) in answered for h in host_list for p in PROBE_TYPES):
                break  # every target answered both types: nothing left to wait for
    finally:
        for retry in retries:
            retry.cancel()
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        transport.close()
    # an endpoint that parsed makes an earlier garbage datagram from the same host moot
    ok_ips = {o.ip for o in by_endpoint.values()}
    return (
        list(by_endpoint.values())
        + [e for ip, e in errors.items() if ip not in ok_ips]
        + list(floods.values())
    )
