"""A UDP server that answers from the address it was asked on (IP_PKTINFO).

The fake internet binds ``0.0.0.0`` in a namespace where all of 198.19.0.0/16 is
local; a plain reply would leave from the uplink address and a resolver client would
drop it. Reading the destination with ``IP_PKTINFO`` and replying with it as the
source makes every one of the 65 536 addresses a real server.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable

log = logging.getLogger(__name__)

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
MAX_DATAGRAM = 65535

# handler(data, (src_ip, src_port), dst_ip) -> reply or None
Handler = Callable[[bytes, tuple[str, int], str], bytes | None]


class UdpServer:
    """Serve ``handler`` on a bound UDP socket from the running asyncio loop."""

    def __init__(self, sock: socket.socket, handler: Handler, label: str) -> None:
        self.sock = sock
        self.handler = handler
        self.label = label
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def bind(cls, host: str, port: int, handler: Handler, label: str) -> UdpServer:
        """Create and bind the socket (call while inside the wanted namespace)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        return cls(sock, handler, label)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._readable)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _readable(self) -> None:
        for _ in range(64):  # drain a burst without starving the loop
            try:
                data, anc, _flags, src = self.sock.recvmsg(MAX_DATAGRAM, socket.CMSG_SPACE(12))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable reported on the socket
                log.debug("%s: recv: %s", self.label, exc)
                return
            dst = ""
            for level, ctype, cdata in anc:
                if level == socket.IPPROTO_IP and ctype == IP_PKTINFO and len(cdata) >= 12:
                    dst = socket.inet_ntoa(cdata[4:8])  # ipi_spec_dst
            try:
                reply = self.handler(data, src, dst)
            except ValueError as exc:  # malformed request: count it, answer nothing
                log.debug("%s: bad datagram from %s: %s", self.label, src, exc)
                continue
            if reply is None:
                continue
            cmsg = [(socket.IPPROTO_IP, IP_PKTINFO, _pktinfo(dst))] if dst else []
            try:
                self.sock.sendmsg([reply], cmsg, 0, src)
            except OSError as exc:  # peer gone, buffer full: UDP is allowed to lose it
                log.debug("%s: send to %s: %s", self.label, src, exc)


def _pktinfo(src_ip: str) -> bytes:
    return struct.pack("=I4s4s", 0, socket.inet_aton(src_ip), bytes(4))
