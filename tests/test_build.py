"""Incremental rebuilds: exactly what gets embedded when transcripts are added, changed, removed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.build import build_index
from rag.chunk import chunk_transcript
from rag.embed import FakeEmbedder
from rag.errors import IndexMismatchError, TranscriptError
from rag.ingest import read_transcript
from rag.store import current_folder, load_index
from rag.types import Where


@pytest.fixture
def corpus(tmp_path: Path, data_dir: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("ACME_FY24Q2_en.txt", "SEED_FY25Q4_zh.txt", "GLBX_FY23Q3_en.txt"):
        shutil.copy(data_dir / name, src / name)
    return src


def _embedded_ids(emb: FakeEmbedder, start: int, chunks_by_text: dict[str, str]) -> set[str]:
    return {chunks_by_text[t] for t in emb.embedded[start:]}


def _chunks(path: Path) -> dict[str, str]:
    return {c.embed_text: c.id for c in chunk_transcript(read_transcript(path))}


def test_first_build_embeds_everything_then_nothing(corpus: Path, tmp_path: Path) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    r = build_index([corpus], idx_dir, emb)
    total = sum(len(_chunks(p)) for p in corpus.iterdir())
    assert (sorted(r.added), r.chunks_embedded, r.chunks_total) == (
        ["ACME_FY24Q2_en", "GLBX_FY23Q3_en", "SEED_FY25Q4_zh"], total, total,
    )
    assert len(emb.embedded) == total
    r2 = build_index([corpus], idx_dir, emb)
    assert r2.chunks_embedded == 0 and len(r2.unchanged) == 3 and not r2.written
    assert len(emb.embedded) == total and r2.version == r.version


def test_add_change_remove_embed_exactly_the_affected_chunks(corpus: Path, tmp_path: Path, data_dir: Path) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)

    # Add: only the new transcript's chunks are embedded.
    shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", corpus / "WIDG_FY25Q1_en.txt")
    n = len(emb.embedded)
    r = build_index([corpus], idx_dir, emb)
    widg = _chunks(corpus / "WIDG_FY25Q1_en.txt")
    assert r.added == ["WIDG_FY25Q1_en"] and sorted(r.unchanged) == ["ACME_FY24Q2_en", "GLBX_FY23Q3_en", "SEED_FY25Q4_zh"]
    assert _embedded_ids(emb, n, widg) == set(widg.values()) and len(emb.embedded) - n == len(widg)

    # Change one answer: the document is updated, only the chunk whose text changed is embedded.
    acme = corpus / "ACME_FY24Q2_en.txt"
    before = _chunks(acme)
    acme.write_text(acme.read_text().replace("Backlog grew 30%", "Backlog grew 35%"))
    after = _chunks(acme)
    n = len(emb.embedded)
    r = build_index([corpus], idx_dir, emb)
    assert r.updated == ["ACME_FY24Q2_en"] and r.chunks_embedded == 1
    assert set(emb.embedded[n:]) == set(after) - set(before)
    index = load_index(idx_dir, emb.model_id, emb.fingerprint())
    assert any("Backlog grew 35%" in c.text for c in index.chunks)
    assert not any("Backlog grew 30%" in c.text for c in index.chunks)

    # Remove: its chunks leave the index, nothing is embedded.
    (corpus / "GLBX_FY23Q3_en.txt").unlink()
    n = len(emb.embedded)
    r = build_index([corpus], idx_dir, emb)
    assert r.removed == ["GLBX_FY23Q3_en"] and len(emb.embedded) == n
    index = load_index(idx_dir, emb.model_id, emb.fingerprint())
    assert {c.doc_id for c in index.chunks} == {"ACME_FY24Q2_en", "SEED_FY25Q4_zh", "WIDG_FY25Q1_en"}
    assert set(index.manifest["documents"]) == {"ACME_FY24Q2_en", "SEED_FY25Q4_zh", "WIDG_FY25Q1_en"}


def test_keep_missing_keeps_removed_documents(corpus: Path, tmp_path: Path) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)
    (corpus / "GLBX_FY23Q3_en.txt").unlink()
    r = build_index([corpus], idx_dir, emb, keep_missing=True)
    assert r.removed == [] and "GLBX_FY23Q3_en" in r.unchanged
    assert any(c.doc_id == "GLBX_FY23Q3_en" for c in load_index(idx_dir).chunks)


def test_vectors_of_unchanged_chunks_are_reused_exactly(corpus: Path, tmp_path: Path, data_dir: Path) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)
    first = load_index(idx_dir)
    shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", corpus)
    build_index([corpus], idx_dir, emb)
    second = load_index(idx_dir)
    rows = {c.id: i for i, c in enumerate(second.chunks)}
    for i, c in enumerate(first.chunks):
        assert np.array_equal(first.embeddings[i], second.embeddings[rows[c.id]])
        assert first.tokens[i] == second.tokens[rows[c.id]]


def test_sidecar_change_updates_the_document(corpus: Path, tmp_path: Path) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)
    (corpus / "ACME_FY24Q2_en.meta.json").write_text('{"company": "Acme Holdings"}')
    r = build_index([corpus], idx_dir, emb)
    assert r.updated == ["ACME_FY24Q2_en"] and r.chunks_embedded > 0  # the header in embed_text changed
    assert load_index(idx_dir).manifest["documents"]["ACME_FY24Q2_en"]["company"] == "Acme Holdings"


def test_unreadable_file_is_reported_and_never_damages_the_index(corpus: Path, tmp_path: Path) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)
    (corpus / "BROKEN_FY24Q1_en.txt").write_bytes(b"\x00\x01binary")
    acme = corpus / "ACME_FY24Q2_en.txt"
    good = acme.read_bytes()
    acme.write_bytes(b"")  # a previously good transcript breaks: its old version stays indexed
    r = build_index([corpus], idx_dir, emb)
    assert len(r.errors) == 2 and any("BROKEN_FY24Q1_en.txt" in e for e in r.errors)
    index = load_index(idx_dir)
    assert any(c.doc_id == "ACME_FY24Q2_en" for c in index.chunks)
    assert index.manifest["documents"]["ACME_FY24Q2_en"]["hash"] != ""
    acme.write_bytes(good)
    assert build_index([corpus], idx_dir, emb).chunks_embedded == 0


def test_build_that_raises_midway_leaves_the_old_index_intact(corpus: Path, tmp_path: Path, data_dir: Path) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)
    live = current_folder(idx_dir)
    before = [c.id for c in load_index(idx_dir).chunks]

    class Boom(FakeEmbedder):
        def embed_passages(self, texts: list[str]) -> np.ndarray:
            raise RuntimeError("embedding crashed")

    shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", corpus)
    with pytest.raises(RuntimeError, match="embedding crashed"):
        build_index([corpus], idx_dir, Boom())
    assert current_folder(idx_dir) == live
    assert [c.id for c in load_index(idx_dir).chunks] == before
    # The next build succeeds and leaves no temporary folders behind.
    build_index([corpus], idx_dir, emb)
    assert not list(idx_dir.glob(".tmp-*"))


def test_write_failure_after_partial_files_leaves_old_index(
    corpus: Path, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)
    live = current_folder(idx_dir)
    import rag.store

    def broken_faiss(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(rag.store, "_faiss_index", broken_faiss)
    shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", corpus)
    with pytest.raises(OSError, match="disk full"):
        build_index([corpus], idx_dir, emb)
    assert current_folder(idx_dir) == live and not list(idx_dir.glob(".tmp-*"))
    assert len(load_index(idx_dir)) > 0


def test_model_change_needs_rebuild(corpus: Path, tmp_path: Path) -> None:
    idx_dir = tmp_path / "index"
    build_index([corpus], idx_dir, FakeEmbedder(64))
    other = FakeEmbedder(32)
    with pytest.raises(IndexMismatchError, match="rag index --rebuild"):
        build_index([corpus], idx_dir, other)
    r = build_index([corpus], idx_dir, other, rebuild=True)
    assert r.chunks_embedded == r.chunks_total > 0
    assert load_index(idx_dir, other.model_id, other.fingerprint()).manifest["model"]["dim"] == 32


def test_chunking_settings_change_rechunks(corpus: Path, tmp_path: Path) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)
    r = build_index([corpus], idx_dir, emb, max_tokens=60, overlap_tokens=10)
    assert len(r.updated) == 3 and r.written
    assert load_index(idx_dir).manifest["chunking"]["max_tokens"] == 60


def test_missing_source_is_an_error_before_anything_changes(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match="nope"):
        build_index([tmp_path / "nope"], tmp_path / "index", FakeEmbedder())
    assert not (tmp_path / "index").exists()


def test_duplicate_document_ids_are_reported(corpus: Path, tmp_path: Path, data_dir: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(data_dir / "ACME_FY24Q2_en.txt", other)
    r = build_index([corpus, other], tmp_path / "index", FakeEmbedder())
    assert len(r.errors) == 1 and "ACME_FY24Q2_en" in r.errors[0]


def test_large_index_switches_to_approximate_search(corpus: Path, tmp_path: Path, monkeypatch) -> None:
    import rag.index

    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb, approx_threshold=5)
    index = load_index(idx_dir)
    info = index.manifest["faiss"]
    assert info["kind"] == "ivf-sq8" and info["nprobe"] >= 1
    q = emb.embed_queries(["backlog grew on data-center contracts"])[0]
    approx = [row for row, _ in index.search_dense(q, 3)]
    exact = [row for row, _ in index.search_dense(q, 3, rows=np.arange(len(index)))]
    assert approx == exact
    # Several languages: one partition each, and a language search runs inside its own partition.
    langs = {c.language for c in index.chunks}
    assert len(langs) > 1 and set(index.parts) == langs
    assert sum(p.ntotal for p in index.parts.values()) == len(index)
    monkeypatch.setattr(rag.index, "EXACT_ROWS", 0)  # take the approximate path even for these few rows
    for lang in langs:
        got = index.dense(q, 3, Where(language=lang))
        assert got and all(index.chunks[r].language == lang for r, _ in got)
        exact = index.search_dense(q, 3, rows=index.columns.rows(Where(language=lang)))
        assert [r for r, _ in got] == [r for r, _ in exact]
    # Any other restriction on a large allowed set: an IDSelector inside the same search.
    doc = index.chunks[0].doc_id
    got = index.dense(q, 3, Where(doc_ids=frozenset({doc})))
    assert got and all(index.chunks[r].doc_id == doc for r, _ in got)


def test_a_question_in_another_language_probes_lists_toward_its_translation(corpus: Path, tmp_path: Path,
                                                                             monkeypatch) -> None:
    import faiss

    import rag.index

    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb, approx_threshold=1)  # every partition an IVF index
    index = load_index(idx_dir)
    monkeypatch.setattr(rag.index, "EXACT_ROWS", 0)
    q = emb.embed_queries(["backlog grew on data-center contracts"])[0]
    langs = sorted(index.parts)
    assert set(index._centers) == set(langs)
    for target, asked in ((langs[0], langs[1]), (langs[1], langs[0])):
        part = index.parts[target]
        ivf = faiss.try_extract_index_ivf(faiss.downcast_index(part.index))
        rows = index.columns.rows(Where(language=target))
        exact = index.search_dense(q, 3, rows=rows)
        # Every list probed: the same rows and scores as an exact scan of the language's rows.
        got = index.dense(q, 3, Where(language=target), effort=ivf.nlist, asked=asked)
        assert [r for r, _ in got] == [r for r, _ in exact]
        assert np.allclose([s for _, s in got], [s for _, s in exact], atol=0.02)  # 8-bit codes
    # Which lists, and searching given lists alone, on an IVF of many lists: the test below.


def test_sentence_vectors_are_stored_and_reused_with_their_chunks(corpus: Path, tmp_path: Path, data_dir: Path) -> None:
    from rag.sentences import split

    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)
    first = load_index(idx_dir)
    assert first.sentence_ptr is not None and first.sentence_ptr[-1] == len(first.sentence_vectors)
    for row, c in enumerate(first.chunks):
        sents = split(c.text)
        vecs = first.sentences_of(row)
        assert len(vecs) == len(sents)
        # Each vector is the sentence read where it stands (the fake backend embeds the span alone).
        assert np.allclose(vecs[0].astype(np.float32), emb.embed_passages([" ".join(sents[0].text.split())])[0],
                           atol=1e-3)
    before = {c.id: first.sentences_of(i).copy() for i, c in enumerate(first.chunks)}
    shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", corpus / "WIDG_FY25Q1_en.txt")
    build_index([corpus], idx_dir, emb)
    second = load_index(idx_dir)
    for i, c in enumerate(second.chunks):
        if c.id in before:
            assert np.array_equal(second.sentences_of(i), before[c.id])
    assert len(second.sentence_vectors) > len(first.sentence_vectors)


def test_an_index_without_sentence_vectors_is_rewritten_with_them(corpus: Path, tmp_path: Path) -> None:
    import json

    from rag.store import MANIFEST, SENTENCE_FILES

    idx_dir = tmp_path / "index"
    build_index([corpus], idx_dir, FakeEmbedder())
    folder = current_folder(idx_dir)
    manifest = json.loads((folder / MANIFEST).read_text())
    for name in SENTENCE_FILES:  # as an index written before sentence vectors existed
        manifest["files"].pop(name)
        (folder / name).unlink()
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert load_index(idx_dir).sentence_vectors is None  # still loads: the reader falls back to passages
    r = build_index([corpus], idx_dir, FakeEmbedder())
    assert r.written and load_index(idx_dir).sentence_vectors is not None


@pytest.mark.parametrize("damage", ["altered", "truncated", "deleted"])
@pytest.mark.parametrize("name", ["embeddings.npy", "chunks.jsonl", "vectors.faiss", "bm25/vocab.index.json"])
def test_the_next_build_rebuilds_a_damaged_version(corpus: Path, tmp_path: Path, name: str, damage: str) -> None:
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    build_index([corpus], idx_dir, emb)
    clean = load_index(idx_dir)
    path = current_folder(idx_dir) / name
    data = bytearray(path.read_bytes())
    if damage == "altered":  # same size: only the digest tells
        data[-8:] = bytes(b ^ 0xFF for b in data[-8:])
        path.write_bytes(bytes(data))
    elif damage == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        path.unlink()
    with pytest.raises(IndexMismatchError, match=f"{name}.*(damaged|missing)"):
        load_index(idx_dir)
    # Nothing changed in the sources, but the live version cannot be trusted: rebuilt, and said so.
    r = build_index([corpus], idx_dir, emb)
    assert r.written and r.chunks_embedded == len(clean) and sorted(r.added) == sorted(clean.manifest["documents"])
    assert any("damaged" in n and name in n for n in r.notes), r.notes
    fresh = load_index(idx_dir)
    assert [c.id for c in fresh.chunks] == [c.id for c in clean.chunks]
    assert np.array_equal(np.asarray(fresh.embeddings), np.asarray(clean.embeddings))
    assert not build_index([corpus], idx_dir, emb).written  # and is trusted again


class _Interrupted(FakeEmbedder):
    """Stops (as Ctrl-C would) when it is asked to embed its `stop_after`-th block of passages."""

    def __init__(self, stop_after: int) -> None:
        super().__init__()
        self.stop_after, self.batches = stop_after, 0

    def embed_passages_with_spans(self, texts, spans):  # type: ignore[override]
        self.batches += 1
        if self.batches == self.stop_after:
            raise KeyboardInterrupt
        return super().embed_passages_with_spans(texts, spans)


def test_an_interrupted_build_resumes_without_re_embedding(corpus: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.build

    monkeypatch.setattr(rag.build, "EMBED_BLOCK", 3)  # the corpus has 11 passages: 4 blocks
    idx_dir, lines = tmp_path / "index", []
    stopped = _Interrupted(stop_after=3)  # two blocks done, the third cut short
    with pytest.raises(KeyboardInterrupt):
        build_index([corpus], idx_dir, stopped, progress=lines.append)
    assert current_folder(idx_dir) is None and len(lines) == 2
    assert lines[0].startswith("embedded 3/11 passages") and "ETA" in lines[0]

    again = FakeEmbedder()
    r = build_index([corpus], idx_dir, again, progress=lines.append)
    assert r.chunks_resumed == 6 and r.chunks_embedded == r.chunks_total - 6 == 5
    assert "6 passages resumed" in r.summary() and lines[-1].startswith("embedded 11/11")
    # What was resumed is exactly what a clean build computes.
    clean = build_index([corpus], tmp_path / "clean", FakeEmbedder())
    a, b = load_index(idx_dir), load_index(tmp_path / "clean")
    order = {c.id: i for i, c in enumerate(b.chunks)}
    rows = [order[c.id] for c in a.chunks]
    assert clean.chunks_total == r.chunks_total
    assert np.allclose(a.embeddings, b.embeddings[rows])
    assert all(np.allclose(a.sentences_of(i), b.sentences_of(r_)) for i, r_ in enumerate(rows))
    assert not list(idx_dir.glob(".embedding-*")), "the checkpoint goes once the version is written"


def test_a_link_out_of_the_source_folder_is_listed_with_the_unreadable(tmp_path: Path, data_dir: Path) -> None:
    src, outside = tmp_path / "src", tmp_path / "outside"
    src.mkdir()
    outside.mkdir()
    shutil.copy(data_dir / "ACME_FY24Q2_en.txt", src)
    shutil.copy(data_dir / "GLBX_FY23Q3_en.txt", outside)
    (src / "GLBX_FY23Q3_en.txt").symlink_to(outside / "GLBX_FY23Q3_en.txt")
    r = build_index([src], tmp_path / "index", FakeEmbedder())
    assert r.added == ["ACME_FY24Q2_en"]
    assert len(r.errors) == 1 and "GLBX_FY23Q3_en.txt" in r.errors[0]
    assert "1 unreadable" in r.summary()


def test_lists_toward_a_translation_and_searching_them_alone() -> None:
    """On a real IVF of 64 lists: the lists probed for another language's question are the nearest to
    it moved toward that language's passages, and searching given lists scores exactly as FAISS does."""
    from types import SimpleNamespace

    import faiss

    from rag.index import LANGUAGE_SHIFT, Index, _centroids, _search_lists

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(32), 32, 64, faiss.ScalarQuantizer.QT_8bit,
                                        faiss.METRIC_INNER_PRODUCT)
    ivf.train(x)
    part = faiss.IndexIDMap2(ivf)
    part.add_with_ids(x, np.arange(5000, dtype=np.int64) * 7)
    ivf.nprobe = 4
    q = x[0]
    here, there = np.zeros(32, dtype=np.float32), x[1] - x[0]  # "there": toward another passage
    fake = SimpleNamespace(parts={"en": part}, _centers={"en": there, "zh": here})
    lists = Index._lists_toward(fake, q, "en", "zh", 2)
    moved = q + LANGUAGE_SHIFT * (there - here)
    want = np.argsort(-(_centroids(ivf) @ (moved / np.linalg.norm(moved))))[:8]
    assert len(lists) == 8 and sorted(lists.tolist()) == sorted(want.tolist())
    assert Index._lists_toward(fake, q, "en", "de", 2) is None  # no passages of the asked language
    plain = np.argsort(-(_centroids(ivf) @ q))[:4].astype(np.int64)
    d, keys = _search_lists(part, q.reshape(1, -1), 5, plain)
    want_d, want_keys = part.search(q.reshape(1, -1), 5, params=faiss.SearchParametersIVF(nprobe=4))
    assert keys.tolist() == want_keys.tolist() and np.allclose(d, want_d) and keys[0, 0] == 0


