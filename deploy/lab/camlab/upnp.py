"""A fake UPnP Internet Gateway Device on the router (what cheap cameras open ports on).

SSDP answers M-SEARCH on 239.255.255.250:1900 on both router legs (camlab0 and the
routed district), the HTTP side serves a root description with a WANIPConnection
service, and its control URL records every AddPortMapping to ``RUN_DIR/upnp.jsonl``.
Nothing is forwarded: the mapping is only evidence.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
from pathlib import Path
from typing import Any

from camlab.netns import inside
from camlab.spec import ROUTER_LOCAL_IP, ROUTER_NS, ROUTER_ROUTED_IP, UPNP_HTTP_PORT
from camlab.udpserve import UdpServer

log = logging.getLogger(__name__)

SSDP_GROUP = "239.255.255.250"
SSDP_PORT = 1900
IGD_UUID = "uuid:6c616263-616d-4c61-6249-4744000000a1"
WANIP = "urn:schemas-upnp-org:service:WANIPConnection:1"
SEARCH_TARGETS = {
    "ssdp:all",
    "upnp:rootdevice",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:device:WANDevice:1",
    "urn:schemas-upnp-org:device:WANConnectionDevice:1",
    WANIP,
}
FAKE_WAN_IP = "198.19.250.1"
HTTP_LIMIT = 64 * 1024

ROOT_DESC = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<device>
<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>camlab district router</friendlyName>
<manufacturer>camlab</manufacturer><modelName>IGD</modelName>
<UDN>{uuid}</UDN>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<UDN>{uuid}-wan</UDN>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<UDN>{uuid}-conn</UDN>
<serviceList><service>
<serviceType>{wanip}</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>/ctl/IPConn</controlURL>
<eventSubURL>/evt/IPConn</eventSubURL>
<SCPDURL>/WANIPCn.xml</SCPDURL>
</service></serviceList>
</device></deviceList>
</device></deviceList>
</device>
</root>
"""

SOAP_REPLY = """<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" \
s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>
<u:{action}Response xmlns:u="{wanip}">{body}</u:{action}Response>
</s:Body></s:Envelope>
"""

MAPPING_ARGS = (
    "NewRemoteHost",
    "NewExternalPort",
    "NewProtocol",
    "NewInternalPort",
    "NewInternalClient",
    "NewEnabled",
    "NewPortMappingDescription",
    "NewLeaseDuration",
)


def _arg(body: str, name: str) -> str:
    m = re.search(rf"<(?:\w+:)?{name}[^>]*>([^<]*)</", body)
    return m.group(1).strip() if m else ""


class Gateway:
    """SSDP + HTTP/SOAP of the fake IGD, bound inside ``camlab-rtr``."""

    def __init__(self, run_dir: Path) -> None:
        self.log_path = run_dir / "upnp.jsonl"
        self.searches = 0
        self.mappings = 0
        self.ssdp: UdpServer | None = None
        self._http_sock: socket.socket | None = None
        self._http: asyncio.Server | None = None

    def bind(self) -> None:
        with inside(ROUTER_NS):
            self.ssdp = UdpServer.bind("0.0.0.0", SSDP_PORT, self._search, "upnp/ssdp")
            for leg in (ROUTER_LOCAL_IP, ROUTER_ROUTED_IP):
                mreq = socket.inet_aton(SSDP_GROUP) + socket.inet_aton(leg)
                self.ssdp.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", UPNP_HTTP_PORT))
            sock.listen(64)
            sock.setblocking(False)
            self._http_sock = sock

    async def start(self) -> None:
        if self.ssdp is None or self._http_sock is None:
            raise RuntimeError("Gateway.start() before bind()")
        self.ssdp.start()
        self._http = await asyncio.start_server(self._serve_http, sock=self._http_sock)

    async def stop(self) -> None:
        if self.ssdp is not None:
            self.ssdp.close()
        if self._http is not None:
            self._http.close()

    def snapshot(self) -> dict[str, Any]:
        return {"searches": self.searches, "mappings": self.mappings}

    def _search(self, data: bytes, src: tuple[str, int], dst: str) -> bytes | None:
        text = data.decode("latin-1")
        if not text.startswith("M-SEARCH"):
            return None
        st_match = re.search(r"^ST:\s*(\S+)", text, re.M | re.I)
        st = st_match.group(1) if st_match else ""
        if st not in SEARCH_TARGETS:
            return None
        self.searches += 1
        # answer with the leg the search arrived on (dst is our interface address)
        here = dst if dst in (ROUTER_LOCAL_IP, ROUTER_ROUTED_IP) else ROUTER_LOCAL_IP
        reply_st = "urn:schemas-upnp-org:device:InternetGatewayDevice:1" if st == "ssdp:all" else st
        return (
            "HTTP/1.1 200 OK\r\n"
            "CACHE-CONTROL: max-age=120\r\n"
            f"ST: {reply_st}\r\n"
            f"USN: {IGD_UUID}::{reply_st}\r\n"
            "EXT:\r\n"
            "SERVER: Linux/5.10 UPnP/1.1 camlab-igd/1.0\r\n"
            f"LOCATION: http://{here}:{UPNP_HTTP_PORT}/rootDesc.xml\r\n"
            "\r\n"
        ).encode()

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[0]
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            text = head.decode("latin-1")
            m = re.search(r"^content-length:\s*(\d+)", text, re.M | re.I)
            length = min(int(m.group(1)), HTTP_LIMIT) if m else 0
            body = (await asyncio.wait_for(reader.readexactly(length), 5)).decode(
                "utf-8", "replace"
            )
            status, ctype, payload = self._route(text, body, peer)
            data = payload.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                "Server: Linux/5.10 UPnP/1.1 camlab-igd/1.0\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            log.debug("upnp http from %s: %r", peer, exc)
        except ConnectionError as exc:
            log.debug("upnp http from %s: %s", peer, exc)
        finally:
            writer.close()

    def _route(self, head: str, body: str, peer: str) -> tuple[str, str, str]:
        request_line = head.split("\r\n", 1)[0].split()
        method, path = [*request_line, "", ""][:2]
        xml = 'text/xml; charset="utf-8"'
        if method == "GET" and path == "/rootDesc.xml":
            return "200 OK", xml, ROOT_DESC.format(uuid=IGD_UUID, wanip=WANIP)
        if method != "POST" or path != "/ctl/IPConn":
            return "404 Not Found", "text/plain", "not found\n"
        action_m = re.search(r'^soapaction:\s*"?[^#"]*#(\w+)"?', head, re.M | re.I)
        action = action_m.group(1) if action_m else ""
        if action == "AddPortMapping":
            record = {"ts": time.time(), "from": peer}
            record.update({a: _arg(body, a) for a in MAPPING_ARGS})
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
            self.mappings += 1
            log.info("upnp: %s mapped %s", peer, record.get("NewExternalPort"))
            return "200 OK", xml, SOAP_REPLY.format(action=action, wanip=WANIP, body="")
        if action == "GetExternalIPAddress":
            out = f"<NewExternalIPAddress>{FAKE_WAN_IP}</NewExternalIPAddress>"
            return "200 OK", xml, SOAP_REPLY.format(action=action, wanip=WANIP, body=out)
        return "500 Internal Server Error", xml, "<UPnPError><errorCode>401</errorCode></UPnPError>"
