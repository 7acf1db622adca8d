"""What the auditor makes of a vendor API observation (issue 5): the radio it lists
becomes a radio of the device with the API response as evidence, ONVIF leaving it out is
a finding, its access point is CAM-RADIO-OWN-AP, and its MAC links an air transmitter.

Observations come from the real probe run over the recorded replies in
tests/fixtures/vendor_api (through its fetcher seam), so the auditor reads exactly what
the probe writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.classify import classify
from auditor.model import Device, Observation
from auditor.radios import attach, correlate
from auditor.rules import evaluate
from probes import vendor_api as va
from probes.vendor_api import ISAPI_IFACES, probe_vendor_api

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "vendor_api"
IP = "198.18.0.65"
IW = "hikvision-ds-2cd2021g1-iw-v5.5.0"
WIRED = "hikvision-ds-2cd2043g2-v5.7.3"
WIFI_MAC = "44:19:b6:7c:21:0b"
WIRED_MAC = "44:19:b6:7c:21:0a"


def fx(name: str) -> bytes:
    return (FIX / name).read_bytes()


def http_obs() -> Observation:
    data = {"scheme": "http", "status": 200, "server": "App-webs/", "auth_schemes": [],
            "headers": {"server": "App-webs/"}, "body_sample": ""}  # fmt: skip
    return Observation("http", IP, data, port=80, mac=WIRED_MAC)


def onvif_obs(wifi: bool) -> Observation:
    ifaces: list[dict[str, Any]] = [
        {"token": "eth0", "name": "eth0", "mac": WIRED_MAC, "if_type": 6, "enabled": True}
    ]
    if wifi:
        ifaces.append({"token": "wlan0", "name": "wlan0", "mac": WIFI_MAC, "if_type": 71,
                       "enabled": True})  # fmt: skip
    data = {"xaddr": f"http://{IP}/onvif/device_service", "auth": "digest",
            "device_info": {"manufacturer": "HIKVISION", "model": "DS-2CD2021G1-IW",
                            "firmware": "V5.5.0 build 170725", "serial": "X", "hardware_id": "88"},
            "capabilities": {"media": True, "dot11": wifi}, "interfaces": ifaces,
            "calls": {"GetNetworkInterfaces": "ok", "GetCapabilities": "ok"}}  # fmt: skip
    return Observation("onvif", IP, data, port=80)


async def vendor_obs(ap: bool = False, wired_only: bool = False) -> Observation:
    replies = {
        ISAPI_IFACES: (200, fx(f"{WIRED if wired_only else IW}-interfaces.xml")),
        f"{ISAPI_IFACES}/1/wireless": (403, fx(f"{WIRED}-notsupport.xml")),
        f"{ISAPI_IFACES}/2/wireless": (200, fx(f"{IW}-wireless-2.xml")),
    }
    if ap:
        replies[f"{ISAPI_IFACES}/2/wirelessServer"] = (200, fx(f"{IW}-wirelessserver-2.xml"))

    def fetcher(scheme: str, port: int, cred: tuple[str, str]) -> va.Fetch:
        async def fetch(path: str) -> tuple[int, bytes]:
            return replies.get(path, (404, b""))

        return fetch

    (obs,) = await probe_vendor_api(IP, [http_obs()], credentials=[("admin", "x")], fetcher=fetcher)
    return obs


def audit(observations: list[Observation]) -> Device:
    (dev,) = classify(observations)
    evaluate([dev])
    return dev


def finding(dev: Device, rule: str) -> dict[str, Any] | None:
    return next((f.to_dict() for f in dev.findings if f.rule == rule), None)


async def test_hidden_wifi_listed_by_the_vendor_api_is_flagged_and_contradicts_onvif() -> None:
    dev = audit([http_obs(), onvif_obs(wifi=False), await vendor_obs()])
    assert [(r.kind, r.mac, r.source) for r in dev.radios] == [("wifi", WIFI_MAC, "vendor-api")]
    iface = finding(dev, "CAM-RADIO-WIFI-IFACE")
    assert iface is not None
    cited = json.dumps(iface["evidence"])
    assert "Hikvision ISAPI GET /ISAPI/System/Network/interfaces/2/wireless" in cited
    assert WIFI_MAC in cited and "'CamLink'" in cited
    omits = finding(dev, "CAM-RADIO-ONVIF-OMITS")
    assert omits is not None and omits["severity"] == "high"
    assert "Wi-Fi radio" in omits["title"]
    sources = [e["source"] for e in omits["evidence"]]
    assert sources == ["onvif:80", "vendor_api:80"]
    assert finding(dev, "CAM-RADIO-OWN-AP") is None  # a client, not an access point


async def test_reported_wifi_is_one_radio_and_no_contradiction() -> None:
    dev = audit([http_obs(), onvif_obs(wifi=True), await vendor_obs()])
    assert [(r.kind, r.mac, r.source) for r in dev.radios] == [
        ("wifi", WIFI_MAC, "onvif-interfaces")
    ]  # the same MAC from the vendor API is not counted twice
    assert finding(dev, "CAM-RADIO-WIFI-IFACE") is not None
    assert finding(dev, "CAM-RADIO-ONVIF-OMITS") is None


async def test_access_point_mode_is_the_own_ap_finding() -> None:
    dev = audit([http_obs(), onvif_obs(wifi=False), await vendor_obs(ap=True)])
    own = finding(dev, "CAM-RADIO-OWN-AP")
    assert own is not None and own["title"] == "Camera runs its own Wi-Fi access point 'HAP-21000'"
    (ev,) = own["evidence"]
    assert ev["source"] == "vendor_api:80" and "wirelessServer" in ev["detail"]
    assert "mode ap" in ev["detail"] and "do-not-copy" not in json.dumps(own)


async def test_wired_only_camera_gets_no_radio_finding() -> None:
    dev = audit([http_obs(), onvif_obs(wifi=False), await vendor_obs(wired_only=True)])
    assert dev.radios == []
    assert not [f.rule for f in dev.findings if f.rule.startswith("CAM-RADIO")]


async def test_vendor_api_mac_links_an_air_transmitter_far_from_the_wired_mac() -> None:
    # a Wi-Fi MAC that is not wired MAC +-3: only the self-report can pin it
    far = "44:19:b6:7c:29:99"
    vobs = await vendor_obs()
    data = json.loads(json.dumps(vobs.data).replace(WIFI_MAC, far))
    vobs = Observation(vobs.probe, vobs.ip, data, port=vobs.port)
    (dev,) = classify([http_obs(), onvif_obs(wifi=False), vobs])
    air = Observation("air", "", {"kind": "wifi", "role": "client", "frames": 40,
                                  "data_frames": 30, "bssids": ["02:aa:bb:cc:00:01"],
                                  "channels": [6], "source": "capture.pcap"}, mac=far)  # fmt: skip
    match = correlate([dev], [air])
    (link,) = match.links
    assert link.device_ip == IP and link.confidence >= 0.95
    assert [e.source for e in link.evidence] == ["vendor_api"]
    attach([dev], match)
    evaluate([dev])
    assert finding(dev, "CAM-RADIO-AIR-ACTIVE") is not None
    assert finding(dev, "CAM-RADIO-SELF-REPORT-CONTRADICTED") is not None  # ONVIF denied it


def test_odd_vendor_api_data_never_crashes_the_auditor() -> None:
    odd: list[Any] = [
        5, "interfaces", None, [1, "x", None],
        [{"kind": ["wifi"], "mac": 12, "mode": {"ap": 1}}],
        [{"kind": "wifi", "mac": "zz", "mode": ["ap"], "enabled": "yes", "ssid": 7}],
        [{"kind": "cellular", "mac": None, "id": {"a": 1}, "source": 3}],
    ]  # fmt: skip
    for value in odd:
        vobs = Observation("vendor_api", IP, {"api": ["isapi"], "interfaces": value}, port=None)
        dev = audit([http_obs(), onvif_obs(wifi=False), vobs])
        assert all(r.source == "vendor-api" for r in dev.radios)
    # the two last shapes are radio interfaces all the same: flagged, nothing invented
    assert [r.kind for r in dev.radios] == ["cellular"]
    assert finding(dev, "CAM-RADIO-CELLULAR") is not None
