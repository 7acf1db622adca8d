"""From a capture to findings: catalog matching, site policy, every traffic rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from sitecap import CAM, CAM_MAC, GOOD, LOCAL, SITE_DNS, SITE_NTP, VMS, site_capture

from auditor.classify import classify
from auditor.endpoints import load_catalog, parse_catalog
from auditor.errors import ConfigError
from auditor.model import Device, Finding
from auditor.rules import RULES, evaluate
from auditor.traffic import (
    SitePolicy,
    assess,
    learn_baseline,
    load_baseline,
    save_baseline,
    use_policy,
)
from probes.flows import read_files


def devices_for(path: Path) -> list[Device]:
    table, stats = read_files([str(path)])
    obs = table.observations("pcap:site.pcap", LOCAL, stats)
    return classify([o for o in obs if o.data["kind"] == "device"])


def findings(devs: list[Device], ip: str) -> dict[str, Finding]:
    """Return the device's traffic findings (OUI-based rules are not under test here)."""
    return {
        f.rule: f for d in devs if d.ip == ip for f in d.findings if f.rule.startswith("CAM-NET")
    }


POLICY = SitePolicy(resolvers=[SITE_DNS], ntp_servers=[SITE_NTP], vms=[VMS], local_networks=LOCAL)


def test_every_phone_home_behaviour_is_found_and_attributed(tmp_path: Path) -> None:
    devs = devices_for(site_capture(tmp_path))
    with use_policy(POLICY):
        evaluate(devs)
    bad = findings(devs, CAM)
    assert set(bad) >= {
        "CAM-NET-P2P",
        "CAM-NET-CLOUD",
        "CAM-NET-STUN",
        "CAM-NET-DNS-HARDCODED",
        "CAM-NET-UPNP-PORTMAP",
        "CAM-NET-NTP-EXTERNAL",
    }
    p2p = bad["CAM-NET-P2P"]
    details = " | ".join(e.detail for e in p2p.evidence)
    assert "p2p.easy4ipcloud.com (198.19.1.1:8800)" in details
    assert "dahua-easy4ip, by name" in details and "cs2-p2p, by payload" in details
    assert "first seen 2023-11-14 22:13" in details and "pkts/" in details
    assert "Dahua" in p2p.title and "CS2 Network" in p2p.title
    dns = bad["CAM-NET-DNS-HARDCODED"]
    assert "198.19.8.8" in dns.title and SITE_DNS not in dns.title
    assert any("xmeye.net" in e.detail for e in dns.evidence)
    upnp = bad["CAM-NET-UPNP-PORTMAP"].evidence[0]
    assert "external TCP 8000 -> 198.18.200.12:8000" in upnp.detail
    assert "amcrestcloud" in bad["CAM-NET-CLOUD"].evidence[0].detail
    assert "CAM-NET-ISOLATION" not in bad  # the site did not declare isolation
    # the camera that only used the site's DNS, NTP and VMS: nothing at all
    assert findings(devs, GOOD) == {}
    assert not any(d.ip == VMS for d in devs) or findings(devs, VMS) == {}


def test_isolation_and_allowed_destinations(tmp_path: Path) -> None:
    devs = devices_for(site_capture(tmp_path))
    isolated = SitePolicy(**{**POLICY.to_dict(), "isolated": True, "baseline": None})
    with use_policy(isolated):
        evaluate(devs)
    iso = findings(devs, CAM)["CAM-NET-ISOLATION"]
    assert len(iso.evidence) == 6  # every internet flow, none of the site's
    assert findings(devs, GOOD) == {}
    allow = SitePolicy(
        resolvers=[SITE_DNS, "198.19.8.8"],
        ntp_servers=[SITE_NTP, "198.19.1.5"],
        vms=[VMS],
        allowed=["198.19.1.0/29", "*.amcrestcloud.com"],
        local_networks=LOCAL,
        isolated=True,
    )
    with use_policy(allow):
        evaluate(devs)
    assert set(findings(devs, CAM)) == {"CAM-NET-UPNP-PORTMAP"}


def test_hard_coded_resolver_without_site_resolver_means_internet_dns(tmp_path: Path) -> None:
    devs = devices_for(site_capture(tmp_path))
    with use_policy(SitePolicy(local_networks=LOCAL)):
        evaluate(devs)
    f = findings(devs, CAM)["CAM-NET-DNS-HARDCODED"]
    assert "198.19.8.8" in f.title and SITE_DNS not in f.title  # site DNS is local


def test_baseline_learn_then_drift(tmp_path: Path) -> None:
    devs = devices_for(site_capture(tmp_path))
    base = learn_baseline(devs)
    cam_key = f"device:mac:{CAM_MAC}"
    assert "udp/8800/p2p.easy4ipcloud.com" in base[cam_key]
    base[cam_key].remove("udp/8800/p2p.easy4ipcloud.com")
    save_baseline(tmp_path / "b.json", base)
    policy = SitePolicy(
        resolvers=[SITE_DNS], local_networks=LOCAL, baseline=load_baseline(tmp_path / "b.json")
    )
    with use_policy(policy):
        evaluate(devs)
    drift = findings(devs, CAM)["CAM-NET-BASELINE-DRIFT"]
    assert [e.value for e in drift.evidence] == ["udp/198.19.1.1:8800"]
    with pytest.raises(ConfigError):
        (tmp_path / "bad.json").write_text("[]")
        load_baseline(tmp_path / "bad.json")


def test_assess_names_and_allows(tmp_path: Path) -> None:
    devs = devices_for(site_capture(tmp_path))
    good = next(d for d in devs if d.ip == GOOD)
    views = assess(good, POLICY).flows
    assert {v.allowed for v in views} == {"site resolver", "site NTP server", "VMS / recorder"}
    assert not any(v.internet for v in views)


def test_catalog_examples_match_their_entries() -> None:
    cat = load_catalog()
    assert len(cat.entries) >= 15
    for e in cat.entries:
        for name in e.examples:
            assert e.name_matches(name), (e.id, name)
        assert e.reference, e.id
    ids = {m.endpoint.id for m in cat.match(names=[], address="114.114.114.114", proto="udp",
                                             port=53, payload_hex=None)}  # fmt: skip
    assert ids == {"dns-public"}
    stun = cat.match(names=[], address="203.0.113.9", proto="udp", port=40000,
                     payload_hex="000100002112a442" + "00" * 8)  # fmt: skip
    assert [(m.endpoint.id, m.how) for m in stun] == [("stun", "payload")]
    weak = cat.match(names=[], address="203.0.113.9", proto="udp", port=40000, payload_hex="f1")
    assert weak == []  # a lone 0xf1 is not CS2


def test_catalog_errors_name_the_entry() -> None:
    with pytest.raises(ConfigError, match="#1"):
        parse_catalog('[[endpoint]]\nid = "x"\ncategory = "nope"\n')
    with pytest.raises(ConfigError, match="duplicate"):
        parse_catalog(
            '[[endpoint]]\nid="a"\ncategory="p2p"\n[[endpoint]]\nid="a"\ncategory="p2p"\n'
        )


def test_rules_are_registered_with_words() -> None:
    ours = [r for r in RULES.values() if r.id.startswith("CAM-NET-")]
    assert len(ours) == 10  # 8 in rules/traffic.py, upload burst and quiet hours in upload.py
    for r in ours:
        assert r.category == "NET" and r.rationale and r.remediation
