"""Parsers for the few payloads the flow table looks into: DNS, TLS ClientHello, HTTP,
SSDP and UPnP SOAP.

Each takes ``bytes`` (already cut to what was captured) and returns plain values, or
None when the bytes are not what they look for or are malformed. None of them raises on
any input (the fuzz tests hold them to that) and every loop is bounded by the input.
"""

from __future__ import annotations

import re
import struct

MAX_NAME = 253
MAX_RECORDS = 64  # answers parsed per DNS message

TYPE_A, TYPE_CNAME, TYPE_AAAA = 1, 5, 28


def _dns_name(msg: bytes, pos: int) -> tuple[str, int] | None:
    """Read a (possibly compressed) name at ``pos``; return (name, position after it)."""
    labels: list[str] = []
    end_pos = -1
    jumps = 0
    n = len(msg)
    length = 0
    while True:
        if pos >= n:
            return None
        ln = msg[pos]
        if ln == 0:
            pos += 1
            break
        if ln & 0xC0 == 0xC0:
            if pos + 1 >= n or jumps > 16:
                return None
            if end_pos < 0:
                end_pos = pos + 2
            pos = ((ln & 0x3F) << 8) | msg[pos + 1]
            jumps += 1
            continue
        if ln & 0xC0:
            return None
        label = msg[pos + 1 : pos + 1 + ln]
        if len(label) != ln:
            return None
        length += ln + 1
        if length > MAX_NAME + 1:
            return None
        labels.append(label.decode("ascii", "replace").lower())
        pos += 1 + ln
    return ".".join(labels), (end_pos if end_pos >= 0 else pos)


def parse_dns(msg: bytes) -> tuple[bool, list[str], list[tuple[str, int, str]]] | None:
    """Parse a DNS message.

    Returns ``(is_response, question names, answers)`` where each answer is
    ``(owner name, type, value)`` for A/AAAA (value: address text) and CNAME (value:
    target name); other record types are skipped. None when malformed.
    """
    if len(msg) < 12:
        return None
    _txid, flags, qd, an = struct.unpack_from("!HHHH", msg, 0)
    if qd > 16:
        return None
    pos = 12
    questions: list[str] = []
    for _ in range(qd):
        got = _dns_name(msg, pos)
        if got is None or got[1] + 4 > len(msg):
            return None
        questions.append(got[0])
        pos = got[1] + 4
    answers: list[tuple[str, int, str]] = []
    is_response = bool(flags & 0x8000)
    if not is_response:
        return False, questions, answers
    for _ in range(min(an, MAX_RECORDS)):
        got = _dns_name(msg, pos)
        if got is None or got[1] + 10 > len(msg):
            break
        owner, pos = got
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", msg, pos)
        pos += 10
        rdata = msg[pos : pos + rdlen]
        if len(rdata) != rdlen:
            break
        if rtype == TYPE_A and rdlen == 4:
            answers.append((owner, rtype, ".".join(str(b) for b in rdata)))
        elif rtype == TYPE_AAAA and rdlen == 16:
            answers.append((owner, rtype, _ipv6_text(rdata)))
        elif rtype == TYPE_CNAME:
            target = _dns_name(msg, pos)
            if target is not None:
                answers.append((owner, rtype, target[0]))
        pos += rdlen
    return True, questions, answers


def _ipv6_text(raw: bytes) -> str:
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


def tls_sni(payload: bytes) -> str | None:
    """Return the server_name of a TLS ClientHello at the start of ``payload``, or None."""
    # record: type 22, version, length; handshake: type 1, 3-byte length
    if len(payload) < 43 or payload[0] != 0x16 or payload[1] != 0x03 or payload[5] != 0x01:
        return None
    try:
        pos = 5 + 4 + 2 + 32  # handshake header, client version, random
        pos += 1 + payload[pos]  # session id
        (cs_len,) = struct.unpack_from("!H", payload, pos)
        pos += 2 + cs_len
        pos += 1 + payload[pos]  # compression methods
        (ext_total,) = struct.unpack_from("!H", payload, pos)
        pos += 2
        end = min(len(payload), pos + ext_total)
        while pos + 4 <= end:
            etype, elen = struct.unpack_from("!HH", payload, pos)
            pos += 4
            if etype == 0:  # server_name: list length, type 0 (host_name), length, name
                _list_len, ntype, nlen = struct.unpack_from("!HBH", payload, pos)
                name = payload[pos + 5 : pos + 5 + nlen]
                if ntype != 0 or len(name) != nlen or not name:
                    return None
                return name.decode("ascii", "replace").lower()[:MAX_NAME]
            pos += elen
    except (IndexError, struct.error):  # cut by snaplen or the segment boundary
        return None
    return None


_METHODS = (
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"OPTIONS ",
    b"DELETE ",
    b"PATCH ",
    b"CONNECT ",
    b"NOTIFY ",
    b"M-SEARCH ",
    b"SUBSCRIBE ",
)
_HOST_RE = re.compile(rb"\r\nhost:[ \t]*([^\r\n]{1,255})", re.I)


def http_host(payload: bytes) -> str | None:
    """Return the Host header of an HTTP request at the start of ``payload``, or None."""
    if not payload.startswith(_METHODS):
        return None
    m = _HOST_RE.search(payload, 0, 4096)
    if not m:
        return None
    return m.group(1).strip().decode("latin-1").lower()[:MAX_NAME]


_SSDP_HDR = re.compile(rb"\r\n(st|location|server|usn):[ \t]*([^\r\n]{0,512})", re.I)


def ssdp(payload: bytes) -> dict[str, str] | None:
    """Parse an SSDP M-SEARCH or search response; return kind and headers, or None."""
    if payload.startswith(b"M-SEARCH "):
        kind = "m-search"
    elif payload.startswith(b"HTTP/1.1 200") and b"\r\nst:" in payload[:2048].lower():
        kind = "ssdp-response"
    else:
        return None
    out = {"kind": kind}
    for m in _SSDP_HDR.finditer(payload, 0, 4096):
        out[m.group(1).decode().lower()] = m.group(2).strip().decode("latin-1")
    return out


_SOAP_ARG = re.compile(
    rb"<(?:\w+:)?(NewRemoteHost|NewExternalPort|NewProtocol|NewInternalPort|NewInternalClient"
    rb"|NewEnabled|NewPortMappingDescription|NewLeaseDuration)\s*>([^<]{0,256})<",
)
SOAP_KEYS = {
    "NewRemoteHost": "remote_host",
    "NewExternalPort": "external_port",
    "NewProtocol": "protocol",
    "NewInternalPort": "internal_port",
    "NewInternalClient": "internal_client",
    "NewEnabled": "enabled",
    "NewPortMappingDescription": "description",
    "NewLeaseDuration": "lease_s",
}


def soap_add_port_mapping(data: bytes) -> dict[str, str | int] | None:
    """Return the arguments of a UPnP ``AddPortMapping`` call found in ``data``, or None.

    None as well when the call's arguments are not (yet) all present: the caller keeps
    the flow's first bytes and tries again as more segments arrive.
    """
    if b"AddPortMapping" not in data:
        return None
    args: dict[str, str | int] = {}
    for m in _SOAP_ARG.finditer(data):
        key = SOAP_KEYS[m.group(1).decode()]
        value = m.group(2).strip().decode("latin-1")
        if key in ("external_port", "internal_port", "lease_s"):
            try:
                args[key] = int(value)
            except ValueError:
                args[key] = value[:16]
        else:
            args[key] = value[:128]
    if "external_port" not in args:
        return None
    return args
