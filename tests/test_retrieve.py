"""Hybrid retrieval with the fake embedder: fusion, filters, scoping, glossary across languages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.build import build_index
from rag.embed import FakeEmbedder
from rag.lexical import tokenize
from rag.retrieve import CROSS_LANGUAGE_EFFORT, Filters, Retriever, Weights
from rag.store import load_index
from rag.types import Where


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    data = Path(__file__).parent / "data"
    idx = tmp_path_factory.mktemp("idx")
    emb = FakeEmbedder()
    build_index([data / n for n in ("ACME_FY24Q2_en.txt", "SEED_FY25Q4_zh.txt", "GLBX_FY23Q3_en.txt",
                                    "INIT_FY23Q3_en.tsv", "WB_FY24Q3_zh.txt")], idx, emb)
    return Retriever(load_index(idx), emb)


def test_hits_are_ranked_and_scored(retriever: Retriever) -> None:
    hits = retriever.retrieve("How much did pricing add to growth?", top_k=3)
    assert len(hits) == 3 and hits[0].chunk.doc_id == "GLBX_FY23Q3_en"
    assert "Pricing added about 3 points" in hits[0].chunk.text
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].dense is not None and hits[0].lexical is not None


def test_english_question_finds_chinese_passage_through_the_glossary(retriever: Retriever) -> None:
    q = "What was the backlog and how much did it grow year over year?"
    scope = retriever.scope("SMPL " + q)
    with_glossary = retriever.retrieve(q, top_k=1, scope=scope)
    assert "积压订单" in with_glossary[0].chunk.text
    plain = Retriever(retriever.index, retriever.embedder, Weights(glossary=False))
    lexical_only = plain.retrieve(q, top_k=5, scope=scope)
    # Without the glossary nothing lexical matches in the Chinese call: only dense (fake) scores remain.
    assert all(h.lexical is None for h in lexical_only)


def test_chinese_question_finds_english_passage_through_the_dictionary(retriever: Retriever) -> None:
    # 股东 is no glossary term: CC-CEDICT's "shareholder" is what finds the passage lexically.
    q = "Globex向股东返还了多少？"

    def best_lexical(weights: Weights) -> str:
        r = Retriever(retriever.index, retriever.embedder, weights)
        hits = r.retrieve(q, top_k=5, scope=r.scope(q))
        return max(hits, key=lambda h: h.lexical or 0.0).chunk.text

    assert "returned $1 billion to shareholders" in best_lexical(Weights())
    # Without it only "Globex" matches, and the line naming the company most often wins.
    assert "returned $1 billion to shareholders" not in best_lexical(Weights(dictionary=False))


@pytest.mark.parametrize(
    "filters, check",
    [
        (Filters(ticker="acme"), lambda c: c.meta.ticker == "ACME"),
        (Filters(company="globex"), lambda c: c.meta.company == "Globex"),
        (Filters(period="FY2025Q4"), lambda c: c.meta.period == "FY2025Q4"),
        (Filters(language="zh"), lambda c: c.meta.language == "zh"),
        (Filters(section="qa"), lambda c: c.section == "qa"),
        (Filters(role="analyst"), lambda c: any(s.role == "analyst" for s in c.speakers)),
    ],
)
def test_filters_restrict_every_hit(retriever: Retriever, filters: Filters, check) -> None:
    hits = retriever.retrieve("revenue growth margin", top_k=10, filters=filters)
    assert hits and all(check(h.chunk) for h in hits)


def test_scope_restricts_to_named_company(retriever: Retriever) -> None:
    q = "How did Initech's revenue do?"
    scope = retriever.scope(q)
    assert scope.doc_ids == ("INIT_FY23Q3_en",)
    assert {h.chunk.doc_id for h in retriever.retrieve(q, top_k=5, scope=scope)} == {"INIT_FY23Q3_en"}


def test_filters_validation() -> None:
    with pytest.raises(ValueError, match="unknown filter key"):
        Filters.from_dict({"tickr": "X"})
    with pytest.raises(ValueError, match="section"):
        Filters(section="intro")
    assert Filters.from_dict({"ticker": "KO", "period": ""}) == Filters(ticker="KO")


def test_top_k_bounds(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match="top_k must be between 1 and 50"):
        retriever.retrieve("x", top_k=0)
    assert retriever.retrieve("nothing matches", top_k=2, filters=Filters(ticker="NONE")) == []


def test_tokens_are_stemmed_and_model_names_keep_their_family() -> None:
    from rag.lexical import tokenize

    assert tokenize("proposing foundational GPUs") == tokenize("propose foundation GPU")
    assert tokenize("Trainium3") == ["trainium3", "trainium"]
    assert tokenize("积压订单") == ["积压", "订单"]  # Chinese words are not stemmed


def test_dense_ranks_each_language_on_its_own(retriever: Retriever) -> None:
    """The best passage of each language gets dense rank 0, so a question in one language still
    reaches the passage in the other that a monolingual ranking puts below all of its own."""
    ranked = retriever._dense_ranked(retriever.embedder.embed_queries(["revenue growth"])[0], 50, Where(), "en")
    languages = retriever.index.columns.language
    firsts = {languages[r] for r, (rank, _) in ranked.items() if rank == 0}
    assert firsts == {"en", "zh"}
    # Within one language the order is the similarity order.
    en = sorted(((rank, sim) for r, (rank, sim) in ranked.items() if languages[r] == "en"))
    assert [s for _, s in en] == sorted((s for _, s in en), reverse=True)


def test_the_other_language_is_searched_with_more_effort(retriever: Retriever,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str | None, int, str | None]] = []
    real = retriever.index.dense

    def spy(query, k, where=None, effort=1, asked=None):  # noqa: ANN001, ANN202
        seen.append((where.language if where else None, effort, asked))
        return real(query, k, where, effort, asked)

    monkeypatch.setattr(retriever.index, "dense", spy)
    retriever.retrieve("积压订单是多少？", top_k=3)
    assert sorted(seen) == [("en", CROSS_LANGUAGE_EFFORT, "zh"), ("zh", 1, "zh")]
    seen.clear()
    retriever.retrieve("What was the backlog?", top_k=3)
    assert sorted(seen) == [("en", 1, "en"), ("zh", CROSS_LANGUAGE_EFFORT, "en")]


def test_an_ivf_search_probes_effort_times_its_lists() -> None:
    import faiss

    from rag.index import _search_params

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 16)).astype(np.float32)
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(16), 16, 50, faiss.METRIC_INNER_PRODUCT)
    ivf.train(x)
    ivf.nprobe = 8
    index = faiss.IndexIDMap2(ivf)
    index.add_with_ids(x, np.arange(2000, dtype=np.int64))
    assert _search_params(index, None).nprobe == 8
    assert _search_params(index, None, 4).nprobe == 32
    assert _search_params(index, None, 10).nprobe == 50  # never more lists than there are
    wide = index.search(x[:5], 10, params=_search_params(index, None, 10))[1]
    assert (wide == np.argsort(-(x[:5] @ x.T), axis=1)[:, :10]).all()  # every list probed: exact


def _call(folder: Path, ticker: str, company: str, speeches: list[str]) -> None:
    people = ["Jane Roe", "Jon Smith", "Ann Lee"]  # one turn each: one passage each
    call = {"prepared_remarks": [{"speaker": "Operator", "speech": f"Welcome to the Q2 2024 {company} Earnings Call."}]
            + [{"speaker": people[i], "speech": s} for i, s in enumerate(speeches)],
            "q_and_a": [], "participants": [f"{n}--Chief Financial Officer" for n in people]}
    (folder / f"{ticker}_q2_2024.txt").write_text(json.dumps(call), encoding="utf-8")


def test_a_scoped_question_weighs_terms_among_its_calls(tmp_path: Path) -> None:
    # "gizmo" is rare in the index but in most of Zorblax's passages; "margin" is common elsewhere but
    # in one of Zorblax's. Asked of Zorblax, the passage about its margin must lead, as it does when
    # Zorblax's call is indexed alone; with the index's own weights the gizmo-heavy passage wins.
    alone, crowd = tmp_path / "alone", tmp_path / "crowd"
    alone.mkdir(), crowd.mkdir()
    speeches = ["Zorblax gizmo orders, gizmo units and gizmo kits rose.", "Zorblax gizmo margin was 41%.",
                "Zorblax gizmo shipments were steady."]
    for folder in (alone, crowd):
        _call(folder, "ZZZQ", "Zorblax", speeches)
    for i, t in enumerate(("AAAQ", "BBBQ", "CCCQ", "DDDQ", "EEEQ", "FFFQ")):
        _call(crowd, t, f"Firm{t}", [f"Our margin was {30 + i}%. Margin improved.", "Margin expanded again."])
    emb = FakeEmbedder()
    q = "What gizmo margin did Zorblax report?"

    def ranked(folder: Path, weights: Weights) -> list[str]:
        build_index([folder], tmp_path / f"idx-{folder.name}", emb)
        r = Retriever(load_index(tmp_path / f"idx-{folder.name}"), emb, weights)
        where = r.where(None, r.scope(q))
        assert where.doc_ids == frozenset({"ZZZQ_q2_2024"})
        return [r.index.chunk(row).text for row in r._lexical_ranked(tokenize(q), 5, where)]

    scoped = ranked(crowd, Weights())
    assert scoped[0] == speeches[1]
    assert scoped == ranked(alone, Weights())
    assert ranked(crowd, Weights(scope_idf=False))[0] == speeches[0]


@pytest.mark.parametrize("question, tickers", [
    # A person's name only one company's call holds names that company...
    ("How much did Jane Roe expect for capital expenditures?", ("ACME",)),
    ("What did Bob Jones say about pricing?", ("GLBX",)),
    # ...a name two companies' calls hold names neither.
    ("Which analyst from Big Bank asked about pricing?", ()),
    ("What did the CEO say about pricing?", ()),
])
def test_a_name_only_one_companys_calls_hold_scopes_to_it(retriever: Retriever, question: str, tickers: tuple) -> None:
    s = retriever.scope(question)
    assert s.tickers == tickers
    if tickers:
        assert s.doc_ids and all(retriever.catalog.docs[d]["ticker"] == tickers[0] for d in s.doc_ids)
    else:
        assert not s.doc_ids


@pytest.mark.parametrize("question, unheard, unconfirmed", [
    ("What was Zentrix's operating margin in Q2 2024?", ("Zentrix",), ()),
    ("Zentrix's operating margin?", ("Zentrix",), ()),  # a possessive first word is a name too
    ("What did Zed Quorra say about pricing?", ("Zed Quorra",), ()),  # adjacent capitalised words: one name
    # Each word is held (Jane Roe, Bob Jones), the name in no passage: a person the index does not know.
    ("What did Jane Jones say about pricing?", ("Jane Jones",), ()),
    # A Chinese name may be an indexed company the matcher does not know: read, then checked.
    ("比亚迪的营收是多少？", (), ("比亚迪",)),
    ("台积电对今年资本支出的指引是多少？", (), ("台积电",)),
    ("管理层对明年的展望如何？", (), ()),  # a common noun, not a name
    # Names some passage holds, glossary terms, months and abbreviations are not unheard.
    ("What did Jane Roe say about pricing?", (), ()),
    ("What was Free Cash Flow in March?", (), ()),
    ("What was the NRR in Q2 2024?", (), ()),
])
def test_a_name_no_passage_holds_leaves_nothing_to_answer(retriever: Retriever, question: str, unheard: tuple,
                                                          unconfirmed: tuple) -> None:
    s = retriever.scope(question)
    assert (s.unheard, s.unconfirmed) == (unheard, unconfirmed)
    assert s.out_of_index == bool(unheard)
    if unheard:
        assert not s.doc_ids and not s.tickers


@pytest.mark.parametrize("question, tickers, unheard", [
    # A name spelt out whose initials are one indexed company's ticker (or the name in capitals its
    # calls give) is that company, however its calls never spell it out...
    ("What did Gamma Lumen Beacon Xylo say about pricing?", ("GLBX",), ()),
    ("What did Ajax Consolidated Mining Enterprises say about pricing?", ("ACME",), ()),
    # ...but not initials no company goes by, nor those of a name of two words.
    ("What did Zentrix Quorra Lumen say about pricing?", (), ("Zentrix Quorra Lumen",)),
    ("What did Ingram Tools say about pricing?", (), ("Ingram Tools",)),
    # Beside another name no company goes by, neither is read as a company.
    ("How did Ajax Consolidated Mining Enterprises compare with Zentrix Quorra Lumen?", (),
     ("Ajax Consolidated Mining Enterprises", "Zentrix Quorra Lumen")),
])
def test_a_name_spelt_out_is_the_company_its_initials_name(retriever: Retriever, question: str, tickers: tuple,
                                                           unheard: tuple) -> None:
    s = retriever.scope(question)
    assert (s.tickers, s.unheard) == (tickers, unheard)
    if tickers:
        assert s.doc_ids and all(retriever.catalog.docs[d]["ticker"] == tickers[0] for d in s.doc_ids)


@pytest.mark.parametrize("question, missing", [
    # A listed company the index holds no call of, typed in lower case or by its ticker: "not in the
    # index", as its capitalised name gets, not another company's figures.
    ("nvidia data center revenue last quarter", ("NVIDIA",)),
    ("salesforce fy26 revenue guide", ("Salesforce",)),
    ("nvda q3 revenue", ("NVIDIA",)),
    # A name that is also an ordinary word counts only where the calls write it as a name: these
    # calls write "next" in lower case and never say "target".
    ("what revenue did they guide for next quarter?", ()),
    ("what is the target operating margin?", ()),
    # A company the index holds is what is asked about, whatever else is named.
    ("did initech mention nvidia?", ()),
])
def test_a_company_typed_as_a_word_that_the_index_lacks(retriever: Retriever, question: str, missing: tuple) -> None:
    s = retriever.scope(question)
    assert s.missing_companies == missing
    if missing:
        assert s.out_of_index and not s.doc_ids


@pytest.mark.parametrize("question, spelled", [
    ("Globx revenue growth?", "Globex revenue growth?"),  # a letter dropped
    ("what did initehc say about pricing?", "what did Initech say about pricing?"),  # two swapped
    ("Globexx pricing", "Globex pricing"),  # one added
    # A word the calls use, an ordinary word, a word near no name, and a question already naming a
    # company (its other words are people, products, currencies) are left as typed.
    ("How much did pricing add?", "How much did pricing add?"),
    ("What was Zentrix's margin?", "What was Zentrix's margin?"),
    ("Globex revenue from Initeck?", "Globex revenue from Initeck?"),
])
def test_a_company_name_typed_one_letter_off(retriever: Retriever, question: str, spelled: str) -> None:
    assert retriever.spelled(question) == spelled


def test_a_word_the_calls_write_as_a_name(retriever: Retriever) -> None:
    assert retriever._spelt_as_name("globex")  # every passage writes "Globex"
    assert not retriever._spelt_as_name("next")  # "next quarter"
    assert not retriever._spelt_as_name("zentrix")  # no passage holds it


def test_a_passage_only_lexical_search_found_still_gets_its_similarity(retriever: Retriever,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader weighs every passage's similarity to the question: one dense search missed (here it
    finds nothing) is scored against its stored vector, not left without a score."""
    monkeypatch.setattr(retriever.index, "dense", lambda *a, **k: [])
    q = "How much did pricing add to growth?"
    hits = retriever.retrieve(q, top_k=3)
    assert hits and all(h.lexical is not None for h in hits)
    qv = retriever.embedder.embed_queries([q])[0]
    for h in hits:
        assert h.dense == pytest.approx(float(retriever.index.embeddings[h.row] @ qv), abs=1e-5)
