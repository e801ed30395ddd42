"""The learned reader: candidates with exact offsets, features, weights, abstention, and
`rag train-reader` end to end on a small sample (fake embedder, hand-written cases)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.answer import Assistant
from rag.build import build_index
from rag.cli import main
from rag.embed import FakeEmbedder
from tests.conftest import SHIPPED_WEIGHTS
from rag.reader import Reader, Weights, load_weights
from rag.reader.answerable import CASE_FEATURES, case_features
from rag.reader.features import FEATURES, GROUPS, asks_two_things, candidate_vectors, candidates, matrix, question_of
from rag.store import load_index

DATA = Path(__file__).parent / "data"
DOCS = ("ACME_Q1_2026_zh.txt", "ACME_Q2_2026_bilingual.json", "GLBX_FY23Q3_en.txt", "WIDG_FY25Q1_en.txt")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("reader")
    src = root / "src"
    src.mkdir()
    for name in DOCS:
        shutil.copy(DATA / name, src / name)
    build_index([src], root / "index", FakeEmbedder())
    return src, root / "index"


def _hits(index_dir: Path, question: str):
    a = Assistant(load_index(index_dir), FakeEmbedder())
    return a, a.retriever.retrieve(question, 4)


def test_candidates_are_sentences_and_pairs_with_exact_offsets(corpus) -> None:
    a, hits = _hits(corpus[1], "What was Acme's net revenue retention?")
    cands = candidates(hits)
    assert any(c.pair for c in cands) and any(not c.pair for c in cands)
    for c in cands:
        chunk = c.hit.chunk
        assert chunk.text[c.sentence.start - chunk.start : c.sentence.end - chunk.start] == c.sentence.text
    assert any("126%" in c.sentence.text and "percent" in c.kinds for c in cands)
    assert all(not c.kinds for c in cands if c.sentence.text == "Thanks.")


def test_candidate_vectors_are_their_sentences_and_pairs_means(corpus) -> None:
    """A sentence's own vector, a pair's the mean of its two, unit length; a passage stored without
    vectors, or with fewer than its sentences, gives none (zero rows, `has` false)."""
    a, hits = _hits(corpus[1], "What was Acme's net revenue retention?")
    cands = candidates(hits)
    bare, short = hits[0].row, hits[1].row

    def stored(hit):
        sv = a.index.sentences_of(hit.row)
        return None if hit.row == bare else sv[:1] if hit.row == short else sv

    vectors, has = candidate_vectors(cands, stored)
    assert vectors.shape == (len(cands), a.index.sentences_of(hits[2].row).shape[1])
    for c, v, h in zip(cands, vectors, has):
        sv = stored(c.hit)
        if sv is None or c.index + c.pair >= len(sv):
            assert not h and not v.any()
            continue
        want = np.asarray(sv[c.index : c.index + 1 + c.pair], dtype=np.float32).mean(axis=0)
        assert h and np.allclose(v, want / np.linalg.norm(want), atol=1e-6)
    assert has.any() and not has.all() and any(c.pair and h for c, h in zip(cands, has))
    none, has_none = candidate_vectors(cands, lambda hit: None)
    assert none.shape == (len(cands), 0) and not has_none.any()


def test_features_describe_what_a_sentence_holds(corpus) -> None:
    a, hits = _hits(corpus[1], "What was Acme's net revenue retention?")
    q = question_of("What was Acme's net revenue retention?", FakeEmbedder().embed_queries(["x"])[0],
                    a.index.idf, {"acme"})
    cands = candidates(hits)
    x = matrix(q, cands, lambda h: a.index.sentences_of(h.row))
    assert x.shape == (len(cands), len(FEATURES)) and np.isfinite(x).all()
    col = {f: FEATURES.index(f) for f in FEATURES}
    answer = next(i for i, c in enumerate(cands) if "Net revenue retention was 126%" in c.sentence.text and not c.pair)
    greeting = next(i for i, c in enumerate(cands) if c.sentence.text == "Thanks.")
    assert x[answer, col["coverage"]] > x[greeting, col["coverage"]]
    assert x[answer, col["has_figure"]] == 1 and x[greeting, col["has_figure"]] == 0
    assert x[answer, col["language_match"]] == 1
    zh = next(i for i, c in enumerate(cands) if c.hit.chunk.language == "zh")
    assert x[zh, col["language_match"]] == 0
    assert sorted(f for g in GROUPS.values() for f in g) == sorted(FEATURES)


def _weights(threshold: float, coverage_weight: float = 4.0) -> Weights:
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index("coverage")] = coverage_weight
    coef[FEATURES.index("has_figure")] = 2.0
    return Weights(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, -3.0, threshold, {})


def test_reader_answers_with_the_most_probable_sentence_or_abstains(corpus) -> None:
    a, hits = _hits(corpus[1], "What was Acme's net revenue retention?")
    sentences = lambda h: a.index.sentences_of(h.row)  # noqa: E731
    picks = Reader(_weights(0.5), a.index.idf, sentences).pick("What was Acme's net revenue retention?", hits, None)
    assert picks and "126%" in picks[0].sentence.text and picks[0].score >= 0.5
    assert Reader(_weights(0.999), a.index.idf, sentences).pick("What was Acme's net revenue retention?", hits, None) == []


@pytest.mark.parametrize("question, two", [
    ("What was Acme's revenue in Q2, and how much did it grow?", True),
    ("What was Acme's revenue in Q2? And the operating margin?", True),
    ("艾克米第二季度的净利润和每股收益分别是多少？", True),
    ("艾克米第二季度的收入是多少？同比增长多少？", True),
    ("What was Acme's revenue and operating margin growth in Q2?", False),  # one measure phrase, one ask
    ("On Acme's Q2 call, what did the CFO say about pricing?", False),
    ("艾克米第二季度的收入是多少？", False),
    ("艾克米对供应链以及库存的看法是什么？", False),  # 以及 joins two topics of one ask
])
def test_a_question_asking_two_things_takes_the_second_sentence_at_its_own_share(question: str, two: bool,
                                                                                 tmp_path: Path) -> None:
    from dataclasses import replace

    assert asks_two_things(question) == two
    w = replace(_weights(0.5), second=0.2, second_two=0.0)
    assert w.second_for(question) == (0.0 if two else 0.2)
    assert replace(w, second_two=None).second_for(question) == 0.2  # weights fitted before it: one share
    (tmp_path / "w.json").write_text(json.dumps(w.to_dict()))
    assert load_weights(tmp_path / "w.json").shares() == (0.2, 0.0)


def test_weights_round_trip_and_errors_name_the_file(tmp_path: Path) -> None:
    w = _weights(0.4)
    path = tmp_path / "w.json"
    path.write_text(json.dumps(w.to_dict()))
    back = load_weights(path)
    x = np.random.default_rng(0).random((5, len(FEATURES)))
    assert np.allclose(back.probabilities(x), w.probabilities(x)) and back.threshold == 0.4
    path.write_text("{}")
    with pytest.raises(ValueError, match=r"w\.json.*rag train-reader"):
        load_weights(path)


def test_the_shipped_weights_load_and_name_known_features() -> None:
    w = load_weights(SHIPPED_WEIGHTS)
    assert set(w.features) <= set(FEATURES) and 0 < w.threshold < 1
    assert w.info["cases"] >= 50  # fitted on the dev split of the eval cases


def test_train_reader_on_a_small_sample(corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RAG_EMBED_MODEL", "fake")
    src, _ = corpus
    cases = [
        ("What was Acme's net revenue retention in fiscal 2026 second quarter?", "ACME_Q2_2026_bilingual",
         "Net revenue retention was 126% this quarter.", ["126%"], "acme"),
        ("艾克米2026财年第二季度的产品收入是多少？", "ACME_Q2_2026_bilingual", "产品收入为13亿美元", ["13亿美元"], "acme"),
        ("How many accounts use Acme's AI features every week?", "ACME_Q2_2026_bilingual",
         "Over 4,000 accounts use our AI features every week.", ["4,000"], "acme"),
        ("艾克米2026财年第一季度的净收入留存率是多少？", "ACME_Q1_2026_zh", "本季度净收入留存率为125%", ["125%"], "acme2"),
    ]
    lines = [{"id": f"t-{i}", "question": q, "lang": "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in q) else "en",
              "answerable": True, "gold_numbers": g, "gold_doc": d, "gold_quote": quote, "tags": ["en", tag],
              "split": "dev"} for i, (q, d, quote, g, tag) in enumerate(cases)]
    lines += [{"id": "t-u", "question": "What was Acme's dividend in fiscal 2026 second quarter?", "lang": "en",
               "answerable": False, "gold_numbers": [], "gold_doc": None, "gold_quote": None,
               "tags": ["en", "unanswerable", "acme3"], "split": "dev"},
              {"id": "t-test", "question": "never read", "lang": "en", "answerable": False, "gold_numbers": [],
               "gold_doc": None, "gold_quote": None, "tags": ["en", "unanswerable", "x"], "split": "test"}]
    f = tmp_path / "cases.jsonl"
    f.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    out = tmp_path / "weights.json"
    folds = tmp_path / "folds"
    code = main(["train-reader", "--cases", str(f), "--sources", str(src), "--index-dir", str(tmp_path / "idx"),
                 "--out", str(out), "--folds", "3", "--cross-fit", str(folds)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    # Cross-fitted: each fold's weights were fitted without its companies, and the folds share none.
    held = [load_weights(p).info["cross_fit_companies"] for p in sorted(folds.glob("fold-*.json"))]
    assert len(held) == 3 and sorted(c for h in held for c in h) == ["acme", "acme2", "acme3"]
    assert main(["train-reader", "--cross-fit", str(folds), "--keep-candidates"]) == 2  # refused before any work
    assert main(["eval", "--cross-fit", str(tmp_path / "none"), "--cases", str(f)]) == 2  # no folds there: named
    w = load_weights(out)
    assert w.features == FEATURES and 0 < w.threshold < 1 and w.info["cases"] == 5  # the test case is not read
    assert w.info["positives"] >= 4 and "abstention precision" in printed and "<- chosen" in printed
    # Each answerable case was asked once more with its answering passages held out of retrieval.
    assert w.info["held_out_cases"] >= 1
    assert w.answerable is not None and set(w.answerable.features) <= set(CASE_FEATURES)
    # The question vector's adapter is fitted too, in the embedder's dimensions, and moves questions.
    assert w.adapter is not None and w.adapter.a.shape[0] == FakeEmbedder().dim and np.abs(w.adapter.a @ w.adapter.b.T).max() > 0
    # Refitting the answerability model only: the candidate model and its record are kept as they are.
    monkeypatch.setenv("RAG_READER_WEIGHTS", str(out))
    kept = tmp_path / "kept.json"
    code = main(["train-reader", "--cases", str(f), "--sources", str(src), "--index-dir", str(tmp_path / "idx"),
                 "--out", str(kept), "--folds", "2", "--keep-candidates", "--threshold", "0.07"])
    printed = capsys.readouterr().out
    assert code == 0 and "candidate model kept" in printed, printed
    k = load_weights(kept)
    assert (k.features, k.intercept, k.shares()) == (w.features, w.intercept, w.shares())
    assert w.second_two is not None  # chosen for questions asking two things, on their own grid
    assert np.allclose(k.coef, w.coef, atol=1e-6) and k.info["candidates_kept"] and k.info["answerable_cases"] == 5
    assert k.threshold == 0.07 and k.answerable is not None
    assert k.adapter is not None and np.allclose(k.adapter.a, w.adapter.a, atol=1e-6)
    # `rag eval --cross-fit` answers the dev cases with those folds' readers: folds set never to answer
    # (threshold above any probability) leave every dev case abstained, which the shipped reader does not.
    for p in folds.glob("fold-*.json"):
        d = json.loads(p.read_text())
        p.write_text(json.dumps({**d, "threshold": 1.0}))
    code = main(["eval", "--cases", str(f), "--sources", str(src), "--index-dir", str(tmp_path / "idx"), "--split", "dev",
                 "--no-baseline", "--cross-fit", str(folds), "--report", str(tmp_path / "reports")])
    dev = json.loads(next((tmp_path / "reports").glob("2*.json")).read_text())["splits"]["dev"]
    assert code in (0, 1) and dev["cases"] == 5 and dev["answerable_abstained"] == 1.0 and dev["abstention_recall"] == 1.0


def test_held_out_variants_retrieve_no_answering_passage(corpus) -> None:
    from rag.evaluate import Case
    from rag.reader.train import Dataset, collect

    a, _ = _hits(corpus[1], "What was Acme's net revenue retention?")
    case = Case(id="c", question="What was Acme's net revenue retention?", lang="en", answerable=True,
                gold_numbers=("126%",), gold_doc="ACME_Q2_2026_bilingual",
                gold_quote="Net revenue retention was 126% this quarter.", tags=("en",), file="f", split="dev")
    ds = collect(a, [case], 5, Dataset())
    assert ds.held_out == [False, True] and ds.y[0].any() and not ds.y[1].any()
    assert all("126" not in h.chunk.text for h in ds.hits[1])
    assert ds.real() == [0]


def test_answerability_gates_the_reader(corpus) -> None:
    """With an answerability model, the reader abstains on its probability, not the candidate's."""
    from rag.reader import Linear

    a, hits = _hits(corpus[1], "What was Acme's net revenue retention?")
    sentences = lambda h: a.index.sentences_of(h.row)  # noqa: E731
    n = len(CASE_FEATURES)

    def gate(intercept: float) -> Weights:
        w = _weights(0.5)
        return Weights(w.features, w.mean, w.scale, w.coef, w.intercept, 0.5, {},
                       Linear(CASE_FEATURES, np.zeros(n), np.ones(n), np.zeros(n), intercept))

    q = "What was Acme's net revenue retention?"
    assert Reader(gate(3.0), a.index.idf, sentences).pick(q, hits, None)
    assert Reader(gate(-3.0), a.index.idf, sentences).pick(q, hits, None) == []
    question = question_of(q, None, a.index.idf, set())
    cands = candidates(hits)
    x = matrix(question, cands, sentences)
    p = _weights(0.5).probabilities(x)
    row = case_features(question, hits, cands, x, p)
    assert row.shape == (n,) and np.isfinite(row).all()
    assert row[CASE_FEATURES.index("margin")] == pytest.approx(np.sort(p)[-1] - np.sort(p)[-2])


