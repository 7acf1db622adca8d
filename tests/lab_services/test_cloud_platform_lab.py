"""The vendor cloud platform setting (issue 7) over real HTTP Digest on loopback: the lab's
Hikvision and Dahua boards answer ISAPI EZVIZ / Dahua T2UServer from their
``cloud_platform`` feature, the probe reads it without copying the Hik-Connect
verification code, and CAM-PRIV-CLOUD-PLATFORM fires on exactly the lab devices whose
ground truth (camlab.expect) lists it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

from camlab.expect import expected_rules
from camlab.generate import LAB_PASSWORD
from camlab.services.vendorapi import LAB_CLOUD_CODE
from camlab.spec import LabDevice

from auditor.classify import classify
from auditor.model import Observation
from auditor.rules import evaluate
from probes import http
from probes.vendor_api import DAHUA_CLOUD, ISAPI_CLOUD, probe_vendor_api

from .conftest import Start

RULE = "CAM-PRIV-CLOUD-PLATFORM"


def first(devices: list[LabDevice], test: Callable[[LabDevice], bool]) -> LabDevice:
    """A quirk-free copy of the first device passing ``test``, without RTSP (not needed)."""
    dev = copy.deepcopy(next(d for d in devices if test(d)))
    dev.quirks, dev.clock_skew_s, dev.rtsp, dev.wsdiscovery = [], 0.0, None, None
    return dev


def readable(dev: LabDevice) -> bool:
    return not dev.default_password and dev.http.get("auth") == "digest"


def board(oem: str, cloud: bool) -> Callable[[LabDevice], bool]:
    return lambda d: (
        d.kind == "camera" and d.oem == oem and readable(d)
        and bool(d.http.get("cloud_platform")) is cloud
    )  # fmt: skip


async def scan(serve: Start, dev: LabDevice) -> tuple[Observation, set[str]]:
    """Serve ``dev`` on loopback, fingerprint its web page, ask its vendor API with the lab
    password, and audit: the vendor_api observation and the rules that fired."""
    dev, ip = await serve(dev)
    seen = await http.grab(ip, dev.http["port"], timeout=2.0)
    (api,) = await probe_vendor_api(ip, [seen], credentials=[("admin", LAB_PASSWORD)], timeout=2.0)
    (found,) = classify([seen, api])
    evaluate([found])
    return api, {f.rule for f in found.findings}


async def test_hikvision_platform_on_fires_and_keeps_no_code(
    devices: list[LabDevice], serve: Start
) -> None:
    dev = first(devices, board("Hikvision", cloud=True))
    assert RULE in expected_rules(dev)
    api, rules = await scan(serve, dev)
    assert api.data["calls"][ISAPI_CLOUD] == "ok"
    # the lab has no internet: the platform is on, but never confirmed the registration
    assert api.data["cloud"] == {
        "platform": "hik-connect", "enabled": True, "registered": False,
        "server": "dev.hik-connect.com", "bound": False, "source": ISAPI_CLOUD,
    }  # fmt: skip
    assert RULE in rules
    assert LAB_CLOUD_CODE not in json.dumps(api.to_dict())


async def test_dahua_p2p_on_fires(devices: list[LabDevice], serve: Start) -> None:
    dev = first(devices, board("Dahua", cloud=True))
    assert RULE in expected_rules(dev)
    api, rules = await scan(serve, dev)
    assert api.data["calls"][DAHUA_CLOUD] == "ok" and api.data["cloud"]["enabled"] is True
    assert RULE in rules


async def test_platform_off_is_silent_on_both_boards(
    devices: list[LabDevice], serve: Start
) -> None:
    for oem, path in (("Hikvision", ISAPI_CLOUD), ("Dahua", DAHUA_CLOUD)):
        dev = first(devices, board(oem, cloud=False))
        assert RULE not in expected_rules(dev)
        api, rules = await scan(serve, dev)
        assert api.data["calls"][path] == "ok" and api.data["cloud"]["enabled"] is False
        assert RULE not in rules


async def test_no_credentials_no_claim(devices: list[LabDevice], serve: Start) -> None:
    dev, ip = await serve(first(devices, board("Hikvision", cloud=True)))
    seen = await http.grab(ip, dev.http["port"], timeout=2.0)
    refused = await probe_vendor_api(
        ip, [seen], credentials=[("admin", "not-the-password")], timeout=2.0
    )
    (api,) = refused
    assert api.data["cloud"] is None and ISAPI_CLOUD not in api.data["calls"]
    (found,) = classify([seen, api])
    evaluate([found])
    assert RULE not in {f.rule for f in found.findings}
