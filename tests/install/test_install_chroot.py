"""deploy/install.sh on a clean Debian bookworm: debootstrap a minimal system in a chroot,
install the probe role and then the server role for real (packages, user, venv, units),
run the server's camaudit as its service user, check both, uninstall them.

Everything lives in one temp dir under /var/tmp and is unmounted and removed at the end;
nothing outside it is touched. The chroot shares the host's network only to reach the
Debian mirror the host's apt uses. camaudit and its dependencies go in from a wheelhouse
built on the host (``install.sh --wheels``), which is also how an offline Pi installs.
Inside a chroot systemd is not running: the installer must say so, enable the unit
offline, and start nothing.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# The checkout minus what is big, private to this machine, or rebuilt anyway.
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "node_modules",
)

log = logging.getLogger(__name__)


def host_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian archive the host's apt uses (only package registries are reachable)."""
    files = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]
    for f in files:
        if not f.is_file() or f.suffix not in ("", ".list", ".sources"):
            continue
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.split("#", 1)[0].strip()
            m = re.match(
                r"(?:deb\s+(?:\[[^]]*\]\s+)?|URIs:\s*)(https?://\S+/debian)/?(?:\s|$)", line
            )
            if m and not m.group(1).endswith("debian-security"):
                return m.group(1)
    return DEFAULT_MIRROR


