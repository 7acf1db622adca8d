"""Radio rules that rest on the air: active radios, own access points, self-reports the
air contradicts, and radios outside the site's approved list.

Radios seen on the air reach a device through :func:`auditor.radios.attach` (a
``Radio(source="air")`` plus the ``air`` observation with its link evidence); the
approved list is the site policy's ``[[approved_radio]]`` (``auditor.policy``). Without
air observations or a policy, these rules stay silent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.model import Device, Evidence, Observation, Radio, Severity
from auditor.policy import ApprovedRadio, current_policy
from auditor.radios import WIFI_IF_TYPE
from auditor.rules.facts import observations
from auditor.rules.registry import Hit, rule
from auditor.vendor_api import evidence as api_evidence
from auditor.vendor_api import own_network_interfaces


def _air(dev: Device) -> list[Observation]:
    return [o for o in observations(dev, "air") if isinstance(o.data.get("link"), dict)]


def _link_evidence(obs: Observation) -> list[Evidence]:
    link: dict[str, Any] = obs.data["link"]
    out = []
    for e in link.get("evidence") or []:
        if isinstance(e, dict):
            out.append(Evidence(str(e.get("source")), str(e.get("detail")), e.get("value")))
    conf = link.get("confidence")
    out.append(Evidence("radios", f"linked to this device with confidence {conf}", obs.mac))
    return out


def _air_evidence(obs: Observation) -> Evidence:
    d = obs.data
    if d.get("kind") == "ble":
        ids = ", ".join(f"0x{c:04X}" for c in d.get("ble_company_ids") or [])
        what = f"BLE advertising, {d.get('frames')} frames, company IDs {ids or 'none'}"
    else:
        what = (
            f"{d.get('role')}: {d.get('beacons', 0)} beacons, {d.get('probe_requests', 0)} "
            f"probe requests, {d.get('data_frames', 0)} data frames; channels "
            f"{d.get('channels')}; signal {d.get('signal_dbm_min')}..{d.get('signal_dbm_max')} dBm"
        )
        if d.get("ssids") or d.get("hidden_ssid"):
            what += (
                f"; announces {d.get('ssids')}{' + hidden SSID' if d.get('hidden_ssid') else ''}"
            )
        if d.get("bssids"):
            what += f"; associated with {d.get('bssids')}"
        if d.get("probed_ssids"):
            what += f"; looks for {d.get('probed_ssids')}"
    seen = f" (first {d.get('first_seen')}, last {d.get('last_seen')})"
    return Evidence(f"air:{d.get('source') or 'capture'}", what + seen, obs.mac)


@rule(
    "CAM-RADIO-AIR-ACTIVE",
    severity=Severity.HIGH,
    title="Camera's radio is active on the air",
    rationale="""A monitor-mode capture shows a radio that belongs to this device
    transmitting: beaconing, probing for networks or exchanging data with an access
    point. An active radio is a live path around the city's wired network and firewall,
    whatever the device's settings page says.""",
    remediation="""Disable the radio in the device configuration (or have the supplier
    remove the module), then capture again on the channels listed and confirm it is
    silent. If the radio is approved, add it to the site policy's approved radios.""",
)
def air_active(dev: Device) -> Hit | None:
    ev: list[Evidence] = []
    for obs in _air(dev):
        d = obs.data
        active = d.get("frames", 0) > 0 and (
            d.get("beacons") or d.get("data_frames") or d.get("probe_requests")
            or d.get("kind") == "ble"
        )  # fmt: skip
        if active:
            ev += [_air_evidence(obs), *_link_evidence(obs)]
    return Hit(ev) if ev else None


@rule(
    "CAM-RADIO-OWN-AP",
    severity=Severity.HIGH,
    title="Camera runs its own Wi-Fi access point",
    rationale="""The camera's radio beacons as an access point (often a setup mode left
    on), or its vendor API says it runs one (or an ad-hoc network). Anyone in radio
    range can try to join it and reach the camera, and through it the camera network,
    without touching the city's switches. An open (unencrypted) access point is graver
    still.""",
    remediation="""Turn off the camera's AP / setup mode (Wi-Fi settings or the vendor
    app), or remove the module; confirm with a new capture that the SSID is gone.""",
)
def own_ap(dev: Device) -> Hit | None:
    ev: list[Evidence] = []
    open_ap = False
    names: list[str] = []
    for obs in _air(dev):
        d = obs.data
        if d.get("role") != "ap":
            continue
        open_ap = open_ap or d.get("privacy") is False
        names += [str(s) for s in d.get("ssids") or []] or ["<hidden SSID>"]
        ev += [_air_evidence(obs), *_link_evidence(obs)]
    for obs, iface in own_network_interfaces(dev.observations):  # the vendor API says so
        names.append(str(iface.get("ap_ssid") or iface.get("ssid") or f"<{iface.get('mode')}>"))
        ev.append(api_evidence(obs, iface))
    if not ev:
        return None
    label = ", ".join(repr(n) for n in names)
    if open_ap:
        return Hit(
            ev,
            title=f"Camera runs an open Wi-Fi access point {label}",
            severity=Severity.CRITICAL,
            detail="The access point uses no encryption (capability privacy bit clear).",
        )
    return Hit(ev, title=f"Camera runs its own Wi-Fi access point {label}")


