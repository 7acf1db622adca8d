"""A small RTSP/1.0 camera on 127.0.3.x for probe tests, with recorded vendor replies.

Behaviours are switches: Basic or Digest auth, a set of real paths or "200 to any
path", interleaved RTP after PLAY or silence. Replies (Server header, realm, SDP) come
from ``tests/fixtures/rtsp/<device>.json`` recordings.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rtsp"


def load_device(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def rtp_packet(pt: int, seq: int, ts: int = 0, ssrc: int = 0x1234ABCD, size: int = 64) -> bytes:
    return struct.pack("!BBHII", 0x80, pt & 0x7F, seq, ts, ssrc) + bytes(size)


@dataclass
class FakeRtspCamera:
    device: str  # fixture name
    auth: str | None = None  # None | "basic" | "digest"
    users: dict[str, str] = field(default_factory=dict)
    any_path: bool = False  # 200 to DESCRIBE of any path
    send_rtp: bool = True
    nonce: str = "4b5f3f7e9c1d2a6b"
    requests: list[tuple[str, str]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spec = load_device(self.device)

    def _authorized(self, method: str, headers: dict[str, str]) -> bool:
        if self.auth is None:
            return True
        value = headers.get("authorization", "")
        if value:
            self.auth_headers.append(value)
        if self.auth == "basic" and value.startswith("Basic "):
            user, _, pw = base64.b64decode(value[6:]).decode().partition(":")
            return self.users.get(user) == pw
        if self.auth == "digest" and value.startswith("Digest "):
            p = dict(re.findall(r'(\w+)="?([^",]*)"?', value[7:]))
            user = p.get("username", "")
            if user not in self.users or p.get("nonce") != self.nonce:
                return False
            realm = self.spec["realm"]
            ha1 = hashlib.md5(f"{user}:{realm}:{self.users[user]}".encode()).hexdigest()
            ha2 = hashlib.md5(f"{method}:{p.get('uri')}".encode()).hexdigest()
            if "qop" in p:
                raw = f"{ha1}:{self.nonce}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}"
            else:
                raw = f"{ha1}:{self.nonce}:{ha2}"
            return p.get("response") == hashlib.md5(raw.encode()).hexdigest()
        return False

    def _challenge(self) -> list[str]:
        realm = self.spec["realm"]
        if self.auth == "basic":
            return [f'WWW-Authenticate: Basic realm="{realm}"']
        return [
            f'WWW-Authenticate: Digest realm="{realm}", nonce="{self.nonce}", '
            'algorithm="MD5", qop="auth"',
            f'WWW-Authenticate: Basic realm="{realm}"',
        ]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rtp_task: asyncio.Task[None] | None = None
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, url, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                path = re.sub(r"^rtsp://[^/]+", "", url) or "/"
                self.requests.append((method, path))
                out = [f"CSeq: {headers.get('cseq', '0')}", f"Server: {self.spec['server']}"]
                body = b""
                if method == "OPTIONS":
                    status = "200 OK"
                    out.append("Public: " + self.spec["public"])
                elif not self._authorized(method, headers):
                    status = "401 Unauthorized"
                    out += self._challenge()
                elif method == "DESCRIBE":
                    if self.any_path or path.split("?")[0] in self.spec["paths"]:
                        status = "200 OK"
                        body = self.spec["sdp"].replace("\n", "\r\n").encode()
                        out += ["Content-Type: application/sdp", f"Content-Base: {url}/"]
                    else:
                        status = "404 Not Found"
                elif method == "SETUP":
                    status = "200 OK"
                    out += [
                        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=1234ABCD",
                        "Session: 1273222592;timeout=60",
                    ]
                elif method == "PLAY":
                    status = "200 OK"
                    out.append("Session: 1273222592")
                    if self.send_rtp:
                        rtp_task = asyncio.create_task(self._stream(writer))
                elif method == "TEARDOWN":
                    status = "200 OK"
                else:
                    status = "405 Method Not Allowed"
                if body:
                    out.append(f"Content-Length: {len(body)}")
                msg = f"RTSP/1.0 {status}\r\n" + "".join(f"{h}\r\n" for h in out) + "\r\n"
                writer.write(msg.encode() + body)
                await writer.drain()
                if method == "TEARDOWN":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up: normal end of a probe
        finally:
            if rtp_task is not None:
                rtp_task.cancel()
                await asyncio.gather(rtp_task, return_exceptions=True)
            writer.close()
            await asyncio.gather(writer.wait_closed(), return_exceptions=True)

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        pt = int(self.spec["payload_type"])
        rtcp = struct.pack("!BBHI", 0x80, 200, 6, 0x1234ABCD) + bytes(20)  # sender report
        frames = [(1, rtcp), (0, rtp_packet((pt + 1) % 128, 1)), (0, b"\x00" * 8)]
        frames += [(0, rtp_packet(pt, seq)) for seq in range(2, 40)]
        for channel, payload in frames:
            writer.write(b"$" + bytes([channel]) + len(payload).to_bytes(2, "big") + payload)
            await writer.drain()
            await asyncio.sleep(0.005)


class RtspServer:
    def __init__(self, camera: FakeRtspCamera, host: str) -> None:
        self.camera = camera
        self.host = host
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RtspServer:
        self._server = await asyncio.start_server(self.camera.handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
