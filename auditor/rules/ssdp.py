"""UPnP exposure (issue 7): the device answers SSDP, so UPnP is switched on.

Reads the ``ssdp`` observation (probes/ssdp.py; docs/observations.md): a reply to a
unicast M-SEARCH, and the root description when it lives on the same host.
"""

from __future__ import annotations

from typing import Any

from auditor.model import Device, Severity
from auditor.rules.facts import CAMERA_LIKE, cite, observations
from auditor.rules.registry import Hit, rule


@rule(
    "CAM-EXP-UPNP",
    severity=Severity.LOW,
    title="UPnP enabled (answers SSDP)",
    rationale="""The device answered an SSDP M-SEARCH: its UPnP stack is on. UPnP tells
    anyone on the network what the device is (maker, model, serial number) without a
    password, and the same setting usually lets the camera ask the router to open ports
    to it from the internet (UPnP IGD AddPortMapping), which is how many cameras end up
    reachable from outside without anyone deciding so. UPnP stacks on cameras have also
    carried remotely exploitable bugs.""",
    remediation="""Switch UPnP off in the camera's network settings (and on the router, so
    no device can map ports by itself); block UDP 1900 between the camera VLAN and other
    networks.""",
    references=("UPnP Device Architecture 1.1, section 1.3 (discovery)",),
)
def upnp(dev: Device) -> Hit | None:
    if dev.device_type not in (*CAMERA_LIKE, "unknown"):
        return None  # computers and printers announce themselves by design
    evidence = []
    for obs in observations(dev, "ssdp"):
        if obs.error:
            continue
        d: dict[str, Any] = obs.data
        targets = ", ".join(str(t) for t in (d.get("search_targets") or [])[:4])
        evidence.append(
            cite(obs, f"SSDP M-SEARCH answered ({targets or 'no ST'})", d.get("server"))
        )
        if d.get("location"):
            evidence.append(cite(obs, "UPnP description location", d["location"]))
        desc = d.get("description") if isinstance(d.get("description"), dict) else None
        if desc:
            shown = {k: desc.get(k) for k in ("manufacturer", "model_name", "serial")}
            text = ", ".join(f"{k}={v}" for k, v in shown.items() if v)
            if text:
                evidence.append(cite(obs, "UPnP description discloses without a password", text))
    return Hit(evidence) if evidence else None
