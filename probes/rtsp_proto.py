"""RTSP/1.0 wire format: response parsing, auth challenges, digest, SDP, RTP headers.

Pure functions over bytes and strings, no I/O, so the parsers can be tested with
recorded bytes and property-based inputs. Every parser raises only
:class:`auditor.errors.ParseError` on bad input.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from auditor.errors import ParseError

MAX_HEADER_BYTES = 16 * 1024  # status line + headers; cameras send well under 2 KiB
MAX_HEADERS = 64
MAX_BODY_BYTES = 64 * 1024  # an SDP is a few hundred bytes; a hostile one is capped
MAX_STR = 512  # contract: strings from devices are cut to 512 chars
MAX_SDP = 2048  # contract: bodies cut to 2048 chars

_STATUS_RE = re.compile(r"^RTSP/(\d)\.(\d) +(\d{3})(?: +(.*))?$")
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def clip(text: str, limit: int = MAX_STR) -> str:
    """Return ``text`` cut to ``limit`` characters (the contract's cap for device strings)."""
    return text if len(text) <= limit else text[:limit]


@dataclass
class RtspResponse:
    """One parsed RTSP response; header names are lower-case, repeats kept in order."""

    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        """Return every value of header ``name`` in the order received."""
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def content_length(self) -> int:
        """Return Content-Length (0 if absent); raise ParseError if invalid or too big."""
        raw = self.header("content-length")
        if raw is None:
            return 0
        raw = raw.strip()
        if not raw.isdigit() or len(raw) > 9:
            raise ParseError(f"bad Content-Length {clip(raw, 40)!r}")
        return int(raw)


def parse_head(head: bytes) -> RtspResponse:
    """Parse a status line and headers (without the blank line) into a response.

    Raises ParseError for anything that is not an RTSP/1.x response head.
    """
    if len(head) > MAX_HEADER_BYTES:
        raise ParseError(f"reply header larger than {MAX_HEADER_BYTES} bytes")
    text = head.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ParseError("empty reply")
    m = _STATUS_RE.match(lines[0].strip())
    if not m:
        raise ParseError(f"not an RTSP status line: {clip(lines[0], 80)!r}")
    resp = RtspResponse(
        version=f"{m.group(1)}.{m.group(2)}",
        status=int(m.group(3)),
        reason=clip((m.group(4) or "").strip()),
    )
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and resp.headers:  # obsolete line folding
            key, value = resp.headers[-1]
            resp.headers[-1] = (key, clip(f"{value} {line.strip()}"))
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not name or not _TOKEN_RE.fullmatch(name):
            raise ParseError(f"malformed header line {clip(line, 80)!r}")
        if len(resp.headers) >= MAX_HEADERS:
            raise ParseError(f"more than {MAX_HEADERS} headers")
        resp.headers.append((name.lower(), clip(value.strip())))
    return resp


def parse_response(data: bytes) -> RtspResponse:
    """Parse one complete response (head, blank line, body) from ``data``.

    Raises ParseError when the head is malformed or the body is shorter than
    Content-Length says.
    """
    for sep in (b"\r\n\r\n", b"\n\n"):
        idx = data.find(sep)
        if idx >= 0:
            head, rest = data[:idx], data[idx + len(sep) :]
            break
    else:
        raise ParseError("reply head not terminated")
    resp = parse_head(head)
    length = resp.content_length
    if length > MAX_BODY_BYTES:
        raise ParseError(f"reply larger than {MAX_BODY_BYTES} bytes")
    if len(rest) < length:
        raise ParseError("reply body truncated")
    resp.body = rest[:length]
    return resp


# --- authentication ---------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """One WWW-Authenticate challenge: lower-case scheme and its parameters."""

    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def parse_challenges(value: str) -> list[Challenge]:
    """Parse one WWW-Authenticate header value into challenges (RFC 7235 grammar).

    A header may hold several challenges (``Digest realm="x", nonce="y", Basic
    realm="x"``). Raises ParseError when no scheme can be read.
    """
    value = value[:4096]
    pos = 0
    n = len(value)
    challenges: list[Challenge] = []
    current: tuple[str, dict[str, str]] | None = None

    def skip_ws_commas(i: int) -> int:
        while i < n and value[i] in " \t,":
            i += 1
        return i

    pos = skip_ws_commas(pos)
    while pos < n:
        m = _TOKEN_RE.match(value, pos)
        if not m:
            raise ParseError(f"bad auth challenge near {clip(value[pos:], 40)!r}")
        token = m.group(0)
        after = m.end()
        j = after
        while j < n and value[j] in " \t":
            j += 1
        if j < n and value[j] == "=" and current is not None and not value.startswith("==", j):
            # auth-param: token = token / quoted-string
            j += 1
            while j < n and value[j] in " \t":
                j += 1
            if j < n and value[j] == '"':
                j += 1
                chars: list[str] = []
                while j < n and value[j] != '"':
                    if value[j] == "\\" and j + 1 < n:
                        j += 1
                    chars.append(value[j])
                    j += 1
                j += 1  # closing quote (tolerate a missing one at the end)
                param_value = "".join(chars)
            else:
                vm = re.compile(r"[^,\s]*").match(value, j)
                param_value = vm.group(0) if vm else ""
                j = vm.end() if vm else j
            current[1][token.lower()] = clip(param_value)
            pos = skip_ws_commas(j)
            continue
        # a new scheme (possibly followed by token68, e.g. "Basic abc==")
        if current is not None:
            challenges.append(Challenge(current[0], current[1]))
        current = (token.lower(), {})
        pos = skip_ws_commas(after)
        t68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*(?=\s*(,|$))").match(value, pos)
        if t68 and not re.match(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\s*=[^=]", value[pos:]):
            current[1]["token68"] = clip(t68.group(0))
            pos = skip_ws_commas(t68.end())
        if len(challenges) > 16:
            raise ParseError("too many auth challenges")
    if current is not None:
        challenges.append(Challenge(current[0], current[1]))
    if not challenges:
        raise ParseError("empty auth challenge")
    return challenges


def pick_challenge(headers: list[str]) -> Challenge | None:
    """Return the strongest usable challenge (Digest before Basic) from header values."""
    found: list[Challenge] = []
    for value in headers:
        try:
            found.extend(parse_challenges(value))
        except ParseError:
            continue  # one broken header must not hide a good one next to it
    for scheme in ("digest", "basic"):
        for ch in found:
            if ch.scheme == scheme:
                return ch
    return found[0] if found else None


_DIGEST_HASHES = {
    "md5": hashlib.md5,
    "md5-sess": hashlib.md5,
    "sha-256": hashlib.sha256,
    "sha-256-sess": hashlib.sha256,
}


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass
class Authenticator:
    """Builds Authorization headers for one credential against one challenge."""

    username: str
    password: str
    challenge: Challenge
    nc: int = 0
    cnonce_factory: Callable[[], str] | None = None  # tests pin the cnonce; None = random

    def header(self, method: str, uri: str) -> str:
        """Return the Authorization header value for ``method`` on ``uri``.

        Raises ParseError if the challenge cannot be answered (unknown scheme or
        digest algorithm, missing nonce).
        """
        scheme = self.challenge.scheme
        if scheme == "basic":
            raw = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(raw).decode("ascii")
        if scheme != "digest":
            raise ParseError(f"unsupported auth scheme {clip(scheme, 40)!r}")
        return self._digest(method, uri)

    def _digest(self, method: str, uri: str) -> str:
        p = self.challenge.params
        nonce = p.get("nonce")
        if nonce is None:
            raise ParseError("digest challenge without nonce")
        realm = p.get("realm", "")
        algorithm = p.get("algorithm", "MD5")
        hfunc = _DIGEST_HASHES.get(algorithm.lower())
        if hfunc is None:
            raise ParseError(f"unsupported digest algorithm {clip(algorithm, 40)!r}")

        def h(text: str) -> str:
            return hfunc(text.encode("utf-8")).hexdigest()

        qops = [q.strip().lower() for q in p.get("qop", "").split(",") if q.strip()]
        qop = "auth" if "auth" in qops else None
        self.nc += 1
        nc = f"{self.nc:08x}"
        cnonce = self.cnonce_factory() if self.cnonce_factory else os.urandom(8).hex()
        ha1 = h(f"{self.username}:{realm}:{self.password}")
        if algorithm.lower().endswith("-sess"):
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        ha2 = h(f"{method}:{uri}")
        if qop:
            response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        else:
            response = h(f"{ha1}:{nonce}:{ha2}")
        parts = [
            f'username="{_quote(self.username)}"',
            f'realm="{_quote(realm)}"',
            f'nonce="{_quote(nonce)}"',
            f'uri="{_quote(uri)}"',
            f'response="{response}"',
        ]
        if "algorithm" in p:
            parts.append(f"algorithm={algorithm}")
        if "opaque" in p:
            parts.append(f'opaque="{_quote(p["opaque"])}"')
        if qop:
            parts += [f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
        return "Digest " + ", ".join(parts)


# --- SDP ----------------------------------------------------------------------------


@dataclass
class SdpMedia:
    kind: str  # "video", "audio", "application", ...
    line: str  # the m= line as sent
    payload_types: list[int]
    control: str | None
    rtpmap: dict[int, str]


@dataclass
class Sdp:
    control: str | None
    media: list[SdpMedia]

    def first_video(self) -> SdpMedia | None:
        return next((m for m in self.media if m.kind == "video"), None)


def parse_sdp(text: str) -> Sdp:
    """Parse the parts of an SDP (RFC 4566) the frame check needs.

    Lenient by design (cameras send odd SDP); raises ParseError only when there is
    no ``m=`` line at all.
    """
    session_control: str | None = None
    media: list[SdpMedia] = []
    for raw in text.splitlines()[:512]:
        line = raw.strip()
        if line.startswith("m="):
            fields = line[2:].split()
            pts = [int(f) for f in fields[3:] if f.isdigit() and int(f) < 128]
            media.append(SdpMedia(fields[0] if fields else "", clip(line), pts, None, {}))
        elif line.startswith("a=control:"):
            value = clip(line[len("a=control:") :].strip())
            if media:
                media[-1].control = value
            else:
                session_control = value
        elif line.startswith("a=rtpmap:") and media:
            pt, _, enc = line[len("a=rtpmap:") :].partition(" ")
            if pt.isdigit():
                media[-1].rtpmap[int(pt)] = clip(enc.strip())
        if len(media) > 32:
            break
    if not media:
        raise ParseError("SDP without media")
    return Sdp(session_control, media)


def control_url(base: str, control: str | None) -> str:
    """Resolve an SDP ``a=control`` against the content base (RFC 2326 C.1.1)."""
    if not control or control == "*":
        return base
    if "://" in control:
        return control
    if not base.endswith("/"):
        base += "/"
    return base + control.lstrip("/")


# --- RTP over interleaved TCP ---------------------------------------------------------


@dataclass(frozen=True)
class RtpHeader:
    version: int
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int


def parse_rtp_header(packet: bytes) -> RtpHeader:
    """Return the fixed RTP header (RFC 3550 5.1); raise ParseError if too short."""
    if len(packet) < 12:
        raise ParseError("RTP packet shorter than 12 bytes")
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", packet[:12])
    return RtpHeader(b0 >> 6, b1 & 0x7F, seq, ts, ssrc)


def interleaved_channel(transport: str | None) -> int | None:
    """Return the RTP channel from a Transport header (``interleaved=0-1``), or None."""
    if not transport:
        return None
    m = re.search(r"interleaved=(\d{1,3})", transport)
    return int(m.group(1)) if m else None
