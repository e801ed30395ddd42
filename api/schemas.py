"""Request bodies (validated where they enter) and documentation-only reply shapes, with examples."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rag.retrieve import Filters

MAX_MESSAGE = 4000
MAX_HISTORY = 20
MAX_TOP_K = 50


def _check_filters(v: dict[str, str | None] | None) -> dict[str, str | None] | None:
    if v is not None:
        Filters.from_dict(v)  # raises ValueError naming unknown keys and bad values
    return v


class Turn(BaseModel):
    """One earlier chat turn."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=20_000)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE, description="the question, 1-4000 characters")
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY,
                                description="earlier turns, oldest first (at most 20)")
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K, description="passages to retrieve (1-50)")
    filters: dict[str, str | None] | None = Field(
        default=None, description="metadata filters: ticker, company, period, language, section, role")
    backend: str = Field(default="extractive", description="extractive, openai or llama-cpp (see /v1/models)")
    stream: bool = Field(default=False, description="Server-Sent Events: `delta` events, then one `reply` event")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("message must contain more than whitespace")
        return v

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, v: dict[str, str | None] | None) -> dict[str, str | None] | None:
        return _check_filters(v)


CHAT_EXAMPLES: dict[str, dict[str, Any]] = {
    "question": {
        "summary": "A question (Chinese)",
        "value": {"message": "亚马逊的积压订单是多少？"},
    },
    "follow-up": {
        "summary": "A follow-up with history, filtered, top 8 passages",
        "value": {
            "message": "那环比呢？",
            "history": [
                {"role": "user", "content": "亚马逊的积压订单同比增长多少？"},
                {"role": "assistant", "content": "亚马逊 FY2025Q4: 积压订单达2440亿美元，同比增长40% [1]"},
            ],
            "filters": {"ticker": "AMZN", "period": "FY2025Q4"},
            "top_k": 8,
        },
    },
    "stream": {
        "summary": "Streamed (Server-Sent Events)",
        "value": {"message": "What did Microsoft say about Azure growth?", "stream": True},
    },
}


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    # A string, or OpenAI content parts ([{"type": "text", "text": ...}]) as some chat UIs send.
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    # Sampling options (temperature, max_tokens, ...) are accepted and ignored: answers are grounded.
    model_config = ConfigDict(extra="allow")

    model: str = Field(default="extractive", description="the backend: see GET /v1/models")
    messages: list[OpenAIMessage] = Field(min_length=1, description="the last user message is the question")
    stream: bool = False
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K)
    filters: dict[str, str | None] | None = None

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, v: dict[str, str | None] | None) -> dict[str, str | None] | None:
        return _check_filters(v)


COMPLETION_EXAMPLES: dict[str, dict[str, Any]] = {
    "non-streaming": {
        "summary": "One answer",
        "value": {"model": "extractive", "messages": [{"role": "user", "content": "亚马逊的积压订单是多少？"}]},
    },
    "streaming": {
        "summary": "Streamed chunks with history",
        "value": {
            "model": "extractive",
            "stream": True,
            "messages": [
                {"role": "system", "content": "You answer from earnings-call transcripts."},
                {"role": "user", "content": "What was Microsoft's revenue?"},
                {"role": "assistant", "content": "Microsoft FY2024Q3: Revenue was $61.9 billion [1]"},
                {"role": "user", "content": "And operating income?"},
            ],
        },
    },
}


# ------------------------------------------------------------------ reply shapes (documentation)


class CitationOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    n: int
    chunk_id: str
    doc_id: str
    company: str | None
    ticker: str | None
    period: str | None
    speaker: str | None
    section: str
    text: str = Field(description="the whole cited passage")
    quote: str = Field(description="the sentence relied on; transcript text[start:end] == quote")
    start: int
    end: int
    score: float


class ReplyOut(BaseModel):
    """The reply object (`rag.types.Answer.to_dict()`)."""

    model_config = ConfigDict(extra="allow")
    answer: str
    abstained: bool
    verified: bool = Field(description="every number in the answer was found in the passage it cites")
    question: str
    original_question: str | None
    backend: str
    repair: str | None
    unsupported: list[str]
    citations: list[CitationOut]
    related: list[CitationOut]
    scope: dict[str, Any]
    timings_ms: dict[str, float]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail
