"""Delta versions: adding or removing a call on a large index writes only the change beside a shared
base, reads as one index, matches a full build, and is folded in by a full build when it grows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.answer import Assistant
from rag.app import make_reader
from rag.build import build_index
from rag.config import Settings
from rag.embed import FakeEmbedder
from rag.retrieve import Retriever
from rag.segments import Segmented
from rag.store import MANIFEST, all_documents, current_folder, load_index
from rag.types import Where

BASE = ("ACME_FY24Q2_en.txt", "SEED_FY25Q4_zh.txt", "GLBX_FY23Q3_en.txt", "WB_FY24Q3_zh.txt", "INIT_FY23Q3_en.tsv")
# Every test index counts as "large" here: the delta path is what is tested.
DELTA = {"delta_min": 1, "delta_share": 0.5}
QUESTIONS = ("How much did pricing add to growth?", "积压订单是多少？", "free cash flow", "revenue growth margin")


@pytest.fixture
def src(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for name in BASE:
        shutil.copy(data_dir / name, folder / name)
    return folder


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def _full(src: Path, tmp_path: Path, emb: FakeEmbedder):
    build_index([src], tmp_path / "full", emb)
    return load_index(tmp_path / "full")


def test_adding_a_call_writes_only_that_call(src: Path, tmp_path: Path, data_dir: Path) -> None:
    emb, idx = FakeEmbedder(), tmp_path / "index"
    build_index([src], idx, emb, **DELTA)
    base_folder = current_folder(idx)
    before = _files(base_folder)
    old_reader = load_index(idx)  # a service still serving the base while the delta is written

    shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", src)
    report = build_index([src], idx, emb, **DELTA)
    assert report.added == ["WIDG_FY25Q1_en"] and any("delta version" in n for n in report.notes)
    index = load_index(idx)
    assert isinstance(index, Segmented) and index.manifest["base"]["version"] == base_folder.name
    assert _files(base_folder) == before  # the base's vectors, records and postings untouched
    assert len(index.delta) == report.chunks_embedded == len(index.manifest["documents"]["WIDG_FY25Q1_en"]["chunk_ids"])
    assert report.chunks_total == len(index)

    full = _full(src, tmp_path, emb)
    assert len(index) == len(full) and sorted(index.keys.tolist()) == sorted(full.keys.tolist())
    for token in ("revenu", "积压", "cash", "widget", "no-such-token"):
        assert index.df(token) == full.df(token) and index.idf(token) == pytest.approx(full.idf(token))
    for q in QUESTIONS:
        v = emb.embed_queries([q])[0]
        for where in (None, Where(language="en"), Where(language="zh"), Where(section="qa")):
            got = [(index.chunk(g).id, round(s, 5)) for g, s in index.dense(v, 5, where)]
            want = [(full.chunk(r).id, round(s, 5)) for r, s in full.dense(v, 5, where)]
            assert got == want, (q, where)
    # The delta's manifest on disk names only the new call; loaded, the index has every call.
    on_disk = json.loads((current_folder(idx) / MANIFEST).read_text(encoding="utf-8"))
    assert list(on_disk["documents"]) == ["WIDG_FY25Q1_en"] and on_disk["base"]["documents"] == {"removed": []}
    assert on_disk["counts"]["documents"] == len(full.manifest["documents"]) == len(index.manifest["documents"])
    assert {k: v["chunk_ids"] for k, v in index.manifest["documents"].items()} == \
        {k: v["chunk_ids"] for k, v in full.manifest["documents"].items()}
    hits = Retriever(index, emb).retrieve("What did Widget say about revenue?", top_k=5)
    assert any(h.chunk.doc_id == "WIDG_FY25Q1_en" for h in hits)
    assert old_reader.chunk(0).id and Retriever(old_reader, emb).retrieve("revenue", top_k=3)


def test_removing_a_call_hides_it_everywhere(src: Path, tmp_path: Path) -> None:
    emb, idx = FakeEmbedder(), tmp_path / "index"
    build_index([src], idx, emb, **DELTA)
    gone = load_index(idx).manifest["documents"]["GLBX_FY23Q3_en"]["chunk_ids"]
    (src / "GLBX_FY23Q3_en.txt").unlink()
    report = build_index([src], idx, emb, **DELTA)
    index = load_index(idx)
    assert report.removed == ["GLBX_FY23Q3_en"] and isinstance(index, Segmented)
    assert index.manifest["base"]["deleted"] == len(gone) and len(index.delta) == 0
    assert "GLBX_FY23Q3_en" not in index.manifest["documents"] and index.manifest["documents"]
    on_disk = json.loads((current_folder(idx) / MANIFEST).read_text(encoding="utf-8"))
    assert on_disk["documents"] == {} and on_disk["base"]["documents"] == {"removed": ["GLBX_FY23Q3_en"]}
    for q in QUESTIONS + ("How much did pricing add to growth? Globex",):
        hits = Retriever(index, emb).retrieve(q, top_k=10)
        assert hits and all(h.chunk.doc_id != "GLBX_FY23Q3_en" for h in hits)
    with pytest.raises(KeyError):
        index.chunk_by_id(gone[0])
    full = _full(src, tmp_path, emb)
    assert len(index) == len(full) and index.df("pricing") == full.df("pricing")


def test_a_delta_manifest_written_with_every_document_is_read_as_it_is() -> None:
    # Delta versions written before the manifest held only changes list every document themselves.
    base = {"documents": {"A": {"hash": "1"}, "B": {"hash": "2"}}}
    old = {"base": {"version": "v-1", "deleted": 3}, "documents": {"A": {"hash": "1"}}}
    assert all_documents(old, base) == {"A": {"hash": "1"}}
    new = {"base": {"version": "v-1", "deleted": 3, "documents": {"removed": ["B"]}},
           "documents": {"C": {"hash": "3"}}}
    assert all_documents(new, base) == {"A": {"hash": "1"}, "C": {"hash": "3"}}


def test_deltas_stack_on_one_base_and_a_large_change_folds_them_in(src: Path, tmp_path: Path, data_dir: Path) -> None:
    emb, idx = FakeEmbedder(), tmp_path / "index"
    build_index([src], idx, emb, **DELTA)
    base = current_folder(idx).name
    shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", src)
    build_index([src], idx, emb, **DELTA)
    shutil.copy(data_dir / "COLA_FY21Q4_en_ectsum.txt", src)
    n = len(emb.embedded)
    build_index([src], idx, emb, **DELTA)
    index = load_index(idx)
    assert isinstance(index, Segmented) and index.manifest["base"]["version"] == base
    assert {c.doc_id for c in index.delta.chunks} == {"WIDG_FY25Q1_en", "COLA_FY21Q4_en_ectsum"}
    assert len(emb.embedded) - n == len(index.manifest["documents"]["COLA_FY21Q4_en_ectsum"]["chunk_ids"])
    assert (idx / base).is_dir()  # pruning keeps the base of the live delta

    # Past the share, the next change is a full build: no base, nothing re-embedded.
    n = len(emb.embedded)
    gone = set(index.manifest["documents"]["INIT_FY23Q3_en"]["chunk_ids"])
    (src / "INIT_FY23Q3_en.tsv").unlink()
    build_index([src], idx, emb, delta_min=1, delta_share=0.0001)
    full = load_index(idx)
    assert not isinstance(full, Segmented) and "base" not in full.manifest and len(emb.embedded) == n
    assert sorted(full.keys.tolist()) == sorted(k for k, c in zip(index.keys.tolist(), index.chunks) if c.id not in gone)


def test_a_delta_version_answers_like_a_full_one(src: Path, tmp_path: Path, data_dir: Path) -> None:
    emb, idx = FakeEmbedder(), tmp_path / "index"
    build_index([src], idx, emb, **DELTA)
    shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", src)
    build_index([src], idx, emb, **DELTA)
    delta, full = load_index(idx), _full(src, tmp_path, emb)
    settings = Settings()
    answers = [[Assistant(ix, emb, {}, reader=make_reader(settings, ix)).ask(q) for q in QUESTIONS]
               for ix in (delta, full)]
    assert any(not a.abstained for a in answers[0])
    for a, b in zip(*answers):
        assert (a.answer, a.abstained) == (b.answer, b.abstained)


def test_a_delta_version_publishes_to_milvus_whole(src: Path, tmp_path: Path, data_dir: Path) -> None:
    """Milvus gets every live passage and the whole index's count (not the delta's own)."""
    pytest.importorskip("milvus_lite")
    from rag.milvus_publish import publish
    from rag.milvus_store import open_milvus

    emb, idx = FakeEmbedder(), tmp_path / "index"
    build_index([src], idx, emb, **DELTA)
    shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", src)
    build_index([src], idx, emb, **DELTA)
    index = load_index(idx)
    assert isinstance(index, Segmented)
    publish(index, str(tmp_path / "m.db"), "delta")
    milvus = open_milvus(str(tmp_path / "m.db"), "delta")
    assert len(milvus) == len(index) and milvus.version == index.version
    for token in ("revenu", "积压", "widget"):
        assert milvus.idf(token) == pytest.approx(index.idf(token))
    q = "What did Widget say about revenue?"
    assert [h.chunk.id for h in Retriever(milvus, emb).retrieve(q, top_k=5)] == \
        [h.chunk.id for h in Retriever(index, emb).retrieve(q, top_k=5)]


def _full_or_delta(src: Path, tmp_path: Path, data_dir: Path, store: str, emb: FakeEmbedder):
    """An index built once ("full"), or built then changed by a call added and one removed ("delta":
    a base with a delta segment on it)."""
    idx = tmp_path / "index"
    build_index([src], idx, emb, **DELTA)
    if store == "delta":
        shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", src)
        (src / "GLBX_FY23Q3_en.txt").unlink()
        build_index([src], idx, emb, **DELTA)
    return load_index(idx)


@pytest.mark.parametrize("store", ["full", "delta"])
def test_postings_by_term_are_the_searches_of_each_term(src: Path, tmp_path: Path, data_dir: Path, store: str) -> None:
    # A scoped question's BM25 reads each term's postings directly (rag.retrieve); they must be the
    # passages and scores a search for that term alone finds, with a delta's replaced passages gone.
    emb = FakeEmbedder()
    index = _full_or_delta(src, tmp_path, data_dir, store, emb)
    assert isinstance(index, Segmented) == (store == "delta")
    docs = tuple(index.manifest["documents"])
    for where in (None, Where(doc_ids=frozenset(docs[:2])), Where(doc_ids=frozenset(docs[-2:]), section="qa")):
        terms = ["pricing", "revenue", "growth", "积压", "nowhere"]
        by_term = index.lexical_by_term(terms, where)
        for t in terms:
            rows, scores = by_term[t]
            searched = dict(index.lexical([t], len(index), where))
            assert sorted(rows.tolist()) == sorted(searched)
            assert dict(zip(rows.tolist(), scores.tolist())) == pytest.approx(searched, rel=1e-5)


@pytest.mark.parametrize("store", ["full", "delta"])
def test_a_rows_similarity_is_the_one_dense_search_finds(src: Path, tmp_path: Path, data_dir: Path, store: str) -> None:
    # The retriever scores passages lexical search alone found (`dense_of`): with the similarity a
    # dense search over every passage gives them, delta rows and base rows alike.
    emb = FakeEmbedder()
    index = _full_or_delta(src, tmp_path, data_dir, store, emb)
    q = emb.embed_queries(["What did Widget say about revenue?"])[0]
    searched = dict(index.dense(q, len(index)))
    rows = sorted(searched)[::2]
    assert rows and index.dense_of(q, rows) == pytest.approx({r: searched[r] for r in rows}, abs=1e-5)
