"""Files a user or an update supplies: policy, credentials, fingerprints and the other data
files, lab profiles. Each parser either returns or raises its own documented error that
names the file; nothing else escapes, whatever the text.

Mutations work on the shipped files line by line (delete, duplicate, swap a value for
an arbitrary TOML value), so most examples are valid TOML and reach the validation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from camlab.errors import LabError
from camlab.profile import load_profile
from fuzzset import fuzz, ran
from hypothesis import given
from hypothesis import strategies as st

from auditor import advisories, compliance, defaultcreds, endpoints, fingerprints, oem, policy
from auditor.credentials import load_credentials
from auditor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "auditor" / "data"
CREDENTIALS = (
    '[[credential]]\nusername = "admin"\npassword = "s3cret-A"\ntargets = ["198.18.0.0/24"]\n'
    '[[credential]]\nusername = "root"\npassword = "b"\n'
)


def _tmp_file(text: str, name: str) -> Path:
    # hypothesis examples cannot use function-scoped fixtures: one private file per process
    d = Path(os.environ.get("TMPDIR", "/tmp")) / f"camaudit-fuzz-{os.getpid()}"
    d.mkdir(mode=0o700, exist_ok=True)
    p = d / name
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    p.chmod(0o600)
    return p


def _credentials(text: str) -> Any:
    return load_credentials(_tmp_file(text, "creds.toml"))


def _profile(text: str) -> Any:
    return load_profile(_tmp_file(text, "profile.toml"))


#: name -> (shipped text, parser, the error it may raise)
TARGETS: dict[str, tuple[str, Callable[[str], Any], type[Exception]]] = {
    "policy": (
        (ROOT / "docs" / "examples" / "site-policy.toml").read_text(encoding="utf-8"),
        lambda t: policy.parse_policy(t, "site.toml"), ConfigError,
    ),
    "credentials": (CREDENTIALS, _credentials, ConfigError),
    "fingerprints": (
        (DATA / "fingerprints" / "hikvision.toml").read_text(encoding="utf-8"),
        lambda t: fingerprints.parse_fingerprint_file(t, "hikvision.toml"), ConfigError,
    ),
    "oem": ((DATA / "oem.toml").read_text(encoding="utf-8"), oem.parse_oem, ConfigError),
    "advisories": (
        (DATA / "advisories.toml").read_text(encoding="utf-8"), advisories.parse_advisories,
        ConfigError,
    ),
    "compliance": (
        (DATA / "compliance" / "us-ndaa-889.toml").read_text(encoding="utf-8"),
        lambda t: compliance.parse_list(t, "us-ndaa-889.toml"), ConfigError,
    ),
    "endpoints": (
        (DATA / "endpoints.toml").read_text(encoding="utf-8"), endpoints.parse_catalog,
        ConfigError,
    ),
    "default_credentials": (
        (DATA / "default_credentials.toml").read_text(encoding="utf-8"),
        lambda t: defaultcreds.parse_defaults(t, "default_credentials.toml"), ConfigError,
    ),
    "lab_profile": (
        (ROOT / "deploy/lab/camlab/profiles/hikvision-ds2cd2.toml").read_text(encoding="utf-8"),
        _profile, LabError,
    ),
}  # fmt: skip

_SCALAR = st.one_of(
    st.text(max_size=30).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"')
                             .encode("unicode_escape").decode("ascii") + '"'),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: "nan" if f != f else ("inf" if f == float("inf") else
                                        "-inf" if f == float("-inf") else repr(f))),
    st.booleans().map(lambda b: str(b).lower()),
    st.sampled_from(["1979-05-27", "2027-06-30", "[]", "{}", '["198.18.0.0/24"]', '"high"',
                     '"0.0.0.0/0"', '"aa:bb:cc:dd:ee:ff"', '"(a+)+$"', '"\\u0000"']),
)  # fmt: skip
_VALUE = st.one_of(_SCALAR, st.lists(_SCALAR, max_size=4).map(lambda v: f"[{', '.join(v)}]"))
_ASSIGN = re.compile(r"^(\s*[\w\"\-.]+\s*=\s*)(.*)$")


@st.composite
def mutated_toml(draw: st.DrawFn, text: str) -> str:
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 5))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["value", "value", "value", "delete", "duplicate", "junk"]))
        m = _ASSIGN.match(lines[i])
        if op == "value" and m:
            lines[i] = m.group(1) + draw(_VALUE)
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "junk":
            lines.insert(i, draw(st.text(max_size=60)).replace("\n", " "))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_shipped_text_parses(name: str) -> None:
    text, parse, _error = TARGETS[name]
    assert parse(text) is not None


def _check(name: str, text: str) -> None:
    ran(f"file-{name}")
    _text, parse, error = TARGETS[name]
    try:
        parse(text)
    except error as exc:
        assert str(exc)  # says what is wrong


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutated_files_fail_only_with_their_error(name: str) -> None:
    @fuzz(120)
    @given(mutated_toml(TARGETS[name][0]))
    def run(text: str) -> None:
        _check(name, text)

    run()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_arbitrary_text_fails_only_with_their_error(name: str) -> None:
    @fuzz(40)
    @given(st.text(max_size=400))
    def run(text: str) -> None:
        _check(name, text)

    run()


@pytest.mark.parametrize("targets", ["0", '"198.18.0.0/24"', "[1, 2]", "{ a = 1 }"])
def test_credentials_targets_must_be_a_list_of_strings(targets: str) -> None:
    # found by the fuzzer: `targets = 0` raised TypeError instead of a ConfigError
    text = f'[[credential]]\nusername = "admin"\npassword = "pw"\ntargets = {targets}\n'
    with pytest.raises(ConfigError, match="'targets' must be a list"):
        _credentials(text)


def test_unhashable_values_are_config_errors() -> None:
    # found by `make fuzz`: a list where a name was expected raised TypeError
    with pytest.raises(ConfigError, match="is not a"):
        oem.parse_oem('[maker.Dahua]\ncountry = "CN"\n[brand.Amcrest]\noem = ["Dahua"]\n')
    text = TARGETS["lab_profile"][0].replace('auth = "digest"', 'auth = ["digest"]', 1)
    assert text != TARGETS["lab_profile"][0]
    with pytest.raises(LabError, match="auth must be one of"):
        _profile(text)


def test_endpoint_payload_of_the_wrong_shape_is_a_config_error() -> None:
    # found by `make fuzz`: `payload = ["f1"]` raised AttributeError
    text = '[[endpoint]]\nid = "x"\ncategory = "p2p"\npayload = ["f1000000"]\n'
    with pytest.raises(ConfigError):
        endpoints.parse_catalog(text)
