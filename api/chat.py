"""`POST /chat`: the reply object, or Server-Sent Events (`delta` events, then one `reply`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import get_state
from api.errors import FieldError, status_of
from api.schemas import CHAT_EXAMPLES, ChatRequest, ErrorOut, ReplyOut
from api.state import ServiceState
from api.streaming import SSE_HEADERS, ask_stream, in_worker, sse
from rag.config import Settings, get_settings
from rag.retrieve import Filters

router = APIRouter(tags=["chat"])

STREAM_DOC = (
    "With `stream: true` the reply is `text/event-stream`: `event: delta` with `{\"text\": ...}` for each "
    "piece of answer text as it is produced, then exactly one `event: reply` carrying the whole reply "
    "object (the final answer text, citations, verified, abstained). The streamed text of an LLM backend "
    "can differ from the final `answer` when unsupported numbers were removed: show the final one. "
    "A failure after the stream started arrives as `event: error` with the usual error object."
)


def check_backend(assistant: Any, backend: str, field: str = "backend") -> None:
    if backend not in assistant.backends:
        raise FieldError(field, f"unknown backend {backend!r}; available: {', '.join(assistant.backends)}")


@router.post(
    "/chat",
    summary="Ask a question about the indexed earnings calls",
    description="Answers with `[n]` markers; every number is checked against the passage it cites; when "
                "the transcripts don't say, `abstained` is true and `related` lists the nearest passages. "
                + STREAM_DOC,
    response_model=None,
    responses={200: {"model": ReplyOut, "content": {"text/event-stream": {}}},
               422: {"model": ErrorOut, "description": "a field broke a rule (the error names it)"},
               503: {"model": ErrorOut, "description": "no index is loaded (the reason says why)"}},
)
async def chat(
    req: Annotated[ChatRequest, Body(openapi_examples=CHAT_EXAMPLES)],
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    state: Annotated[ServiceState, Depends(get_state)],
) -> JSONResponse | StreamingResponse:
    assistant = state.assistant()  # the one this request uses, even if a new index is swapped in
    check_backend(assistant, req.backend)
    metrics = request.app.state.metrics

    def work(on_delta: Any = None) -> Any:
        return assistant.ask(
            req.message,
            history=[t.model_dump() for t in req.history],
            top_k=req.top_k or settings.top_k,
            filters=Filters.from_dict(req.filters),
            backend=req.backend,
            on_delta=on_delta,
        )

    if not req.stream:
        reply = (await in_worker(state.limiter(req.backend), work)).to_dict()
        metrics.observe_answer(reply)
        return JSONResponse(reply)

    async def events() -> AsyncIterator[str]:
        async for kind, value in ask_stream(work, state.limiter(req.backend)):
            if kind == "delta":
                yield sse({"text": value}, "delta")
            elif kind == "reply":
                reply = value.to_dict()
                metrics.observe_answer(reply)
                yield sse(reply, "reply")
            elif kind == "error":
                status, body = status_of(value)
                yield sse({**body, "status": status}, "error")
            else:
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
