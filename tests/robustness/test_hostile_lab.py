"""The hostile devices in the lab's generator, ground truth and CLI."""

from __future__ import annotations

import pytest
from camlab.errors import LabError
from camlab.generate import generate
from camlab.services.hostile import BEHAVIOURS, validate
from typer.testing import CliRunner

from auditor.cli import app


def test_hostile_devices_are_added_last_and_change_nothing_else() -> None:
    plain = [d.truth() for d in generate(25, 5)]
    mixed = generate(25, 5, hostile=7)
    assert [d.truth() for d in mixed[: len(plain)]] == plain
    extra = mixed[len(plain) :]
    assert [d.name for d in extra] == [f"hostile{i:02d}" for i in range(1, 8)]
    assert all(d.truth()["hostile"] and d.profile.startswith("hostile-") for d in extra)
    assert all(d.truth()["hostile"] == [] for d in mixed[: len(plain)])
    assert len({d.ip for d in mixed}) == len(mixed)
    assert {b for d in extra for b in d.hostile} == set(BEHAVIOURS)


def test_bad_behaviour_lists_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown hostile behaviour"):
        validate(["http_xml_bomb", "teleport"])
    with pytest.raises(ValueError, match="share a port"):
        validate(["http_xml_bomb", "http_slow_drip"])
    with pytest.raises(LabError):
        generate(3, 1, hostile=-1)


def test_lab_up_offers_hostile() -> None:
    result = CliRunner().invoke(app, ["lab", "up", "--help"])
    assert result.exit_code == 0
    assert "--hostile" in result.output
