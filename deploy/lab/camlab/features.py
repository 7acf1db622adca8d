"""Per-device privacy and exposure features (issue 7), drawn from each profile's ``[features]``.

A feature is something a real camera can be configured to do that an audit should
report: answer ONVIF without a password, list its users to anyone, record audio, run
analytics, keep its clock by hand, leave telnet/FTP/SSH open, ask for a password with
HTTP Basic, serve RTSP without a password. Profiles give each a share (0..1).

Each device draws its features from its own generator,
``random.Random(f"{seed}:{name}:features")``, after everything else is generated, so
adding features (or a profile's share of one) never changes the devices an existing
seed produced. From :data:`~camlab.generate.MIN_FOR_FULL_MIX` cameras up every feature
appears on at least one camera whose operator can see it (not left on a default
password), chosen with ``random.Random(f"{seed}:cover:features")``.

Shapes written into the device (the services read them, the truth reports them):

- ``onvif["auth"] = "anonymous"``: every ONVIF call answers without credentials except
  GetUsers (the ONVIF "READ_SYSTEM_SECRET" class), unless ``onvif["users_anonymous"]``.
- ``onvif["users"]``: ``[{"username", "level"}]`` (GetUsers; always present with ONVIF).
- ``onvif["audio"] = True``: media profiles carry audio source + encoder configurations.
- ``onvif["analytics"]``: ``[ONVIF rule/module type, ...]`` (e.g. ``"tt:CellMotionDetector"``,
  ``"tt:FaceDetection"``); empty = no analytics (and no Analytics capability).
- ``onvif["ntp"] = False``: GetSystemDateAndTime says DateTimeType Manual; GetNTP lists
  no server.
- ``vendor_ports`` gain ``telnet`` (23), ``ftp`` (21) or ``ssh`` (22) entries.
- ``http["auth"] = "basic"`` and ``http["root_auth"] = True``: the admin page itself asks
  for HTTP Basic credentials over plain HTTP.
- ``rtsp["auth"] = "none"``: the stream needs no password.
- ``http["ssdp"] = {"path"}`` and an ``http["pages"]`` entry at that path: UPnP left on;
  the device answers SSDP M-SEARCH on UDP 1900 (camlab.services.ssdp) and serves its
  UPnP root description there.
- ``onvif["masks"]``: ``[{"token", "type", "enabled", "polygon": [[x, y], ...]}]``, the
  privacy masks Media2 GetMasks lists (only on profiles whose ``[onvif]`` has
  ``media2 = true``); empty = none defined.
- ``http["cloud_platform"] = True``: the vendor cloud platform is switched on (Hik-Connect
  on Hikvision boards, P2P on Dahua boards; camlab.services.vendorapi answers ISAPI
  ``/ISAPI/System/Network/EZVIZ`` and Dahua ``getConfig&name=T2UServer`` from it).
- ``http["remote_storage"] = {"host"}``: the camera uploads captures to a server
  (Hikvision ``/ISAPI/System/Network/ftp`` lists it enabled; Dahua ``RecordStoragePoint``
  sends snapshots and event recordings to its FTP point, without an address).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from .spec import LabDevice

#: boards whose vendor API (camlab.services.vendorapi) carries a cloud platform setting
CLOUD_BOARDS = ("hikvision", "dahua")
#: where ``remote_storage`` uploads go: a site server or a name outside (lab-only)
UPLOAD_HOSTS = ("198.18.0.250", "upload.archive-cloud.example")
#: feature name -> does it apply to this device (its profile must also give a share)
FEATURES: dict[str, Callable[[LabDevice], bool]] = {
    "onvif_anonymous": lambda d: d.onvif is not None,
    "onvif_users_anonymous": lambda d: d.onvif is not None,
    "audio": lambda d: d.onvif is not None,
    "analytics": lambda d: d.onvif is not None,
    "face_detection": lambda d: d.onvif is not None,
    "ntp_off": lambda d: d.onvif is not None,
    "telnet": lambda d: True,
    "ftp": lambda d: True,
    "ssh": lambda d: True,
    "http_basic": lambda d: bool(d.http),
    "rtsp_open": lambda d: d.rtsp is not None and d.rtsp.get("engine") == "gstreamer",
    # last: a feature added at the end never shifts the draws of the ones before it
    "privacy_masks": lambda d: d.onvif is not None and bool(d.onvif.get("media2")),
    "upnp_ssdp": lambda d: bool(d.http),
    "cloud_platform": lambda d: (
        d.kind == "camera" and bool(d.http) and d.oem.lower() in CLOUD_BOARDS
    ),
    "remote_storage": lambda d: (
        d.kind == "camera" and bool(d.http) and d.oem.lower() in CLOUD_BOARDS
    ),
}
UPNP_PATH = "/upnp/device.xml"
MASK_TYPES = ("Color", "Pixelated", "Blurred")  # tr2:MaskType (ONVIF Media2)
LIST_KEYS = frozenset({"analytics_rules"})  # [features] keys that are not shares
DEFAULT_ANALYTICS = ("tt:CellMotionDetector",)
FACE = "tt:FaceDetection"
_PORTS = {"telnet": 23, "ftp": 21, "ssh": 22}


def apply(dev: LabDevice, feature: str, cfg: dict[str, Any], rng: random.Random) -> None:
    """Give ``dev`` one feature (idempotent); ``cfg`` is its profile's ``[features]``."""
    onvif = dev.onvif
    if feature in ("onvif_anonymous", "onvif_users_anonymous") and onvif is not None:
        onvif["auth"] = "anonymous"
        if feature == "onvif_users_anonymous":
            onvif["users_anonymous"] = True
    elif feature == "audio" and onvif is not None:
        onvif["audio"] = True
    elif feature in ("analytics", "face_detection") and onvif is not None:
        kinds = list(cfg.get("analytics_rules") or DEFAULT_ANALYTICS)
        have: list[str] = onvif.setdefault("analytics", [])
        if feature == "face_detection":
            extra = [FACE]
        else:
            extra = rng.sample(kinds, rng.randint(1, min(2, len(kinds))))
        have += [k for k in extra if k not in have]
    elif feature == "ntp_off" and onvif is not None:
        onvif["ntp"] = False
    elif feature in _PORTS:
        port = _PORTS[feature]
        if not any(vp["port"] == port and vp["proto"] == "tcp" for vp in dev.vendor_ports):
            dev.vendor_ports.append({"port": port, "proto": "tcp", "service": feature})
    elif feature == "http_basic" and dev.http:
        dev.http["auth"] = "basic"
        dev.http["root_auth"] = True
    elif feature == "rtsp_open" and dev.rtsp is not None:
        dev.rtsp["auth"] = "none"
    elif feature == "upnp_ssdp" and dev.http and not dev.http.get("ssdp"):
        dev.http["ssdp"] = {"path": UPNP_PATH}
        dev.http["pages"] = [*dev.http.get("pages", []), _upnp_page(dev)]
    elif feature == "cloud_platform" and dev.http:
        dev.http["cloud_platform"] = True
    elif feature == "remote_storage" and dev.http and not dev.http.get("remote_storage"):
        dev.http["remote_storage"] = {"host": rng.choice(UPLOAD_HOSTS)}
    elif feature == "privacy_masks" and onvif is not None and not onvif.get("masks"):
        # one or two rectangles over the frame's edge (a neighbour's window, a garden)
        onvif["masks"] = [
            {"token": f"Mask_{i + 1}", "type": rng.choice(MASK_TYPES), "enabled": True,
             "polygon": [[x, 0.5], [x + 0.3, 0.5], [x + 0.3, 1.0], [x, 1.0]]}
            for i, x in enumerate((-1.0, 0.7)[: rng.randint(1, 2)])
        ]  # fmt: skip


