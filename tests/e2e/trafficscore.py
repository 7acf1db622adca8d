"""Score a ``camaudit watch``/``pcap`` JSON result against the lab's ground truth.

Shared by ``tests/e2e/test_traffic_lab.py`` and ``tests/bench/test_bench_live.py``
(import it after putting this directory on ``sys.path``). The truth is ``lab status
--json``: per device ``expected_traffic`` (one item per phone-home entry, with the
rules it should fire) and ``expected_traffic_rules``, derived by the lab itself
(``camlab.expect_traffic``), never by camaudit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TRAFFIC_PREFIX = "CAM-NET-"


@dataclass
class TrafficScore:
    """How a traffic result compares with the lab's ground truth."""

    behaviours: int = 0  # phone-home entries that should fire at least one rule
    detected: int = 0  # ... whose every rule was found on the right device
    missed: list[str] = field(default_factory=list)  # "cam012 198.18.0.21: UDP ...: CAM-NET-P2P"
    unexpected: list[str] = field(default_factory=list)  # findings no entry explains
    wrong_mac: list[str] = field(default_factory=list)  # device found under another MAC
    strangers: list[str] = field(default_factory=list)  # findings on IPs the lab lacks
    allowed_flagged: list[str] = field(default_factory=list)  # site DNS/NTP cited

    @property
    def perfect(self) -> bool:
        return self.detected == self.behaviours and not (
            self.missed or self.unexpected or self.wrong_mac or self.strangers
        ) and not self.allowed_flagged  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["recall"] = round(self.detected / self.behaviours, 4) if self.behaviours else 1.0
        d["perfect"] = self.perfect
        return d

    def explain(self) -> str:
        parts = [f"{self.detected}/{self.behaviours} phone-home behaviours detected"]
        for label in ("missed", "unexpected", "wrong_mac", "strangers", "allowed_flagged"):
            items = getattr(self, label)
            if items:
                parts.append(f"{label} ({len(items)}):\n  " + "\n  ".join(items[:40]))
        return "\n".join(parts)


def score(truth: dict[str, Any], result: dict[str, Any]) -> TrafficScore:
    """Compare ``result`` (camaudit's JSON) with ``truth`` (``lab status --json``)."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    macs: dict[str, str | None] = {}
    for dev in result.get("devices", []):
        rules = {f["rule"]: f for f in dev["findings"] if f["rule"].startswith(TRAFFIC_PREFIX)}
        found[dev["ip"]] = rules
        macs[dev["ip"]] = dev.get("mac")
    allowed = {f"{truth['site_dns']}:53", f"{truth['site_ntp']}:123"}
    s = TrafficScore()
    known = set()
    for t in truth["devices"]:
        ip = t["ip"]
        known.add(ip)
        got = found.get(ip, {})
        label = f"{t['name']} {ip} ({t['profile']})"
        for item in t["expected_traffic"]:
            if not item["rules"]:
                continue
            s.behaviours += 1
            lacking = [r for r in item["rules"] if r not in got]
            if lacking:
                s.missed.append(f"{label}: {item['what']}: {', '.join(lacking)}")
            else:
                s.detected += 1
        for rule in sorted(set(got) - set(t["expected_traffic_rules"])):
            first = got[rule]["evidence"][0]["detail"] if got[rule]["evidence"] else ""
            s.unexpected.append(f"{label}: {rule}: {first}")
        if t["expected_traffic_rules"] and (macs.get(ip) or "").lower() != t["mac"].lower():
            s.wrong_mac.append(f"{label}: found MAC {macs.get(ip)}, truth {t['mac']}")
    for ip, rules in sorted(found.items()):
        if ip not in known and rules:
            s.strangers.append(f"{ip}: {', '.join(sorted(rules))}")
        for rule, f in rules.items():
            for ev in f["evidence"]:
                value = str(ev.get("value") or "")
                if any(value.endswith("/" + a) for a in allowed):
                    s.allowed_flagged.append(f"{ip}: {rule} cites {value}")
    return s


def capture_summary(result: dict[str, Any]) -> dict[str, Any]:
    """Return the live capture's counters from a ``camaudit watch`` JSON result."""
    caps = (result.get("scan", {}).get("stats") or result.get("stats") or {}).get("capture", [])
    if not caps:
        return {}
    cap = caps[0]
    live = cap.get("capture") or {}
    return {
        "packets": live.get("packets", cap.get("packets")),
        "kernel_packets": live.get("kernel_packets"),
        "kernel_drops": (cap.get("drops") or {}).get("kernel_drops"),
        "other_interface": live.get("other_interface"),
        "duration_s": live.get("duration_s"),
        "flows": cap.get("flows"),
    }
