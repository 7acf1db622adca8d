"""Offline bundles: keygen, export on the probe, register-key and import on the server.

A bundle imports only when its signature verifies with the key registered for the
probe it names and every file matches the signed manifest; importing it twice, or
after the same scans arrived over the network, stores nothing twice.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from appliance_env import make_scan, register_probe
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from auditor.bundle import BundleError, generate_keypair, public_text
from auditor.cli.probe_agent import _standalone
from auditor.errors import ConfigError
from probes.agent.config import load_config
from probes.agent.export import export_outbox
from probes.agent.outbox import Outbox
from web.bundles import import_bundle, register_key
from web.crud import probe_by_name, revoke_probe
from web.db import open_db
from web.models import Scan
from web.settings import Settings

cli = _standalone()


@pytest.fixture
def probe_cfg(tmp_path: Path) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(
        'name = "pi-north"\nsite = "north"\nallowed_targets = ["198.18.201.0/24"]\n'
        f'data_dir = "{tmp_path / "probe"}"\n'
    )
    return path


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    register_probe(tmp_path / "srv")
    eng = open_db(Settings(data_dir=tmp_path / "srv", env="test"))
    yield eng
    eng.dispose()


def _count(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(Scan)).one())


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def test_export_register_import_round_trip(tmp_path: Path, probe_cfg: Path, engine: Engine) -> None:
    out = _run(["probe", "keygen", "--config", str(probe_cfg)])
    key_line = next(ln for ln in out.splitlines() if "register-key" in ln)
    assert (tmp_path / "probe" / "signing.key").stat().st_mode & 0o777 == 0o600
    box = Outbox(tmp_path / "probe" / "outbox")
    scans = [make_scan() for _ in range(3)]
    for s in scans:
        box.put(s)
    bundle = tmp_path / "north.tar"
    assert "wrote 3 scan(s)" in _run(
        ["probe", "export", "--config", str(probe_cfg), "--out", str(bundle)]
    )
    assert len(box) == 3, "export without --clear keeps the outbox"

    # On the server: register the key exactly as keygen printed it, then import.
    key = key_line.split("'")[1]
    srv = str(tmp_path / "srv")
    assert "registered for probe 'pi-north'" in _run(
        ["probe", "register-key", "pi-north", key, "--data-dir", srv]
    )
    out = _run(["import", str(bundle), "--data-dir", srv])
    assert "3 new scan(s), 0 already stored, 0 failed" in out
    with Session(engine) as session:
        uids = sorted(session.exec(select(Scan.scan_uid)).all())
    assert uids == sorted(x["scan"]["id"] for x in scans)
    # Importing again (or a bundle overlapping what came over the network) adds nothing.
    assert "0 new scan(s), 3 already stored" in _run(["import", str(bundle), "--data-dir", srv])
    assert _count(engine) == 3


def test_export_clear_empties_the_outbox_only_after_the_bundle_verifies(
    tmp_path: Path, probe_cfg: Path
) -> None:
    cfg = load_config(probe_cfg, env={})
    generate_keypair(cfg.key_path)
    box = Outbox(cfg.outbox_dir)
    box.put(make_scan("one"))
    assert export_outbox(cfg, tmp_path / "b.tar", clear=True) == 1
    assert len(box) == 0
    box.put(make_scan("two"))
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match="cannot write the bundle"):
        export_outbox(cfg, tmp_path / "a-file" / "b.tar", clear=True)
    assert [i.scan_id for i in box] == ["two"], "a failed export keeps the outbox"


def _signed_bundle(tmp_path: Path, engine: Engine, n: int = 2) -> Path:
    cfg = load_config(tmp_path / "probe.toml", env={})
    pub = generate_keypair(cfg.key_path)
    register_key(engine, "pi-north", public_text(pub), actor="test")
    box = Outbox(cfg.outbox_dir)
    for _ in range(n):
        box.put(make_scan())
    out = tmp_path / "b.tar"
    export_outbox(cfg, out)
    return out


def _rewrite(src: Path, dst: Path, change: dict[str, bytes]) -> None:
    """Copy a tar, replacing the named members' bytes (what a tamperer would do)."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read()  # type: ignore[union-attr]
            for name, new in change.items():
                if m.name == name or (name.endswith("*") and m.name.startswith(name[:-1])):
                    data = new if not new.startswith(b"s/") else _sub(data, new)
            m.size = len(data)
            tout.addfile(m, io.BytesIO(data))


def _sub(data: bytes, expr: bytes) -> bytes:
    _, old, new, _ = expr.split(b"/")
    assert old in data
    return data.replace(old, new, 1)


def test_tampered_scan_is_rejected_and_nothing_stored(
    tmp_path: Path, probe_cfg: Path, engine: Engine
) -> None:
    good = _signed_bundle(tmp_path, engine)
    bad = tmp_path / "tampered.tar"
    _rewrite(good, bad, {"scans/*": b"s/Hikvision/Axis/"})
    with pytest.raises(BundleError, match="does not match its signed hash: tampered"):
        import_bundle(engine, bad)
    assert _count(engine) == 0


def test_tampered_manifest_fails_the_signature(
    tmp_path: Path, probe_cfg: Path, engine: Engine
) -> None:
    good = _signed_bundle(tmp_path, engine)
    bad = tmp_path / "tampered.tar"
    _rewrite(good, bad, {"manifest.json": b's/"size": /"size":  /'})
    with pytest.raises(BundleError, match="signature does not verify"):
        import_bundle(engine, bad)
    extra = tmp_path / "extra.tar"
    with tarfile.open(good) as tin, tarfile.open(extra, "w") as tout:
        for m in tin.getmembers():
            tout.addfile(m, tin.extractfile(m))
        blob = b'{"scan": {"id": "smuggled"}}'
        info = tarfile.TarInfo("scans/smuggled.json")
        info.size = len(blob)
        tout.addfile(info, io.BytesIO(blob))
    with pytest.raises(BundleError, match="does not list"):
        import_bundle(engine, extra)
    assert _count(engine) == 0


def test_unknown_key_and_revoked_probe_are_rejected(
    tmp_path: Path, probe_cfg: Path, engine: Engine
) -> None:
    good = _signed_bundle(tmp_path, engine)
    # The server now holds a different key for the probe: the bundle's key is unknown.
    other = generate_keypair(tmp_path / "other.key")
    register_key(engine, "pi-north", public_text(other), actor="test")
    with pytest.raises(BundleError, match="which no probe has registered"):
        import_bundle(engine, good)
    result = CliRunner().invoke(cli, ["import", str(good), "--data-dir", str(tmp_path / "srv")])
    assert isinstance(result.exception, BundleError)
    # With the right key back, a revoked probe's bundle is still refused.
    cfg = load_config(probe_cfg, env={})
    own = (cfg.key_path.with_name("signing.key.pub")).read_text()
    register_key(engine, "pi-north", own, actor="test")
    with Session(engine) as s:
        revoke_probe(s, probe_by_name(s, "pi-north"), "test")
    with pytest.raises(BundleError, match="revoked"):
        import_bundle(engine, good)
    assert _count(engine) == 0


def test_not_a_bundle_gives_a_clear_error(tmp_path: Path, engine: Engine) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar file" * 40)
    with pytest.raises(BundleError, match="not a readable bundle"):
        import_bundle(engine, junk)
    with pytest.raises(BundleError, match="not a readable bundle"):
        import_bundle(engine, tmp_path / "missing.tar")
