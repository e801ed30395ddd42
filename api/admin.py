"""`POST /admin/reindex` (incremental rebuild from the configured sources, in the background, swapped in
with no downtime) and `GET /admin/reindex` (the last run). Bearer `RAG_ADMIN_TOKEN`; disabled while
the token is unset."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import JSONResponse

from api.deps import get_state
from api.errors import error_body, redact_paths
from api.schemas import ErrorOut
from api.state import ServiceState
from rag.config import Settings, get_settings

router = APIRouter(prefix="/admin", tags=["admin"])
_AUTH_ERRORS = {401: {"model": ErrorOut, "description": "no bearer token"},
                403: {"model": ErrorOut, "description": "wrong token, or admin disabled (RAG_ADMIN_TOKEN unset)"}}


async def require_admin(
    settings: Annotated[Settings, Depends(get_settings)],
    authorization: Annotated[str | None, Header(description="Bearer $RAG_ADMIN_TOKEN")] = None,
) -> None:
    token = settings.admin_token
    if not token:
        raise HTTPException(403, error_body("admin endpoints are disabled: set RAG_ADMIN_TOKEN to enable them",
                                            "permission_error", "admin_disabled", "Authorization"))
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise HTTPException(401, error_body("missing `Authorization: Bearer <RAG_ADMIN_TOKEN>` header",
                                            "authentication_error", "missing_token", "Authorization"),
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(403, error_body("Authorization: invalid admin token", "permission_error", "invalid_token",
                                            "Authorization"))


def _report(state: ServiceState, run: Any) -> dict[str, Any]:
    current = state.current
    report = run.to_dict()
    # Build errors name unreadable files by their whole path; the file name is enough to act on.
    report["errors"] = [redact_paths(e) for e in report.get("errors") or []]
    return {**report, "serving_version": current.index.version if current is not None else None}


@router.post("/reindex", summary="Rebuild the index from the configured sources (background, incremental)",
             status_code=202, dependencies=[Depends(require_admin)],
             responses={**_AUTH_ERRORS, 409: {"description": "a reindex is already running (its status)"}})
async def reindex(state: Annotated[ServiceState, Depends(get_state)]) -> JSONResponse:
    started, run = state.start_reindex()
    return JSONResponse(_report(state, run), status_code=202 if started else 409)


@router.get("/reindex", summary="The last reindex run: status, times, summary, errors",
            dependencies=[Depends(require_admin)], responses=_AUTH_ERRORS)
async def reindex_status(state: Annotated[ServiceState, Depends(get_state)]) -> dict[str, Any]:
    return _report(state, state.reindex_run)
