"""A tiny RTSP responder that says yes to everything and streams nothing.

Used for the ``rtsp_any_path_200`` quirk: OPTIONS/DESCRIBE/SETUP/PLAY/TEARDOWN all
answer 200 (DESCRIBE with a plausible H.264 SDP for whatever path was asked), yet no RTP
ever flows -- the case where a scanner must not call a path a stream without media.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from email.utils import formatdate

from .common import (
    IDLE_TIMEOUT_S,
    MAX_HEADER_BYTES,
    DeviceContext,
    check_basic,
    check_digest,
    new_nonce,
)

PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
# SPS/PPS of a 320x240 constrained-baseline stream: what a camera would advertise.
_SPROP = "Z0LADNoFB+wFqDAwNSgAAAMACAAAAwCkeKFV,aM48gA=="


class FakeRtsp:
    def __init__(self, ctx: DeviceContext) -> None:
        self.ctx = ctx
        rtsp = ctx.device.rtsp or {}
        self.server = str(rtsp.get("server", ""))
        self.auth = str(rtsp.get("auth", "none"))
        self.realm = str(rtsp.get("realm", "") or "RTSP")
        self.port = int(rtsp.get("port", 554))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = secrets.token_hex(6).upper()
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
                if len(head) > MAX_HEADER_BYTES:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, _, rest = lines[0].partition(" ")
                uri = rest.rpartition(" ")[0]
                headers = {}
                for line in lines[1:]:
                    k, sep, v = line.partition(":")
                    if sep:
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                if 0 < length <= 65536:
                    await reader.readexactly(length)
                await self.ctx.pace()
                writer.write(self.answer(method, uri, headers, session))
                await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError):  # fmt: skip
            pass  # client went away or sent garbage: a camera just drops it
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _authorized(self, method: str, headers: dict[str, str]) -> bool:
        dev, header = self.ctx.device, headers.get("authorization", "")
        if self.auth == "digest":
            return check_digest(header, method, dev.username, dev.password, self.realm)
        if self.auth == "basic":
            return check_basic(header, dev.username, dev.password)
        return True

    def answer(self, method: str, uri: str, headers: dict[str, str], session: str) -> bytes:
        out = {"CSeq": headers.get("cseq", "0")}
        body = b""
        status = "200 OK"
        if method == "OPTIONS":
            out["Public"] = PUBLIC
        elif method in ("DESCRIBE", "SETUP", "PLAY") and not self._authorized(method, headers):
            status = "401 Unauthorized"
            scheme = "Basic" if self.auth == "basic" else "Digest"
            extra = "" if scheme == "Basic" else f', nonce="{new_nonce()}"'
            out["WWW-Authenticate"] = f'{scheme} realm="{self.realm}"{extra}'
        elif method == "DESCRIBE":
            body = self.sdp(uri).encode()
            out["Content-Type"] = "application/sdp"
            out["Content-Base"] = uri.rstrip("/") + "/"
        elif method == "SETUP":
            out["Transport"] = headers.get("transport", "RTP/AVP;unicast") + ";ssrc=1A2B3C4D"
            out["Session"] = f"{session};timeout=60"
        elif method in ("PLAY", "PAUSE", "GET_PARAMETER", "SET_PARAMETER", "TEARDOWN"):
            out["Session"] = session
            if method == "PLAY":
                out["RTP-Info"] = f"url={uri}/trackID=1;seq=0;rtptime=0"
        else:
            status = "405 Method Not Allowed"
            out["Allow"] = PUBLIC
        if self.server:
            out["Server"] = self.server
        out["Date"] = formatdate(self.ctx.now().timestamp(), usegmt=True)
        if body:
            out["Content-Length"] = str(len(body))
        head = f"RTSP/1.0 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in out.items())
        return head.encode("latin-1") + b"\r\n" + body

    def sdp(self, uri: str) -> str:
        ip = self.ctx.ip
        return (
            "v=0\r\n"
            f"o=- {secrets.randbits(40)} 1 IN IP4 {ip}\r\n"
            "s=Media Presentation\r\n"
            "t=0 0\r\n"
            "a=control:*\r\n"
            "m=video 0 RTP/AVP 96\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "a=rtpmap:96 H264/90000\r\n"
            "a=fmtp:96 packetization-mode=1;profile-level-id=42c00c;"
            f"sprop-parameter-sets={_SPROP}\r\n"
            "a=control:trackID=1\r\n"
        )
