"""Privacy and further exposure rules: what the camera records and who can ask it.

Reads ONVIF keys ``profiles[].audio``, ``users``, ``analytics``, ``ntp`` and the opt-in
``defaultcreds`` observation (``docs/observations.md``).
"""

from __future__ import annotations

from typing import Any

from auditor.model import Device, Evidence, Severity
from auditor.rules.facts import CAMERA_LIKE, cite, observations, open_tcp_ports
from auditor.rules.registry import Hit, rule

# ONVIF rule / analytics module types (tt: namespace names and common vendor names)
# that identify or track people; matched case-insensitively as substrings.
IDENTIFYING = ("face", "licenseplate", "licenceplate", "plate", "lpr", "anpr", "facial")
COUNTING = ("people", "counting", "crowd", "human", "occupancy", "tracking")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@rule(
    "CAM-EXP-SSH",
    severity=Severity.MEDIUM,
    title="SSH open on the device",
    rationale="""An SSH server gives a shell on the camera. Vendors leave it on for support,
    often with a firmware-wide password; nobody operating a camera fleet needs it.""",
    remediation="""Disable SSH in the device settings (or firmware); if the vendor needs it
    for support, enable it only for the session and block TCP 22 otherwise.""",
)
def ssh(dev: Device) -> Hit | None:
    if dev.device_type not in (*CAMERA_LIKE, "unknown"):
        return None  # computers and switches run SSH on purpose
    ports = open_tcp_ports(dev)
    ev = [Evidence(src, "TCP 22 (ssh) open", "22") for p, src in ports.items() if p == 22]
    return Hit(ev) if ev else None


@rule(
    "CAM-EXP-ONVIF-USERS",
    severity=Severity.HIGH,
    title="ONVIF user list readable without authentication",
    rationale="""GetUsers answered without credentials: anyone on the network learns the
    device's account names and which one is the administrator, the first step of a
    password-guessing attack.""",
    remediation="""Enable ONVIF authentication on the device; update firmware that answers
    GetUsers anonymously.""",
)
def onvif_users(dev: Device) -> Hit | None:
    ev = []
    for obs in observations(dev, "onvif"):
        calls = obs.data.get("calls") if isinstance(obs.data.get("calls"), dict) else {}
        if obs.data.get("auth") != "none" or (calls or {}).get("GetUsers") != "ok":
            continue
        users = [u for u in _list(obs.data.get("users")) if isinstance(u, dict)]
        levels = ", ".join(f"{u.get('username')} ({u.get('level')})" for u in users[:10])
        ev.append(cite(obs, f"GetUsers answered anonymously: {len(users)} account(s)", levels))
    return Hit(ev) if ev else None


@rule(
    "CAM-PRIV-AUDIO",
    severity=Severity.MEDIUM,
    title="Camera records audio",
    rationale="""A media profile carries an audio source or encoder: the camera records
    what people say, not only what they do. Recording conversations in public space is
    unlawful or needs a specific legal basis in many jurisdictions.""",
    remediation="""Remove the audio configuration from every media profile (and disable
    the microphone) unless a documented legal basis covers audio recording here.""",
)
def audio(dev: Device) -> Hit | None:
    ev = []
    for obs in observations(dev, "onvif"):
        names = [
            str(p.get("name") or p.get("token"))
            for p in _list(obs.data.get("profiles"))
            if isinstance(p, dict) and p.get("audio") is True
        ]
        if names:
            ev.append(cite(obs, "media profiles with audio", ", ".join(names)))
    return Hit(ev) if ev else None


@rule(
    "CAM-PRIV-ANALYTICS",
    severity=Severity.MEDIUM,
    title="Video analytics enabled",
    rationale="""The device runs video analytics rules (per ONVIF analytics configuration).
    Face detection and licence-plate recognition identify people; counting and tracking
    profile their movements. Each needs its own legal basis and impact assessment.""",
    remediation="""Confirm each analytics rule is covered by a data-protection impact
    assessment; remove rules that are not; document retention of analytics results.""",
)
def analytics(dev: Device) -> Hit | None:
    ev: list[Evidence] = []
    kinds: set[str] = set()
    for obs in observations(dev, "onvif"):
        for cfg in _list(obs.data.get("analytics")):
            if not isinstance(cfg, dict):
                continue
            items = [
                r
                for r in _list(cfg.get("rules")) + _list(cfg.get("modules"))
                if isinstance(r, dict)
            ]
            types = sorted({str(r.get("type") or "") for r in items if r.get("type")})
            if not types:
                continue
            kinds.update(t.lower() for t in types)
            ev.append(
                cite(
                    obs,
                    f"analytics configuration {cfg.get('name') or cfg.get('token')}",
                    ", ".join(types),
                )
            )
    if not ev:
        return None
    if any(k in t for t in kinds for k in IDENTIFYING):
        return Hit(
            ev,
            title="Analytics that identify people (face / licence plate)",
            severity=Severity.HIGH,
        )
    if any(k in t for t in kinds for k in COUNTING):
        return Hit(ev, title="Analytics that count or track people")
    return Hit(ev)


@rule(
    "CAM-CLOCK-NO-NTP",
    severity=Severity.LOW,
    title="Clock not synchronised (NTP off)",
    rationale="""The device sets its clock by hand (ONVIF DateTimeType Manual), so it drifts.
    Footage timestamps then disagree with other sources, which weakens them as
    evidence.""",
    remediation="""Enable NTP on the device and point it at the city's NTP server.""",
)
def no_ntp(dev: Device) -> Hit | None:
    ev = [
        cite(o, "GetSystemDateAndTime: DateTimeType is Manual", "Manual")
        for o in observations(dev, "onvif")
        if o.data.get("ntp") is False
    ]
    return Hit(ev) if ev else None


@rule(
    "CAM-EXP-DEFAULT-CREDS",
    severity=Severity.CRITICAL,
    title="Vendor default password accepted",
    rationale="""The device accepted its vendor's published default password (checked only
    with --check-default-creds, a few attempts at most). Default passwords are the
    first thing botnets try; the device is effectively open.""",
    remediation="""Change the password now (unique per device, from the city's password
    manager); check the device for changes made by others.""",
)
def default_creds(dev: Device) -> Hit | None:
    ev = []
    for obs in observations(dev, "defaultcreds"):
        if obs.data.get("accepted") is True:
            detail = (
                f"default password accepted for user {obs.data.get('user')} "
                f"over {obs.data.get('via')} after {obs.data.get('attempts')} attempt(s)"
            )
            ev.append(cite(obs, detail, obs.data.get("entry")))
    return Hit(ev) if ev else None