def _self_report(dev: Device) -> tuple[bool, list[Evidence]] | None:
    """Return (denies Wi-Fi, evidence) from ONVIF, or None when it said nothing usable."""
    for obs in observations(dev, "onvif"):
        calls = obs.data.get("calls") or {}
        if calls.get("GetNetworkInterfaces") != "ok":
            continue
        ifaces = [i for i in obs.data.get("interfaces") or [] if isinstance(i, dict)]
        wifi = [i for i in ifaces if i.get("if_type") == WIFI_IF_TYPE]
        dot11_cap = (obs.data.get("capabilities") or {}).get("dot11") is True
        listed = ", ".join(f"{i.get('name')} (ifType {i.get('if_type')})" for i in ifaces)
        ev = [
            Evidence(
                f"onvif:{obs.port}",
                f"GetNetworkInterfaces lists {listed or 'no interface'}",
                ", ".join(str(i.get("mac")) for i in ifaces) or None,
            ),
            Evidence(
                f"onvif:{obs.port}",
                f"GetCapabilities Dot11Configuration: {'yes' if dot11_cap else 'no'}",
            ),
        ]
        dot11 = obs.data.get("dot11")
        if isinstance(dot11, dict) and dot11.get("supported") is False:
            ev.append(Evidence(f"onvif:{obs.port}", "Dot11 calls: not supported"))
        return (not wifi and not dot11_cap), ev
    return None


@rule(
    "CAM-RADIO-SELF-REPORT-CONTRADICTED",
    severity=Severity.CRITICAL,
    title="Camera says it has no Wi-Fi, but its radio is on the air",
    rationale="""The device's own ONVIF self-report lists no IEEE 802.11 interface and no
    Dot11 capability, yet a radio linked to this device transmits. A device that hides
    a working radio from its management interface is the hidden-module case that
    triggered city-wide camera audits: treat the unit as untrustworthy.""",
    remediation="""Isolate the device (disconnect or move it to a quarantine VLAN), open
    it or have it inspected for a wireless module, report the discrepancy to the
    supplier in writing and to procurement; do not rely on any setting the device
    reports until the hardware is verified.""",
)
def self_report_contradicted(dev: Device) -> Hit | None:
    air = [o for o in _air(dev) if o.data.get("kind") != "ble"]
    if not air:
        return None
    report = _self_report(dev)
    if report is None or not report[0]:
        return None
    ev = list(report[1])
    for obs in air:
        ev += [_air_evidence(obs), *_link_evidence(obs)]
    return Hit(ev)


def _radio_ok(approved: Iterable[ApprovedRadio], dev: Device, radio: Radio) -> bool:
    for a in approved:
        if a.device is not None and not a.device.matches(dev):
            continue
        if a.mac is not None and (radio.mac or "").lower() != a.mac.lower():
            continue
        if a.kind in ("*", radio.kind):
            return True
    return False


@rule(
    "CAM-RADIO-NOT-APPROVED",
    severity=Severity.HIGH,
    title="Radio not in the site's approved list",
    rationale="""The audit ran with a site policy and this device has a radio (reported
    by the device or seen on the air) that no [[approved_radio]] entry of the policy
    covers. A policy without [[approved_radio]] entries approves no radio.""",
    remediation="""Remove or disable the radio, or, if it is needed, approve it in the
    site policy ([[approved_radio]] with kind, mac and/or device) with the reason
    recorded.""",
)
def not_approved(dev: Device) -> Hit | None:
    pol = current_policy()
    if pol is None or not dev.radios:
        return None
    ev = [
        Evidence(r.source, f"{r.kind} radio not approved: {r.detail}", r.mac)
        for r in dev.radios
        if not _radio_ok(pol.approved_radios, dev, r)
    ]
    if not ev:
        return None
    n = len(pol.approved_radios)
    ev.append(Evidence(f"policy:{pol.source}", f"{n} [[approved_radio]] entries; none covers it"))
    return Hit(ev)
