"""The evaluation suite: run eval cases through the same code path as the API and measure
retrieval, answer accuracy, citations, faithfulness, abstention and latency, beside a baseline."""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np

from rag.numbers import extract, parse, same

CASE_FIELDS = {"id", "question", "lang", "answerable", "gold_numbers", "gold_doc", "gold_quote", "tags", "split"}
SPLITS = ("dev", "test")
# The tags that say what a case is (eval/README.md); any other tag names the case's company.
KIND_TAGS = frozenset({"zh", "en", "cross-lingual", "follow-up", "prepared-remarks", "q&a", "summary",
                       "unanswerable", "percent", "money", "count", "bps", "multiple", "period-pinned", "latest",
                       "no-period", "no-company", "earlier-call", "analyst-firm", "absent-company"})


def company_of(tags) -> str | None:
    """The company a case is about (its first ticker tag): the unit dev and test are split by."""
    return next((t for t in tags if t not in KIND_TAGS), None)


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    lang: str
    answerable: bool
    gold_numbers: tuple[str, ...]
    gold_doc: str | None
    gold_quote: str | None
    tags: tuple[str, ...]
    history: tuple[dict[str, str], ...] = ()
    file: str = ""
    split: str = "dev"  # "dev": tune on it; "test": report on it, never tune (eval/split.py draws it)


def load_cases(paths: Iterable[Path]) -> list[Case]:
    """Cases from JSONL files or folders of them; errors name the file, line and field."""
    cases: list[Case] = []
    seen: set[str] = set()
    for p in paths:
        files = sorted(Path(p).glob("*.jsonl")) if Path(p).is_dir() else [Path(p)]
        if not files:
            raise ValueError(f"{p}: no *.jsonl case files")
        for f in files:
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{f}:{i}: not JSON: {e}") from e
                missing = CASE_FIELDS - set(d)
                if missing:
                    raise ValueError(f"{f}:{i}: missing field(s) {sorted(missing)}")
                if d["id"] in seen:
                    raise ValueError(f"{f}:{i}: duplicate id {d['id']!r}")
                if d["split"] not in SPLITS:
                    raise ValueError(f"{f}:{i}: split must be one of {SPLITS}, not {d['split']!r}")
                seen.add(d["id"])
                cases.append(Case(
                    id=d["id"], question=d["question"], lang=d["lang"], answerable=bool(d["answerable"]),
                    gold_numbers=tuple(d["gold_numbers"]), gold_doc=d["gold_doc"], gold_quote=d["gold_quote"],
                    tags=tuple(d["tags"]), history=tuple(d.get("history") or ()), file=f.name,
                    split=d["split"],
                ))
    return cases


CORPORA = ("gold", "all", "companies")


def corpus_of(case_file: str, config: Path) -> tuple[str, list[Path]]:
    """Which documents a case file is answered over: "gold" (the documents its cases name, the
    default), "all" (every transcript under the sources, several calls per company) or "companies"
    (every call under the sources of each company its cases are about); and the folders its
    documents are also under (`sources`, relative to the project root)."""
    import tomllib

    if not config.exists():
        return "gold", []
    data = tomllib.loads(config.read_text(encoding="utf-8")).get(Path(case_file).stem, {})
    value = data.get("documents", "gold")
    if value not in CORPORA:
        raise ValueError(f"{config}: [{Path(case_file).stem}] documents must be one of {CORPORA}, not {value!r}")
    return value, [(config.parent.parent / s).resolve() for s in data.get("sources", [])]


def all_documents(sources: list[Path]) -> dict[str, Path]:
    from rag.ingest import find_transcripts

    return {f.stem: f for f in find_transcripts([s for s in sources if Path(s).exists()])}


