"""Vulnerability rules: firmware inside a published advisory's affected range.

Matching is on maker (through OEM resolution), label, model and firmware version only
(``auditor/advisories.py``); camaudit never sends an exploit. A device whose firmware
version is unknown matches nothing.
"""

from __future__ import annotations

from auditor.advisories import Advisory, matching
from auditor.model import Device, Evidence, Severity
from auditor.rules.registry import Hit, rule


def _evidence(dev: Device, advs: list[Advisory]) -> list[Evidence]:
    who = f"{dev.vendor or dev.oem} {dev.model or '(model unknown)'} firmware {dev.firmware}"
    out = [Evidence("advisories.toml", f"{who} matched {len(advs)} advisory(ies)", dev.firmware)]
    for a in advs:
        kev = f"; CISA KEV since {a.kev_added}" if a.kev and a.kev_added else ""
        kev = kev or ("; in CISA KEV" if a.kev else "")
        out.append(
            Evidence(
                f"advisory:{a.id}",
                # no scheme: reports stay free of links (they open offline, as evidence)
                f"{a.summary} Fixed: {a.fixed}{kev}. Source: {a.source.split('://', 1)[-1]}",
                a.id,
            )
        )
    return out


def _ids(advs: list[Advisory]) -> str:
    return ", ".join(a.id for a in advs)


@rule(
    "CAM-VULN-KEV",
    severity=Severity.CRITICAL,
    title="Firmware has a known exploited vulnerability (CISA KEV)",
    rationale="""The device's firmware version lies in the affected range of a vulnerability
    that CISA lists as exploited in the wild. Botnets and intruders scan for exactly these
    devices; matching is by maker, model and version only, no exploit is sent.""",
    remediation="""Update to the fixed firmware now; until then isolate the device from
    every network but the recorder's, and check it for signs of compromise.""",
    references=("CISA Known Exploited Vulnerabilities catalog",),
)
def vuln_kev(dev: Device) -> Hit | None:
    advs = [a for a in matching(dev) if a.kev]
    if not advs:
        return None
    return Hit(_evidence(dev, advs), title=f"Known exploited vulnerability: {_ids(advs)}")


@rule(
    "CAM-VULN-CVE",
    severity=Severity.HIGH,
    title="Firmware has a published vulnerability",
    rationale="""The device's firmware version lies in the affected range of a published
    vulnerability (CVE) that is not (yet) on CISA's exploited list. Matching is by maker,
    model and version only, no exploit is sent.""",
    remediation="""Plan the firmware update to the fixed version; where no fix exists,
    isolate the device and plan its replacement.""",
)
def vuln_cve(dev: Device) -> Hit | None:
    advs = [a for a in matching(dev) if not a.kev]
    if not advs:
        return None
    worst = max(a.severity for a in advs)
    return Hit(
        _evidence(dev, advs),
        title=f"Published vulnerability: {_ids(advs)}",
        severity=worst if worst >= Severity.MEDIUM else Severity.MEDIUM,
    )
