"""Hostile simulated devices: cameras that attack or stall the scanner that audits them.

A device whose ``hostile`` list is not empty serves only these misbehaviours (no real
admin page, ONVIF or stream): the scanner must survive each one within its timeouts,
hold bounded memory, record the device as misbehaving and leave every other device's
results untouched. What a real compromised or broken camera can send, from public
descriptions of the attacks (billion laughs, XXE, slowloris-style trickles, header
floods, TLS stalls, redirect loops, discovery reply floods):

=======================  ========  ===================================================
behaviour                where     what the device does
=======================  ========  ===================================================
``http_xml_bomb``        tcp 80    SOAP (any POST): a billion-laughs DTD; GET / is a
                                   plain page so the device still looks like a camera
``http_xxe``             tcp 80    SOAP (any POST): external entities (a local file and
                                   a DTD on the device itself; fetches are counted)
``http_endless_body``    tcp 80    200 with ``Content-Length`` 1 GiB, then streams it
``http_slow_drip``       tcp 80    the answer at one byte per second
``http_endless_headers`` tcp 80    a status line, then header lines forever (1 GiB cap)
``http_redirect_loop``   tcp 80    302 from / to /loop and from /loop back to /
``tls_stall``            tcp 443   accepts, reads the ClientHello, never answers
``rtsp_garbage``         tcp 554   random bytes (no line ends) to any request
``rtsp_endless_headers`` tcp 554   an RTSP status line, then header lines forever
``rtsp_slow_drip``       tcp 554   a valid RTSP answer at one byte per second
``wsd_xml_bomb``         udp 3702  ProbeMatches with a billion-laughs DTD
``wsd_xxe``              udp 3702  ProbeMatches with external entities
``wsd_garbage``          udp 3702  random bytes
``wsd_flood``            udp 3702  thousands of distinct ProbeMatches per probe
=======================  ========  ===================================================

Every connection ends after :data:`MAX_CONNECTION_S` or :data:`MAX_STREAM_BYTES` at the
latest, so a scanner that misbehaves in turn cannot make the lab run forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

from .common import MAX_HEADER_BYTES, DeviceContext

log = logging.getLogger(__name__)

HTTP_BEHAVIOURS = (
    "http_xml_bomb",
    "http_xxe",
    "http_endless_body",
    "http_slow_drip",
    "http_endless_headers",
    "http_redirect_loop",
)
RTSP_BEHAVIOURS = ("rtsp_garbage", "rtsp_endless_headers", "rtsp_slow_drip")
WSD_BEHAVIOURS = ("wsd_xml_bomb", "wsd_xxe", "wsd_garbage", "wsd_flood")
BEHAVIOURS = (*HTTP_BEHAVIOURS, "tls_stall", *RTSP_BEHAVIOURS, *WSD_BEHAVIOURS)

HTTP_PORT = 80
HTTPS_PORT = 443
RTSP_PORT = 554
WSD_PORT = 3702
MAX_CONNECTION_S = 600.0  # the longest any hostile connection is kept open
MAX_STREAM_BYTES = 1 << 30  # the "gigabyte body": the most one connection is sent
CHUNK = 64 * 1024
DRIP_INTERVAL_S = 1.0
FLOOD_REPLIES = 2000  # ProbeMatches datagrams sent for each probe received
READ_TIMEOUT_S = 30.0

TcpHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"

# Transport errors a hostile handler expects: the scanner gives up and hangs up.
_GONE = (ConnectionError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


def validate(behaviours: list[str]) -> None:
    """Raise ValueError for an unknown behaviour or two that need the same port."""
    unknown = [b for b in behaviours if b not in BEHAVIOURS]
    if unknown:
        raise ValueError(f"unknown hostile behaviour(s) {unknown}; known: {', '.join(BEHAVIOURS)}")
    for group in (HTTP_BEHAVIOURS, RTSP_BEHAVIOURS, WSD_BEHAVIOURS):
        both = [b for b in behaviours if b in group]
        if len(both) > 1:
            raise ValueError(f"hostile behaviours {both} share a port: pick one")


def billion_laughs(levels: int = 10) -> str:
    """The classic entity-expansion DTD: ``&lol9;`` expands to 10**9 "lol"s."""
    ents = ['<!ENTITY lol0 "lol">']
    ents += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    return f"<!DOCTYPE Envelope [{''.join(ents)}]>"


def external_entities(ip: str, port: int) -> str:
    """A DTD naming a local file and a parameter entity fetched from the device itself."""
    return (
        '<!DOCTYPE Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        f'<!ENTITY % remote SYSTEM "http://{ip}:{port}/xxe.dtd">%remote;]>'
    )


def soap_reply(doctype: str, entity: str) -> bytes:
    """A GetDeviceInformationResponse whose fields reference ``entity``."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
        "<s:Body><tds:GetDeviceInformationResponse>"
        f"<tds:Manufacturer>{entity}</tds:Manufacturer><tds:Model>{entity}</tds:Model>"
        "<tds:FirmwareVersion>1.0</tds:FirmwareVersion><tds:SerialNumber>0</tds:SerialNumber>"
        "<tds:HardwareId>0</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse></s:Body></s:Envelope>"
    ).encode()


