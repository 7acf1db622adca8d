"""Site-policy rules: deviations from what the city approved (``auditor/policy.py``).

These rules stay silent unless the audit runs with a site policy
(``camaudit scan --policy FILE`` or ``camaudit reclassify --policy FILE``).
"""

from __future__ import annotations

import fnmatch

from auditor.classify import evidence_for
from auditor.compliance import load_lists
from auditor.model import Device, Evidence, Severity
from auditor.oem import load_oem
from auditor.policy import current_policy
from auditor.rules.facts import CAMERA_LIKE
from auditor.rules.registry import Hit, rule
from auditor.versions import parse_version


def _names(dev: Device) -> set[str]:
    return {n.lower() for n in (dev.vendor, dev.oem) if n}


@rule(
    "CAM-POL-NOT-APPROVED",
    severity=Severity.MEDIUM,
    title="Not in approved inventory",
    rationale="""The device's label, real maker or model is not on the site policy's
    approved list. Unapproved devices escape procurement checks, maintenance contracts
    and the site's security baseline.""",
    remediation="""Confirm who installed the device and why; either add it to the approved
    inventory (after review) or replace it with an approved model.""",
)
def not_approved(dev: Device) -> Hit | None:
    pol = current_policy()
    if pol is None or dev.device_type not in CAMERA_LIKE:
        return None
    src = f"policy:{pol.source}"
    why: list[Evidence] = []
    if pol.approved_vendors and not _names(dev) & {v.lower() for v in pol.approved_vendors}:
        why.append(Evidence(src, "label/maker not in [inventory] vendors", dev.vendor))
    if pol.approved_makers and (dev.oem or "").lower() not in {
        m.lower() for m in pol.approved_makers
    }:
        why.append(Evidence(src, "real maker not in [inventory] makers", dev.oem or "unknown"))
    if pol.approved_models and not any(
        fnmatch.fnmatch((dev.model or "").upper(), p.upper()) for p in pol.approved_models
    ):
        why.append(Evidence(src, "model not in [inventory] models", dev.model or "unknown"))
    if not why:
        return None
    label = " ".join(x for x in (dev.vendor, dev.model) if x) or dev.ip
    return Hit(
        why + evidence_for(dev, f"oem={dev.oem}")[:3], title=f"Not in approved inventory: {label}"
    )


@rule(
    "CAM-POL-FIRMWARE-FLOOR",
    severity=Severity.MEDIUM,
    title="Firmware below the site's minimum",
    rationale="""The site policy sets a minimum firmware version for this vendor and model
    and the device runs an older one: it misses fixes the site decided it needs.""",
    remediation="""Update the firmware to at least the policy's minimum; if the vendor
    offers no update, record an accepted risk with an expiry or replace the device.""",
)
def firmware_floor(dev: Device) -> Hit | None:
    pol = current_policy()
    if pol is None or not dev.firmware:
        return None
    try:
        have = parse_version(dev.firmware)
    except ValueError:
        return None
    for floor in pol.firmware_floors:
        if floor.vendor.lower() not in _names(dev):
            continue
        if not fnmatch.fnmatch((dev.model or "").upper(), floor.model.upper()):
            continue
        if have < floor.minimum:
            ev = Evidence(
                f"policy:{pol.source}",
                f"firmware {dev.firmware} is below the minimum {floor.minimum} "
                f"for {floor.vendor} {floor.model}",
                dev.firmware,
            )
            return Hit([ev], title=f"Firmware below floor: {dev.firmware} < {floor.minimum}")
    return None


@rule(
    "CAM-POL-COMPLIANCE",
    severity=Severity.HIGH,
    title="Maker restricted by a compliance list the site enabled",
    rationale="""The device's real maker is covered by a procurement or security
    instrument the site policy enables (for example the UK government's 2022 guidance on
    surveillance equipment at sensitive sites). Rebrands are covered through their maker;
    the evidence shows how the maker was established.""",
    remediation="""Check whether the device's location falls under the instrument's scope
    (e.g. a sensitive site); plan removal or replacement as the instrument requires.""",
)
def compliance(dev: Device) -> Hit | None:
    pol = current_policy()
    if pol is None or not pol.compliance or not dev.oem:
        return None
    lists = load_lists()
    maker = load_oem().maker(dev.oem)
    country = maker.country if maker else None
    hits = [
        lists[c]
        for c in pol.compliance
        if lists[c].rule is None and lists[c].covers(dev.oem, country)
    ]
    if not hits:
        return None
    ev = [
        Evidence(f"compliance:{c.id}", f"{c.name}: {c.summary}", "; ".join(c.sources)) for c in hits
    ]
    chain = evidence_for(dev, f"oem={dev.oem}")
    via = f" (sold as {dev.vendor})" if dev.vendor and dev.vendor != dev.oem else ""
    return Hit(ev + chain, title=f"{dev.oem}{via} restricted by: {', '.join(c.id for c in hits)}")
