"""Just enough DER to name a certificate: subject, issuer, notAfter.

With ``CERT_NONE`` the ssl module hands back only the DER bytes, and pulling in a crypto
library to read three fields is not worth a dependency. This reads RFC 5280's
``Certificate -> tbsCertificate -> (version, serial, signature, issuer, validity,
subject)`` and nothing else. Raises :class:`auditor.errors.ParseError` on bytes that are
not a certificate.
"""

from __future__ import annotations

from auditor.errors import ParseError

_OIDS = {
    "2.5.4.3": "CN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
}


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, start of value, end of value) of the TLV at ``pos``."""
    if pos + 2 > len(buf):
        raise ParseError("truncated DER")
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(buf):
            raise ParseError("bad DER length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise ParseError("truncated DER")
    return tag, pos, pos + length


def _items(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tag, s, e = _tlv(buf, pos)
        out.append((tag, s, e))
        pos = e
    return out


def _oid(raw: bytes) -> str:
    if not raw:
        return ""
    parts = [raw[0] // 40, raw[0] % 40]
    val = 0
    for b in raw[1:]:
        val = (val << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(val)
            val = 0
    return ".".join(map(str, parts))


def _name(buf: bytes, start: int, end: int) -> str:
    rdns = []
    for _t, s, e in _items(buf, start, end):  # SET OF
        for _t2, s2, e2 in _items(buf, s, e):  # SEQUENCE {oid, value}
            parts = _items(buf, s2, e2)
            if len(parts) < 2:
                continue
            oid = _oid(buf[parts[0][1] : parts[0][2]])
            vtag, vs, ve = parts[1]
            raw = buf[vs:ve]
            val = (
                raw.decode("utf-16-be", "replace")
                if vtag == 0x1E
                else raw.decode("utf-8", "replace")
            )
            rdns.append(f"{_OIDS.get(oid, oid)}={val}")
    return ", ".join(rdns)


def _time(tag: int, raw: bytes) -> str:
    text = raw.decode("ascii", "replace")
    if tag == 0x17 and len(text) >= 12:  # UTCTime YYMMDDhhmmssZ
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    if len(text) >= 14:
        return f"{text[0:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:14]}Z"
    return text


def describe(der: bytes) -> dict[str, str | bool]:
    """Return ``{subject, issuer, not_before, not_after, self_signed}`` of a DER cert."""
    try:
        _t, cs, _ce = _tlv(der, 0)
        _t, ts, te = _tlv(der, cs)  # tbsCertificate
        fields = _items(der, ts, te)
        if fields and fields[0][0] == 0xA0:  # explicit [0] version
            fields = fields[1:]
        if len(fields) < 5:
            raise ParseError("not a certificate")
        _serial, _sig, issuer, validity, subject = fields[:5]
        times = _items(der, validity[1], validity[2])
        issuer_s = _name(der, issuer[1], issuer[2])
        subject_s = _name(der, subject[1], subject[2])
        return {
            "subject": subject_s,
            "issuer": issuer_s,
            "not_before": _time(times[0][0], der[times[0][1] : times[0][2]]),
            "not_after": _time(times[1][0], der[times[1][1] : times[1][2]]),
            "self_signed": subject_s == issuer_s,
        }
    except (IndexError, ValueError) as exc:  # structure not what RFC 5280 says
        raise ParseError(f"cannot read certificate: {exc}") from exc
