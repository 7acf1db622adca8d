"""probe_onvif against recorded device replies served on 127.0.3.x."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

from onvif_server import FakeOnvifDevice, OnvifServer

from probes.onvif import pin_host, probe_onvif, strip_userinfo

HIK = "hikvision-ds2cd2143g0-v5.6.3"
DAHUA = "dahua-ipc-hdw2431t-as-v2.800.0000000.25"
XM = "xiongmai-ipg-50hv20pes-v4.02.r12"


def assert_plain_json(value: object) -> None:
    """No zeep/lxml type may leave probes/: the observation must be plain JSON."""
    assert json.loads(json.dumps(value)) == value


async def test_skewed_hikvision_needs_digest_on_camera_clock() -> None:
    dev = FakeOnvifDevice(
        HIK, users={"admin": "Camaudit123"}, auth="wsse", skew=dt.timedelta(hours=2)
    )
    async with OnvifServer(dev, "127.0.3.10") as srv:
        obs = await probe_onvif(
            "127.0.3.10", srv.port, xaddr=None, timeout=2.0, credentials=[("admin", "Camaudit123")]
        )
    d = obs.data
    assert obs.error is None, obs.error
    assert abs(d["clock_offset_s"] - 7200) < 2
    assert d["auth"] == "digest"
    assert d["device_info"] == {
        "manufacturer": "HIKVISION",
        "model": "DS-2CD2143G0-I",
        "firmware": "V5.6.3 build 190923",
        "serial": "DS-2CD2143G0-I20190601AAWRD12345678",
        "hardware_id": "88",
    }
    assert d["capabilities"]["media"] and d["capabilities"]["analytics"]
    assert d["capabilities"]["ptz"] is False and d["capabilities"]["dot11"] is False
    assert "http://www.onvif.org/ver20/media/wsdl" in d["services"]
    assert d["interfaces"] == [
        {"token": "eth0", "name": "eth0", "mac": "44:19:b6:8a:12:34", "if_type": 6, "enabled": True}
    ]
    assert "onvif://www.onvif.org/hardware/DS-2CD2143G0-I" in d["scopes"]
    assert [p["video_encoding"] for p in d["profiles"]] == ["H264", "H264"]
    assert d["stream_uris"][0].startswith("rtsp://192.168.1.64:554/Streaming/Channels/101")
    # GetUsers / GetNTP / GetVideoAnalyticsConfigurations / GetMasks are not in this recording
    newer = {"GetUsers", "GetNTP", "GetVideoAnalyticsConfigurations", "GetMasks"}
    assert {k for k, v in d["calls"].items() if v != "ok"} <= newer
    assert {k for k in d["calls"] if k not in newer} and "users" not in d
    assert_plain_json(obs.to_dict())
    # The device advertised 192.168.1.64: nothing but the target was contacted, and
    # the media calls reached our server through the pinned address.
    assert "GetProfiles" in dev.requests


async def test_skew_is_why_it_works() -> None:
    # Same camera, same password: signing with our own clock would be refused.
    dev = FakeOnvifDevice(HIK, users={"admin": "pw"}, auth="wsse", skew=dt.timedelta(hours=2))
    async with OnvifServer(dev, "127.0.3.11") as srv:
        from probes import onvif_soap

        clients = await onvif_soap.device_clients(2.0, ("admin", "pw"), None)
        try:
            proxy = clients.service("devicemgmt", f"http://127.0.3.11:{srv.port}/onvif/x")
            try:
                await proxy.GetDeviceInformation()
            except onvif_soap.CALL_ERRORS as exc:
                outcome = onvif_soap.classify(exc)
            else:
                outcome = "ok"
        finally:
            await clients.close()
    assert outcome == "auth"


async def test_http_digest_only_dahua() -> None:
    dev = FakeOnvifDevice(DAHUA, users={"admin": "Dahua2024"}, auth="http-digest")
    async with OnvifServer(dev, "127.0.3.12") as srv:
        obs = await probe_onvif(
            "127.0.3.12", srv.port, xaddr=None, timeout=2.0, credentials=[("admin", "Dahua2024")]
        )
    d = obs.data
    assert obs.error is None, obs.error
    assert d["auth"] == "digest"
    assert d["http_auth"].startswith('Digest realm="Login to 7J0A1B2PAZ12345"')
    assert d["device_info"]["manufacturer"] == "Dahua"
    assert d["calls"]["GetServices"] == "not supported"
    assert d["profiles"][0]["audio"] is True
    # the camera put admin:admin in its URI; it must not reach a report
    assert d["stream_uris"] == [
        "rtsp://192.168.1.108:554/cam/realmonitor?channel=1&subtype=0&unicast=true&proto=Onvif"
    ]


async def test_anonymous_xiongmai_reports_its_wifi_interface() -> None:
    dev = FakeOnvifDevice(XM)
    async with OnvifServer(dev, "127.0.3.13") as srv:
        obs = await probe_onvif(
            "127.0.3.13",
            srv.port,
            xaddr="http://192.168.1.10:8899/onvif/device_service",  # as WS-Discovery said
            timeout=2.0,
            credentials=[("admin", "never-used")],
        )
    d = obs.data
    assert obs.error is None, obs.error
    assert d["xaddr"] == f"http://127.0.3.13:{srv.port}/onvif/device_service"
    assert d["auth"] == "none" and "credential_index" not in d
    assert d["device_info"]["manufacturer"] == "H264DVR"
    assert {i["name"]: i["if_type"] for i in d["interfaces"]} == {"eth0": 6, "wlan0": 71}
    assert d["capabilities"]["dot11"] is False  # says no Wi-Fi, lists a wlan0 anyway
    assert d["capabilities"]["ptz"] is True


async def test_not_authorized_without_credentials() -> None:
    dev = FakeOnvifDevice(HIK, users={"admin": "pw"}, auth="wsse")
    async with OnvifServer(dev, "127.0.3.14") as srv:
        obs = await probe_onvif("127.0.3.14", srv.port, xaddr=None, timeout=2.0, credentials=[])
    d = obs.data
    assert d["auth"] == "required"
    assert obs.error == "not authorized"
    assert d["calls"]["GetSystemDateAndTime"] == "ok" and d["clock_offset_s"] is not None
    assert d["calls"]["GetDeviceInformation"] == "auth"
    assert d["device_info"] is None


async def test_wrong_credentials_bounded_and_failed() -> None:
    dev = FakeOnvifDevice(HIK, users={"admin": "right"}, auth="wsse")
    creds = [("admin", f"guess{i}") for i in range(10)]
    async with OnvifServer(dev, "127.0.3.15") as srv:
        obs = await probe_onvif("127.0.3.15", srv.port, xaddr=None, timeout=2.0, credentials=creds)
    assert obs.data["auth"] == "failed"
    assert dev.requests.count("GetDeviceInformation") == 1 + 3


async def test_stalled_device_is_bounded() -> None:
    dev = FakeOnvifDevice(HIK, stall=frozenset({"GetDeviceInformation"}))
    async with OnvifServer(dev, "127.0.3.16") as srv:
        started = time.monotonic()
        obs = await probe_onvif("127.0.3.16", srv.port, xaddr=None, timeout=0.5, credentials=[])
    assert time.monotonic() - started < 2.5
    assert obs.data["calls"]["GetDeviceInformation"] == "timeout"
    assert obs.error == "timeout"


async def test_refused() -> None:
    obs = await probe_onvif("127.0.3.17", 9, xaddr=None, timeout=0.5, credentials=[])
    assert obs.error == "connection refused"
    assert obs.data["clock_offset_s"] is None


async def test_many_devices_share_one_wsdl_parse() -> None:
    from probes import onvif_soap

    await asyncio.gather(*(onvif_soap.prepare() for _ in range(50)))
    docs = dict(onvif_soap._documents)
    await onvif_soap.prepare()
    assert onvif_soap._documents == docs and set(docs) == {"devicemgmt", "media"}


def test_pin_host_and_userinfo() -> None:
    assert pin_host("http://192.168.1.64/onvif/Media", "10.0.0.5", 8080) == (
        "http://10.0.0.5:8080/onvif/Media"
    )
    assert pin_host("http://evil.example:8899/x?y=1", "10.0.0.5", 80) == (
        "http://10.0.0.5:8899/x?y=1"
    )
    assert pin_host("file:///etc/passwd", "10.0.0.5", 80) is None
    assert pin_host("http://[::1:bad", "10.0.0.5", 80) is None
    assert strip_userinfo("rtsp://a:b@h:554/p") == "rtsp://h:554/p"


def test_device_xaddr_keeps_scheme_and_path_but_not_host() -> None:
    from probes.onvif import _device_xaddr

    assert _device_xaddr("https://10.9.9.9:8443/onvif/dev", "10.0.0.5", 443) == (
        "https://10.0.0.5:443/onvif/dev"
    )
    assert _device_xaddr(None, "10.0.0.5", 80) == "http://10.0.0.5:80/onvif/device_service"
