"""RTSP probe: OPTIONS, DESCRIBE over common camera paths, auth, and a real frame check.

A 200 to DESCRIBE proves nothing (many cameras say yes to any path), so the probe
SETUPs the first video track with RTP interleaved over the RTSP connection, PLAYs,
and waits for one RTP packet whose payload type matches the SDP (Cameradar's
"frame check"). That proves a stream in milliseconds; decoding a frame with OpenCV
(``decode_frame=True``) is slower evidence and runs afterwards in a worker thread.

The scan engine calls :func:`probe_rtsp`; everything else here is its helpers.
Timing: ``timeout`` bounds every single socket operation (connect, each reply, the
RTP wait); the whole probe is additionally bounded by ``TOTAL_BUDGET_FACTOR *
timeout`` (plus the decode's own bound) so a device that trickles bytes cannot hold
a scan slot for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from auditor.errors import ParseError, ProbeError
from auditor.model import Observation
from probes.rtsp_decode import decode_one_frame
from probes.rtsp_proto import (
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    MAX_SDP,
    Authenticator,
    Challenge,
    RtspResponse,
    Sdp,
    clip,
    control_url,
    interleaved_channel,
    parse_head,
    parse_rtp_header,
    parse_sdp,
    pick_challenge,
)

log = logging.getLogger(__name__)

Opener = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

USER_AGENT = "camaudit/0.1"
# Paths tried in order, stop at the first that describes media. Vendor in comments.
DESCRIBE_PATHS: tuple[str, ...] = (
    "/",
    "/Streaming/Channels/101",  # Hikvision and OEMs (LTS, Annke, Hiwatch)
    "/cam/realmonitor?channel=1&subtype=0",  # Dahua and OEMs (Amcrest, Lorex, Imou)
    "/live/ch0",
    "/h264Preview_01_main",  # Reolink
    "/axis-media/media.amp",  # Axis
    "/media/video1",  # Uniview
    "/profile2/media.smp",  # Hanwha Vision (Wisenet)
    "/stream1",  # TP-Link Tapo, many generic
    "/live",
    "/ch0_0.h264",
    "/videoMain",  # Foscam
    "/profile1",
    "/h264",
)
# Xiongmai firmware puts credentials in the path. It is built from the operator's
# credentials only: sending the well-known default password unasked would be a
# default-credential check, which camaudit keeps opt-in.
XIONGMAI_PATH = "/user={user}_password={password}_channel=1_stream=0.sdp"
MAX_CREDENTIAL_ATTEMPTS = 3  # lockouts on cameras start at 5 failures on common firmware
TOTAL_BUDGET_FACTOR = 8
MAX_PENDING_FRAMES = 64
MAX_RTP_MESSAGES = 2000  # interleaved messages read while waiting for a valid RTP packet
# After PLAY, RTP is awaited for RTP_WAIT_RTTS times the PLAY round trip, at least
# RTP_WAIT_MIN_S (a camera sends its first packet within a frame interval of answering)
# and at most the step timeout.
RTP_WAIT_MIN_S = 1.5
RTP_WAIT_RTTS = 2.0

# Why each is expected from a misbehaving camera.
_IO_ERRORS = (
    TimeoutError,  # silent device or trickling reply
    OSError,  # refused, reset, unreachable
    asyncio.IncompleteReadError,  # device closed mid-reply
    asyncio.LimitOverrunError,  # header block beyond MAX_HEADER_BYTES
    ParseError,  # bytes that are not RTSP
    ProbeError,  # oversized reply and other protocol violations found here
)


async def _default_opener(ip: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(ip, port, limit=MAX_HEADER_BYTES)


class RtspConnection:
    """One RTSP/1.0 control connection; tracks CSeq and interleaved frames."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.cseq = 0
        self.session: str | None = None
        # Interleaved frames that arrived while waiting for a reply (PLAY races RTP).
        self.pending: list[tuple[int, bytes]] = []

    @classmethod
    async def open(cls, ip: str, port: int, timeout: float, opener: Opener) -> RtspConnection:
        reader, writer = await asyncio.wait_for(opener(ip, port), timeout)
        return cls(reader, writer, timeout)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(*_IO_ERRORS):
            await asyncio.wait_for(self.writer.wait_closed(), self.timeout)

    async def send(self, method: str, url: str, headers: dict[str, str]) -> int:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
        if self.session:
            lines.append(f"Session: {self.session}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        async with asyncio.timeout(self.timeout):
            await self.writer.drain()
        return self.cseq

    async def read_message(self) -> RtspResponse | tuple[int, bytes]:
        """Read one RTSP reply or one ``$``-framed interleaved packet, within the timeout.

        One ``asyncio.timeout`` for the whole message, not a ``wait_for`` per read: that
        wraps every read in a task of its own, and a frame check reads hundreds of RTP
        packets.
        """
        async with asyncio.timeout(self.timeout):
            first = await self.reader.readexactly(1)
            if first == b"$":
                hdr = await self.reader.readexactly(3)
                length = int.from_bytes(hdr[1:3], "big")  # at most 65535 by the framing
                return hdr[0], await self.reader.readexactly(length)
            rest = await self.reader.readuntil(b"\r\n\r\n")
            resp = parse_head((first + rest)[:-4])
            length = resp.content_length
            if length > MAX_BODY_BYTES:
                raise ProbeError(f"reply larger than {MAX_BODY_BYTES} bytes")
            resp.body = await self.reader.readexactly(length)
            return resp

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None
    ) -> RtspResponse:
        """Send a request and return its reply, keeping interleaved frames seen meanwhile."""
        cseq = await self.send(method, url, headers or {})
        for _ in range(MAX_RTP_MESSAGES):
            msg = await self.read_message()
            if isinstance(msg, tuple):
                if len(self.pending) < MAX_PENDING_FRAMES:
                    self.pending.append(msg)
                continue
            got = msg.header("cseq")
            if got is None or got.strip() == str(cseq):
                return msg
        raise ProbeError(f"no reply to {method} among {MAX_RTP_MESSAGES} messages")


