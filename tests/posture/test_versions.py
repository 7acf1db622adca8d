"""Firmware version comparison across vendor formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.versions import build_date, parse_version

HIK = [
    "V5.4.5 build 170124",
    "V5.5.82 build 190120",
    "V5.5.800 build 210628",
    "V5.7.3 build 220112",
]
DAHUA = [
    "2.622.0000000.31.R, Build Date 2019-01-11",
    "2.800.0000000.16.R, Build Date 2021-07-06",
    "2.820.0000000.5.R, Build Date 2022-09-14",
]


@pytest.mark.parametrize("series", [HIK, DAHUA, ["9.80.3.8", "10.12.199", "11.2.68"]])
def test_vendor_series_sort_in_release_order(series: list[str]) -> None:
    assert sorted(series, key=parse_version) == series


def test_same_version_later_build_is_newer() -> None:
    assert parse_version("V5.5.82 build 190120") < parse_version("V5.5.82 build 200101")
    assert parse_version("2.800.0000000.16.R, Build Date 2021-07-06") > parse_version(
        "2.800.0000000.16.R, Build Date 2021-06-30"
    )


def test_formats_parse_into_fields_and_build() -> None:
    v = parse_version("2.21.01_20230524_R4")  # Hanwha
    assert v.fields == (2, 21, 1) and v.build == 20230524
    v = parse_version("V2.800.00AC006.0.R, Build Date 2021-03-17")  # Amcrest
    assert v.fields[:2] == (2, 800) and v.build == 20210317
    assert parse_version("V5.00.R02.000529G9.10010.346400.0000000").build is None  # Xiongmai
    assert parse_version("1.2") == parse_version("1.2.0")


def test_no_digits_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="no digits"):
        parse_version("Firmware Ver.Z")
    with pytest.raises(ValueError):
        build_date("June 2021")


_parts = st.lists(st.integers(0, 9999), min_size=1, max_size=6)
_versions = st.builds(
    lambda p, b, prefix: prefix + ".".join(map(str, p)) + (f" build {b}" if b else ""),
    _parts,
    st.one_of(st.none(), st.integers(100101, 291231).map(str)),
    st.sampled_from(["", "V", "v"]),
)


@given(_versions, _versions, _versions)
def test_order_is_total_and_transitive(a: str, b: str, c: str) -> None:
    va, vb, vc = parse_version(a), parse_version(b), parse_version(c)
    assert (va < vb) + (vb < va) + (va == vb) == 1
    if va <= vb and vb <= vc:
        assert va <= vc
    if va == vb:
        assert hash(va) == hash(vb)


@given(_parts, _parts)
def test_numeric_fields_compare_like_tuples(p: list[int], q: list[int]) -> None:
    width = max(len(p), len(q))
    pad = lambda x: tuple(x) + (0,) * (width - len(x))  # noqa: E731
    a, b = parse_version(".".join(map(str, p))), parse_version(".".join(map(str, q)))
    assert (a < b) == (pad(p) < pad(q))
