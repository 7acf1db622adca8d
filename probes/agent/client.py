"""The probe's small HTTP client for the server: ingest, job pulls, job completion.

Every failure becomes a :class:`DeliveryError` that says whether trying again later can
help (``transient``: no answer, 5xx, 429) or not until someone acts (a refused token,
a scan the server rejects, a URL that is not a camaudit server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from auditor import __version__
from auditor.errors import CamauditError

log = logging.getLogger(__name__)


class DeliveryError(CamauditError):
    """The server could not be reached, or refused what the probe sent."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503)

    @property
    def auth(self) -> bool:
        return self.status in (401, 403)

    @property
    def rejected(self) -> bool:
        """The server will never accept this payload as it is (malformed, too large)."""
        return self.status in (413, 422)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    targets: list[str]
    options: dict[str, Any] = field(default_factory=dict)
    due: float = 0.0

    @classmethod
    def from_dict(cls, d: Any) -> Job:
        if not isinstance(d, dict) or "id" not in d:
            raise ValueError(f"a job needs an id: {d!r:.200}")
        targets = d.get("targets") or []
        options = d.get("options") or {}
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ValueError(f"job {d['id']}: targets must be a list of strings")
        if not isinstance(options, dict):
            raise ValueError(f"job {d['id']}: options must be an object")
        return cls(
            id=str(d["id"]),
            kind=str(d.get("kind") or "scan"),
            targets=list(targets),
            options=dict(options),
            due=float(d.get("due") or 0.0),
        )


class ServerClient:
    """Talk to one camaudit server with one probe token.

    ``status`` returns the health headers sent with every request (version, outbox
    depth, last error) so the dashboard can show how the probe is doing.
    ``transport`` is the test seam (an ``httpx.MockTransport`` or a proxy).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        verify: bool | str = True,
        status: Callable[[], dict[str, str]] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._status = status or dict
        self._client = httpx.Client(
            timeout=timeout,
            verify=verify,
            transport=transport,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"camaudit-probe/{__version__}",
            },
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _request(
        self, method: str, path: str, *, content: bytes | None = None, json: Any = None
    ) -> httpx.Response:
        url = self.url + path
        headers = {"X-Camaudit-Probe-Version": __version__, **self._status()}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            resp = self._client.request(method, url, content=content, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"{url}: no answer in time ({exc})", transient=True) from exc
        except httpx.HTTPError as exc:  # refused, reset, DNS, TLS, protocol errors
            raise DeliveryError(f"cannot reach {url}: {exc}", transient=True) from exc
        if resp.status_code < 400:
            return resp
        detail = _detail(resp)
        code = resp.status_code
        if code in (401, 403):
            raise DeliveryError(
                f"{url} refused this probe's token ({code}: {detail}); the token may be "
                "revoked or wrong. Results stay in the outbox until a valid token is set.",
                transient=False,
                status=code,
            )
        if code in (413, 422):
            raise DeliveryError(
                f"{url} rejected the payload ({code}): {detail}", transient=False, status=code
            )
        if code == 404:
            raise DeliveryError(
                f"{url} answered 404: is {self.url} a camaudit server (of this version)?",
                transient=False,
                status=code,
            )
        # 5xx, 429, 408, and anything odd: the server may be fine again in a moment.
        raise DeliveryError(
            f"{url} answered {code}: {detail}",
            transient=True,
            status=code,
            retry_after=_retry_after(resp),
        )

    def ingest(self, body: bytes) -> dict[str, Any]:
        """POST a scan JSON; return the server's answer (``created`` False on a resend)."""
        resp = self._request("POST", "/api/ingest", content=body)
        return _json_object(resp)

    def next_jobs(self) -> list[Job]:
        """Jobs the server has for this probe (malformed ones are logged and skipped)."""
        data = _json_object(self._request("GET", "/api/jobs/next"))
        jobs = []
        raw = data.get("jobs") or []
        if not isinstance(raw, list):
            raise DeliveryError(f"{self.url}/api/jobs/next: 'jobs' is not a list", transient=False)
        for d in raw:
            try:
                jobs.append(Job.from_dict(d))
            except ValueError as exc:
                log.error("ignoring a malformed job from the server: %s", exc)
        return jobs

    def job_done(self, job_id: str, scan_id: int | None, error: str | None = None) -> None:
        """Tell the server a job finished (with the server's scan id) or was refused/failed."""
        body: dict[str, Any] = {"scan_id": scan_id}
        if error:
            body["error"] = error[:2000]
        self._request("POST", f"/api/jobs/{quote(job_id, safe='')}/done", json=body)


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.0), 3600.0)
    except ValueError:  # absent, or an HTTP date (camaudit sends seconds)
        return None


def _detail(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200] or resp.reason_phrase
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:500]
    return str(data)[:200]


def _json_object(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError as exc:
        raise DeliveryError(
            f"{resp.request.url} answered {resp.status_code} with a body that is not JSON: "
            "is this a camaudit server?",
            transient=False,
            status=resp.status_code,
        ) from exc
    if not isinstance(data, dict):
        raise DeliveryError(f"{resp.request.url}: unexpected answer {data!r:.200}", transient=False)
    return data
