"""Classification: observations in, one identified :class:`Device` per IP out.

For each host we run every fingerprint over every observed field and sort the matches
into three kinds of claim:

* **label** (``vendor``): what the device presents itself as. ONVIF Manufacturer is the
  strongest; then name scopes, page titles, label OUIs. Fingerprint entries that set
  ``vendor`` are label evidence.
* **board** (``oem``): who built it. Entries that set ``oem`` without ``vendor`` (realm
  formats, SDK ports, HardwareId, firmware build strings, server banners) and the OUI of
  the MAC are board evidence. With no board evidence the label resolves through
  ``oem.toml`` when every product of the label comes from one maker.
* **type**: camera/nvr/computer/printer/switch. A device is a camera only on camera
  evidence (ONVIF video type or media service, RTSP media, a camera fingerprint);
  non-camera fingerprints (WS-Discovery ``pub:Computer``, printer servers) win on merit.

Weights combine as independent evidence: ``1 - prod(1 - w)``. Every claim that shaped
the identity is recorded in ``Device.evidence`` with ``claim`` saying what it supports.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from auditor.fingerprints import FingerprintDB, Match, load_fingerprints
from auditor.model import Device, Evidence, Observation
from auditor.oem import OemDB, load_oem
from auditor.oui import OuiTable, format_mac, load_oui
from auditor.signals import Field, device_info, fields, origin, radios, services

TYPE_THRESHOLD = 0.3  # below this, a type guess is noise (e.g. only TCP 554 open)
NVR_THRESHOLD = 0.5
OUI_BOARD_WEIGHT = 0.5
OUI_LABEL_WEIGHT = 0.4
ONVIF_UNKNOWN_LABEL_WEIGHT = 0.8
VALUE_QUOTE = 200


def combine(weights: Iterable[float]) -> float:
    """Return the belief from independent pieces of evidence: ``1 - prod(1 - w)``."""
    p = 1.0
    for w in weights:
        p *= 1.0 - max(0.0, min(1.0, w))
    return 1.0 - p


def claims(ev: Evidence) -> set[str]:
    """Return the claims one evidence item supports, e.g. ``{"oem=Dahua", "type=camera"}``."""
    return {c.strip() for c in (ev.claim or "").split(";") if c.strip()}


def evidence_for(device: Device, claim: str) -> list[Evidence]:
    """Return the device's evidence supporting ``claim`` (e.g. ``"oem=Dahua"``)."""
    return [e for e in device.evidence if claim in claims(e)]


@dataclass
class _Tally:
    label: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    board: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    types: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    captures: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    evidence: list[tuple[float, Evidence]] = field(default_factory=list)

    def add(self, weight: float, ev: Evidence, **claim: str | None) -> None:
        parts = []
        for kind, value in claim.items():
            if not value:
                continue
            bucket = {"vendor": self.label, "oem": self.board, "type": self.types}[kind]
            bucket[value].append(weight)
            parts.append(f"{kind}={value}")
        ev.claim = "; ".join(parts) or None
        self.evidence.append((weight, ev))


def _best(scores: dict[str, list[float]]) -> tuple[str | None, float]:
    ranked = sorted(((combine(ws), k) for k, ws in scores.items()), reverse=True)
    return (ranked[0][1], ranked[0][0]) if ranked else (None, 0.0)


def _quote(value: str) -> str:
    return value if len(value) <= VALUE_QUOTE else value[:VALUE_QUOTE] + "…"


def _add_match(tally: _Tally, fld: Field, m: Match) -> None:
    fp = m.fingerprint
    vendor = fp.vendor or m.captures.get("vendor")
    # An entry naming the label is label evidence even when it also names a maker; only
    # entries that name a maker alone speak for the board (see module docstring).
    board = fp.oem if vendor is None else None
    ev = Evidence(
        source=fld.origin,
        detail=f"{fld.source} matched {fp.ref}" + (f": {fp.description}" if fp.description else ""),
        value=_quote(fld.value),
    )
    tally.add(fp.weight, ev, vendor=vendor, oem=board, type=fp.device_type)
    for key in ("model", "firmware", "serial", "mac"):
        if key in m.captures:
            tally.captures[key].append((fp.weight, m.captures[key]))


