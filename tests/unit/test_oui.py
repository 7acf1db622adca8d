"""OUI: manuf parsing, longest-prefix lookup, locally administered MACs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import ConfigError
from auditor.oui import OuiTable, build_oui_csv, format_mac, load_oui, parse_manuf

MANUF = """\
# comment line
00:55:DA\tIEEERegi\tIEEE Registration Authority
00:55:DA:10/28\tKoolPOS\tKoolPOS Inc.
00:1B:C5:00:10/36\tOpenRB\tOpenRB.com, Direct SIA
44-19-B6\tHikvision\t# Hangzhou Hikvision Digital Technology Co.,Ltd.
not a line
ZZ:ZZ:ZZ\tBad\tBad
"""


def table() -> OuiTable:
    return OuiTable.from_csv(build_oui_csv(MANUF))


def test_parse_manuf_reads_both_layouts_and_skips_junk() -> None:
    entries = {(e.prefix, e.bits): e.organization for e in parse_manuf(MANUF)}
    assert entries == {
        ("0055DA", 24): "IEEE Registration Authority",
        ("0055DA1", 28): "KoolPOS Inc.",
        ("001BC5001", 36): "OpenRB.com, Direct SIA",
        ("4419B6", 24): "Hangzhou Hikvision Digital Technology Co.,Ltd.",
    }


def test_longest_prefix_wins() -> None:
    t = table()
    hit = t.lookup("00:55:da:1f:00:01")
    assert hit is not None and hit.bits == 28 and hit.organization == "KoolPOS Inc."
    outer = t.lookup("00-55-DA-20-00-01")
    assert outer is not None and outer.bits == 24
    deep = t.lookup("001b.c500.1abc")
    assert deep is not None and deep.bits == 36 and deep.organization.startswith("OpenRB")
    assert t.lookup("00:1b:c5:00:20:00") is None


def test_locally_administered_identifies_nobody() -> None:
    hit = table().lookup("02:11:22:33:44:55")
    assert hit is not None and hit.locally_administered
    assert hit.organization == "locally administered"
    # 0x46 has bit 0x02 set too: a random MAC that happens to look like a vendor block
    assert table().lookup("46:19:b6:00:00:01").locally_administered  # type: ignore[union-attr]


def test_not_a_mac() -> None:
    assert table().lookup("hello") is None
    assert format_mac("AABBCCDDEEFF") == "aa:bb:cc:dd:ee:ff"
    assert format_mac("aa:bb") is None


def test_build_rejects_empty_input() -> None:
    with pytest.raises(ConfigError):
        build_oui_csv("<html>404</html>")


def test_bad_csv_names_source() -> None:
    with pytest.raises(ConfigError, match=r"x\.csv:2"):
        OuiTable.from_csv("prefix,bits,short,organization\nZZ,24,a,b\n", source="x.csv")


def test_shipped_table_has_all_block_sizes() -> None:
    t = load_oui()
    assert len(t) > 40_000
    hik = t.lookup("44:19:B6:00:00:01")
    assert hik is not None and "Hikvision" in hik.organization
    mam = t.lookup("00:55:DA:10:00:00")
    assert mam is not None and mam.bits == 28
    mas = t.lookup("00:1B:C5:00:00:01")
    assert mas is not None and mas.bits == 36


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_manuf_never_raises(text: str) -> None:
    for e in parse_manuf(text):
        assert 8 <= e.bits <= 48 and len(e.prefix) * 4 >= e.bits


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=6, max_size=6))
def test_lookup_any_mac(raw: bytes) -> None:
    mac = ":".join(f"{b:02x}" for b in raw)
    hit = table().lookup(mac)
    if raw[0] & 0x02:
        assert hit is not None and hit.locally_administered
    elif hit is not None:
        assert mac.replace(":", "").upper().startswith(hit.prefix[: hit.bits // 4])
