"""Targets come only from what the user typed, and bad ones get a clear error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import TargetError
from auditor.targets import parse_targets


def test_cidr_expands_to_hosts_without_network_and_broadcast() -> None:
    t = parse_targets(["198.18.0.0/30"])
    assert t.hosts == ("198.18.0.1", "198.18.0.2")


def test_single_host_and_short_range() -> None:
    t = parse_targets(["198.18.0.5", "198.18.0.10-12"])
    assert t.hosts == ("198.18.0.5", "198.18.0.10", "198.18.0.11", "198.18.0.12")
    assert "198.18.0.11" in t and "198.18.0.13" not in t


def test_duplicates_are_scanned_once() -> None:
    t = parse_targets(["198.18.0.0/29", "198.18.0.3"])
    assert len(t.hosts) == len(set(t.hosts)) == 6


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "no targets"),
        (["not-an-ip"], "not an IPv4 address"),
        (["198.18.0.20-10"], "before its start"),
        (["2001:db8::/64"], "IPv6"),
        (["10.0.0.0/8"], "more than --max-hosts"),
    ],
)
def test_bad_targets_are_refused_with_a_clear_message(texts: list[str], message: str) -> None:
    with pytest.raises(TargetError, match=message):
        parse_targets(texts)


def test_max_hosts_can_be_raised_explicitly() -> None:
    assert len(parse_targets(["198.18.0.0/15"], max_hosts=1 << 17).hosts) == (1 << 17) - 2


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        t = parse_targets([text], max_hosts=4096)
    except TargetError:
        return
    assert all(h in t for h in t.hosts)
