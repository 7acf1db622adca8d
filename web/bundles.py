"""Offline bundles on the server: register a probe's public key, import its bundles.

``camaudit import BUNDLE`` calls :func:`import_bundle`: the bundle's signature must
verify with the key registered for the probe that signed it (``register_key``), every
file must match the signed manifest, and then each scan goes through the same
idempotent :func:`web.ingest.ingest_scan` as ``POST /api/ingest``: importing a bundle
twice, or one whose scans already arrived over the network, stores nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from auditor.bundle import BundleError, key_id, parse_public_key, public_text, read_bundle
from auditor.errors import StorageError
from web.crud import audit, probe_by_name
from web.ingest import ingest_scan
from web.models import Probe, ProbeKey
from web.schemas import ScanIn

log = logging.getLogger(__name__)


@dataclass
class ImportSummary:
    probe: str
    created: int = 0
    already: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (scan id, why)


def register_key(engine: Engine, probe_name: str, key_text: str, actor: str) -> str:
    """Register (or replace) ``probe_name``'s bundle-signing key; return its key id.

    Raises ConfigError for an unknown probe or a malformed key.
    """
    key = parse_public_key(key_text)
    kid = key_id(key)
    with Session(engine) as session:
        probe = probe_by_name(session, probe_name)
        row = session.exec(select(ProbeKey).where(ProbeKey.probe_id == probe.id)).first()
        if row is None:
            row = ProbeKey(probe_id=probe.id, key_id=kid, public_key=public_text(key))  # type: ignore[arg-type]  # a stored probe has an id
        else:
            row.key_id, row.public_key = kid, public_text(key)
        session.add(row)
        audit(session, actor, "probe.key", f"probe:{probe_name}", key_id=kid)
        session.commit()
    return kid


def import_bundle(engine: Engine, path: Path, actor: str = "cli") -> ImportSummary:
    """Verify the bundle at ``path`` and store its scans; return what happened.

    Raises :class:`~auditor.bundle.BundleError` (and stores nothing) when the bundle is
    damaged, tampered with, signed by a key no probe has registered, or by a revoked
    probe. A scan that fails validation or storage is listed in ``failed``; the others
    are still stored.
    """
    with Session(engine) as session:
        signer: dict[str, Probe] = {}

        def find_key(kid: str, probe_name: str) -> Ed25519PublicKey:
            row = session.exec(select(ProbeKey).where(ProbeKey.key_id == kid)).first()
            if row is None:
                raise BundleError(
                    f"{path} is signed by key {kid or '(none)'}, which no probe has registered "
                    f"(the bundle says probe {probe_name!r}); register it with "
                    "camaudit probe register-key NAME KEY if you trust it"
                )
            probe = session.get(Probe, row.probe_id)
            if probe is None or probe.name != probe_name:
                owner = probe.name if probe else "?"
                raise BundleError(
                    f"{path} names probe {probe_name!r} but its key belongs to {owner!r}"
                )
            if probe.revoked:
                raise BundleError(f"{path} comes from probe {probe_name!r}, which is revoked")
            signer["probe"] = probe
            return parse_public_key(row.public_key)

        bundle = read_bundle(path, find_key)
        probe = signer["probe"]
        summary = ImportSummary(probe=probe.name)
        for scan in bundle.scans:
            try:
                payload = ScanIn.model_validate(scan.data)
                out = ingest_scan(session, probe, payload)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                why = f"not a valid scan: {'.'.join(map(str, first['loc']))}: {first['msg']}"
                summary.failed.append((scan.scan_id, why))
                continue
            except StorageError as exc:
                summary.failed.append((scan.scan_id, str(exc)))
                continue
            if out.created:
                summary.created += 1
            else:
                summary.already += 1
        audit(
            session,
            actor,
            "bundle.import",
            f"probe:{probe.name}",
            file=path.name,
            created=summary.created,
            already=summary.already,
            failed=len(summary.failed),
        )
        session.commit()
    log.info(
        "imported %s from %s: %d new, %d already stored, %d failed",
        path,
        summary.probe,
        summary.created,
        summary.already,
        len(summary.failed),
    )
    return summary