def prepare(file: str, group: list[Case], sources: list[Path], settings, embedder, index_dir: Path | None = None,
            with_reader: bool = True, as_is: bool = False):
    """The assistant a case file is answered by (over its documents, see `corpus_of`; the index is
    built or brought up to date first, unless `as_is`: `index_dir` is used as it is), the documents,
    and their texts. `with_reader=False`: the reader's weights are not read (fitting them)."""
    import sys
    from functools import partial

    from rag.app import make_assistant
    from rag.build import build_index
    from rag.config import PROJECT_ROOT
    from rag.errors import IndexMismatchError
    from rag.ingest import read_transcript
    from rag.store import load_index

    corpus, extra = corpus_of(file, PROJECT_ROOT / "eval" / "corpus.toml")
    sources = [*sources, *extra]
    docs = find_documents({c.gold_doc for c in group if c.gold_doc}, sources)
    if corpus == "all":
        docs = {**all_documents(sources), **docs}
    elif corpus == "companies":
        docs = {**company_documents({(company_of(c.tags) or "").upper() for c in group}, sources), **docs}
    idx = index_dir or index_dir_for(PROJECT_ROOT / "eval" / ".index", docs, getattr(embedder, "backend", "torch"),
                                     getattr(embedder, "precision", "fp32"))
    publish, uri = None, settings.milvus_uri or str(idx / "milvus.db")
    if settings.store == "milvus":  # the same cases over the Milvus store, published from the same build
        from rag.milvus_publish import publish as to_milvus

        publish = lambda ix: to_milvus(ix, uri, settings.milvus_collection,  # noqa: E731
                                       settings.milvus_token or "").summary()
    build = partial(build_index, sorted(docs.values()), idx, embedder, max_tokens=settings.chunk_max_tokens,
                    overlap_tokens=settings.chunk_overlap_tokens, publish=publish)
    if as_is:  # an index built elsewhere (the whole large corpus as distractors): answered over as it is
        summary = f"{idx} as it is"
    else:
        try:
            summary = build().summary()
        except IndexMismatchError:
            if index_dir is not None:  # the caller's own index: never rebuilt behind their back
                raise
            summary = build(rebuild=True).summary()  # a cached eval index of another model: only a cache
    print(f"{file}: {len(group)} cases over {len(docs)} document(s); index: {summary}", file=sys.stderr)
    if settings.store == "milvus":
        from rag.milvus_store import open_milvus

        index = open_milvus(uri, settings.milvus_collection, embedder.model_id, embedder.fingerprint(),
                            settings.milvus_token or "")
    else:
        index = load_index(idx, embedder.model_id, embedder.fingerprint())
    assistant = make_assistant(settings, index, embedder, with_reader=with_reader)
    return assistant, docs, {d: read_transcript(p).text for d, p in docs.items()}


def company_documents(tickers: set[str], sources: list[Path]) -> dict[str, Path]:
    """Every transcript under `sources` whose file name carries one of these tickers."""
    from rag.ingest.meta import from_filename

    return {d: f for d, f in all_documents(sources).items() if from_filename(f).get("ticker") in tickers}


def find_documents(doc_ids: set[str], sources: list[Path]) -> dict[str, Path]:
    """Transcript files for the doc ids, searched in `sources`; a missing one is an error."""
    found = {d: f for d, f in all_documents(sources).items() if d in doc_ids}
    missing = sorted(doc_ids - set(found))
    if missing:
        raise ValueError(f"documents {missing} named by eval cases are not under {', '.join(map(str, sources))}")
    return found


# ---------------------------------------------------------------------------------- scoring


def quote_span(doc_text: str, quote: str) -> tuple[int, int]:
    i = doc_text.find(quote)
    if i < 0:
        raise ValueError(f"gold quote not in its document: {quote[:40]!r}")
    return i, i + len(quote)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def holds_quote(start: int, end: int, span: tuple[int, int], doc_text: str = "", quote: str = "") -> bool:
    """A passage [start, end) holds the gold quote when it covers at least half of it, or when its
    text holds the quote up to whitespace: transcripts repeat a statement (a press summary and the
    Q&A both give "积压订单达 2440 亿美元"), and either place answers the question."""
    overlap = min(end, span[1]) - max(start, span[0])
    if overlap >= 0.5 * (span[1] - span[0]):
        return True
    if not quote:
        return False
    q, passage = _squeeze(quote), _squeeze(doc_text[start:end])
    if q in passage:
        return True
    # The same statement with a word more or less ("我们的积压订单达..." / "积压订单达..."): the
    # longest common run covers most of the quote.
    m = SequenceMatcher(None, q, passage, autojunk=False).find_longest_match(0, len(q), 0, len(passage))
    return m.size >= 0.8 * len(q)


