"""The FastAPI app factory: the lifespan loads the model and the index once (through `rag.app`), a
watcher swaps in a new index when `CURRENT` changes; routes only read the live state.

    rag serve [--host H] [--port P] [--index-dir DIR]
    uvicorn --factory api.app:create_app
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api import admin, chat, errors, library, openai_compat
from api.deps import get_state
from api.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, RequestLimits
from api.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from api.state import ServiceState
from rag.config import Settings, get_settings

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("api")

DESCRIPTION = """Questions about earnings-call transcripts (Chinese and English), answered from the indexed
calls only: every answer cites its passages as `[n]`, every number in it is checked against those
passages, and when the transcripts don't say, the reply abstains.

* `POST /chat` - the reply object, or Server-Sent Events with `stream: true`
* `POST /v1/chat/completions`, `GET /v1/models` - OpenAI-compatible (the `openai` client, chat UIs)
* `GET /search`, `GET /documents`, `GET /documents/{doc_id}` - browse the index and open citations
* `GET /health`, `GET /metrics` (Prometheus), `POST|GET /admin/reindex` (bearer token)

Errors share one JSON shape: `{"error": {"message", "type", "param", "code"}}`; `param` names the field
(or header, or `body`) at fault and the message states the rule.
""" + (f"Request bodies are JSON (`415` otherwise), UTF-8, at most {MAX_BODY_BYTES // 2**20} MiB (`413`) and "
       f"nested at most {MAX_JSON_DEPTH} levels.\n")


def _constant(settings: Settings) -> Any:
    """A dependency returning `settings`; async, so FastAPI awaits it instead of sending each request
    to a worker thread for it (a burst of requests would otherwise start 40 threads)."""

    async def current_settings() -> Settings:
        return settings

    return current_settings


def create_app(settings: Settings | None = None, *, reload_interval: float = 1.0, max_answers: int = 1) -> FastAPI:
    """A new app. Settings are `settings` when given, else whatever `get_settings` resolves to at
    start-up (tests override it through `app.dependency_overrides`); nothing loads until start-up.
    `reload_interval`: seconds between checks of the index's CURRENT pointer (0 disables live reload);
    `max_answers`: extractive answers and searches computed at once (others wait their turn)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = app.dependency_overrides.get(get_settings, get_settings)()
        if inspect.isawaitable(resolved):  # our own override (`_constant`) is async
            resolved = await resolved
        # Handlers read the same Settings the index was loaded with (unless a test overrides them).
        app.dependency_overrides.setdefault(get_settings, _constant(resolved))
        state = ServiceState(resolved, reload_interval=reload_interval, max_answers=max_answers)
        state.open_limiters()
        await run_in_threadpool(state.start)
        app.state.service = state
        try:
            yield
        finally:
            state.stop()
            app.state.service = None

    app = FastAPI(title="Earnings-call Q&A", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    if settings is not None:
        app.dependency_overrides[get_settings] = _constant(settings)
    app.state.metrics = Metrics()
    app.state.service = None
    errors.install(app)
    # Limits first, metrics outside them: a refused body is still counted.
    app.add_middleware(RequestLimits)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    for module in (chat, openai_compat, library, admin):
        app.include_router(module.router)

    @app.get("/health", tags=["service"], summary="Index loaded, model, document and chunk counts, version")
    async def health(state: Annotated[ServiceState, Depends(get_state)]) -> JSONResponse:
        report = state.health()
        return JSONResponse(report, status_code=200 if report["index"]["loaded"] else 503)

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics (text format)",
             response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
    async def metrics() -> Response:
        return Response(app.state.metrics.render(app.state.service), media_type=CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def index_page() -> Any:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
