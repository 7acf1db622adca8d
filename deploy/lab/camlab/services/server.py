"""DeviceServer: every listening socket of one simulated device, bound then served."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..media import H264_CLIP, MJPEG_CLIP, ensure_clip
from ..spec import LabDevice
from .common import MAX_HEADER_BYTES, DeviceContext
from .hostile import HostileDevice
from .httpd import HttpService
from .rtsp_fake import FakeRtsp
from .ssdp import SSDP_PORT, SsdpResponder
from .vendor import UDP_GROUPS, VendorTcp, VendorUdp
from .wsdiscovery import WSD_GROUP, WSD_PORT, WsDiscovery, WsdProtocol

log = logging.getLogger(__name__)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)  # Linux; not in every Python
BROADCAST_SERVICES = frozenset({"xiongmai-discovery"})


class DeviceServer:
    """All protocol servers of one :class:`LabDevice`.

    ``bind()`` creates every listening socket and must run while the calling thread is
    inside the device's network namespace (the sockets stay there); ``start()`` serves
    them on the running asyncio loop; ``stop()`` closes everything. ``bind_ip`` serves
    the device on another address (tests use 127.0.1.x in the root namespace).
    """

    def __init__(self, device: LabDevice, media_dir: Path, bind_ip: str | None = None) -> None:
        self.device = device
        self.media_dir = Path(media_dir)
        self.ip = bind_ip or device.ip
        self.loopback_test = bind_ip is not None
        self.ctx = DeviceContext(device, self.ip)
        self._tcp: list[tuple[socket.socket, Handler]] = []
        self._udp: list[tuple[socket.socket, Callable[[], asyncio.DatagramProtocol]]] = []
        self._servers: list[asyncio.AbstractServer] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._gst: Any = None
        self.wsd: WsDiscovery | None = None
        self.hostile: HostileDevice | None = None

    # -- binding (inside the namespace) ---------------------------------------------
    def bind(self) -> None:
        """Create and bind every socket now. Raises OSError if an address is unavailable."""
        try:
            self._bind_all()
        except BaseException:
            self._close_sockets()
            raise

    def _bind_all(self) -> None:
        dev = self.device
        if dev.hostile:  # a hostile device serves only its misbehaviours (robustness tests)
            self.hostile = HostileDevice(self.ctx)
            tcp_plan, udp_ports = self.hostile.plan()
            for port, handler in tcp_plan:
                self._tcp.append((self._tcp_socket(port), handler))
            for port in udp_ports:
                self._udp.append((self._udp_socket(port), self.hostile.protocol))
            return
        http_port = int(dev.http.get("port", 80)) if dev.http else None
        onvif_port = int(dev.onvif.get("port", 80)) if dev.onvif else None
        if http_port is not None:
            svc = HttpService(self.ctx, http_port, admin=True, onvif=onvif_port == http_port)
            self._tcp.append((self._tcp_socket(http_port), svc.handle))
        if onvif_port is not None and onvif_port != http_port:
            svc = HttpService(self.ctx, onvif_port, admin=False, onvif=True)
            self._tcp.append((self._tcp_socket(onvif_port), svc.handle))
        if dev.rtsp:
            if dev.rtsp.get("engine") == "fake":
                fake = FakeRtsp(self.ctx)
                self._tcp.append((self._tcp_socket(fake.port), fake.handle))
            else:
                self._bind_gst()
        if dev.wsdiscovery:
            wsd = self.wsd = WsDiscovery(self.ctx)
            self._udp.append((self._udp_socket(WSD_PORT), lambda: WsdProtocol(wsd, False)))
            group = self._multicast_socket(WSD_GROUP, WSD_PORT)
            if group is not None:
                self._udp.append((group, lambda: WsdProtocol(wsd, True)))
        if dev.http.get("ssdp"):  # UPnP left on (camlab.features upnp_ssdp); unicast only
            ssdp = SsdpResponder(self.ctx)
            self._udp.append((self._udp_socket(SSDP_PORT), lambda: ssdp))
        for vp in dev.vendor_ports:
            service, port = str(vp["service"]), int(vp["port"])
            if vp["proto"] == "tcp":
                self._tcp.append((self._tcp_socket(port), VendorTcp(self.ctx, service).handle))
                continue
            holder: list[Any] = []
            broadcast = service in BROADCAST_SERVICES and not self.loopback_test
            sock = self._udp_socket(port, any_addr=broadcast)
            self._udp.append((sock, _factory(self.ctx, service, holder)))
            if service in UDP_GROUPS:
                group = self._multicast_socket(UDP_GROUPS[service], port)
                if group is not None:
                    self._udp.append((group, _factory(self.ctx, service, holder)))

    def _bind_gst(self) -> None:
        from .gst import GstStream  # GStreamer only when a device streams for real

        rtsp = self.device.rtsp or {}
        codec = str(rtsp.get("codec", "h264"))
        clip = self.media_dir / (MJPEG_CLIP if codec == "mjpeg" else H264_CLIP)
        if not clip.is_file():
            clip = ensure_clip(self.media_dir, codec)
        self._gst = GstStream(self.ip, rtsp, clip, self.device.username, self.device.password)
        self._gst.attach()

    def _tcp_socket(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.ip, port))
            sock.listen(64)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno, f"{self.device.name}: tcp {self.ip}:{port}: {exc.strerror}"
            ) from exc
        return sock

    def _udp_socket(self, port: int, any_addr: bool = False) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.bind(("0.0.0.0" if any_addr else self.ip, port))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno, f"{self.device.name}: udp {self.ip}:{port}: {exc.strerror}"
            ) from exc
        return sock

    def _multicast_socket(self, group: str, port: int) -> socket.socket | None:
        """A socket that receives only ``group``:``port``, joined on the device's interface.

        Returns None on loopback test addresses where the join fails (``lo`` has no
        multicast by default): tests probe unicast.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.bind((group, port))
            mreq = socket.inet_aton(group) + socket.inet_aton(self.ip)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            if self.loopback_test:
                log.debug("%s: no multicast %s on %s: %s", self.device.name, group, self.ip, exc)
                return None
            raise OSError(exc.errno, f"{self.device.name}: join {group}: {exc.strerror}") from exc
        return sock

    # -- serving (root namespace, asyncio) ------------------------------------------
    async def start(self) -> None:
        """Serve the pre-bound sockets on the running loop."""
        loop = asyncio.get_running_loop()
        for sock, handler in self._tcp:
            server = await asyncio.start_server(
                self._tracked(handler), sock=sock, limit=MAX_HEADER_BYTES + 1024
            )
            self._servers.append(server)
        for sock, factory in self._udp:
            transport, _ = await loop.create_datagram_endpoint(factory, sock=sock)
            self._transports.append(transport)
        self._tcp, self._udp = [], []

    def _tracked(self, handler: Handler) -> Handler:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            try:
                await handler(reader, writer)
            finally:
                self._writers.discard(writer)

        return run

    async def stop(self) -> None:
        """Close every socket and connection of this device (idempotent)."""
        if self._gst is not None:
            self._gst.detach()
            self._gst = None
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for transport in self._transports:
            transport.close()
        for server in self._servers:
            await server.wait_closed()
        for writer in list(self._writers):
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        self._servers, self._transports = [], []
        self._close_sockets()
        await asyncio.sleep(0)  # let transports finish closing before the loop moves on

    def _close_sockets(self) -> None:
        for sock, _ in self._tcp:
            sock.close()
        for usock, _ in self._udp:
            usock.close()
        self._tcp, self._udp = [], []
        if self._gst is not None:
            self._gst.detach()
            self._gst = None


def _factory(ctx: DeviceContext, service: str, holder: list[Any]) -> Callable[[], VendorUdp]:
    return lambda: VendorUdp(ctx, service, holder)
