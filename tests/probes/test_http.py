"""HTTP banner grabs against recorded camera replies on 127.0.2.x."""

from __future__ import annotations

import ssl
import time

import pytest
from camreplay import FIXTURES, Device, fixture
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import ParseError
from probes import http

HIK = "hikvision-ds2cd2143g0i-v5.5.82"
DAHUA = "dahua-ipc-hfw2431s-v2.800"


async def test_hikvision_redirect_title_server_and_isapi() -> None:
    dev = await Device(
        "127.0.2.2",
        routes={
            "/": fixture("http", f"{HIK}-root.txt"),
            "/doc/page/login.asp?_1709633472000": fixture("http", f"{HIK}-login.txt"),
            "/doc/page/login.asp": fixture("http", f"{HIK}-login.txt"),
            "/ISAPI/System/deviceInfo": fixture("http", f"{HIK}-isapi.txt"),
        },
        default=fixture("http", "notfound.txt"),
    ).start()
    try:
        obs = await http.grab(dev.ip, dev.port, timeout=2)
    finally:
        await dev.stop()
    d = obs.data
    assert obs.error is None and obs.probe == "http" and obs.port == dev.port
    assert d["first_status"] == 302 and d["status"] == 200
    assert d["server"] == "App-webs/"
    assert d["redirects"] == [f"http://127.0.2.2:{dev.port}/doc/page/login.asp?_1709633472000"]
    assert d["paths"]["/ISAPI/System/deviceInfo"] == 401
    assert d["paths"]["/doc/page/login.asp"] == 200
    assert d["paths"]["/RPC2_Login"] == 404
    assert "common.js?version=5.5.82" in d["body_sample"]
    assert d["scheme"] == "http" and d["tls"] is None
    # no credentials ever: no Authorization header in anything we sent
    assert dev.requests and not any(b"authorization" in r.lower() for r in dev.requests)


async def test_dahua_realm_and_title() -> None:
    dev = await Device(
        "127.0.2.3",
        routes={
            "/": fixture("http", f"{DAHUA}-root.txt"),
            "/cgi-bin/magicBox.cgi?action=getSystemInfo": fixture("http", f"{DAHUA}-magicbox.txt"),
        },
        default=fixture("http", "notfound.txt"),
    ).start()
    try:
        obs = await http.grab(dev.ip, dev.port, timeout=2)
    finally:
        await dev.stop()
    assert obs.data["title"] == "WEB SERVICE"
    assert obs.data["server"] is None
    assert obs.data["paths"]["/cgi-bin/magicBox.cgi?action=getSystemInfo"] == 401
    assert obs.data["headers"]["x-frame-options"] == "SAMEORIGIN"


async def test_xiongmai_http10_without_length_and_axis_two_challenges() -> None:
    xm = await Device(
        "127.0.2.4", default=fixture("http", "xiongmai-ipc-hi3518e-v4.02.r11-root.txt")
    ).start()
    ax = await Device("127.0.2.5", default=fixture("http", "axis-p3245-lv-v10.12-root.txt")).start()
    try:
        xo = await http.grab(xm.ip, xm.port, timeout=2, paths=())
        ao = await http.grab(ax.ip, ax.port, timeout=2, paths=())
    finally:
        await xm.stop()
        await ax.stop()
    assert xo.data["server"] == "uc-httpd 1.0.0"
    assert xo.data["title"] == "NETSurveillance WEB"
    assert ao.data["status"] == 401
    assert ao.data["auth_schemes"] == ["digest", "basic"]
    assert ao.data["realm"] == "AXIS_ACCC8E1A2B3C"
    assert len(ao.data["www_authenticate"]) == 2