def probe_matches(relates_to: str, endpoint: str, xaddr: str, doctype: str, scope: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:a="{WSA}" xmlns:d="{WSD}" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        f"<s:Header><a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID>"
        f"<a:RelatesTo>{relates_to}</a:RelatesTo>"
        f"<a:Action>{WSD}/ProbeMatches</a:Action></s:Header>"
        "<s:Body><d:ProbeMatches><d:ProbeMatch>"
        f"<a:EndpointReference><a:Address>{endpoint}</a:Address></a:EndpointReference>"
        f"<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>{scope}</d:Scopes>"
        f"<d:XAddrs>{xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>"
        "</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
    ).encode()


def _relates_to(data: bytes) -> str:
    """The MessageID of a probe, found without an XML parser (the lab trusts no input)."""
    start = data.find(b"MessageID>")
    if start < 0:
        return "urn:uuid:0"
    end = data.find(b"<", start)
    return data[start + 10 : end].decode("latin-1", "replace")[:100] if end > 0 else "urn:uuid:0"


class HostileDevice:
    """The misbehaviours of one device, with counters tests read (``stats``)."""

    def __init__(self, ctx: DeviceContext) -> None:
        self.ctx = ctx
        self.behaviours = list(ctx.device.hostile)
        validate(self.behaviours)
        self.rng = random.Random(ctx.device.serial)  # garbage is the same run to run
        self.stats: dict[str, int] = {
            "connections": 0,
            "bytes_sent": 0,
            "xxe_fetches": 0,  # requests for the external DTD: a scanner that resolved it
            "datagrams_sent": 0,
        }
        self.http = next((b for b in self.behaviours if b in HTTP_BEHAVIOURS), None)
        self.rtsp = next((b for b in self.behaviours if b in RTSP_BEHAVIOURS), None)
        self.wsd = next((b for b in self.behaviours if b in WSD_BEHAVIOURS), None)

    def plan(self) -> tuple[list[tuple[int, TcpHandler]], list[int]]:
        """``([(tcp port, handler)], [udp port])`` this device listens on."""
        tcp: list[tuple[int, TcpHandler]] = []
        if self.http:
            tcp.append((HTTP_PORT, self._bounded(self.handle_http)))
        if "tls_stall" in self.behaviours:
            tcp.append((HTTPS_PORT, self._bounded(self.handle_tls_stall)))
        if self.rtsp:
            tcp.append((RTSP_PORT, self._bounded(self.handle_rtsp)))
        return tcp, ([WSD_PORT] if self.wsd else [])

    def protocol(self) -> HostileWsd:
        return HostileWsd(self)

    # -- TCP --------------------------------------------------------------------------
    def _bounded(self, handler: TcpHandler) -> TcpHandler:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.stats["connections"] += 1
            try:
                await asyncio.wait_for(handler(reader, writer), MAX_CONNECTION_S)
            except _GONE:
                pass  # the scanner hung up or the connection hit its time limit
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()

        return run

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        self.stats["bytes_sent"] += len(data)
        await writer.drain()

    async def _stream(self, writer: asyncio.StreamWriter, make: Callable[[int], bytes]) -> None:
        """Send ``make(i)`` chunks until MAX_STREAM_BYTES or the peer goes away."""
        sent, i = 0, 0
        while sent < MAX_STREAM_BYTES:
            chunk = make(i)
            await self._send(writer, chunk)
            sent, i = sent + len(chunk), i + 1

    async def _drip(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        for n in range(len(data)):
            await self._send(writer, data[n : n + 1])
            await asyncio.sleep(DRIP_INTERVAL_S)

    async def _request(self, reader: asyncio.StreamReader) -> tuple[str, str]:
        """Read one request head (and a small body); return (method, path)."""
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        line = head[: head.find(b"\r\n")].decode("latin-1", "replace")
        method, _, rest = line.partition(" ")
        path = rest.partition(" ")[0] or "/"
        lower = head.lower()
        at = lower.find(b"content-length:")
        if at >= 0:
            digits = lower[at + 15 : lower.find(b"\r\n", at)].strip()
            length = int(digits) if digits.isdigit() else 0
            if 0 < length <= 256 * 1024:
                await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT_S)
        return method, path

    async def handle_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, path = await self._request(reader)
        behaviour = self.http
        if path.startswith("/xxe.dtd"):
            self.stats["xxe_fetches"] += 1
            log.warning("%s: a client fetched the external DTD", self.ctx.device.name)
            await self._send(writer, _http(200, b'<!ENTITY leak "x">', "application/xml-dtd"))
            return
        if behaviour in ("http_xml_bomb", "http_xxe"):
            if method != "POST":
                page = b"<html><head><title>IPCamera</title></head><body></body></html>"
                await self._send(writer, _http(200, page, "text/html"))
                return
            if behaviour == "http_xml_bomb":
                body = soap_reply(billion_laughs(), "&lol9;")
            else:
                body = soap_reply(external_entities(self.ctx.ip, HTTP_PORT), "&xxe;")
            await self._send(writer, _http(200, body, "application/soap+xml; charset=utf-8"))
        elif behaviour == "http_endless_body":
            head = (
                "HTTP/1.1 200 OK\r\nServer: IPCamera\r\nContent-Type: text/html\r\n"
                f"Content-Length: {MAX_STREAM_BYTES}\r\n\r\n<html><head><title>"
            )
            await self._send(writer, head.encode())
            filler = b"A" * CHUNK
            await self._stream(writer, lambda _i: filler)
        elif behaviour == "http_slow_drip":
            await self._drip(writer, _http(200, b"<title>IPCamera</title>", "text/html"))
        elif behaviour == "http_endless_headers":
            await self._send(writer, b"HTTP/1.1 200 OK\r\n")
            pad = "v" * 200
            await self._stream(
                writer, lambda i: "".join(f"X-Pad-{i}-{j}: {pad}\r\n" for j in range(256)).encode()
            )
        elif behaviour == "http_redirect_loop":
            # "/" sends the client to "/loop", "/loop" sends it back to "/" (absolute
            # form): round in circles, on one connection or many, for ever.
            nxt = "/loop" if path == "/" else f"http://{self.ctx.ip}:{HTTP_PORT}/"
            await self._send(
                writer,
                f"HTTP/1.1 302 Found\r\nLocation: {nxt}\r\nContent-Length: 0\r\n\r\n".encode(),
            )

    async def handle_tls_stall(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # Read (and drop) whatever the client sends, never a ServerHello.
        while await asyncio.wait_for(reader.read(4096), MAX_CONNECTION_S):
            pass

    async def handle_rtsp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        cseq = "1"
        for line in head.decode("latin-1", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "cseq":
                cseq = value.strip()[:10]
        if self.rtsp == "rtsp_garbage":
            # no CR/LF at all: the reader never finds the end of a header block
            rng = self.rng
            await self._stream(
                writer,
                lambda _i: bytes(rng.choice(_NO_EOL) for _ in range(4096)),
            )
        elif self.rtsp == "rtsp_endless_headers":
            await self._send(writer, f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n".encode())
            await self._stream(
                writer, lambda i: "".join(f"X-Pad-{i}-{j}: x\r\n" for j in range(1024)).encode()
            )
        elif self.rtsp == "rtsp_slow_drip":
            reply = (
                f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nServer: IPCamera RTSP\r\n"
                "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
            )
            await self._drip(writer, reply.encode())

    # -- WS-Discovery -------------------------------------------------------------------
    def wsd_replies(self, probe: bytes) -> list[bytes]:
        """The datagrams this device answers one Probe with."""
        rel = _relates_to(probe)
        ip = self.ctx.ip
        endpoint = f"urn:uuid:{self.ctx.device.endpoint_uuid or uuid.uuid4()}"
        xaddr = f"http://{ip}/onvif/device_service"
        scope = "onvif://www.onvif.org/type/video_encoder"
        if self.wsd == "wsd_xml_bomb":
            return [probe_matches(rel, endpoint, xaddr, billion_laughs(), "&lol9;")]
        if self.wsd == "wsd_xxe":
            return [probe_matches(rel, endpoint, xaddr, external_entities(ip, HTTP_PORT), "&xxe;")]
        if self.wsd == "wsd_garbage":
            return [self.rng.randbytes(self.rng.randint(1, 1400))]
        # wsd_flood: distinct endpoints, each pointing at another port of this device
        return [
            probe_matches(
                rel, f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}",
                f"http://{ip}:{1024 + n}/onvif/device_service", "", scope,
            )
            for n in range(FLOOD_REPLIES)
        ]  # fmt: skip


_NO_EOL = bytes(b for b in range(256) if b not in (10, 13))


def _http(status: int, body: bytes, ctype: str) -> bytes:
    reason = {200: "OK", 302: "Found"}.get(status, "OK")
    return (
        f"HTTP/1.1 {status} {reason}\r\nServer: IPCamera\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


class HostileWsd(asyncio.DatagramProtocol):
    """Answers every datagram on UDP 3702 with the device's WS-Discovery misbehaviour."""

    def __init__(self, device: HostileDevice) -> None:
        self.device = device
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) > MAX_HEADER_BYTES or self.transport is None:
            return
        for reply in self.device.wsd_replies(data):
            if self.transport.is_closing():
                return
            try:
                self.transport.sendto(reply, addr)
            except OSError as exc:  # the flood filled the socket buffer: drop the rest
                log.debug("%s: wsd send: %s", self.device.ctx.device.name, exc)
                return
            self.device.stats["datagrams_sent"] += 1
