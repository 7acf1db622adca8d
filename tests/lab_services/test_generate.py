from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from camlab.errors import LabError
from camlab.generate import LAB_PASSWORD, generate, load_profiles
from camlab.profile import QUIRKS

LAB = ipaddress.ip_network("198.18.0.0/15")


def test_generate_is_deterministic_for_a_seed() -> None:
    a = [d.truth() for d in generate(30, 11)]
    b = [d.truth() for d in generate(30, 11)]
    c = [d.truth() for d in generate(30, 12)]
    assert a == b
    assert a != c


def test_mix_covers_every_profile_quirk_and_radio_case() -> None:
    devs = generate(25, 5)
    cams = [d for d in devs if d.kind == "camera"]
    assert len(cams) == 25
    camera_profiles = {
        p.id for p in load_profiles() if p.kind == "camera" and not p.data.get("hostile")
    }  # hostile-* profiles join only on request (generate(..., hostile=N))
    assert {d.profile for d in cams} == camera_profiles
    assert {q for d in cams for q in d.quirks} == set(QUIRKS)
    radios = {(r["kind"], r["reported"]) for d in cams for r in d.radios}
    assert ("wifi", True) in radios and ("wifi", False) in radios
    assert any(kind == "cellular" for kind, _ in radios)
    others = {d.name: d.kind for d in devs if d.kind != "camera"}
    assert others == {"pc01": "computer", "prn01": "printer", "sw01": "switch"}


def test_addresses_identities_and_namespaces() -> None:
    devs = generate(100, 3)
    cams = [d for d in devs if d.kind == "camera"]
    routed = [d for d in cams if d.routed]
    assert len(routed) == 20  # every fifth camera
    for d in devs:
        assert d.netns == f"camlab-{d.name}"
        assert ipaddress.ip_address(d.ip) in ipaddress.ip_network(d.subnet)
        assert d.gateway == ("198.18.8.1" if d.routed else "198.18.3.254")
    assert min(ipaddress.ip_address(d.ip) for d in cams if not d.routed) == ipaddress.ip_address(
        "198.18.0.10"
    )
    for attr in ("ip", "mac", "serial", "endpoint_uuid", "name"):
        values = [getattr(d, attr) for d in devs]
        assert len(values) == len(set(values)), attr
    xm = [d for d in cams if d.oem == "Xiongmai"]
    assert xm and all(int(d.mac[:2], 16) & 0x02 for d in xm)  # locally administered
    assert sum(d.password == LAB_PASSWORD for d in cams) > len(cams) // 2
    for d in devs:
        for entry in d.phone_home:
            for key in ("host", "server", "resolver"):
                value = entry.get(key)
                try:
                    addr = ipaddress.ip_address(value)
                except ValueError:
                    continue
                assert addr in LAB, (d.name, entry)


def test_rebrands_report_the_label_and_the_board() -> None:
    devs = generate(40, 9)
    amcrest = next(d for d in devs if d.vendor == "Amcrest")
    assert amcrest.oem == "Dahua" and amcrest.onvif and amcrest.onvif["manufacturer"] == "Amcrest"
    assert {vp["port"] for vp in amcrest.vendor_ports} >= {37777, 37810}
    annke = next(d for d in devs if d.vendor in ("ANNKE", "LTS"))
    assert annke.oem == "Hikvision" and annke.hardware_id == "88"


def test_bad_profile_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken-cam.toml"
    bad.write_text('id = "x"\nvendor = [unclosed\n', encoding="utf-8")
    with pytest.raises(LabError, match=r"broken-cam\.toml: invalid TOML"):
        load_profiles(tmp_path)
    bad.write_text('id = "x"\nvendor = "X"\noem = "X"\nkind = "camera"\n', encoding="utf-8")
    with pytest.raises(LabError, match=r"broken-cam\.toml: missing required key serial"):
        load_profiles(tmp_path)


def test_profile_with_public_ip_is_refused(tmp_path: Path) -> None:
    src = Path(__file__).parents[2] / "deploy/lab/camlab/profiles/xiongmai-generic.toml"
    text = src.read_text(encoding="utf-8").replace("198.19.114.114", "114.114.114.114")
    (tmp_path / "xm.toml").write_text(text, encoding="utf-8")
    with pytest.raises(LabError, match=r"xm\.toml: phone_home\[0\]\.resolver is 114"):
        load_profiles(tmp_path)
