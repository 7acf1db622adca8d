"""Issue 7: UPnP/SSDP as the probe and a scan see the lab (loopback 127.0.1.x).

CAM-EXP-UPNP fires on a camera whose UPnP is on (it answers a unicast M-SEARCH and
describes itself), and stays silent on one with UPnP off.
"""

from __future__ import annotations

import copy
import random

from camlab import features
from camlab.expect import expected_rules
from camlab.spec import LabDevice

from probes.ssdp import probe_ssdp

from .conftest import Start, pick
from .scanone import scan_one

RULE = "CAM-EXP-UPNP"


def _xm(devices: list[LabDevice], upnp: bool) -> LabDevice:
    dev = copy.deepcopy(pick(devices, "xiongmai-generic"))
    dev.http.pop("ssdp", None)
    dev.http["pages"] = [p for p in dev.http.get("pages", []) if p["path"] != features.UPNP_PATH]
    if upnp:
        features.apply(dev, "upnp_ssdp", {}, random.Random(1))
    return dev


async def test_probe_reads_the_reply_and_the_same_host_description(
    devices: list[LabDevice], serve: Start
) -> None:
    dev, ip = await serve(_xm(devices, upnp=True))
    (obs,) = await probe_ssdp(ip, timeout=2.0)
    d = obs.data
    assert obs.port == 1900 and obs.error is None
    assert d["search_targets"] == sorted(
        ["upnp:rootdevice", f"uuid:{dev.endpoint_uuid}", "urn:schemas-upnp-org:device:Basic:1"]
    )
    assert d["location"] == f"http://{ip}:80/upnp/device.xml" and d["location_elsewhere"] == []
    assert "UPnP/1.0" in (d["server"] or "")
    desc = d["description"]
    assert desc["serial"] == dev.serial and desc["model_name"] == dev.model
    assert desc["udn"] == f"uuid:{dev.endpoint_uuid}" and d["description_error"] is None


async def test_scan_reports_upnp_on_and_is_silent_when_off(
    devices: list[LabDevice], serve: Start
) -> None:
    on, ip = await serve(_xm(devices, upnp=True))
    found, _ = await scan_one(on, ip)
    (hit,) = [f for f in found.findings if f.rule == RULE]
    assert RULE in expected_rules(on)
    details = [e.detail for e in hit.evidence]
    assert details[0].startswith("SSDP M-SEARCH answered")
    assert any(on.serial in (e.value or "") for e in hit.evidence)  # what it gives away
    off, ip2 = await serve(_xm(devices, upnp=False))
    assert await probe_ssdp(ip2, timeout=1.0) == []  # refused: no observation at all
    found2, _ = await scan_one(off, ip2)
    assert RULE not in {f.rule for f in found2.findings} and RULE not in expected_rules(off)
