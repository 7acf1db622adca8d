"""Privacy masks (issue 7): whether the camera blanks anything out, where ONVIF says.

Reads the ONVIF observation's ``privacy_masks`` (Media2 GetMasks; docs/observations.md).
A device without Media2, or whose GetMasks was refused or failed, gives no finding: the
audit only states what the device's own API says.
"""

from __future__ import annotations

from typing import Any

from auditor.model import Device, Severity
from auditor.rules.facts import CAMERA_LIKE, cite, observations
from auditor.rules.registry import Hit, rule


def _masks(data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The masks GetMasks listed, or None when it did not answer (or data is odd)."""
    pm = data.get("privacy_masks")
    if not isinstance(pm, dict) or pm.get("supported") is not True:
        return None
    masks = pm.get("masks")
    return [m for m in masks if isinstance(m, dict)] if isinstance(masks, list) else None


@rule(
    "CAM-PRIV-NO-MASKS",
    severity=Severity.INFO,
    title="No privacy mask configured",
    rationale="""The camera supports privacy masks (ONVIF Media2) and its GetMasks answer
    lists none that is enabled: everything in its field of view is recorded, including
    any windows, gardens or entrances of private homes it overlooks. Whether a mask is
    needed depends on what the camera sees; the data protection impact assessment should
    record that it was checked.""",
    remediation="""Check the camera's view against the site's data protection impact
    assessment; mask private areas (windows, doors, gardens) in the camera's settings and
    re-scan to confirm the masks are enabled.""",
    references=("ONVIF Media2 Service Specification: GetMasks",),
)
def no_masks(dev: Device) -> Hit | None:
    if dev.device_type not in CAMERA_LIKE:
        return None
    for obs in observations(dev, "onvif"):
        masks = _masks(obs.data)
        if masks is None:
            continue
        if any(m.get("enabled") is True for m in masks):
            return None  # at least one mask is in force
        if masks:
            detail = f"Media2 GetMasks: {len(masks)} mask(s) defined, none enabled"
            title = "Privacy masks defined but none enabled"
        else:
            detail, title = "Media2 GetMasks: no mask defined", None
        tokens = ", ".join(str(m.get("token")) for m in masks[:8]) or None
        return Hit([cite(obs, detail, tokens)], title=title)
    return None