def test_a_measure_no_passage_names_is_not_answered(corpus) -> None:
    """Asked for a measure (free cash flow) none of the passages names in any of its phrasings or
    languages, the reader abstains however likely its best sentence looks; asked for one they name
    (net revenue retention, or either of two measures asked together), it answers."""
    from rag.reader import Linear

    a, hits = _hits(corpus[1], "What was Acme's net revenue retention?")
    sentences = lambda h: a.index.sentences_of(h.row)  # noqa: E731
    n = len(CASE_FEATURES)
    w = _weights(0.5)
    sure = Weights(w.features, w.mean, w.scale, w.coef, w.intercept, 0.5, {},
                   Linear(CASE_FEATURES, np.zeros(n), np.ones(n), np.zeros(n), 3.0))
    reader = Reader(sure, a.index.idf, sentences)
    assert not any("free cash" in h.chunk.text.lower() or "自由现金流" in h.chunk.text for h in hits)
    assert reader.pick("What was Acme's free cash flow?", hits, None) == []
    assert reader.pick("What was Acme's net revenue retention?", hits, None)
    assert reader.pick("What were Acme's free cash flow and net revenue retention?", hits, None)
    # Whatever the threshold: with none at all the unnamed measure is still not answered.
    never = Weights(w.features, w.mean, w.scale, w.coef, w.intercept, 0.0, {}, sure.answerable)
    assert Reader(never, a.index.idf, sentences).pick("What was Acme's free cash flow?", hits, None) == []


