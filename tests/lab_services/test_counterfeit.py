"""Issue 7: the lab's counterfeit (a Xiongmai board sold as Hikvision) as a scan sees it.

CAM-ID-LABEL-MISMATCH fires on it, with the label's evidence and the board's; a genuine
white-label Xiongmai camera and a genuine Hikvision rebrand (ANNKE) stay silent.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from camlab.expect import expected_rules
from camlab.generate import generate
from camlab.profile import PROFILE_DIR
from camlab.spec import LabDevice

from .conftest import Start, pick
from .scanone import scan_one

RULE = "CAM-ID-LABEL-MISMATCH"


def test_every_lab_size_from_twenty_has_a_counterfeit(tmp_path: Path) -> None:
    for cameras, seed in ((40, 7), (250, 1), (20, 3)):
        devs = generate(cameras, seed)
        fakes = [d for d in devs if d.counterfeit]
        assert fakes, (cameras, seed)
        for d in fakes:
            assert (d.profile, d.vendor, d.oem) == ("counterfeit-hik-xm", "Hikvision", "Xiongmai")
            assert RULE in expected_rules(d)
        assert not [d.name for d in devs if not d.counterfeit and RULE in expected_rules(d)]
    # a counterfeit only takes the place of a genuine XM camera: every other device of
    # the e2e lab is exactly the one the seed drew without the counterfeit profile
    for f in PROFILE_DIR.glob("*.toml"):
        if f.stem != "counterfeit-hik-xm":
            shutil.copy(f, tmp_path / f.name)
    plain = {d.name: d for d in generate(40, 7, profile_dir=tmp_path)}
    for d in generate(40, 7):
        if d.counterfeit:
            assert plain[d.name].profile == "xiongmai-generic" and plain[d.name].ip == d.ip
        else:
            assert d.truth() == plain[d.name].truth(), d.name


async def test_scan_finds_the_counterfeit_and_names_label_and_board(
    devices: list[LabDevice], serve: Start
) -> None:
    dev, ip = await serve(pick(devices, "counterfeit-hik-xm"))
    found, _ = await scan_one(dev, ip)
    assert (found.vendor, found.oem) == ("Hikvision", "Xiongmai")
    rules = {f.rule for f in found.findings}
    assert rules == set(expected_rules(dev))
    (hit,) = [f for f in found.findings if f.rule == RULE]
    assert hit.title == "Presents as Hikvision (made by Hikvision) but the board is Xiongmai"
    claims = {e.claim for e in hit.evidence}
    assert any("vendor=Hikvision" in (c or "") for c in claims)
    assert any("oem=Xiongmai" in (c or "") for c in claims)
    sources = " ".join(f"{e.source} {e.value}" for e in hit.evidence)
    assert "uc-httpd" in sources and "34567" in sources  # the board's own signals


async def test_genuine_white_label_and_rebrand_stay_silent(
    devices: list[LabDevice], serve: Start
) -> None:
    for profile in ("xiongmai-generic", "annke-hik"):
        dev = copy.deepcopy(pick(devices, profile))
        dev, ip = await serve(dev)
        found, _ = await scan_one(dev, ip)
        assert RULE not in {f.rule for f in found.findings}, profile
        assert RULE not in expected_rules(dev)
