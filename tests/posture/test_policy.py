"""Site policy: validation errors name file and line; findings for deviations; accepted risks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from postureobs import devices_from, onvif_obs, rule_ids

from auditor.errors import ConfigError
from auditor.model import Observation, Severity
from auditor.policy import apply_policy, current_policy, load_policy, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "site-policy.toml"
TODAY = dt.date(2026, 11, 24)


def test_documented_example_loads() -> None:
    pol = load_policy(EXAMPLE)
    assert pol.approved_vendors == ("Axis", "Hanwha")
    assert pol.cameras_isolated and pol.allowed_resolvers == ("198.18.3.254",)
    assert pol.severity_overrides["CAM-EXP-HTTP-CLEARTEXT"] == Severity.LOW
    assert pol.accepted_risks[0].expires == dt.date(2027, 6, 30)
    assert pol.traffic_policy().isolated is True  # what the traffic rules read


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (
            '[site]\nname = "x"\n\n[severity]\n"CAM-NOPE" = "high"\n',
            5,
            "unknown rule id 'CAM-NOPE'",
        ),
        ('[site]\nname = "x"\ncolour = "red"\n', 3, "unknown key 'colour'"),
        ("[sight]\nname = 1\n", 1, "unknown section or key 'sight'"),
        ('[severity]\n"CAM-EXP-FTP" = "dire"\n', 2, "unknown severity"),
        ('[site]\nname = "x"\nname = "y"\n', 3, "invalid TOML"),
        (
            '[[accepted_risk]]\nrule = "CAM-EXP-FTP"\ndevice = { ip = "198.18.0.9" }\n'
            'justification = "because we must"\nexpires = "soon"\n',
            5,
            "expires must be a date",
        ),
        (
            '[[accepted_risk]]\nrule = "CAM-EXP-FTP"\ndevice = { ip = "198.18.0.9" }\n'
            'justification = "vendor fix due"\nexpires = 2027-01-01\n\n'
            '[[accepted_risk]]\nrule = "CAM-EXP-XYZ"\n',
            8,
            "unknown rule id 'CAM-EXP-XYZ'",
        ),
        ('[[firmware_floor]]\nvendor = "Axis"\nminimum = "latest"\n', 3, "no digits"),
        ('[network]\nallowed_resolvers = ["8.8.8.888"]\n', 2, "allowed_resolvers"),
        ('[site]\ncompliance = ["mars-2090"]\n', 2, "unknown compliance list 'mars-2090'"),
        ('[[approved_radio]]\nkind = "wifi"\nmac = "zz"\n', 3, "not aa:bb:cc:dd:ee:ff"),
    ],
)
def test_bad_policy_names_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    assert str(err.value).startswith(f"{path}:{line}: "), str(err.value)
    assert needle in str(err.value)


def test_no_partial_load_and_no_policy_left_active(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('[inventory]\nvendors = ["Axis"]\n[severity]\n"CAM-NOPE" = "low"\n')
    with pytest.raises(ConfigError):
        load_policy(path)
    assert current_policy() is None


HIK = onvif_obs(
    "198.18.0.20", "HIKVISION", "DS-2CD2043G2-I", "V5.5.800 build 210628", hardware_id="88"
)
AXIS_OLD = onvif_obs("198.18.0.21", "AXIS", "AXIS M3106-L Mk II", "9.80.3.8", serial="ACCC8E000001")
AXIS_NEW = onvif_obs("198.18.0.22", "AXIS", "AXIS P3245-V", "11.2.68", serial="ACCC8E000002")


def _with(pol_text: str, *obs: Observation, today: dt.date = TODAY) -> dict[str, set[str]]:
    devs = devices_from(*obs)
    apply_policy(devs, parse_policy(pol_text, "site.toml"), today)
    return {d.ip: rule_ids(d) for d in devs}


def test_inventory_and_firmware_floor_findings() -> None:
    pol = (
        '[inventory]\nvendors = ["Axis"]\n'
        '[[firmware_floor]]\nvendor = "Axis"\nmodel = "*"\nminimum = "10.12.0"\n'
    )
    got = _with(pol, HIK, AXIS_OLD, AXIS_NEW)
    assert "CAM-POL-NOT-APPROVED" in got["198.18.0.20"]
    assert "CAM-POL-NOT-APPROVED" not in got["198.18.0.21"] | got["198.18.0.22"]
    assert "CAM-POL-FIRMWARE-FLOOR" in got["198.18.0.21"]
    assert "CAM-POL-FIRMWARE-FLOOR" not in got["198.18.0.22"] | got["198.18.0.20"]
    # without a policy the policy rules stay silent
    plain = {d.ip: rule_ids(d) for d in devices_from(HIK, AXIS_OLD)}
    assert not any(r.startswith(("CAM-POL-NOT", "CAM-POL-FIRM")) for s in plain.values() for r in s)


def test_uk_list_covers_a_rebrand_through_its_maker() -> None:
    annke = onvif_obs("198.18.0.23", "Annke", "C800", "V5.7.1 build 211020", hardware_id="88")
    got = _with('[site]\ncompliance = ["uk-sensitive-sites"]\n', annke, AXIS_NEW)
    assert "CAM-POL-COMPLIANCE" in got["198.18.0.23"]
    assert "CAM-POL-COMPLIANCE" not in got["198.18.0.22"]


def test_severity_override() -> None:
    devs = devices_from(HIK)
    apply_policy(devs, parse_policy('[severity]\n"CAM-POL-NDAA-889" = "low"\n'), TODAY)
    ndaa = next(f for f in devs[0].findings if f.rule == "CAM-POL-NDAA-889")
    assert ndaa.severity == Severity.LOW


RISK = """
[[accepted_risk]]
rule = "CAM-POL-NDAA-889"
device = {{ serial = "SERIAL0001" }}
justification = "Replacement budgeted for 2027, council decision 2025/114"
expires = {expires}
"""


def test_accepted_risk_applies_until_it_expires() -> None:
    devs = devices_from(HIK)
    apply_policy(devs, parse_policy(RISK.format(expires="2027-06-30"), "site.toml"), TODAY)
    ndaa = next(f for f in devs[0].findings if f.rule == "CAM-POL-NDAA-889")
    assert ndaa.severity == Severity.INFO and ndaa.title.startswith("Accepted risk:")
    assert any("council decision" in (e.value or "") for e in ndaa.evidence)

    devs = devices_from(HIK)
    apply_policy(devs, parse_policy(RISK.format(expires="2026-01-31"), "site.toml"), TODAY)
    ndaa = next(f for f in devs[0].findings if f.rule == "CAM-POL-NDAA-889")
    assert ndaa.severity == Severity.HIGH and not ndaa.title.startswith("Accepted")
    assert any("expired on 2026-01-31" in n for n in devs[0].notes)


def test_accepted_risk_selector_must_match() -> None:
    devs = devices_from(HIK)
    text = RISK.format(expires="2027-06-30").replace("SERIAL0001", "OTHER")
    apply_policy(devs, parse_policy(text), TODAY)
    ndaa = next(f for f in devs[0].findings if f.rule == "CAM-POL-NDAA-889")
    assert ndaa.severity == Severity.HIGH