def test_a_measure_is_named_only_by_one_passage_holding_all_its_words() -> None:
    """"Monthly active users" is not named by one passage's "monthly", another's "active" and a third's
    "users": the words must stand in one passage (or in the analyst's question it answers)."""
    from rag.reader import mentions_a_measure
    from rag.types import Chunk, Hit

    def hits(*texts: str) -> list[Hit]:
        return [Hit(chunk=Chunk(id=f"c{i}", doc_id="d", section="prepared", speakers=(), text=t, embed_text=t,
                                start=0, end=len(t)), row=i, score=1.0) for i, t in enumerate(texts)]

    q = question_of("How many monthly active users did Acme have?", None, lambda t: 1.0, {"acme"})
    assert q.metrics
    apart = hits("Monthly billings rose 9%.", "Active customers grew to 4,000.", "Users like the new editor.")
    assert not mentions_a_measure(q, candidates(apart))
    together = hits("Monthly billings rose 9%.", "Monthly active users reached 13 million, up 20%.")
    assert mentions_a_measure(q, candidates(together))


def test_an_answer_without_the_kind_the_wording_fixes_is_no_answer(corpus) -> None:
    """Asked in dollars for what the passages give only as a percentage, the reader abstains; asked
    as a percentage, it answers with the same passages."""
    from rag.reader import Linear

    a, hits = _hits(corpus[1], "What was Acme's net revenue retention?")
    n = len(CASE_FEATURES)
    w = _weights(0.5)
    sure = Weights(w.features, w.mean, w.scale, w.coef, w.intercept, 0.5, {},
                   Linear(CASE_FEATURES, np.zeros(n), np.ones(n), np.zeros(n), 3.0))
    reader = Reader(sure, a.index.idf, lambda h: a.index.sentences_of(h.row))
    picks = reader.pick("What percentage was Acme's net revenue retention?", hits, None)
    assert picks and any("percent" in p.kinds for p in picks)
    assert reader.pick("How many dollars was Acme's net revenue retention?", hits, None) == []


def _one_passage(text: str):
    """A passage holding `text`, a reader whose own rules (not its scores: tests set those) decide,
    and the passage's single-sentence candidates."""
    from rag.types import Chunk, Hit

    hit = Hit(chunk=Chunk(id="c0", doc_id="d", section="prepared", speakers=(), text=text, embed_text=text,
                          start=0, end=len(text)), row=0, score=1.0)
    w = _weights(0.0)
    reader = Reader(Weights(w.features, w.mean, w.scale, w.coef, w.intercept, 0.0, {}, None, 0.5), lambda t: 1.0,
                    lambda h: None)
    return hit, reader, [c for c in candidates([hit]) if not c.pair]


def test_the_kind_the_wording_fixes_must_be_in_the_answers_own_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """"GAAP net loss in dollars?" met first by a sentence naming the loss with no amount: a second,
    nearly as probable sentence's amount (another measure's) does not make it an answer."""
    text = "The one-time stock compensation expense resulted in a GAAP net loss. Revenue was $274 million, up 38%."
    hit, reader, cands = _one_passage(text)
    probs = np.array([0.9 if "net loss" in c.sentence.text else 0.8 for c in cands])
    monkeypatch.setattr(Reader, "score", lambda self, *a, **k: (cands, probs, 0.9))
    loose = reader.pick("What was the GAAP net loss?", [hit], None)
    assert [p.sentence.text[:14] for p in loose] == ["The one-time s", "Revenue was $2"]
    assert reader.pick("What was the GAAP net loss in dollars?", [hit], None) == []


