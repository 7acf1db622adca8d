"""Device-health rules: what the probes saw go wrong."""

from __future__ import annotations

import re

from auditor.model import Device, Severity
from auditor.rules.facts import cite
from auditor.rules.registry import Hit, rule

#: Probe errors that mean the device misbehaved (as opposed to refusing politely).
MISBEHAVIOUR = re.compile(
    r"timeout|timed out|reset|larger than|too large|oversized|malformed|truncated|"
    r"entit|dtd|not well-formed|syntax error|garbage|endless|too many|closed the connection|"
    r"redirect loop",
    re.IGNORECASE,
)


@rule(
    "CAM-DEV-MISBEHAVING",
    severity=Severity.LOW,
    title="Device misbehaved during the audit",
    rationale="""A probe timed out, was reset, or got an oversized or malformed reply. Such
    devices are often overloaded, half-broken or running unusual firmware, and the audit
    of them is incomplete.""",
    remediation="""Check the device's health (reboot, firmware); re-run the audit and compare;
    look at the device's own logs for the time of the scan.""",
)
def misbehaving(dev: Device) -> Hit | None:
    # Refusals are answers, not misbehaviour: "not authorized", a SOAP fault from a device
    # that does not speak ONVIF on that port, "not supported".
    ev = [
        cite(o, f"{o.probe} probe: {o.error}")
        for o in dev.observations
        if o.error and MISBEHAVIOUR.search(o.error)
    ]
    return Hit(ev) if ev else None
