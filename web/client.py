"""Send a scan to a camaudit server (used by ``camaudit scan --server URL --token T``)."""

from __future__ import annotations

from typing import Any

import httpx

from auditor.errors import CamauditError, StorageError


def upload_scan(
    server_url: str,
    token: str,
    scan_dict: dict[str, Any],
    timeout: float = 30.0,
    *,
    verify: bool | str = True,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """POST ``scan_dict`` to ``<server_url>/api/ingest`` and return the server's answer.

    The answer has ``scan_id``, ``created`` (False when the server already had this scan:
    safe to retry), and counts. Raises :class:`CamauditError` when the server rejects
    the token or the scan (401/403/413/422) and :class:`StorageError` when it cannot be
    reached or fails (timeouts, connection errors, 5xx). ``transport`` is a test seam.
    """
    url = server_url.rstrip("/") + "/api/ingest"
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "camaudit-probe"}
    try:
        with httpx.Client(timeout=timeout, verify=verify, transport=transport) as client:
            resp = client.post(url, json=scan_dict, headers=headers)
    except httpx.TimeoutException as exc:
        raise StorageError(f"{url}: no answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:  # connect refused, DNS, TLS, protocol errors
        raise StorageError(f"cannot reach {url}: {exc}") from exc
    detail = _detail(resp)
    if resp.status_code in (401, 403):
        raise CamauditError(f"{url} refused the probe token: {detail}")
    if resp.status_code == 413:
        raise CamauditError(f"{url} says the scan is too large: {detail}")
    if resp.status_code == 422:
        raise CamauditError(f"{url} rejected the scan as malformed: {detail}")
    if resp.status_code >= 400:
        raise StorageError(f"{url} answered {resp.status_code}: {detail}")
    try:
        body = resp.json()
    except ValueError as exc:
        raise StorageError(
            f"{url} answered {resp.status_code} with a body that is not JSON"
        ) from exc
    if not isinstance(body, dict):
        raise StorageError(f"{url} answered with unexpected JSON: {body!r:.200}")
    return body


def _detail(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200] or resp.reason_phrase
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:500]
    return str(data)[:200]
