"""Credentials come from a private file, never the command line, and bad files say where."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor.credentials import load_credentials
from auditor.errors import ConfigError


def _write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    p = tmp_path / "creds.toml"
    p.write_text(text, encoding="utf-8")
    os.chmod(p, mode)
    return p


def test_credentials_apply_to_their_networks(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        '[[credential]]\nusername = "admin"\npassword = "s3cret-A"\ntargets = ["198.18.0.0/24"]\n'
        '[[credential]]\nusername = "root"\npassword = "b"\n',
    )
    cs = load_credentials(p)
    assert cs.for_host("198.18.0.7") == [("admin", "s3cret-A"), ("root", "b")]
    assert cs.for_host("198.18.8.7") == [("root", "b")]
    assert not cs.warnings
    assert "s3cret" not in repr(cs.credentials[0])  # passwords never show in reprs/logs


def test_world_readable_file_warns(tmp_path: Path) -> None:
    cs = load_credentials(_write(tmp_path, '[[credential]]\nusername="u"\npassword="p"\n', 0o644))
    assert cs.warnings and "chmod 600" in cs.warnings[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[credential]\n", "not a valid TOML"),
        ('[[credential]]\npassword = "x"\n', "credential #1: 'username'"),
        ('[[credential]]\nusername = "u"\npassword = "p"\ncolour = 1\n', "unknown key"),
        ('[[credential]]\nusername="u"\npassword="p"\ntargets=["nope"]\n', "bad target network"),
        ("users = 1\n", "unknown top-level"),
    ],
)
def test_bad_files_name_the_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as ei:
        load_credentials(p)
    assert str(p) in str(ei.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_credentials(tmp_path / "nope.toml")
