"""SSDP (UPnP discovery) responder for a camera with UPnP left on (issue 7).

Answers M-SEARCH sent to the device's own address on UDP 1900 (unicast; the lab's
cameras do not join the multicast group, so the cameras' own IGD searches on
239.255.255.250 never reach each other), one reply per matching type, as UPnP Device
Architecture 1.1 asks: ``ssdp:all`` gets the root device, the device UUID and the device
type; a search for one of them gets that one. ``LOCATION`` points at the description
page the device's HTTP server serves (``http["ssdp"]``, written by camlab.features).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from .common import DeviceContext

log = logging.getLogger(__name__)

SSDP_PORT = 1900
DEVICE_TYPE = "urn:schemas-upnp-org:device:Basic:1"
MAX_REQUEST = 2048
# libupnp's banner: the UPnP stack of many XM, Dahua-OEM and Reolink firmwares
SERVER = "Linux/3.10.0, UPnP/1.0, Portable SDK for UPnP devices/1.6.19"


class SsdpResponder(asyncio.DatagramProtocol):
    def __init__(self, ctx: DeviceContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.DatagramTransport | None = None
        cfg: dict[str, Any] = ctx.device.http.get("ssdp") or {}
        port = int(ctx.device.http.get("port", 80))
        self.location = f"http://{ctx.ip}:{port}{cfg.get('path', '/upnp/device.xml')}"
        self.uuid = f"uuid:{ctx.device.endpoint_uuid}"
        self.answered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def targets(self, st: str) -> list[str]:
        every = ["upnp:rootdevice", self.uuid, DEVICE_TYPE]
        return every if st == "ssdp:all" else [t for t in every if t == st]

    def reply(self, st: str) -> bytes:
        usn = self.uuid if st == self.uuid else f"{self.uuid}::{st}"
        return (
            "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n"
            f"LOCATION: {self.location}\r\nSERVER: {SERVER}\r\nST: {st}\r\nUSN: {usn}\r\n\r\n"
        ).encode()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) > MAX_REQUEST or not data.startswith(b"M-SEARCH * HTTP/1.1"):
            return
        text = data.decode("latin-1")
        if '"ssdp:discover"' not in text:
            return
        st = next(
            (ln.partition(":")[2].strip() for ln in text.split("\r\n")
             if ln.upper().startswith("ST:")),
            "",
        )  # fmt: skip
        delay = 1.0 if self.ctx.slow else 0.0
        for target in self.targets(st):
            asyncio.get_running_loop().call_later(delay, self._send, self.reply(target), addr)

    def _send(self, payload: bytes, addr: tuple[str | Any, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(payload, addr)
            self.answered += 1
