"""Identity rules: who really made the device, and whether its label tells the truth."""

from __future__ import annotations

from auditor.classify import evidence_for
from auditor.model import Device, Evidence, Severity
from auditor.oem import load_oem
from auditor.rules.registry import Hit, rule


def _board_evidence(dev: Device) -> list[Evidence]:
    return evidence_for(dev, f"oem={dev.oem}")


@rule(
    "CAM-ID-OEM-REBRAND",
    severity=Severity.INFO,
    title="Rebranded device: the label is not the maker",
    rationale="""The device is sold under one brand but built by another company. Support,
    firmware updates, vulnerability advisories and procurement restrictions follow the
    real maker, not the label.""",
    remediation="""Record the real maker in the asset register; subscribe to the maker's
    security advisories; check procurement rules against the maker, not the label.""",
)
def oem_rebrand(dev: Device) -> Hit | None:
    if not dev.vendor or not dev.oem or dev.vendor.lower() == dev.oem.lower():
        return None
    label = evidence_for(dev, f"vendor={dev.vendor}")
    return Hit(
        evidence=label[:3] + _board_evidence(dev),
        title=f"{dev.vendor} device built by {dev.oem}",
    )


@rule(
    "CAM-ID-LABEL-MISMATCH",
    severity=Severity.MEDIUM,
    title="Label and board disagree",
    rationale="""The brand the device presents is a maker (or a known rebrand of a maker)
    other than the one its board signals prove, and no known OEM relationship explains
    it. A device that lies about its maker may be counterfeit, re-flashed, or hiding its
    origin from procurement checks.""",
    remediation="""Verify the unit physically (label, board markings) and with the
    supplier; treat it as the board maker's product until proven otherwise.""",
)
def label_mismatch(dev: Device) -> Hit | None:
    if not dev.vendor or not dev.oem or dev.vendor.lower() == dev.oem.lower():
        return None
    board = _board_evidence(dev)
    if not board:
        return None  # the maker came from the label itself: nothing disagrees
    resolution = load_oem().resolve(dev.vendor)
    if resolution is None:
        return None  # an unknown label on someone's board is a white label, not a lie
    claimed = resolution.oem or resolution.possible_oem
    if claimed is None or claimed.lower() == dev.oem.lower():
        return None
    label = evidence_for(dev, f"vendor={dev.vendor}")
    return Hit(
        evidence=label[:3] + board,
        title=f"Presents as {dev.vendor} (made by {claimed}) but the board is {dev.oem}",
    )
