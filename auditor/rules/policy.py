"""Policy rules: procurement law and the integrity of evidence."""

from __future__ import annotations

from auditor.classify import evidence_for
from auditor.model import Device, Evidence, Severity
from auditor.oem import load_oem
from auditor.rules.facts import observations
from auditor.rules.registry import Hit, rule

CLOCK_SKEW_MAX_S = 300.0  # five minutes: beyond this, footage timestamps mislead


@rule(
    "CAM-POL-NDAA-889",
    severity=Severity.HIGH,
    title="Covered equipment (NDAA §889 / FCC Covered List)",
    rationale="""The device is made by a company named in section 889 of the US NDAA for
    FY2019 (Hikvision, Dahua, Huawei, ZTE, Hytera, and their affiliates). Under
    2 CFR 200.216 federal grant and loan money may not buy or renew it, and the FCC
    Covered List bars new equipment authorisations. Rebrands are covered through their
    maker; the evidence chain below shows how the maker was established.""",
    remediation="""Flag the unit for replacement planning; do not fund it, its maintenance
    or its successors with federal money; segment it away from other networks until
    replaced.""",
    references=(
        "NDAA FY2019 Pub. L. 115-232 §889",
        "2 CFR 200.216",
        "FCC Covered List (47 CFR 1.50002)",
    ),
)
def ndaa_889(dev: Device) -> Hit | None:
    db = load_oem()
    maker = dev.oem if db.covered(dev.oem) else None
    if maker is None and db.covered(dev.vendor):
        maker = dev.vendor
    if maker is None:
        return None
    chain = evidence_for(dev, f"oem={maker}") or evidence_for(dev, f"vendor={maker}")
    via = f" (sold as {dev.vendor})" if dev.vendor and dev.vendor != maker else ""
    ev = [Evidence("oem.toml", f"{maker} is named in: {'; '.join(db.covered(maker))}")]
    return Hit(
        evidence=ev + chain,
        title=f"Covered equipment: made by {maker}{via}",
        detail=f"Maker established as {maker} from {len(chain)} signal(s).",
    )


@rule(
    "CAM-CLOCK-SKEW",
    severity=Severity.MEDIUM,
    title="Device clock is wrong",
    rationale=f"""The device clock differs from the probe's by more than
    {int(CLOCK_SKEW_MAX_S // 60)} minutes. Timestamps burnt into footage and logs are
    then wrong, which undermines their value as evidence; skew also breaks WS-Security
    authentication.""",
    remediation="""Point the device at the city's NTP server and enable NTP sync; check the
    time zone setting.""",
)
def clock_skew(dev: Device) -> Hit | None:
    if dev.clock_offset_s is None or abs(dev.clock_offset_s) <= CLOCK_SKEW_MAX_S:
        return None
    src = next((f"onvif:{o.port}" for o in observations(dev, "onvif")), "onvif")
    off = dev.clock_offset_s
    ahead = "ahead of" if off > 0 else "behind"
    minutes = abs(off) / 60
    ev = Evidence(src, f"GetSystemDateAndTime: {minutes:.0f} min {ahead} the probe", f"{off:.0f}s")
    return Hit([ev], title=f"Device clock is {minutes:.0f} minutes {ahead} real time")
