"""Phone-home behaviour: what each device sends to the fake internet, on a timer.

Every socket is created inside the device's namespace (so it leaves through that
device's ``eth0`` with its MAC and IP) and then used from the daemon's asyncio loop.
The entry format is documented on :class:`camlab.spec.LabDevice`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import socket
from collections import Counter
from typing import Any

from camlab import wire
from camlab.netns import inside
from camlab.spec import SITE_DNS_IP, SITE_NTP_IP, LabDevice, lab_address

log = logging.getLogger(__name__)

DEFAULT_EVERY_S = 30.0
FIRST_RUN_MAX_S = 1.5
KICK_SPREAD_S = 0.5  # after "phone home now", entries start within this (no herd)
REPLY_TIMEOUT_S = 1.5
CONNECT_TIMEOUT_S = 3.0
SSDP = ("239.255.255.250", 1900)
WANIP = "urn:schemas-upnp-org:service:WANIPConnection:1"


class PhoneHomeError(Exception):
    """One phone-home step failed (no answer, NXDOMAIN, refused); counted, not fatal."""


def _is_ipv4(value: str) -> bool:
    return bool(re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", value))


class PhoneHome:
    """Runs one device's ``phone_home`` entries forever (until cancelled)."""

    def __init__(self, device: LabDevice, seed: int) -> None:
        self.dev = device
        self.rng = random.Random(f"{seed}:{device.name}:phonehome")
        self.counts: Counter[str] = Counter()
        self.last_error = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._kicked = asyncio.Event()

    def kick(self) -> None:
        """Run every entry now instead of at its next period (the daemon's SIGUSR1:
        tests capture a few seconds of traffic instead of waiting up to 15 minutes)."""
        old, self._kicked = self._kicked, asyncio.Event()
        old.set()  # wakes the entries pausing now; later pauses wait on the new event

    async def _pause(self, seconds: float) -> None:
        kicked = self._kicked
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(kicked.wait(), seconds)
            await asyncio.sleep(self.rng.uniform(0.0, KICK_SPREAD_S))

    def snapshot(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "last_error": self.last_error}

    def start(self) -> None:
        for i, entry in enumerate(self.dev.phone_home):
            name = f"phonehome-{self.dev.name}-{i}"
            self._tasks.append(asyncio.create_task(self._loop(entry), name=name))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def _loop(self, entry: dict[str, Any]) -> None:
        kind = str(entry.get("kind", ""))
        every = float(entry.get("every_s", DEFAULT_EVERY_S))
        await asyncio.sleep(self.rng.uniform(0.1, FIRST_RUN_MAX_S))
        while True:
            self.counts[f"{kind}_attempts"] += 1
            try:
                await self.run_once(entry)
            except (PhoneHomeError, OSError, TimeoutError, wire.WireError) as exc:
                self.counts[f"{kind}_errors"] += 1
                self.last_error = f"{kind}: {exc}"
                log.debug("%s phone-home %s failed: %s", self.dev.name, kind, exc)
            else:
                self.counts[f"{kind}_ok"] += 1
            await self._pause(every * self.rng.uniform(0.9, 1.1))

    async def run_once(self, entry: dict[str, Any]) -> None:
        """Perform one entry once; raises PhoneHomeError/OSError/TimeoutError on failure."""
        kind = entry.get("kind")
        if kind == "dns":
            await self.resolve(str(entry.get("name") or entry["host"]), entry)
        elif kind == "udp":
            ip = await self._target(entry)
            payload = bytes.fromhex(str(entry.get("payload_hex", "")))
            await self._udp(ip, int(entry["port"]), payload, want_reply=False)
        elif kind == "tcp":
            ip = await self._target(entry)
            await self._tcp(
                ip, int(entry["port"]), bytes.fromhex(str(entry.get("payload_hex", "")))
            )
        elif kind == "ntp":
            server = str(entry.get("server") or entry.get("host") or "site")
            ip = SITE_NTP_IP if server == "site" else await self._address(server, entry)
            reply = await self._udp(ip, 123, wire.ntp_request(), want_reply=True)
            if reply is None or not wire.ntp_is_reply(reply):
                raise PhoneHomeError(f"no NTP answer from {ip}")
        elif kind == "upnp":
            await self._upnp(entry)
        else:
            raise PhoneHomeError(f"unknown phone-home kind {kind!r}")

    # --- helpers -------------------------------------------------------------------

    def _socket(self, kind: int) -> socket.socket:
        with inside(self.dev.netns):
            sock = socket.socket(socket.AF_INET, kind)
        sock.setblocking(False)
        return sock

    async def _target(self, entry: dict[str, Any]) -> str:
        return await self._address(
            str(entry.get("host") or entry.get("name") or entry["ip"]), entry
        )

    async def _address(self, host: str, entry: dict[str, Any]) -> str:
        if _is_ipv4(host):
            return lab_address(host)
        return await self.resolve(host, entry)

    async def resolve(self, name: str, entry: dict[str, Any]) -> str:
        """A-record lookup through the device's configured resolver; returns the address."""
        resolver = str(entry.get("resolver", "site"))
        server = SITE_DNS_IP if resolver == "site" else lab_address(resolver)
        query = wire.dns_query(name)
        txid = int.from_bytes(query[:2], "big")
        reply = await self._udp(server, 53, query, want_reply=True)
        if reply is None:
            raise PhoneHomeError(f"no DNS answer from {server} for {name}")
        rcode, addrs = wire.dns_parse_a(reply, txid)
        if rcode or not addrs:
            raise PhoneHomeError(f"{name}: rcode {rcode} from {server}")
        return addrs[0]

    async def _udp(self, ip: str, port: int, payload: bytes, want_reply: bool) -> bytes | None:
        loop = asyncio.get_running_loop()
        sock = self._socket(socket.SOCK_DGRAM)
        try:
            await loop.sock_sendto(sock, payload, (ip, port))
            try:
                data, _src = await asyncio.wait_for(
                    loop.sock_recvfrom(sock, 65535), REPLY_TIMEOUT_S if want_reply else 0.3
                )
            except TimeoutError:
                if want_reply:
                    raise
                return None
            return data
        finally:
            sock.close()

    async def _tcp(self, ip: str, port: int, payload: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        sock = self._socket(socket.SOCK_STREAM)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (ip, port)), CONNECT_TIMEOUT_S)
            if payload:
                await asyncio.wait_for(loop.sock_sendall(sock, payload), CONNECT_TIMEOUT_S)
            sock.shutdown(socket.SHUT_WR)
            chunks: list[bytes] = []
            with contextlib.suppress(TimeoutError):
                while True:
                    chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), REPLY_TIMEOUT_S)
                    if not chunk:
                        break
                    chunks.append(chunk)
            return b"".join(chunks)
        finally:
            sock.close()

    async def _upnp(self, entry: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        sock = self._socket(socket.SOCK_DGRAM)
        search = (
            b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
            b"MX: 1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n"
        )
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
            await loop.sock_sendto(sock, search, SSDP)
            data, _src = await asyncio.wait_for(loop.sock_recvfrom(sock, 65535), REPLY_TIMEOUT_S)
        finally:
            sock.close()
        m = re.search(
            r"^LOCATION:\s*http://([\d.]+):(\d+)(/\S*)", data.decode("latin-1"), re.M | re.I
        )
        if not m:
            raise PhoneHomeError("SSDP answer without a LOCATION")
        gw_ip, gw_port, desc_path = m.group(1), int(m.group(2)), m.group(3)
        desc = await self._http(gw_ip, gw_port, f"GET {desc_path} HTTP/1.1\r\nHost: {gw_ip}\r\n")
        ctl = re.search(rf"{re.escape(WANIP)}</serviceType>.*?<controlURL>([^<]+)<", desc, re.S)
        if not ctl:
            raise PhoneHomeError("gateway description has no WANIPConnection control URL")
        args = {
            "NewRemoteHost": "",
            "NewExternalPort": str(int(entry.get("external_port", entry.get("internal_port", 80)))),
            "NewProtocol": str(entry.get("protocol", "TCP")).upper(),
            "NewInternalPort": str(int(entry.get("internal_port", 80))),
            "NewInternalClient": self.dev.ip,
            "NewEnabled": "1",
            "NewPortMappingDescription": str(entry.get("description", self.dev.model)),
            "NewLeaseDuration": "0",
        }
        inner = "".join(f"<{k}>{v}</{k}>" for k, v in args.items())
        body = (
            '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
            ' s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
            f'<u:AddPortMapping xmlns:u="{WANIP}">{inner}</u:AddPortMapping></s:Body></s:Envelope>'
        )
        head = (
            f"POST {ctl.group(1)} HTTP/1.1\r\nHost: {gw_ip}:{gw_port}\r\n"
            'Content-Type: text/xml; charset="utf-8"\r\n'
            f'SOAPAction: "{WANIP}#AddPortMapping"\r\nContent-Length: {len(body.encode())}\r\n'
        )
        reply = await self._http(gw_ip, gw_port, head, body)
        if " 200 " not in reply.split("\r\n", 1)[0]:
            raise PhoneHomeError(f"AddPortMapping refused: {reply.split(chr(13), 1)[0]}")

    async def _http(self, ip: str, port: int, head: str, body: str = "") -> str:
        raw = await self._tcp(ip, port, (head + "Connection: close\r\n\r\n" + body).encode())
        return raw.decode("utf-8", "replace")