def test_an_amount_stated_as_a_move_is_no_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """"What was total ARR in dollars?" met by "Total ARR grew by $11 million sequentially": the amount
    says how much ARR moved, not what it was, so the answer says the call does not state it; asked
    how much ARR grew, the same sentence answers."""
    from rag.reader.features import level_kinds

    assert level_kinds("Total ARR grew by $11 million sequentially.") == frozenset()
    assert level_kinds("Net income fell by $4.1 million or $0.09 per share.") == frozenset()  # restated, still a move
    assert level_kinds("Revenue increased 10% to $500 million.") == {"percent", "money"}
    assert level_kinds("EPS was $1.20, up $0.10 from last year.") == {"money"}
    assert level_kinds("收入增加了5亿美元。") == frozenset()
    assert level_kinds("收入提升了2亿元。") == frozenset()
    # A cause after "by", a verb's "down", a segment that "lost" money: levels, not moves.
    assert level_kinds("Margin was partially offset by $20 million of restructuring charges.") == {"money"}
    assert level_kinds("We paid down $500 million of debt in the quarter.") == {"money"}
    assert level_kinds("The Energy segment lost $12 million in the quarter.") == {"money"}
    text = "Total ARR grew by $11 million sequentially."
    hit, reader, cands = _one_passage(text)
    monkeypatch.setattr(Reader, "score", lambda self, *a, **k: (cands, np.array([0.9] * len(cands)), 0.9))
    assert reader.pick("What was Acme's total ARR in dollars at the end of Q3?", [hit], None) == []
    assert reader.pick("How much did Acme's total ARR grow in dollars in Q3?", [hit], None)


@pytest.mark.parametrize("question, kinds", [
    ("How many employees did Acme have at year end?", {"count"}),
    ("艾克米第二季度末的员工总数是多少？", {"count"}),  # 总数 / 数量 / 人数: "the number of"
    ("What was Acme's revenue in dollars?", {"money", "count"}),
    ("What was diluted EPS in Q3?", {"money", "count"}),
    ("What was the gross margin?", {"percent", "fraction"}),
    ("毛利率是多少？", {"percent", "fraction"}),
    ("第四季度营收是多少美元？", {"money", "count"}),
    # Any currency, not only dollars; growth "in kroner" is still a change.
    ("What were Acme's total sales in Danish kroner for 2024?", {"money", "count"}),
    ("艾克米上半年的净利润是多少丹麦克朗？", {"money", "count"}),
    ("新单销售额是多少日元？", {"money", "count"}),
    ("How much did sales grow in Danish kroner?", {"money", "count", "percent", "pp", "fraction", "multiple"}),
    ("How much did EPS grow?", {"money", "count", "percent", "pp", "fraction", "multiple"}),
    ("What was revenue in Q4?", set()),  # revenue may be asked as an amount or a growth: any kind
    ("What was the annualized revenue run rate?", set()),  # a run rate is an amount, not a ratio
    ("What did the CFO say about demand?", set()),
    ("What share of revenue came from cloud?", {"percent", "fraction"}),
    ("cloud as a percentage of sales", {"percent", "fraction"}),
    ("How many bps did price/mix contribute?", {"percent", "pp", "fraction"}),  # points, not a count
    # A share's level is a percentage: "occupancy up 480 basis points" does not say what it is; points
    # answer a share only when a move is asked, in `_CHANGE`'s words or others.
    ("What was same-store occupancy, as a percentage, at quarter end?", {"percent", "fraction"}),
    ("How much did gross margin expand year over year?", {"percent", "pp", "fraction", "multiple"}),
    ("CL 3Q21 gross margin contraction y/y?", {"percent", "pp", "fraction", "multiple"}),
    # "points" outside a figure's sense, and a word that only contains a move's stem, pin nothing new.
    ("What pain points did Acme's customers mention?", set()),
    ("How many contracts did Acme sign in Q3?", {"count"}),
    ("预计全年营业利润率扩张多少个基点？", {"count", "percent", "pp", "fraction", "multiple"}),  # 多少个 reads as a count
    ("How many times more often do tours convert?", {"multiple"}),
    ("收入是去年的几倍？", {"multiple"}),
    # A currency word inside a measure's own name pins nothing: net dollar retention is a rate.
    ("What was Acme's net dollar retention in Q3?", set()),
    ("What was Acme's dollar-based net retention rate?", {"percent", "fraction"}),
    ("What was gross dollar volume in dollars?", {"money", "count"}),
])
def test_pinned_kinds_read_only_what_the_wording_fixes(question: str, kinds: set[str]) -> None:
    from rag.reader.features import pinned_kinds

    assert pinned_kinds(question) == kinds


def test_the_answerability_model_sees_a_pinned_kind_the_best_sentence_lacks(corpus) -> None:
    """"How many ..." read against passages whose best sentence states only a percentage: the case
    feature says the kind asked is missing; asked for the percentage, it does not."""
    a, hits = _hits(corpus[1], "What was Acme's net revenue retention?")
    sentences = lambda h: a.index.sentences_of(h.row)  # noqa: E731
    cands = candidates(hits)
    col = CASE_FEATURES.index("top_pinned_missing")
    for q, missing in (("How many customers did Acme's net revenue retention come from?", 1.0),
                       ("What percentage was Acme's net revenue retention?", 0.0)):
        question = question_of(q, None, a.index.idf, set())
        x = matrix(question, cands, sentences)
        p = np.zeros(len(cands))
        best = next(i for i, c in enumerate(cands) if c.kinds == {"percent"})
        p[best] = 1.0
        assert case_features(question, hits, cands, x, p)[col] == missing


def test_the_same_sentence_from_two_sources_is_picked_once() -> None:
    """A full call and a summary of it hold the same sentence: cite either, never both."""
    from rag.reader import distinct
    from rag.reader.features import Candidate
    from rag.sentences import Sentence
    from rag.types import Chunk, Hit

    def cand(doc: str, text: str, start: int) -> Candidate:
        chunk = Chunk(id=doc, doc_id=doc, section="prepared", speakers=(), text=text, embed_text=text,
                      start=start, end=start + len(text))
        return Candidate(Hit(chunk, 0, 1.0), 0, Sentence(text, start, start + len(text)), 0, False, (), None)

    same = "Revenue was $4.2 billion, up 12%."
    cands = [cand("FULL", same, 100), cand("SUMMARY", "Revenue  was $4.2 billion,\nup 12%.", 7),
             cand("SUMMARY", "Margins rose to 41%.", 60), cand("FULL", same, 100)]
    picks = distinct(cands, np.array([0.9, 0.8, 0.5, 0.4]), 3)
    assert [(p.hit.chunk.doc_id, p.sentence.text) for p in picks] == [("FULL", same), ("SUMMARY", "Margins rose to 41%.")]