def _structural_type_evidence(tally: _Tally, obs: Observation) -> None:
    """Camera evidence that is not a banner: ONVIF media, RTSP media actually offered."""
    d = obs.data
    if obs.probe == "onvif":
        caps = d.get("capabilities") if isinstance(d.get("capabilities"), dict) else {}
        has_media = bool(d.get("profiles")) or bool(d.get("stream_uris"))
        if has_media or (isinstance(caps, dict) and caps.get("media") is True):
            ev = Evidence(origin(obs), "ONVIF device with a media service/profiles")
            tally.add(0.8, ev, type="camera")
    elif obs.probe == "rtsp":
        media = d.get("media")
        video = isinstance(media, list) and any(
            isinstance(m, str) and m.startswith("m=video") for m in media
        )
        if d.get("rtp_received") is True or d.get("frame_decoded") is True:
            tally.add(0.9, Evidence(origin(obs), "RTSP stream delivered RTP media"), type="camera")
        elif video and d.get("bogus_path_status") != 200:
            tally.add(0.6, Evidence(origin(obs), "RTSP DESCRIBE offers video"), type="camera")


def _pick_capture(tally: _Tally, key: str) -> str | None:
    got = tally.captures.get(key)
    return max(got, key=lambda wv: wv[0])[1] if got else None


def _classify_host(
    ip: str, obs_list: list[Observation], fps: FingerprintDB, oui: OuiTable, oem: OemDB
) -> Device:
    dev = Device(ip=ip, observations=list(obs_list))
    tally = _Tally()
    info: dict[str, str] = {}
    info_origin = ""
    for obs in obs_list:
        if obs.error:
            dev.notes.append(f"{origin(obs)}: {obs.error}")
        for fld in fields(obs):
            for m in fps.match(fld.source, fld.value):
                _add_match(tally, fld, m)
        _structural_type_evidence(tally, obs)
        if obs.probe == "onvif":
            if not info and device_info(obs):
                info, info_origin = device_info(obs), origin(obs)
            offset = obs.data.get("clock_offset_s")
            if isinstance(offset, int | float) and not isinstance(offset, bool):
                dev.clock_offset_s = float(offset)
        if obs.probe == "wsdiscovery" and not dev.endpoint_uuid:
            ep = obs.data.get("endpoint")
            if isinstance(ep, str) and ep.strip():
                dev.endpoint_uuid = ep.strip().removeprefix("urn:uuid:")

    dev.mac = _mac(obs_list) or format_mac(_pick_capture(tally, "mac") or "")
    oui_org = _oui_evidence(dev, tally, oui, oem)

    manufacturer = info.get("manufacturer")
    if manufacturer and not any(
        m.fingerprint.vendor for m in fps.match("onvif.manufacturer", manufacturer)
    ):
        # An unknown maker's ONVIF Manufacturer is still the device's own label.
        ev = Evidence(info_origin, "ONVIF GetDeviceInformation Manufacturer", manufacturer)
        tally.add(ONVIF_UNKNOWN_LABEL_WEIGHT, ev, vendor=manufacturer[:64])

    _identity(dev, tally, oem, oui_org)
    dev.model = info.get("model") or _pick_capture(tally, "model")
    dev.firmware = info.get("firmware") or _pick_capture(tally, "firmware")
    dev.serial = info.get("serial") or _pick_capture(tally, "serial")
    dev.hardware_id = info.get("hardware_id")
    _vendor_port_fields(dev, obs_list)
    if info:
        detail = ", ".join(f"{k}={v}" for k, v in info.items())
        dev.evidence.append(
            Evidence(info_origin, "ONVIF GetDeviceInformation", _quote(detail), "identity")
        )
    dev.services = services(obs_list)
    dev.radios = radios(obs_list)
    return dev


def _mac(obs_list: list[Observation]) -> str | None:
    # ARP is first-hand (the address on the wire); ONVIF interfaces are self-reported.
    ranked = sorted(obs_list, key=lambda o: o.probe != "arp")
    for obs in ranked:
        if obs.mac and (mac := format_mac(obs.mac)):
            return mac
    for obs in obs_list:
        if obs.probe != "onvif" or not isinstance(obs.data.get("interfaces"), list):
            continue
        for iface in obs.data["interfaces"]:
            if isinstance(iface, dict) and iface.get("if_type") in (6, None):
                mac = format_mac(str(iface.get("mac") or ""))
                if mac:
                    return mac
    return None


