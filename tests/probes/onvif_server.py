"""A small ONVIF device (aiohttp) serving recorded replies, for probe tests on 127.0.3.x.

It checks authentication the way cameras do: WS-Security UsernameToken
PasswordDigest against its own (possibly skewed) clock, or HTTP Digest, and answers
with the fixture ``tests/fixtures/onvif/<device>-<Operation>.xml``. A missing fixture
is answered with an ``ActionNotSupported`` fault, like a camera without that call.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from aiohttp import web

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "onvif"
OPEN_OPS = frozenset({"GetSystemDateAndTime"})  # ONVIF keeps these unauthenticated

_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault>'
    "<env:Code><env:Value>env:{code}</env:Value><env:Subcode><env:Value>ter:{sub}</env:Value>"
    "<env:Subcode><env:Value>ter:{subsub}</env:Value></env:Subcode></env:Subcode></env:Code>"
    '<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason>'
    "</env:Fault></env:Body></env:Envelope>"
)


def fault(sub: str, subsub: str, reason: str, code: str = "Sender") -> str:
    return _FAULT.format(code=code, sub=sub, subsub=subsub, reason=reason)


NOT_AUTHORIZED = fault("NotAuthorized", "NotAuthorized", "Sender not Authorized")


@dataclass
class FakeOnvifDevice:
    device: str  # fixture prefix, e.g. "hikvision-ds2cd2143g0-v5.6.3"
    users: dict[str, str] = field(default_factory=dict)
    auth: str = "none"  # "none" | "wsse" | "http-digest"
    skew: dt.timedelta = dt.timedelta(0)
    max_created_drift_s: float = 5.0
    raw: dict[str, bytes] = field(default_factory=dict)  # op -> exact bytes to send
    stall: frozenset[str] = frozenset()  # ops never answered
    requests: list[str] = field(default_factory=list)
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.skew

    def _wsse_ok(self, body: str) -> bool:
        def grab(tag: str) -> str | None:
            m = re.search(rf"<(?:\w+:)?{tag}\b[^>]*>([^<]*)</", body)
            return m.group(1).strip() if m else None

        user, digest, nonce, created = (
            grab(t) for t in ("Username", "Password", "Nonce", "Created")
        )
        if not (user and digest and nonce and created) or user not in self.users:
            return False
        if "PasswordDigest" not in body:
            return False
        raw = base64.b64decode(nonce) + created.encode() + self.users[user].encode()
        if base64.b64encode(hashlib.sha1(raw).digest()).decode() != digest:
            return False
        when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        return abs((when - self.now()).total_seconds()) <= self.max_created_drift_s

    def _http_digest_ok(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        p = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
        user = p.get("username", "")
        if user not in self.users or p.get("nonce") != self.nonce:
            return False
        ha1 = hashlib.md5(f"{user}:{p.get('realm')}:{self.users[user]}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{request.method}:{p.get('uri')}".encode()).hexdigest()
        expect = hashlib.md5(
            f"{ha1}:{p['nonce']}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}".encode()
        ).hexdigest()
        return p.get("response") == expect

    def reply(self, op: str, body: str = "") -> tuple[int, bytes]:
        if op in self.raw:
            return 200, self.raw[op]
        path = FIXTURES / f"{self.device}-{op}.xml"
        if not path.exists():
            body = fault(
                "ActionNotSupported", "ActionNotSupported", "Optional Action Not Implemented"
            )
            return 400, body.encode()
        now = self.now()
        text = Template(path.read_text()).safe_substitute(
            year=now.year,
            month=now.month,
            day=now.day,
            hour=now.hour,
            minute=now.minute,
            second=now.second,
            channel="102" if "Profile_2" in body else "101",
            profile="Profile_2" if "Profile_2" in body else "Profile_1",
        )
        return 200, text.encode()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = (await request.content.read(65536)).decode("utf-8", "replace")
        m = re.search(r"<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?(\w+)", body)
        op = m.group(1) if m else "?"
        self.requests.append(op)
        if op in self.stall:
            await asyncio.sleep(3600)  # a hung device: the client must give up on its own
        if op not in OPEN_OPS:
            if self.auth == "wsse" and not self._wsse_ok(body):
                return web.Response(
                    status=400, body=NOT_AUTHORIZED.encode(), content_type="application/soap+xml"
                )
            if self.auth == "http-digest" and not self._http_digest_ok(request):
                challenge = (
                    f'Digest realm="Login to 7J0A1B2PAZ12345", qop="auth", '
                    f'nonce="{self.nonce}", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
                )
                return web.Response(
                    status=401,
                    text="<html>401 Unauthorized</html>",
                    headers={"WWW-Authenticate": challenge},
                    content_type="text/html",
                )
        status, payload = self.reply(op, body)
        return web.Response(status=status, body=payload, content_type="application/soap+xml")


class OnvifServer:
    """Runs a FakeOnvifDevice on ``host`` (127.0.3.x) and an ephemeral port."""

    def __init__(self, device: FakeOnvifDevice, host: str) -> None:
        self.device = device
        self.host = host
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> OnvifServer:
        app = web.Application()
        app.router.add_post("/onvif/{tail:.*}", self.device.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
