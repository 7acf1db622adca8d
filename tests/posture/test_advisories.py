"""Advisory matching: maker through OEM, label scope, model patterns, version ranges."""

from __future__ import annotations

from pathlib import Path

import pytest
from postureobs import devices_from, onvif_obs, rule_ids

from auditor.advisories import load_advisories, matching, parse_advisories
from auditor.errors import ConfigError
from auditor.model import Device, Severity


def _ids(dev: Device) -> set[str]:
    return {a.id for a in matching(dev)}


def test_shipped_file_loads_and_has_the_known_kev_entries() -> None:
    advs = {a.id: a for a in load_advisories()}
    assert advs["CVE-2021-36260"].kev and advs["CVE-2021-33044"].kev
    assert advs["CVE-2021-33045"].kev and advs["CVE-2020-5735"].kev
    assert not advs["CVE-2018-17915"].kev
    assert all(a.source.startswith("https://") for a in advs.values())


def test_old_hikvision_build_matches_kev_command_injection() -> None:
    dev = Device("h", vendor="Hikvision", oem="Hikvision", model="DS-2CD2043G2-I",
                 firmware="V5.4.5 build 170124")  # fmt: skip
    assert _ids(dev) == {"CVE-2021-36260"}
    fixed = Device("h", vendor="Hikvision", oem="Hikvision", model="DS-2CD2043G2-I",
                   firmware="V5.5.800 build 210628")  # fmt: skip
    assert _ids(fixed) == set()


def test_cve_2017_7921_needs_its_model_line_and_range() -> None:
    base = {"vendor": "Hikvision", "oem": "Hikvision"}
    hit = Device("h", model="DS-2CD2032F-I", firmware="V5.3.0 build 150513", **base)
    assert "CVE-2017-7921" in _ids(hit)
    assert "CVE-2017-7921" not in _ids(Device("h", model="DS-2CD2043G2-I",
                                              firmware="V5.3.0 build 150513", **base))  # fmt: skip
    assert "CVE-2017-7921" not in _ids(Device("h", model="DS-2CD2032F-I",
                                              firmware="V5.4.5 build 170124", **base))  # fmt: skip


def test_rebrand_gets_maker_advisory_only_when_the_advisory_says_so() -> None:
    # CVE-2021-33044 names Dahua products: an Amcrest (Dahua-built) is not in its scope...
    amcrest = Device("a", vendor="Amcrest", oem="Dahua", model="IPC-HFW5442E",
                     firmware="2.622.0000000.31.R, Build Date 2019-01-11")  # fmt: skip
    dahua = Device("d", vendor="Dahua", oem="Dahua", model="IPC-HFW5442E",
                   firmware="2.622.0000000.31.R, Build Date 2019-01-11")  # fmt: skip
    assert {"CVE-2021-33044", "CVE-2021-33045"} <= _ids(dahua)
    assert not {"CVE-2021-33044", "CVE-2021-33045"} & _ids(amcrest)
    # ...while Amcrest's own advisory (CVE-2020-5735) covers Amcrest only, not Dahua.
    amcrest_old = Device("a", vendor="Amcrest", oem="Dahua", model="IP2M-841B",
                         firmware="V2.460.AC00.18.R, Build Date 2018-04-25")  # fmt: skip
    assert _ids(amcrest_old) == {"CVE-2020-5735"}
    dahua_old = Device("d", vendor="Dahua", oem="Dahua", model="IP2M-841B",
                       firmware="V2.460.AC00.18.R, Build Date 2018-04-25")  # fmt: skip
    assert "CVE-2020-5735" not in _ids(dahua_old)
    # Hikvision's CVE-2021-36260 covers Hikvision-built rebrands ("*" labels).
    annke = Device(
        "n", vendor="Annke", oem="Hikvision", model="C800", firmware="V5.6.5 build 200316"
    )
    assert _ids(annke) == {"CVE-2021-36260"}


def test_unknown_firmware_matches_nothing() -> None:
    assert _ids(Device("x", vendor="Xiongmai", oem="Xiongmai", model="IPG")) == set()
    assert _ids(Device("x", vendor="Hikvision", oem="Hikvision", firmware="unknown")) == set()


def test_rules_split_kev_and_other_cves(hik_old: object) -> None:
    (hik,) = devices_from(hik_old)  # type: ignore[arg-type]
    assert "CAM-VULN-KEV" in rule_ids(hik) and "CAM-VULN-CVE" not in rule_ids(hik)
    kev = next(f for f in hik.findings if f.rule == "CAM-VULN-KEV")
    assert kev.severity == Severity.CRITICAL and "CVE-2021-36260" in kev.title
    assert any(e.value == "CVE-2021-36260" for e in kev.evidence)
    (xm,) = devices_from(onvif_obs("198.18.0.30", "Xiongmai", "IPG-53H20PL-S",
                                   "V5.00.R02.000529G9.10010.346400.0000000"))  # fmt: skip
    assert "CAM-VULN-CVE" in rule_ids(xm) and "CAM-VULN-KEV" not in rule_ids(xm)
    (axis,) = devices_from(onvif_obs("198.18.0.31", "AXIS", "AXIS P3245-V", "10.12.199"))
    assert not {"CAM-VULN-CVE", "CAM-VULN-KEV"} & rule_ids(axis)


GOOD = """
[[advisory]]
id = "CVE-0000-0001"
maker = "Dahua"
affected = [{ fixed = "2.800" }]
fixed = "2.800"
severity = "high"
kev = false
source = "https://example.invalid/a"
summary = "test"
"""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (GOOD.replace('severity = "high"', 'severity = "dire"'), "advisory #1 (CVE-0000-0001)"),
        (GOOD.replace("kev = false", ""), "'kev' is required"),
        (GOOD.replace('{ fixed = "2.800" }', '{ fixd = "2.800" }'), "unknown key(s) in affected"),
        (GOOD.replace('{ fixed = "2.800" }', '{ build_before = "June" }'), "build_before"),
        (GOOD + GOOD, "advisory #2 (CVE-0000-0001): id CVE-0000-0001 appears twice"),
        (GOOD.replace('id = "CVE', 'id = "CVE') + "\n[[advisory\n", "invalid TOML"),
        (GOOD.replace("[[advisory]]", "[[advisories]]"), "unknown top-level key"),
    ],
)
def test_broken_advisory_file_names_file_and_entry(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_advisories(text, source="my-advisories.toml")
    assert str(err.value).startswith("my-advisories.toml")
    assert needle in str(err.value)


def test_broken_file_on_disk_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "advisories.toml"
    path.write_text(GOOD + GOOD.replace("CVE-0000-0001", "CVE-0000-0002").replace('"high"', '"x"'))
    with pytest.raises(ConfigError, match=r"advisories.toml: advisory #2 \(CVE-0000-0002\)"):
        load_advisories(path)
