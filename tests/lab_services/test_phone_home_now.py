"""The lab's "phone home now" knob and its traffic ground truth (issue 6).

``PhoneHome.kick`` (the daemon's SIGUSR1) must cut a pause of any length short, so a
capture test waits seconds instead of a firmware's 15-minute period;
``camlab.expect_traffic`` must say which traffic rule each phone-home entry fires.
"""

from __future__ import annotations

import asyncio
import time

from camlab.expect_traffic import expected_traffic, expected_traffic_rules
from camlab.generate import generate
from camlab.phonehome import KICK_SPREAD_S, PhoneHome


async def test_kick_ends_a_long_pause_for_every_waiting_entry() -> None:
    dev = next(d for d in generate(10, 7) if d.phone_home)
    ph = PhoneHome(dev, seed=7)
    t0 = time.monotonic()
    waits = [asyncio.create_task(ph._pause(3600.0)) for _ in range(3)]
    await asyncio.sleep(0.05)
    ph.kick()
    await asyncio.wait_for(asyncio.gather(*waits), 2.0)
    assert time.monotonic() - t0 < 0.1 + KICK_SPREAD_S + 0.5
    # a pause that starts after the kick is not cut short by it
    later = asyncio.create_task(ph._pause(3600.0))
    await asyncio.sleep(0.2)
    assert not later.done()
    later.cancel()


def test_expected_traffic_names_the_rule_of_each_entry() -> None:
    by_profile = {}
    for dev in generate(40, 7):
        for item in expected_traffic(dev):
            by_profile[(dev.profile, item["what"])] = item["rules"]
    assert by_profile[("hikvision-ds2cd2", "TCP dev.hik-connect.com:7660")] == ["CAM-NET-P2P"]
    assert by_profile[("uniview-ipc", "TCP en.star4live.com:443")] == ["CAM-NET-CLOUD"]
    assert by_profile[("xiongmai-generic", "DNS xmeye.net via 198.19.8.8")] == [
        "CAM-NET-DNS-HARDCODED"
    ]
    assert "CAM-NET-STUN" in by_profile[("xiongmai-generic", "UDP stun.xmcsrv.net:3478")]
    assert by_profile[("dahua-ipc", "DNS www.easy4ipcloud.com via site")] == []  # site DNS
    assert by_profile[("amcrest-ip", "UPnP AddPortMapping 8080")] == ["CAM-NET-UPNP-PORTMAP"]
    truth = next(d for d in generate(40, 7) if d.phone_home).truth()
    assert truth["expected_traffic_rules"] == expected_traffic_rules(
        next(d for d in generate(40, 7) if d.phone_home)
    )
