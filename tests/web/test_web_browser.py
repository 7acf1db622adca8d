"""The dashboard in a real browser: Playwright driving Debian's Chromium.

Playwright's own browser download cannot work on an offline appliance (or in CI here),
so the test points it at ``/usr/bin/chromium`` (``make test`` installs it:
TEST_APT_PACKAGES). Screenshots of the main pages go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from scanfactory import make_device, make_scan
from sqlmodel import Session

from web.app import create_app
from web.client import upload_scan
from web.crud import create_probe, create_site, create_user
from web.jobs import create_schedule
from web.models import ProbeCreate, ScheduleCreate, SiteCreate, UserCreate
from web.settings import Settings

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
PASSWORD = "browser-password-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(data_dir=tmp_path / "srv", env="test"))
    with Session(app.state.engine) as s:
        site = create_site(s, SiteCreate(name="north", description="North district"), "test")
        assert site.id is not None
        _, token = create_probe(s, ProbeCreate(name="pi-north", site_id=site.id), "test")
        create_user(s, UserCreate(username="admin", password=PASSWORD, role="admin"), "test")
        create_schedule(s, ScheduleCreate(name="nightly", site_id=site.id, spec="0 2 * * *",
                                          targets=["198.18.0.0/24"]), "test")  # fmt: skip
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not srv.started:
        if time.monotonic() > deadline:
            pytest.fail("the dashboard did not start within 15 s")
        time.sleep(0.05)
    start = 1_700_000_000.0
    for n in range(3):
        devices = [make_device(i, n_findings=2 + (i + n) % 4) for i in range(12 + 3 * n)]
        upload_scan(url, token, make_scan(f"scan-{n}", devices=devices, started=start + n * 86400))
    try:
        yield url
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()


def test_log_in_browse_acknowledge_and_download_the_pdf(server: str) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: make test installs it")
        pytest.skip("apt-get install chromium to run the browser test")
    from playwright.sync_api import expect, sync_playwright

    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            page.goto(f"{server}/devices")  # not signed in: the login page, then back here
            expect(page).to_have_url(f"{server}/login?next=/devices")
            page.screenshot(path=SHOTS / "login.png")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{server}/devices")

            page.fill("input[name=q]", "lorex")
            page.press("input[name=q]", "Enter")
            expect(page.locator("tbody tr")).to_have_count(3)
            page.screenshot(path=SHOTS / "devices.png", full_page=True)
            page.locator("tbody tr a").first.click()
            expect(page.locator("h1")).to_contain_text("Lorex")

            row = page.locator("tr", has=page.locator("button", has_text="Acknowledge")).first
            rule = row.locator("code").first.inner_text()
            row.locator("button", has_text="Acknowledge").click()
            acked = page.locator("tr", has=page.locator("code", has_text=rule))
            expect(acked.first).to_contain_text("acknowledged by admin")
            page.screenshot(path=SHOTS / "device.png", full_page=True)

            for name, path in (("overview", "/"), ("findings", "/findings"), ("scans", "/scans"),
                               ("diff", "/scans/diff?a=1&b=3"), ("schedules", "/schedules"),
                               ("admin", "/admin"), ("report", "/reports/audit.html")):  # fmt: skip
                page.goto(server + path)
                expect(page.locator("h1")).to_be_visible()
                page.screenshot(path=SHOTS / f"{name}.png", full_page=name != "report")

            page.goto(server + "/")
            expect(page.locator("svg.chart")).to_have_count(5)
            with page.expect_download() as info:
                page.click("text=PDF")
            pdf = info.value
            saved = SHOTS.parent / pdf.suggested_filename
            pdf.save_as(saved)
            assert saved.read_bytes().startswith(b"%PDF-") and saved.stat().st_size > 10_000
            assert errors == [], errors  # no CSP violation, no missing asset
        finally:
            browser.close()
    assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200
