"""Fixtures for the lab's end-to-end tests (root, real network namespaces).

Every test here builds real namespaces, so a session fixture makes sure the session
starts and ends with no ``camlab*`` namespace, link or process, even after failures.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from camlab import control, netns
from camlab.spec import (
    LOCAL_SUBNET,
    ROUTED_SUBNET,
    ROUTER_LOCAL_IP,
    ROUTER_ROUTED_IP,
    LabDevice,
)

# what the synthetic devices do: every phone-home kind, fast enough for a test
PHONE_HOME: list[dict[str, Any]] = [
    {"kind": "dns", "name": "dev.hik-connect.com", "every_s": 2},
    {
        "kind": "udp",
        "host": "p2p.easy4ip.com",
        "port": 32100,
        "payload_hex": "f1000000",
        "resolver": "114.114.114.114",
        "every_s": 2,
    },
    {
        "kind": "udp",
        "host": "stun.camlab.test",
        "port": 3478,
        "payload_hex": "000100002112a442" + "00" * 12,
    },
    {"kind": "tcp", "host": "dev.hik-connect.com", "port": 7660, "payload_hex": "deadbeef"},
    {"kind": "ntp", "host": "time.hikvision.com"},
    {"kind": "ntp", "server": "site"},
    {"kind": "upnp", "internal_port": 8000, "external_port": 8000, "description": "test"},
]


def synthetic_devices(n: int, routed_every: int = 5) -> list[LabDevice]:
    """``n`` devices with only phone-home behaviour; every ``routed_every``-th is routed."""
    out = []
    local = routed = 0
    for i in range(1, n + 1):
        is_routed = i % routed_every == 0
        if is_routed:
            routed += 1
            ip, subnet, gw = f"198.18.8.{9 + routed}", ROUTED_SUBNET, ROUTER_ROUTED_IP
        else:
            local += 1
            host = 9 + local
            ip, subnet, gw = f"198.18.{host // 256}.{host % 256}", LOCAL_SUBNET, ROUTER_LOCAL_IP
        out.append(
            LabDevice(
                name=f"t{i:03d}",
                netns=f"camlab-t{i:03d}",
                kind="camera",
                profile="synthetic",
                vendor="Test",
                oem="Test",
                model="T-1",
                firmware="1.0",
                serial=f"T{i:06d}",
                mac=f"02:00:5e:00:{i // 256:02x}:{i % 256:02x}",
                ip=ip,
                subnet=subnet,
                gateway=gw,
                phone_home=[dict(e) for e in PHONE_HOME],
            )
        )
    return out


def leftovers() -> list[str]:
    """Every camlab* netns and host link, as ``ip`` itself reports them."""
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    found = [line.split()[0] for line in ns.stdout.splitlines() if line.startswith("camlab")]
    for line in links.stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith("camlab"):
            found.append(name)
    return found + netns.list_netns() + netns.list_links()


@pytest.fixture(scope="session")
def clean_slate() -> Iterator[None]:
    """Start and end the session without any lab; fail loudly if something is left."""
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (network namespaces); CI runs them as root")
    control.down()
    yield
    control.down()
    assert leftovers() == [], "camlab objects left after the lab tests"


@pytest.fixture(scope="module")
def lab(clean_slate: None) -> Iterator[dict[str, Any]]:
    """A small lab (10 devices, 2 routed) shared by one test module; always torn down."""
    try:
        summary = control.up_devices(synthetic_devices(10), seed=7)
        yield summary
    finally:
        control.down()
