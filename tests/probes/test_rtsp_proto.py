"""RTSP wire parsing against recorded replies, RFC examples and generated input."""

from __future__ import annotations

import hashlib
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import ParseError
from probes.rtsp_proto import (
    MAX_STR,
    Authenticator,
    Challenge,
    control_url,
    interleaved_channel,
    parse_challenges,
    parse_response,
    parse_rtp_header,
    parse_sdp,
    pick_challenge,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "rtsp"


def test_hikvision_401_offers_digest_and_basic_and_digest_wins() -> None:
    resp = parse_response((FIX / "hikvision-ds2cd2143g0-v5.6.3-describe-401.txt").read_bytes())
    assert resp.status == 401
    assert resp.header("cseq") == "3"
    ch = pick_challenge(resp.all("www-authenticate"))
    assert ch is not None and ch.scheme == "digest"
    assert ch.realm == "IP Camera(D2345)"
    assert ch.params["nonce"] == "5d9e3e8e0f6a9c1b2a3d4e5f60718293"
    assert ch.params["stale"] == "FALSE"


def test_axis_basic_401() -> None:
    resp = parse_response((FIX / "axis-m3106-v9.80.1-describe-401.txt").read_bytes())
    ch = pick_challenge(resp.all("www-authenticate"))
    assert ch == Challenge("basic", {"realm": "AXIS_ACCC8E012345"})
    assert resp.header("server") == "GStreamer RTSP server"


def test_dahua_options_public() -> None:
    resp = parse_response(
        (FIX / "dahua-ipc-hdw2431t-as-v2.800.0000000.25-options.txt").read_bytes()
    )
    assert resp.status == 200 and resp.body == b""
    assert "DESCRIBE" in (resp.header("public") or "")


def test_rfc2617_digest_example() -> None:
    # RFC 2617 section 3.5, the one published worked example (HTTP, GET, qop=auth).
    ch = parse_challenges(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )[0]
    auth = Authenticator("Mufasa", "Circle Of Life", ch, cnonce_factory=lambda: "0a4f113b")
    header = auth.header("GET", "/dir/index.html")
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert "qop=auth" in header and "nc=00000001" in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header
    assert "nc=00000002" in auth.header("GET", "/dir/index.html")


def test_digest_without_qop_uses_rfc2069_form() -> None:
    ch = Challenge("digest", {"realm": "r", "nonce": "n"})
    header = Authenticator("u", "p", ch).header("DESCRIBE", "rtsp://h/x")
    ha1 = hashlib.md5(b"u:r:p").hexdigest()
    ha2 = hashlib.md5(b"DESCRIBE:rtsp://h/x").hexdigest()
    assert hashlib.md5(f"{ha1}:n:{ha2}".encode()).hexdigest() in header
    assert "qop" not in header


def test_basic_header() -> None:
    header = Authenticator("admin", "12345", Challenge("basic", {})).header("DESCRIBE", "x")
    assert header == "Basic YWRtaW46MTIzNDU="


def test_unsupported_digest_algorithm_is_a_parse_error() -> None:
    ch = Challenge("digest", {"nonce": "n", "algorithm": "SHA-512-256"})
    with pytest.raises(ParseError):
        Authenticator("u", "p", ch).header("DESCRIBE", "x")


def test_parse_errors() -> None:
    for bad in (b"HTTP/1.1 200 OK\r\n\r\n", b"RTSP/1.0 200 OK\r\nno colon\r\n\r\n", b"junk"):
        with pytest.raises(ParseError):
            parse_response(bad)
    with pytest.raises(ParseError):
        parse_response(b"RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(ParseError):
        parse_response(b"RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n")


def test_sdp_and_control_urls() -> None:
    sdp = parse_sdp(
        (FIX / "hikvision-ds2cd2143g0-v5.6.3.json")
        .read_text()
        .split('"sdp": "')[1]
        .split('"')[0]
        .replace("\\n", "\n")
    )
    video = sdp.first_video()
    assert video is not None and video.payload_types == [96]
    assert video.rtpmap[96] == "H264/90000"
    base = "rtsp://10.0.0.1:554/Streaming/Channels/101/"
    assert control_url(base, video.control) == base + "trackID=1"
    assert control_url(base, sdp.control) == base
    assert control_url(base, "rtsp://other/x") == "rtsp://other/x"
    with pytest.raises(ParseError):
        parse_sdp("v=0\ns=nothing\n")


def test_rtp_header_and_transport() -> None:
    hdr = parse_rtp_header(bytes([0x80, 0x60, 0, 7]) + bytes(8))
    assert (hdr.version, hdr.payload_type, hdr.sequence) == (2, 96, 7)
    assert interleaved_channel("RTP/AVP/TCP;unicast;interleaved=2-3") == 2
    assert interleaved_channel("RTP/AVP;unicast;client_port=1-2") is None
    with pytest.raises(ParseError):
        parse_rtp_header(b"\x80")


# --- property-based ---------------------------------------------------------------

_token = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12)
_value = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_response_parser_raises_only_parse_error(data: bytes) -> None:
    try:
        resp = parse_response(data)
    except ParseError:
        return
    assert 100 <= resp.status <= 999
    assert all(len(v) <= MAX_STR for _, v in resp.headers)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(100, 599),
    st.lists(
        st.tuples(_token, st.text(string.printable.strip("\r\n\x0b\x0c"), max_size=60)), max_size=10
    ),
    st.binary(max_size=200),
)
def test_response_round_trip(status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    headers = [(k, v.strip()) for k, v in headers if k.lower() != "content-length"]
    head = f"RTSP/1.0 {status} Reason\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    raw = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body + b"trailing"
    resp = parse_response(raw)
    assert resp.status == status and resp.body == body
    for k, v in headers:
        assert v in resp.all(k)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_challenge_parser_raises_only_parse_error(text: str) -> None:
    try:
        challenges = parse_challenges(text)
    except ParseError:
        return
    assert challenges and all(c.scheme for c in challenges)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["Digest", "digest", "Basic"]),
    st.dictionaries(_token.map(str.lower), _value, min_size=1, max_size=6),
)
def test_challenge_round_trip(scheme: str, params: dict[str, str]) -> None:
    quoted = ", ".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in params.items()
    )
    (ch,) = parse_challenges(f"{scheme} {quoted}")
    assert ch.scheme == scheme.lower()
    assert ch.params == params