def _run(*cmd: str | Path, timeout: float = 600, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    args = [str(c) for c in cmd]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        points = [ln.split()[1].replace("\\040", " ") for ln in fh]
    return [p for p in points if p == str(root) or p.startswith(prefix)]


class Chroot:
    """A debootstrapped Debian in ``base/root`` with /proc and /sys mounted."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"

    def bootstrap(self, mirror: str) -> None:
        # minbase + systemd: what a fresh Debian or Raspberry Pi OS Lite has that matters
        # here (systemctl and the system's own units), without booting it.
        _run("debootstrap", "--variant=minbase", "--include=systemd", SUITE, self.root, mirror,
             timeout=900)  # fmt: skip
        # debootstrap made the static nodes (null, zero, urandom, tty) in root/dev, so the
        # host's /dev is not bound in: nothing the chroot does can reach the host's devices.
        _run("mount", "-t", "proc", "proc", self.root / "proc")
        _run("mount", "-t", "sysfs", "-o", "ro", "sysfs", self.root / "sys")

    def run(
        self, *cmd: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root",
               "DEBIAN_FRONTEND": "noninteractive"}  # fmt: skip
        return _run("chroot", self.root, *cmd, timeout=timeout, env=env, check=check)

    def cleanup(self) -> None:
        """Unmount what we mounted, then delete ``base``, refusing if anything is mounted."""
        for point in sorted(_mounts_under(self.root), key=len, reverse=True):
            if _run("umount", point, check=False).returncode != 0:
                _run("umount", "-l", point, check=False)  # busy: detach it now, free later
        left = _mounts_under(self.root)
        if left:
            raise AssertionError(f"still mounted, {self.base} left in place: {left}")
        # --one-file-system: never descend into a mount, even one that appeared meanwhile.
        _run("rm", "-rf", "--one-file-system", self.base, check=False)


@pytest.fixture
def chroot() -> Iterator[Chroot]:
    if os.geteuid() != 0:
        pytest.fail("this test needs root to debootstrap and chroot (CI runs as root)")
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing (apt-get install debootstrap; make test-deps)")
    base = Path(tempfile.mkdtemp(prefix="camaudit-install-", dir="/var/tmp"))
    env = Chroot(base)
    try:
        yield env
    finally:
        env.cleanup()


def _wheelhouse(dest: Path) -> Path:
    """Build camaudit's wheel and every dependency's into ``dest``; return camaudit's."""
    src = dest.parent / "src"
    shutil.copytree(REPO, src, ignore=COPY_IGNORE, symlinks=True)  # no build/ race in REPO
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", dest, src, timeout=900)
    (wheel,) = dest.glob("camaudit-*.whl")
    return wheel


def unit_environment(unit: Path, root: Path) -> dict[str, str]:
    """The environment systemd gives ``unit``'s service: its Environment= lines, then
    its EnvironmentFile= (read under ``root``), which overrides them, as systemd does."""
    env: dict[str, str] = {}
    files = []
    for line in unit.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            name, _, val = value.partition("=")
            env[name] = val
        elif key == "EnvironmentFile":
            files.append(value.lstrip("-"))
    for f in files:
        for line in (root / f.lstrip("/")).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                name, _, val = line.partition("=")
                env[name.strip()] = val.strip()
    return env


def _verify_unit(root: Path, name: str) -> None:
    """``systemd-analyze verify`` on an installed unit against the chroot's own systemd
    units and real venv: no error and no warning (a misspelt option is only a warning)."""
    v = _run("systemd-analyze", f"--root={root}", "verify", f"{root}/etc/systemd/system/{name}",
             check=False)  # fmt: skip
    assert v.returncode == 0 and not v.stderr.strip(), v.stderr


def _modes(chroot: Chroot, *paths: str) -> list[str]:
    return chroot.run("stat", "-c", "%a %U:%G", *paths).stdout.split("\n")[: len(paths)]


@pytest.mark.needs_root
@pytest.mark.slow
def test_install_both_roles_on_clean_debian(chroot: Chroot) -> None:
    """One chroot, both roles (one box may be both): probe, then server, then removal."""
    t0 = time.monotonic()
    mirror = host_mirror()
    chroot.bootstrap(mirror)
    t_boot = time.monotonic()

    wheels = chroot.root / "srv/wheels"
    wheel = _wheelhouse(wheels)
    shutil.copytree(REPO / "deploy", chroot.root / "srv/camaudit/deploy", ignore=COPY_IGNORE)
    shutil.copytree(REPO / "docs", chroot.root / "srv/camaudit/docs")
    install = "/srv/camaudit/deploy/install.sh"
    source = ("--source", f"/srv/wheels/{wheel.name}", "--wheels", "/srv/wheels")
    r = chroot.run("bash", install, "--role", "probe", *source, timeout=900)
    t_install = time.monotonic()
    assert "systemd is not running here" in r.stdout, r.stdout
    assert "installed and enabled, not started" in r.stdout

    # The service user: a system account that cannot log in.
    user = chroot.run("getent", "passwd", "camaudit").stdout.split(":")
    assert int(user[2]) < 1000 and user[6].strip() == "/usr/sbin/nologin"
    # The venv runs camaudit.
    version = chroot.run("/opt/camaudit/venv/bin/camaudit", "--version").stdout
    assert re.search(r"\d+\.\d+", version), version
    # Private config and data, owned as the units expect.
    stat = _modes(chroot, "/etc/camaudit", "/etc/camaudit/probe.toml", "/var/lib/camaudit/probe")
    assert stat == ["750 root:camaudit", "640 root:camaudit", "750 camaudit:camaudit"], stat
    units = chroot.root / "etc/systemd/system"
    probe_unit = units / "camaudit-probe.service"
    probe_wants = units / "multi-user.target.wants/camaudit-probe.service"
    assert probe_unit.is_file() and probe_wants.is_symlink()
    assert (chroot.root / "etc/systemd/journald.conf.d/50-camaudit.conf").is_file()
    _verify_unit(chroot.root, "camaudit-probe.service")

    # The server role on the same box: the venv is reused, the probe's files stay.
    r = chroot.run("bash", install, "--role", "server", *source, timeout=900)
    t_server = time.monotonic()
    assert "camaudit-server.service" in r.stdout and "not started" in r.stdout, r.stdout
    server_unit = units / "camaudit-server.service"
    server_wants = units / "multi-user.target.wants/camaudit-server.service"
    assert server_unit.is_file() and server_wants.is_symlink() and probe_wants.is_symlink()
    _verify_unit(chroot.root, "camaudit-server.service")
    stat = _modes(chroot, "/etc/camaudit/server.env", "/var/lib/camaudit/server")
    assert stat == ["640 root:camaudit", "750 camaudit:camaudit"], stat

    # camaudit as the service runs it: the dedicated user, the unit's environment
    # (CAMAUDIT_ENV=production, the generated secret, CAMAUDIT_DATA_DIR) and its SQLite.
    env = unit_environment(server_unit, chroot.root)
    assert env["CAMAUDIT_ENV"] == "production" and len(env["CAMAUDIT_SECRET_KEY"]) >= 32
    data = env["CAMAUDIT_DATA_DIR"]
    assert data == "/var/lib/camaudit/server"
    home = chroot.run("getent", "passwd", "camaudit").stdout.split(":")[5]  # as systemd sets it
    as_user = ("runuser", "-u", "camaudit", "--", "env", f"HOME={home}",
               *(f"{k}={v}" for k, v in env.items()))  # fmt: skip
    camaudit = "/opt/camaudit/venv/bin/camaudit"
    assert "--port" in chroot.run(*as_user, camaudit, "serve", "--help").stdout
    r = chroot.run(*as_user, camaudit, "db", "upgrade")
    assert "migrated from empty to" in r.stdout, r.stdout
    assert "already at revision" in chroot.run(*as_user, camaudit, "db", "upgrade").stdout
    assert "up to date" in chroot.run(*as_user, camaudit, "db", "status").stdout
    # The app itself starts in production with that secret and database, and the
    # PDF report's native libraries (Pango, HarfBuzz, a font) are there for WeasyPrint.
    check = (
        "from web.app import create_app; create_app()\n"
        "from weasyprint import HTML\n"
        "assert HTML(string='<h1>Audit</h1>').write_pdf().startswith(b'%PDF')"
    )
    chroot.run(*as_user, "/opt/camaudit/venv/bin/python", "-c", check, timeout=120)
    # A login umask of 022 must not leave the database readable by the group.
    db = f"{data}/camaudit.db"
    assert _modes(chroot, db) == ["600 camaudit:camaudit"]
    wal = chroot.root / db.lstrip("/")
    for side in (wal.with_name("camaudit.db-wal"), wal.with_name("camaudit.db-shm")):
        if side.exists():
            assert side.stat().st_mode & 0o077 == 0, side
    t_checks = time.monotonic()

    r = chroot.run("bash", install, "--uninstall")
    assert "kept /etc/camaudit" in r.stdout
    for path in (probe_unit, probe_wants, server_unit, server_wants):
        assert not path.exists() and not path.is_symlink(), path
    assert not (chroot.root / "opt/camaudit").exists()
    for kept in ("etc/camaudit/probe.toml", "etc/camaudit/server.env", db.lstrip("/")):
        assert (chroot.root / kept).exists(), kept  # config and results stay
    chroot.run("bash", install, "--uninstall", "--purge")
    assert not (chroot.root / "etc/camaudit").exists()
    assert not (chroot.root / "var/lib/camaudit").exists()
    assert chroot.run("getent", "passwd", "camaudit", check=False).returncode == 2
    assert chroot.run("getent", "group", "camaudit", check=False).returncode == 2
    t_end = time.monotonic()
    log.warning(
        "clean-Debian install: debootstrap %.0f s, wheels + probe install %.0f s, "
        "server install %.0f s, server checks %.0f s, removal %.0f s, total %.0f s "
        "(mirror %s)", t_boot - t0, t_install - t_boot, t_server - t_install,
        t_checks - t_server, t_end - t_checks, t_end - t0, mirror,
    )  # fmt: skip


def test_host_mirror_reads_both_apt_formats(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    assert host_mirror(tmp_path) == DEFAULT_MIRROR
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n"
    )
    assert host_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] https://m.example/debian bookworm main\n"
    )
    assert host_mirror(tmp_path) == "https://m.example/debian"


def test_missing_wheelhouse_is_a_clear_error(tmp_path: Path) -> None:
    r = _run("bash", REPO / "deploy/install.sh", "--role", "probe", "--root", tmp_path,
             "--wheels", tmp_path / "nowhere", check=False)  # fmt: skip
    assert r.returncode == 2 and "--wheels" in r.stderr and "is not a directory" in r.stderr
    assert not (tmp_path / "etc").exists()  # refused before writing anything
