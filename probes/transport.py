"""Small shared seams for probes: capped reads, clipped strings, an injectable TCP opener.

Every probe that talks TCP takes an ``opener`` (see :class:`TcpOpener`) so tests can feed
recorded bytes through real loopback sockets or an in-memory stream without patching the
``socket`` module. Every read is bounded in time and size: a hostile or broken device
can slow a scan down by at most its timeout and can never make it hold more than the cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

#: Longest string taken from a device (docs/observations.md); bodies get BODY_CAP.
STR_CAP = 512
BODY_CAP = 2048

T = TypeVar("T")

StreamPair = tuple[asyncio.StreamReader, asyncio.StreamWriter]
#: ``opener(host, port, ssl_context_or_None, timeout)`` returns a connected stream pair.
TcpOpener = Callable[[str, int, ssl.SSLContext | None, float], Awaitable[StreamPair]]


def clip(value: object, cap: int = STR_CAP) -> str:
    """Return ``value`` as text, cut to ``cap`` characters."""
    text = value if isinstance(value, str) else str(value)
    return text[:cap]


def clip_opt(value: object | None, cap: int = STR_CAP) -> str | None:
    return None if value is None else clip(value, cap)


def grow_rcvbuf(sock: socket.socket, size: int) -> None:
    """Ask for ``size`` bytes of receive buffer, past net.core.rmem_max when privileged."""
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    if force is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
            return
        except PermissionError:  # no CAP_NET_ADMIN: the sysctl's ceiling applies
            pass
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


async def open_tcp(
    host: str, port: int, ssl_ctx: ssl.SSLContext | None, timeout: float
) -> StreamPair:
    """The default :data:`TcpOpener`: ``asyncio.open_connection`` under a deadline.

    ``server_hostname`` is the IP: cameras rarely have names, and identification does
    not verify certificates anyway. A small read limit keeps a device that never sends
    a newline from growing the buffer past it.
    """
    # asyncio.timeout, not wait_for: wait_for wraps the coroutine in a task of its own,
    # a cost paid thousands of times per scan on these paths
    async with asyncio.timeout(timeout):
        return await asyncio.open_connection(
            host,
            port,
            ssl=ssl_ctx,
            server_hostname=host if ssl_ctx is not None else None,
            limit=64 * 1024,
        )


async def read_capped(reader: asyncio.StreamReader, cap: int, deadline: float) -> bytes:
    """Read until EOF, ``cap`` bytes, or the loop time ``deadline``, whichever is first.

    Returns what arrived (possibly nothing). Never raises TimeoutError: running out of
    time is how a banner read normally ends for a device that keeps its socket open.
    """
    buf = bytearray()
    try:
        async with asyncio.timeout_at(deadline):
            while len(buf) < cap:
                chunk = await reader.read(cap - len(buf))
                if not chunk:
                    break
                buf += chunk
    except TimeoutError:
        pass
    return bytes(buf)


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    """Close a stream without letting a device that already hung up raise at us."""
    writer.close()
    # the peer may reset or never acknowledge our FIN/close_notify: nothing left to do
    with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError, OSError):
        async with asyncio.timeout(0.5):
            await writer.wait_closed()


@functools.cache
def insecure_tls_context() -> ssl.SSLContext:
    """A TLS client context for identification: no verification, old protocols allowed.

    Cameras in the field still speak TLS 1.0 with 1024-bit keys; we want to *see* their
    certificate (that is the evidence), not to trust it.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            # Python deprecates TLS 1.0 for *trust*; we only read what old cameras show
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError) as exc:
        # an OpenSSL build without the old protocols: keep its defaults
        log.debug("TLS context keeps OpenSSL defaults: %s", exc)
    return ctx


async def gather_bounded(
    sem: asyncio.Semaphore, coros: list[Awaitable[T]], on_done: Callable[[T], Any] | None = None
) -> list[T]:
    """Await ``coros`` with at most ``sem``'s worth running at once; keep input order."""

    async def one(c: Awaitable[T]) -> T:
        async with sem:
            result = await c
        if on_done is not None:
            on_done(result)
        return result

    return list(await asyncio.gather(*(one(c) for c in coros)))
