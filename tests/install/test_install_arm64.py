"""deploy/install.sh on arm64 (a Raspberry Pi 4/5 with 64-bit Raspberry Pi OS, or Debian
arm64), run for real on an amd64 host under qemu-user emulation. Opt-in: it takes
minutes, so ``make test`` reports it as skipped; run it with

    CAMAUDIT_ARM64_CHECK=1 .venv/bin/python -m pytest -W error tests/install/test_install_arm64.py

(root; it installs qemu-user-static and binfmt-support with apt if they are missing).

It debootstraps a minimal Debian bookworm arm64 into a temp dir under /var/tmp from the
mirror the host's apt uses, copies the checkout in as ``git clone`` leaves it on a Pi,
and runs ``deploy/install.sh --role probe`` in it: apt installs Debian's arm64 packages,
pip installs camaudit and every dependency from a wheelhouse of aarch64 wheels that the
host's pip downloads from PyPI (``pip download --platform manylinux..._aarch64
--only-binary=:all:``), the offline-Pi path of docs/deploy.md. The host's pip, not the
chroot's, talks to PyPI because the host's pip configuration (index, proxy, CA bundle)
is what reaches it; a fresh chroot has none of that. The chroot shares the host's
network only so apt reaches the Debian mirror; nothing is scanned.

Then, as the service user with the probe unit's environment: ``camaudit --version``,
every native dependency imports, ``camaudit data check`` and ``camaudit pcap`` on a
small site capture (a file: no network). ``systemd-analyze verify`` runs inside, on the
arm64 systemd. Last the uninstall, and everything is unmounted and deleted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which does not put test directories on
# sys.path: the amd64 installer test (host_mirror, Chroot) and the site capture builder
# are plain modules beside their tests, reused here rather than copied.
_TESTS = Path(__file__).resolve().parents[1]
for _d in (_TESTS / "install", _TESTS / "traffic"):
    if str(_d) not in sys.path:
        sys.path.insert(0, str(_d))

from sitecap import CAM, SITE_DNS, SITE_NTP, VMS, site_capture  # noqa: E402
from test_install_chroot import (  # noqa: E402
    COPY_IGNORE,
    REPO,
    SUITE,
    Chroot,
    _mounts_under,
    _run,
    host_mirror,
    unit_environment,
)

OPT_IN = "CAMAUDIT_ARM64_CHECK"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
EMULATION_PACKAGES = ("qemu-user-static", "binfmt-support")
BOOKWORM_PYTHON = "3.11"  # Debian 12's python3, which install.sh's venv is made from
# Every native (compiled) dependency the probe needs, plus the web stack it ships with.
NATIVE_IMPORTS = (
    "import cv2, scapy, zeep, onvif, fastapi, sqlmodel, cryptography, lxml, pydantic_core"
)

log = logging.getLogger(__name__)

pytestmark = [
    pytest.mark.skipif(
        os.environ.get(OPT_IN) != "1",
        reason=f"opt-in arm64 installer check under qemu (about 5 min): set {OPT_IN}=1 "
        "(root; reaches the Debian mirror and PyPI)",
    ),
    pytest.mark.needs_root,
    pytest.mark.slow,
]


def _binfmt_status(name: str) -> tuple[bool, str]:
    """(enabled, flags) of a registered binfmt_misc handler; (False, "") if absent."""
    entry = BINFMT / name
    if not entry.is_file():
        return False, ""
    text = entry.read_text(encoding="utf-8")
    flags = re.search(r"^flags:\s*(\S*)", text, re.M)
    return text.startswith("enabled"), flags.group(1) if flags else ""


def ensure_arm64_emulation() -> None:
    """Install qemu-user-static and binfmt-support, mount binfmt_misc and register
    qemu-aarch64. These are host-wide and are left in place (like an installed
    package); the check only adds what is missing."""
    if _run("dpkg", "-s", *EMULATION_PACKAGES, check=False).returncode != 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run("apt-get", "update", "-q", env=env)
        _run("apt-get", "install", "-y", "-q", "--no-install-recommends",
             *EMULATION_PACKAGES, env=env)  # fmt: skip
    if not (BINFMT / "status").exists():
        # In a container or a VM without systemd nothing mounted it at boot.
        _run("mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT)
    if not _binfmt_status("qemu-aarch64")[0]:
        _run("update-binfmts", "--enable", "qemu-aarch64")
    enabled, flags = _binfmt_status("qemu-aarch64")
    assert enabled, f"qemu-aarch64 is not registered in {BINFMT}"
    # F: the kernel opened the interpreter at registration, so the chroot runs arm64
    # binaries without a copy of qemu inside it (the chroot stays a plain arm64 Debian).
    assert "F" in flags, f"qemu-aarch64 registered without the F flag ({flags!r})"


def aarch64_wheelhouse(dest: Path, src: Path) -> Path:
    """camaudit's wheel (pure Python, built here) and every dependency's aarch64 CPython
    3.11 wheel from PyPI, in ``dest``; return camaudit's. --only-binary: a dependency
    with no aarch64 wheel fails here, as it would on a Pi that has no compiler."""
    shutil.copytree(REPO, src, ignore=COPY_IGNORE, symlinks=True)  # no build/ race in REPO
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", dest, src, timeout=600)
    (wheel,) = dest.glob("camaudit-*.whl")
    # pip expands manylinux2014 to the older aliases only; name each glibc up to
    # bookworm's 2.36 (manylinux_2_17 ... _2_36) so newer-tagged wheels qualify too.
    platforms = [f"manylinux_2_{minor}_aarch64" for minor in range(17, 37)]
    _run(*pip, "download", "--quiet", "--dest", dest, "--only-binary=:all:",
         "--python-version", BOOKWORM_PYTHON, "--implementation", "cp",
         "--abi", "cp311", "--abi", "abi3", "--abi", "none",
         "--platform", "manylinux2014_aarch64", *(f"--platform={p}" for p in platforms),
         wheel, timeout=900)  # fmt: skip
    return wheel


class Arm64Chroot(Chroot):
    """The amd64 test's chroot (runner, mounts, cleanup), bootstrapped for arm64."""

    def bootstrap(self, mirror: str) -> None:
        # Same variant as the amd64 test: what Raspberry Pi OS Lite has that matters.
        _run("debootstrap", "--arch=arm64", "--variant=minbase", "--include=systemd", SUITE,
             self.root, mirror, timeout=1800)  # fmt: skip
        _run("mount", "-t", "proc", "proc", self.root / "proc")
        _run("mount", "-t", "sysfs", "-o", "ro", "sysfs", self.root / "sys")


@pytest.fixture
def arm64() -> Iterator[Arm64Chroot]:
    if os.geteuid() != 0:
        pytest.fail("the arm64 check needs root to install qemu, debootstrap and chroot")
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing (apt-get install debootstrap; make test-deps)")
    ensure_arm64_emulation()
    base = Path(tempfile.mkdtemp(prefix="camaudit-arm64-", dir="/var/tmp"))
    env = Arm64Chroot(base)
    try:
        yield env
    finally:
        env.cleanup()
        assert not _mounts_under(env.root) and not base.exists(), f"{base} left behind"


def test_probe_install_on_debian_arm64(arm64: Arm64Chroot) -> None:
    """The probe role on arm64: packages, user, venv with aarch64 wheels, unit, a real
    run of camaudit as the service user, removal."""
    t0 = time.monotonic()
    mirror = host_mirror()
    arm64.bootstrap(mirror)
    t_boot = time.monotonic()
    # Really arm64, really emulated: dpkg's architecture and the kernel qemu reports.
    assert arm64.run("dpkg", "--print-architecture").stdout.strip() == "arm64"
    assert arm64.run("uname", "-m").stdout.strip() == "aarch64"

    # The checkout as `git clone` leaves it on the Pi, and the aarch64 wheelhouse.
    shutil.copytree(REPO, arm64.root / "srv/camaudit", ignore=COPY_IGNORE, symlinks=True)
    wheel = aarch64_wheelhouse(arm64.root / "srv/wheels", arm64.base / "src")
    t_wheels = time.monotonic()
    r = arm64.run("bash", "/srv/camaudit/deploy/install.sh", "--role", "probe",
                  "--source", f"/srv/wheels/{wheel.name}", "--wheels", "/srv/wheels",
                  timeout=3600)  # fmt: skip
    t_install = time.monotonic()
    assert "systemd is not running here" in r.stdout, r.stdout
    assert "installed and enabled, not started" in r.stdout, r.stdout
    assert "untested" not in r.stdout  # the installer knows arm64

    user = arm64.run("getent", "passwd", "camaudit").stdout.split(":")
    assert int(user[2]) < 1000 and user[6].strip() == "/usr/sbin/nologin"
    units = arm64.root / "etc/systemd/system"
    unit = units / "camaudit-probe.service"
    assert (
        unit.is_file() and (units / "multi-user.target.wants/camaudit-probe.service").is_symlink()
    )
    versions = arm64.run(
        "/opt/camaudit/venv/bin/python", "-c",
        "import platform, sys, cv2, cryptography, scapy\n"
        "print(platform.machine(), sys.version.split()[0], cv2.__version__, "
        "cryptography.__version__, scapy.VERSION)",
    ).stdout.split()  # fmt: skip
    assert versions[0] == "aarch64", versions
    # cv2 and friends came as aarch64 wheels: the chroot, like a fresh Pi, has no compiler.
    assert not any((arm64.root / "usr/bin" / cc).exists() for cc in ("gcc", "cc"))

    # camaudit as systemd runs it: the service user and the unit's own environment.
    env = unit_environment(unit, arm64.root)
    home = user[5]
    as_user = ("runuser", "-u", "camaudit", "--", "env", f"HOME={home}", "COLUMNS=200",
               *(f"{k}={v}" for k, v in env.items()))  # fmt: skip
    camaudit = "/opt/camaudit/venv/bin/camaudit"
    version = arm64.run(*as_user, camaudit, "--version").stdout
    assert re.search(r"\d+\.\d+", version), version
    arm64.run(*as_user, "/opt/camaudit/venv/bin/python", "-c", NATIVE_IMPORTS, timeout=300)
    r = arm64.run(*as_user, camaudit, "data", "check", timeout=300)
    assert r.returncode == 0, r.stdout

    # A real analysis on arm64: the site capture the traffic tests use (a file, no
    # network), readable by the service user as a mirror-port capture would be.
    site_capture(arm64.root / "srv")
    (arm64.root / "srv/site.pcap").chmod(0o644)
    r = arm64.run(*as_user, camaudit, "pcap", "/srv/site.pcap", "--json", "/tmp/site.json",
                  "--site-dns", SITE_DNS, "--site-ntp", SITE_NTP, "--vms", VMS,
                  "--local", "198.18.200.0/24", "--fail-on", "high",
                  timeout=300, check=False)  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr  # P2P and UPnP are high findings
    doc = json.loads((arm64.root / "tmp/site.json").read_text(encoding="utf-8"))
    cam = next(d for d in doc["devices"] if d["ip"] == CAM)
    rules = {f["rule"] for f in cam["findings"]}
    assert {"CAM-NET-P2P", "CAM-NET-UPNP-PORTMAP", "CAM-NET-DNS-HARDCODED"} <= rules, rules

    # The arm64 systemd itself judges the installed unit: no error, no warning.
    v = arm64.run("systemd-analyze", "verify", "/etc/systemd/system/camaudit-probe.service",
                  check=False, timeout=300)  # fmt: skip
    assert v.returncode == 0 and not v.stderr.strip(), v.stderr
    t_checks = time.monotonic()

    r = arm64.run("bash", "/srv/camaudit/deploy/install.sh", "--uninstall", "--purge")
    assert "removed camaudit, its configuration and its data" in r.stdout, r.stdout
    assert not unit.exists() and not (arm64.root / "opt/camaudit").exists()
    assert not (arm64.root / "etc/camaudit").exists()
    assert arm64.run("getent", "passwd", "camaudit", check=False).returncode == 2
    t_end = time.monotonic()
    log.warning(
        "arm64 (qemu) install check: debootstrap %.0f s, aarch64 wheelhouse %.0f s, probe "
        "install %.0f s, checks %.0f s, removal %.0f s, total %.0f s (mirror %s; aarch64 "
        "python %s, opencv %s, cryptography %s, scapy %s)", t_boot - t0, t_wheels - t_boot,
        t_install - t_wheels, t_checks - t_install,
        t_end - t_checks, t_end - t0, mirror, *versions[1:],
    )  # fmt: skip
