"""A wired inventory built from the lab's generated devices, the way the probes report it.

Each lab device gives an ``arp`` observation (its wired MAC) and, when it serves ONVIF,
an ``onvif`` observation whose interfaces and Dot11 answers follow what the lab's ONVIF
service sends (``camlab/services/onvif_xml.py``): Ethernet always, Wi-Fi (ifType 71) and
cellular (243) only when the radio is *reported*.
"""

from __future__ import annotations

from typing import Any

from camlab.spec import LabDevice

from auditor.model import Observation

T0 = 1_767_225_600.0


def _onvif(dev: LabDevice) -> Observation:
    ifaces: list[dict[str, Any]] = [
        {"token": "eth0", "name": "eth0", "mac": dev.mac, "if_type": 6, "enabled": True}
    ]
    wifi = [r for r in dev.radios if r["kind"] == "wifi" and r["reported"]]
    for r in dev.radios:
        if not r["reported"]:
            continue
        if r["kind"] == "wifi":
            ifaces.append(
                {"token": "wlan0", "name": "wlan0", "mac": r["mac"], "if_type": 71, "enabled": True}
            )
        else:
            ifaces.append(
                {"token": "wwan0", "name": "wwan0", "mac": "00:00:00:00:00:00", "if_type": 243,
                 "enabled": True}
            )  # fmt: skip
    calls = {op: "ok" for op in ("GetDeviceInformation", "GetCapabilities", "GetNetworkInterfaces")}
    dot11: dict[str, Any] = {"supported": False, "reason": "no Dot11 advertised"}
    if wifi:
        calls.update({op: "ok" for op in ("GetDot11Capabilities", "GetDot11Status")})
        dot11 = {"supported": True, "interface": "wlan0", "status": {"ssid": wifi[0]["ssid"]}}
    data = {
        "xaddr": f"http://{dev.ip}/onvif/device_service",
        "auth": "digest",
        "device_info": {
            "manufacturer": dev.vendor,
            "model": dev.model,
            "firmware": dev.firmware,
            "serial": dev.serial,
            "hardware_id": dev.hardware_id or None,
        },
        "capabilities": {"media": True, "dot11": bool(wifi)},
        "interfaces": ifaces,
        "calls": calls,
        "dot11": dot11,
    }
    return Observation("onvif", dev.ip, data, port=80, at=T0)


def inventory(devices: list[LabDevice]) -> list[Observation]:
    out = []
    for dev in devices:
        out.append(Observation("arp", dev.ip, {"method": "arp"}, mac=dev.mac, at=T0))
        if dev.onvif is not None:
            out.append(_onvif(dev))
    return out