def test_a_pair_holding_an_outlook_sentence_counts_as_guidance() -> None:
    """A sentence and the outlook after it: its figures may be the outlook's, so a question asking a
    result sees it as guidance (before, only the pair's first sentence was read for it)."""
    from rag.types import Chunk, Hit

    text = ("Currency was a 2-point headwind for the year. For free cash flow, we expect to generate $10 billion "
            "in 2022. Free cash flow was $6.5 billion in 2021.")
    chunk = Chunk(id="c", doc_id="D", section="prepared", speakers=(), text=text, embed_text=text, start=0,
                  end=len(text))
    cands = candidates([Hit(chunk, 0, 1.0)])
    q = question_of("What was free cash flow in 2021?", None, lambda t: 1.0, set())
    x = matrix(q, cands, lambda h: None)
    misfit = {(c.sentence.text, c.pair): x[i, FEATURES.index("guidance_misfit")] for i, c in enumerate(cands)}
    first, outlook, result = (s.strip() for s in ("Currency was a 2-point headwind for the year.",
                                                  "For free cash flow, we expect to generate $10 billion in 2022.",
                                                  "Free cash flow was $6.5 billion in 2021."))
    assert misfit[(first, False)] == 0 and misfit[(outlook, False)] == 1 and misfit[(result, False)] == 0
    assert misfit[(f"{first} {outlook}", True)] == 1  # the outlook is the pair's second sentence
    assert misfit[(f"{outlook} {result}", True)] == 1


def test_a_quarter_in_the_sell_sides_shorthand_is_no_term_of_the_question() -> None:
    """"On Acme's 1Q21 call, how large ...": scoping reads "1Q21" as a quarter; the reader read it as
    the question's rarest word, hence its focus, which no sentence holds."""
    for form in ("1Q21", "1Q FY21", "4QFY2021", "FQ3'21", "21Q3", "3Q", "Q1FY26", "FY21Q3"):
        q = question_of(f"On Acme's {form} call, how large is the backlog?", None, lambda t: 1.0, {"acme"})
        words = {t for alts, _ in q.terms for a in alts for t in a}
        assert "backlog" in words and not {t for t in words if any(ch.isdigit() for ch in t) or "q" == t[-1:]}, form


def test_the_period_of_the_call_named_is_not_the_period_asked_when_another_is_named() -> None:
    """"What 2020 EPS guidance did Acme give on its Q4 2019 call?" asks about 2020: the sentence naming
    the fourth quarter is the quarter's result, not the outlook asked for."""
    def periods(text: str) -> tuple[set[int], set[int]]:
        q = question_of(text, None, lambda t: 1.0, {"acme"})
        return set(q.years), set(q.quarters)

    assert periods("What 2020 EPS guidance did Acme give on its Q4 2019 call?") == ({2020}, set())
    assert periods("Acme在2021年第二季度业绩电话会上给出的第三季度收入指引是多少？") == (set(), {3})
    # The call's period alone is the period asked.
    assert periods("On Acme's Q3 2021 call, what was revenue?") == ({2021}, {3})
    # A call named by the results it reported, in any spelling of its quarter; the reporting words
    # are no terms of the question.
    assert periods("What EBITDA range did Acme guide to for 2020 when it reported fourth-quarter 2019 results?") \
        == ({2020}, set())
    assert periods("Following its Q3 2020 results, what full-year 2020 EPS range did Acme guide to?") == ({2020}, set())
    assert periods("Acme在公布2021年第二季度业绩时给出的第三季度收入指引是多少？") == (set(), {3})
    q = question_of("What EBITDA range did Acme guide to for 2020 when it reported fourth-quarter 2019 results?",
                    None, lambda t: 1.0, {"acme"})
    assert not {t for alts, _ in q.terms for a in alts for t in a} & {"report", "result", "fourth"}
    # A comparison's base is no period asked: the question reads as it did before (the quarter named
    # decides; the years are read only when no quarter is).
    assert periods("On Acme's Q3 2021 call, what was revenue versus 2020?") == ({2020, 2021}, {3})
    assert periods("On Acme's Q3 2021 call, how did revenue compare with 2020?") == ({2020, 2021}, {3})


def test_a_verb_asking_for_a_figure_is_not_the_measure_when_the_question_names_one() -> None:
    """"What operating margin did Acme deliver?" asks for the margin, so a sentence stating it names
    what is asked; "How many cars did Acme deliver?" asks for deliveries."""
    text = "We delivered 5,000 cars in the quarter. Operating margin was 16%, up from 7%."
    margin = _features_of("What operating margin did Acme deliver this quarter?", text)
    assert margin["Operating margin was 16%, up from 7%."]["focus"] == 1
    assert margin["Operating margin was 16%, up from 7%."]["coverage"] > margin["We delivered 5,000 cars in the quarter."]["coverage"]
    cars = _features_of("How many cars did Acme deliver?", text)
    assert cars["We delivered 5,000 cars in the quarter."]["focus"] == 1
    assert cars["Operating margin was 16%, up from 7%."]["focus"] == 0


def _features_of(question: str, text: str, skip: frozenset[str] = frozenset(),
                 period: str | None = None) -> dict[str, dict[str, float]]:
    """{sentence: {feature: value}} for the single sentences of one passage."""
    from rag.types import Chunk, Hit

    chunk = Chunk(id="c", doc_id="D", section="prepared", speakers=(), text=text, embed_text=text, start=0,
                  end=len(text))
    cands = candidates([Hit(chunk, 0, 1.0)])
    x = matrix(question_of(question, None, lambda t: 1.0, set(skip), period=period), cands, lambda h: None)
    return {c.sentence.text: {f: float(x[i, FEATURES.index(f)]) for f in FEATURES}
            for i, c in enumerate(cands) if not c.pair}


def test_the_kind_of_figure_asked_for() -> None:
    from rag.reader.features import asked_kinds

    revenue, margin = ("revenue", "revenues", "sales"), ("gross margin", "毛利率")
    assert asked_kinds("What was Acme's revenue?", [revenue]) == {"money", "count"}
    assert asked_kinds("Acme Q1 FY26 revenue?", [revenue]) == {"money", "count"}
    assert asked_kinds("How fast did Acme's revenue grow?", [revenue]) >= {"percent", "pp"}
    assert asked_kinds("艾克米的毛利率是多少？", [margin]) == {"percent", "pp"}
    assert "count" in asked_kinds("How many customers does Acme have?", [])
    assert asked_kinds("What did the CFO say about revenue?", [revenue]) == frozenset()
    # A part of a whole is a percentage, whatever it is a part of.
    assert asked_kinds("Acme Q2 cloud share of revenue", [revenue]) == {"percent", "pp"}
    assert asked_kinds("Cloud as a % of sales?", [revenue]) == {"percent", "pp"}
    assert asked_kinds("云业务占总营收的比例是多少？", [("营收",)]) == {"percent", "pp"}
    assert asked_kinds("What was revenue per share?", [revenue]) == {"money", "count"}
    f = _features_of("What was Acme's revenue?", "Revenue was $5 billion. Revenue grew 12%.")
    assert [(v["kind_fit"], v["kind_all"]) for v in f.values()] == [(1, 1), (0, 0)]


