"""Small pieces every simulated service shares: the device clock, delays, digest auth."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..spec import LabDevice

SLOW_DELAY_S = 1.0
MAX_HEADER_BYTES = 16 * 1024  # request line + headers; more is refused (431 / dropped)
MAX_BODY_BYTES = 256 * 1024
IDLE_TIMEOUT_S = 30.0


@dataclass
class DeviceContext:
    """What a protocol handler needs: the device, the address it serves on, its clock."""

    device: LabDevice
    ip: str  # the device IP, or the loopback address a test runs it on

    @property
    def slow(self) -> bool:
        return "slow" in self.device.quirks

    def now(self) -> datetime:
        """The device's own UTC clock, skewed by ``clock_skew_s`` like a camera's RTC."""
        return datetime.now(UTC) + timedelta(seconds=self.device.clock_skew_s)

    async def pace(self) -> None:
        """Delay an answer when the device has the ``slow`` quirk."""
        if self.slow:
            await asyncio.sleep(SLOW_DELAY_S)


_DIGEST_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def parse_auth_params(header: str) -> dict[str, str]:
    """``Digest a="b", c=d`` -> {"a": "b", "c": "d"} (the scheme word is dropped)."""
    _, _, rest = header.partition(" ")
    return {
        m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _DIGEST_PARAM.finditer(rest)
    }


def new_nonce() -> str:
    return f"{int(time.time()):x}{secrets.token_hex(12)}"


def check_digest(header: str, method: str, username: str, password: str, realm: str) -> bool:
    """Verify an RFC 2617/7616 MD5 ``Authorization: Digest`` header (qop auth or none).

    Nonces are not tracked (any nonce with a correct response passes): enough for a
    lab, where what matters is that a wrong password or missing header fails.
    """
    p = parse_auth_params(header)
    if p.get("username") != username or p.get("realm", realm) != realm:
        return False

    def md5(s: str) -> str:
        return hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()

    ha1 = md5(f"{username}:{realm}:{password}")
    ha2 = md5(f"{method}:{p.get('uri', '')}")
    if p.get("qop"):
        expect = md5(f"{ha1}:{p.get('nonce', '')}:{p.get('nc', '')}:{p.get('cnonce', '')}:"
                     f"{p['qop']}:{ha2}")  # fmt: skip
    else:
        expect = md5(f"{ha1}:{p.get('nonce', '')}:{ha2}")
    return secrets.compare_digest(expect, p.get("response", ""))


def check_basic(header: str, username: str, password: str) -> bool:
    _, _, token = header.partition(" ")
    try:
        user, _, pw = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return user == username and secrets.compare_digest(pw, password)
