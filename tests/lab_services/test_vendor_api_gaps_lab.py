"""The vendor API gaps (issues 5 and 7) over real HTTP Digest on loopback: the lab's
Hikvision boards answer the ISAPI wireless dial resource when they carry a cellular
modem, a Dahua radio running its own network says ``Ad-hoc``, and both boards tell where
footage is uploaded (ISAPI FTP, Dahua RecordStoragePoint). The probe keeps no APN or FTP
password, and the rules that fire are the ones the lab's ground truth (camlab.expect)
lists for these checks."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

from camlab.expect import expected_rules
from camlab.generate import LAB_PASSWORD
from camlab.services.vendorapi import LAB_APN_PASSWORD, LAB_FTP_PASSWORD, LAB_WIFI_KEY
from camlab.spec import LabDevice

from auditor.classify import classify
from auditor.model import Observation
from auditor.rules import evaluate
from probes import http
from probes.vendor_api import DAHUA_STORAGE, ISAPI_DIAL, ISAPI_FTP, probe_vendor_api

from .conftest import Start

CHECKED = {"CAM-RADIO-CELLULAR", "CAM-RADIO-ONVIF-OMITS", "CAM-RADIO-OWN-AP",
           "CAM-PRIV-REMOTE-STORAGE"}  # fmt: skip


def first(devices: list[LabDevice], test: Callable[[LabDevice], bool]) -> LabDevice:
    """A quirk-free copy of the first device passing ``test``, without RTSP or ONVIF (this
    file asks only the vendor API)."""
    dev = copy.deepcopy(next(d for d in devices if test(d)))
    dev.quirks, dev.clock_skew_s, dev.rtsp, dev.wsdiscovery = [], 0.0, None, None
    dev.onvif = None
    return dev


def readable(dev: LabDevice) -> bool:
    return dev.kind == "camera" and not dev.default_password and dev.http.get("auth") == "digest"


def board(oem: str) -> Callable[[LabDevice], bool]:
    return lambda d: readable(d) and d.oem == oem


def named(name: str) -> Callable[[LabDevice], bool]:
    return lambda d: d.name == name


async def scan(serve: Start, dev: LabDevice) -> tuple[Observation, set[str]]:
    """Serve ``dev``, fingerprint its web page, ask its vendor API with the lab password,
    audit: the vendor_api observation and the rules of :data:`CHECKED` that fired."""
    dev, ip = await serve(dev)
    seen = await http.grab(ip, dev.http["port"], timeout=2.0)
    (api,) = await probe_vendor_api(ip, [seen], credentials=[("admin", LAB_PASSWORD)], timeout=2.0)
    (found,) = classify([seen, api])
    evaluate([found])
    text = json.dumps(api.to_dict())
    for secret in (LAB_PASSWORD, LAB_APN_PASSWORD, LAB_FTP_PASSWORD, LAB_WIFI_KEY):
        assert secret not in text
    return api, {f.rule for f in found.findings} & CHECKED


async def test_hikvision_modem_is_listed_and_flagged(
    devices: list[LabDevice], serve: Start
) -> None:
    dev = first(devices, lambda d: readable(d) and d.oem == "Hikvision" and not d.radios)
    dev.radios.append({"kind": "cellular", "reported": False, "imei": "860000000000001"})
    api, rules = await scan(serve, dev)
    assert api.data["calls"][ISAPI_DIAL] == "ok"
    (cell,) = [i for i in api.data["interfaces"] if i["kind"] == "cellular"]
    assert cell["source"] == ISAPI_DIAL
    assert "CAM-RADIO-CELLULAR" in rules


async def test_hikvision_without_modem_says_not_supported(
    devices: list[LabDevice], serve: Start
) -> None:
    dev = first(devices, lambda d: readable(d) and d.oem == "Hikvision" and not d.radios)
    api, rules = await scan(serve, dev)
    assert api.data["calls"][ISAPI_DIAL] == "not supported"
    assert "CAM-RADIO-CELLULAR" not in rules


async def test_dahua_own_network_is_adhoc_and_own_ap(
    devices: list[LabDevice], serve: Start
) -> None:
    dev = first(
        devices,
        lambda d: readable(d) and d.oem == "Dahua" and any(r["kind"] == "wifi" for r in d.radios),
    )
    (wifi,) = [r for r in dev.radios if r["kind"] == "wifi"]
    for mode, own in (("ap", True), ("client", False)):
        wifi["air_mode"] = mode
        api, rules = await scan(serve, copy.deepcopy(dev))
        (w,) = [i for i in api.data["interfaces"] if i["kind"] == "wifi"]
        assert w["mode_raw"] == ("Ad-hoc" if own else "Auto")
        assert ("CAM-RADIO-OWN-AP" in rules) is own
        assert ("CAM-RADIO-OWN-AP" in expected_rules(dev)) is own  # the lab's truth agrees


async def test_remote_storage_on_both_boards_matches_the_truth(
    devices: list[LabDevice], serve: Start
) -> None:
    for oem, call in (("Hikvision", ISAPI_FTP), ("Dahua", DAHUA_STORAGE)):
        dev = first(devices, board(oem))
        for host in (None, "upload.archive-cloud.example"):
            dev.http.pop("remote_storage", None)
            if host:
                dev.http["remote_storage"] = {"host": host}
            api, rules = await scan(serve, copy.deepcopy(dev))
            assert api.data["calls"][call] == "ok"
            on = [t for t in api.data["storage"]["targets"] if t["enabled"]]
            assert bool(on) is bool(host)
            if host and oem == "Hikvision":
                assert on[0]["host"] == host
            truth = "CAM-PRIV-REMOTE-STORAGE" in expected_rules(dev)
            assert ("CAM-PRIV-REMOTE-STORAGE" in rules) is truth is bool(host)


async def test_lab_devices_with_the_new_cases_get_exactly_their_truth(
    devices: list[LabDevice], serve: Start
) -> None:
    """Every lab device of this session's mix whose truth has a remote upload or an ISAPI
    modem, audited from its vendor API alone: these rules, no more, no fewer (ONVIF is not
    asked here, so CAM-RADIO-ONVIF-OMITS and ONVIF-reported radios are left out)."""
    picked = [
        d for d in devices
        if readable(d) and d.oem in ("Hikvision", "Dahua")
        and (d.http.get("remote_storage") or any(r["kind"] == "cellular" for r in d.radios))
    ]  # fmt: skip
    assert picked, "the lab mix must hold a remote-upload or modem camera"
    for original in picked:
        dev = first(devices, named(original.name))
        _api, rules = await scan(serve, dev)
        want = set(expected_rules(original)) & (CHECKED - {"CAM-RADIO-ONVIF-OMITS"})
        if original.oem == "Dahua":
            want.discard("CAM-RADIO-CELLULAR")  # a Dahua modem: ONVIF only (none here)
        assert rules - {"CAM-RADIO-ONVIF-OMITS"} == want, original.name
