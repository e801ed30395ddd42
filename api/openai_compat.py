"""OpenAI-compatible `POST /v1/chat/completions` and `GET /v1/models`, so the official `openai` client
and chat UIs work: `model` picks the backend, the last user message is the question, earlier ones the
history; citations are `[n]` in the content (with a short sources list after the answer) and in full
in an extra `citations` field of the completion and of the final chunk."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import get_state
from api.errors import FieldError, error_body, status_of
from api.schemas import (
    COMPLETION_EXAMPLES,
    MAX_HISTORY,
    MAX_MESSAGE,
    ChatCompletionRequest,
    ErrorOut,
)
from api.state import ServiceState
from api.streaming import SSE_HEADERS, ask_stream, in_worker, sse
from rag.config import Settings, get_settings
from rag.retrieve import Filters
from rag.text_lang import language

router = APIRouter(prefix="/v1", tags=["openai"])
OWNER = "earnings-rag"
CREATED = 1_700_000_000  # a fixed "created" for the model list: backends are not versioned


def _model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": OWNER}


@router.get("/models", summary="The backends, as OpenAI models")
async def list_models(state: Annotated[ServiceState, Depends(get_state)]) -> dict[str, Any]:
    return {"object": "list", "data": [_model_card(b) for b in state.backends]}


@router.get("/models/{model_id}", summary="One backend, as an OpenAI model", responses={404: {"model": ErrorOut}})
async def get_model(model_id: str, state: Annotated[ServiceState, Depends(get_state)]) -> Any:
    if model_id not in state.backends:
        return _no_model(model_id, state.backends)
    return _model_card(model_id)


def _no_model(model: str, backends: list[str]) -> JSONResponse:
    return JSONResponse(error_body(f"The model {model!r} does not exist; available: {', '.join(backends)}",
                                   "invalid_request_error", "model_not_found", "model"), status_code=404)


def _question_and_history(req: ChatCompletionRequest) -> tuple[str, list[dict[str, str]]]:
    last = len(req.messages) - 1
    if req.messages[last].role != "user":
        raise FieldError(f"messages.{last}.role", "the last message must be the user's question", status=400)
    question = req.messages[last].text()
    if not question.strip():
        raise FieldError(f"messages.{last}.content", "the question must not be empty", status=400)
    if len(question) > MAX_MESSAGE:
        raise FieldError(f"messages.{last}.content", f"the question must be at most {MAX_MESSAGE} characters",
                         status=400)
    # Chat UIs resend the whole conversation: keep the latest turns rather than refuse long chats.
    history = [{"role": m.role, "content": m.text()} for m in req.messages[:last] if m.role in ("user", "assistant")]
    return question, history[-MAX_HISTORY:]


def sources_footer(reply: dict[str, Any], question: str) -> str:
    """A short sources list so a chat UI that shows only `content` still shows what `[n]` points at."""
    if not reply["citations"]:
        return ""
    zh = language(question) == "zh"
    lines = ["", "", "来源：" if zh else "Sources:"]
    for c in reply["citations"]:
        who = " ".join(x for x in (c.get("company") or c["doc_id"], c.get("period")) if x)
        speaker = f", {c['speaker']}" if c.get("speaker") else ""
        quote = " ".join(c["quote"].split())
        quote = quote if len(quote) <= 160 else quote[:157] + "…"
        lines.append(f"[{c['n']}] {who}{speaker}: “{quote}”")
    return "\n".join(lines)


_NOTES = {
    "unverified": ("Some numbers could not be verified against the cited passages.", "部分数字未能在引用段落中核实。"),
    "repaired": ("Claims with numbers not found in the sources were removed.", "已删除引用段落中找不到依据的数字。"),
    "replaced": ("The model's answer could not be checked; quotes from the transcripts are shown instead.",
                 "模型回答无法核实，已改用原文摘录。"),
}


def _notes(reply: dict[str, Any], question: str) -> str:
    """What a chat UI should know beyond the answer text: unverified numbers, a repaired LLM answer."""
    zh = int(language(question) == "zh")
    keys = (["unverified"] if not reply["verified"] else []) + ([reply["repair"]] if reply["repair"] in _NOTES else [])
    return "".join(f"\n\n({_NOTES[k][zh]})" for k in keys)


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat completion (non-streaming and streaming)",
    description="`model` selects the backend (see `/v1/models`). Besides the OpenAI fields the completion "
                "(and, when streaming, the last chunk) carries `citations` (the cited passages in full) and "
                "`reply` (the whole reply object: verified, abstained, related, ...). Sampling options are "
                "accepted and ignored. Extra fields `top_k` and `filters` work as in `/chat`.",
    response_model=None,
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)
async def chat_completions(
    req: Annotated[ChatCompletionRequest, Body(openapi_examples=COMPLETION_EXAMPLES)],
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    state: Annotated[ServiceState, Depends(get_state)],
) -> JSONResponse | StreamingResponse:
    if req.model not in state.backends:
        return _no_model(req.model, state.backends)
    question, history = _question_and_history(req)
    assistant = state.assistant()
    metrics = request.app.state.metrics
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    def work(on_delta: Any = None) -> Any:
        return assistant.ask(question, history=history, top_k=req.top_k or settings.top_k,
                             filters=Filters.from_dict(req.filters), backend=req.model, on_delta=on_delta)

    if not req.stream:
        reply = (await in_worker(state.limiter(req.model), work)).to_dict()
        metrics.observe_answer(reply)
        content = reply["answer"] + _notes(reply, question) + sources_footer(reply, question)
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": created, "model": req.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "system_fingerprint": assistant.index.version,
            "citations": reply["citations"],
            "reply": reply,
        })

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": req.model,
                    "system_fingerprint": assistant.index.version,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra})

    async def events() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        streamed: list[str] = []
        async for kind, value in ask_stream(work, state.limiter(req.model)):
            if kind == "delta":
                streamed.append(value)
                yield chunk({"content": value})
            elif kind == "reply":
                reply = value.to_dict()
                metrics.observe_answer(reply)
                tail = ""
                if "".join(streamed).strip() != reply["answer"].strip():
                    # An LLM answer whose unsupported claims were removed: text already sent cannot be
                    # taken back, so the checked answer follows it.
                    zh = language(question) == "zh"
                    tail = ("\n\n核实后的回答：" if zh else "\n\nChecked answer: ") + reply["answer"]
                tail += _notes(reply, question) + sources_footer(reply, question)
                if tail:
                    yield chunk({"content": tail})
                yield chunk({}, "stop", citations=reply["citations"], reply=reply)
                yield sse("[DONE]")
            elif kind == "error":
                _, body = status_of(value)
                yield sse(body)
                yield sse("[DONE]")
            else:
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
