"""Vendor cloud platform switched on (issue 7: "recording to cloud"), per the camera's own API.

Reads the ``cloud`` key of ``vendor_api`` observations (docs/observations.md): what
Hikvision ISAPI ``/ISAPI/System/Network/EZVIZ`` (Hik-Connect) or Dahua ``T2UServer``
(P2P / Easy4IP) says, asked only with the operator's credentials (``--credentials``).

CAM-PRIV-REMOTE-STORAGE reads the ``storage`` key: servers the camera uploads captures
to (ISAPI ``/ISAPI/System/Network/ftp``) or Dahua ``RecordStoragePoint`` sending record or
snapshot types to its ``FTP`` / ``Remote`` storage point. A new meaning, not more evidence
for the cloud platform: footage itself leaves the camera for another machine, whoever
runs it.

This is configuration, not traffic: CAM-NET-CLOUD reports a vendor cloud the device was
*seen* talking to in a capture. The two can fire together (the setting is on and the
traffic shows it) or apart (the setting is on but the site's firewall blocks the cloud,
or no capture was made). A device whose API did not answer the call gives no finding:
the audit only states what the device says.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from auditor.model import Device, Evidence, Severity
from auditor.rules.facts import CAMERA_LIKE, cite, observations
from auditor.rules.registry import Hit, rule
from auditor.vendor_api import describe_upload, upload_targets

PLATFORMS = {"hik-connect": "Hik-Connect (EZVIZ)", "dahua-p2p": "Dahua P2P (Easy4IP)"}
API_NAMES = {"isapi": "Hikvision ISAPI", "dahua-cgi": "Dahua configManager"}


def _str(value: Any, cap: int = 128) -> str | None:
    return value.strip()[:cap] if isinstance(value, str) and value.strip() else None


def cloud_setting(data: dict[str, Any]) -> dict[str, Any] | None:
    """The ``cloud`` dict of a vendor_api observation when its call answered ``ok``, else
    None (not asked, not supported, failed, or a malformed observation)."""
    cloud, calls = data.get("cloud"), data.get("calls")
    if not isinstance(cloud, dict) or not isinstance(calls, dict):
        return None
    source = _str(cloud.get("source"), 200)
    if source is None or calls.get(source) != "ok":
        return None
    return cloud


def describe(api: Any, cloud: dict[str, Any]) -> str:
    """One line quoting the API reply (never the verification code: it is not stored)."""
    platform = PLATFORMS.get(str(cloud.get("platform")), str(cloud.get("platform")))
    parts = [f"{platform} platform access enabled"]
    registered = cloud.get("registered")
    server = _str(cloud.get("server"), 253)
    if registered is True:
        parts.append(f"registered with {server}" if server else "registered")
    elif registered is False:
        parts.append("not registered (the platform did not answer it)")
        if server:
            parts.append(f"platform server {server}")
    bound = cloud.get("bound")
    if bound is True:
        parts.append("bound to a cloud account")
    elif bound is False:
        parts.append("not bound to an account")
    name = API_NAMES.get(str(api), str(api))
    return f"{name} GET {_str(cloud.get('source'), 200)}: " + ", ".join(parts)


@rule(
    "CAM-PRIV-CLOUD-PLATFORM",
    severity=Severity.MEDIUM,
    title="Vendor cloud platform access is switched on",
    rationale="""The camera's own configuration API (asked with the operator's credentials)
    says its vendor cloud platform is enabled: Hik-Connect/EZVIZ on Hikvision-built boards,
    the P2P (Easy4IP) service on Dahua-built ones. With it on, the camera keeps a connection
    to the vendor's servers through which live video and recordings can be viewed from
    anywhere by whoever holds the linked app account, outside the city's network, firewall
    and access control. This is the configuration; CAM-NET-CLOUD is the traffic seen in a
    capture, and the setting matters even while a firewall blocks it.""",
    remediation="""Unless the site policy approves this camera's cloud use (then record it as
    an accepted risk), switch the platform off: Hikvision web page Configuration > Network >
    Advanced Settings > Platform Access (Hik-Connect), Dahua Setting > Network > P2P; unbind
    the device from any app account, and block the vendor's cloud at the firewall.""",
    references=(
        "Hikvision ISAPI developer guide: /ISAPI/System/Network/EZVIZ (Hik-Connect access)",
        "Dahua HTTP API: configManager getConfig name=T2UServer (P2P)",
    ),
)
def cloud_platform(dev: Device) -> Hit | None:
    if dev.device_type not in CAMERA_LIKE:
        return None
    for obs in observations(dev, "vendor_api"):
        if not isinstance(obs.data, dict):
            continue
        cloud = cloud_setting(obs.data)
        if cloud is None or cloud.get("enabled") is not True:
            continue
        platform = PLATFORMS.get(str(cloud.get("platform")))
        title = f"{platform} cloud platform access is switched on" if platform else None
        server = _str(cloud.get("server"), 253)
        return Hit([cite(obs, describe(obs.data.get("api"), cloud), server)], title=title)
    return None


def _private(host: Any) -> bool:
    """Whether ``host`` is an address literal inside private/site-local space."""
    try:
        addr = ipaddress.ip_address(str(host))
    except ValueError:  # a DNS name (or nothing): where it points is not known here
        return False
    return addr.is_private and not addr.is_global


@rule(
    "CAM-PRIV-REMOTE-STORAGE",
    severity=Severity.MEDIUM,
    title="Camera uploads footage to remote storage",
    rationale="""The camera's own configuration API (asked with the operator's credentials)
    says it sends captures or recordings to another machine: an FTP/SFTP upload server
    (Hikvision) or the FTP / network ("Remote") storage point of its record and snapshot
    types (Dahua). Footage then lives where the camera's settings page says, under that
    server's access control and retention, and plain FTP carries it and the login in
    clear. When the server is not an address in private space (a public address or a
    DNS name), the footage may leave the site altogether.""",
    remediation="""Confirm that the server is the site's own, approved storage (then record
    it in the site policy as an accepted risk); otherwise switch the upload off (Hikvision
    Configuration > Network > Advanced Settings > FTP; Dahua Setting > Storage >
    Destination). Prefer SFTP over FTP, and block the camera from any other destination at
    the firewall.""",
    references=(
        "Hikvision ISAPI developer guide: /ISAPI/System/Network/ftp (FTP server parameters)",
        "Dahua configManager getConfig name=RecordStoragePoint (record storage point mapping)",
    ),
)
def remote_storage(dev: Device) -> Hit | None:
    if dev.device_type not in CAMERA_LIKE:
        return None
    ev: list[Evidence] = []
    hosts: list[str] = []
    outside = False
    for obs in observations(dev, "vendor_api"):
        if not isinstance(obs.data, dict):
            continue
        for target in upload_targets(obs):
            host = _str(target.get("host"), 253)
            ev.append(cite(obs, describe_upload(obs, target), host))
            if host:
                hosts.append(host)
            outside = outside or not _private(host)
    if not ev:
        return None
    where = f" ({', '.join(hosts[:4])})" if hosts else ""
    if not outside:
        return Hit(ev, title=f"Camera uploads footage to a private-address server{where}",
                   severity=Severity.LOW)  # fmt: skip
    return Hit(ev, title=f"Camera uploads footage to remote storage{where}")