def test_the_question_words_in_their_order_count_as_a_phrase() -> None:
    f = _features_of("What was Acme's product revenue?", (
        "Product revenue was $943 million. "
        "Revenue from each product line grew, and revenue per customer was $5,000."), frozenset({"acme"}))
    assert [v["phrase"] for v in f.values()] == [1.0, 0.0]


def test_a_chinese_word_the_glossary_lacks_is_met_by_its_english_senses() -> None:
    """灌溉 (irrigation) and 北美 (North America) reach an English sentence through CC-CEDICT, as
    retrieval's query does; the consolidated figure no longer covers the question as well."""
    f = _features_of("艾克米第一季度灌溉业务的销售额是多少？",
                     "Net sales of $774 million increased 15%. In Irrigation, sales of $229.7 million rose 40%.")
    segment, total = "In Irrigation, sales of $229.7 million rose 40%.", "Net sales of $774 million increased 15%."
    assert f[segment]["coverage"] > f[total]["coverage"]


def test_a_quarter_asked_is_matched_by_the_quarter_a_sentence_names() -> None:
    """The year a quarter falls in is not that quarter: a full-year outlook "for fiscal 2021" does not
    agree with "Q2 2021"; "the second quarter" does. A question naming only a year matches the year."""
    text = ("Net sales for fiscal 2021 are expected to grow 16%. "
            "Second quarter sales of $894 million increased 30%. "
            "Sales in 2020 were $2.9 billion.")
    quarter = _features_of("What were Acme's net sales in Q2 2021?", text)
    assert [v["period_same"] for v in quarter.values()] == [0.0, 1.0, 0.0]
    year = _features_of("What were Acme's net sales in 2021?", text)
    assert [v["period_same"] for v in year.values()] == [1.0, 0.0, 0.0]


def test_a_question_naming_no_period_asks_about_the_call_it_is_scoped_to() -> None:
    """Scoped to one call (its company's newest, FY2025Q3), "revenue growth last quarter" is that
    call's quarter: the sentence naming Q3 agrees, one about the year does not. A question naming a
    year asks about the year, whatever call holds it."""
    text = ("International revenue grew about 42% over the course of the year. "
            "We ended Q3 with $274 million in revenue, representing 38% growth. "
            "Revenue in fiscal 2025 will exceed $1 billion.")
    scoped = _features_of("What was Acme's revenue growth last quarter?", text, period="FY2025Q3")
    assert [v["period_same"] for v in scoped.values()] == [0.0, 1.0, 0.0]
    unscoped = _features_of("What was Acme's revenue growth last quarter?", text)
    assert {v["period_same"] for v in unscoped.values()} == {0.0}
    year = _features_of("What was Acme's revenue growth in 2025?", text, period="FY2025Q3")
    assert [v["period_same"] for v in year.values()] == [0.0, 0.0, 1.0]


def test_a_sentence_naming_what_the_question_does_not_is_marked() -> None:
    """A segment the question did not ask about ("Consumer Products") marks a sentence as about
    something else; the question's own names, periods and a sentence's first word do not."""
    text = ("For the fourth quarter, Consumer Products earned adjusted EBITDA of $20 million. "
            "Adjusted EBITDA was $52 million in the fourth quarter of 2019. "
            "At Acme, adjusted EBITDA rose in December.")
    f = _features_of("What was Acme's adjusted EBITDA in Q4 2019?", text, frozenset({"acme"}))
    assert [v["extra_names"] for v in f.values()] == [pytest.approx(1 / 3), 0.0, 0.0]


def test_a_company_name_written_with_a_plus_is_its_product() -> None:
    """"Disney+ subscribers" asks about the product: the company's name is skipped as scope, but with a
    plus it is what the sentence must name ("Disney+", not "ESPN+")."""
    text = "At ESPN+, we ended the quarter with 21 million paid subscribers. We ended the quarter with 130 million paid Disney+ subscribers."
    f = _features_of("Disney+ paid subscribers at the end of the quarter?", text, frozenset({"disney"}))
    espn, disney = (f[s] for s in ("At ESPN+, we ended the quarter with 21 million paid subscribers.",
                                   "We ended the quarter with 130 million paid Disney+ subscribers."))
    assert disney["coverage"] > espn["coverage"]
    # The name alone is still scope, not content.
    g = _features_of("Disney paid subscribers at the end of the quarter?", text, frozenset({"disney"}))
    assert g[text.split(". ")[1]]["coverage"] == g[text.split(". ")[0] + "."]["coverage"]


def test_a_figure_on_the_other_accounting_basis_does_not_answer() -> None:
    """"GAAP EPS?" met by "adjusted EPS of $1.16" is not answered with it; a sentence stating both
    bases, or neither, still can answer."""
    from rag.cues import bases_of, other_basis

    assert bases_of("non-GAAP EPS") == {"adjusted"} and bases_of("GAAP EPS") == {"gaap"}
    assert bases_of("GAAP and adjusted diluted EPS") == {"gaap", "adjusted"} and bases_of("按GAAP口径") == {"gaap"}
    assert other_basis("What was SCI's GAAP diluted EPS?", "We generated adjusted earnings per share of $1.16.")
    assert other_basis("调整后每股收益是多少？", "GAAP EPS was $0.90.")
    assert not other_basis("What was GAAP EPS?", "GAAP EPS was $0.90 and adjusted EPS $1.16.")
    assert not other_basis("What was GAAP EPS?", "EPS was $0.90.")
    assert not other_basis("What was EPS?", "Adjusted EPS was $1.16.")


def test_a_longer_span_does_not_answer_a_quarter_asked_on_its_own() -> None:
    """"Free cash flow in Q2 alone" (单季) is not answered by a year-to-date or full-year figure; a
    sentence naming the quarter, or a question not asking for it on its own, is left to the reader."""
    from rag.cues import longer_span

    assert longer_span("What free cash flow did ADS generate in Q2 alone?", "We generated $31 million of free cash flow year-to-date.")
    assert longer_span("2022财年第二季度单季的自由现金流是多少？", "Full-year free cash flow was $583 million.")
    assert not longer_span("What free cash flow did ADS generate in Q2 alone?",
                           "Fourth quarter free cash flow of $299 million contributed to full year free cash flow of $583 million.")
    assert not longer_span("What free cash flow did ADS generate in Q2?", "We generated $31 million of free cash flow year-to-date.")


