"""Vendor SDK ports and vendor UDP discovery: the fingerprints firmware cannot hide.

Public protocol facts used here (from vendor SDK headers and open-source clients such as
python-dvr / OpenIPC and Dahua-JSON-Debug-Console):

- Xiongmai "NetIP" (TCP 34567, UDP 34569): a 20-byte little-endian header
  ``0xFF, version, 2 reserved, session u32, sequence u32, 2 bytes (packet count/index),
  message id u16, payload length u32`` then a JSON payload ending ``\\n\\0``. Message 1020
  asks for SystemInfo (1021 answers); message 1530 is the UDP "IP search" broadcast
  (1531 answers with ``NetWork.NetCommon``: HostIP as little-endian hex, MAC, SN,
  Version, ...).
- Dahua (TCP 37777 "DVRIP"/"DHIP", UDP 37810): DHIP frames start ``20 00 00 00 'DHIP'``
  then session u32, id u32, length u32, 0, length u32, 0 (32 bytes, little-endian) and a
  JSON-RPC body. ``DHDiscover.search`` multicast to 239.255.255.251:37810 is answered with
  ``deviceInfo`` (DeviceType, SerialNo, Version, Mac, ...).
- Hikvision SADP (UDP 37020): an XML ``<Probe><Uuid/><Types>inquiry</Types></Probe>`` to
  239.255.255.250:37020 is answered with a ``ProbeMatch`` naming DeviceDescription
  (model), DeviceSN, MAC, SoftwareVersion, DSPVersion, CommandPort, HttpPort.
- Hikvision SDK (TCP 8000), Dahua 37777 and Reolink "Baichuan" (TCP 9000, magic
  ``f0 de bc 0a``) speak only after a login exchange; we only read what they volunteer.

TCP probes read at most 4 KiB under one deadline. UDP discovery is opt-in
(``vendor_udp``) and goes out only of an interface that faces the targets.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import ParseError as XmlParseError

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from auditor.model import Observation
from probes.netinfo import Interface, require_facing
from probes.transport import TcpOpener, clip, close_quietly, open_tcp, read_capped

log = logging.getLogger(__name__)

READ_CAP = 4096
BANNER_HEX = 256
_NETIP = struct.Struct("<BB2xII2xHI")
_DHIP = struct.Struct("<I4sIIIIII")


def netip_frame(msg_id: int, payload: bytes, session: int = 0, seq: int = 0) -> bytes:
    """A Xiongmai NetIP frame carrying ``payload`` (JSON) as message ``msg_id``."""
    body = payload + b"\x0a\x00" if payload else b""
    return _NETIP.pack(0xFF, 0x00, session, seq, msg_id, len(body)) + body


def dhip_frame(payload: bytes, session: int = 0, ident: int = 0) -> bytes:
    """A Dahua DHIP frame (32-byte header + JSON body)."""
    n = len(payload)
    return _DHIP.pack(0x20, b"DHIP", session, ident, n, 0, n, 0) + payload


def _json_after(data: bytes) -> dict[str, Any] | None:
    """The first JSON object in ``data`` (vendor frames put a binary header before it)."""
    start = data.find(b"{")
    if start < 0:
        return None
    text = data[start:].rstrip(b"\x00\n\r ").decode("utf-8", "replace")
    try:
        obj, _end = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _pick(d: dict[str, Any], mapping: dict[str, str]) -> dict[str, str]:
    return {
        ours: clip(d[theirs]) for theirs, ours in mapping.items() if d.get(theirs) not in (None, "")
    }


def parse_netip(data: bytes) -> dict[str, str]:
    """Fields from a NetIP reply (SystemInfo or IP-search); {} when it has none."""
    if len(data) < _NETIP.size or data[0] != 0xFF:
        return {}
    obj = _json_after(data[_NETIP.size :]) or {}
    fields: dict[str, str] = {}
    if isinstance(obj.get("Ret"), int):
        fields["ret"] = str(obj["Ret"])
    sysinfo = obj.get("SystemInfo")
    if isinstance(sysinfo, dict):
        fields |= _pick(
            sysinfo,
            {"HardWare": "model", "SerialNo": "serial", "SoftWareVersion": "firmware",
             "BuildTime": "build_time", "DeviceType": "device_type"},
        )  # fmt: skip
    common = obj.get("NetWork.NetCommon")
    if isinstance(common, dict):
        fields |= _pick(
            common,
            {"MAC": "mac", "SN": "serial", "Version": "firmware", "HostName": "hostname",
             "DeviceType": "device_type", "BuildDate": "build_time"},
        )  # fmt: skip
        host_ip = common.get("HostIP")
        if isinstance(host_ip, str) and host_ip.startswith("0x"):
            # little-endian hex: "0x0A01A8C0" is 192.168.1.10; garbage is simply not an IP
            with contextlib.suppress(ValueError, struct.error):
                fields["ip"] = socket.inet_ntoa(struct.pack("<I", int(host_ip, 16)))
    return fields


def parse_dahua_discovery(data: bytes) -> dict[str, str]:
    obj = _json_after(data) or {}
    params = obj.get("params")
    info = params.get("deviceInfo") if isinstance(params, dict) else None
    if not isinstance(info, dict):
        return {}
    fields = _pick(
        info,
        {"DeviceType": "model", "SerialNo": "serial", "Version": "firmware", "Mac": "mac",
         "Vendor": "vendor", "DeviceClass": "device_class", "MachineName": "hostname"},
    )  # fmt: skip
    v4 = info.get("IPv4Address")
    if isinstance(v4, dict) and v4.get("IPAddress"):
        fields["ip"] = clip(v4["IPAddress"])
    return fields


def parse_sadp(data: bytes) -> dict[str, str]:
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, XmlParseError, ValueError):  # hostile or broken XML
        return {}
    wanted = {
        "DeviceDescription": "model", "DeviceSN": "serial", "MAC": "mac",
        "SoftwareVersion": "firmware", "DSPVersion": "dsp_version", "DeviceType": "device_type",
        "CommandPort": "command_port", "HttpPort": "http_port", "Activated": "activated",
        "IPv4Address": "ip",
    }  # fmt: skip
    return {wanted[c.tag]: clip(c.text.strip()) for c in root if c.tag in wanted and c.text}


@dataclass(frozen=True)
class TcpService:
    port: int
    service: str
    probe: bytes = b""  # sent only when the device volunteers nothing


TCP_SERVICES: dict[int, TcpService] = {
    s.port: s
    for s in (
        TcpService(8000, "hikvision-sdk"),
        TcpService(37777, "dahua-dvrip"),
        TcpService(9000, "reolink-media"),
        TcpService(
            34567, "xiongmai-netip", netip_frame(1020, b'{"Name":"SystemInfo","SessionID":"0x0"}')
        ),
    )
}


async def probe_tcp(
    ip: str,
    port: int,
    *,
    timeout: float = 2.0,
    listen: float = 0.3,
    opener: TcpOpener = open_tcp,
) -> Observation:
    """Read (and, if silent, short-probe) one vendor TCP port; one ``vendor_port`` obs."""
    svc = TCP_SERVICES.get(port, TcpService(port, f"tcp-{port}"))
    data: dict[str, Any] = {
        "proto": "tcp", "service": svc.service, "banner_hex": None, "fields": {}
    }  # fmt: skip
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        reader, writer = await opener(ip, port, None, timeout)
    except TimeoutError:
        return Observation("vendor_port", ip, data, port=port, error=f"timeout after {timeout:g}s")
    except OSError as exc:  # refused / reset between the scan and now
        return Observation("vendor_port", ip, data, port=port, error=f"connect: {clip(exc, 120)}")
    err: str | None = None
    try:
        got = await read_capped(reader, READ_CAP, min(deadline, loop.time() + listen))
        if not got and svc.probe:
            writer.write(svc.probe)
            await asyncio.wait_for(writer.drain(), max(0.01, deadline - loop.time()))
            got = await read_capped(reader, READ_CAP, deadline)
        if got:
            data["banner_hex"] = got[:BANNER_HEX].hex()
            data["banner_len"] = len(got)
            if svc.service == "xiongmai-netip":
                data["fields"] = parse_netip(got)
            elif svc.service == "reolink-media" and got[:4] == b"\xf0\xde\xbc\x0a":
                data["fields"] = {"magic": "baichuan"}
            elif svc.service == "dahua-dvrip" and got[4:8] == b"DHIP":
                data["fields"] = parse_dahua_discovery(got) | {"magic": "dhip"}
    except TimeoutError:
        err = f"timeout after {timeout:g}s"
    except (ConnectionError, OSError) as exc:  # cameras reset SDK sockets they dislike
        err = f"connection error: {clip(exc, 120)}"
    finally:
        await close_quietly(writer)
    return Observation("vendor_port", ip, data, port=port, error=err)


# --------------------------------------------------------------------------- UDP discovery


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[tuple[bytes, str]] = []

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        if len(data) <= 64 * 1024:
            self.got.append((data, str(addr[0])))

    def error_received(self, exc: Exception) -> None:
        log.debug("vendor discovery socket: %s", exc)


@dataclass(frozen=True)
class UdpDiscovery:
    service: str
    port: int
    group: str | None  # multicast group, or None for the subnet's directed broadcast
    reply_port: int = 0  # where replies arrive when not to our source port


UDP_DISCOVERIES = (
    UdpDiscovery("hikvision-sadp", 37020, "239.255.255.250"),
    UdpDiscovery("dahua-discovery", 37810, "239.255.255.251"),
    UdpDiscovery("xiongmai-discovery", 34569, None, reply_port=34569),
)


def _udp_request(d: UdpDiscovery) -> bytes:
    if d.service == "hikvision-sadp":
        return (
            '<?xml version="1.0" encoding="utf-8"?><Probe>'
            f"<Uuid>{str(uuid.uuid4()).upper()}</Uuid><Types>inquiry</Types></Probe>"
        ).encode()
    if d.service == "dahua-discovery":
        return dhip_frame(b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}')
    return netip_frame(1530, b"")


def _udp_fields(service: str, data: bytes) -> dict[str, str]:
    if service == "hikvision-sadp":
        return parse_sadp(data)
    if service == "dahua-discovery":
        return parse_dahua_discovery(data)
    return parse_netip(data)


async def discover_udp(
    iface: Interface,
    hosts: Iterable[str],
    networks: Iterable[ipaddress.IPv4Network],
    *,
    timeout: float = 1.5,
    discoveries: Iterable[UdpDiscovery] = UDP_DISCOVERIES,
    dest_override: str | None = None,
) -> list[Observation]:
    """Send each vendor's discovery request out of ``iface`` only; parse replies from hosts.

    Raises :class:`auditor.errors.TargetError` if ``iface`` does not face the targets.
    ``dest_override`` (tests) sends every request unicast to that address instead.
    """
    targets = set(require_facing(iface, hosts, networks))
    if not targets:
        return []
    loop = asyncio.get_running_loop()

    async def one(d: UdpDiscovery) -> list[tuple[UdpDiscovery, bytes, str]]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, iface.address.packed)
        if d.reply_port and dest_override is None:
            # Xiongmai answers by broadcast to its own port, not to our source port
            sock.bind(("0.0.0.0", d.reply_port))
        else:
            sock.bind((str(iface.address), 0))
        transport, proto = await loop.create_datagram_endpoint(_Collector, sock=sock)
        try:
            dest = dest_override or d.group or str(iface.network.broadcast_address)
            transport.sendto(_udp_request(d), (dest, d.port))
            await asyncio.sleep(timeout)
        finally:
            transport.close()
        return [(d, data, src) for data, src in proto.got]

    out: dict[tuple[str, str], Observation] = {}
    for batch in await asyncio.gather(*(one(d) for d in discoveries)):
        for d, data, src in batch:
            if src not in targets or (d.service, src) in out:
                continue
            if data == _udp_request(d)[: len(data)] and d.reply_port:
                continue  # our own broadcast, looped back to the shared port
            out[(d.service, src)] = Observation(
                "vendor_port",
                src,
                {
                    "proto": "udp",
                    "service": d.service,
                    "banner_hex": data[:BANNER_HEX].hex(),
                    "fields": _udp_fields(d.service, data),
                },
                port=d.port,
            )
    return list(out.values())
