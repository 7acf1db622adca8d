"""Radio rules: wireless interfaces nobody approved (the Lahore Safe City case)."""

from __future__ import annotations

from auditor.model import Device, Evidence, Radio, Severity
from auditor.rules.registry import Hit, rule


def _cite(r: Radio) -> Evidence:
    return Evidence(r.source, r.detail or f"{r.kind} radio reported", r.mac)


@rule(
    "CAM-RADIO-WIFI-IFACE",
    severity=Severity.HIGH,
    title="Camera has a Wi-Fi interface",
    rationale="""The device reports an IEEE 802.11 interface or Dot11 capability. A Wi-Fi
    module gives a path around the city's wired network and firewall: the case of city
    cameras found carrying undisclosed Wi-Fi modules.""",
    remediation="""Confirm whether the radio is approved; disable it in the device settings,
    and verify over the air (camaudit pcap on a monitor-mode capture) that it stays
    silent. Require radio-free models in procurement.""",
)
def wifi_iface(dev: Device) -> Hit | None:
    ev = [_cite(r) for r in dev.radios if r.kind == "wifi"]
    return Hit(ev) if ev else None


@rule(
    "CAM-RADIO-CELLULAR",
    severity=Severity.HIGH,
    title="Camera has a cellular (3GPP) interface",
    rationale="""The device reports a cellular interface (IANA ifType 243/244). A modem
    gives the device its own link to the internet, outside every control of the
    city's network.""",
    remediation="""Remove the SIM or the modem, or disable the interface and confirm with
    the supplier in writing; require cellular-free models unless approved.""",
)
def cellular(dev: Device) -> Hit | None:
    ev = [_cite(r) for r in dev.radios if r.kind == "cellular"]
    return Hit(ev) if ev else None
