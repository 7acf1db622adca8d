"""Link radios seen on the air to the wired devices of an inventory (pure logic).

Signals, each an :class:`Evidence` with a weight; weights combine as independent
signals (``1 - prod(1 - w)``) and a transmitter is linked to the best-scoring device
when the score reaches :data:`LINK_THRESHOLD` and no other device ties with it:

- the device's own ONVIF self-report names the air MAC as a Wi-Fi interface (0.95);
- the device's vendor API (ISAPI, Dahua CGI; opt-in) lists the air MAC as its Wi-Fi
  interface (0.95, the same self-report through the vendor's own door);
- the air MAC is the wired MAC plus or minus 1..3 in the same block (0.85 for 1, 0.8
  for 2..3): many boards number their interfaces consecutively;
- the same MAC on wire and air (0.6): bridged boards sometimes reuse it;
- a vendor setup-mode SSID (``data/radio_ssids.toml``) of the device's vendor or maker
  (0.3), carrying the end of the device's serial number (0.6 more);
- a BLE manufacturer company ID of the device's vendor or maker (0.3).

An SSID or a company ID alone never reaches the threshold without the serial: anyone
can name a network "IPC-12345". Air transmitters that look like cameras but match no
device are returned as ``unlinked`` with the reason, so the report can list them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError
from auditor.model import Device, Evidence, Observation, Radio
from auditor.oem import OemDB, load_oem
from auditor.oui import normalize_mac
from auditor.vendor_api import wifi_macs as vendor_wifi_macs

DATA_FILE = Path(__file__).parent / "data" / "radio_ssids.toml"
LINK_THRESHOLD = 0.6
MAX_OFFSET = 3
W_SELF_REPORT = 0.95
W_OFFSET_1 = 0.85
W_OFFSET_N = 0.8
W_SAME_MAC = 0.6
W_SSID_VENDOR = 0.3
W_SSID_SERIAL = 0.6
W_BLE_COMPANY = 0.3
WIFI_IF_TYPE = 71


@dataclass(frozen=True)
class SsidPattern:
    vendor: str
    pattern: re.Pattern[str]
    serial: bool
    certainty: str
    example: str
    note: str


@dataclass(frozen=True)
class RadioData:
    ssids: tuple[SsidPattern, ...]
    ble: dict[int, str]


@dataclass
class RadioLink:
    """One air transmitter pinned on one device, with how sure and why."""

    air: Observation
    device_ip: str
    confidence: float
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def mac(self) -> str:
        return self.air.mac or ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "air_mac": self.mac,
            "kind": self.air.data.get("kind"),
            "device_ip": self.device_ip,
            "confidence": round(self.confidence, 3),
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass
class AirMatch:
    links: list[RadioLink] = field(default_factory=list)
    # transmitters that look like a camera's radio but match no device (or several)
    unlinked: list[tuple[Observation, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "links": [lk.to_dict() for lk in self.links],
            "unlinked": [{"air_mac": o.mac, "why": why} for o, why in self.unlinked],
        }


def _vendor_key(name: str | None) -> str:
    return (name or "").strip().lower()


@lru_cache(maxsize=4)
def load_radio_data(path: Path | None = None) -> RadioData:
    """Return the SSID patterns and BLE company IDs; raise ConfigError naming the file."""
    src = path or DATA_FILE
    try:
        doc = tomllib.loads(src.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{src}: {exc}") from exc
    out: list[SsidPattern] = []
    for i, entry in enumerate(doc.get("ssid") or []):
        try:
            pat = re.compile(str(entry["pattern"]))
            item = SsidPattern(
                vendor=str(entry["vendor"]),
                pattern=pat,
                serial=entry.get("serial") == "tail",
                certainty=str(entry.get("certainty") or "uncertain"),
                example=str(entry.get("example") or ""),
                note=str(entry.get("note") or ""),
            )
        except (KeyError, re.error, TypeError) as exc:
            raise ConfigError(f"{src}: [[ssid]] #{i + 1}: {exc}") from exc
        if item.serial and "serial" not in pat.groupindex:
            raise ConfigError(f"{src}: [[ssid]] #{i + 1}: serial = 'tail' needs a (?P<serial>)")
        out.append(item)
    ble: dict[int, str] = {}
    for key, vendor in (doc.get("ble") or {}).items():
        try:
            ble[int(str(key), 16)] = str(vendor)
        except ValueError as exc:
            raise ConfigError(f"{src}: [ble] key {key!r} is not a hex company id") from exc
    return RadioData(tuple(out), ble)


def _mac_int(mac: str | None) -> int | None:
    digits = normalize_mac(mac or "")
    return int(digits, 16) if digits else None


def _names(dev: Device, oem: OemDB) -> set[str]:
    """The device's vendor and maker, plus the maker of its label (for rebrands)."""
    names = {_vendor_key(dev.vendor), _vendor_key(dev.oem)}
    res = oem.resolve(dev.vendor)
    if res is not None and res.oem:
        names.add(_vendor_key(res.oem))
    names.discard("")
    return names


