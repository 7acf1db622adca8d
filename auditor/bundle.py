"""Signed offline bundles: how a probe on an air-gapped VLAN hands scans to the server.

A bundle is an uncompressed tar holding ``manifest.json`` (the probe's name, its key id
and the sha256 and size of every scan file), ``manifest.sig`` (an ed25519 signature of
the manifest's exact bytes) and ``scans/<name>.json`` (each a scan's ``--json`` shape).
The probe writes it (``camaudit probe export``); the server reads it
(``camaudit import``), checks the signature against the key registered for that probe,
then each file's hash, before it stores anything.

This module is the format, shared by both sides so they cannot drift apart. Pure logic
and file I/O: no network, no web library.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditor.errors import CamauditError, ConfigError

FORMAT = "camaudit-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SCANS_DIR = "scans/"
# A bundle is read into memory one member at a time; these caps keep a hostile or
# damaged bundle from exhausting the server (32 MiB is the ingest API's default limit).
MAX_MEMBER_BYTES = 32 * 1024 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_FILES = 100_000


class BundleError(CamauditError):
    """A bundle is unreadable, unsigned, signed by an unknown key, or tampered with."""


@dataclass(frozen=True)
class BundleScan:
    name: str  # member name, e.g. "scans/000000000007-<scan id>.json"
    scan_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class VerifiedBundle:
    probe: str
    key_id: str
    created: float
    scans: list[BundleScan]


# --- keys --------------------------------------------------------------------------------


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short stable id of a public key: the first 16 bytes of sha256(raw key), hex."""
    return hashlib.sha256(public_raw(public_key)).hexdigest()[:32]


