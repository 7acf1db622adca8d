"""Asyncio TCP connect scan of the camera ports on the hosts the user named.

A connect scan needs no privileges and lets the kernel do retransmits. Sockets are raw
non-blocking ``socket`` objects driven by ``loop.sock_connect`` (no StreamReader per
probe), closed with SO_LINGER 0 so thousands of probes leave no TIME_WAIT behind and a
camera's tiny TCP stack sees one RST instead of a half-open session.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from auditor.model import Observation

log = logging.getLogger(__name__)

#: Ports cameras, NVRs and their vendor SDKs listen on (web, RTSP, ONVIF, vendor SDKs,
#: RTMP, telnet/ssh/ftp that should not be there, UPnP).
DEFAULT_PORTS: tuple[int, ...] = (
    21, 22, 23, 80, 81, 88, 443, 554, 1935, 2000, 3000, 5000, 6036, 7001, 8000, 8001,
    8080, 8081, 8443, 8554, 8888, 8899, 9000, 9527, 10554, 34567, 37777, 49152,
)  # fmt: skip

#: Errors that mean "the host is there and said no" (an RST): it is alive.
_REFUSED = {errno.ECONNREFUSED}
#: Errors that mean nobody is there (no ARP reply, ICMP unreachable, ...).
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ETIMEDOUT}

_LINGER0 = struct.pack("ii", 1, 0)


def max_concurrency(wanted: int) -> int:
    """``wanted`` bounded by the open-file limit (with room for everything else)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, int(soft) - 128))


@dataclass
class HostResult:
    ip: str
    open: list[int] = field(default_factory=list)
    refused: int = 0
    rtt_ms: float | None = None
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return bool(self.open) or self.refused > 0


async def _connect(ip: str, port: int, timeout: float) -> tuple[str, float]:
    """Return ("open"|"refused"|"timeout"|"unreachable"|"error:<name>", seconds)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    start = time.perf_counter()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
        await asyncio.wait_for(loop.sock_connect(sock, (ip, port)), timeout)
        return "open", time.perf_counter() - start
    except TimeoutError:
        return "timeout", timeout
    except OSError as exc:  # connect's own verdicts: refused, unreachable, ...
        if exc.errno in _REFUSED:
            return "refused", time.perf_counter() - start
        if exc.errno in _UNREACHABLE:
            return "unreachable", time.perf_counter() - start
        return f"error:{errno.errorcode.get(exc.errno or 0, exc.errno)}", 0.0
    finally:
        sock.close()


async def scan(
    hosts: Iterable[str],
    ports: Iterable[int] = DEFAULT_PORTS,
    *,
    timeout: float = 1.0,
    concurrency: int = 1024,
    on_host_done: Callable[[HostResult], None] | None = None,
    semaphore: asyncio.Semaphore | None = None,
) -> list[HostResult]:
    """Connect-scan every (host, port); return one :class:`HostResult` per host, in order.

    ``timeout`` bounds each connect (filtered ports cost exactly that); at most
    ``concurrency`` connects are in flight, bounded by RLIMIT_NOFILE. ``on_host_done``
    is called as each host's last port finishes (for progress). ``semaphore`` shares
    one connection budget between concurrent calls (it replaces ``concurrency``).
    Never raises for a device; a local failure (EMFILE) is counted in ``errors``.
    """
    host_list = list(dict.fromkeys(hosts))
    port_list = sorted(set(ports))
    sem = semaphore or asyncio.Semaphore(max_concurrency(concurrency))
    results = {h: HostResult(h) for h in host_list}
    remaining = dict.fromkeys(host_list, len(port_list))

    async def one(ip: str, port: int) -> None:
        async with sem:
            verdict, secs = await _connect(ip, port, timeout)
        r = results[ip]
        if verdict == "open":
            r.open.append(port)
            ms = secs * 1000.0
            r.rtt_ms = ms if r.rtt_ms is None else min(r.rtt_ms, ms)
        elif verdict == "refused":
            r.refused += 1
        elif verdict.startswith("error:"):
            r.errors[verdict[6:]] = r.errors.get(verdict[6:], 0) + 1
        remaining[ip] -= 1
        if remaining[ip] == 0 and on_host_done is not None:
            on_host_done(r)

    # Port-major order spreads the load: one burst hits each host once, not one host 30x.
    await asyncio.gather(*(one(h, p) for p in port_list for h in host_list))
    for r in results.values():
        r.open.sort()
        if r.errors:
            log.warning("portscan %s: local errors %s", r.ip, r.errors)
    return [results[h] for h in host_list]


def to_observations(results: Iterable[HostResult], scanned: int) -> list[Observation]:
    """One ``portscan`` observation per host that answered (an open port or an RST).

    Hosts that answered nothing get none: silence is not a device.
    """
    out = []
    for r in results:
        if not r.alive:
            continue
        out.append(
            Observation(
                probe="portscan",
                ip=r.ip,
                data={
                    "tcp_open": list(r.open),
                    "scanned": scanned,
                    "rtt_ms": None if r.rtt_ms is None else round(r.rtt_ms, 3),
                    "refused": r.refused,
                },
            )
        )
    return out
