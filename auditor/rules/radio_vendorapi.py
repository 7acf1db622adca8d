"""Radio rules that rest on the camera's own vendor API (opt-in: ``--credentials``).

The vendor API (Hikvision ISAPI, Dahua CGI; ``vendor_api`` observations) is the maker's
own view of the device's interfaces. Its radios reach ``Device.radios`` as
``Radio(source="vendor-api")`` (so CAM-RADIO-WIFI-IFACE / CAM-RADIO-CELLULAR cite it),
its access-point mode feeds CAM-RADIO-OWN-AP, and this module adds what only the
comparison of two self-reports shows: ONVIF leaving out a radio the vendor API lists.
"""

from __future__ import annotations

from auditor.model import Device, Evidence, Severity
from auditor.rules.facts import observations
from auditor.rules.registry import Hit, rule
from auditor.signals import IF_TYPE_RADIO
from auditor.vendor_api import evidence as api_evidence
from auditor.vendor_api import radio_interfaces


def _onvif_radio_kinds(dev: Device) -> tuple[set[str], list[Evidence]] | None:
    """Radio kinds ONVIF reported (interfaces, Dot11 capability) and the evidence, or None
    when no ONVIF GetNetworkInterfaces answered."""
    for obs in observations(dev, "onvif"):
        calls, caps, listed = (obs.data.get(k) for k in ("calls", "capabilities", "interfaces"))
        if not isinstance(calls, dict) or calls.get("GetNetworkInterfaces") != "ok":
            continue
        ifaces = [i for i in listed if isinstance(i, dict)] if isinstance(listed, list) else []
        types = [i.get("if_type") for i in ifaces]
        kinds = {IF_TYPE_RADIO[t] for t in types if isinstance(t, int) and t in IF_TYPE_RADIO}
        dot11 = isinstance(caps, dict) and caps.get("dot11") is True
        if dot11:
            kinds.add("wifi")
        listed = ", ".join(f"{i.get('name')} (ifType {i.get('if_type')})" for i in ifaces)
        ev = [
            Evidence(
                f"onvif:{obs.port}",
                f"GetNetworkInterfaces lists {listed or 'no interface'}; "
                f"GetCapabilities Dot11Configuration: {'yes' if dot11 else 'no'}",
                ", ".join(str(i.get("mac")) for i in ifaces) or None,
            )
        ]
        return kinds, ev
    return None


@rule(
    "CAM-RADIO-ONVIF-OMITS",
    severity=Severity.HIGH,
    title="Camera's ONVIF self-report leaves out a radio its vendor API lists",
    rationale="""The device's ONVIF GetNetworkInterfaces answered without any IEEE 802.11
    (ifType 71) or cellular (ifType 243/244) interface, while the maker's own
    configuration API (Hikvision ISAPI, Dahua configManager), asked with the operator's
    credentials, lists one. Tools and inventories that rely on ONVIF do not see this
    radio: the device's standard self-report cannot be trusted to declare its radios.""",
    remediation="""Treat the radio as present: disable it in the vendor's settings (or have
    the module removed), confirm with a monitor-mode capture (camaudit pcap) that it is
    silent, and ask the supplier in writing why ONVIF does not report it.""",
)
def onvif_omits(dev: Device) -> Hit | None:
    api = radio_interfaces(dev.observations)
    if not api:
        return None
    onvif = _onvif_radio_kinds(dev)
    if onvif is None:
        return None
    kinds, ev = onvif
    missing = [(o, i) for o, i in api if i.get("kind") not in kinds]
    if not missing:
        return None
    ev += [api_evidence(o, i) for o, i in missing]
    what = " and ".join(
        sorted({"Wi-Fi" if i.get("kind") == "wifi" else "cellular" for _, i in missing})
    )
    return Hit(
        ev, title=f"Camera's ONVIF self-report leaves out the {what} radio its vendor API lists"
    )
