"""The fake internet (namespace ``camlab-inet``) and the site's own DNS/NTP (``camlab-rtr``).

Every address in 198.19.0.0/16 is local in ``camlab-inet``, so one socket per port on
``0.0.0.0`` plays every vendor cloud, every hard-coded "public" resolver
(114.114.114.114 is 198.19.114.114 here) and every NTP pool. It answers DNS for the
names the devices phone home to (each mapped with ``spec.cloud_address``; anything
else is NXDOMAIN), answers NTP and STUN, and counts everything else it is sent, per
port and per source, so tests can see who phoned home.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from camlab import wire
from camlab.netns import inside
from camlab.spec import INET_NS, ROUTER_NS, LabDevice, cloud_address
from camlab.udpserve import Handler, UdpServer

log = logging.getLogger(__name__)

UDP_SINK_PORTS = {8800, 32100, 32108, 3478, 10001, 19302}
TCP_SINK_PORTS = {80, 443, 8800, 1883, 8883}
TCP_READ_LIMIT = 64 * 1024
TCP_IDLE_S = 5.0

TcpHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Traffic:
    """What one server side saw; ``snapshot()`` goes into the daemon's status file."""

    dns_queries: Counter[str] = field(default_factory=Counter)  # by name
    dns_by_server: Counter[str] = field(default_factory=Counter)  # by address asked
    nxdomain: int = 0
    udp_packets: Counter[int] = field(default_factory=Counter)  # by port
    tcp_connections: Counter[int] = field(default_factory=Counter)  # by port
    bytes_in: int = 0
    ntp_replies: int = 0
    by_source: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def snapshot(self) -> dict[str, Any]:
        return {
            "dns_queries": dict(self.dns_queries),
            "dns_by_server": dict(self.dns_by_server),
            "nxdomain": self.nxdomain,
            "udp_packets": {str(k): v for k, v in self.udp_packets.items()},
            "tcp_connections": {str(k): v for k, v in self.tcp_connections.items()},
            "bytes_in": self.bytes_in,
            "ntp_replies": self.ntp_replies,
            "by_source": {k: dict(v) for k, v in self.by_source.items()},
        }


def phone_home_names(devices: Iterable[LabDevice]) -> set[str]:
    """Every DNS name the devices' phone-home entries use (lower case, no trailing dot)."""
    names: set[str] = set()
    for dev in devices:
        for entry in dev.phone_home:
            for key in ("name", "host", "server"):
                value = entry.get(key)
                if isinstance(value, str) and value and value != "site" and not _is_ipv4(value):
                    names.add(value.strip(".").lower())
    return names


def phone_home_ports(devices: Iterable[LabDevice]) -> tuple[set[int], set[int]]:
    """(UDP, TCP) ports the devices send to, on top of the default sinks."""
    udp, tcp = set(UDP_SINK_PORTS), set(TCP_SINK_PORTS)
    for dev in devices:
        for entry in dev.phone_home:
            if entry.get("kind") == "udp":
                udp.add(int(entry["port"]))
            elif entry.get("kind") == "tcp":
                tcp.add(int(entry["port"]))
    udp -= {53, 123}  # served by the DNS and NTP servers themselves
    tcp -= {53}
    return udp, tcp


def _is_ipv4(value: str) -> bool:
    try:
        socket.inet_aton(value)
    except OSError:
        return False
    return value.count(".") == 3


class DnsService:
    """Authoritative A answers for the phone-home names, NXDOMAIN for the rest."""

    def __init__(self, names: set[str], traffic: Traffic) -> None:
        self.zone = {n: cloud_address(n) for n in names}
        self.traffic = traffic

    def answer(self, data: bytes, src_ip: str, dst_ip: str) -> bytes:
        q = wire.dns_parse_question(data)
        self.traffic.dns_queries[q.name] += 1
        self.traffic.dns_by_server[dst_ip] += 1
        self.traffic.by_source[src_ip]["dns"] += 1
        address = self.zone.get(q.name)
        if address is None:
            self.traffic.nxdomain += 1
        return wire.dns_answer(q, address)

    def udp(self, data: bytes, src: tuple[str, int], dst: str) -> bytes | None:
        return self.answer(data, src[0], dst)

    async def tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        src = writer.get_extra_info("peername")[0]
        dst = writer.get_extra_info("sockname")[0]
        try:
            while True:
                (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 10))
                data = await asyncio.wait_for(reader.readexactly(length), 10)
                reply = self.answer(data, src, dst)
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # the client is done (or gone): DNS over TCP ends when it closes
        except wire.WireError as exc:
            log.debug("dns/tcp from %s: %s", src, exc)
        finally:
            writer.close()


