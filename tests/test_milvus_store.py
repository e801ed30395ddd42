"""The Milvus store (milvus-lite file) against the FAISS store on the same built index: the same
hits for every filter, the same answers, and publishes that write only what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rag.answer import Assistant  # noqa: E402
from rag.app import make_reader  # noqa: E402
from rag.build import build_index  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embed import FakeEmbedder  # noqa: E402
from rag.errors import IndexMismatchError, IndexMissingError  # noqa: E402
from rag.milvus_publish import publish  # noqa: E402
from rag.milvus_store import expression, lexical_text, open_milvus  # noqa: E402
from rag.retrieve import Filters, Retriever  # noqa: E402
from rag.store import load_index  # noqa: E402
from rag.types import Where  # noqa: E402

FILES = ("ACME_FY24Q2_en.txt", "SEED_FY25Q4_zh.txt", "GLBX_FY23Q3_en.txt", "INIT_FY23Q3_en.tsv", "WB_FY24Q3_zh.txt")
QUESTIONS = (
    "How much did pricing add to growth?",
    "What was the backlog and how much did it grow year over year?",
    "收入同比增长多少？",
    "What did the CFO say about gross margin guidance?",
    "operating cash flow 3.5",
)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory):
    data = Path(__file__).parent / "data"
    root = tmp_path_factory.mktemp("stores")
    emb = FakeEmbedder()
    build_index([data / n for n in FILES], root / "index", emb)
    local = load_index(root / "index")
    uri = str(root / "milvus.db")
    report = publish(local, uri, "t")
    assert report.inserted == len(local) and report.deleted == 0
    return local, open_milvus(uri, "t", emb.model_id, emb.fingerprint()), emb, uri


def _same_hits(a, b) -> None:
    assert [h.chunk.id for h in a] == [h.chunk.id for h in b]
    for x, y in zip(a, b):
        assert x.score == pytest.approx(y.score, abs=1e-12)
        assert (x.dense is None) == (y.dense is None) and (x.lexical is None) == (y.lexical is None)
        assert x.dense == pytest.approx(y.dense, rel=1e-5) if x.dense is not None else True
        assert x.lexical == pytest.approx(y.lexical, rel=1e-4) if x.lexical is not None else True


@pytest.mark.parametrize("question", QUESTIONS)
def test_both_stores_retrieve_the_same_passages(stores, question: str) -> None:
    local, milvus, emb, _ = stores
    a = Retriever(local, emb).retrieve(question, top_k=8)
    b = Retriever(milvus, emb).retrieve(question, top_k=8)
    assert a, question
    _same_hits(a, b)


@pytest.mark.parametrize("filters", [
    Filters(ticker="acme"), Filters(company="globex"), Filters(period="FY2025Q4"), Filters(language="zh"),
    Filters(section="qa"), Filters(role="analyst"), Filters(ticker="ACME", section="prepared"),
])
def test_filters_run_inside_milvus_and_agree(stores, filters: Filters) -> None:
    local, milvus, emb, _ = stores
    a = Retriever(local, emb).retrieve("revenue growth margin", top_k=10, filters=filters)
    b = Retriever(milvus, emb).retrieve("revenue growth margin", top_k=10, filters=filters)
    assert a
    _same_hits(a, b)


def test_scope_restricts_by_document_inside_milvus(stores) -> None:
    local, milvus, emb, _ = stores
    r = Retriever(milvus, emb)
    scope = r.scope("SMPL What was the backlog?")
    assert scope.doc_ids
    hits = r.retrieve("What was the backlog?", top_k=5, scope=scope)
    assert hits and {h.chunk.doc_id for h in hits} <= set(scope.doc_ids)
    _same_hits(Retriever(local, emb).retrieve("What was the backlog?", top_k=5, scope=scope), hits)


def test_term_statistics_and_sentence_vectors_match(stores) -> None:
    local, milvus, _, _ = stores
    for token in ("revenu", "积压", "margin", "no-such-token"):
        assert milvus.idf(token) == pytest.approx(local.idf(token))
    row = 3
    key = milvus.row_of(local.chunks[row].id)
    assert milvus.chunk(key) == local.chunks[row]
    assert (milvus.sentences_of(key) == local.sentences_of(row)).all()
    assert milvus.chunks_by_ids([c.id for c in local.chunks[:5]]) == local.chunks[:5]
    q = (local.embeddings[row] + local.embeddings[row + 1]) / 2  # any query vector
    keys = {milvus.row_of(local.chunks[r].id): r for r in (row, row + 2)}
    assert milvus.dense_of(q, list(keys)) == pytest.approx(
        {k: local.dense_of(q, [r])[r] for k, r in keys.items()}, abs=1e-4)


def test_answers_are_identical_on_both_stores(stores) -> None:
    local, milvus, emb, _ = stores
    settings = Settings()
    answers = []
    for index in (local, milvus):
        a = Assistant(index, emb, {}, reader=make_reader(settings, index))
        answers.append([a.ask(q, top_k=8) for q in QUESTIONS])
    assert any(not x.abstained for x in answers[0])
    for x, y in zip(*answers):
        assert (x.answer, x.abstained, x.verified) == (y.answer, y.abstained, y.verified)
        assert [c.chunk_id for c in x.citations] == [c.chunk_id for c in y.citations]
        assert [c.chunk_id for c in x.related] == [c.chunk_id for c in y.related]


def test_publish_writes_only_what_changed(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data"
    src = tmp_path / "src"
    src.mkdir()
    for n in FILES[:3]:
        shutil.copy(data / n, src / n)
    emb = FakeEmbedder()
    uri = str(tmp_path / "m.db")

    def build_and_publish():
        out = {}
        build_index([src], tmp_path / "idx", emb, publish=lambda ix: out.setdefault("r", publish(ix, uri, "inc")).summary())
        return out["r"]

    first = build_and_publish()
    before = open_milvus(uri, "inc")
    n_before = len(before)
    assert first.inserted == n_before
    acme = before.chunks_by_ids(before.manifest["documents"]["ACME_FY24Q2_en"]["chunk_ids"])
    again = build_and_publish()  # nothing changed: nothing written
    assert (again.inserted, again.deleted) == (0, 0)

    shutil.copy(data / FILES[3], src / FILES[3])
    (src / FILES[0]).unlink()
    added = build_and_publish()
    local = load_index(tmp_path / "idx")
    init = local.manifest["documents"]["INIT_FY23Q3_en"]["chunk_ids"]
    assert added.inserted == len(init) and added.deleted == len(acme)
    after = open_milvus(uri, "inc")
    assert after.version == local.version and len(after) == len(local)
    assert "ACME_FY24Q2_en" not in after.manifest["documents"]
    with pytest.raises(KeyError):
        after.chunk_by_id(acme[0].id)
    # Document frequencies follow the change: every token's IDF equals a fresh count's.
    for token in {t for toks in local.tokens for t in toks}:
        assert after.idf(token) == pytest.approx(local.idf(token)), token
    hits = Retriever(after, emb).retrieve("revenue growth", top_k=8)
    assert hits and all(h.chunk.doc_id != "ACME_FY24Q2_en" for h in hits)


def test_open_reports_missing_and_mismatched_stores(stores, tmp_path: Path) -> None:
    _, _, emb, uri = stores
    with pytest.raises(IndexMissingError, match="nothing published"):
        open_milvus(str(tmp_path / "empty.db"), "t")
    with pytest.raises(IndexMismatchError, match="embedding model"):
        open_milvus(uri, "t", "another-model", emb.fingerprint())


def test_expression_and_lexical_text() -> None:
    assert expression(None) == "" and expression(Where()) == ""
    e = expression(Where(ticker="acme", company="Globex", period="FY2024Q2", role="analyst",
                         doc_ids=frozenset({"b", 'a"x'})))
    assert e == ('ticker == "ACME" and array_contains(names, "globex") and period == "FY2024Q2" and '
                 'array_contains(roles, "analyst") and doc_id in ["a\\"x", "b"]')
    assert lexical_text(["3.5", "o'clock", "营收"]) == "3_5 o_clock 营收"


@pytest.mark.model
@pytest.mark.integration
def test_eval_test_split_is_the_same_on_both_stores(shared_transcripts: Path, tmp_path: Path) -> None:
    """Every test-split case over the shared calls: the same passages retrieved and the same answer
    (text, abstention, citations) from the FAISS store and from Milvus (exact search on both)."""
    from rag.app import make_assistant, make_embedder
    from rag.evaluate import load_cases, prepare

    root = Path(__file__).resolve().parent.parent
    every = load_cases([root / "eval" / "cases" / "shared.jsonl"])
    cases = [c for c in every if c.split == "test"]
    assert len(cases) >= 40
    settings = Settings()
    emb = make_embedder(settings)
    # Prepared over all the file's cases: the same cached eval index as `rag eval` and test_evaluate.
    local_assistant, _, _ = prepare("shared.jsonl", every, [shared_transcripts], settings, emb)
    local = local_assistant.index
    report = publish(local, str(tmp_path / "m.db"), "evaltest")
    assert report.inserted == len(local)
    milvus = make_assistant(settings, open_milvus(str(tmp_path / "m.db"), "evaltest", emb.model_id,
                                                  emb.fingerprint()), emb)
    for c in cases:
        a, b = local_assistant.ask(c.question, top_k=settings.top_k), milvus.ask(c.question, top_k=settings.top_k)
        assert (a.answer, a.abstained) == (b.answer, b.abstained), c.id
        assert [x.chunk_id for x in a.citations] == [x.chunk_id for x in b.citations], c.id
        scope = local_assistant.retriever.scope(c.question)
        hits = [Retriever(ix, emb).retrieve(c.question, top_k=8, scope=None if scope.out_of_index else scope)
                for ix in (local, milvus.index)]
        _same_hits(*hits)


def _visible_keys(index, emb) -> set[int]:
    """Every passage key a reader of `index`'s version can reach, by dense search and by BM25."""
    q = emb.embed_queries(["revenue growth margin guidance 收入"])[0]
    dense = {k for k, _ in index.dense(q, k=4096)}
    words = {k for k, _ in index.lexical(["revenu", "growth", "margin", "收入", "the"], k=4096)}
    return dense | words


