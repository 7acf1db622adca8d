"""The container form (Dockerfile + compose) stays consistent with the lab's code.

No container engine runs here, so this checks what a build would need: every file the
Dockerfile copies exists, its entry module is real and importable, every profile the
compose file asks for exists, and the compose network stays in the lab's range.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "deploy" / "lab"
DOCKERFILE = LAB / "Dockerfile"
COMPOSE = LAB / "compose.yaml"

pytestmark = pytest.mark.lab


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_dockerfile_copies_existing_files_from_the_compose_context() -> None:
    services = _compose()["services"]
    for svc in services.values():
        build = svc["build"]
        context = (LAB / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    copies = [rest for op, rest in _instructions() if op == "COPY"]
    assert copies
    for rest in copies:
        *sources, _dest = shlex.split(rest)
        for src in sources:
            assert (ROOT / src).exists(), f"COPY {src}: missing from the build context"


def test_entry_module_exists_and_parses_its_arguments() -> None:
    (entry,) = [json.loads(rest) for op, rest in _instructions() if op == "ENTRYPOINT"]
    assert entry[:2] == ["python3", "-m"]
    module = importlib.import_module(entry[2])
    assert module.__name__ == "camlab.single" and callable(module.main)
    assert (LAB / "camlab" / "single.py").is_file()
    # CMD and every compose command are valid arguments for it
    (cmd,) = [json.loads(rest) for op, rest in _instructions() if op == "CMD"]
    commands = [cmd] + [svc["command"] for svc in _compose()["services"].values()]
    parser_flags = {"--profile", "--seed", "--instance", "--media-dir", "--truth"}
    for argv in commands:
        assert {a for a in argv if a.startswith("--")} <= parser_flags


def test_compose_profiles_exist_and_network_is_in_the_lab_range() -> None:
    profiles = {p.stem for p in (LAB / "camlab" / "profiles").glob("*.toml")}
    for name, svc in _compose()["services"].items():
        argv = svc["command"]
        profile = argv[argv.index("--profile") + 1]
        assert profile in profiles, f"service {name}: no profile {profile}"
    lab_range = ipaddress.ip_network("198.18.0.0/15")
    for net in _compose()["networks"].values():
        assert net.get("internal") is True  # the cameras get no route out
        for pool in net["ipam"]["config"]:
            assert ipaddress.ip_network(pool["subnet"]).subnet_of(lab_range)
