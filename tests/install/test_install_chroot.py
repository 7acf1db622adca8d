"""deploy/install.sh on a clean Debian bookworm: debootstrap a minimal system in a chroot,
install the probe role for real (packages, user, venv, units), check it, uninstall it.

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


@pytest.mark.needs_root
@pytest.mark.slow
def test_probe_install_on_clean_debian(chroot: Chroot) -> None:
    t0 = time.monotonic()
    mirror = host_mirror()
    chroot.bootstrap(mirror)
    t_boot = time.monotonic()

    wheels = chroot.root / "srv/wheels"
    wheel = _wheelhouse(wheels)
    shutil.copytree(REPO / "deploy", chroot.root / "srv/camaudit/deploy", ignore=COPY_IGNORE)
    shutil.copytree(REPO / "docs", chroot.root / "srv/camaudit/docs")
    install = "/srv/camaudit/deploy/install.sh"
    r = chroot.run("bash", install, "--role", "probe", "--source", f"/srv/wheels/{wheel.name}",
                   "--wheels", "/srv/wheels", timeout=900)  # fmt: skip
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
    stat = chroot.run("stat", "-c", "%a %U:%G", "/etc/camaudit", "/etc/camaudit/probe.toml",
                      "/var/lib/camaudit/probe").stdout.split("\n")  # fmt: skip
    assert stat[:3] == ["750 root:camaudit", "640 root:camaudit", "750 camaudit:camaudit"], stat
    unit = chroot.root / "etc/systemd/system/camaudit-probe.service"
    wants = chroot.root / "etc/systemd/system/multi-user.target.wants/camaudit-probe.service"
    assert unit.is_file() and wants.is_symlink()
    assert (chroot.root / "etc/systemd/journald.conf.d/50-camaudit.conf").is_file()

    # The units as installed, against the chroot's own systemd units and real venv.
    for name in ("camaudit-probe.service",):
        v = _run("systemd-analyze", f"--root={chroot.root}", "verify",
                 f"{chroot.root}/etc/systemd/system/{name}", check=False)  # fmt: skip
        assert v.returncode == 0 and not v.stderr.strip(), v.stderr

    r = chroot.run("bash", install, "--uninstall")
    assert "kept /etc/camaudit" in r.stdout
    assert not unit.exists() and not wants.is_symlink()
    assert not (chroot.root / "opt/camaudit").exists()
    assert (chroot.root / "etc/camaudit/probe.toml").exists()  # config and results stay
    chroot.run("bash", install, "--uninstall", "--purge")
    assert not (chroot.root / "etc/camaudit").exists()
    assert chroot.run("getent", "passwd", "camaudit", check=False).returncode == 2
    t_end = time.monotonic()
    log.warning(
        "clean-Debian install: debootstrap %.0f s, wheels + install %.0f s, checks %.0f s, "
        "total %.0f s (mirror %s)", t_boot - t0, t_install - t_boot, t_end - t_install,
        t_end - t0, mirror,
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