def test_a_glossary_word_in_the_companys_name_is_not_the_measure_asked() -> None:
    """"Prestige Consumer Healthcare": "consumer" is a glossary word (customers), but in the name it
    asks for nothing, so the question's measure (its tax rate) is what it focuses on."""
    from rag.lexical import tokenize

    skip = set(tokenize("Prestige Consumer Healthcare PBH"))
    q = question_of("What was Prestige Consumer Healthcare's effective tax rate in fiscal Q1 2022?", None,
                    lambda t: 1.0, skip)
    assert "tax rate" in q.focus and "consum" not in {t for alts, _ in q.terms for a in alts for t in a}
    # Named as what is asked, the same word is still the measure.
    assert "customers" in question_of("How many customers did Acme add?", None, lambda t: 1.0, {"acme"}).focus


def test_a_part_of_a_whole_is_what_is_asked_not_the_whole() -> None:
    """"S&M expenses as a share of revenue" asks about the expenses: the whole they are measured
    against (revenue, 净收入) is not the focus, even where it is the rarer word."""
    from rag.lexical import tokenize

    whole = set(tokenize("revenue revenues net income earnings 净收入 净利润 营收 收入"))
    idf = lambda t: 5.0 if t in whole else 1.0  # noqa: E731
    en = question_of("What were Acme's selling and marketing expenses as a percentage of revenue?", None, idf, {"acme"})
    zh = question_of("艾克米一季度非GAAP销售和营销费用占净收入的比重是多少？", None, idf, {"艾克米"})
    assert "selling and marketing" in en.focus and "销售和营销" in zh.focus
    # With no measure before the part-of wording, the measures compete as before.
    assert "revenue" in question_of("What share of revenue came from selling and marketing customers?", None, idf,
                                    set()).focus


def test_the_call_and_who_speaks_on_it_are_not_what_is_asked() -> None:
    """"On its Q3 2024 earnings call, how many people..." asks for no earnings figure: the call, its
    Q&A and the CFO say where the figure was said, so none of them is a term the answer must hold."""
    q = question_of("On Novo's Q3 2024 earnings call, how many people live with MASH?", None, lambda t: 1.0, {"novo"})
    terms = {t for alts, _ in q.terms for a in alts for t in a}
    assert q.metrics == 0 and not terms & {"earn", "净利润", "call"} and "mash" in terms
    # The same word asking for the measure is still the measure.
    assert "net income" in question_of("What were Novo's Q3 2024 earnings?", None, lambda t: 1.0, {"novo"}).focus
    zh = question_of("雪花2027财年Q1电话会问答环节里，CFO说全年产品毛利率是多少？", None, lambda t: 1.0, {"雪花"})
    zh_terms = {t for alts, _ in zh.terms for a in alts for t in a}
    assert not zh_terms & {"电话", "电话会", "问答", "环节", "cfo"} and "毛利率" in zh.focus


def test_a_count_of_quarters_or_years_is_no_figure() -> None:
    """"Revenue growth has accelerated for 2 consecutive quarters" states no revenue figure: a span of
    time is not the count a question asks for, so such a sentence holds no figure at all."""
    from rag.reader.features import _info
    from rag.sentences import split

    def kinds(text: str) -> list[str]:
        return sorted(_info(split(text, 0)[0]).kinds)

    assert kinds("Year-over-year revenue growth has now accelerated for 2 consecutive quarters.") == []
    assert kinds("收入同比增长现已连续两个季度加速。") == []
    assert kinds("Over the last three years we doubled the business.") == []
    assert kinds("In the first 9 months of 2025, sales grew 12%.") == ["percent"]
    assert kinds("We ended the quarter with 5,000 customers.") == ["count"]
    assert kinds("In Q1 2026, revenue grew 46% year-over-year to $333 million.") == ["money", "percent"]
    # Written with a hyphen the span is the same: "12-month" answers no "how much, in dollars?".
    assert kinds("We achieved a trailing 12-month free cash flow margin of more than 11%.") == ["percent"]
    # A page of the deck is pointed at, not stated: "Please turn to Page 7." holds no figure.
    assert kinds("Please turn to Page 7. The effect is that we're building tangible book value.") == []
    assert kinds("Turning to slide 9, revenue was $5 million.") == ["money"]


def test_a_measure_named_as_what_a_figure_is_a_part_of_is_not_next_to_its_own_figure() -> None:
    """"$135 million or 25% of total revenue" states a product's revenue: for "what was total
    revenue?" the figure beside "revenue" is not revenue's; asked for the share, it is (the
    `focus_figure` feature as the reader computes it)."""
    from rag.types import Chunk, Hit

    def beside(question: str, text: str) -> list[float]:
        hit = Hit(chunk=Chunk(id="c0", doc_id="d", section="prepared", speakers=(), text=text, embed_text=text,
                              start=0, end=len(text)), row=0, score=1.0)
        q = question_of(question, None, lambda t: 1.0, {"acme"})
        x = matrix(q, [c for c in candidates([hit]) if not c.pair], lambda h: None)
        return x[:, FEATURES.index("focus_figure")].tolist()

    text = "Silicon photonics reached a record $135.1 million or 25% of total revenue. Revenue of $543.3 million was a record."
    assert beside("What total revenue did Acme report for Q1?", text) == [0.0, 1.0]
    assert beside("What share of total revenue did silicon photonics make up?", text)[0] == 1.0
    # Only a share's "of": "Turning to revenue, we reported $543 million" is revenue's own figure.
    assert beside("What total revenue did Acme report for Q1?",
                  "Turning to revenue, we reported $543 million for the quarter.") == [1.0]


def test_parts_named_are_capitalised_names_that_are_not_the_company_a_period_or_a_measure() -> None:
    from rag.lexical import tokenize
    from rag.reader.parts import parts_named

    skip = set(tokenize("Acme Rockets Group"))
    assert parts_named("What revenue did Acme's Filtration business generate in Q3?", skip) == (tuple(tokenize("Filtration")),)
    # The company, a period written in capitals, a role and a glossary measure are no parts.
    assert parts_named("What was Acme Rockets Group's Free Cash Flow in Q3 FY26, per the CFO?", skip) == ()
    assert parts_named("Acme 2025年第二季度Nova AI贡献了多少收入？", skip) == (tuple(tokenize("Nova")),)
    # A capitalised measure, and roles, are no parts; "Marketplace" and "Margin" are no months.
    assert parts_named("What Gross Margin did the Chief Financial Officer give for Marketplace?", skip) == \
        (tuple(tokenize("Marketplace")),)
    # The company by a longer name whose initials are its short one; a name of one-letter words.
    assert parts_named("What range did Acme Rockets Group guide to?", {"arg"}) == ()
    assert parts_named("Acme公司（A&B）业务的营业利润率是多少？", skip) == ()