def _vendor_matches(vendor: str, names: set[str], oem: OemDB) -> bool:
    key = _vendor_key(vendor)
    if key in names:
        return True
    res = oem.resolve(vendor)  # an SSID of a brand matches a device of its maker
    return res is not None and _vendor_key(res.oem) in names


def reported_wifi_macs(dev: Device) -> set[int]:
    """Wi-Fi MACs the device's ONVIF self-report names (ifType 71 interfaces)."""
    out: set[int] = set()
    for obs in dev.observations:
        if obs.probe != "onvif":
            continue
        for iface in obs.data.get("interfaces") or []:
            if isinstance(iface, dict) and iface.get("if_type") == WIFI_IF_TYPE:
                value = _mac_int(str(iface.get("mac") or ""))
                if value is not None:
                    out.add(value)
    return out


def _score(
    air: Observation, dev: Device, data: RadioData, oem: OemDB
) -> tuple[float, list[Evidence]]:
    amac = _mac_int(air.mac)
    if amac is None:
        return 0.0, []
    ev: list[tuple[float, Evidence]] = []
    if amac in reported_wifi_macs(dev):
        ev.append(
            (
                W_SELF_REPORT,
                Evidence("onvif", "ONVIF lists this MAC as its 802.11 interface", air.mac),
            )
        )
    if amac in vendor_wifi_macs(dev.observations):
        detail = "the vendor API lists this MAC as its Wi-Fi interface"
        ev.append((W_SELF_REPORT, Evidence("vendor_api", detail, air.mac)))
    wmac = _mac_int(dev.mac)
    if wmac is not None:
        delta = amac - wmac
        if delta == 0:
            ev.append((W_SAME_MAC, Evidence("air", "same MAC on the air as on the wire", air.mac)))
        elif abs(delta) <= MAX_OFFSET and (amac >> 24) == (wmac >> 24):
            w = W_OFFSET_1 if abs(delta) == 1 else W_OFFSET_N
            ev.append(
                (w, Evidence("air", f"radio MAC = wired MAC {delta:+d}", f"{air.mac} vs {dev.mac}"))
            )
    names = _names(dev, oem)
    d = air.data
    for ssid in [*(d.get("ssids") or []), *(d.get("probed_ssids") or [])]:
        for pat in data.ssids:
            m = pat.pattern.fullmatch(str(ssid))
            if m is None or not _vendor_matches(pat.vendor, names, oem):
                continue
            ev.append(
                (
                    W_SSID_VENDOR,
                    Evidence(
                        "radio_ssids.toml",
                        f"{pat.vendor} setup-mode SSID ({pat.certainty})",
                        str(ssid),
                    ),
                )
            )
            tail = m.groupdict().get("serial") if pat.serial else None
            if tail and dev.serial and dev.serial.lower().endswith(tail.lower()):
                ev.append(
                    (W_SSID_SERIAL, Evidence("air", "SSID carries the device serial", dev.serial))
                )
            break
    for cid in d.get("ble_company_ids") or []:
        vendor = data.ble.get(int(cid)) if isinstance(cid, int) else None
        if vendor and _vendor_matches(vendor, names, oem):
            ev.append(
                (W_BLE_COMPANY, Evidence("air", f"BLE company ID of {vendor}", f"0x{cid:04X}"))
            )
    miss = 1.0
    for w, _ in ev:
        miss *= 1.0 - w
    return 1.0 - miss, [e for _, e in ev]


