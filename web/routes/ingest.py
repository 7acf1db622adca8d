"""``POST /api/ingest``: a probe delivers a scan (probe token only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from web.deps import LimitedProbe, SessionDep, SettingsDep
from web.ingest import ingest_scan
from web.schemas import IngestOut, ScanIn

router = APIRouter(tags=["ingest"])


async def read_limited(request: Request, limit: int) -> bytes:
    """Return the body, or raise 413 as soon as it (or its declared length) passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status_code=413, detail=f"scan larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status_code=413, detail=f"scan larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/api/ingest",
    status_code=201,
    response_model=IngestOut,
    responses={
        200: {"model": IngestOut, "description": "already stored (same probe, same scan id)"},
        401: {"description": "missing, unknown or revoked probe token"},
        413: {"description": "body larger than max_ingest_bytes"},
        422: {"description": "body is not a valid scan"},
        429: {"description": "too many requests with this token; see Retry-After"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ScanIn.model_json_schema()}},
        }
    },
)
async def ingest(
    request: Request, probe: LimitedProbe, session: SessionDep, settings: SettingsDep
) -> Response:
    """Store a scan (``ScanResult.to_dict()``) sent with ``Authorization: Bearer <token>``.

    Idempotent: re-sending a scan id this probe already sent returns the stored scan
    (200, ``created: false``) and writes nothing. All or nothing on error.
    """
    body = await read_limited(request, settings.max_ingest_bytes)
    try:
        payload = ScanIn.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise HTTPException(status_code=422, detail=errors[:50]) from exc
    # Storage is synchronous; run it off the event loop so other requests keep flowing.
    out = await run_in_threadpool(ingest_scan, session, probe, payload)
    return JSONResponse(out.model_dump(), status_code=201 if out.created else 200)
