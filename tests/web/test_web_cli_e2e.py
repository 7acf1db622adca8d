"""The dashboard CLI commands, and the real server (uvicorn) on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from scanfactory import make_device, make_scan
from typer.testing import CliRunner

from auditor.cli import app as cli
from auditor.errors import CamauditError
from web.app import create_app
from web.client import upload_scan
from web.settings import Settings


def _run(args: list[str], data_dir: Path, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir)], input=stdin)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def test_cli_site_probe_user(tmp_path: Path) -> None:
    assert "site 'north' added" in _run(["site", "add", "north"], tmp_path)
    out = _run(["probe", "add", "--site", "north", "pi-1"], tmp_path)
    token = out.strip().splitlines()[-1]
    assert token.startswith("cat_")
    assert "added with role admin" in _run(
        ["user", "add", "alice", "--role", "admin", "--password-stdin"],
        tmp_path,
        "long-password-1\n",
    )
    prompted = _run(["user", "add", "bob"], tmp_path, "long-password-2\nlong-password-2\n")
    assert "added with role auditor" in prompted and "long-password-2" not in prompted
    dup = CliRunner().invoke(cli, ["site", "add", "north", "--data-dir", str(tmp_path)])
    assert isinstance(dup.exception, CamauditError) and "already exists" in str(dup.exception)
    short = CliRunner().invoke(
        cli,
        ["user", "add", "eve", "--password-stdin", "--data-dir", str(tmp_path)],
        input="short\n",
    )
    assert isinstance(short.exception, CamauditError)
    assert "probe 'pi-1' revoked" in _run(["probe", "revoke", "pi-1"], tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path / "srv"
    app = create_app(Settings(data_dir=data_dir, env="test"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail("the server did not answer /healthz within 15 s")
        time.sleep(0.05)
    try:
        yield url, data_dir
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()


def test_real_server_ingests_over_http(live_server: tuple[str, Path]) -> None:
    url, data_dir = live_server
    _run(["site", "add", "north"], data_dir)
    token = _run(["probe", "add", "--site", "north", "pi-1"], data_dir).strip().splitlines()[-1]
    scan = make_scan("e2e-1", devices=[make_device(i) for i in range(5)])
    first = upload_scan(url, token, scan, timeout=10)
    assert first["created"] is True and first["devices"] == 5
    assert upload_scan(url, token, scan, timeout=10)["created"] is False
    with pytest.raises(CamauditError, match="refused the probe token"):
        upload_scan(url, "cat_wrong", scan, timeout=10)
    assert httpx.get(f"{url}/api/devices", timeout=5).status_code == 401
