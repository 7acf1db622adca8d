"""Fingerprint data files and engine: every example, every counter-example, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import ConfigError
from auditor.fingerprints import (
    DATA_DIR,
    SOURCES,
    Fingerprint,
    load_fingerprints,
    parse_fingerprint_file,
)

DB = load_fingerprints()
ALL = [pytest.param(fp, id=fp.ref) for fp in DB.fingerprints]

REQUIRED_FILES = {
    "hikvision", "dahua", "xiongmai", "axis", "uniview", "hanwha", "reolink", "amcrest",
    "lorex", "annke", "lts", "ezviz", "hiwatch", "imou", "vivotek", "bosch", "windows",
    "hp", "brother", "epson", "printer-generic", "cisco", "netgear", "tp-link",
    "switch-generic",
}  # fmt: skip


def test_one_file_per_vendor_shipped() -> None:
    assert {p.stem for p in DATA_DIR.glob("*.toml")} >= REQUIRED_FILES


@pytest.mark.parametrize("fp", ALL)
def test_every_example_matches(fp: Fingerprint) -> None:
    for ex in fp.examples:
        assert fp.pattern.search(ex), f"{fp.ref}: {ex!r}"
    for ex in fp.counter_examples:
        assert not fp.pattern.search(ex), f"{fp.ref} must not match {ex!r}"


def test_match_returns_captures() -> None:
    (m,) = [m for m in DB.match("http.realm", "Login to 4K01234PAZ12345")]
    assert m.fingerprint.ref == "dahua.toml#http-realm-login-to"
    assert m.captures == {"serial": "4K01234PAZ12345"}


GOOD = """
[vendor]
name = "X"
[[fingerprint]]
id = "a"
source = "http.server"
pattern = '^X'
examples = ["X1"]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[fingerprint]\nid=", "invalid TOML"),
        (
            GOOD.replace('source = "http.server"', 'source = "http.nope"'),
            "x.toml#a: unknown source",
        ),
        (GOOD.replace("pattern = '^X'", "pattern = '(['"), "x.toml#a: bad pattern"),
        (GOOD.replace('examples = ["X1"]', 'examples = ["Y"]\npatern = "x"'), "unknown key"),
        (GOOD.replace('examples = ["X1"]', "examples = []"), "needs at least one example"),
        (GOOD.replace('id = "a"', 'id = "A b"'), "id must be"),
        (GOOD + GOOD.split('[vendor]\nname = "X"')[1], "duplicate id"),
        (GOOD.replace("pattern = '^X'", "pattern = '^(?P<colour>X)'"), "unknown named group"),
        (GOOD.replace('examples = ["X1"]', 'examples = ["X1"]\nweight = 2'), "weight"),
        (
            GOOD.replace('examples = ["X1"]', 'examples = ["X1"]\ndevice_type = "toaster"'),
            "device_type",
        ),
    ],
)
def test_malformed_file_names_file_and_entry(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"x\.toml") as exc:
        parse_fingerprint_file(text, "x.toml")
    assert message in str(exc.value)


def test_check_examples_reports_a_broken_entry(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_text(GOOD.replace('examples = ["X1"]', 'examples = ["nope"]'))
    from auditor.fingerprints import load_fingerprint_dir

    problems = load_fingerprint_dir(tmp_path).check_examples()
    assert problems == ["x.toml#a: example does not match: 'nope'"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(SOURCES)), st.text(max_size=2048))
def test_engine_is_robust_and_fast_on_any_text(source: str, value: str) -> None:
    for m in DB.match(source, value):
        assert m.fingerprint.source == source
        assert set(m.captures) <= {"model", "firmware", "serial", "mac", "vendor"}


def test_no_pathological_backtracking() -> None:
    import time

    nasty = ["a" * 4096, "-" * 4096, "DS-" + "2" * 4000, "Login to " + "A" * 4000, "\t" * 4096]
    t0 = time.perf_counter()
    for source in SOURCES:
        for value in nasty:
            DB.match(source, value + "!")
    assert time.perf_counter() - t0 < 0.5
