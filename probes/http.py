"""HTTP/HTTPS banner grab: what a camera's web server says about itself.

A deliberately small HTTP/1.1 client over asyncio streams (one request per connection,
``Connection: close``): it reads headers up to a cap, the body up to a cap, and stops at
the request deadline, so a device that trickles one byte a second costs one timeout.
httpx would do, but it parses more than we keep and its pool is in the way of "one
short request per port across 250 devices".

Identification only: ``GET /`` (following at most two redirects on the same host), the
TLS certificate on HTTPS ports (read, not verified), and the status codes of a few
vendor paths. No credentials are ever sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from auditor.errors import ParseError
from auditor.model import Observation
from probes import x509
from probes.transport import (
    BODY_CAP,
    STR_CAP,
    TcpOpener,
    clip,
    close_quietly,
    insecure_tls_context,
    open_tcp,
)

log = logging.getLogger(__name__)

HTTPS_PORTS = frozenset({443, 4443, 7443, 8443})
HEADER_CAP = 16 * 1024
READ_BODY_CAP = 8 * 1024  # read this much for the title; keep BODY_CAP of it
MAX_HEADERS = 40
MAX_REDIRECTS = 2
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36 camaudit/0.1"
)

#: Vendor paths whose status code alone says a lot (401 = the API is there).
VENDOR_PATHS: tuple[str, ...] = (
    "/ISAPI/System/deviceInfo",  # Hikvision ISAPI (digest auth)
    "/doc/page/login.asp",  # Hikvision web UI (v5 firmware)
    "/cgi-bin/magicBox.cgi?action=getSystemInfo",  # Dahua CGI (digest auth)
    "/RPC2_Login",  # Dahua JSON-RPC login endpoint (POST; GET still answers)
    "/axis-cgi/basicdeviceinfo.cgi",  # Axis VAPIX
    "/cgi-bin/api.cgi",  # Reolink JSON API
)

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_REALM = re.compile(r'realm\s*=\s*"([^"]*)"|realm\s*=\s*([^\s,]+)', re.IGNORECASE)


@dataclass
class HttpReply:
    """What one request got back. ``error`` is set when it did not complete cleanly."""

    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    tls: dict[str, Any] | None = None
    error: str | None = None
    raw_start: bytes = b""  # first bytes seen, to spot TLS on a plain port

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]


def parse_head(raw: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    """Parse a status line and header block. Raises :class:`ParseError`.

    Tolerant the way cameras need: bare ``\\n`` line ends, folded lines, headers
    without a space after the colon. Names are lower-cased, values clipped.
    """
    text = raw.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    first = lines[0].strip()
    m = re.match(r"(HTTP|RTSP)/\d(?:\.\d)?\s+(\d{3})(?:\s+(.*))?$", first)
    if not m:
        raise ParseError(f"not an HTTP status line: {clip(first, 80)!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line.strip():
            continue
        if line[0] in " \t" and headers:  # obsolete folding: continue the previous value
            k, v = headers[-1]
            headers[-1] = (k, clip(f"{v} {line.strip()}"))
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            continue
        headers.append((clip(name.strip().lower(), 64), clip(value.strip())))
    return int(m.group(2)), clip(m.group(3) or "", 80), headers


def dechunk(body: bytes) -> bytes:
    """Decode as much of a chunked body as is present (the read may have been capped)."""
    out = bytearray()
    pos = 0
    while pos < len(body):
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            break
        size_s = body[pos:eol].split(b";")[0].strip()
        try:
            size = int(size_s, 16)
        except ValueError:
            return body  # not chunked after all: keep the bytes as they came
        if size == 0:
            break
        out += body[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2
    return bytes(out)


def auth_info(values: list[str]) -> tuple[str | None, list[str]]:
    """Realm of the first challenge and the lower-case schemes of all of them."""
    schemes: list[str] = []
    realm: str | None = None
    for v in values:
        scheme = v.strip().split(" ", 1)[0].strip(",").lower()
        if scheme and scheme not in schemes:
            schemes.append(scheme)
        m = _REALM.search(v)
        if m and realm is None:
            realm = clip(m.group(1) if m.group(1) is not None else m.group(2))
    return realm, schemes


def title_of(body: bytes) -> str | None:
    m = _TITLE.search(body)
    if not m:
        return None
    return clip(" ".join(m.group(1).decode("latin-1").split())) or None


def _head_end(buf: bytes | bytearray) -> int:
    """Offset just past the blank line ending the header block, or -1."""
    ends = [i + n for i, n in ((buf.find(b"\r\n\r\n"), 4), (buf.find(b"\n\n"), 2)) if i >= 0]
    return min(ends) if ends else -1


def _request(host: str, port: int, path: str, tls: bool) -> bytes:
    default = 443 if tls else 80
    hosthdr = host if port == default else f"{host}:{port}"
    return (
        f"GET {path} HTTP/1.1\r\nHost: {hosthdr}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\nAccept-Encoding: identity\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


async def fetch(
    host: str,
    port: int,
    path: str = "/",
    *,
    tls: bool = False,
    timeout: float = 3.0,
    head_only: bool = False,
    opener: TcpOpener = open_tcp,
) -> HttpReply:
    """One GET under one deadline. Never raises for device behaviour: sets ``error``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reply = HttpReply()
    ctx = insecure_tls_context() if tls else None
    try:
        reader, writer = await opener(host, port, ctx, timeout)
    except TimeoutError:
        reply.error = f"timeout after {timeout:g}s (connect)"
        return reply
    except ssl.SSLError as exc:  # the port does not speak TLS (or only what we refuse)
        reply.error = f"tls: {clip(exc.reason or exc, 120)}"
        return reply
    except OSError as exc:  # refused / reset / unreachable
        reply.error = f"connect: {clip(exc.strerror or exc, 120)}"
        return reply
    try:
        if tls:
            sslobj = writer.get_extra_info("ssl_object")
            der = sslobj.getpeercert(binary_form=True) if sslobj else None
            if der:
                try:
                    reply.tls = dict(x509.describe(der))
                except ParseError as exc:
                    reply.tls = {"error": str(exc)}
            if sslobj:
                reply.tls = {**(reply.tls or {}), "version": sslobj.version()}
        writer.write(_request(host, port, path, tls))
        buf = bytearray()
        end = -1
        # one deadline for the request and its head (asyncio.timeout_at, not a wait_for
        # per read: that wraps each read in a task of its own)
        async with asyncio.timeout_at(max(deadline, loop.time() + 0.01)):
            await writer.drain()
            while end < 0:
                if len(buf) > HEADER_CAP:
                    reply.error = f"headers larger than {HEADER_CAP} bytes"
                    break
                chunk = await reader.read(4096)
                if not chunk:
                    break
                if not buf:
                    reply.raw_start = chunk[:8]
                buf += chunk
                end = _head_end(buf)
        head = bytes(buf[:end] if end >= 0 else buf[:HEADER_CAP])
        body = bytearray(buf[end:] if end >= 0 else b"")
        if not head:
            reply.error = reply.error or "no reply (connection closed)"
            return reply
        try:
            reply.status, reply.reason, reply.headers = parse_head(head)
        except ParseError as exc:
            reply.error = str(exc)
            reply.body = bytes(buf[:BODY_CAP])
            return reply
        if end < 0:
            reply.error = reply.error or "headers incomplete"
            return reply
        if not head_only:
            clen = reply.header("content-length")
            want = READ_BODY_CAP
            if clen and clen.isdigit():
                want = min(want, int(clen))
            try:
                async with asyncio.timeout_at(deadline):
                    while len(body) < want:
                        chunk = await reader.read(want - len(body))
                        if not chunk:
                            break
                        body += chunk
            except TimeoutError:
                reply.error = f"timeout after {timeout:g}s (body)"
            data = bytes(body[:READ_BODY_CAP])
            if (reply.header("transfer-encoding") or "").lower().startswith("chunked"):
                data = dechunk(data)
            reply.body = data
    except TimeoutError:
        reply.error = f"timeout after {timeout:g}s"
    except (ConnectionError, ssl.SSLError, OSError) as exc:  # peer reset / broke TLS mid-way
        reply.error = reply.error or f"connection error: {clip(exc, 120)}"
    finally:
        await close_quietly(writer)
    return reply