def _empty_data() -> dict[str, Any]:
    return {
        "server": None,
        "public": [],
        "path": None,
        "describe_status": None,
        "auth": None,
        "realm": None,
        "authenticated": None,  # True/False only when credentials were tried
        "sdp": None,
        "media": [],
        "paths": {},  # every path described -> status
        "rtp_received": False,
        "rtp_packets": 0,
        "rtp_ms": None,  # connect to first valid RTP packet
        "frame_decoded": None,
        "frame_sha256": None,
        "frame_size": None,
        "frame_ms": None,  # decode start to first decoded frame
        "bogus_path_status": None,
    }


class NoMedia(TimeoutError):
    """PLAY was answered but no RTP came within the wait (a device that says yes to
    everything and streams nothing)."""


def _describe_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, NoMedia):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return f"timeout after {timeout}s"
    if isinstance(exc, asyncio.LimitOverrunError):
        return f"reply header larger than {MAX_HEADER_BYTES} bytes"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "connection closed mid-reply"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return clip(f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError) else str(exc))


class _RtspProbe:
    def __init__(
        self,
        ip: str,
        port: int,
        timeout: float,
        credentials: list[tuple[str, str]],
        opener: Opener,
        hint_paths: list[str] | None = None,
    ) -> None:
        self.hint_paths = [p for p in (hint_paths or []) if p.startswith("/")][:4]
        self.ip = ip
        self.port = port
        self.timeout = timeout
        self.credentials = credentials[:MAX_CREDENTIAL_ATTEMPTS]
        self.opener = opener
        self.data = _empty_data()
        self.conn: RtspConnection | None = None
        self.auth: Authenticator | None = None
        self.sdp: Sdp | None = None
        self.base_url: str | None = None
        self.started = time.monotonic()
        self.side: asyncio.Task[None] | None = None  # OPTIONS on its own connection

    def url(self, path: str) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"rtsp://{host}:{self.port}{path}"

    async def connection(self) -> RtspConnection:
        if self.conn is None:
            self.conn = await RtspConnection.open(self.ip, self.port, self.timeout, self.opener)
        return self.conn

    async def drop(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            await conn.close()

    async def request(self, method: str, path_or_url: str, **headers: str) -> RtspResponse:
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        conn = await self.connection()
        hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
        if self.auth is not None:
            hdrs["Authorization"] = self.auth.header(method, url)
        resp = await conn.request(method, url, hdrs)
        if (resp.header("connection") or "").lower() == "close":
            await self.drop()
        return resp

    async def describe(self, path: str) -> RtspResponse:
        try:
            resp = await self.request("DESCRIBE", path, Accept="application/sdp")
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
            # Some firmware closes the socket after answering an unknown path: retry once.
            await self.drop()
            resp = await self.request("DESCRIBE", path, Accept="application/sdp")
        if self.side is None:
            # The device speaks RTSP: OPTIONS can now go beside the rest of the exchange
            # (a device that does not is never asked twice at once).
            self.side = asyncio.create_task(self.options())
        return resp

    def note_challenge(self, resp: RtspResponse) -> Challenge | None:
        ch = pick_challenge(resp.all("www-authenticate"))
        if ch is not None:
            self.data["auth"] = ch.scheme if ch.scheme in ("basic", "digest") else clip(ch.scheme)
            self.data["realm"] = ch.realm
        return ch

    async def side_request(self, method: str, path: str, **headers: str) -> RtspResponse:
        """One request on a connection of its own (with the identity already found).

        The checks that need nothing from the stream search (OPTIONS, the random-path
        check) run beside it instead of before or after it: on a camera that takes a
        second per answer that is a second saved per check.
        """
        url = self.url(path)
        hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
        if self.auth is not None:
            hdrs["Authorization"] = self.auth.header(method, url)
        conn = await RtspConnection.open(self.ip, self.port, self.timeout, self.opener)
        try:
            return await conn.request(method, url, hdrs)
        finally:
            await conn.close()

    async def options(self) -> None:
        resp = await self.side_request("OPTIONS", "/")
        self.data["options_status"] = resp.status
        server = resp.header("server")
        self.data["server"] = server
        public = resp.header("public") or ""
        self.data["public"] = [clip(m.strip(), 32) for m in public.split(",") if m.strip()][:32]
        if resp.status == 401:
            self.note_challenge(resp)

    async def login(self, path: str, challenge: Challenge) -> RtspResponse | None:
        """Try the given credentials (bounded) on ``path``; keep the one that works."""
        for user, password in self.credentials:
            self.auth = Authenticator(user, password, challenge)
            resp = await self.describe(path)
            if resp.status != 401:
                self.data["authenticated"] = True
                return resp
            fresh = pick_challenge(resp.all("www-authenticate"))
            if fresh is not None:
                challenge = fresh  # new nonce for the next attempt
        self.auth = None
        self.data["authenticated"] = False
        return None

    def paths(self) -> list[str]:
        # Paths the device itself advertised (ONVIF GetStreamUri) first: they are right
        # for vendors whose paths are not in the common list.
        paths = list(dict.fromkeys([*self.hint_paths, *DESCRIBE_PATHS]))
        for user, password in self.credentials[:1]:
            paths.append(XIONGMAI_PATH.format(user=user, password=password))
        return paths

    async def find_stream(self) -> None:
        for path in self.paths():
            resp = await self.describe(path)
            shown = path if "_password=" not in path else XIONGMAI_PATH
            if resp.status == 401:
                self.data["paths"][shown] = 401
                self.data["path"], self.data["describe_status"] = shown, 401
                challenge = self.note_challenge(resp)
                if challenge is None or not self.credentials or self.auth is not None:
                    return  # nothing (more) to try: every path will say 401
                got = await self.login(path, challenge)
                if got is None:
                    return
                resp = got
            self.data["paths"][shown] = resp.status
            if resp.status == 200 and self.accept_sdp(path, resp):
                self.data["path"], self.data["describe_status"] = shown, 200
                if self.auth is None and self.data["auth"] is None and shown == path:
                    # described without any credential (header or in the path): open
                    self.data["auth"] = "none"
                return
            if self.data["describe_status"] is None or resp.status != 404:
                self.data["path"], self.data["describe_status"] = shown, resp.status

    def accept_sdp(self, path: str, resp: RtspResponse) -> bool:
        text = resp.body.decode("utf-8", "replace")
        try:
            sdp = parse_sdp(text)
        except ParseError:
            return False
        self.sdp = sdp
        self.data["sdp"] = clip(text, MAX_SDP)
        self.data["media"] = [m.line for m in sdp.media]
        base = resp.header("content-base") or resp.header("content-location")
        self.base_url = base if base and base.startswith("rtsp://") else self.url(path)
        return True

    async def bogus(self) -> None:
        path = f"/camaudit-{secrets.token_hex(6)}"
        resp = await self.side_request("DESCRIBE", path, Accept="application/sdp")
        self.data["bogus_path_status"] = resp.status

    async def frame_check(self) -> None:
        video = self.sdp.first_video() if self.sdp else None
        if video is None or self.sdp is None or self.base_url is None:
            return
        track = control_url(self.base_url, video.control)
        resp = await self.request("SETUP", track, Transport="RTP/AVP/TCP;unicast;interleaved=0-1")
        if resp.status != 200:
            self.data["setup_status"] = resp.status
            return
        conn = await self.connection()
        session = resp.header("session")
        conn.session = session.split(";")[0].strip() if session else None
        channel = interleaved_channel(resp.header("transport"))
        channel = 0 if channel is None else channel
        play_url = control_url(self.base_url, self.sdp.control)
        asked = time.monotonic()
        resp = await self.request("PLAY", play_url, Range="npt=0.000-")
        self.data["play_status"] = resp.status
        if resp.status != 200:
            return
        # A camera streams right after its PLAY answer; the wait scales with how long
        # that answer took (a slow device, a long link), within the step's timeout.
        wait = min(self.timeout, max(RTP_WAIT_MIN_S, RTP_WAIT_RTTS * (time.monotonic() - asked)))
        try:
            await self.wait_rtp(conn, channel, set(video.payload_types), wait)
        finally:
            with contextlib.suppress(*_IO_ERRORS):
                # Best effort: the socket closes right after, which ends the session too.
                await conn.send("TEARDOWN", play_url, {})

    async def wait_rtp(
        self, conn: RtspConnection, channel: int, pts: set[int], wait: float
    ) -> None:
        deadline = time.monotonic() + wait
        frames = list(conn.pending)
        conn.pending.clear()
        for _ in range(MAX_RTP_MESSAGES):
            for ch, payload in frames:
                if ch != channel:
                    continue  # RTCP or another track
                try:
                    hdr = parse_rtp_header(payload)
                except ParseError:
                    continue
                if hdr.version == 2 and (not pts or hdr.payload_type in pts):
                    self.data["rtp_packets"] += 1
            if self.data["rtp_packets"]:
                self.data["rtp_received"] = True
                self.data["rtp_ms"] = round((time.monotonic() - self.started) * 1000, 1)
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                async with asyncio.timeout(left):
                    msg = await conn.read_message()
            except TimeoutError:
                raise NoMedia(f"timeout: no RTP within {wait:.3g}s of PLAY") from None
            frames = [msg] if isinstance(msg, tuple) else []

    async def run(self) -> None:
        """OPTIONS beside the stream search (from its first answer on), then the random-path
        check beside the frame check: round trips fewer than in a row, same requests.

        The stream search's failure is the probe's error; a side check that fails only
        leaves its own keys empty (a device that misbehaves there misbehaves in the
        main exchange too, where it is recorded).
        """
        failed = True
        try:
            await self.find_stream()
            checks = [self.bogus()]
            if self.data["describe_status"] == 200:
                checks.append(self.frame_check())
            results = await asyncio.gather(*checks, return_exceptions=True)
            main = results[1] if len(results) > 1 else None
            if isinstance(main, BaseException):
                raise main
            if isinstance(results[0], BaseException) and not isinstance(results[0], _IO_ERRORS):
                raise results[0]
            failed = False
        finally:
            await self.drop()
            if self.side is not None:
                if failed:  # the exchange already failed: its side check is moot
                    self.side.cancel()
                try:
                    await self.side
                except _IO_ERRORS as exc:
                    log.debug("rtsp %s:%s OPTIONS: %r", self.ip, self.port, exc)
                except asyncio.CancelledError:
                    me = asyncio.current_task()
                    if me is not None and me.cancelling():
                        raise  # we are being cancelled (probe budget), not just the side


async def probe_rtsp(
    ip: str,
    port: int,
    *,
    timeout: float,
    credentials: list[tuple[str, str]],
    decode_frame: bool,
    decode_authenticated: bool = False,
    paths: list[str] | None = None,
    opener: Opener | None = None,
) -> Observation:
    """Probe one RTSP port and return an ``rtsp`` Observation (docs/observations.md).

    Never raises for a misbehaving device: timeouts, resets, oversized or malformed
    replies end the probe with ``error`` set and the keys learned so far. Credentials
    are sent only when given, at most ``MAX_CREDENTIAL_ATTEMPTS`` of them. The decoded
    frame is hashed and dropped; only its hash and size are kept. ``opener`` is the
    transport seam (defaults to a TCP connection).

    A frame is decoded (``decode_frame``) only for streams that played without
    credentials, where the frame is the evidence of exposure; received RTP already
    proves a stream, and decoding costs ~0.1 s of CPU per camera.
    ``decode_authenticated`` decodes authenticated streams too. ``paths`` (from ONVIF
    GetStreamUri) are described before the common vendor paths.
    """
    probe = _RtspProbe(ip, port, timeout, credentials, opener or _default_opener, paths)
    error: str | None = None
    try:
        async with asyncio.timeout(timeout * TOTAL_BUDGET_FACTOR):
            await probe.run()
    except _IO_ERRORS as exc:
        error = _describe_error(exc, timeout)
        log.debug("rtsp %s:%s: %s", ip, port, error)
    data = probe.data
    open_stream = probe.auth is None
    if decode_frame and data["rtp_received"] and (open_stream or decode_authenticated):
        url = probe.url(data["path"] or "/")
        if "_password=" in url:
            url = probe.url(probe.paths()[-1])
        user_pass = None
        if probe.auth is not None:
            user_pass = (probe.auth.username, probe.auth.password)
        result = await decode_one_frame(url, user_pass, timeout=max(timeout * 2, 5.0))
        data["frame_decoded"] = result.decoded
        data["frame_sha256"] = result.sha256
        data["frame_size"] = result.size
        data["frame_ms"] = result.ms
        if result.error and error is None:
            error = result.error
    return Observation(probe="rtsp", ip=ip, port=port, data=data, error=error)
