"""Frozen dataclasses passed between pipeline stages: transcripts, turns and chunks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["operator", "executive", "analyst", "unknown"]
Section = Literal["summary", "prepared", "qa"]
ROLES: tuple[str, ...] = ("operator", "executive", "analyst", "unknown")
SECTIONS: tuple[str, ...] = ("summary", "prepared", "qa")


@dataclass(frozen=True)
class DocMeta:
    """What a transcript is about; every chunk carries its document's metadata."""

    doc_id: str
    source: str  # file name the transcript was read from
    company: str | None = None
    ticker: str | None = None
    period: str | None = None  # normalised, e.g. "FY2025Q4"
    call_date: str | None = None  # ISO date
    language: str = "en"  # "en", "zh", or "en+zh" for a bilingual copy (each chunk then has its own)
    layout: str = "unknown"
    aliases: tuple[str, ...] = ()  # other names of the company (e.g. Chinese name)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["aliases"] = list(self.aliases)
        return d


@dataclass(frozen=True)
class Speaker:
    name: str | None
    role: str = "unknown"  # one of ROLES
    title: str | None = None  # job title, e.g. "Chief Financial Officer"
    firm: str | None = None  # employer, for analysts the research firm

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Turn:
    """One speaker's uninterrupted contribution; `source[start:end] == text`."""

    speaker: Speaker
    section: str  # one of SECTIONS
    start: int
    end: int
    text: str
    language: str | None = None  # set in bilingual documents; otherwise the document's language


@dataclass(frozen=True)
class Transcript:
    meta: DocMeta
    text: str  # the whole decoded source text; offsets point into it
    turns: tuple[Turn, ...]
    warnings: tuple[str, ...] = ()
    source_hash: str = ""  # sha256 of the raw file bytes

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage. `text` is exactly `transcript.text[start:end]`."""

    id: str
    doc_id: str
    section: str
    speakers: tuple[Speaker, ...]
    text: str
    embed_text: str
    start: int
    end: int
    question: str | None = None  # the analyst question, for Q&A chunks
    analyst: str | None = None
    analyst_firm: str | None = None
    boilerplate: bool = False  # safe-harbor language, operator instructions
    part: int = 0  # index of this piece when a long turn or exchange was split
    meta: DocMeta | None = field(default=None, compare=False)
    lang: str | None = None  # the passage's language where it differs from a bilingual document's

    @property
    def language(self) -> str:
        return self.lang or (self.meta.language if self.meta else "") or ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "doc_id": self.doc_id,
            "section": self.section,
            "speakers": [s.to_dict() for s in self.speakers],
            "question": self.question,
            "analyst": self.analyst,
            "analyst_firm": self.analyst_firm,
            "boilerplate": self.boilerplate,
            "part": self.part,
            "text": self.text,
            "embed_text": self.embed_text,
            "start": self.start,
            "end": self.end,
        }
        if self.lang:
            d["lang"] = self.lang
        if self.meta is not None:
            m = self.meta.to_dict()
            m.pop("doc_id")
            d.update(m)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Chunk":
        meta_keys = set(DocMeta.__dataclass_fields__) - {"doc_id"}
        meta = None
        if "source" in d:
            mk = {k: d[k] for k in meta_keys if k in d}
            mk["aliases"] = tuple(mk.get("aliases") or ())
            meta = DocMeta(doc_id=d["doc_id"], **mk)
        return cls(
            id=d["id"],
            doc_id=d["doc_id"],
            section=d["section"],
            speakers=tuple(Speaker(**s) for s in d["speakers"]),
            text=d["text"],
            embed_text=d["embed_text"],
            start=d["start"],
            end=d["end"],
            question=d.get("question"),
            analyst=d.get("analyst"),
            analyst_firm=d.get("analyst_firm"),
            boilerplate=d.get("boilerplate", False),
            part=d.get("part", 0),
            meta=meta,
            lang=d.get("lang"),
        )


@dataclass(frozen=True)
class Source:
    """A numbered passage handed to a generator (the `[n]` an answer may cite)."""

    n: int
    text: str
    company: str | None = None
    ticker: str | None = None
    period: str | None = None
    speaker: str | None = None
    section: str | None = None


@dataclass(frozen=True)
class Where:
    """Which chunks a search may return, checked inside the store (FAISS rows or a Milvus filter
    expression); every field is optional and they combine with AND. Values are already normalised:
    ticker upper-case, company lower-case, period like "FY2025Q4"."""

    ticker: str | None = None
    company: str | None = None  # one of the company's names or aliases
    period: str | None = None
    language: str | None = None
    section: str | None = None
    role: str | None = None  # a speaker role that must be among the chunk's speakers
    doc_ids: frozenset[str] | None = None

    @property
    def restricts(self) -> bool:
        return any(v is not None for v in (self.ticker, self.company, self.period, self.language, self.section,
                                            self.role, self.doc_ids))


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score (and the per-retriever scores that ranked it)."""

    chunk: Chunk
    row: int
    score: float
    dense: float | None = None  # cosine similarity to the question (None: not computed)
    lexical: float | None = None  # BM25 score, when lexical retrieval ranked it


@dataclass(frozen=True)
class Citation:
    n: int
    chunk_id: str
    doc_id: str
    company: str | None
    ticker: str | None
    period: str | None
    speaker: str | None
    section: str
    text: str  # the whole passage
    quote: str  # the sentence relied on; source[start:end] == quote
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """The reply object shared by the CLI (`--json`) and the API."""

    answer: str
    abstained: bool
    verified: bool
    question: str  # the standalone form the retrieval used
    backend: str
    citations: tuple[Citation, ...] = ()
    related: tuple[Citation, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    original_question: str | None = None
    repair: str | None = None  # None, "repaired" (unsupported sentences dropped) or "replaced" (extractive)
    unsupported: tuple[str, ...] = ()  # numbers an LLM wrote that no cited passage holds
    scope: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # why an LLM backend's answer was not used (it failed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "abstained": self.abstained,
            "verified": self.verified,
            "question": self.question,
            "original_question": self.original_question,
            "backend": self.backend,
            "repair": self.repair,
            "unsupported": list(self.unsupported),
            "citations": [c.to_dict() for c in self.citations],
            "related": [c.to_dict() for c in self.related],
            "scope": self.scope,
            "error": self.error,
            "timings_ms": self.timings_ms,
        }