def _looks_tls(reply: HttpReply) -> bool:
    return reply.raw_start[:2] in (b"\x15\x03", b"\x16\x03") or (
        reply.status == 400 and b"HTTPS port" in reply.body
    )


async def grab(
    ip: str,
    port: int,
    *,
    timeout: float = 3.0,
    paths: tuple[str, ...] = VENDOR_PATHS,
    opener: TcpOpener = open_tcp,
) -> Observation:
    """Banner-grab ``ip:port``; return one ``http`` observation (see docs/observations.md).

    Tries TLS first on the usual HTTPS ports and plain HTTP elsewhere, switching once
    when the port turns out to speak the other. Follows at most two redirects that stay
    on ``ip``. Never raises for device behaviour.
    """
    tls = port in HTTPS_PORTS
    first = await fetch(ip, port, "/", tls=tls, timeout=timeout, opener=opener)
    if tls and first.status is None and first.error and first.error.startswith("tls"):
        tls = False
        first = await fetch(ip, port, "/", tls=False, timeout=timeout, opener=opener)
    elif not tls and _looks_tls(first):
        tls = True
        first = await fetch(ip, port, "/", tls=True, timeout=timeout, opener=opener)
    scheme = "https" if tls else "http"
    final = first
    redirects: list[str] = []
    url = f"{scheme}://{ip}:{port}/"
    visited = {url}
    loop_error: str | None = None
    while final.status in (301, 302, 303, 307, 308) and len(redirects) < MAX_REDIRECTS:
        loc = final.header("location")
        if not loc:
            break
        nxt = urljoin(url, loc)
        parts = urlsplit(nxt)
        redirects.append(clip(nxt))
        if nxt in visited:  # a device that sends clients round in circles misbehaves
            loop_error = f"redirect loop: {clip(nxt, 120)} visited twice"
            break
        visited.add(nxt)
        if parts.hostname != ip or parts.scheme not in ("http", "https"):
            break  # identification stays on the device the user named
        url = nxt
        nport = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        final = await fetch(
            ip, nport, path, tls=parts.scheme == "https", timeout=timeout, opener=opener
        )
    path_status: dict[str, int | None] = {}
    bogus_status: int | None = None
    if first.status is not None and paths:
        # plus a path no firmware has: a device that answers it like a vendor path says
        # the same to anything, and its vendor paths prove nothing (auditor/signals.py)
        asked = (*paths, f"/camaudit-{secrets.token_hex(6)}.cgi")
        replies = await asyncio.gather(
            *(
                fetch(ip, port, p, tls=tls, timeout=timeout, head_only=True, opener=opener)
                for p in asked
            )
        )
        path_status = {p: r.status for p, r in zip(paths, replies, strict=False)}
        bogus_status = replies[-1].status
    www = first.all("www-authenticate") or final.all("www-authenticate")
    realm, schemes = auth_info(www)
    src = final if final.status is not None else first
    data: dict[str, Any] = {
        "scheme": scheme,
        "status": src.status,
        "first_status": first.status,
        "reason": src.reason,
        "server": src.header("server") or first.header("server"),
        "title": title_of(src.body),
        "www_authenticate": www[:8],
        "realm": realm,
        "auth_schemes": schemes,
        "headers": dict(src.headers[:MAX_HEADERS]),
        "body_sample": src.body[:BODY_CAP].decode("latin-1"),
        "tls": first.tls if tls else None,
        "paths": path_status,
        "bogus_path_status": bogus_status,
        "redirects": redirects,
        "url": clip(url, STR_CAP),
    }
    return Observation(probe="http", ip=ip, port=port, data=data, error=src.error or loop_error)
