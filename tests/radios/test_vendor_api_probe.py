"""The vendor API probe over a recorded device: which calls it makes, what it records
for each (ok / not supported / auth failed / error), credentials, time and size bounds.

The device here answers from tests/fixtures/vendor_api through the probe's ``fetcher``
seam (path -> status and bytes); tests/lab_services/test_vendor_api_lab.py runs the
same probe over real HTTP Digest against the lab's simulated cameras."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from auditor.model import Observation
from probes import vendor_api as va
from probes.vendor_api import DAHUA_NETWORK, DAHUA_WLAN, ISAPI_IFACES, probe_vendor_api

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "vendor_api"
IP = "198.18.0.65"
GOOD = ("admin", "right")


def hik_http(ip: str = IP, scheme: str = "http", port: int = 80) -> Observation:
    data = {"scheme": scheme, "status": 200, "server": "App-webs/", "auth_schemes": [],
            "headers": {"server": "App-webs/"}, "body_sample": ""}  # fmt: skip
    return Observation("http", ip, data, port=port)


def dahua_http(ip: str = IP) -> Observation:
    realm = "Login to 4J0123PAZ1A2B3"
    data = {"scheme": "http", "status": 200, "title": "WEB SERVICE", "realm": realm,
            "www_authenticate": [f'Digest realm="{realm}"'], "auth_schemes": ["digest"],
            "headers": {}, "body_sample": "<title>WEB SERVICE</title>",
            "paths": {"/cgi-bin/magicBox.cgi?action=getSystemInfo": 401},
            "bogus_path_status": 404}  # fmt: skip
    return Observation("http", ip, data, port=80)


Replies = dict[str, tuple[int, bytes]]


def device(replies: Replies, password: str = "right") -> Callable[..., va.Fetch]:
    """A fetcher answering ``replies`` to the right password, 401 otherwise; it logs
    (scheme, port, user) per credential and every path asked."""
    asked: list[str] = []

    def make(scheme: str, port: int, cred: tuple[str, str]) -> va.Fetch:
        async def fetch(path: str) -> tuple[int, bytes]:
            asked.append(path)
            if cred[1] != password:
                return 401, b"<html>401 Unauthorized</html>"
            return replies.get(path, (404, b""))

        return fetch

    make.asked = asked  # type: ignore[attr-defined]
    return make


def fx(name: str) -> bytes:
    return (FIX / name).read_bytes()


IW = "hikvision-ds-2cd2021g1-iw-v5.5.0"
WIRED = "hikvision-ds-2cd2043g2-v5.7.3"
HIK_WIFI: Replies = {
    ISAPI_IFACES: (200, fx(f"{IW}-interfaces.xml")),
    f"{ISAPI_IFACES}/1/wireless": (403, fx(f"{WIRED}-notsupport.xml")),
    f"{ISAPI_IFACES}/2/wireless": (200, fx(f"{IW}-wireless-2.xml")),
    f"{ISAPI_IFACES}/2/wirelessServer": (200, fx(f"{IW}-wirelessserver-2.xml")),
}


async def test_hikvision_wifi_model_every_call_recorded() -> None:
    fetcher = device(HIK_WIFI)
    (obs,) = await probe_vendor_api(IP, [hik_http()], credentials=[GOOD], fetcher=fetcher)
    assert obs.probe == "vendor_api" and obs.port == 80 and obs.error is None
    d = obs.data
    assert d["api"] == "isapi" and d["board"] == "Hikvision" and d["credential_index"] == 0
    assert d["calls"] == {
        ISAPI_IFACES: "ok",
        f"{ISAPI_IFACES}/1/wireless": "not supported",
        f"{ISAPI_IFACES}/2/wireless": "ok",
        f"{ISAPI_IFACES}/2/wirelessServer": "ok",
        va.ISAPI_DIAL: "not supported",  # 404 here; test_vendor_api_cellular_storage.py
        va.ISAPI_CLOUD: "not supported",  # 404 here; tests/posture/test_cloud_platform.py
        va.ISAPI_FTP: "not supported",
    }
    # the radios first, then the cloud setting, then where footage goes
    assert list(d["calls"])[-3:] == [va.ISAPI_DIAL, va.ISAPI_CLOUD, va.ISAPI_FTP]
    assert d["replies"][f"{ISAPI_IFACES}/1/wireless"]["http_status"] == 403
    wifi = [i for i in d["interfaces"] if i["kind"] == "wifi"]
    assert len(wifi) == 1 and wifi[0]["mac"] == "44:19:b6:7c:21:0b"
    assert wifi[0]["mode"] == "ap" and wifi[0]["ap_ssid"] == "HAP-21000"
    text = json.dumps(obs.to_dict())
    assert "do-not-copy" not in text and "right" not in text  # no Wi-Fi key, no password


async def test_wired_hikvision_says_not_supported() -> None:
    replies: Replies = {
        ISAPI_IFACES: (200, fx(f"{WIRED}-interfaces.xml")),
        f"{ISAPI_IFACES}/1/wireless": (403, fx(f"{WIRED}-notsupport.xml")),
    }
    fetcher = device(replies)
    (obs,) = await probe_vendor_api(IP, [hik_http()], credentials=[GOOD], fetcher=fetcher)
    assert obs.data["calls"] == {
        ISAPI_IFACES: "ok", f"{ISAPI_IFACES}/1/wireless": "not supported",
        va.ISAPI_DIAL: "not supported", va.ISAPI_CLOUD: "not supported",
        va.ISAPI_FTP: "not supported",
    }  # fmt: skip
    assert [i["kind"] for i in obs.data["interfaces"]] == ["ethernet"]
    assert f"{ISAPI_IFACES}/1/wirelessServer" not in fetcher.asked  # type: ignore[attr-defined]


async def test_dahua_wifi_and_wired_models() -> None:
    w = "dahua-ipc-hfw1235s-w-v2.800"
    replies: Replies = {
        DAHUA_NETWORK: (200, fx(f"{w}-network.txt")),
        DAHUA_WLAN: (200, fx(f"{w}-wlan.txt")),
    }
    (obs,) = await probe_vendor_api(IP, [dahua_http()], credentials=[GOOD], fetcher=device(replies))
    assert obs.data["api"] == "dahua-cgi" and obs.data["calls"] == {
        DAHUA_NETWORK: "ok", DAHUA_WLAN: "ok", va.DAHUA_CLOUD: "not supported",
        va.DAHUA_STORAGE: "not supported",
    }  # fmt: skip
    assert [(i["id"], i["kind"]) for i in obs.data["interfaces"]] == [
        ("eth0", "ethernet"), ("eth2", "wifi")
    ]  # fmt: skip
    assert "do-not-copy" not in json.dumps(obs.to_dict())
    replies[DAHUA_WLAN] = (400, fx("dahua-ipc-hfw2431s-v2.800-wlan-error.txt"))
    (obs,) = await probe_vendor_api(IP, [dahua_http()], credentials=[GOOD], fetcher=device(replies))
    assert obs.data["calls"][DAHUA_WLAN] == "not supported"
    assert [i["kind"] for i in obs.data["interfaces"]] == ["ethernet", "ethernet"]


async def test_wrong_credential_then_right_one() -> None:
    fetcher = device(HIK_WIFI)
    creds = [("admin", "wrong"), GOOD]
    (obs,) = await probe_vendor_api(IP, [hik_http()], credentials=creds, fetcher=fetcher)
    assert obs.data["credential_index"] == 1 and obs.error is None
    # the refused credential cost one call, not a round of them
    assert fetcher.asked.count(ISAPI_IFACES) == 2  # type: ignore[attr-defined]


async def test_all_credentials_refused_is_recorded_not_raised() -> None:
    creds = [("admin", "a"), ("admin", "b"), ("root", "c"), ("root", "d")]
    fetcher = device(HIK_WIFI)
    (obs,) = await probe_vendor_api(IP, [hik_http()], credentials=creds, fetcher=fetcher)
    assert obs.error == "every credential given was refused"
    assert obs.data["calls"] == {ISAPI_IFACES: "auth failed"}
    assert len(fetcher.asked) == va.MAX_CREDENTIALS  # type: ignore[attr-defined]


async def test_nothing_to_ask_without_credentials_or_for_another_maker() -> None:
    fetcher = device(HIK_WIFI)
    assert await probe_vendor_api(IP, [hik_http()], credentials=[], fetcher=fetcher) == []
    axis = Observation("http", IP, {"scheme": "http", "status": 401, "server": "AXIS",
                                    "realm": "AXIS_ACCC8E123456"}, port=80)  # fmt: skip
    assert await probe_vendor_api(IP, [axis], credentials=[GOOD], fetcher=fetcher) == []
    assert fetcher.asked == []  # type: ignore[attr-defined]


async def test_https_port_is_preferred() -> None:
    seen: list[tuple[str, int]] = []
    inner = device(HIK_WIFI)

    def fetcher(scheme: str, port: int, cred: tuple[str, str]) -> va.Fetch:
        seen.append((scheme, port))
        return inner(scheme, port, cred)

    obs_list = [hik_http(), hik_http(scheme="https", port=443)]
    (obs,) = await probe_vendor_api(IP, obs_list, credentials=[GOOD], fetcher=fetcher)
    assert seen == [("https", 443)] and obs.data["scheme"] == "https" and obs.port == 443


async def test_slow_and_huge_replies_are_bounded() -> None:
    def fetcher(scheme: str, port: int, cred: tuple[str, str]) -> va.Fetch:
        async def fetch(path: str) -> tuple[int, bytes]:
            if path == ISAPI_IFACES:
                return 200, fx(f"{IW}-interfaces.xml")
            if path.endswith("/2/wireless"):
                raise va.ReplyTooLarge(f"reply larger than {va.MAX_REPLY} bytes")
            await asyncio.sleep(30)  # a device that never answers
            raise AssertionError("unreachable")

        return fetch

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    (obs,) = await probe_vendor_api(
        IP, [hik_http()], credentials=[GOOD], timeout=0.2, fetcher=fetcher
    )
    assert loop.time() - t0 < 2.5 * 0.2 + 0.3  # the whole step keeps its budget
    calls = obs.data["calls"]
    assert calls[ISAPI_IFACES] == "ok"
    # the Wi-Fi interface is asked first; the rest get what time is left, then nothing
    assert calls[f"{ISAPI_IFACES}/2/wireless"].startswith("error: reply larger than")
    assert calls[f"{ISAPI_IFACES}/2/wirelessServer"].startswith("error: timeout")
    assert calls[f"{ISAPI_IFACES}/1/wireless"].startswith(("error: timeout", "error: skipped"))
    assert obs.data["credential_index"] == 0


async def test_asked_before_the_banners_when_ws_discovery_named_the_board() -> None:
    """A slow camera's API walk starts beside its web banners: WS-Discovery scopes name
    the board, the port scan names the port (HTTPS first)."""
    scopes = ["onvif://www.onvif.org/name/Amcrest", "onvif://www.onvif.org/hardware/IP2M-841B"]
    data = {"scopes": scopes, "types": ["dn:NetworkVideoTransmitter"],
            "xaddrs": [f"http://{IP}/onvif/device_service"]}  # fmt: skip
    wsd = Observation("wsdiscovery", IP, data)
    ports = Observation("portscan", IP, {"tcp_open": [80, 443, 554, 37777], "refused": 0})
    assert va.board_api(IP, [wsd, ports]) == "dahua-cgi"  # Amcrest: a Dahua board
    web_only = Observation("portscan", IP, {"tcp_open": [80, 443, 554], "refused": 0})
    assert va.board_api(IP, [web_only]) is None  # common ports alone name nobody
    seen: list[tuple[str, int]] = []
    inner = device({DAHUA_NETWORK: (200, b"table.Network.eth0.PhysicalAddress=3c:ef:8c:00:00:01")})

    def fetcher(scheme: str, port: int, cred: tuple[str, str]) -> va.Fetch:
        seen.append((scheme, port))
        return inner(scheme, port, cred)

    (obs,) = await probe_vendor_api(IP, [wsd, ports], credentials=[GOOD], fetcher=fetcher)
    assert seen == [("https", 443)] and obs.data["board"] == "Dahua"
    assert obs.data["calls"][DAHUA_NETWORK] == "ok"
