"""Rules: each rule fires on its case (positive) and stays quiet otherwise (negative)."""

from __future__ import annotations

from pathlib import Path

import pytest
from obsbuild import http, onvif, portscan, rtsp, vendor_port

from auditor.classify import classify
from auditor.model import Device, Observation, Radio, Severity
from auditor.rules import RULES, evaluate, rules_markdown

IP = "198.18.0.10"
HIK = onvif(IP, manufacturer="HIKVISION", model="DS-2CD2143G0-I", hardware_id="88")
AXIS = onvif(IP, manufacturer="AXIS", model="P1375")


def findings(obs: list[Observation]) -> dict[str, Severity]:
    devs = classify(obs)
    evaluate(devs)
    (dev,) = devs
    return {f.rule: f.severity for f in dev.findings}


def fired(rule_id: str, obs: list[Observation]) -> bool:
    return rule_id in findings(obs)


_LINK = {"confidence": 0.85, "evidence": [{"source": "air", "detail": "radio MAC = wired MAC +2"}]}
_AIR = {
    "kind": "wifi",
    "role": "client",
    "frames": 40,
    "data_frames": 38,
    "probe_requests": 2,
    "beacons": 0,
    "ssids": [],
    "bssids": ["02:5c:17:00:00:01"],
    "link": _LINK,
}
AIR_CLIENT = Observation("air", IP, _AIR, mac="ac:cc:8e:00:00:02")
AIR_AP = Observation(
    "air",
    IP,
    {**_AIR, "role": "ap", "beacons": 90, "ssids": ["AXIS-1"], "privacy": True},
    mac="ac:cc:8e:00:00:02",
)
AIR_SILENT = Observation(
    "air", IP, {**_AIR, "frames": 0, "data_frames": 0, "probe_requests": 0}, mac="ac:cc:8e:00:00:02"
)
# issue 5: a vendor API (probes/vendor_api.py) listing a Wi-Fi interface
_WLAN = {"id": "2", "name": None, "mac": "c0:56:e3:00:00:02", "kind": "wifi", "enabled": True,
         "mode": "station", "ssid": "CamLink",
         "source": "/ISAPI/System/Network/interfaces"}  # fmt: skip
VENDOR_WIFI = Observation("vendor_api", IP, {"api": "isapi", "interfaces": [_WLAN]}, port=80)


