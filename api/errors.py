"""Error replies: one JSON shape for every error (OpenAI's `{"error": {message, type, param, code}}`),
library errors translated to HTTP here, and a catch-all so no stack trace ever reaches a client."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import IndexMismatchError, IndexMissingError, ModelError, RagError

log = logging.getLogger("api")

# OpenAI clients expect 400 for a malformed request; the service's own routes answer 422.
OPENAI_PREFIX = "/v1/"


class Unavailable(Exception):
    """No index is loaded (missing, damaged, or built by another model): 503 with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FieldError(Exception):
    """A request field that passed the schema but not a rule that needs the live service."""

    def __init__(self, field: str, message: str, status: int = 422, code: str = "validation_error") -> None:
        super().__init__(message)
        self.field, self.message, self.status, self.code = field, message, status, code


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None,
               **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code, **extra}}


# An absolute file path inside a library message: a slash-led run of path segments not glued to a word
# (so "a/b" and "3/4" stay). Clients get its last component only: where the index, the sources or the
# project live on the server is none of their business, and the file name alone still says which.
_ABS_PATH = re.compile(r"(?<![\w.~\-/])(?:/[\w.~+@%=\-]+)+/?")


def redact_paths(text: str) -> str:
    """`text` with every absolute path cut to its last component ("/srv/idx/v-1/x.json" -> "x.json")."""
    return _ABS_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def status_of(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """HTTP status and body for an exception raised while answering (also used inside streams).
    Library messages carry the rule and a fix, and often a path: the path is cut to its last part."""
    if isinstance(exc, Unavailable):
        return 503, error_body(redact_paths(exc.reason), "service_unavailable", "index_unavailable")
    if isinstance(exc, FieldError):
        return exc.status, error_body(f"{exc.field}: {exc.message}", "invalid_request_error", exc.code, exc.field,
                                      fields=[{"field": exc.field, "message": exc.message}])
    if isinstance(exc, (IndexMissingError, IndexMismatchError, ModelError)):
        return 503, error_body(redact_paths(str(exc)), "service_unavailable", "index_unavailable")
    if isinstance(exc, RagError):  # (an LLM backend's failure never gets here: answers fall back)
        return 500, error_body(redact_paths(str(exc)), "server_error", type(exc).__name__)
    if isinstance(exc, ValueError):  # the library's argument checks: the rule is in the message
        return 422, error_body(redact_paths(str(exc)), "invalid_request_error", "invalid_value")
    log.error("unhandled error", exc_info=exc)
    return 500, error_body("internal server error", "server_error", "internal_error")


def _field_name(loc: tuple[Any, ...]) -> str:
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:] or loc
    return ".".join(str(p) for p in loc) or "body"


def _validation_payload(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    fields = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        name = "body" if err.get("type") == "json_invalid" else _field_name(loc)
        fields.append({"field": name, "message": msg, "type": err.get("type")})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid request"
    return summary, fields


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the same JSON shape."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        summary, fields = _validation_payload(exc)
        status = 400 if request.url.path.startswith(OPENAI_PREFIX) else 422
        return JSONResponse(error_body(summary, "invalid_request_error", "validation_error",
                                       fields[0]["field"] if fields else None, fields=fields), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict) and "error" in exc.detail:
            body = exc.detail
        elif exc.status_code == 404 and exc.detail == "Not Found":  # the router's: no route matched
            body = error_body("no route matches this path; the routes are listed at /openapi.json and /docs",
                              "not_found_error", "route_not_found", "path")
        elif exc.status_code == 405:
            allowed = (getattr(exc, "headers", None) or {}).get("Allow", "")
            body = error_body(f"method {request.method} is not allowed on this route; allowed: {allowed}",
                              "invalid_request_error", "method_not_allowed", "method")
        else:
            kinds = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                     405: "invalid_request_error", 409: "conflict_error"}
            body = error_body(str(exc.detail), kinds.get(exc.status_code, "invalid_request_error"))
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    async def _translated(request: Request, exc: Exception) -> JSONResponse:
        status, body = status_of(exc)
        return JSONResponse(body, status_code=status)

    for kind in (Unavailable, FieldError, RagError, ValueError):
        app.add_exception_handler(kind, _translated)

    @app.exception_handler(Exception)
    async def _catch_all(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("internal server error", "server_error", "internal_error"), status_code=500)
