"""`camaudit data update-oui` rebuilds the MAC vendor table the way docs/data.md says."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from auditor.cli import app
from auditor.oui import OuiTable

runner = CliRunner()

MANUF = """\
# a Wireshark-format excerpt
BC:AD:28\tHikvision\tHangzhou Hikvision Digital Technology Co.,Ltd.
00:55:DA:10/28\tKoolPOS\tKoolPOS Inc.
"""


def test_update_oui_from_a_manuf_file(tmp_path: Path) -> None:
    src, out = tmp_path / "manuf", tmp_path / "oui.csv"
    src.write_text(MANUF)
    r = runner.invoke(app, ["data", "update-oui", "--from", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 assignments" in r.output
    table = OuiTable.from_csv(out.read_text())
    hit = table.lookup("00:55:da:1f:00:01")
    assert hit is not None and hit.bits == 28 and hit.organization == "KoolPOS Inc."
    assert table.lookup("bc:ad:28:00:00:01").short == "Hikvision"  # type: ignore[union-attr]


def test_update_oui_refuses_an_unreadable_file(tmp_path: Path) -> None:
    r = runner.invoke(app, ["data", "update-oui", "--from", str(tmp_path / "nope")])
    assert r.exit_code != 0
