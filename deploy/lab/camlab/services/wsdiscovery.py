"""WS-Discovery (SOAP-over-UDP 2005/04) responder: answers Probe with ProbeMatches.

Probes come in on two sockets: the device's unicast address and the multicast group
239.255.255.250 (joined on the device's interface), so the ``unicast_only_discovery``
quirk can tell them apart without IP_PKTINFO. Answers always go unicast to the sender,
from the unicast socket, as the specification asks.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import cast
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .common import DeviceContext

log = logging.getLogger(__name__)

WSD_PORT = 3702
WSD_GROUP = "239.255.255.250"
MAX_DATAGRAM = 8192
NAMESPACES = {
    "dn": "http://www.onvif.org/ver10/network/wsdl",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "wsdp": "http://schemas.xmlsoap.org/ws/2006/02/devprof",
    "pub": "http://schemas.microsoft.com/windows/pub/2005/07",
    "wprt": "http://schemas.microsoft.com/windows/2006/08/wdp/print",
}
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
_XMLNS = re.compile(rb'xmlns:([\w.-]+)\s*=\s*["\']([^"\']+)["\']')


class WsDiscovery:
    def __init__(self, ctx: DeviceContext) -> None:
        self.ctx = ctx
        wsd = ctx.device.wsdiscovery or {}
        self.types = [t for t in wsd.get("types", []) if t.partition(":")[0] in NAMESPACES]
        self.wanted = {(NAMESPACES[t.partition(":")[0]], t.partition(":")[2]) for t in self.types}
        self.unicast_only = "unicast_only_discovery" in ctx.device.quirks
        self.reply: asyncio.DatagramTransport | None = None  # the unicast socket's transport
        self.answered = 0

    def probe(self, data: bytes, addr: tuple[str, int], via_multicast: bool) -> None:
        if via_multicast and self.unicast_only:
            return
        parsed = _parse_probe(data)
        if parsed is None:
            return
        message_id, requested = parsed
        if requested and not requested & self.wanted:
            return
        reply = self.probe_matches(message_id)
        delay = 1.0 if self.ctx.slow else 0.0
        asyncio.get_running_loop().call_later(delay, self._send, reply, addr)

    def _send(self, reply: bytes, addr: tuple[str, int]) -> None:
        if self.reply is not None and not self.reply.is_closing():
            self.reply.sendto(reply, addr)
            self.answered += 1

    def probe_matches(self, relates_to: str) -> bytes:
        dev, wsd = self.ctx.device, self.ctx.device.wsdiscovery or {}
        port = int(wsd.get("xaddr_port", 80))
        host = self.ctx.ip if port == 80 else f"{self.ctx.ip}:{port}"
        xaddr = f"http://{host}{wsd.get('xaddr_path', '/onvif/device_service')}"
        decls = " ".join(f'xmlns:{p}="{NAMESPACES[p]}"' for p in sorted(NAMESPACES))
        scopes = " ".join(wsd.get("scopes", []))
        scopes_el = f"<d:Scopes>{_esc(scopes)}</d:Scopes>" if scopes else ""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" '
            f'xmlns:wsa="{WSA}" xmlns:d="{WSD}" {decls}>'
            "<SOAP-ENV:Header>"
            f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
            f"<wsa:RelatesTo>{_esc(relates_to)}</wsa:RelatesTo>"
            f"<wsa:To>{WSA}/role/anonymous</wsa:To>"
            f"<wsa:Action>{WSD}/ProbeMatches</wsa:Action>"
            '<d:AppSequence InstanceId="1" MessageNumber="1"/>'
            "</SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>"
            "<wsa:EndpointReference><wsa:Address>"
            f"urn:uuid:{dev.endpoint_uuid}</wsa:Address></wsa:EndpointReference>"
            f"<d:Types>{' '.join(self.types)}</d:Types>{scopes_el}"
            f"<d:XAddrs>{xaddr}</d:XAddrs>"
            f"<d:MetadataVersion>{int(wsd.get('metadata_version', 1))}</d:MetadataVersion>"
            "</d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"
        ).encode()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _parse_probe(data: bytes) -> tuple[str, set[tuple[str, str]]] | None:
    """(MessageID, {(namespace, local name)} of the requested Types) or None if no Probe."""
    try:
        root = fromstring(data)
    except (ParseError, DefusedXmlException):
        return None
    probe = root.find(f".//{{{WSD}}}Probe")
    if probe is None:
        return None
    message_id = root.findtext(f".//{{{WSA}}}MessageID", "") or ""
    prefixes = {p.decode(): ns.decode() for p, ns in _XMLNS.findall(data)}
    requested: set[tuple[str, str]] = set()
    for qname in (probe.findtext(f"{{{WSD}}}Types") or "").split():
        prefix, _, local = qname.rpartition(":")
        requested.add((prefixes.get(prefix, NAMESPACES.get(prefix, prefix)), local))
    return message_id.strip(), requested


class WsdProtocol(asyncio.DatagramProtocol):
    def __init__(self, wsd: WsDiscovery, multicast: bool) -> None:
        self.wsd = wsd
        self.multicast = multicast

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self.multicast:
            self.wsd.reply = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) <= MAX_DATAGRAM:
            self.wsd.probe(data, (str(addr[0]), int(addr[1])), self.multicast)