def _upnp_page(dev: LabDevice) -> dict[str, str]:
    """The UPnP root description (UPnP Device Architecture 1.1, section 2.3)."""

    def e(v: str) -> str:
        return escape(v)

    body = (
        '<?xml version="1.0"?>\n<root xmlns="urn:schemas-upnp-org:device-1-0">'
        "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
        "<deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>"
        f"<friendlyName>{e(dev.vendor)} {e(dev.model)}</friendlyName>"
        f"<manufacturer>{e(dev.vendor)}</manufacturer><modelName>{e(dev.model)}</modelName>"
        f"<modelNumber>{e(dev.model)}</modelNumber><serialNumber>{e(dev.serial)}</serialNumber>"
        f"<UDN>uuid:{e(dev.endpoint_uuid)}</UDN><presentationURL>/</presentationURL>"
        "</device></root>"
    )
    return {"path": UPNP_PATH, "content_type": "text/xml; charset=utf-8", "body": body}


def _base(dev: LabDevice) -> None:
    if dev.onvif is None:
        return
    dev.onvif.setdefault("users", [
        {"username": dev.username, "level": "Administrator"},
        {"username": "operator", "level": "Operator"},
    ])  # fmt: skip
    dev.onvif.setdefault("analytics", [])
    dev.onvif.setdefault("audio", False)
    dev.onvif.setdefault("ntp", True)
    dev.onvif.setdefault("masks", [])


