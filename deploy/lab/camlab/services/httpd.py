"""A small asyncio HTTP/1.1 server: vendor admin pages and the ONVIF SOAP endpoints.

Deliberately minimal (request line, headers capped at ``MAX_HEADER_BYTES``, a
Content-Length body capped at ``MAX_BODY_BYTES``, keep-alive) and written for the lab:
it shares no code with the scanner's HTTP parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape

from . import vendorapi
from .common import (
    IDLE_TIMEOUT_S,
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    DeviceContext,
    check_basic,
    check_digest,
    new_nonce,
)
from .onvif import OnvifService

log = logging.getLogger(__name__)

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large",
            431: "Request Header Fields Too Large", 500: "Internal Server Error",
            503: "Service Unavailable"}  # fmt: skip


@dataclass
class Request:
    method: str
    target: str  # path and query as sent
    version: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


class HttpService:
    """Serves one device's web admin page (and ONVIF, when it shares the port)."""

    def __init__(self, ctx: DeviceContext, port: int, *, admin: bool, onvif: bool) -> None:
        self.ctx = ctx
        self.port = port
        self.admin = admin
        self.onvif = OnvifService(ctx) if onvif else None
        http = ctx.device.http
        self.server_header = str(http.get("server", "")) if admin else ""
        self.realm = str(http.get("realm", "") or "")
        self.auth = str(http.get("auth", "none"))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One TCP connection: requests until the client closes, idles out or errs."""
        try:
            while True:
                try:
                    req = await asyncio.wait_for(self._read(reader), IDLE_TIMEOUT_S)
                except _TooLarge as exc:
                    await self._send(writer, Response(exc.status), keep=False)
                    return
                if req is None:
                    return
                resp = await self.dispatch(req)
                await self.ctx.pace()
                keep = (
                    req.headers.get("connection", "").lower() != "close"
                    and req.version == "HTTP/1.1"
                )
                await self._send(writer, resp, keep=keep, head=req.method == "HEAD")
                if not keep:
                    return
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass  # scanners drop connections mid-request; nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return None
        except asyncio.LimitOverrunError as exc:
            raise _TooLarge(431) from exc
        if len(head) > MAX_HEADER_BYTES:
            raise _TooLarge(431)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise _TooLarge(400)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY_BYTES or length < 0:
            raise _TooLarge(413)
        body = await reader.readexactly(length) if length else b""
        return Request(parts[0], parts[1], parts[2], headers, body)

    async def _send(
        self, writer: asyncio.StreamWriter, resp: Response, *, keep: bool, head: bool = False
    ) -> None:
        out = [f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Error')}"]
        if self.server_header:
            out.append(f"Server: {self.server_header}")
        out.append(f"Date: {formatdate(self.ctx.now().timestamp(), usegmt=True)}")
        out += [f"{k}: {v}" for k, v in resp.headers]
        out.append(f"Content-Type: {resp.content_type}")
        out.append(f"Content-Length: {len(resp.body)}")
        out.append("Connection: keep-alive" if keep else "Connection: close")
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        if not head:
            writer.write(resp.body)
        await writer.drain()

    async def dispatch(self, req: Request) -> Response:
        if self.onvif and req.path.startswith("/onvif/"):
            if req.method != "POST":
                return Response(405, b"", headers=[("Allow", "POST")])
            status, body = self.onvif.handle(req.path, req.body)
            return Response(status, body, "application/soap+xml; charset=utf-8")
        if not self.admin:
            return Response(404, b"")
        return self.page(req)

    def page(self, req: Request) -> Response:
        http = self.ctx.device.http
        pages = {p["path"]: p for p in http.get("pages", [])}
        page = pages.get(req.target) or pages.get(req.path)
        if page is None and req.path in ("/", "/index.html", "/index.htm"):
            page = {"body": http.get("body") or _default_body(str(http.get("title", ""))),
                    "status": http.get("status", 200),
                    "auth": bool(http.get("root_auth"))}  # fmt: skip
        if page is None and (api := vendorapi.answer(self.ctx.device, req.path, req.target)):
            if not self.authorized(req):  # the vendor API sits behind the admin login
                return self.challenge()
            return Response(api[0], api[1], api[2])
        if page is None:
            return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>")
        if page.get("auth") and not self.authorized(req):
            return self.challenge()
        return Response(
            int(page.get("status", 200)),
            str(page["body"]).encode("utf-8"),
            str(page.get("content_type", "text/html; charset=utf-8")),
        )

    def authorized(self, req: Request) -> bool:
        header = req.headers.get("authorization", "")
        dev = self.ctx.device
        if self.auth == "digest" and header[:7].lower() == "digest ":
            return check_digest(header, req.method, dev.username, dev.password, self.realm)
        if self.auth == "basic" and header[:6].lower() == "basic ":
            return check_basic(header, dev.username, dev.password)
        return self.auth == "none"

    def challenge(self) -> Response:
        if self.auth == "basic":
            value = f'Basic realm="{self.realm}"'
        else:
            value = f'Digest realm="{self.realm}", qop="auth", nonce="{new_nonce()}", stale="FALSE"'
        body = b"<html><body><h1>401 - Unauthorized</h1></body></html>"
        return Response(401, body, headers=[("WWW-Authenticate", value)])


class _TooLarge(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _default_body(title: str) -> str:
    return f"<html><head><title>{escape(title)}</title></head><body></body></html>"