def _oui_evidence(dev: Device, tally: _Tally, oui: OuiTable, oem: OemDB) -> str | None:
    """Add OUI evidence; return the organisation name (None if unknown or local)."""
    if not dev.mac:
        return None
    hit = oui.lookup(dev.mac)
    if hit is None:
        return None
    if hit.locally_administered:
        dev.notes.append(f"MAC {dev.mac} is locally administered: it identifies no maker")
        dev.evidence.append(Evidence("oui", "locally administered MAC (no maker)", dev.mac))
        return None
    where = f"IEEE /{hit.bits} {hit.prefix}: {hit.organization}"
    maker = oem.maker_for_organization(hit.organization)
    brand = oem.brand_for_organization(hit.organization)
    if maker is not None:
        tally.add(
            OUI_BOARD_WEIGHT, Evidence("oui", f"MAC block of {maker.name}", where), oem=maker.name
        )
    elif brand is not None:
        tally.add(
            OUI_LABEL_WEIGHT,
            Evidence("oui", f"MAC block of {brand.name}", where),
            vendor=brand.name,
        )
    else:
        dev.evidence.append(Evidence("oui", "MAC block owner", where))
    return hit.organization


def _identity(dev: Device, tally: _Tally, oem: OemDB, oui_org: str | None) -> None:
    types = {k: combine(v) for k, v in tally.types.items()}
    best_type, best_score = _best(tally.types)
    dev.device_type = best_type if best_type and best_score >= TYPE_THRESHOLD else "unknown"
    if dev.device_type == "camera" and types.get("nvr", 0.0) >= NVR_THRESHOLD:
        dev.device_type = "nvr"

    label, _ = _best(tally.label)
    board, _ = _best(tally.board)
    resolution = oem.resolve(label)
    if board is not None:
        dev.oem = board
        if len(tally.board) > 1:
            others = ", ".join(
                f"{k} ({combine(v):.2f})" for k, v in tally.board.items() if k != board
            )
            dev.notes.append(f"board signals also point to: {others}")
    elif resolution is not None and resolution.oem is not None:
        dev.oem = resolution.oem
        if resolution.certainty == "all":
            detail = f"oem.toml: every {resolution.label} product is made by {resolution.oem}"
            note = resolution.note or None
            dev.evidence.append(Evidence("oem.toml", detail, note, f"oem={dev.oem}"))
    elif resolution is not None and resolution.possible_oem:
        dev.notes.append(
            f"{resolution.label}: some products are {resolution.possible_oem}-built "
            f"({resolution.note}); no board signal seen, maker left open"
        )
    if label is not None:
        dev.vendor = label
        if len(tally.label) > 1:
            others = ", ".join(k for k in tally.label if k != label)
            dev.notes.append(f"other labels seen: {others}")
    elif dev.oem is not None:
        dev.vendor = dev.oem  # no label evidence: the board maker is the best name we have
    elif oui_org and dev.device_type not in ("camera", "nvr"):
        dev.vendor = oui_org

    chosen = {f"vendor={dev.vendor}", f"oem={dev.oem}", f"type={dev.device_type}"}
    used = [(w, e) for w, e in tally.evidence if claims(e) & chosen]
    dev.evidence[:0] = [e for _, e in sorted(used, key=lambda we: -we[0])]
    dev.confidence = round(combine(w for w, _ in used), 3) if used else 0.0


def _vendor_port_fields(dev: Device, obs_list: list[Observation]) -> None:
    for obs in obs_list:
        if obs.probe != "vendor_port" or not isinstance(obs.data.get("fields"), dict):
            continue
        flds = obs.data["fields"]
        for key in ("model", "serial", "firmware"):
            value = flds.get(key)
            if isinstance(value, str) and value.strip() and not getattr(dev, key):
                setattr(dev, key, value.strip()[:128])
        if not dev.mac and isinstance(flds.get("mac"), str):
            dev.mac = format_mac(flds["mac"])


def _ip_key(ip: str) -> tuple[int, int | str]:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, ip)
    return (addr.version, int(addr))


def classify(
    observations: Iterable[Observation],
    *,
    fingerprints: FingerprintDB | None = None,
    oui: OuiTable | None = None,
    oem: OemDB | None = None,
) -> list[Device]:
    """Group observations by IP and return one classified Device per IP, sorted by address.

    Uses the shipped fingerprint, OUI and OEM data unless others are passed (tests,
    ``camaudit reclassify`` with updated data). Never raises for odd observation data;
    raises ConfigError only when shipped data files are broken.
    """
    fps = fingerprints or load_fingerprints()
    oui_table = oui if oui is not None else load_oui()  # an empty table is a choice
    oem_db = oem or load_oem()
    by_ip: dict[str, list[Observation]] = defaultdict(list)
    for obs in observations:
        if obs.data.get("kind") == "summary":  # a capture's totals, not a device (ip "*")
            continue
        by_ip[obs.ip].append(obs)
    return [
        _classify_host(ip, by_ip[ip], fps, oui_table, oem_db) for ip in sorted(by_ip, key=_ip_key)
    ]
