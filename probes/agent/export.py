"""``camaudit probe export``: the outbox as a signed bundle for an air-gapped VLAN."""

from __future__ import annotations

import logging
from pathlib import Path

from auditor.bundle import load_private_key, read_bundle, write_bundle
from probes.agent.config import ProbeConfig
from probes.agent.outbox import Outbox

log = logging.getLogger(__name__)


def export_outbox(cfg: ProbeConfig, out: Path, *, clear: bool = False) -> int:
    """Write every scan in the outbox to a signed bundle at ``out``; return how many.

    With ``clear`` the exported files leave the outbox, but only after the written
    bundle has been read back and verified with this probe's own public key: a bundle
    that did not reach the disk intact never costs a result. Raises ConfigError (no
    key, unwritable path) or BundleError.
    """
    key = load_private_key(cfg.key_path)
    outbox = Outbox(cfg.outbox_dir)
    items = list(outbox)
    count = write_bundle(out, cfg.name, [(i.path.name, i.body()) for i in items], key)
    if clear:
        own = key.public_key()
        back = read_bundle(out, lambda _kid, _probe: own)
        written = {s.scan_id for s in back.scans}
        for item in items:
            if item.scan_id in written:
                outbox.remove(item)
        log.info("removed %d exported scan(s) from %s", len(written), outbox.dir)
    return count
