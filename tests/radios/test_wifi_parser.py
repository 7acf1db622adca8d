"""probes.wifi on crafted radiotap / 802.11 / BLE frames: what an auditor reads off the air."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from airframes import (
    beacon,
    ble_adv,
    data,
    mac,
    probe_request,
    radiotap,
    radiotap_ext_vendor,
    with_fcs,
    write_pcap,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probes.wifi import AirParser, is_air_capture, read_air

HIK_WIFI = "c0:56:e3:1c:47:f3"  # Hikvision DS-2CD2xx setup AP (wired c0:56:e3:1c:47:f0)
XM_WIFI = "86:8f:59:2a:b8:ae"  # Xiongmai board, locally administered MAC
SITE_AP = "02:5c:17:00:00:01"


def _by_mac(path: Path) -> dict[str, dict]:
    cap = read_air([path])
    return {str(o.mac): o.data for o in cap.observations}


def test_hikvision_setup_ap_beacon(tmp_path: Path) -> None:
    frames = [
        radiotap(2412, -48) + beacon(mac(HIK_WIFI), b"HAP-52992", 1, privacy=False),
        radiotap(2412, -55) + beacon(mac(HIK_WIFI), b"HAP-52992", 1, privacy=False),
    ]
    d = _by_mac(write_pcap(tmp_path / "hik.pcap", frames))[HIK_WIFI]
    assert d["role"] == "ap" and d["ssids"] == ["HAP-52992"] and d["beacons"] == 2
    assert d["channels"] == [1] and d["privacy"] is False and d["rsn"] is False
    assert (d["signal_dbm_min"], d["signal_dbm_max"]) == (-55, -48)
    assert d["first_seen"] == 1_767_225_600 and d["last_seen"] == 1_767_225_601


def test_hidden_ssid_zero_length_and_nul_filled(tmp_path: Path) -> None:
    frames = [
        radiotap() + beacon(mac(HIK_WIFI), b"", 6),
        radiotap() + beacon(mac("c0:56:e3:00:00:09"), b"\x00" * 9, 6),
    ]
    got = _by_mac(write_pcap(tmp_path / "hidden.pcap", frames))
    for m in (HIK_WIFI, "c0:56:e3:00:00:09"):
        assert got[m]["hidden_ssid"] is True and got[m]["ssids"] == []
        assert got[m]["privacy"] is True and got[m]["rsn"] is True


def test_xiongmai_client_probes_and_talks_to_an_ap(tmp_path: Path) -> None:
    frames = [
        radiotap() + probe_request(mac(XM_WIFI), b"CamLink"),
        radiotap() + probe_request(mac(XM_WIFI), b""),  # wildcard probe: no SSID asked
        radiotap() + data(True, mac(SITE_AP), mac(XM_WIFI), mac(SITE_AP)),
        radiotap() + data(False, mac(XM_WIFI), mac(SITE_AP), mac(SITE_AP)),
    ]
    got = _by_mac(write_pcap(tmp_path / "xm.pcap", frames))
    cam = got[XM_WIFI]
    assert cam["role"] == "client" and cam["probed_ssids"] == ["CamLink"]
    assert cam["bssids"] == [SITE_AP] and cam["data_frames"] == 1
    assert cam["data_frames_received"] == 1 and cam["probe_requests"] == 2
    assert got[SITE_AP]["data_frames"] == 1  # the AP side, from-DS


def test_extended_bitmaps_and_vendor_namespace_alignment(tmp_path: Path) -> None:
    frames = [radiotap_ext_vendor(5180, -61) + beacon(mac(HIK_WIFI), b"HAP-1", 36)]
    d = _by_mac(write_pcap(tmp_path / "ext.pcap", frames))[HIK_WIFI]
    assert d["channels"] == [36] and d["signal_dbm_max"] == -61


def test_fcs_is_stripped_and_bad_fcs_skipped(tmp_path: Path) -> None:
    good = radiotap(fcs=True) + with_fcs(beacon(mac(HIK_WIFI), b"HAP-7", 6))
    bad = bytearray(good)
    bad[16] |= 0x40  # Flags: bad FCS
    cap = read_air([write_pcap(tmp_path / "fcs.pcap", [good, bytes(bad)])])
    assert cap.stats.skipped == {"bad_fcs": 1}
    assert cap.observations[0].data["ssids"] == ["HAP-7"]


def test_plain_80211_linktype(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "plain.pcap", [beacon(mac(HIK_WIFI), b"EZVIZ_D12345678", 11)], 105)
    assert is_air_capture(path)
    d = _by_mac(path)[HIK_WIFI]
    assert d["ssids"] == ["EZVIZ_D12345678"] and d["channels"] == [11]
    assert d["signal_dbm_max"] is None  # no radio header, no signal


def test_ble_hikvision_company_id(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "ble.pcap", [ble_adv("c0:56:e3:1c:47:f2", 0x0E25, b"HIK")], 256)
    cap = read_air([path])
    (obs,) = cap.observations
    assert obs.mac == "c0:56:e3:1c:47:f2" and obs.data["kind"] == "ble"
    assert obs.data["ble_company_ids"] == [0x0E25] and obs.data["ble_names"] == ["HIK"]
    assert obs.data["address_type"] == "public" and obs.data["signal_dbm_max"] == -70


def test_bad_input_is_counted_never_raised(tmp_path: Path) -> None:
    ok = radiotap() + beacon(mac(HIK_WIFI), b"HAP-1", 6)
    absurd = bytearray(ok)
    struct.pack_into("<H", absurd, 2, 4000)  # radiotap length beyond the frame
    version = bytearray(ok)
    version[0] = 7
    short_ie = ok[:-3]  # the last IE (RSN) claims more bytes than are left
    frames = [ok, bytes(absurd), bytes(version), ok[:20], short_ie, b"\x00\x00\x08\x00"]
    cap = read_air([write_pcap(tmp_path / "bad.pcap", frames)])
    assert cap.stats.frames == 6
    assert cap.stats.skipped == {
        "absurd_length": 1,
        "bad_radiotap": 1,
        "truncated": 2,
        "truncated_ie": 1,
    }
    # a record cut by the end of the file: counted by the reader, earlier frames kept
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((tmp_path / "bad.pcap").read_bytes()[:-2])
    cap = read_air([cut])
    assert cap.read.errors == {"truncated_record": 1} and cap.stats.frames == 5


def test_unknown_linktype_is_skipped(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "eth.pcap", [b"\x00" * 60], linktype=1)
    assert not is_air_capture(path)
    cap = read_air([path])
    assert cap.stats.skipped == {"unknown_linktype": 1} and cap.observations == []


def test_not_a_capture(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"GIF89a" + b"\x00" * 100)
    cap = read_air([junk])
    assert cap.read.errors == {"not_a_capture": 1} and cap.stats.frames == 0
    with pytest.raises(OSError):
        read_air([tmp_path / "missing.pcap"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    linktype=st.sampled_from([105, 119, 127, 163, 251, 256, 1]),
    head=st.binary(max_size=48),
    tail=st.binary(max_size=200),
)
def test_fuzz_parser_never_raises(linktype: int, head: bytes, tail: bytes) -> None:
    p = AirParser()
    real = radiotap() + beacon(mac(HIK_WIFI), b"HAP-1", 6)
    for frame in (head + tail, head + real[len(head) :], real[: len(head)] + tail):
        p.feed(linktype, 0.0, frame, 0, len(frame))
        p.feed(linktype, 0.0, frame, 0, len(frame) + 5)  # a caplen beyond the buffer
    p.observations()
    assert p.stats.frames == 6