def _camera_like(air: Observation, data: RadioData) -> str | None:
    d = air.data
    for ssid in d.get("ssids") or []:
        for pat in data.ssids:
            if pat.pattern.fullmatch(str(ssid)):
                return f"{pat.vendor} setup-mode SSID {ssid!r}"
    for cid in d.get("ble_company_ids") or []:
        if isinstance(cid, int) and cid in data.ble:
            return f"BLE company ID 0x{cid:04X} ({data.ble[cid]})"
    return None


def correlate(
    devices: Iterable[Device],
    air: Iterable[Observation],
    *,
    data: RadioData | None = None,
    oem: OemDB | None = None,
) -> AirMatch:
    """Return which air transmitters belong to which devices, and camera-like leftovers.

    ``air`` are ``probe="air"`` observations (one per transmitter). Never raises for
    odd observation data; raises ConfigError when the shipped data files are broken.
    """
    data = data or load_radio_data()
    oem = oem or load_oem()
    devs = list(devices)
    match = AirMatch()
    for obs in air:
        if obs.probe != "air" or not obs.mac:
            continue
        scored = sorted(
            ((*_score(obs, dev, data, oem), dev) for dev in devs),
            key=lambda t: -t[0],
        )
        best = scored[0] if scored else None
        if best is None or best[0] < LINK_THRESHOLD:
            why = _camera_like(obs, data)
            if why:
                match.unlinked.append((obs, f"{why}; no device in the inventory matches"))
            continue
        if len(scored) > 1 and scored[1][0] >= best[0] - 1e-9:
            tied = ", ".join(t[2].ip for t in scored[:2])
            match.unlinked.append((obs, f"ambiguous: equally likely on {tied}"))
            continue
        match.links.append(RadioLink(obs, best[2].ip, best[0], best[1]))
    return match


def _radio_detail(obs: Observation) -> str:
    d = obs.data
    if d.get("kind") == "ble":
        ids = ", ".join(f"0x{c:04X}" for c in d.get("ble_company_ids") or [])
        return f"BLE advertiser ({d.get('frames', 0)} frames{'; company ' + ids if ids else ''})"
    if d.get("role") == "ap":
        ssids = ", ".join(repr(s) for s in d.get("ssids") or [])
        hidden = " (hidden SSID)" if d.get("hidden_ssid") else ""
        what = f"access point {ssids or '<hidden>'}{hidden}"
    else:
        bssids = ", ".join(d.get("bssids") or []) or "none seen"
        what = f"client (talks to {bssids})"
    chans = ",".join(str(c) for c in d.get("channels") or []) or "?"
    return f"on the air as {what}, channel {chans}, {d.get('frames', 0)} frames"


def attach(devices: Iterable[Device], match: AirMatch) -> None:
    """Add each linked radio to its device (``Radio(source="air")`` + the air observation).

    The observation copy carries the device's IP and the link's confidence and evidence
    (``data["link"]``), so rules and ``camaudit reclassify`` can quote them.
    """
    by_ip = {d.ip: d for d in devices}
    for link in match.links:
        dev = by_ip.get(link.device_ip)
        if dev is None:
            continue
        kind = "bluetooth" if link.air.data.get("kind") == "ble" else "wifi"
        if any(r.source == "air" and r.mac == link.mac for r in dev.radios):
            continue
        dev.radios.append(Radio(kind, link.mac, "air", _radio_detail(link.air)))
        data = dict(link.air.data)
        data["link"] = {
            "confidence": round(link.confidence, 3),
            "evidence": [e.to_dict() for e in link.evidence],
        }
        dev.observations.append(replace(link.air, ip=dev.ip, data=data))
