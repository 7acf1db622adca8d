"""The rules registry: each rule is a small function registered with :func:`rule`.

A rule looks at one classified :class:`Device` and returns a :class:`Hit` (the evidence
it cites, optionally a sharper title or severity) or None. ``evaluate`` turns hits into
:class:`Finding` objects on the device. Rules never do I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.model import Device, Evidence, Finding, Severity

Check = Callable[[Device], "Hit | None"]


@dataclass
class Hit:
    """What a rule found on one device: the evidence it cites, and optional overrides."""

    evidence: list[Evidence]
    title: str | None = None  # a sharper title, e.g. naming the vendor
    severity: Severity | None = None  # when the same rule is graver or milder case by case
    detail: str = ""  # appended to the rationale, e.g. which instrument applies


@dataclass(frozen=True)
class Rule:
    """A registered rule: stable id, default severity, words for people, and its check."""

    id: str
    severity: Severity
    title: str
    rationale: str
    remediation: str
    check: Check
    category: str = ""
    references: tuple[str, ...] = field(default_factory=tuple)


RULES: dict[str, Rule] = {}


def rule(
    id: str,
    *,
    severity: Severity,
    title: str,
    rationale: str,
    remediation: str,
    references: Iterable[str] = (),
) -> Callable[[Check], Check]:
    """Register the decorated check under ``id``; raise ValueError on a duplicate id."""

    def register(check: Check) -> Check:
        if id in RULES:
            raise ValueError(f"rule {id} registered twice")
        category = id.split("-")[1] if id.count("-") >= 2 else ""
        RULES[id] = Rule(
            id=id,
            severity=severity,
            title=title,
            rationale=" ".join(rationale.split()),
            remediation=" ".join(remediation.split()),
            check=check,
            category=category,
            references=tuple(references),
        )
        return check

    return register


def evaluate(devices: Iterable[Device], rules: Iterable[Rule] | None = None) -> None:
    """Attach a Finding to each device for every rule that hits; return None.

    Re-running is idempotent: findings from registered rules are replaced, so
    ``camaudit reclassify`` can run after a rule update. Findings are sorted by
    severity (gravest first), then rule id.
    """
    active = list(rules) if rules is not None else list(RULES.values())
    ids = {r.id for r in RULES.values()} | {r.id for r in active}
    for dev in devices:
        dev.findings = [f for f in dev.findings if f.rule not in ids]
        for r in active:
            hit = r.check(dev)
            if hit is None:
                continue
            rationale = r.rationale + (f" {hit.detail}" if hit.detail else "")
            dev.findings.append(
                Finding(
                    rule=r.id,
                    severity=hit.severity if hit.severity is not None else r.severity,
                    title=hit.title or r.title,
                    evidence=list(hit.evidence),
                    rationale=rationale,
                    remediation=r.remediation,
                )
            )
        dev.findings.sort(key=lambda f: (-int(f.severity), f.rule))


LAB_DATA = Path(__file__).resolve().parents[1] / "data" / "rules_lab.json"


def _lab_cell(lab: dict[str, Any], rule_id: str) -> str:
    entry = (lab.get("rules") or {}).get(rule_id)
    if not entry:
        return "-"
    counts = ", ".join(f"{n} in {lab_name}" for lab_name, n in entry["devices"].items())
    via = (lab.get("optin") or {}).get(rule_id)
    return f"{', '.join(entry['profiles'])} ({counts}){f'; with {via}' if via else ''}"


def rules_markdown() -> str:
    """Return ``docs/rules.md``: every registered rule, by id, as Markdown.

    The "lab triggers" column comes from ``auditor/data/rules_lab.json`` (which lab
    profiles have a device the lab expects to trigger the rule in a scan), written from
    the lab's ground truth by ``tests/lab_services/test_rules_lab_data.py``.
    """
    lab: dict[str, Any] = json.loads(LAB_DATA.read_text(encoding="utf-8"))
    lines = [
        "# Rules",
        "",
        "Generated from the registry in `auditor/rules/` by `auditor.rules.rules_markdown()`;",
        "do not edit by hand. Each finding cites the evidence (probe, port, value) it rests on.",
        "",
        "*Lab triggers*: the simulated lab's profiles with a device built to trigger the rule",
        "in `camaudit scan` (and how many such devices the labs of "
        + " and ".join(lab.get("labs") or [])
        + " have); `tests/e2e/test_rules_lab.py` checks the scan finds exactly those. A dash:",
        "no lab device triggers it in a scan (it needs a traffic or radio capture or a site",
        "policy, which a scan lacks).",
        "",
        "| id | severity | title | lab triggers |",
        "| --- | --- | --- | --- |",
    ]
    ordered = sorted(RULES.values(), key=lambda r: r.id)
    for r in ordered:
        lines.append(
            f"| [`{r.id}`](#{r.id.lower()}) | {r.severity} | {r.title} | {_lab_cell(lab, r.id)} |"
        )
    for r in ordered:
        lines += ["", f"## {r.id}", "", f"**{r.title}** — default severity *{r.severity}*", ""]
        lines += [f"Why: {r.rationale}", "", f"Fix: {r.remediation}"]
        if r.references:
            lines += ["", "References:", ""] + [f"- {ref}" for ref in r.references]
    return "\n".join(lines) + "\n"