class Servers:
    """Sockets bound in one namespace, served from the daemon's loop."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.udp: list[UdpServer] = []
        self.tcp_socks: list[tuple[socket.socket, TcpHandler]] = []
        self.tcp: list[asyncio.Server] = []

    def add_udp(self, port: int, handler: Handler, host: str = "0.0.0.0") -> None:
        self.udp.append(UdpServer.bind(host, port, handler, f"{self.label}/udp{port}"))

    def add_tcp(self, port: int, handler: TcpHandler, host: str = "0.0.0.0") -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        self.tcp_socks.append((sock, handler))

    async def start(self) -> None:
        for u in self.udp:
            u.start()
        for sock, handler in self.tcp_socks:
            self.tcp.append(await asyncio.start_server(handler, sock=sock))

    async def stop(self) -> None:
        for u in self.udp:
            u.close()
        for srv in self.tcp:
            srv.close()
        for srv in self.tcp:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(srv.wait_closed(), 2)


class FakeInternet:
    """Clouds, resolvers, NTP and STUN in ``camlab-inet``; site DNS/NTP in ``camlab-rtr``."""

    def __init__(self, devices: list[LabDevice]) -> None:
        names = phone_home_names(devices)
        self.udp_ports, self.tcp_ports = phone_home_ports(devices)
        self.traffic = Traffic()  # the internet's view (what left the city)
        self.site_traffic = Traffic()  # the city's own resolver and NTP
        self.dns = DnsService(names, self.traffic)
        self.site_dns = DnsService(names, self.site_traffic)
        self.inet = Servers("inet")
        self.site = Servers("site")

    def bind(self) -> None:
        """Bind every socket in its namespace (raises OSError / LabError)."""
        with inside(INET_NS):
            self.inet.add_udp(53, self.dns.udp)
            self.inet.add_tcp(53, self.dns.tcp)
            self.inet.add_udp(123, self._ntp(self.traffic))
            for port in sorted(self.udp_ports):
                self.inet.add_udp(port, self._udp_sink(port))
            for port in sorted(self.tcp_ports):
                self.inet.add_tcp(port, self._tcp_sink(port))
        with inside(ROUTER_NS):
            self.site.add_udp(53, self.site_dns.udp)
            self.site.add_tcp(53, self.site_dns.tcp)
            self.site.add_udp(123, self._ntp(self.site_traffic))
        log.info(
            "fake internet: %d names, udp sinks %s, tcp sinks %s",
            len(self.dns.zone),
            sorted(self.udp_ports),
            sorted(self.tcp_ports),
        )

    async def start(self) -> None:
        await self.inet.start()
        await self.site.start()

    async def stop(self) -> None:
        await self.inet.stop()
        await self.site.stop()

    def snapshot(self) -> dict[str, Any]:
        return {
            "internet": self.traffic.snapshot(),
            "site": self.site_traffic.snapshot(),
            "zone": dict(sorted(self.dns.zone.items())),
        }

    @staticmethod
    def _ntp(traffic: Traffic) -> Handler:
        def handle(data: bytes, src: tuple[str, int], dst: str) -> bytes | None:
            traffic.udp_packets[123] += 1
            traffic.by_source[src[0]]["ntp"] += 1
            traffic.bytes_in += len(data)
            reply = wire.ntp_reply(data)
            traffic.ntp_replies += 1
            return reply

        return handle

    def _udp_sink(self, port: int) -> Handler:
        traffic = self.traffic

        def handle(data: bytes, src: tuple[str, int], dst: str) -> bytes | None:
            traffic.udp_packets[port] += 1
            traffic.by_source[src[0]][f"udp/{port}"] += 1
            traffic.bytes_in += len(data)
            # STUN servers answer with the mapped address; P2P relays stay silent here
            return wire.stun_binding_response(data, src)

        return handle

    def _tcp_sink(self, port: int) -> TcpHandler:
        traffic = self.traffic

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            src = writer.get_extra_info("peername")[0]
            traffic.tcp_connections[port] += 1
            traffic.by_source[src][f"tcp/{port}"] += 1
            deadline = time.monotonic() + TCP_IDLE_S
            got = 0
            try:
                while got < TCP_READ_LIMIT and time.monotonic() < deadline:
                    chunk = await asyncio.wait_for(reader.read(4096), TCP_IDLE_S)
                    if not chunk:
                        break
                    got += len(chunk)
                    traffic.bytes_in += len(chunk)
                    if port == 80 and b"\r\n\r\n" in chunk:
                        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                        await writer.drain()
                        break
            except (TimeoutError, ConnectionError):
                pass  # a cloud endpoint hangs up on idle clients too
            finally:
                writer.close()

        return handle
