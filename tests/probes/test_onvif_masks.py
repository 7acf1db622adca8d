"""Media2 GetMasks (privacy masks) against recorded replies served on 127.0.3.x.

The GetMasks replies were recorded from the simulated lab's Hikvision DS-2CD2 profile
(``camlab-...`` fixtures; the Hikvision DS-2CD2143G0 recording advertises Media2 but has
no GetMasks reply, so that device answers ActionNotSupported, as a camera without the
call does).
"""

from __future__ import annotations

import datetime as dt

from onvif_server import FIXTURES, FakeOnvifDevice, OnvifServer

from probes.onvif import probe_onvif
from probes.onvif_media2 import parse_masks_reply

HIK = "hikvision-ds2cd2143g0-v5.6.3"
LAB = "camlab-hikvision-ds2cd2-v5.7.3"
CREDS = [("admin", "Camaudit123")]


def _recorded(name: str) -> bytes:
    return (FIXTURES / f"{name}.xml").read_bytes()


async def test_masks_listed_with_the_digest_identity_on_a_skewed_clock() -> None:
    dev = FakeOnvifDevice(
        HIK, users={"admin": "Camaudit123"}, auth="wsse", skew=dt.timedelta(hours=-3),
        raw={"GetMasks": _recorded(f"{LAB}-GetMasks")},
    )  # fmt: skip
    async with OnvifServer(dev, "127.0.3.40") as srv:
        obs = await probe_onvif("127.0.3.40", srv.port, xaddr=None, timeout=2.0, credentials=CREDS)
    assert obs.data["calls"]["GetMasks"] == "ok"  # the PasswordDigest used the camera clock
    masks = obs.data["privacy_masks"]["masks"]
    assert [(m["token"], m["type"], m["enabled"], m["points"]) for m in masks] == [
        ("Mask_1", "Pixelated", True, 4),
        ("Mask_2", "Color", False, 4),
    ]
    assert "GetMasks" in dev.requests


async def test_a_device_without_getmasks_is_recorded_as_not_supported() -> None:
    dev = FakeOnvifDevice(HIK, users={"admin": "Camaudit123"}, auth="wsse")
    async with OnvifServer(dev, "127.0.3.41") as srv:
        obs = await probe_onvif("127.0.3.41", srv.port, xaddr=None, timeout=2.0, credentials=CREDS)
    assert obs.error is None
    assert obs.data["calls"]["GetMasks"] == "not supported"
    assert obs.data["privacy_masks"] == {"supported": False, "reason": "GetMasks: not supported"}


def test_reply_parsing_refuses_hostile_and_broken_bodies() -> None:
    assert parse_masks_reply(_recorded(f"{LAB}-GetMasks-none")) == ("ok", [])
    bomb = _recorded("hostile-billion-laughs-GetDeviceInformation")
    outcome, masks = parse_masks_reply(bomb)
    assert masks is None and outcome.startswith("malformed XML")
    outcome, masks = parse_masks_reply(_recorded("hostile-xxe-GetDeviceInformation"))
    assert masks is None and "malformed" in outcome
    truncated = _recorded(f"{LAB}-GetMasks")[:300]
    assert parse_masks_reply(truncated)[1] is None
    assert parse_masks_reply(b"<a/>") == ("malformed reply: no GetMasksResponse", None)
