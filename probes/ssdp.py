"""SSDP / UPnP probe: does the target answer an M-SEARCH, and what does it describe?

Unicast only: one ``M-SEARCH * HTTP/1.1`` (``ST: ssdp:all``, ``MX: 1``) to the target's
UDP 1900, repeated once if nothing came back (UDP may drop it). UPnP Device
Architecture 1.1 (section 1.3.3) has devices answer a unicast search at once, without
the MX delay, with one reply per device/service type, unicast to the sender. Nothing
is sent to the multicast group: camaudit only talks to the hosts the user named.

The reply's ``LOCATION`` names the root device description. It is fetched only when it
points at the very same host (a device may name any address; we never follow it
elsewhere), over plain HTTP, without redirects, with a size cap, and parsed with
defusedxml (no DTD tricks, no entity expansion).

A host that refuses (ICMP port unreachable) or stays silent yields no observation: like
a closed port, it says nothing about the device.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

import aiohttp
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from auditor.model import Observation

log = logging.getLogger(__name__)

SSDP_PORT = 1900
MAX_WAIT_S = 2.0  # a device answers a unicast search at once; this covers a slow one
SIBLING_WAIT_S = 0.3  # after the first reply, the other types' replies follow quickly
RESEND_AFTER_S = 0.5
MAX_REPLIES = 16  # ssdp:all: root device, device UUID, a few types; more is a flood
MAX_DATAGRAM = 2048
MAX_DESCRIPTION = 64 * 1024
MAX_STR = 512
HEADERS = ("location", "server", "st", "usn", "cache-control")
UPNP_DEVICE_NS = "urn:schemas-upnp-org:device-1-0"
DESCRIPTION_FIELDS = {
    "friendly_name": "friendlyName", "manufacturer": "manufacturer",
    "model_name": "modelName", "model_number": "modelNumber",
    "serial": "serialNumber", "device_type": "deviceType", "udn": "UDN",
}  # fmt: skip


def m_search(ip: str, port: int = SSDP_PORT) -> bytes:
    """The unicast M-SEARCH request for ``ip`` (HOST names the target, per UDA 1.1)."""
    return (
        f'M-SEARCH * HTTP/1.1\r\nHOST: {ip}:{port}\r\nMAN: "ssdp:discover"\r\n'
        "MX: 1\r\nST: ssdp:all\r\nUSER-AGENT: camaudit/0.1 UPnP/1.1 audit\r\n\r\n"
    ).encode()


def parse_reply(data: bytes) -> dict[str, str] | None:
    """Return the reply's known headers (lower-case names) or None if not an SSDP answer."""
    text = data[:MAX_DATAGRAM].decode("latin-1")
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    if not lines or not lines[0].upper().startswith("HTTP/1.") or " 200" not in lines[0]:
        return None  # a NOTIFY, an M-SEARCH echo, or noise
    out: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        key = name.strip().lower()
        if sep and key in HEADERS and key not in out:
            out[key] = value.strip()[:MAX_STR]
    return out


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, ip: str) -> None:
        self.ip = ip
        self.replies: list[dict[str, str]] = []
        self.first = asyncio.Event()
        self.refused = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if addr[0] != self.ip or len(self.replies) >= MAX_REPLIES:
            return  # only the target's own answers count
        parsed = parse_reply(data)
        if parsed is not None and parsed not in self.replies:
            self.replies.append(parsed)
            self.first.set()

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefusedError):  # ICMP port unreachable: no SSDP here
            self.refused.set()


async def _search(ip: str, port: int, wait: float) -> list[dict[str, str]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Collector(ip), remote_addr=(ip, port)
    )
    try:
        request = m_search(ip, port)
        deadline = loop.time() + wait
        for attempt in range(2):
            transport.sendto(request)
            until = min(deadline, loop.time() + RESEND_AFTER_S) if attempt == 0 else deadline
            done = [
                asyncio.ensure_future(proto.first.wait()),
                asyncio.ensure_future(proto.refused.wait()),
            ]
            await asyncio.wait(
                done, timeout=max(0.0, until - loop.time()), return_when=asyncio.FIRST_COMPLETED
            )
            for f in done:
                f.cancel()
            if proto.first.is_set() or proto.refused.is_set():
                break
        if proto.first.is_set():
            await asyncio.sleep(min(SIBLING_WAIT_S, max(0.0, deadline - loop.time())))
        return list(proto.replies)
    finally:
        transport.close()


