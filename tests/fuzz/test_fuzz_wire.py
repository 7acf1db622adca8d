"""Device bytes not fuzzed elsewhere: TLS certificates, vendor ports, SDP/RTP, HTTP bodies.

(HTTP status/header blocks, RTSP replies and challenges, WS-Discovery, pcap and 802.11
have their own property tests next to their probes.)
"""

from __future__ import annotations

import contextlib
import json
import ssl
from pathlib import Path

import pytest
from fuzzset import fuzz, ran
from hypothesis import given
from hypothesis import strategies as st

from auditor.errors import ParseError
from probes import http, rtsp_proto, vendor_port, x509

TLS = Path(__file__).resolve().parents[1] / "fixtures" / "tls"
CERT = ssl.PEM_cert_to_DER_cert(
    (TLS / "hikvision-ds2cd2143g0i-v5.5.82.pem").read_text(encoding="ascii")
)

# ---------------------------------------------------------------- x509 DER reader


def test_recorded_certificate_reads() -> None:
    got = x509.describe(CERT)
    assert got["subject"] and got["not_after"]


@fuzz(300)
@given(st.binary(max_size=2048))
def test_x509_random_bytes_raise_only_parse_error(der: bytes) -> None:
    ran("x509-random")
    try:
        out = x509.describe(der)
    except ParseError:
        return
    assert set(out) == {"subject", "issuer", "not_before", "not_after", "self_signed"}


@fuzz(300)
@given(st.integers(0, len(CERT) - 1), st.binary(min_size=1, max_size=8), st.booleans())
def test_x509_mutated_certificate(at: int, patch: bytes, truncate: bool) -> None:
    ran("x509-mutated")
    der = CERT[:at] if truncate else CERT[:at] + patch + CERT[at + len(patch) :]
    try:
        out = x509.describe(der)
    except ParseError:
        return
    assert all(len(str(v)) < 4096 for v in out.values())


# ---------------------------------------------------------------- vendor ports

_SCALARISH = st.none() | st.booleans() | st.integers() | st.text(max_size=40)
_NESTED = st.lists(_SCALARISH, max_size=4) | st.dictionaries(
    st.text(max_size=20), _SCALARISH, max_size=6
)
_JSONISH = _SCALARISH | _NESTED | st.dictionaries(st.text(max_size=20), _NESTED, max_size=4)
_KEYS = st.sampled_from(
    ["SystemInfo", "NetWork.NetCommon", "Ret", "params", "deviceInfo", "HostIP", "SerialNo",
     "HardWare", "MAC", "IPv4Address", "IPAddress", "Version"]
)  # fmt: skip


@fuzz(300)
@given(
    st.sampled_from(["xiongmai-discovery", "dahua-discovery", "hikvision-sadp"]),
    st.binary(max_size=600),
    st.dictionaries(_KEYS, _JSONISH | st.dictionaries(_KEYS, _JSONISH, max_size=6), max_size=6),
    st.booleans(),
)
def test_vendor_parsers_return_string_fields(
    service: str, noise: bytes, obj: dict[str, object], framed: bool
) -> None:
    ran("vendor-port")
    payload = json.dumps(obj).encode()
    data = vendor_port.netip_frame(0x3FD, payload) if framed else noise + payload
    for blob in (noise, data):
        fields = vendor_port._udp_fields(service, blob)
        assert all(isinstance(k, str) and isinstance(v, str) and len(v) <= 512
                   for k, v in fields.items())  # fmt: skip


# ---------------------------------------------------------------- SDP / RTP


@fuzz(300)
@given(st.text(max_size=1500))
def test_sdp_raises_only_parse_error(text: str) -> None:
    ran("rtsp-sdp")
    try:
        sdp = rtsp_proto.parse_sdp(text)
    except ParseError:
        return
    video = sdp.first_video()
    if video is not None:
        rtsp_proto.control_url("rtsp://127.0.0.1/stream", video.control)


@fuzz(200)
@given(
    st.lists(st.sampled_from(["v=0", "m=video 0 RTP/AVP 96", "a=control:", "a=rtpmap:96 H264/90000",
                              "m=audio 0 RTP/AVP 0", "a=fmtp:96 ", "c=IN IP4 0.0.0.0"])
             | st.text(max_size=60), max_size=30),
)  # fmt: skip
def test_sdp_line_soup(lines: list[str]) -> None:
    ran("rtsp-sdp")
    with contextlib.suppress(ParseError):
        rtsp_proto.parse_sdp("\r\n".join(lines))


@fuzz(200)
@given(st.binary(max_size=64), st.one_of(st.none(), st.text(max_size=200)))
def test_rtp_header_and_transport(packet: bytes, transport: str | None) -> None:
    ran("rtsp-rtp")
    try:
        rtp = rtsp_proto.parse_rtp_header(packet)
        assert 0 <= rtp.payload_type < 128
    except ParseError:
        assert len(packet) < 12
    channel = rtsp_proto.interleaved_channel(transport)
    assert channel is None or 0 <= channel <= 255


# ---------------------------------------------------------------- HTTP bodies


@fuzz(300)
@given(st.binary(max_size=4096))
def test_http_body_helpers(body: bytes) -> None:
    ran("http-body")
    assert len(http.dechunk(body)) <= len(body)
    title = http.title_of(body)
    assert title is None or len(title) <= 512


@fuzz(300)
@given(st.lists(st.text(max_size=300), max_size=8))
def test_http_auth_info(values: list[str]) -> None:
    ran("http-auth")
    realm, schemes = http.auth_info(values)
    assert realm is None or isinstance(realm, str)
    assert all(isinstance(s, str) and s == s.lower() for s in schemes)


@pytest.mark.parametrize("raw", [b"0\r\n\r\n", b"zz\r\n", b"5\r\nabc"])
def test_dechunk_truncated_examples(raw: bytes) -> None:
    assert isinstance(http.dechunk(raw), bytes)