async def test_tls_certificate_is_read_not_verified() -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(FIXTURES / "tls" / f"{HIK}.pem", FIXTURES / "tls" / f"{HIK}.key")
    dev = await Device(
        "127.0.2.6", port=8443, tls=ctx, default=fixture("http", f"{HIK}-login.txt")
    ).start()
    try:
        obs = await http.grab(dev.ip, 8443, timeout=2, paths=())
    finally:
        await dev.stop()
    assert obs.error is None, obs.error
    tls = obs.data["tls"]
    assert obs.data["scheme"] == "https" and obs.data["status"] == 200
    assert "O=Hikvision" in tls["subject"] and "CN=192.168.1.64" in tls["subject"]
    assert tls["self_signed"] is True and tls["not_after"].startswith("20")


async def test_plain_http_on_https_port_falls_back() -> None:
    dev = await Device("127.0.2.7", port=443, default=fixture("http", f"{DAHUA}-root.txt")).start()
    try:
        obs = await http.grab(dev.ip, 443, timeout=2, paths=())
    finally:
        await dev.stop()
    assert obs.data["scheme"] == "http" and obs.data["title"] == "WEB SERVICE"


@pytest.mark.parametrize("mode", ["slow", "silent"])
async def test_slow_and_silent_devices_cost_one_timeout(mode: str) -> None:
    dev = await Device("127.0.2.8", mode=mode).start()
    t0 = time.monotonic()
    try:
        obs = await http.grab(dev.ip, dev.port, timeout=1.0)
    finally:
        await dev.stop()
    took = time.monotonic() - t0
    assert obs.error is not None and "timeout" in obs.error
    assert took < 2.5, took  # GET / only: vendor paths are skipped when / never answered


async def test_oversized_headers_are_capped() -> None:
    dev = await Device("127.0.2.9", mode="flood").start()
    try:
        obs = await http.grab(dev.ip, dev.port, timeout=2, paths=())
    finally:
        await dev.stop()
    assert obs.error == f"headers larger than {http.HEADER_CAP} bytes"
    assert len(obs.data["headers"]) <= http.MAX_HEADERS


async def test_body_is_capped_and_redirect_off_host_not_followed() -> None:
    big = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" + b"<title>x</title>" + b"A" * 50000
    )
    off = b"HTTP/1.1 302 Found\r\nLocation: http://198.51.100.7/login\r\nContent-Length: 0\r\n\r\n"
    dev = await Device("127.0.2.10", routes={"/": off, "/big": big}).start()
    try:
        o = await http.grab(dev.ip, dev.port, timeout=2, paths=())
        r = await http.fetch(dev.ip, dev.port, "/big", timeout=2)
    finally:
        await dev.stop()
    assert o.data["status"] == 302 and o.data["redirects"] == ["http://198.51.100.7/login"]
    assert dev.connections == 2  # / and /big; nothing went to 198.51.100.7
    assert len(r.body) == http.READ_BODY_CAP


def test_parse_head_tolerates_camera_quirks() -> None:
    st_, reason, hdrs = http.parse_head(
        b"HTTP/1.0 200 OK\nServer:uc-httpd 1.0.0\nX-Long: a\n b\n\n"
    )
    assert (st_, reason) == (200, "OK")
    assert hdrs == [("server", "uc-httpd 1.0.0"), ("x-long", "a b")]
    with pytest.raises(ParseError):
        http.parse_head(b"\x16\x03\x01\x02\x00")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_parse_head_only_raises_parse_error(raw: bytes) -> None:
    try:
        _s, reason, hdrs = http.parse_head(raw)
    except ParseError:
        return
    assert len(reason) <= 80
    assert all(k == k.lower() and len(v) <= 512 for k, v in hdrs)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(codec="latin-1"), max_size=80), max_size=5),
    st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=600),
)
def test_header_values_round_trip_clipped(names: list[str], value: str) -> None:
    raw = "HTTP/1.1 401 Unauthorized\r\n" + "".join(
        f"{n.replace(':', '').strip() or 'x'}: {value}\r\n" for n in names
    )
    _s, _r, hdrs = http.parse_head(raw.encode("latin-1"))
    for _k, v in hdrs:
        assert v == value.strip()[:512] or v.startswith(value.strip()[:100])
    realm, schemes = http.auth_info([v for _k, v in hdrs])
    assert all(s == s.lower() for s in schemes)
    assert realm is None or len(realm) <= 512
