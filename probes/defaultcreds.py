"""Opt-in default-credential check (``camaudit scan --check-default-creds``).

Runs after identification, per host, on what the other probes saw: the host is
classified (``auditor.classify``) to learn its real maker, and at most
``auditor.defaultcreds.MAX_ATTEMPTS`` published defaults for that maker are tried on
an endpoint that already asked for credentials: ONVIF ``GetDeviceInformation``
(WS-Security digest on the camera's clock) or an HTTP page that answered 401 (HTTP
Digest/Basic). The check stops at the first sign of a lockout (HTTP 423/429, a 401/403
that mentions a lock, an ONVIF fault that is not "not authorized") and at the first
success. The observation names the entry id and user, never the password.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from auditor.classify import classify as classify_hosts
from auditor.defaultcreds import MAX_ATTEMPTS, DefaultCredential, candidates
from auditor.model import Observation
from probes import onvif_soap
from probes.onvif import pin_host

log = logging.getLogger(__name__)

LOCK_WORDS = ("lock", "too many", "try again later", "frozen")
MAX_BODY = 4096

# One attempt: (entry) -> "ok" | "auth" | "lockout: ..." | "error: ..."
Attempt = Callable[[DefaultCredential], Awaitable[str]]


def _locked(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in LOCK_WORDS)


def _onvif_attempt(obs: Observation, ip: str, timeout: float) -> Attempt:
    offset = obs.data.get("clock_offset_s")
    dt_diff = dt.timedelta(seconds=float(offset)) if isinstance(offset, int | float) else None
    port = obs.port or 80
    xaddr = pin_host(obs.data.get("xaddr"), ip, port) or f"http://{ip}:{port}/onvif/device_service"

    async def attempt(entry: DefaultCredential) -> str:
        clients = await onvif_soap.device_clients(
            timeout, (entry.username, entry.password), dt_diff
        )
        try:
            proxy = clients.service("devicemgmt", xaddr)
            async with asyncio.timeout(timeout):
                await proxy.GetDeviceInformation()
        except onvif_soap.CALL_ERRORS as exc:  # the device's answer, classified below
            outcome = onvif_soap.classify(exc)
            if outcome == "auth":
                return "lockout: " + outcome if _locked(str(exc)) else "auth"
            return ("lockout: " if _locked(outcome) else "error: ") + outcome
        finally:
            await clients.close()
        return "ok"

    return attempt


def _http_attempt(obs: Observation, ip: str, path: str, timeout: float) -> Attempt:
    scheme = obs.data.get("scheme") if obs.data.get("scheme") in ("http", "https") else "http"
    url = f"{scheme}://{ip}:{obs.port}{path}"

    async def attempt(entry: DefaultCredential) -> str:
        session = onvif_soap.open_session(timeout, (entry.username, entry.password))
        try:
            async with session.get(url, allow_redirects=False) as resp:
                body = (await resp.content.read(MAX_BODY)).decode("latin-1", "replace")
                status = resp.status
                challenge = resp.headers.get("WWW-Authenticate", "")
        except (aiohttp.ClientError, TimeoutError) as exc:  # refused, reset, silent
            return f"error: {type(exc).__name__}"
        finally:
            await session.close()
        if status in (423, 429):
            return f"lockout: HTTP {status}"
        if status in (401, 403):
            return f"lockout: HTTP {status} {body[:80]!r}" if _locked(body + challenge) else "auth"
        if 200 <= status < 300:
            return "ok"
        return f"error: HTTP {status}"

    return attempt


def _choose(ip: str, obs_list: list[Observation], timeout: float) -> tuple[str, Attempt] | None:
    for o in obs_list:
        if o.probe == "onvif" and o.port and o.data.get("auth") in ("required", "failed"):
            return "onvif", _onvif_attempt(o, ip, timeout)
    for o in obs_list:
        if o.probe != "http" or not o.port:
            continue
        schemes = o.data.get("auth_schemes") or []
        paths = o.data.get("paths") if isinstance(o.data.get("paths"), dict) else {}
        locked = [p for p, st in (paths or {}).items() if st == 401]
        if o.data.get("status") == 401 or o.data.get("first_status") == 401:
            locked.insert(0, "/")
        if locked and any(s in ("digest", "basic") for s in schemes):
            return "http", _http_attempt(o, ip, locked[0], timeout)
    return None


async def check_default_creds(
    ip: str,
    observations: list[Observation],
    *,
    timeout: float = 3.0,
    max_attempts: int = MAX_ATTEMPTS,
    attempt: Attempt | None = None,
) -> Observation:
    """Try this host's vendor defaults; return one ``defaultcreds`` observation.

    ``observations`` are what the other probes saw on ``ip`` (used to name the maker and
    pick the endpoint). At most ``min(max_attempts, 3)`` attempts; stops at a success or
    a lockout sign. ``attempt`` replaces the network attempt (tests). Never raises for
    device behaviour; data keys are in docs/observations.md.
    """
    mine = [o for o in observations if o.ip == ip]
    (dev,) = classify_hosts(mine) if mine else [None]
    maker = dev.oem if dev else None
    label = dev.vendor if dev else None
    data: dict[str, Any] = {
        "maker": maker, "accepted": False, "attempts": 0, "tried": [], "user": None,
        "entry": None, "via": None, "stopped": None,
    }  # fmt: skip
    entries = candidates(maker, label, limit=max_attempts)
    if not entries:
        data["stopped"] = f"no published default for maker {maker or 'unknown'}"
        return Observation("defaultcreds", ip, data)
    chosen = _choose(ip, mine, timeout)
    port = None
    if attempt is None:
        if chosen is None:
            data["stopped"] = "no endpoint asked for credentials"
            return Observation("defaultcreds", ip, data)
        data["via"], attempt = chosen
        port = next((o.port for o in mine if o.probe == data["via"] and o.port), None)
    else:
        data["via"] = "injected"
    for entry in entries:
        data["attempts"] += 1
        data["tried"].append(entry.id)
        outcome = await attempt(entry)
        if outcome == "ok":
            data.update(accepted=True, user=entry.username, entry=entry.id)
            log.warning("%s: vendor default password accepted for user %s", ip, entry.username)
            break
        if outcome != "auth":
            data["stopped"] = outcome[:200]
            break
    return Observation("defaultcreds", ip, data, port=port)
