"""The vendor API probe against the lab's simulated Hikvision and Dahua boards, over real
HTTP Digest on loopback (issue 5): the vendor's own API lists the Wi-Fi interface that
ONVIF may hide, tells the access-point mode the air shows, and never leaks a key."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable

import pytest
from camlab.air import air_truth
from camlab.generate import LAB_PASSWORD
from camlab.services.vendorapi import LAB_WIFI_KEY
from camlab.spec import LabDevice

from auditor.model import Observation
from probes import http
from probes.vendor_api import ISAPI_IFACES, probe_vendor_api

from .conftest import Start

LAB_CREDS = [("admin", LAB_PASSWORD)]


def first(devices: list[LabDevice], test: Callable[[LabDevice], bool]) -> LabDevice:
    """A quirk-free copy of the first device passing ``test``, without RTSP (not needed)."""
    dev = copy.deepcopy(next(d for d in devices if test(d)))
    dev.quirks, dev.clock_skew_s, dev.rtsp, dev.wsdiscovery = [], 0.0, None, None
    return dev


def wifi(dev: LabDevice) -> dict[str, object] | None:
    return next((r for r in dev.radios if r["kind"] == "wifi"), None)


def operator_can_log_in(dev: LabDevice) -> bool:
    return not dev.default_password and dev.http.get("auth") == "digest"


def hikvision_hidden_ap(dev: LabDevice) -> bool:
    """A Hikvision board whose Wi-Fi ONVIF hides, running its own access point."""
    w = wifi(dev)
    return (
        dev.oem == "Hikvision" and operator_can_log_in(dev) and w is not None
        and not w["reported"] and w["air_mode"] in ("ap", "ap-hidden")
    )  # fmt: skip


async def ask(ip: str, port: int, creds: list[tuple[str, str]] = LAB_CREDS) -> Observation:
    seen = await http.grab(ip, port, timeout=2.0)
    (obs,) = await probe_vendor_api(ip, [seen], credentials=creds, timeout=2.0)
    return obs


def test_radio_modes_stamped_for_the_vendor_api_match_the_air(devices: list[LabDevice]) -> None:
    air = {e.mac: (e.mode, e.ssid) for e in air_truth(devices, 2026) if e.owner}
    stamped = {
        str(r["mac"]): (r["air_mode"], r["air_ssid"])
        for d in devices
        for r in d.radios
        if r["kind"] == "wifi"
    }
    assert stamped and stamped == air


async def test_hikvision_hidden_access_point_is_listed(
    devices: list[LabDevice], serve: Start
) -> None:
    dev, ip = await serve(first(devices, hikvision_hidden_ap))
    radio = wifi(dev)
    assert radio is not None
    obs = await ask(ip, dev.http["port"])
    assert obs.error is None and obs.data["credential_index"] == 0
    assert obs.data["calls"][ISAPI_IFACES] == "ok"
    assert obs.data["calls"][f"{ISAPI_IFACES}/1/wireless"] == "not supported"
    (w,) = [i for i in obs.data["interfaces"] if i["kind"] == "wifi"]
    assert w["mac"] == radio["mac"] and w["mode"] == "ap" and w["ap_ssid"] == radio["ssid"]
    eth = [i for i in obs.data["interfaces"] if i["kind"] == "ethernet"]
    assert [i["mac"] for i in eth] == [dev.mac]
    text = json.dumps(obs.to_dict())
    assert LAB_WIFI_KEY not in text and LAB_PASSWORD not in text


async def test_dahua_board_lists_its_wifi(devices: list[LabDevice], serve: Start) -> None:
    dev, ip = await serve(first(devices, lambda d: d.oem == "Dahua" and operator_can_log_in(d)
                                and wifi(d) is not None))  # fmt: skip
    radio = wifi(dev)
    assert radio is not None
    obs = await ask(ip, dev.http["port"])
    assert obs.data["api"] == "dahua-cgi" and set(obs.data["calls"].values()) == {"ok"}
    (w,) = [i for i in obs.data["interfaces"] if i["kind"] == "wifi"]
    assert w["id"] == "eth2" and w["mac"] == radio["mac"] and w["enabled"] is True
    assert LAB_WIFI_KEY not in json.dumps(obs.to_dict())


async def test_wired_board_says_not_supported_and_wrong_password_fails(
    devices: list[LabDevice], serve: Start
) -> None:
    dev, ip = await serve(first(devices, lambda d: d.oem == "Hikvision" and not d.radios
                                and operator_can_log_in(d)))  # fmt: skip
    obs = await ask(ip, dev.http["port"])
    assert [i["kind"] for i in obs.data["interfaces"]] == ["ethernet"]
    assert obs.data["calls"][f"{ISAPI_IFACES}/1/wireless"] == "not supported"
    refused = await ask(ip, dev.http["port"], [("admin", "not-the-password")])
    assert refused.error == "every credential given was refused"
    assert refused.data["calls"] == {ISAPI_IFACES: "auth failed"}


async def test_basic_over_plain_http_is_not_sent(devices: list[LabDevice], serve: Start) -> None:
    dev = first(devices, lambda d: d.oem == "Hikvision" and not d.default_password)
    dev.http["auth"] = "basic"  # the http_basic feature: the admin login wants Basic
    dev, ip = await serve(dev)
    obs = await ask(ip, dev.http["port"])
    assert obs.data["calls"][ISAPI_IFACES] == (
        "error: device asks for HTTP Basic over plain HTTP; not sent"
    )
    assert obs.data["interfaces"] == [] and obs.data["credential_index"] is None


async def test_scan_with_credentials_asks_the_vendor_api_and_finds_the_hidden_ap(
    devices: list[LabDevice], serve: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """The whole path on loopback: engine (identification, then the opt-in vendor API
    step) -> classify -> rules, as ``camaudit scan --credentials`` runs it."""
    import dataclasses
    import ipaddress

    from auditor.classify import classify
    from auditor.rules import evaluate
    from probes import engine
    from probes.netinfo import Interface

    _dev, ip = await serve(first(devices, hikvision_hidden_ap))
    lo = Interface(
        name="lo", index=1, address=ipaddress.IPv4Address("127.0.0.1"),
        network=ipaddress.IPv4Network("127.0.0.0/8"), flags=frozenset({"UP", "LOOPBACK"}),
        link_type="loopback",
    )  # fmt: skip
    opts = engine.ScanOptions(
        ports=(80,), timeout=2.0, discovery_timeout=0.3, interfaces=[lo], wsd_port=23709,
        rtsp=False, vendor_tcp=False, credentials=LAB_CREDS,
    )  # fmt: skip
    net = [ipaddress.IPv4Network(f"{ip}/32")]
    without = await engine.run_scan([ip], net, dataclasses.replace(opts, credentials=[]))
    assert not [o for o in without if o.probe == "vendor_api"]  # opt-in only
    caplog.set_level(logging.DEBUG)
    obs = await engine.run_scan([ip], net, opts)
    assert LAB_PASSWORD not in caplog.text and LAB_WIFI_KEY not in caplog.text
    assert LAB_WIFI_KEY not in json.dumps([o.to_dict() for o in obs])
    (api,) = [o for o in obs if o.probe == "vendor_api"]
    assert api.error is None and api.data["board"] == "Hikvision"
    (found,) = classify(obs)
    evaluate([found])
    rules = {f.rule for f in found.findings if f.rule.startswith("CAM-RADIO")}
    assert rules == {"CAM-RADIO-WIFI-IFACE", "CAM-RADIO-ONVIF-OMITS", "CAM-RADIO-OWN-AP"}
