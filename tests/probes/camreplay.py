"""Loopback stand-ins for cameras: replay recorded bytes from tests/fixtures.

Everything binds to 127.0.2.0/24 only (other suites use other 127.x ranges).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NET = "127.0.2"


def fixture(*parts: str) -> bytes:
    return FIXTURES.joinpath(*parts).read_bytes()


@dataclass
class Device:
    """A TCP server on one loopback address: ``routes`` maps path -> reply bytes.

    ``mode``: "replay" (HTTP by path), "banner" (send ``banner`` on connect), "reply"
    (answer the first read with ``banner``), "slow" (one byte per second), "silent"
    (accept and never answer), "flood" (endless header lines).
    """

    ip: str
    port: int = 0
    routes: dict[str, bytes] = field(default_factory=dict)
    default: bytes = b""
    mode: str = "replay"
    banner: bytes = b""
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> Device:
        self.server = await asyncio.start_server(
            self._handle, self.ip, self.port, ssl=self.tls, reuse_address=True
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            if self.mode == "banner":
                writer.write(self.banner)
                await writer.drain()
                await asyncio.sleep(30)
                return
            if self.mode == "silent":
                await asyncio.sleep(30)
                return
            data = await reader.read(4096)
            self.requests.append(data)
            if self.mode == "reply":
                writer.write(self.banner)
            elif self.mode == "slow":
                for b in self.default or b"HTTP/1.1 200 OK\r\nServer: slow\r\n\r\n":
                    writer.write(bytes([b]))
                    await writer.drain()
                    await asyncio.sleep(1.0)
            elif self.mode == "flood":
                writer.write(b"HTTP/1.1 200 OK\r\n")
                for i in range(100_000):
                    writer.write(f"X-Junk-{i}: {'a' * 200}\r\n".encode())
                    await writer.drain()
            else:
                m = re.match(rb"GET (\S+) ", data)
                path = m.group(1).decode() if m else ""
                writer.write(self.routes.get(path, self.default))
            await writer.drain()
        except (ConnectionError, OSError):  # the scanner hung up first: fine
            pass
        finally:
            writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]


class WsdResponder(asyncio.DatagramProtocol):
    """Answer WS-Discovery probes with a fixture (``{relates_to}``/``{ip}`` filled in)."""

    def __init__(self, ip: str, template: bytes, answers: tuple[str, ...] | None = None,
                 raw: bool = False) -> None:  # fmt: skip
        self.ip, self.template, self.answers, self.raw = ip, template, answers, raw
        self.transport: asyncio.DatagramTransport | None = None
        self.probes: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.probes.append(data)
        mid = re.search(rb"MessageID>([^<]+)<", data)
        types = re.search(rb"Types>([^<]+)<", data)
        if self.answers is not None and (not types or types.group(1).decode() not in self.answers):
            return
        out = (
            self.template
            if self.raw
            else self.template.replace(b"{relates_to}", mid.group(1) if mid else b"").replace(
                b"{ip}", self.ip.encode()
            )
        )
        assert self.transport is not None
        self.transport.sendto(out, addr)


async def wsd_device(
    ip: str, port: int, template: bytes, **kw: object
) -> tuple[asyncio.DatagramTransport, WsdResponder]:
    loop = asyncio.get_running_loop()
    make: Callable[[], WsdResponder] = lambda: WsdResponder(ip, template, **kw)  # type: ignore[arg-type]  # noqa: E731
    transport, proto = await loop.create_datagram_endpoint(make, local_addr=(ip, port))
    return transport, proto
