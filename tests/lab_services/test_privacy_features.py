"""Issue 7: the lab's privacy/exposure features as the ONVIF probe sees them (loopback),
and the lab's own expectation of which rules they trigger (``camlab.expect``)."""

from __future__ import annotations

import random
import re
from pathlib import Path

from camlab import features
from camlab.expect import expected_rules, expected_rules_optin
from camlab.generate import LAB_PASSWORD, generate
from camlab.profile import PROFILE_DIR
from camlab.spec import LabDevice

from probes.onvif import probe_onvif

from .conftest import Start, pick


def _with(dev: LabDevice, *names: str, analytics: tuple[str, ...] = ()) -> LabDevice:
    assert dev.onvif is not None
    dev.onvif.update(auth="required", users_anonymous=False, audio=False, analytics=[], ntp=True)
    for name in names:
        features.apply(dev, name, {"analytics_rules": list(analytics)}, random.Random(1))
    return dev


async def test_anonymous_onvif_hides_users_but_shows_audio_analytics_and_manual_clock(
    devices: list[LabDevice], serve: Start
) -> None:
    dev = _with(
        pick(devices, "xiongmai-generic"),
        "onvif_anonymous", "audio", "analytics", "face_detection", "ntp_off",
        analytics=("tt:LineDetector",),
    )  # fmt: skip
    dev, ip = await serve(dev)
    port = int(dev.onvif["port"]) if dev.onvif else 0
    obs = await probe_onvif(ip, port, xaddr=None, timeout=3.0, credentials=[])
    d = obs.data
    assert obs.error is None and d["auth"] == "none"
    assert d["calls"]["GetUsers"] == "auth" and "users" not in d  # never escalated for it
    assert all(p["audio"] for p in d["profiles"]) and d["profiles"]
    types = {r["type"] for cfg in d["analytics"] for r in cfg["rules"]}
    assert types == {"tt:LineDetector", "tt:FaceDetection"}
    assert d["ntp"] is False and d["ntp_config"] == {"from_dhcp": False, "servers": []}
    assert set(expected_rules(dev)) >= {
        "CAM-EXP-ONVIF-ANON", "CAM-PRIV-AUDIO", "CAM-PRIV-ANALYTICS", "CAM-CLOCK-NO-NTP"
    }  # fmt: skip
    assert "CAM-EXP-ONVIF-USERS" not in expected_rules(dev)


async def test_user_list_open_to_anyone_and_to_the_operator(
    devices: list[LabDevice], serve: Start
) -> None:
    dev, ip = await serve(_with(pick(devices, "xiongmai-generic"), "onvif_users_anonymous"))
    port = int(dev.onvif["port"]) if dev.onvif else 0
    anon = await probe_onvif(ip, port, xaddr=None, timeout=3.0, credentials=[])
    assert anon.data["auth"] == "none" and anon.data["calls"]["GetUsers"] == "ok"
    assert anon.data["users"] == [
        {"username": "admin", "level": "Administrator"},
        {"username": "operator", "level": "Operator"},
    ]
    assert "CAM-EXP-ONVIF-USERS" in expected_rules(dev)
    assert anon.data["ntp"] is True and anon.data["ntp_config"]["servers"]


async def test_operator_reads_users_on_a_locked_camera(
    devices: list[LabDevice], serve: Start
) -> None:
    dev, ip = await serve(_with(pick(devices, "hikvision-ds2cd2")))
    creds = [(dev.username, LAB_PASSWORD)]
    obs = await probe_onvif(ip, 80, xaddr=None, timeout=3.0, credentials=creds)
    assert obs.data["auth"] == "digest" and obs.data["calls"]["GetUsers"] == "ok"
    assert [u["level"] for u in obs.data["users"]] == ["Administrator", "Operator"]
    assert "analytics" not in obs.data  # no Analytics capability advertised: not asked
    assert not {"CAM-EXP-ONVIF-ANON", "CAM-EXP-ONVIF-USERS"} & set(expected_rules(dev))


def test_features_never_change_what_a_seed_drew(tmp_path: Path) -> None:
    # the same profiles without their [features] tables: the devices a seed draws
    # (profile, model, firmware, MAC, address, quirks, radios) must not move
    for src in PROFILE_DIR.glob("*.toml"):
        text = re.sub(r"\n\[features\]\n(?:[^\[].*\n?)*", "\n", src.read_text())
        (tmp_path / src.name).write_text(text)

    def drawn(devs: list[LabDevice]) -> list[tuple[object, ...]]:
        return [(d.name, d.profile, d.model, d.firmware, d.mac, d.ip, d.quirks, d.radios)
                for d in devs]  # fmt: skip

    plain = generate(40, 7, profile_dir=tmp_path)
    assert not any(d.onvif and d.onvif["analytics"] for d in plain)
    assert drawn(generate(40, 7)) == drawn(plain)


def test_default_password_hides_what_needs_a_login() -> None:
    dev = next(d for d in generate(40, 7) if d.default_password and d.profile == "dahua-ipc")
    rules = expected_rules(dev)
    assert "CAM-POL-NDAA-889" in rules  # the maker shows without logging in
    assert not {"CAM-PRIV-AUDIO", "CAM-VULN-KEV", "CAM-RADIO-WIFI-IFACE"} & set(rules)
    assert expected_rules_optin(dev) == ["CAM-EXP-DEFAULT-CREDS"]


def test_feature_names_match_the_profile_schema() -> None:
    from camlab.profile import FEATURE_NAMES

    assert set(features.FEATURES) == FEATURE_NAMES
