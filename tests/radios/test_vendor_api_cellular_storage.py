"""Vendor API gaps closed (issues 5 and 7): a Hikvision cellular modem (ISAPI wireless
dial), a Dahua radio running its own (Ad-hoc) network, and where footage is uploaded
(ISAPI FTP servers, Dahua record storage points).

Parsers on recorded replies (tests/fixtures/vendor_api, incl. malformed, huge and XXE
bodies), the probe through its fetcher seam (which calls, in which order, what is
recorded, no secret kept), and the rules on what the probe wrote: CAM-RADIO-CELLULAR and
CAM-RADIO-ONVIF-OMITS for the modem, CAM-RADIO-OWN-AP for Dahua Ad-hoc, and
CAM-PRIV-REMOTE-STORAGE for uploads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.classify import classify
from auditor.errors import ParseError
from auditor.model import Device, Observation
from auditor.rules import evaluate
from probes import vendor_api as va
from probes.vendor_api import (
    DAHUA_NETWORK,
    DAHUA_STORAGE,
    DAHUA_WLAN,
    ISAPI_DIAL,
    ISAPI_FTP,
    ISAPI_IFACES,
    parse_dahua_storage,
    parse_isapi_dial,
    parse_isapi_ftp,
    probe_vendor_api,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "vendor_api"
IP = "198.18.0.66"
WIRED = "hikvision-ds-2cd2043g2-v5.7.3"
DIAL = "hikvision-4g-ipc-v5.7.3-dial.xml"
DAHUA_W = "dahua-ipc-hfw1235s-w-v2.800"
DAHUA = "dahua-ipc-hfw2431s-v2.800"
WIRED_MAC = "44:19:b6:7c:21:0a"
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<FTPNotificationList><FTPNotification><id>&x;</id></FTPNotification>"
    b"</FTPNotificationList>"
)


def fx(name: str) -> bytes:
    return (FIX / name).read_bytes()


# ---------------------------------------------------------------- parsers


def test_dial_document_is_a_cellular_interface_and_nothing_inside_is_read() -> None:
    iface = parse_isapi_dial(fx(DIAL))
    assert iface["kind"] == "cellular" and iface["source"] == ISAPI_DIAL
    assert iface["enabled"] is None and iface["mac"] is None  # no schema: nothing claimed
    assert "fixture-apn" not in json.dumps(iface)  # the APN login is never read


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (fx(f"{WIRED}-dial-notsupport.xml"), "ResponseStatus"),
        (b"<WirelessDial><id>1</id>", "malformed XML"),
        (b"not xml at all", "malformed XML"),
        (XXE, "XML refused"),
        (b"<a>" + b"x" * (va.MAX_REPLY + 1) + b"</a>", "larger than"),
    ],
)
def test_bad_dial_replies_are_a_parse_error(body: bytes, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse_isapi_dial(body)


def test_ftp_servers_parsed_without_user_or_password() -> None:
    got = parse_isapi_ftp(fx(f"{WIRED}-ftp.xml"))
    assert got["kind"] == "ftp" and got["source"] == ISAPI_FTP
    assert got["targets"] == [
        {"id": "1", "enabled": True, "host": "upload.archive.example.org", "port": 21,
         "protocol": "FTP"},
        {"id": "2", "enabled": False, "host": "192.0.2.10", "port": 21, "protocol": "FTP"},
    ]  # fmt: skip
    assert "fixture-ftp" not in json.dumps(got)
    off = parse_isapi_ftp(fx(f"{WIRED}-ftp-off.xml"))
    assert [t["enabled"] for t in off["targets"]] == [False]


def test_ftp_list_is_capped_and_bad_values_are_dropped() -> None:
    one = (
        b"<FTPNotification><id>9</id><enabled>yes</enabled><portNo>99999</portNo></FTPNotification>"
    )
    body = b"<FTPNotificationList>" + one * 50 + b"</FTPNotificationList>"
    got = parse_isapi_ftp(body)
    assert len(got["targets"]) == va.MAX_TARGETS
    assert got["targets"][0] == {"id": "9", "enabled": None, "host": None, "port": None,
                                 "protocol": "FTP"}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"<EZVIZ><enabled>true</enabled></EZVIZ>", "not an FTPNotificationList"),
        (b"<FTPNotificationList><FTPNotification>", "malformed XML"),
        (XXE, "XML refused"),
        (b"<a>" + b"x" * (va.MAX_REPLY + 1) + b"</a>", "larger than"),
    ],
)
def test_bad_ftp_replies_are_a_parse_error(body: bytes, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse_isapi_ftp(body)


def test_dahua_storage_points_off_the_camera() -> None:
    got = parse_dahua_storage(fx(f"{DAHUA}-recordstoragepoint.txt"))
    assert got["source"] == DAHUA_STORAGE
    by_point = {t["id"]: t for t in got["targets"]}
    assert by_point["FTP"]["enabled"] is True
    assert by_point["FTP"]["uses"] == ["EventSnapShot", "VideoDetectSnapShot"]
    assert by_point["Remote"]["uses"] == ["AlarmRecord"]
    local = parse_dahua_storage(fx(f"{DAHUA}-recordstoragepoint-local.txt"))
    assert [t["enabled"] for t in local["targets"]] == [False, False]  # Local is not listed


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"Error\r\nBad Request!\r\n", "Error"),
        (b"table.T2UServer.Enable=true\r\n", "no table.RecordStoragePoint line"),
        (b"\x00\xff" * 100, "no table.RecordStoragePoint line"),
        (b"x" * (va.MAX_REPLY + 1), "larger than"),
    ],
)
def test_bad_dahua_storage_replies_are_a_parse_error(body: bytes, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse_dahua_storage(body)


def test_dahua_storage_absurd_reply_is_bounded() -> None:
    line = b"table.RecordStoragePoint[0].T%d.FTP=true\r\n"
    body = b"".join(line % i for i in range(3000))[: va.MAX_REPLY]
    got = parse_dahua_storage(body)
    (ftp,) = [t for t in got["targets"] if t["id"] == "FTP"]
    assert len(ftp["uses"]) == 16  # types kept per point are capped


# ---------------------------------------------------------------- probe

Replies = dict[str, tuple[int, bytes]]


def hik_http() -> Observation:
    data = {"scheme": "http", "status": 200, "server": "App-webs/", "auth_schemes": [],
            "headers": {"server": "App-webs/"}, "body_sample": ""}  # fmt: skip
    return Observation("http", IP, data, port=80, mac=WIRED_MAC)


def dahua_http() -> Observation:
    realm = "Login to 4J0123PAZ1A2B3"
    data = {"scheme": "http", "status": 200, "title": "WEB SERVICE", "realm": realm,
            "www_authenticate": [f'Digest realm="{realm}"'], "auth_schemes": ["digest"],
            "headers": {}, "body_sample": "<title>WEB SERVICE</title>",
            "paths": {"/cgi-bin/magicBox.cgi?action=getSystemInfo": 401},
            "bogus_path_status": 404}  # fmt: skip
    return Observation("http", IP, data, port=80, mac="3c:ef:8c:00:00:01")


async def ask(first: Observation, replies: Replies, asked: list[str] | None = None) -> Observation:
    log = asked if asked is not None else []

    def fetcher(scheme: str, port: int, cred: tuple[str, str]) -> va.Fetch:
        async def fetch(path: str) -> tuple[int, bytes]:
            log.append(path)
            return replies.get(path, (404, b""))

        return fetch

    (obs,) = await probe_vendor_api(IP, [first], credentials=[("admin", "x")], fetcher=fetcher)
    return obs


def hik_replies(dial: bool, ftp: str | None) -> Replies:
    replies: Replies = {
        ISAPI_IFACES: (200, fx(f"{WIRED}-interfaces.xml")),
        f"{ISAPI_IFACES}/1/wireless": (403, fx(f"{WIRED}-notsupport.xml")),
        ISAPI_DIAL: (200, fx(DIAL)) if dial else (403, fx(f"{WIRED}-dial-notsupport.xml")),
    }
    if ftp:
        replies[ISAPI_FTP] = (200, fx(f"{WIRED}-{ftp}.xml"))
    return replies


async def test_probe_lists_the_modem_after_wifi_and_storage_last() -> None:
    asked: list[str] = []
    obs = await ask(hik_http(), hik_replies(dial=True, ftp="ftp"), asked)
    assert asked == [
        ISAPI_IFACES,
        f"{ISAPI_IFACES}/1/wireless",
        ISAPI_DIAL,
        va.ISAPI_CLOUD,
        ISAPI_FTP,
    ]  # fmt: skip  (one round trip each: the radios first, where footage goes last)
    d = obs.data
    assert d["calls"][ISAPI_DIAL] == "ok" and d["calls"][ISAPI_FTP] == "ok"
    assert [i["kind"] for i in d["interfaces"]] == ["ethernet", "cellular"]
    assert d["storage"]["targets"][0]["host"] == "upload.archive.example.org"
    text = json.dumps(obs.to_dict())
    assert "do-not-copy" not in text and "fixture-apn-user" not in text
    assert "fixture-ftp-user" not in text


async def test_probe_records_unsupported_and_broken_new_calls() -> None:
    obs = await ask(hik_http(), hik_replies(dial=False, ftp=None))
    assert obs.data["calls"][ISAPI_DIAL] == "not supported"
    assert obs.data["calls"][ISAPI_FTP] == "not supported" and obs.data["storage"] is None
    assert [i["kind"] for i in obs.data["interfaces"]] == ["ethernet"]
    broken = hik_replies(dial=False, ftp=None)
    broken[ISAPI_FTP] = (200, XXE)
    obs = await ask(hik_http(), broken)
    assert obs.data["calls"][ISAPI_FTP].startswith("error: XML refused")
    assert obs.data["storage"] is None


async def test_refused_credential_asks_nothing_more() -> None:
    asked: list[str] = []

    def fetcher(scheme: str, port: int, cred: tuple[str, str]) -> va.Fetch:
        async def fetch(path: str) -> tuple[int, bytes]:
            asked.append(path)
            return 401, b""

        return fetch

    (obs,) = await probe_vendor_api(IP, [hik_http()], credentials=[("a", "b")], fetcher=fetcher)
    assert asked == [ISAPI_IFACES] and obs.data["storage"] is None  # no lockout fodder


async def test_dahua_adhoc_radio_and_storage_points() -> None:
    replies: Replies = {
        DAHUA_NETWORK: (200, fx(f"{DAHUA_W}-network.txt")),
        DAHUA_WLAN: (200, fx(f"{DAHUA_W}-wlan-adhoc.txt")),
        DAHUA_STORAGE: (200, fx(f"{DAHUA}-recordstoragepoint.txt")),
    }
    asked: list[str] = []
    obs = await ask(dahua_http(), replies, asked)
    assert asked[-1] == DAHUA_STORAGE and obs.data["calls"][DAHUA_STORAGE] == "ok"
    (wifi,) = [i for i in obs.data["interfaces"] if i["kind"] == "wifi"]
    assert wifi["mode"] == "adhoc" and wifi["mode_raw"] == "Ad-hoc"
    assert "do-not-copy" not in json.dumps(obs.to_dict())


# ---------------------------------------------------------------- rules


def onvif_obs(cellular: bool) -> Observation:
    ifaces: list[dict[str, Any]] = [
        {"token": "eth0", "name": "eth0", "mac": WIRED_MAC, "if_type": 6, "enabled": True}
    ]
    if cellular:
        ifaces.append({"token": "wwan0", "name": "wwan0", "mac": None, "if_type": 243,
                       "enabled": True})  # fmt: skip
    data = {"xaddr": f"http://{IP}/onvif/device_service", "auth": "digest",
            "device_info": {"manufacturer": "HIKVISION", "model": "DS-2CD2043G2-I",
                            "firmware": "V5.7.3 build 220112", "serial": "X", "hardware_id": "88"},
            "capabilities": {"media": True, "dot11": False}, "interfaces": ifaces,
            "calls": {"GetNetworkInterfaces": "ok", "GetCapabilities": "ok"}}  # fmt: skip
    return Observation("onvif", IP, data, port=80)


def audit(observations: list[Observation]) -> Device:
    (dev,) = classify(observations)
    evaluate([dev])
    return dev


def finding(dev: Device, rule: str) -> dict[str, Any] | None:
    return next((f.to_dict() for f in dev.findings if f.rule == rule), None)


async def test_modem_onvif_hides_is_cellular_and_onvif_omits() -> None:
    api = await ask(hik_http(), hik_replies(dial=True, ftp=None))
    dev = audit([hik_http(), onvif_obs(cellular=False), api])
    cell = finding(dev, "CAM-RADIO-CELLULAR")
    assert cell is not None
    assert "GET /ISAPI/System/Network/WirelessDial/Interfaces/1/dial" in json.dumps(cell)
    omits = finding(dev, "CAM-RADIO-ONVIF-OMITS")
    assert omits is not None and "cellular radio" in omits["title"]
    assert finding(dev, "CAM-RADIO-WIFI-IFACE") is None


async def test_modem_onvif_reports_is_no_contradiction_and_no_modem_no_finding() -> None:
    api = await ask(hik_http(), hik_replies(dial=True, ftp=None))
    dev = audit([hik_http(), onvif_obs(cellular=True), api])
    assert finding(dev, "CAM-RADIO-CELLULAR") is not None
    assert finding(dev, "CAM-RADIO-ONVIF-OMITS") is None
    none = await ask(hik_http(), hik_replies(dial=False, ftp=None))
    dev = audit([hik_http(), onvif_obs(cellular=False), none])
    assert finding(dev, "CAM-RADIO-CELLULAR") is None and dev.radios == []


async def test_dahua_adhoc_is_the_own_network_finding() -> None:
    replies: Replies = {
        DAHUA_NETWORK: (200, fx(f"{DAHUA_W}-network.txt")),
        DAHUA_WLAN: (200, fx(f"{DAHUA_W}-wlan-adhoc.txt")),
    }
    dev = audit([dahua_http(), await ask(dahua_http(), replies)])
    own = finding(dev, "CAM-RADIO-OWN-AP")
    assert own is not None and "'IPC-21000'" in own["title"]
    assert "mode adhoc" in json.dumps(own["evidence"])
    replies[DAHUA_WLAN] = (200, fx(f"{DAHUA_W}-wlan.txt"))  # a client of the site's AP
    dev = audit([dahua_http(), await ask(dahua_http(), replies)])
    assert finding(dev, "CAM-RADIO-OWN-AP") is None


async def test_upload_to_a_named_server_is_remote_storage() -> None:
    api = await ask(hik_http(), hik_replies(dial=False, ftp="ftp"))
    dev = audit([hik_http(), api])
    found = finding(dev, "CAM-PRIV-REMOTE-STORAGE")
    assert found is not None and found["severity"] == "medium"
    assert found["title"] == "Camera uploads footage to remote storage (upload.archive.example.org)"
    (ev,) = found["evidence"]  # server 2 is off: not cited
    assert ev["source"] == "vendor_api:80" and "FTP upload server 1 enabled" in ev["detail"]
    assert "do-not-copy" not in json.dumps(found)


async def test_upload_to_a_private_address_is_low_and_off_is_silent() -> None:
    body = (
        fx(f"{WIRED}-ftp.xml")
        .replace(b"<addressingFormatType>hostname", b"<x>")
        .replace(b"<hostName>upload.archive.example.org</hostName>", b"")
        .replace(b"<ipAddress>0.0.0.0</ipAddress>", b"<ipAddress>10.20.0.5</ipAddress>")
    )
    body = body.replace(b"<x>", b"<addressingFormatType>ipaddress")
    replies = hik_replies(dial=False, ftp=None)
    replies[ISAPI_FTP] = (200, body)
    found = finding(audit([hik_http(), await ask(hik_http(), replies)]), "CAM-PRIV-REMOTE-STORAGE")
    assert found is not None and found["severity"] == "low" and "10.20.0.5" in found["title"]
    off = await ask(hik_http(), hik_replies(dial=False, ftp="ftp-off"))
    assert finding(audit([hik_http(), off]), "CAM-PRIV-REMOTE-STORAGE") is None
    gone = await ask(hik_http(), hik_replies(dial=False, ftp=None))  # not supported: silent
    assert finding(audit([hik_http(), gone]), "CAM-PRIV-REMOTE-STORAGE") is None


async def test_dahua_storage_point_is_remote_storage() -> None:
    replies: Replies = {
        DAHUA_NETWORK: (200, fx(f"{DAHUA_W}-network.txt")),
        DAHUA_STORAGE: (200, fx(f"{DAHUA}-recordstoragepoint.txt")),
    }
    found = finding(audit([dahua_http(), await ask(dahua_http(), replies)]),
                    "CAM-PRIV-REMOTE-STORAGE")  # fmt: skip
    assert found is not None and found["severity"] == "medium"
    details = [e["detail"] for e in found["evidence"]]
    assert any("storage point FTP enabled for EventSnapShot" in d for d in details)
    assert any("storage point Remote enabled for AlarmRecord" in d for d in details)
    replies[DAHUA_STORAGE] = (200, fx(f"{DAHUA}-recordstoragepoint-local.txt"))
    local = audit([dahua_http(), await ask(dahua_http(), replies)])
    assert finding(local, "CAM-PRIV-REMOTE-STORAGE") is None


def test_malformed_storage_observation_never_crashes_the_rule() -> None:
    bad: list[Any] = [
        {"storage": "x", "calls": {}},
        {"storage": {"source": ISAPI_FTP, "targets": "x"}, "calls": {ISAPI_FTP: "ok"}},
        {"storage": {"source": ISAPI_FTP, "targets": [1, None, {"enabled": True, "host": 5,
                     "port": "21", "uses": "x"}]}, "calls": {ISAPI_FTP: "ok"}},
        {"storage": {"source": 3, "targets": []}, "calls": None},
    ]  # fmt: skip
    for data in bad:
        dev = audit([hik_http(), Observation("vendor_api", IP, {"api": "isapi", **data}, port=80)])
        found = finding(dev, "CAM-PRIV-REMOTE-STORAGE")
        assert found is None or found["severity"] == "medium"