def test_sentences_split_anew_are_embedded_anew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index whose sentences were split another way (an older splitter) keeps no stale sentence
    vectors: a rebuild re-embeds the passages whose sentences differ, and only those."""
    import json
    import re

    import rag.build
    import rag.sentences
    from rag.sentences import spans_in_embed_text

    src = tmp_path / "src"
    src.mkdir()
    call = {"prepared_remarks": [{"speaker": "Operator", "speech": "Welcome to the Q2 2021 Widget Works earnings call."},
                                 {"speaker": "Jane Roe", "speech": "Revenue was $412 million, up 9%."}],
            "q_and_a": [{"speaker": "Sam Park", "speech": "How many stores did you open?"},
                        {"speaker": "Jane Roe", "speech": "We opened 37 stores in the quarter."}],
            "participants": ["Jane Roe--Chief Financial Officer", "Sam Park--UBS -- Analyst"]}
    (src / "WDGT_q2_2021.txt").write_text(json.dumps(call, indent=2), encoding="utf-8")
    emb, idx_dir = FakeEmbedder(), tmp_path / "index"
    # The splitter before it knew the JSON between turns: one sentence ran across it.
    monkeypatch.setattr(rag.sentences, "_JSON_SEAM", re.compile(r"(?!x)x"))
    monkeypatch.setattr(rag.build, "SPLIT_VERSION", 1)
    build_index([src], idx_dir, emb)
    monkeypatch.undo()
    r = build_index([src], idx_dir, emb)
    index = load_index(idx_dir, emb.model_id, emb.fingerprint())
    assert 0 < r.chunks_embedded < len(index.chunks)  # the Q&A passage, not the prepared remarks
    for row, c in enumerate(index.chunks):
        assert len(index.sentences_of(row)) == len(spans_in_embed_text(c.text, c.embed_text))
