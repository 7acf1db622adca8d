"""Privacy and exposure rules on synthetic observations: each fires on its case only."""

from __future__ import annotations

from postureobs import T0, devices_from, onvif_obs, rule_ids

from auditor.model import Observation, Severity

AXIS = ("AXIS", "AXIS P3245-V", "11.2.68")


def _one(*obs: Observation) -> set[str]:
    (dev,) = devices_from(*obs)
    return rule_ids(dev)


def test_baseline_camera_has_none_of_these() -> None:
    got = _one(onvif_obs("198.18.0.40", *AXIS))
    assert not got & {"CAM-PRIV-AUDIO", "CAM-PRIV-ANALYTICS", "CAM-EXP-ONVIF-USERS",
                      "CAM-CLOCK-NO-NTP", "CAM-EXP-SSH", "CAM-EXP-DEFAULT-CREDS"}  # fmt: skip


def test_audio_profile() -> None:
    prof = [{"token": "P1", "name": "main", "video_encoding": "H264", "audio": True}]
    assert "CAM-PRIV-AUDIO" in _one(onvif_obs("198.18.0.41", *AXIS, profiles=prof))


def test_analytics_identifying_is_high() -> None:
    cfg = [{"token": "VA1", "name": "VideoAnalytics", "rules": [{"name": "Faces",
            "type": "tt:FaceDetector"}], "modules": []}]  # fmt: skip
    (dev,) = devices_from(onvif_obs("198.18.0.42", *AXIS, analytics=cfg))
    f = next(f for f in dev.findings if f.rule == "CAM-PRIV-ANALYTICS")
    assert f.severity == Severity.HIGH
    cfg[0]["rules"] = [{"name": "Line", "type": "tt:LineDetector"}]
    (dev,) = devices_from(onvif_obs("198.18.0.42", *AXIS, analytics=cfg))
    f = next(f for f in dev.findings if f.rule == "CAM-PRIV-ANALYTICS")
    assert f.severity == Severity.MEDIUM
    cfg[0]["rules"] = []
    assert "CAM-PRIV-ANALYTICS" not in _one(onvif_obs("198.18.0.42", *AXIS, analytics=cfg))


def test_users_exposed_only_when_anonymous() -> None:
    users = [{"username": "admin", "level": "Administrator"}]
    calls = {"GetDeviceInformation": "ok", "GetUsers": "ok"}
    anon = onvif_obs("198.18.0.43", *AXIS, auth="none", users=users, calls=calls)
    assert "CAM-EXP-ONVIF-USERS" in _one(anon)
    authed = onvif_obs("198.18.0.43", *AXIS, auth="digest", users=users, calls=calls)
    assert "CAM-EXP-ONVIF-USERS" not in _one(authed)


def test_ntp_off() -> None:
    assert "CAM-CLOCK-NO-NTP" in _one(onvif_obs("198.18.0.44", *AXIS, ntp=False))


def test_ssh_on_cameras_only() -> None:
    ssh = Observation("portscan", "198.18.0.45", {"tcp_open": [22, 80]}, at=T0)
    assert "CAM-EXP-SSH" in _one(onvif_obs("198.18.0.45", *AXIS), ssh)


def test_default_creds_finding_never_quotes_a_password() -> None:
    obs = Observation(
        "defaultcreds",
        "198.18.0.46",
        {"accepted": True, "user": "admin", "entry": "axis-root-pass", "via": "onvif",
         "attempts": 1, "tried": ["axis-root-pass"], "stopped": None},
        port=80,
        at=T0,
    )  # fmt: skip
    (dev,) = devices_from(onvif_obs("198.18.0.46", *AXIS), obs)
    f = next(f for f in dev.findings if f.rule == "CAM-EXP-DEFAULT-CREDS")
    assert f.severity == Severity.CRITICAL
    text = " ".join(f"{e.detail} {e.value}" for e in f.evidence)
    assert "default password accepted for user admin" in text and "axis-root-pass" in text
    assert "pass " not in text.replace("axis-root-pass", "")