CASES: dict[str, tuple[list[Observation], list[Observation]]] = {
    "CAM-ID-OEM-REBRAND": (
        [
            onvif(IP, manufacturer="Amcrest", model="IP2M-841B"),
            vendor_port(IP, 37777, "dahua-dvrip"),
        ],
        [AXIS],
    ),
    "CAM-ID-LABEL-MISMATCH": (
        # presents as Axis, but the board is a Hikvision one
        [AXIS, http(IP, server="App-webs/"), vendor_port(IP, 8000, "hikvision-sdk")],
        # a known rebrand (Annke on a Hikvision board) is not a mismatch
        [onvif(IP, manufacturer="ANNKE", model="X"), http(IP, server="App-webs/")],
    ),
    "CAM-EXP-RTSP-NOAUTH": (
        [AXIS, rtsp(IP, auth="none", describe_status=200, rtp_received=True, rtp_packets=5)],
        [AXIS, rtsp(IP, auth="digest", describe_status=401)],
    ),
    "CAM-EXP-RTSP-ANYPATH": (
        [AXIS, rtsp(IP, auth="none", describe_status=200, bogus_path_status=200)],
        [AXIS, rtsp(IP, bogus_path_status=404)],
    ),
    "CAM-EXP-ONVIF-ANON": (
        [onvif(IP, manufacturer="AXIS", model="P1375", auth="none")],
        [AXIS],
    ),
    "CAM-EXP-HTTP-CLEARTEXT": (
        [AXIS, http(IP, status=200, title="AXIS")],
        [AXIS, http(IP, status=302, headers={"location": "https://198.18.0.10/"}),
         http(IP, 443, scheme="https", status=200)],
    ),
    "CAM-EXP-BASIC-OVER-HTTP": (
        [AXIS, http(IP, status=401, auth_schemes=["basic"], realm="cam")],
        [AXIS, http(IP, status=401, auth_schemes=["digest"]),
         http(IP, 443, scheme="https", status=401, auth_schemes=["basic"])],
    ),
    "CAM-EXP-TELNET": ([AXIS, portscan(IP, 23, 80)], [AXIS, portscan(IP, 22, 80)]),
    "CAM-EXP-FTP": ([AXIS, portscan(IP, 21)], [AXIS, portscan(IP, 2121)]),
    "CAM-RADIO-WIFI-IFACE": (
        [onvif(IP, manufacturer="AXIS", model="P1375", interfaces=[
            {"token": "w", "name": "wlan0", "mac": None, "if_type": 71, "enabled": True}])],
        [AXIS],
    ),
    "CAM-RADIO-CELLULAR": (
        [onvif(IP, manufacturer="AXIS", model="P1375", interfaces=[
            {"token": "c", "name": "wwan0", "mac": None, "if_type": 244, "enabled": True}])],
        [onvif(IP, manufacturer="AXIS", model="P1375", interfaces=[
            {"token": "w", "name": "wlan0", "mac": None, "if_type": 71, "enabled": True}])],
    ),
    # issue 5: an air transmitter linked to the device (auditor.radios.attach's shape)
    "CAM-RADIO-AIR-ACTIVE": ([AXIS, AIR_CLIENT], [AXIS, AIR_SILENT]),
    "CAM-RADIO-OWN-AP": ([AXIS, AIR_AP], [AXIS, AIR_CLIENT]),
    "CAM-RADIO-ONVIF-OMITS": (
        [onvif(IP, manufacturer="HIKVISION", calls={"GetNetworkInterfaces": "ok"}), VENDOR_WIFI],
        [onvif(IP, manufacturer="HIKVISION", calls={"GetNetworkInterfaces": "ok"},
               interfaces=[{"token": "w", "name": "wlan0", "mac": "c0:56:e3:00:00:02",
                            "if_type": 71, "enabled": True}]), VENDOR_WIFI],
    ),
    "CAM-RADIO-SELF-REPORT-CONTRADICTED": (
        [onvif(IP, manufacturer="AXIS", model="P1375", calls={"GetNetworkInterfaces": "ok"}),
         AIR_CLIENT],
        [onvif(IP, manufacturer="AXIS", model="P1375", calls={"GetNetworkInterfaces": "ok"},
               interfaces=[{"token": "w", "name": "wlan0", "mac": "ac:cc:8e:00:00:02",
                            "if_type": 71, "enabled": True}]), AIR_CLIENT],
    ),
    "CAM-POL-NDAA-889": (
        [onvif(IP, manufacturer="Amcrest", model="IP2M-841B"),
         http(IP, status=401, auth_schemes=["digest"], realm="Login to 4K01234PAZ12345")],
        [AXIS, http(IP, server="uc-httpd 1.0.0")],
    ),
    "CAM-CLOCK-SKEW": (
        [onvif(IP, manufacturer="AXIS", model="P1375", clock_offset_s=-7200.0)],
        [onvif(IP, manufacturer="AXIS", model="P1375", clock_offset_s=120.0)],
    ),
    "CAM-DEV-MISBEHAVING": (
        [AXIS, Observation("rtsp", IP, {}, port=554, error="timeout after 3.0s")],
        # a polite refusal is not misbehaviour
        [AXIS, Observation("onvif", IP, {"auth": "required"}, port=80, error="not authorized")],
    ),
    # issue 7 (posture); the CAM-POL-* rules that need a site policy: tests/posture
    "CAM-VULN-KEV": (
        [onvif(IP, manufacturer="HIKVISION", model="DS-2CD2143G0-I", hardware_id="88",
               firmware="V5.4.5 build 170124")],
        [onvif(IP, manufacturer="HIKVISION", model="DS-2CD2143G0-I", hardware_id="88",
               firmware="V5.7.3 build 220112")],
    ),
    "CAM-VULN-CVE": (
        [onvif(IP, manufacturer="Xiongmai", model="IPG-53H20PL-S",
               firmware="V5.00.R02.000529G9.10010.346400.0000000")],
        [onvif(IP, manufacturer="AXIS", model="P1375", firmware="10.12.199")],
    ),
    "CAM-EXP-SSH": ([AXIS, portscan(IP, 22, 80)], [AXIS, portscan(IP, 80)]),
    "CAM-EXP-ONVIF-USERS": (
        [onvif(IP, manufacturer="AXIS", model="P1375", auth="none",
               calls={"GetUsers": "ok"}, users=[{"username": "root", "level": "Administrator"}])],
        [onvif(IP, manufacturer="AXIS", model="P1375", auth="digest",
               calls={"GetUsers": "ok"}, users=[{"username": "root", "level": "Administrator"}])],
    ),
    "CAM-PRIV-AUDIO": (
        [onvif(IP, manufacturer="AXIS", model="P1375", profiles=[{"token": "p", "audio": True}])],
        [onvif(IP, manufacturer="AXIS", model="P1375", profiles=[{"token": "p", "audio": False}])],
    ),
    "CAM-PRIV-ANALYTICS": (
        [onvif(IP, manufacturer="AXIS", model="P1375", analytics=[
            {"token": "va", "rules": [{"name": "r", "type": "tt:FaceDetector"}]}])],
        [onvif(IP, manufacturer="AXIS", model="P1375", analytics=[{"token": "va", "rules": []}])],
    ),
    "CAM-CLOCK-NO-NTP": (
        [onvif(IP, manufacturer="AXIS", model="P1375", ntp=False)],
        [onvif(IP, manufacturer="AXIS", model="P1375", ntp=True)],
    ),
    # issue 7: privacy masks (Media2 GetMasks); none enabled fires, one enabled does not, and
    # "not supported" (no Media2) is no finding
    "CAM-PRIV-NO-MASKS": (
        [onvif(IP, manufacturer="AXIS", model="P1375", privacy_masks={"supported": True,
               "masks": [{"token": "m1", "type": "Color", "enabled": False, "points": 4}]})],
        [onvif(IP, manufacturer="AXIS", model="P1375", privacy_masks={"supported": True,
               "masks": [{"token": "m1", "type": "Color", "enabled": True, "points": 4}]}),
         onvif(IP, 8080, manufacturer="AXIS", model="P1375",
               privacy_masks={"supported": False, "reason": "no Media2 service"})],
    ),
    # issue 7: UPnP on (an SSDP reply); a device without one is silent
    "CAM-EXP-UPNP": (
        [HIK, Observation("ssdp", IP, {"search_targets": ["upnp:rootdevice"],
                                       "server": "Linux UPnP/1.0", "location": None}, port=1900)],
        [HIK],
    ),
    "CAM-EXP-DEFAULT-CREDS": (
        [AXIS, Observation("defaultcreds", IP, {"accepted": True, "user": "root",
                                                "entry": "axis-root-pass", "via": "onvif"})],
        [AXIS, Observation("defaultcreds", IP, {"accepted": False, "attempts": 1})],
    ),
    # issue 7: the vendor API says the cloud platform is on (tests/posture/test_cloud_platform.py)
    "CAM-PRIV-CLOUD-PLATFORM": (
        [HIK, Observation("vendor_api", IP, {"api": "isapi", "calls": {
            "/ISAPI/System/Network/EZVIZ": "ok"}, "cloud": {"platform": "hik-connect",
            "enabled": True, "source": "/ISAPI/System/Network/EZVIZ"}}, port=80)],
        [HIK, Observation("vendor_api", IP, {"api": "isapi", "calls": {
            "/ISAPI/System/Network/EZVIZ": "ok"}, "cloud": {"platform": "hik-connect",
            "enabled": False, "source": "/ISAPI/System/Network/EZVIZ"}}, port=80)],
    ),
    # issue 7: the vendor API says footage is uploaded (test_vendor_api_cellular_storage.py)
    "CAM-PRIV-REMOTE-STORAGE": (
        [HIK, Observation("vendor_api", IP, {"api": "isapi", "calls": {
            "/ISAPI/System/Network/ftp": "ok"}, "storage": {"kind": "ftp", "targets": [
                {"id": "1", "enabled": True, "host": "ftp.example.org", "port": 21,
                 "protocol": "FTP"}], "source": "/ISAPI/System/Network/ftp"}}, port=80)],
        [HIK, Observation("vendor_api", IP, {"api": "isapi", "calls": {
            "/ISAPI/System/Network/ftp": "ok"}, "storage": {"kind": "ftp", "targets": [
                {"id": "1", "enabled": False, "host": "ftp.example.org", "port": 21,
                 "protocol": "FTP"}], "source": "/ISAPI/System/Network/ftp"}}, port=80)],
    ),
}  # fmt: skip

