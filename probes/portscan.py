"""Asyncio TCP connect scan of the camera ports on the hosts the user named.

A connect scan needs no privileges and lets the kernel do retransmits. Sockets are raw
non-blocking ``socket`` objects driven by loop callbacks (:class:`ConnectPool`: no task
or StreamReader per probe), closed with SO_LINGER 0 so thousands of probes leave no
TIME_WAIT behind and a camera's tiny TCP stack sees one RST instead of a half-open
session.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

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


#: File descriptors kept free for everything that is not a port-scan connect.
FD_RESERVE = 512


def max_concurrency(wanted: int) -> int:
    """``wanted`` bounded by the open-file limit (with room for everything else).

    The soft limit is first raised towards the hard one (as far as ``wanted`` needs):
    many systems start processes at a soft 1,024 while allowing far more.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    need = wanted + FD_RESERVE
    if soft < need and (hard == resource.RLIM_INFINITY or hard > soft):
        target = need if hard == resource.RLIM_INFINITY else min(need, int(hard))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:  # a container may forbid it: keep the limit
            log.debug("open-file limit stays at %s: %s", soft, exc)
    return max(16, min(wanted, int(soft) - FD_RESERVE))


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


Verdict = tuple[str, float]  # ("open"|"refused"|"timeout"|"unreachable"|"error:<name>", s)


def _verdict(err: int, secs: float) -> Verdict:
    if err == 0:
        return "open", secs
    if err in _REFUSED:
        return "refused", secs
    if err in _UNREACHABLE:
        return "unreachable", secs
    return f"error:{errno.errorcode.get(err, err)}", 0.0


class ConnectPool:
    """Non-blocking TCP connects driven by loop callbacks, at most ``limit`` in flight.

    No task, future or ``wait_for`` per connect: a socket, a writer callback and a
    timer. A scan of 250 cameras is some 7,000 connects; with a task per connect the
    event loop's bookkeeping, not the network, set the pace on a 2-core probe. One pool
    can be shared by several scans (the engine's ping and per-host port scans), so the
    whole scan keeps one connection budget. Use it from the event loop's thread only.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.inflight = 0
        self.waiting: deque[tuple[str, int, float, Callable[[str, float], None], object]] = deque()
        self._pump_scheduled = False

    def submit(
        self,
        ip: str,
        port: int,
        timeout: float,
        done: Callable[[str, float], None],
        owner: object = None,
    ) -> None:
        """Connect to ``ip:port`` (now or when a slot frees); ``done(verdict, secs)`` after."""
        self.waiting.append((ip, port, timeout, done, owner))
        self._kick()

    def discard(self, owner: object) -> None:
        """Drop the queued connects ``owner`` submitted (its scan was cancelled)."""
        self.waiting = deque(w for w in self.waiting if w[4] is not owner)

    def _kick(self) -> None:
        if not self._pump_scheduled:
            self._pump_scheduled = True
            asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_scheduled = False
        while self.waiting and self.inflight < self.limit:
            ip, port, timeout, done, _owner = self.waiting.popleft()
            self._start(ip, port, timeout, done)

    def _start(
        self, ip: str, port: int, timeout: float, done: Callable[[str, float], None]
    ) -> None:
        loop = asyncio.get_running_loop()
        self.inflight += 1
        start = time.perf_counter()
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as exc:  # EMFILE/ENFILE: a local limit, counted by the caller
            self._finish(None, _verdict(exc.errno or 0, 0.0), done)
            return
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
        err = sock.connect_ex((ip, port))
        if err not in (errno.EINPROGRESS, errno.EAGAIN):
            self._finish(sock, _verdict(err, time.perf_counter() - start), done)
            return
        fd = sock.fileno()

        def ready() -> None:
            loop.remove_writer(fd)
            timer.cancel()
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            self._finish(sock, _verdict(err, time.perf_counter() - start), done)

        def expire() -> None:
            loop.remove_writer(fd)
            self._finish(sock, ("timeout", timeout), done)

        loop.add_writer(fd, ready)
        timer = loop.call_later(timeout, expire)

    def _finish(
        self, sock: socket.socket | None, verdict: Verdict, done: Callable[[str, float], None]
    ) -> None:
        if sock is not None:
            sock.close()
        self.inflight -= 1
        if self.waiting:
            self._kick()
        done(*verdict)


async def scan(
    hosts: Iterable[str],
    ports: Iterable[int] = DEFAULT_PORTS,
    *,
    timeout: float = 1.0,
    concurrency: int = 1024,
    on_host_done: Callable[[HostResult], None] | None = None,
    pool: ConnectPool | None = None,
) -> list[HostResult]:
    """Connect-scan every (host, port); return one :class:`HostResult` per host, in order.

    ``timeout`` bounds each connect (filtered ports cost exactly that); at most
    ``concurrency`` connects are in flight, bounded by RLIMIT_NOFILE. ``on_host_done``
    is called as each host's last port finishes (for progress). ``pool`` shares one
    connection budget between concurrent calls (it replaces ``concurrency``).
    Never raises for a device; a local failure (EMFILE) is counted in ``errors``.
    """
    host_list = list(dict.fromkeys(hosts))
    port_list = sorted(set(ports))
    connects = pool or ConnectPool(max_concurrency(concurrency))
    results = {h: HostResult(h) for h in host_list}
    remaining = dict.fromkeys(host_list, len(port_list))
    left = len(host_list) * len(port_list)
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    if left == 0:
        return [results[h] for h in host_list]

    def record(ip: str, port: int, verdict: str, secs: float) -> None:
        nonlocal left
        if finished.done():  # cancelled: connects still in flight report to nobody
            return
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
        left -= 1
        if left == 0:
            finished.set_result(None)

    # ports outer, hosts inner: a host's ports are spread over time, not fired at once
    for p in port_list:
        for h in host_list:
            connects.submit(h, p, timeout, partial(record, h, p), owner=finished)
    try:
        await finished
    except asyncio.CancelledError:
        connects.discard(finished)  # nothing more is sent for a scan nobody waits for
        raise
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