def test_every_reader_sees_one_whole_version_through_a_publish_and_a_crash(tmp_path: Path, monkeypatch) -> None:
    """Readers of the old version see exactly it while the new one is written, switched to and cleaned
    up; a publish that dies before its switch changes nothing readers see, and the next one completes
    it with the same term statistics as a clean build."""
    import rag.milvus_publish as mp

    data = Path(__file__).parent / "data"
    emb = FakeEmbedder()
    uri = str(tmp_path / "m.db")
    build_index([data / n for n in FILES[:3]], tmp_path / "v1", emb)
    v1 = load_index(tmp_path / "v1")
    publish(v1, uri, "ver")
    old = open_milvus(uri, "ver")
    keys1 = {int(k) for k in v1.keys}
    assert _visible_keys(old, emb) == keys1

    build_index([data / n for n in (FILES[1], FILES[2], FILES[3])], tmp_path / "v2", emb)
    v2 = load_index(tmp_path / "v2")
    keys2 = {int(k) for k in v2.keys}
    assert keys1 - keys2 and keys2 - keys1

    real_write = mp._write_manifest

    def crash(*args, **kwargs):
        # The new passages and term counts are written; the switch is not.
        assert _visible_keys(old, emb) == keys1
        raise RuntimeError("killed before the switch")

    monkeypatch.setattr(mp, "_write_manifest", crash)
    with pytest.raises(RuntimeError):
        publish(v2, uri, "ver")
    assert open_milvus(uri, "ver").version == v1.version
    assert _visible_keys(open_milvus(uri, "ver"), emb) == keys1

    seen: dict[str, set[int]] = {}

    def during_grace(seconds: float) -> None:
        # Switched, retired rows not yet deleted: each version's readers see exactly their version.
        seen["old"] = _visible_keys(old, emb)
        seen["new"] = _visible_keys(open_milvus(uri, "ver"), emb)

    monkeypatch.setattr(mp, "_write_manifest", real_write)
    monkeypatch.setattr(mp.time, "sleep", during_grace)
    report = publish(v2, uri, "ver", grace=5.0)
    assert seen == {"old": keys1, "new": keys2}
    assert any("recounted" in n for n in report.notes)
    new = open_milvus(uri, "ver")
    assert new.version == v2.version and _visible_keys(new, emb) == keys2
    for token in {t for toks in list(v1.tokens) + list(v2.tokens) for t in toks}:
        assert new.idf(token) == pytest.approx(v2.idf(token)), token
    # The retired rows are gone from storage, not only hidden.
    assert not new.client.query(new.chunks_name, filter=f"key in [{', '.join(map(str, keys1 - keys2))}]",
                                output_fields=["key"])
    again = publish(v2, uri, "ver")
    assert (again.inserted, again.deleted, again.notes) == (0, 0, [])