def test_a_measure_written_with_digits_is_no_part_and_an_ampersand_name_is_one() -> None:
    """"CET1" was read as a part called "CET" (the name reader stopped at the digit, so the glossary
    never saw the measure) and "Digital & Betting" as two parts the answer had to name each."""
    from rag.lexical import tokenize
    from rag.reader.parts import parts_named

    skip = set(tokenize("Acme Bank"))
    assert parts_named("Where did Acme Bank's CET1 capital ratio stand at the end of Q1?", skip) == ()
    assert parts_named("Acme FY25Q4电话会上，Nova的营业利润率是多少？", skip) == (tuple(tokenize("Nova")),)
    assert parts_named("What did Acme report for Nova in Q1FY26?", skip) == (tuple(tokenize("Nova")),)
    assert parts_named("What did COVID-19 cost Acme?", skip) == (("covid",),)
    # "Cullen/Frost" is one name (the company's, when the index knows it as "Frost"), and a part of two
    # words is also found by its initials ("IP segment operating margin").
    assert parts_named("What was Cullen/Frost's net interest margin?", set(tokenize("Frost"))) == ()
    assert parts_named("What margin did Acme's Industrial Process segment hit?", skip) == (
        tuple(tokenize("Industrial Process")) + ("ip",),)
    # Initials that are a role, a period or a measure are left out, the words kept.
    assert parts_named("What did Acme's Mission Systems earn?", skip) == (tuple(tokenize("Mission Systems")),)
    assert parts_named("What did Acme's Advanced Imaging unit earn?", skip) == (tuple(tokenize("Advanced Imaging")),)
    both = parts_named("What did Acme's Digital & Betting business earn?", skip)
    assert both == (tuple(tokenize("Digital Betting")) + ("db",),)
    # A product with a generation number keeps it, and the plain product name matches too.
    assert parts_named("How many Nova2 chips did Acme ship?", skip) == (("nova2", "nova"),)


def test_a_part_the_answer_never_mentions_is_missing_unless_it_is_a_known_name() -> None:
    """"Filtration" asked, the best sentence gives the whole company's revenue: missing. Named near
    the answer, or the company called by its initials, it is not."""
    from rag.lexical import tokenize
    from rag.reader.parts import part_missing, parts_named, people_and_firms
    from rag.types import Chunk, DocMeta, Hit

    text = "Revenue was $4.2 billion, up 12%. Filtration grew faster than the rest."
    meta = DocMeta(doc_id="D", source="d.txt", company="Service Rockets International")
    chunk = Chunk(id="c", doc_id="D", section="qa", speakers=(), text=text, embed_text=text, start=0, end=len(text),
                  meta=meta, question="How did the segments do?")
    hits = [Hit(chunk, 0, 1.0)]
    known = people_and_firms(hits)
    revenue = next(c for c in candidates(hits) if not c.pair and c.sentence.text.startswith("Revenue"))
    context = set(revenue.tokens)
    parts = parts_named("What revenue did the Filtration business bring in?", set())
    assert part_missing(parts, context, known)
    assert not part_missing(parts, context | set(tokenize("Filtration grew")), known)
    assert parts_named("What was SRI's revenue?", set()) == (tuple(tokenize("SRI")),)
    assert not part_missing(parts_named("What was SRI's revenue?", set()), context, known)  # the company's initials


def test_the_answerability_model_sees_a_part_no_sentence_near_the_answer_names() -> None:
    """The case feature: "North America" asked, the best sentence states the company's revenue. It is
    missing unless the analyst's question the passage answers names it; a speaker whose initials are
    N.A. does not make it a known name."""
    from rag.types import Chunk, DocMeta, Hit, Speaker

    text = "Revenue was $4.2 billion, up 12%. Margins were steady."
    meta = DocMeta(doc_id="D", source="d.txt", company="Acme")
    col = CASE_FEATURES.index("part_missing")
    q = question_of("What was Acme's North America revenue?", None, lambda t: 1.0, {"acme"})
    for asked, missing in (("How did the year go?", 1.0), ("How did North America do?", 0.0)):
        chunk = Chunk(id="c", doc_id="D", section="qa", speakers=(Speaker("Nick Adams", "executive"),), text=text,
                      embed_text=text, start=0, end=len(text), meta=meta, question=asked)
        hits = [Hit(chunk, 0, 1.0)]
        cands = candidates(hits)
        x = matrix(q, cands, lambda h: None)
        p = np.array([1.0 if (not c.pair and c.sentence.text.startswith("Revenue")) else 0.1 for c in cands])
        assert case_features(q, hits, cands, x, p)[col] == missing


def test_a_year_asked_is_met_by_the_whole_year_not_by_one_of_its_quarters() -> None:
    """"What full-year 2021 EBITDA range did Acme project?" is met by "Full year adjusted EBITDA is
    projected to be between ..." (no year written) and not by "EBITDA was $139 million in the third
    quarter of 2021"; a half year asked is no whole year."""
    from rag.types import Chunk, Hit

    def same(question: str, sentence: str) -> bool:
        q = question_of(question, None, lambda t: 1.0, {"acme"})
        hit = Hit(chunk=Chunk(id="c0", doc_id="d", section="prepared", speakers=(), text=sentence,
                              embed_text=sentence, start=0, end=len(sentence)), row=0, score=1.0)
        c = next(c for c in candidates([hit]) if not c.pair)
        return bool(matrix(q, [c], lambda h: None)[0, FEATURES.index("period_same")])

    asked = "What full-year 2021 adjusted EBITDA range did Acme project?"
    assert same(asked, "Full year adjusted EBITDA is projected to be between $424 and $430 million.")
    assert same(asked, "For 2021, adjusted EBITDA will be $430 million.")
    assert not same(asked, "Adjusted EBITDA was $139 million in the third quarter of 2021.")
    assert not same(asked, "Full year 2020 adjusted EBITDA was $300 million.")
    assert not same("What was Acme's gross margin in the first half of 2024?",
                    "Full year gross margin is expected at 84%.")
    assert not same("What was Acme's YTD 2021 revenue?", "Full year revenue is expected at $9 billion.")
    # "the year-ago quarter" is no whole year
    assert not same("What was Acme's 2021 revenue?", "Fourth-quarter revenue was $6.1 billion, up from $5.2 billion "
                    "in the year-ago quarter.")
    assert same("What was Acme's gross margin in Q3 2021?", "Gross margin was 40% in the third quarter.")
