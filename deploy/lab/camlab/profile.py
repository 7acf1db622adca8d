"""Device profiles: the data files in ``profiles/*.toml`` and their validation.

A profile describes one vendor family or model line (see any file in ``profiles/`` for
the keys, with comments on the public facts behind them). String values may use
``${name}`` placeholders filled per device by :mod:`camlab.generate`; the names are in
:data:`TEMPLATE_FIELDS` plus ``digitsN`` / ``alnumN`` / ``hexN`` (N random characters).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LabError

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"

KINDS = frozenset({"camera", "computer", "printer", "switch"})
QUIRKS = (
    "clock_skew",  # device clock off by minutes to hours
    "rtsp_any_path_200",  # 200 + SDP to DESCRIBE of any path, never any RTP
    "unicast_only_discovery",  # ignores multicast WS-Discovery probes
    "digest_only",  # ONVIF accepts only UsernameToken PasswordDigest
    "slow",  # every answer delayed about a second
)
# privacy/exposure features a profile gives a share of (``camlab.features``)
FEATURE_NAMES = frozenset({
    "onvif_anonymous", "onvif_users_anonymous", "audio", "analytics", "face_detection",
    "ntp_off", "telnet", "ftp", "ssh", "http_basic", "rtsp_open", "privacy_masks",
    "upnp_ssdp", "cloud_platform", "remote_storage",
})  # fmt: skip
PHONE_HOME_KINDS = frozenset({"dns", "udp", "tcp", "ntp", "upnp"})
AUTH_SCHEMES = frozenset({"none", "basic", "digest"})
ONVIF_AUTH = frozenset({"required", "anonymous"})
TEMPLATE_FIELDS = frozenset(
    {
        "name", "model", "model_short", "serial", "serial_tail5", "mac", "mac_plain",
        "uuid", "firmware", "firmware_version", "firmware_build", "date", "ip", "vendor",
    }
)  # fmt: skip
_RANDOM_FIELD = re.compile(r"^(digits|alnum|hex)(\d{1,2})$")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_OUI = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){2}$")
_LAB_NET = ipaddress.ip_network("198.18.0.0/15")


@dataclass
class Profile:
    """One parsed, validated profile file. ``data`` is the TOML document as read."""

    id: str
    path: Path
    kind: str
    vendor: str
    oem: str
    weight: float
    data: dict[str, Any] = field(repr=False)

    def section(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        return value if isinstance(value, dict) else None

    def quirk_chances(self) -> dict[str, float]:
        return {k: float(v) for k, v in (self.section("quirks") or {}).items()}


def load_profiles(directory: Path | None = None) -> list[Profile]:
    """Read and validate every ``*.toml`` in ``directory`` (default: the bundled ones).

    Returns the profiles sorted by id. Raises :class:`LabError` naming the file and the
    problem for an unreadable file, invalid TOML, a missing or mistyped key, an unknown
    placeholder or quirk, a public IP address, or two files with the same id.
    """
    directory = PROFILE_DIR if directory is None else directory
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise LabError(f"no profiles (*.toml) in {directory}")
    profiles: dict[str, Profile] = {}
    for path in files:
        profile = load_profile(path)
        if profile.id in profiles:
            other = profiles[profile.id].path
            raise LabError(f"{path}: profile id {profile.id!r} is already used by {other}")
        profiles[profile.id] = profile
    return [profiles[k] for k in sorted(profiles)]


def load_profile(path: Path) -> Profile:
    """Parse and validate one profile file; see :func:`load_profiles` for errors."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabError(f"{path}: cannot read profile: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LabError(f"{path}: profile is not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"{path}: invalid TOML: {exc}") from exc
    try:
        _validate(data)
    except _Invalid as exc:
        raise LabError(f"{path}: {exc}") from None
    return Profile(
        id=data["id"],
        path=path,
        kind=data["kind"],
        vendor=data["vendor"],
        oem=data["oem"],
        weight=float(data.get("weight", 1)),
        data=data,
    )


class _Invalid(Exception):
    pass


def _need(table: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise _Invalid(f"missing required key {where}{key}")
    value = table[key]
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise _Invalid(f"{where}{key} must be {names}, got {type(value).__name__}")
    return value


def _str_list(table: dict[str, Any], key: str, where: str, required: bool = True) -> list[str]:
    if key not in table and not required:
        return []
    value = _need(table, key, list, where)
    if (required and not value) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"{where}{key} must be a non-empty list of strings")
    return value


def _share(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _Invalid(f"{where} must be a number between 0 and 1, got {value!r}")


def _validate(d: dict[str, Any]) -> None:
    for key in ("id", "vendor", "oem", "kind", "serial"):
        _need(d, key, str, "")
    if d["kind"] not in KINDS:
        raise _Invalid(f"kind must be one of {sorted(KINDS)}, got {d['kind']!r}")
    _str_list(d, "models", "")
    _str_list(d, "firmware", "")
    if "weight" in d:
        _need(d, "weight", (int, float), "")
    if "default_password_share" in d:
        _share(d["default_password_share"], "default_password_share")
    if "counterfeit_of" in d:  # a counterfeit replaces cameras of this profile (generate)
        _need(d, "counterfeit_of", str, "")
        _share(d.get("counterfeit_share", 0.0), "counterfeit_share")
    mac = _need(d, "mac", dict, "")
    if not mac.get("locally_administered"):
        for oui in _str_list(mac, "ouis", "mac."):
            if not _OUI.match(oui):
                raise _Invalid(f"mac.ouis entry {oui!r} is not an upper-case XX:XX:XX OUI")
    http = _need(d, "http", dict, "")
    _need(http, "port", int, "http.")
    if str(http.get("auth", "none")) not in AUTH_SCHEMES:  # str: a list is unhashable
        raise _Invalid(f"http.auth must be one of {sorted(AUTH_SCHEMES)}")
    for i, page in enumerate(_need(http, "pages", list, "http.") if "pages" in http else []):
        if not isinstance(page, dict):
            raise _Invalid(f"http.pages[{i}] must be a table")
        _need(page, "path", str, f"http.pages[{i}].")
        _need(page, "body", str, f"http.pages[{i}].")
    if "rtsp" in d:
        rtsp = _need(d, "rtsp", dict, "")
        _str_list(rtsp, "paths", "rtsp.")
        if str(rtsp.get("auth", "none")) not in AUTH_SCHEMES:
            raise _Invalid(f"rtsp.auth must be one of {sorted(AUTH_SCHEMES)}")
        if rtsp.get("codec", "h264") not in ("h264", "mjpeg"):
            raise _Invalid("rtsp.codec must be h264 or mjpeg")
    if "onvif" in d:
        onvif = _need(d, "onvif", dict, "")
        _need(onvif, "manufacturer", str, "onvif.")
        if str(onvif.get("auth", "required")) not in ONVIF_AUTH:
            raise _Invalid(f"onvif.auth must be one of {sorted(ONVIF_AUTH)}")
        if "onvif" in d and "rtsp" not in d:
            raise _Invalid("an [onvif] section needs an [rtsp] section for its stream URIs")
    if "wsdiscovery" in d:
        wsd = _need(d, "wsdiscovery", dict, "")
        _str_list(wsd, "types", "wsdiscovery.")
        _str_list(wsd, "scopes", "wsdiscovery.", required=False)
    for i, vp in enumerate(d.get("vendor_ports", [])):
        _need(vp, "port", int, f"vendor_ports[{i}].")
        _need(vp, "service", str, f"vendor_ports[{i}].")
        if _need(vp, "proto", str, f"vendor_ports[{i}].") not in ("tcp", "udp"):
            raise _Invalid(f"vendor_ports[{i}].proto must be tcp or udp")
        if "share" in vp:
            _share(vp["share"], f"vendor_ports[{i}].share")
    for key, value in (d.get("radios") or {}).items():
        if key != "ssid":
            _share(value, f"radios.{key}")
    for i, entry in enumerate(d.get("phone_home", [])):
        if _need(entry, "kind", str, f"phone_home[{i}].") not in PHONE_HOME_KINDS:
            raise _Invalid(f"phone_home[{i}].kind must be one of {sorted(PHONE_HOME_KINDS)}")
        _share(entry.get("share", 1.0), f"phone_home[{i}].share")
        for k in ("host", "server", "resolver", "ip"):
            _lab_only(entry.get(k), f"phone_home[{i}].{k}")
    for name, value in (_need(d, "features", dict, "") if "features" in d else {}).items():
        if name == "analytics_rules":
            _str_list(d["features"], name, "features.")
        elif name not in FEATURE_NAMES:
            raise _Invalid(f"unknown feature {name!r}; known: {', '.join(sorted(FEATURE_NAMES))}")
        else:
            _share(value, f"features.{name}")
    for i, adv in enumerate(_need(d, "advisory", list, "") if "advisory" in d else []):
        if not isinstance(adv, dict):
            raise _Invalid(f"advisory[{i}] must be a table")
        _need(adv, "id", str, f"advisory[{i}].")
        _need(adv, "kev", bool, f"advisory[{i}].")
        _str_list(adv, "firmware", f"advisory[{i}].")
        _str_list(adv, "models", f"advisory[{i}].", required=False)
        unknown = sorted(set(adv["firmware"]) - set(d["firmware"]))
        if unknown:
            raise _Invalid(f"advisory[{i}].firmware names firmware not in this profile: {unknown}")
    for name, chance in (d.get("quirks") or {}).items():
        if name not in QUIRKS:
            raise _Invalid(f"unknown quirk {name!r}; known: {', '.join(QUIRKS)}")
        _share(chance, f"quirks.{name}")
    _check_placeholders(d, "")


def _lab_only(value: Any, where: str) -> None:
    """Refuse literal addresses outside the lab: no lab packet may carry a public IP."""
    if not isinstance(value, str):
        return
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return  # a DNS name, resolved by the lab's own DNS
    if addr not in _LAB_NET:
        raise _Invalid(f"{where} is {value}, outside the lab's 198.18.0.0/15: map it there")


def _check_placeholders(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _check_placeholders(v, f"{where}{k}.")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_placeholders(v, f"{where.rstrip('.')}[{i}].")
    elif isinstance(value, str):
        for name in _PLACEHOLDER.findall(value):
            if name not in TEMPLATE_FIELDS and not _RANDOM_FIELD.match(name):
                raise _Invalid(f"{where.rstrip('.')}: unknown placeholder ${{{name}}}")
