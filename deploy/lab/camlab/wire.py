"""Tiny, self-contained wire formats the lab speaks: DNS (A only), SNTP, STUN binding.

The lab keeps its own protocol code on purpose (see ``camlab/__init__``): the scanner's
parsers must never be what checks the scanner.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
STUN_MAGIC = 0x2112A442
QTYPE_A = 1
RCODE_OK = 0
RCODE_FORMERR = 1
RCODE_NXDOMAIN = 3


class WireError(ValueError):
    """Bytes that are not the message they claim to be."""


@dataclass(frozen=True)
class DnsQuestion:
    txid: int
    flags: int
    name: str
    qtype: int
    qclass: int
    raw_question: bytes  # echoed back verbatim in the answer


def dns_query(name: str, txid: int | None = None, qtype: int = QTYPE_A) -> bytes:
    """A standard recursive query for ``name``."""
    if txid is None:
        txid = int.from_bytes(os.urandom(2), "big")
    qname = b"".join(
        bytes([len(label)]) + label.encode("ascii") for label in name.strip(".").split(".")
    )
    return (
        struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0)
        + qname
        + b"\0"
        + struct.pack("!HH", qtype, 1)
    )


def dns_parse_question(msg: bytes) -> DnsQuestion:
    """The first question of a DNS query; raises :class:`WireError` when malformed."""
    if len(msg) < 12:
        raise WireError("DNS message shorter than its header")
    txid, flags, qdcount = struct.unpack("!HHH", msg[:6])
    if qdcount < 1:
        raise WireError("DNS query without a question")
    labels: list[str] = []
    pos = 12
    while True:
        if pos >= len(msg):
            raise WireError("DNS name runs past the message")
        length = msg[pos]
        pos += 1
        if length == 0:
            break
        if length > 63:  # compression pointers have no place in a question
            raise WireError("bad DNS label length")
        labels.append(msg[pos : pos + length].decode("ascii", "replace"))
        pos += length
    if pos + 4 > len(msg):
        raise WireError("DNS question truncated")
    qtype, qclass = struct.unpack("!HH", msg[pos : pos + 4])
    return DnsQuestion(txid, flags, ".".join(labels).lower(), qtype, qclass, msg[12 : pos + 4])


def dns_answer(q: DnsQuestion, address: str | None, ttl: int = 60) -> bytes:
    """An authoritative answer: an A record for ``address``, or NXDOMAIN when None.

    A known name asked for another type gets NOERROR with no records (NODATA).
    """
    rd = q.flags & 0x0100
    rcode = RCODE_NXDOMAIN if address is None else RCODE_OK
    flags = 0x8000 | 0x0400 | rd | 0x0080 | rcode  # QR, AA, RD copied, RA
    answer = b""
    if address is not None and q.qtype == QTYPE_A:
        answer = struct.pack("!HHHIH", 0xC00C, QTYPE_A, 1, ttl, 4) + socket.inet_aton(address)
    ancount = 1 if answer else 0
    return struct.pack("!HHHHHH", q.txid, flags, 1, ancount, 0, 0) + q.raw_question + answer


def dns_parse_a(msg: bytes, txid: int) -> tuple[int, list[str]]:
    """(rcode, A addresses) of an answer to query ``txid``; raises :class:`WireError`."""
    if len(msg) < 12:
        raise WireError("DNS answer shorter than its header")
    rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    if rid != txid or not flags & 0x8000:
        raise WireError("not the answer to our query")
    pos = 12
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    out: list[str] = []
    for _ in range(an):
        pos = _skip_name(msg, pos)
        if pos + 10 > len(msg):
            raise WireError("DNS record truncated")
        rtype, _rclass, _ttl, rdlen = struct.unpack("!HHIH", msg[pos : pos + 10])
        pos += 10
        if rtype == QTYPE_A and rdlen == 4:
            out.append(socket.inet_ntoa(msg[pos : pos + 4]))
        pos += rdlen
    return flags & 0x000F, out


def _skip_name(msg: bytes, pos: int) -> int:
    while pos < len(msg):
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length
    raise WireError("DNS name runs past the message")


def _ntp_ts(t: float) -> bytes:
    secs = int(t) + NTP_EPOCH_OFFSET
    frac = int((t % 1) * (1 << 32))
    return struct.pack("!II", secs & 0xFFFFFFFF, frac & 0xFFFFFFFF)


def ntp_request() -> bytes:
    """An SNTP v4 client request (mode 3) stamped with the current time."""
    return bytes([0x23]) + bytes(39) + _ntp_ts(time.time())


def ntp_reply(request: bytes, refid: bytes = b"LAB\0", skew_s: float = 0.0) -> bytes:
    """A valid stratum-2 server reply (mode 4) to an NTP client request."""
    if len(request) < 48:
        raise WireError("NTP request shorter than 48 bytes")
    version = (request[0] >> 3) & 0x7 or 4
    now = time.time() + skew_s
    head = struct.pack("!BBbb", (version << 3) | 4, 2, request[2], -20)
    root = struct.pack("!II", 0x00000100, 0x00000100) + refid[:4].ljust(4, b"\0")
    return head + root + _ntp_ts(now - 16) + request[40:48] + _ntp_ts(now) + _ntp_ts(now)


def ntp_is_reply(msg: bytes) -> bool:
    return len(msg) >= 48 and msg[0] & 0x7 == 4


def stun_binding_request() -> bytes:
    return struct.pack("!HHI", 0x0001, 0, STUN_MAGIC) + os.urandom(12)


def stun_binding_response(request: bytes, src: tuple[str, int]) -> bytes | None:
    """A Binding success with XOR-MAPPED-ADDRESS, or None if ``request`` is not STUN."""
    if len(request) < 20:
        return None
    mtype, _length, magic = struct.unpack("!HHI", request[:8])
    if mtype != 0x0001 or magic != STUN_MAGIC:
        return None
    xport = src[1] ^ (STUN_MAGIC >> 16)
    xaddr = struct.unpack("!I", socket.inet_aton(src[0]))[0] ^ STUN_MAGIC
    attr = struct.pack("!HHBBHI", 0x0020, 8, 0, 0x01, xport, xaddr)
    return struct.pack("!HHI", 0x0101, len(attr), STUN_MAGIC) + request[8:20] + attr
