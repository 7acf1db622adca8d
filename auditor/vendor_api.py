"""What a camera's own vendor API (``vendor_api`` observations) says about its radios.

Pure reading of the observation documented in docs/observations.md (probe
``vendor_api``): Hikvision ISAPI or Dahua CGI interface lists, with per-interface
``kind`` (``wifi`` / ``ethernet`` / ``cellular``), MAC, Wi-Fi mode and SSID. Tolerates
missing or wrongly typed values: observations come from devices that may misbehave.

Used by ``auditor.signals.radios`` (a ``Radio(source="vendor-api")`` per radio
interface), by ``auditor.radios`` (a vendor-API-listed MAC links an air transmitter to
the device like an ONVIF self-report does) and by the radio rules (the camera's own
access point; ONVIF leaving out a radio the vendor API lists), and by the remote
storage rule (``storage``: where the camera uploads captures and recordings).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from auditor.model import Evidence, Observation, Radio
from auditor.oui import format_mac, normalize_mac

PROBE = "vendor_api"
RADIO_KINDS = ("wifi", "cellular")
#: modes in which the camera runs a network others can join (AP, or an ad-hoc IBSS)
OWN_NETWORK_MODES = ("ap", "adhoc")
API_NAMES = {"isapi": "Hikvision ISAPI", "dahua-cgi": "Dahua configManager"}


def _str(value: Any, cap: int = 128) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:cap]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def interfaces(observations: Iterable[Observation]) -> Iterator[tuple[Observation, dict[str, Any]]]:
    """Yield ``(observation, interface)`` for every interface a vendor API listed."""
    for obs in observations:
        if obs.probe != PROBE or not isinstance(obs.data, dict):
            continue
        listed = obs.data.get("interfaces")
        for iface in listed if isinstance(listed, list) else []:
            if isinstance(iface, dict):
                yield obs, iface


def radio_interfaces(
    observations: Iterable[Observation],
) -> list[tuple[Observation, dict[str, Any]]]:
    """The Wi-Fi and cellular interfaces vendor APIs listed."""
    return [(o, i) for o, i in interfaces(observations) if i.get("kind") in RADIO_KINDS]


def describe(obs: Observation, iface: dict[str, Any]) -> str:
    """One line quoting what the API said about ``iface`` (never a key: none is stored)."""
    api = API_NAMES.get(str(obs.data.get("api")), str(obs.data.get("api")))
    name = _str(iface.get("name")) or _str(iface.get("id")) or "?"
    parts = [f"{iface.get('kind')} interface {name}"]
    mac = format_mac(str(iface.get("mac") or ""))
    if mac:
        parts.append(f"MAC {mac}")
    enabled = iface.get("enabled")
    parts.append("enabled" if enabled is True else "disabled" if enabled is False else "state ?")
    mode = _str(iface.get("mode"), 16)
    if mode:
        parts.append(f"mode {mode}")
    ssid = _str(iface.get("ap_ssid"), 64) or _str(iface.get("ssid"), 64)
    if ssid:
        parts.append(f"SSID {ssid!r}")
    source = _str(iface.get("source"), 200) or "?"
    return f"{api} GET {source}: " + ", ".join(parts)


def evidence(obs: Observation, iface: dict[str, Any]) -> Evidence:
    """Evidence citing the API response about ``iface``."""
    port = f":{obs.port}" if obs.port else ""
    return Evidence(f"{PROBE}{port}", describe(obs, iface), _str(iface.get("mac"), 32))


def vendor_api_radios(
    observations: Iterable[Observation], known: Iterable[Radio] = ()
) -> list[Radio]:
    """Return a ``Radio(source="vendor-api")`` per radio interface, skipping any whose
    kind and MAC a radio in ``known`` already has (ONVIF reported the same one)."""
    seen = {(r.kind, normalize_mac(r.mac or "")) for r in known}
    out: list[Radio] = []
    for obs, iface in radio_interfaces(observations):
        kind = str(iface.get("kind"))
        mac = format_mac(str(iface.get("mac") or ""))
        key = (kind, normalize_mac(mac or ""))
        if mac is not None and key in seen:
            continue
        seen.add(key)
        out.append(Radio(kind, mac, "vendor-api", describe(obs, iface)))
    return out


def wifi_macs(observations: Iterable[Observation]) -> set[int]:
    """Wi-Fi MACs (as integers) that vendor APIs list."""
    out: set[int] = set()
    for _obs, iface in radio_interfaces(observations):
        digits = normalize_mac(str(iface.get("mac") or ""))
        if iface.get("kind") == "wifi" and digits:
            out.add(int(digits, 16))
    return out


def own_network_interfaces(
    observations: Iterable[Observation],
) -> list[tuple[Observation, dict[str, Any]]]:
    """Wi-Fi interfaces the vendor API says run the camera's own network (AP or ad-hoc)
    and are not switched off."""
    return [
        (o, i)
        for o, i in radio_interfaces(observations)
        if i.get("kind") == "wifi" and i.get("mode") in OWN_NETWORK_MODES
        and i.get("enabled") is not False
    ]  # fmt: skip


def upload_targets(obs: Observation) -> list[dict[str, Any]]:
    """Enabled upload targets of a ``vendor_api`` observation's ``storage`` (ISAPI FTP
    servers, Dahua off-camera storage points), only when its call answered ``ok``."""
    storage, calls = obs.data.get("storage"), obs.data.get("calls")
    if not isinstance(storage, dict) or not isinstance(calls, dict):
        return []
    source = _str(storage.get("source"), 200)
    targets = storage.get("targets")
    if source is None or calls.get(source) != "ok" or not isinstance(targets, list):
        return []
    return [t for t in targets if isinstance(t, dict) and t.get("enabled") is True]


def describe_upload(obs: Observation, target: dict[str, Any]) -> str:
    """One line quoting what the API said about one upload target (no user, no password:
    none is stored)."""
    api = API_NAMES.get(str(obs.data.get("api")), str(obs.data.get("api")))
    storage = obs.data.get("storage") or {}
    source = _str(storage.get("source"), 200) or "?"
    proto = _str(target.get("protocol"), 16) or "?"
    uses = target.get("uses")
    if isinstance(uses, list) and uses:
        what = ", ".join(str(u)[:32] for u in uses[:8])
        return f"{api} GET {source}: storage point {proto} enabled for {what}"
    host = _str(target.get("host"), 253) or "no address given"
    port = target.get("port")
    where = f"{host}:{port}" if isinstance(port, int) and not isinstance(port, bool) else host
    ident = _str(target.get("id"), 16) or "?"
    return f"{api} GET {source}: {proto} upload server {ident} enabled, {where}"