# Rules that need a site policy; tested with one in tests/posture/test_policy.py.
NEEDS_POLICY = {
    "CAM-POL-NOT-APPROVED",
    "CAM-POL-FIRMWARE-FLOOR",
    "CAM-POL-COMPLIANCE",
    "CAM-RADIO-NOT-APPROVED",  # tests/radios/test_lab_radios.py::test_policy_approves_one_radio
}
# Traffic rules need flow observations from captures: tests/traffic/test_traffic_rules.py.
TESTED_ELSEWHERE = {r for r in RULES if r.startswith("CAM-NET-")}


def test_every_rule_has_cases() -> None:
    assert set(CASES) | NEEDS_POLICY | TESTED_ELSEWHERE == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_positive(rule_id: str) -> None:
    positive, _ = CASES[rule_id]
    assert fired(rule_id, positive)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_negative(rule_id: str) -> None:
    _, negative = CASES[rule_id]
    assert not fired(rule_id, negative)


def test_findings_carry_evidence_and_words() -> None:
    devs = classify(CASES["CAM-POL-NDAA-889"][0])
    evaluate(devs)
    (f,) = [f for f in devs[0].findings if f.rule == "CAM-POL-NDAA-889"]
    assert "Dahua" in f.title and "Amcrest" in f.title
    assert any("2 CFR 200.216" in e.detail for e in f.evidence)
    assert any("http-realm-login-to" in e.detail for e in f.evidence)
    assert f.rationale and f.remediation


def test_rtsp_without_media_is_downgraded() -> None:
    obs = [AXIS, rtsp(IP, auth="none", describe_status=200, rtp_received=False)]
    assert findings(obs)["CAM-EXP-RTSP-NOAUTH"] == Severity.MEDIUM


def test_evaluate_is_idempotent_and_sorted() -> None:
    devs = classify([HIK, portscan(IP, 21, 23), http(IP, status=200)])
    evaluate(devs)
    first = [f.rule for f in devs[0].findings]
    evaluate(devs)
    assert [f.rule for f in devs[0].findings] == first
    sev = [int(f.severity) for f in devs[0].findings]
    assert sev == sorted(sev, reverse=True)


def test_rules_apply_to_hand_built_devices() -> None:
    dev = Device(ip=IP, device_type="camera", radios=[Radio("wifi", None, "air", "beacon")])
    evaluate([dev])
    assert [f.rule for f in dev.findings] == ["CAM-RADIO-WIFI-IFACE"]


def test_rules_doc_is_current() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
    assert doc.read_text(encoding="utf-8") == rules_markdown(), "regenerate docs/rules.md"
