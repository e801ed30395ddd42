"""The same figures stated twice: cite the statement in the asker's language, and the speaker's own
words over an editor's key-figure bullet. A bilingual copy says everything twice, and a published
transcript often opens with bullets that repeat what an executive then says."""

from __future__ import annotations

from dataclasses import replace

from rag.glossary import groups, is_aspect
from rag.numbers import extract, same
from rag.reader import overlapping
from rag.sentences import Sentence, contiguous, split
from rag.store import Index
from rag.types import Hit

_NOT_FIGURES = {"date", "year"}


def _figures(text: str) -> list:
    return [q for q in extract(text) if q.kind not in _NOT_FIGURES]


def _measures(text: str) -> list[frozenset[str]]:
    """The glossary measures a sentence names, each as all its phrasings (so across languages)."""
    return [frozenset(m.lower() for m in g) for g in groups(text) if not is_aspect(g)]


def _same_claim(figures: list, measures: list[frozenset[str]], text: str) -> bool:
    """`text` states every figure, and of the same measure: a figure alone (17%) could be another
    claim's, so one shared measure is needed, or at least two figures where the claim names none."""
    found = _figures(text)
    if not all(any(same(f, g) for g in found) for f in figures):
        return False
    if measures:
        return any(m & o for m in measures for o in _measures(text))
    return len(figures) >= 2


def _better(hit: Hit, lang: str) -> tuple[int, int]:
    return (int(hit.chunk.language == lang), int(hit.chunk.section != "summary"))


def restate(picks: list, lang: str, hits: list[Hit], index: Index) -> list:
    """`picks` with each sentence replaced by one stating the same figures from a better passage of
    the same document (the asker's language first, then not a summary), if there is one."""
    out = []
    for p in picks:
        p = _restated(p, lang, hits, index)
        # Two picks can restate to one sentence (a bilingual copy's two lines of one claim): quote it once.
        if not any(overlapping(o, p) for o in out):
            out.append(p)
    return out


def _restated(p, lang: str, hits: list[Hit], index: Index):
    """`p`, or the same figures stated in a better passage of its document."""
    figures = _figures(p.sentence.text)
    measures = _measures(p.sentence.text)
    if not figures or _better(p.hit, lang) == (1, 1):
        return p
    pool: dict[str, Hit] = {h.chunk.id: h for h in hits if h.chunk.doc_id == p.hit.chunk.doc_id}
    ids = index.manifest.get("documents", {}).get(p.hit.chunk.doc_id, {}).get("chunk_ids", [])
    for chunk in index.chunks_by_ids([i for i in ids if i not in pool]):
        pool[chunk.id] = Hit(chunk=chunk, row=index.row_of(chunk.id), score=p.hit.score)
    for h in sorted(pool.values(), key=lambda h: _better(h, lang), reverse=True):
        if _better(h, lang) <= _better(p.hit, lang):
            break
        s = next((s for s in _statements(h.chunk.text, h.chunk.start) if _same_claim(figures, measures, s.text)), None)
        if s is not None:
            return replace(p, hit=h, sentence=s)
    return p


def _statements(text: str, start: int):
    """A passage's sentences, then its adjacent pairs: a pick of two sentences ("119% ... 2,506
    customers, up 17%") is stated in the other language in two sentences too."""
    sents = split(text, start)
    yield from sents
    for a, b in zip(sents, sents[1:]):
        if contiguous(text, a, b, start):
            yield Sentence(text[a.start - start : b.end - start], a.start, b.end)
