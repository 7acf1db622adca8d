"""Issue 7's "must show": every rule fires on the lab devices built to trigger it, stays
silent on the others, and per-rule counts match the lab's ground truth exactly.

The ground truth (``expected_rules`` / ``expected_rules_optin`` in ``lab status --json``)
is the lab's own derivation from how each device is configured (``camlab.expect``); the
scanner never reads it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.needs_root, pytest.mark.lab]


def _found(scan: dict[str, Any]) -> dict[str, set[str]]:
    return {d["ip"]: {f["rule"] for f in d["findings"]} for d in scan["devices"]}


def _mismatches(
    truth: list[dict[str, Any]], found: dict[str, set[str]], key: str = "expected_rules"
) -> list[str]:
    out = []
    for t in truth:
        want, got = set(t[key]), found.get(t["ip"], set())
        if want != got:
            out.append(
                f"{t['name']} ({t['profile']}, {t['ip']}): missing {sorted(want - got)}, "
                f"unexpected {sorted(got - want)}"
            )
    return out


def test_every_device_gets_exactly_its_expected_rules(
    lab: dict[str, Any], scan: dict[str, Any]
) -> None:
    wrong = _mismatches(lab["devices"], _found(scan))
    assert not wrong, "rule findings differ from the lab's ground truth:\n" + "\n".join(wrong)


def test_finding_counts_per_rule_match_ground_truth(
    lab: dict[str, Any], scan: dict[str, Any]
) -> None:
    want = Counter(r for t in lab["devices"] for r in t["expected_rules"])
    ips = {t["ip"] for t in lab["devices"]}
    got = Counter(
        f["rule"] for d in scan["devices"] if d["ip"] in ips for f in d["findings"]
    )  # one finding per rule and device: counts are devices
    diff = {r: (want[r], got[r]) for r in want.keys() | got.keys() if want[r] != got[r]}
    assert not diff, f"rule: (expected, found) {dict(sorted(diff.items()))}"


def test_lab_has_a_trigger_for_every_scan_rule(lab: dict[str, Any]) -> None:
    from camlab.expect import SCAN_RULES

    fired = {r for t in lab["devices"] for r in t["expected_rules"]}
    # (label mismatch: the counterfeit-hik-xm profile, a Xiongmai board sold as Hikvision)
    assert set(SCAN_RULES) <= fired, sorted(set(SCAN_RULES) - fired)


def test_default_credentials_only_with_the_opt_in(
    lab: dict[str, Any],
    scan: dict[str, Any],
    operator_credentials: Path,
    scan_runner: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    assert not any("CAM-EXP-DEFAULT-CREDS" in r for r in _found(scan).values())
    cams = [t for t in lab["devices"] if t["kind"] == "camera"]
    kept = [t for t in cams if t["default_password"]]
    changed = [t for t in cams if not t["default_password"]][:3]
    assert kept, "the lab must include cameras left on their vendor default password"
    hosts = [t["ip"] for t in kept + changed]
    result = scan_runner(hosts, tmp_path, operator_credentials, "--check-default-creds")
    found = _found(result)
    optin = {t["ip"]: "CAM-EXP-DEFAULT-CREDS" in found.get(t["ip"], set()) for t in kept + changed}
    want = {t["ip"]: bool(t["expected_rules_optin"]) for t in kept + changed}
    assert optin == want