def numbers_found(gold: tuple[str, ...], answer: str) -> bool:
    """Every gold number appears in the answer (as a normalised value)."""
    found = extract(answer)
    return all(any(same(parse(g), q) for q in found) for g in gold)


@dataclass
class CaseResult:
    case: Case
    answer: str = ""
    abstained: bool = False
    rank: int | None = None  # 1-based rank of the first retrieved passage holding the gold quote
    correct: bool | None = None  # every gold number in the answer (None: no gold numbers)
    cited_gold: int = 0
    cited: int = 0
    numbers: int = 0
    supported: int = 0
    latency_ms: float = 0.0
    citations: list[dict[str, Any]] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def metrics(results: list[CaseResult]) -> dict[str, float | int | None]:
    ans = [r for r in results if r.case.answerable]
    unans = [r for r in results if not r.case.answerable]
    ranked = [r for r in ans if r.case.gold_quote]
    numeric = [r for r in ans if r.case.gold_numbers]
    abstained = [r for r in results if r.abstained]
    answered = [r for r in ans if not r.abstained and r.cited]
    total_numbers = sum(r.numbers for r in results)

    def mean(xs: list[float]) -> float | None:
        return round(statistics.fmean(xs), 4) if xs else None

    return {
        "cases": len(results),
        "recall@1": mean([1.0 if r.rank == 1 else 0.0 for r in ranked]),
        "recall@5": mean([1.0 if r.rank is not None and r.rank <= 5 else 0.0 for r in ranked]),
        "recall@8": mean([1.0 if r.rank is not None and r.rank <= 8 else 0.0 for r in ranked]),
        "mrr": mean([1.0 / r.rank if r.rank else 0.0 for r in ranked]),
        "answer_accuracy": mean([1.0 if r.correct else 0.0 for r in numeric]),
        "citation_precision": mean([r.cited_gold / r.cited for r in answered]),
        "citation_recall": mean([1.0 if r.cited_gold else 0.0 for r in ranked]),
        "faithfulness": round(sum(r.supported for r in results) / total_numbers, 4) if total_numbers else None,
        "abstention_precision": mean([1.0 if not r.case.answerable else 0.0 for r in abstained]),
        "abstention_recall": mean([1.0 if r.abstained else 0.0 for r in unans]),
        "answerable_abstained": mean([1.0 if r.abstained else 0.0 for r in ans]),
        "latency_p50_ms": round(_percentile([r.latency_ms for r in results], 50), 2),
        "latency_p95_ms": round(_percentile([r.latency_ms for r in results], 95), 2),
    }


def by_split(results: list[CaseResult]) -> dict[str, dict[str, Any]]:
    """Metrics of dev and test side by side, the gap (test minus dev), and all cases together."""
    rows = {s: metrics([r for r in results if r.case.split == s]) for s in SPLITS}
    rows["gap (test-dev)"] = {"cases": "", **{k: round(v - rows["dev"][k], 4) for k, v in rows["test"].items()
                                              if k != "cases" and isinstance(v, (int, float))
                                              and isinstance(rows["dev"].get(k), (int, float))}}
    rows["all"] = metrics(results)
    return rows


def by_tag(results: list[CaseResult]) -> dict[str, dict[str, Any]]:
    tags = sorted({t for r in results for t in r.case.tags})
    return {t: metrics([r for r in results if t in r.case.tags]) for t in tags}


# ------------------------------------------------------------------------------- the runner


