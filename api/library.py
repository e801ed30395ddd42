"""Browsing the index: `GET /search` (ranked passages with scores), `GET /documents` (transcripts
with metadata and chunk counts) and `GET /documents/{doc_id}` (turns and full text, for highlighting
a citation's `text[start:end]`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import get_state
from api.errors import FieldError, error_body, redact_paths
from api.schemas import MAX_TOP_K, ErrorOut
from api.state import ServiceState
from api.streaming import in_worker
from rag.build import metadata_missing
from rag.errors import TranscriptError
from rag.retrieve import Filters

router = APIRouter(tags=["index"])
_SEARCH_PARAMS = {"q", "top_k", "ticker", "company", "period", "language", "section", "role"}


@router.get("/search", summary="Ranked passages for a query (dense + BM25, fused), with scores",
            responses={422: {"model": ErrorOut}, 503: {"model": ErrorOut}})
async def search(
    request: Request,
    state: Annotated[ServiceState, Depends(get_state)],
    q: Annotated[str, Query(min_length=1, max_length=4000, description="the query")],
    top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 10,
    ticker: str | None = None,
    company: str | None = None,
    period: Annotated[str | None, Query(description="fiscal period, e.g. FY2025Q4 or Q4 2025")] = None,
    language: Annotated[str | None, Query(description="en or zh")] = None,
    section: Annotated[str | None, Query(description="summary, prepared or qa")] = None,
    role: Annotated[str | None, Query(description="a speaker role among the passage's speakers")] = None,
) -> dict[str, Any]:
    unknown = sorted(set(request.query_params) - _SEARCH_PARAMS)
    if unknown:
        # A parameter with an empty name ("?=x") still needs a field to blame: the query string.
        field = next((u for u in unknown if u.strip()), "query")
        raise FieldError(field, f"unknown query parameter(s) {unknown}; allowed: {sorted(_SEARCH_PARAMS)}")
    if not q.strip():
        raise FieldError("q", "the query must contain more than whitespace")
    try:
        filters = Filters(ticker=ticker, company=company, period=period, language=language, section=section, role=role)
    except ValueError as e:
        raise FieldError(str(e).split(" ")[0].removeprefix("filters."), str(e)) from None
    assistant = state.assistant()
    hits = await in_worker(state.limiter("extractive"), assistant.retriever.retrieve, q, top_k, filters)
    results = []
    for rank, h in enumerate(hits, 1):
        c, m = h.chunk, h.chunk.meta
        results.append({
            "rank": rank, "score": round(float(h.score), 6),
            "dense": None if h.dense is None else round(float(h.dense), 6),
            "lexical": None if h.lexical is None else round(float(h.lexical), 6),
            "chunk_id": c.id, "doc_id": c.doc_id, "company": m.company if m else None,
            "ticker": m.ticker if m else None, "period": m.period if m else None, "section": c.section,
            "speakers": [s.to_dict() for s in c.speakers], "question": c.question,
            "boilerplate": c.boilerplate, "start": c.start, "end": c.end, "text": c.text,
        })
    return {"query": q, "top_k": top_k, "filters": {k: v for k, v in vars(filters).items() if v},
            "version": assistant.index.version, "results": results}


def _doc_summary(doc_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "doc_id": doc_id, "company": entry.get("company"), "ticker": entry.get("ticker"),
        "period": entry.get("period"), "call_date": entry.get("call_date"), "language": entry.get("language"),
        "layout": entry.get("layout"), "aliases": entry.get("aliases") or [],
        "source": Path(entry.get("source", "")).name, "chunks": len(entry.get("chunk_ids") or []),
        "indexed_at": entry.get("indexed_at"), "warnings": entry.get("warnings") or [],
        # Indexed all the same; a sidecar NAME.meta.json with these fields fixes it.
        "metadata_missing": metadata_missing(entry),
    }


@router.get("/documents", summary="The indexed transcripts with metadata and chunk counts",
            responses={503: {"model": ErrorOut}})
async def documents(state: Annotated[ServiceState, Depends(get_state)]) -> dict[str, Any]:
    assistant = state.assistant()
    docs = assistant.index.manifest.get("documents", {})
    items = sorted((_doc_summary(d, e) for d, e in docs.items()),
                   key=lambda d: (d["company"] or d["doc_id"], d["period"] or ""))
    calls = same_calls(docs)
    for item in items:
        item["call"] = calls.get(item["doc_id"], [item["doc_id"]])
    return {"version": assistant.index.version, "count": len(items), "chunks": len(assistant.index),
            "calls": len({tuple(d["call"]) for d in items}), "documents": items}


def same_calls(docs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """doc id -> every document of its call: one company's one quarter, from however many sources
    (a full transcript and a summary of it, an English call and its translation)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for doc_id, e in docs.items():
        if e.get("ticker") and e.get("period"):
            groups.setdefault((e["ticker"].upper(), e["period"]), []).append(doc_id)
    return {d: sorted(group) for group in groups.values() for d in group}


# `:path` so an id with slashes (`../../etc/passwd`, `%2F`-encoded or not) still reaches this route and is
# answered "no such document" with its field named, rather than a bare no-such-route 404. The id is only
# ever a key of the manifest: no file is opened from it.
@router.get("/documents/{doc_id:path}", summary="One transcript: its turns, chunks and full text",
            description="`text` is the whole transcript; every citation's `quote == text[start:end]`, every "
                        "turn's and chunk's `start`/`end` point into it, so a citation can be highlighted.",
            responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}})
async def document(doc_id: str, state: Annotated[ServiceState, Depends(get_state)]) -> dict[str, Any]:
    assistant = state.assistant()
    entry = assistant.index.manifest.get("documents", {}).get(doc_id)
    if entry is None:
        raise HTTPException(404, error_body(f"no document {doc_id!r} in the index; see GET /documents",
                                            "not_found_error", "document_not_found", "doc_id"))
    path = state.source_path(entry.get("source", ""))
    if path is None:
        raise HTTPException(404, error_body(
            f"the transcript file of {doc_id!r} ({Path(entry.get('source', '')).name}) is no longer readable; "
            "reindex to drop it", "not_found_error", "source_missing", "doc_id"))
    try:
        transcript, digest = await run_in_threadpool(state.transcript, path)
    except (TranscriptError, OSError) as e:
        why = redact_paths(str(e))  # an OSError names the file with its whole path
        raise HTTPException(404, error_body(f"the transcript file of {doc_id!r} cannot be read: {why}",
                                            "not_found_error", "source_unreadable", "doc_id")) from None
    chunks = [{"chunk_id": c.id, "section": c.section, "start": c.start, "end": c.end, "part": c.part}
              for c in assistant.index.chunks_by_ids(entry.get("chunk_ids") or [])]
    return {
        **_doc_summary(doc_id, entry),
        # Offsets are those of the indexed version; a file edited since then may have moved them.
        "changed_since_indexed": digest != entry.get("hash"),
        "text": transcript.text,
        "turns": [{"speaker": t.speaker.to_dict(), "section": t.section, "start": t.start, "end": t.end,
                   "text": t.text} for t in transcript.turns],
        "chunk_spans": sorted(chunks, key=lambda c: c["start"]),
    }
