"""Keep the layers one way: probes -> auditor -> web, and the lab apart from the scanner."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NETWORK_OR_WEB = {
    "socket",
    "ssl",
    "asyncio",
    "scapy",
    "zeep",
    "onvif",
    "cv2",
    "fastapi",
    "starlette",
    "sqlmodel",
    "sqlalchemy",
    "httpx",
    "uvicorn",
    "requests",
    "urllib3",
    "aiohttp",
    "http",
    "urllib",
    "probes",
    "web",
    "camlab",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(pkg: str, skip: str | None = None) -> list[Path]:
    files = sorted((ROOT / pkg).rglob("*.py"))
    return [f for f in files if not (skip and skip in f.relative_to(ROOT).parts)]


def test_auditor_imports_no_network_web_or_other_layer() -> None:
    bad = {}
    for f in _modules("auditor", skip="cli"):
        hit = _imports(f) & NETWORK_OR_WEB
        if hit:
            bad[str(f.relative_to(ROOT))] = sorted(hit)
    assert not bad, f"auditor/ must stay pure logic: {bad}"


def test_probes_and_web_do_not_import_each_other() -> None:
    for pkg, other in (("probes", "web"), ("web", "probes")):
        for f in _modules(pkg):
            assert other not in _imports(f), f"{f} imports {other}"


def test_lab_is_apart_from_the_scanner() -> None:
    for f in _modules("deploy/lab/camlab"):
        hit = _imports(f) & {"auditor", "probes", "web"}
        assert not hit, f"{f} imports scanner code {hit}: the lab must not share its parsers"
    for pkg in ("auditor", "probes", "web"):
        for f in _modules(pkg, skip="cli"):
            assert "camlab" not in _imports(f), f"{f} reads the lab: the scanner must not"


def test_layering_test_sees_the_packages() -> None:
    # Guard against this test passing vacuously after a move.
    assert len(_modules("auditor")) >= 3 and _modules("probes") and _modules("web")
