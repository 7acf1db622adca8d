"""Issue 7: privacy masks (ONVIF Media2 GetMasks) as the probe and a scan see the lab.

CAM-PRIV-NO-MASKS fires where GetMasks lists no enabled mask, stays silent where a mask
is in force, and gives no finding where the device has no Media2 (recorded as "not
supported") or refuses the call.
"""

from __future__ import annotations

import copy

from camlab.expect import expected_rules
from camlab.generate import LAB_PASSWORD
from camlab.spec import LabDevice

from probes.onvif import probe_onvif

from .conftest import Start, pick
from .scanone import scan_one

RULE = "CAM-PRIV-NO-MASKS"
MASK = {"token": "Mask_1", "type": "Pixelated", "enabled": True,
        "polygon": [[-1.0, 0.5], [-0.7, 0.5], [-0.7, 1.0], [-1.0, 1.0]]}  # fmt: skip


def _hik(devices: list[LabDevice], masks: list[dict[str, object]]) -> LabDevice:
    dev = copy.deepcopy(pick(devices, "hikvision-ds2cd2"))
    assert dev.onvif is not None and dev.onvif.get("media2")
    dev.onvif["masks"] = masks
    dev.default_password, dev.password = False, LAB_PASSWORD
    return dev


async def test_getmasks_lists_the_masks_with_the_operators_identity(
    devices: list[LabDevice], serve: Start
) -> None:
    _dev, ip = await serve(_hik(devices, [MASK, {**MASK, "token": "Mask_2", "enabled": False}]))
    obs = await probe_onvif(ip, 80, xaddr=None, timeout=3.0, credentials=[("admin", LAB_PASSWORD)])
    assert obs.data["calls"]["GetMasks"] == "ok"
    assert obs.data["privacy_masks"] == {
        "supported": True,
        "masks": [
            {"token": "Mask_1", "configuration_token": "VideoSourceConfig_1",
             "type": "Pixelated", "enabled": True, "points": 4},
            {"token": "Mask_2", "configuration_token": "VideoSourceConfig_1",
             "type": "Pixelated", "enabled": False, "points": 4},
        ],
    }  # fmt: skip
    # anonymous: refused like every other protected call, and no verdict either way
    anon = await probe_onvif(ip, 80, xaddr=None, timeout=3.0, credentials=[])
    assert anon.data["calls"].get("GetMasks") == "auth"
    assert anon.data["privacy_masks"] == {"supported": None, "reason": "GetMasks: auth"}


async def test_scan_reports_no_masks_and_stays_silent_with_one(
    devices: list[LabDevice], serve: Start
) -> None:
    bare, ip = await serve(_hik(devices, []))
    found, _ = await scan_one(bare, ip)
    (hit,) = [f for f in found.findings if f.rule == RULE]
    assert hit.title == "No privacy mask configured"
    assert hit.evidence[0].detail == "Media2 GetMasks: no mask defined"
    assert RULE in expected_rules(bare)
    masked, ip2 = await serve(_hik(devices, [MASK]))
    found2, _ = await scan_one(masked, ip2)
    assert RULE not in {f.rule for f in found2.findings}
    assert RULE not in expected_rules(masked)


async def test_no_media2_is_recorded_as_not_supported_without_a_finding(
    devices: list[LabDevice], serve: Start
) -> None:
    dev = copy.deepcopy(pick(devices, "dahua-ipc"))
    dev.default_password, dev.password = False, LAB_PASSWORD
    dev, ip = await serve(dev)
    port = int(dev.onvif["port"]) if dev.onvif else 80
    creds = [("admin", LAB_PASSWORD)]
    obs = await probe_onvif(ip, port, xaddr=None, timeout=3.0, credentials=creds)
    assert obs.data["privacy_masks"] == {"supported": False, "reason": "no Media2 service"}
    assert "GetMasks" not in obs.data["calls"]  # no call was made
    found, _ = await scan_one(dev, ip)
    assert RULE not in {f.rule for f in found.findings} and RULE not in expected_rules(dev)