def public_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(public_key: Ed25519PublicKey) -> str:
    """The one-line form an admin copies to the server: ``ed25519:<base64 raw key>``."""
    return "ed25519:" + base64.b64encode(public_raw(public_key)).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    """Parse ``ed25519:<base64>`` (or bare base64, or a PEM block); raise ConfigError."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
            if not isinstance(key, Ed25519PublicKey):
                raise ConfigError("the PEM public key is not an ed25519 key")
            return key
        raw = base64.b64decode(text.removeprefix("ed25519:"), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:  # bad base64, wrong length, malformed PEM
        raise ConfigError(f"not an ed25519 public key ({exc}): {text[:60]!r}") from exc


def generate_keypair(private_path: Path, *, overwrite: bool = False) -> Ed25519PublicKey:
    """Create an ed25519 key at ``private_path`` (PEM, mode 0600) and ``<path>.pub``.

    Returns the public key. Refuses to replace an existing key unless ``overwrite``:
    bundles signed with the old key would no longer import once the server has the new.
    """
    if private_path.exists() and not overwrite:
        raise ConfigError(f"{private_path} already exists; pass --force to replace the key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = private_path.with_name(private_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, private_path)
        pub_path = private_path.with_name(private_path.name + ".pub")
        pub_path.write_text(public_text(key.public_key()) + "\n", encoding="ascii")
    except OSError as exc:
        raise ConfigError(f"cannot write the key {private_path}: {exc}") from exc
    return key.public_key()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read the probe's signing key; raise ConfigError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the signing key {path}: {exc} (create one: camaudit probe keygen)"
        ) from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:  # not PEM, encrypted, unsupported
        raise ConfigError(f"{path} is not a usable private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an ed25519 key")
    return key


# --- writing -----------------------------------------------------------------------------


def write_bundle(
    out: Path, probe: str, scans: Iterable[tuple[str, bytes]], key: Ed25519PrivateKey
) -> int:
    """Write a signed bundle of ``(file name, scan JSON bytes)`` to ``out``; return the count.

    Written to a temp file, fsynced, then renamed, so a half-written bundle never has
    the final name. Raises :class:`BundleError` for a scan that is not a scan JSON and
    ConfigError when ``out`` cannot be written.
    """
    entries: list[dict[str, Any]] = []
    blobs: list[tuple[str, bytes]] = []
    for fname, blob in scans:
        scan_id = _scan_id(blob, fname)
        name = SCANS_DIR + fname
        entries.append(
            {
                "name": name,
                "scan_id": scan_id,
                "size": len(blob),
                "sha256": hashlib.sha256(blob).hexdigest(),
            }
        )
        blobs.append((name, blob))
    manifest = {
        "format": FORMAT,
        "probe": probe,
        "key_id": key_id(key.public_key()),
        "created": time.time(),
        "files": entries,
    }
    mbytes = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
    sig = key.sign(mbytes)
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name, blob in [(MANIFEST, mbytes), (SIGNATURE, sig), *blobs]:
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(blob), int(time.time()), 0o644
                    tar.addfile(info, io.BytesIO(blob))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        with contextlib.suppress(OSError):  # the directory may not exist at all
            tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write the bundle {out}: {exc}") from exc
    return len(entries)


def _scan_id(blob: bytes, where: str) -> str:
    try:
        scan_id = json.loads(blob)["scan"]["id"]
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, or not a scan JSON
        raise BundleError(f"{where} is not a scan JSON (no scan.id): {exc}") from exc
    if not isinstance(scan_id, str) or not scan_id:
        raise BundleError(f"{where}: scan.id must be a non-empty string")
    return scan_id


# --- reading -----------------------------------------------------------------------------


def read_bundle(path: Path, find_key: Callable[[str, str], Ed25519PublicKey]) -> VerifiedBundle:
    """Open ``path``, verify it, and return its scans.

    ``find_key(key_id, probe_name)`` returns the public key registered for that probe
    (raising :class:`BundleError` when none is). Raises BundleError when the file is not
    a bundle, the signature does not verify, a file's hash or size differs from the
    manifest, a file is missing or a file is present that the manifest does not list.
    Nothing is returned unless everything checks out.
    """
    try:
        tar = tarfile.open(path, mode="r:")  # noqa: SIM115  # closed by the with below
    except (OSError, tarfile.TarError) as exc:  # missing file, not a tar, truncated header
        raise BundleError(f"{path} is not a readable bundle: {exc}") from exc
    with tar:
        try:
            members = {m.name: m for m in tar.getmembers()}
        except (OSError, tarfile.TarError) as exc:  # truncated or corrupt archive
            raise BundleError(f"{path} is damaged: {exc}") from exc
        if len(members) > MAX_FILES + 2:
            raise BundleError(f"{path} holds {len(members)} files: more than a bundle may")
        mbytes = _member(tar, members, MANIFEST, MAX_MANIFEST_BYTES, path)
        sig = _member(tar, members, SIGNATURE, 128, path)
        try:
            manifest = json.loads(mbytes)
        except ValueError as exc:
            raise BundleError(f"{path}: the manifest is not JSON: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{path}: not a {FORMAT} manifest")
        probe, kid = str(manifest.get("probe", "")), str(manifest.get("key_id", ""))
        public = find_key(kid, probe)
        if key_id(public) != kid:
            raise BundleError(
                f"{path} says it was signed by key {kid}, but probe {probe!r} has key "
                f"{key_id(public)} registered: refusing it"
            )
        try:
            public.verify(sig, mbytes)
        except InvalidSignature:
            raise BundleError(
                f"{path}: the manifest signature does not verify with probe {probe!r}'s "
                "registered key: the bundle was altered or not signed by that probe"
            ) from None
        # From here on the manifest is authentic; the files must match it exactly.
        files = manifest.get("files")
        if not isinstance(files, list):
            raise BundleError(f"{path}: the manifest has no file list")
        listed = {str(f.get("name")) for f in files if isinstance(f, dict)}
        extra = sorted(set(members) - listed - {MANIFEST, SIGNATURE})
        if extra:
            raise BundleError(f"{path} holds files the signed manifest does not list: {extra[:5]}")
        scans: list[BundleScan] = []
        for entry in files:
            name = str(entry["name"])
            blob = _member(tar, members, name, MAX_MEMBER_BYTES, path)
            if len(blob) != entry.get("size") or (
                hashlib.sha256(blob).hexdigest() != entry.get("sha256")
            ):
                raise BundleError(f"{path}: {name} does not match its signed hash: tampered")
            try:
                data = json.loads(blob)
            except ValueError as exc:  # cannot happen for an honest signer; say so clearly
                raise BundleError(f"{path}: {name} is signed but is not JSON: {exc}") from exc
            scans.append(BundleScan(name=name, scan_id=str(entry.get("scan_id")), data=data))
    return VerifiedBundle(
        probe=probe, key_id=kid, created=float(manifest.get("created") or 0.0), scans=scans
    )


def _member(
    tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str, cap: int, path: Path
) -> bytes:
    info = members.get(name)
    if info is None:
        raise BundleError(f"{path} has no {name}: not a complete bundle")
    if not info.isfile():
        raise BundleError(f"{path}: {name} is not a regular file")
    if info.size > cap:
        raise BundleError(f"{path}: {name} is {info.size} bytes, more than {cap}")
    try:
        fh = tar.extractfile(info)
        if fh is None:
            raise BundleError(f"{path}: cannot read {name}")
        return fh.read(cap + 1)
    except (OSError, tarfile.TarError) as exc:  # truncated member data
        raise BundleError(f"{path}: cannot read {name}: {exc}") from exc