def same_host_url(location: str, ip: str) -> str | None:
    """``location`` if it is an http URL whose host is literally ``ip``, else None."""
    try:
        parts = urlsplit(location.strip())
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme != "http" or host is None:
        return None
    try:
        if ipaddress.ip_address(host) != ipaddress.ip_address(ip):
            return None
    except ValueError:
        return None  # a name: resolving it could lead anywhere
    return location.strip()


def _find(el: Element, local: str) -> str | None:
    found = el.find(f"{{{UPNP_DEVICE_NS}}}{local}")
    if found is None:
        found = el.find(local)  # devices that forget the namespace
    text = (found.text or "").strip() if found is not None else ""
    return text[:MAX_STR] or None


def parse_description(body: bytes) -> dict[str, Any]:
    """Return the root device's identity fields and service types from a description.

    Raises ValueError for malformed XML or XML that DTD/entity tricks make unsafe.
    """
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise ValueError(f"malformed description XML: {str(exc)[:200]}") from exc
    device = root.find(f"{{{UPNP_DEVICE_NS}}}device")
    if device is None:
        device = root.find("device")
    if device is None:
        raise ValueError("description has no <device>")
    out: dict[str, Any] = {k: _find(device, v) for k, v in DESCRIPTION_FIELDS.items()}
    services = [
        (s.text or "").strip()[:MAX_STR]
        for s in device.iter()
        if s.tag.rpartition("}")[2] == "serviceType" and (s.text or "").strip()
    ]
    out["services"] = services[:16]
    return out


async def _fetch(url: str, timeout: float) -> bytes:
    session_timeout = aiohttp.ClientTimeout(total=timeout, connect=timeout, sock_read=timeout)
    async with (
        aiohttp.ClientSession(timeout=session_timeout, trust_env=False) as session,
        session.get(url, allow_redirects=False) as resp,
    ):
        if resp.status != 200:
            raise ValueError(f"description: HTTP {resp.status}")
        if resp.content_length is not None and resp.content_length > MAX_DESCRIPTION:
            raise ValueError(f"description larger than {MAX_DESCRIPTION} bytes")
        body = await resp.content.read(MAX_DESCRIPTION + 1)
        if len(body) > MAX_DESCRIPTION:
            raise ValueError(f"description larger than {MAX_DESCRIPTION} bytes")
        return body


async def probe_ssdp(
    ip: str, *, timeout: float, port: int = SSDP_PORT, describe: bool = True
) -> list[Observation]:
    """Search ``ip`` for UPnP devices; return one ``ssdp`` observation, or none.

    None when the host refused or stayed silent. With ``describe``, the root
    description at a same-host LOCATION is fetched (bounded by ``timeout``); a failure
    there is recorded in ``description_error``, never raised.
    """
    replies = await _search(ip, port, min(timeout, MAX_WAIT_S))
    if not replies:
        return []
    locations = list(dict.fromkeys(r["location"] for r in replies if r.get("location")))
    data: dict[str, Any] = {
        "responses": replies,
        "server": next((r["server"] for r in replies if r.get("server")), None),
        "location": locations[0] if locations else None,
        "search_targets": sorted({r["st"] for r in replies if r.get("st")}),
        "description": None,
        "description_error": None,
        "location_elsewhere": [loc for loc in locations if same_host_url(loc, ip) is None],
    }
    url = next((u for u in (same_host_url(loc, ip) for loc in locations) if u), None)
    if describe and url is not None:
        try:
            async with asyncio.timeout(timeout):
                data["description"] = parse_description(await _fetch(url, timeout))
        except TimeoutError:
            data["description_error"] = f"timeout after {timeout:g}s"
        except (aiohttp.ClientError, ValueError) as exc:  # refused, reset, bad XML, oversized
            data["description_error"] = str(exc)[:MAX_STR] or type(exc).__name__
    return [Observation("ssdp", ip, data=data, port=port)]