def run_cases(assistant, cases: list[Case], texts: dict[str, str], backend: str = "extractive",
              top_k: int = 5) -> list[CaseResult]:
    """Ask every case through `Assistant.ask` (the API's code path) and score the reply."""
    from rag.answer import unsupported_numbers

    results = []
    for case in cases:
        trace: dict[str, Any] = {}
        t0 = time.perf_counter()
        reply = assistant.ask(case.question, history=list(case.history), top_k=top_k, backend=backend, trace=trace)
        r = CaseResult(case, answer=reply.answer, abstained=reply.abstained,
                       latency_ms=(time.perf_counter() - t0) * 1000)
        r.citations = [{"n": c.n, "doc_id": c.doc_id, "quote": c.quote} for c in reply.citations]
        span = quote_span(texts[case.gold_doc], case.gold_quote) if case.gold_doc and case.gold_quote else None
        if span:
            for rank, hit in enumerate(trace.get("hits", []), 1):
                if _holds_gold(hit.chunk.doc_id, hit.chunk.start, hit.chunk.end, hit.chunk.text, case, span, texts):
                    r.rank = rank
                    break
            r.cited_gold = sum(1 for c in reply.citations
                               if _holds_gold(c.doc_id, *_chunk_span(assistant, c.chunk_id), c.text, case, span, texts))
        r.cited = len(reply.citations)
        if case.gold_numbers:
            r.correct = not reply.abstained and numbers_found(case.gold_numbers, reply.answer)
        if not reply.abstained:
            nums = extract(reply.answer)
            bad = unsupported_numbers(reply.answer, {c.n: c.text for c in reply.citations})
            r.numbers, r.supported = len(nums), len(nums) - len(bad)
        results.append(r)
    return results


def _holds_gold(doc_id: str, start: int, end: int, text: str, case: Case, span: tuple[int, int],
                texts: dict[str, str]) -> bool:
    """A passage of the gold document holding the gold quote, or of another source of the same call
    stating it word for word (a full transcript beside the summary the case was written on)."""
    if doc_id == case.gold_doc:
        return holds_quote(start, end, span, texts[case.gold_doc], case.gold_quote or "")
    from rag.ingest.text import unescape

    return bool(case.gold_quote) and _squeeze(unescape(case.gold_quote)) in _squeeze(unescape(text))


def _chunk_span(assistant, chunk_id: str) -> tuple[int, int]:
    c = assistant.index.chunk_by_id(chunk_id)
    return c.start, c.end


def run_baseline(embedder, cases: list[Case], texts: dict[str, str], top_k: int = 5) -> list[CaseResult]:
    """Fixed-size chunks (1000 chars, 200 overlap), dense retrieval only, top passage as the answer."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    passages: list[tuple[str, int, int, str]] = []  # (doc_id, start, end, text)
    for doc_id, text in texts.items():
        cursor = 0
        for piece in splitter.split_text(text):
            i = text.find(piece, cursor)
            i = i if i >= 0 else text.find(piece)
            passages.append((doc_id, i, i + len(piece), piece))
            cursor = max(cursor, i + 1)
    vectors = embedder.embed_passages([p[3] for p in passages])
    results = []
    for case in cases:
        t0 = time.perf_counter()
        q = embedder.embed_queries([case.question])[0]
        order = np.argsort(-(vectors @ q))[:top_k]
        top = passages[int(order[0])]
        r = CaseResult(case, answer=top[3], latency_ms=(time.perf_counter() - t0) * 1000, cited=1)
        span = quote_span(texts[case.gold_doc], case.gold_quote) if case.gold_doc and case.gold_quote else None
        if span:
            for rank, i in enumerate(order, 1):
                d, s, e, _ = passages[int(i)]
                if d == case.gold_doc and holds_quote(s, e, span, texts[d], case.gold_quote):
                    r.rank = rank
                    break
            r.cited_gold = int(top[0] == case.gold_doc and holds_quote(top[1], top[2], span, texts[top[0]], case.gold_quote))
        if case.gold_numbers:
            r.correct = numbers_found(case.gold_numbers, top[3])
        r.numbers = r.supported = len(extract(top[3]))  # a verbatim passage holds its own numbers
        results.append(r)
    return results


def index_dir_for(base: Path, doc_paths: dict[str, Path], backend: str = "torch", precision: str = "fp32") -> Path:
    """One cached index per set of documents (and embedding backend and precision), so each case file
    is answered over its own corpus and switching backends does not re-embed the other's cache."""
    key = hashlib.sha1("\n".join(sorted(doc_paths)).encode()).hexdigest()[:12]
    kind = "".join(f"-{x}" for x in (backend, precision) if x not in ("torch", "fp32"))
    return base / f"idx-{key}{kind}"
