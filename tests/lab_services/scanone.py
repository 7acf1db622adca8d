"""Scan one simulated device served on loopback with the real engine, classifier and rules.

The miniature of ``tests/e2e/test_rules_lab.py`` (which needs root and the whole lab):
the device is served by ``camlab.services`` on 127.0.1.x, ``probes.engine.run_scan``
scans that one address with the operator's credentials (the lab password), and the
findings are compared with what the lab itself expects (``camlab.expect``).
"""

from __future__ import annotations

import ipaddress

from camlab.generate import LAB_PASSWORD
from camlab.spec import LabDevice

from auditor.classify import classify
from auditor.model import Device, Observation
from auditor.rules import evaluate
from probes import engine
from probes.netinfo import Interface

LO = Interface(
    name="lo", index=1, address=ipaddress.IPv4Address("127.0.0.1"),
    network=ipaddress.IPv4Network("127.0.0.0/8"), flags=frozenset({"UP", "LOOPBACK"}),
    link_type="loopback",
)  # fmt: skip


async def scan_one(dev: LabDevice, ip: str) -> tuple[Device, list[Observation]]:
    """Scan ``ip`` (where ``dev`` is served) as ``camaudit scan`` would; return the
    classified device with its findings, and the raw observations."""
    opts = engine.ScanOptions(
        interfaces=[LO], timeout=2.0, discovery_timeout=1.0,
        credentials=[(dev.username, LAB_PASSWORD)],
    )  # fmt: skip
    obs = await engine.run_scan([ip], [ipaddress.IPv4Network(f"{ip}/32")], opts)
    (found,) = [d for d in classify(obs) if d.ip == ip]
    evaluate([found])
    return found, obs