def has(dev: LabDevice, feature: str) -> bool:
    """Whether ``dev`` shows ``feature`` (as :func:`apply` writes it)."""
    onvif = dev.onvif or {}
    checks: dict[str, Callable[[], bool]] = {
        "onvif_anonymous": lambda: onvif.get("auth") == "anonymous",
        "onvif_users_anonymous": lambda: bool(onvif.get("users_anonymous")),
        "audio": lambda: bool(onvif.get("audio")),
        "analytics": lambda: bool(onvif.get("analytics")),
        "face_detection": lambda: FACE in (onvif.get("analytics") or []),
        "ntp_off": lambda: onvif.get("ntp") is False,
        "http_basic": lambda: bool(dev.http.get("root_auth")) and dev.http.get("auth") == "basic",
        "rtsp_open": lambda: (dev.rtsp or {}).get("auth") == "none",
        "privacy_masks": lambda: any(m.get("enabled") for m in onvif.get("masks") or []),
        "upnp_ssdp": lambda: bool(dev.http.get("ssdp")),
        "cloud_platform": lambda: bool(dev.http.get("cloud_platform")),
        "remote_storage": lambda: bool(dev.http.get("remote_storage")),
    }
    if feature in _PORTS:
        return any(
            vp["port"] == _PORTS[feature] and vp["proto"] == "tcp" for vp in dev.vendor_ports
        )
    return checks[feature]()


def assign(
    devices: list[LabDevice], configs: dict[str, dict[str, Any]], seed: int, cover: bool
) -> None:
    """Draw every device's features from ``configs`` (profile id -> ``[features]``).

    With ``cover``, make sure each feature some profile offers shows on at least one
    camera whose operator can log in (``default_password`` false), so its rule can fire.
    """
    for dev in devices:
        _base(dev)
        cfg = configs.get(dev.profile) or {}
        rng = random.Random(f"{seed}:{dev.name}:features")
        for feature, applies in FEATURES.items():
            # draw for every feature, whatever applies, so one feature's share never
            # shifts another's draw
            hit = rng.random() < float(cfg.get(feature, 0.0))
            if hit and applies(dev):
                apply(dev, feature, cfg, rng)
    if not cover:
        return
    rng = random.Random(f"{seed}:cover:features")
    cams = [d for d in devices if d.kind == "camera"]
    for feature, applies in FEATURES.items():
        if any(has(d, feature) for d in cams):
            continue
        able = [
            d for d in cams
            if not d.default_password and applies(d)
            and float((configs.get(d.profile) or {}).get(feature, 0.0)) > 0
        ]  # fmt: skip
        if able:
            dev = rng.choice(able)
            apply(dev, feature, configs.get(dev.profile) or {}, rng)
