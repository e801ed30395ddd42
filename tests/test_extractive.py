"""Sentence choice of the extractive answerer on hand-written passages: which statement of a
figure answers, and when none does."""

from __future__ import annotations

import math
from collections import Counter

from rag.cues import (
    asks_about_past, expected_kinds, leads_with_guidance, other_quarters, other_years, proper_names,
    speaks_of_a_year_only,
)
from rag.extractive import Extractive
from rag.lexical import tokenize
from rag.numbers import extract
from rag.types import Chunk, DocMeta, Hit, Speaker

_META = DocMeta(doc_id="ZZ_FY2022Q3_en", source="x.txt", company="Zed", ticker="ZZ", period="FY2022Q3")
_CFO = Speaker("Ann Lee", "executive", "Chief Financial Officer")
_ANALYST = Speaker("Bob Stone", "analyst", "Analyst", "Big Bank")


def _hits(*passages: tuple[str, str] | tuple[str, str, str]) -> list[Hit]:
    """Hits in rank order from (section, text[, analyst question]) passages, laid end to end."""
    hits, start = [], 0
    for i, p in enumerate(passages):
        section, text = p[0], p[1]
        question = p[2] if len(p) > 2 else None
        speakers = (_ANALYST, _CFO) if section == "qa" else (_CFO,)
        body = f"{question} {text}" if question else text
        chunk = Chunk(id=f"c{i}", doc_id=_META.doc_id, section=section, speakers=speakers, text=body,
                      embed_text=body, start=start, end=start + len(body), question=question, meta=_META)
        hits.append(Hit(chunk=chunk, row=i, score=1.0 - 0.01 * i))
        start += len(body) + 1
    return hits


# Other statements of a call, so that common words ("revenue", "year") weigh less than names, as
# in a real index.
_CALL = ["Revenue was a record.", "Revenue grew this year.", "Operating expenses rose year over year.",
         "We grew revenue in every region.", "Cash flow was strong this year."]


def _extractive(hits: list[Hit]) -> Extractive:
    """IDF over the passages' sentences and the rest of the call (a small stand-in for the index's)."""
    docs = [set(tokenize(s)) for h in hits for s in h.chunk.text.split(".")] + [set(tokenize(s)) for s in _CALL]
    df = Counter(t for d in docs for t in d)
    return Extractive(lambda t: math.log(1 + (len(docs) + 1) / (df[t] + 0.5)), df.__getitem__)


def _answer(question: str, hits: list[Hit], **kw) -> str | None:
    picks = _extractive(hits).pick(question, hits, skip={"zed"}, **kw)
    return picks[0].sentence.text if picks else None


def test_the_figure_right_after_the_subject_answers() -> None:
    hits = _hits(("prepared", "IMT revenue was $457 million, down 5% year-over-year, driven by Premier Agent and "
                              "rentals. Premier Agent revenue decreased 13% year-over-year."))
    assert _answer("How did Zed's Premier Agent revenue change year over year?", hits) == \
        "Premier Agent revenue decreased 13% year-over-year."


def test_a_quarter_question_is_not_answered_by_the_full_year() -> None:
    hits = _hits(("prepared", "In FY '22 product revenue grew 30% to $3.5 billion. Product revenue for Q3 was "
                              "$943 million, up 28% year over year."))
    assert "$943 million" in _answer("What was Zed's product revenue in Q3 fiscal 2022?", hits)


def test_a_full_year_paragraph_gives_full_year_figures() -> None:
    hits = _hits(
        ("prepared", "Net income was $7.0 million in the quarter."),
        ("prepared", "For the full fiscal year 2022, net revenues were $2.3 billion. Net income was $149.5 million."),
    )
    assert "$149.5 million" in _answer("What was Zed's net income for the full fiscal year 2022?", hits)


def test_a_past_year_is_not_answered_by_next_year_guidance() -> None:
    hits = _hits(("prepared", "We expect organic revenue growth of approximately 7% to 8% versus 2022."))
    assert _answer("What was Zed's organic revenue growth for the full year 2022?", hits) is None
    # ...while a question about guidance is.
    assert "7% to 8%" in _answer("What organic revenue growth does Zed expect?", hits)


def test_a_result_measured_against_guidance_is_a_result() -> None:
    hits = _hits(("prepared", "Total revenue in the quarter was $548.4 million, up 20% and above the high end of "
                              "our guidance."))
    assert "$548.4 million" in _answer("What was Zed's total revenue in Q3 2022?", hits)


def test_the_measure_asked_for_must_be_in_the_sentence() -> None:
    hits = _hits(("prepared", "Atlas revenue grew 24% year over year. Operating expenses rose. Gross profit was "
                              "$411.7 million, a gross margin of 75%."))
    # The company's gross margin is not Atlas's.
    assert _answer("What gross margin did Zed's Atlas business earn?", hits) is None
    assert "75%" in _answer("What gross margin did Zed earn?", hits)


def test_an_answer_borrows_the_analysts_measure() -> None:
    hits = _hits(("qa", "It's roughly 13%. Again, it moves around.",
                  "What portion of cash operating expenses is energy?"))
    assert _answer("Roughly what portion of Zed's cash operating expenses was energy?", hits) == "It's roughly 13%."


def test_a_named_analysts_words_can_be_the_answer() -> None:
    question = "Bob, is capex on track to grow over 50% this year?"
    hits = _hits(("qa", "We are comfortable with that.", question))
    assert _answer("How much capex growth did Bob Stone say Zed was on track for?", hits) == question


def test_a_follow_up_names_a_new_subject() -> None:
    hits = _hits(("prepared", "Premier Agent revenue decreased 13% year-over-year. Rentals revenue was up 10% "
                              "year-over-year."))
    picked = _answer("How did Zed's Premier Agent revenue change in Q3 2022? What about rentals?", hits,
                     emphasis="What about rentals?")
    assert picked == "Rentals revenue was up 10% year-over-year."
    # A pronoun keeps the earlier subject: "is it" still asks about Premier Agent.
    picked = _answer("How did Zed's Premier Agent revenue change in Q3 2022? And is it still falling?", hits,
                     emphasis="And is it still falling?")
    assert picked == "Premier Agent revenue decreased 13% year-over-year."


def test_comparison_bases_are_not_the_period_spoken_of() -> None:
    assert not other_years({2022}, "We expect EPS growth of 8% to 10% versus 2021.")
    assert other_years({2022}, "EPS grew 19% in 2021.")
    assert not other_quarters({1}, "We ended the quarter with 130 million, up 11 million from Q4.")
    assert other_quarters({1}, "In Q4 we added 11 million.")


def test_period_cues() -> None:
    assert speaks_of_a_year_only("In FY '25 product revenue grew 30%.")
    assert not speaks_of_a_year_only("Q4 fiscal 2025 revenue grew 28%.")
    assert asks_about_past("What was revenue in 2021?", {2021}, "FY2021Q4")
    assert not asks_about_past("What revenue does Zed expect for 2021?", {2021}, "FY2021Q4")
    assert not asks_about_past("What was revenue in 2022?", {2022}, "FY2021Q4")
    sentence = "We expect organic revenue growth of approximately 7%."
    assert leads_with_guidance(sentence, extract(sentence)[0].start)
    sentence = "We added 3.9 GW, and we expect to double it by 2027."
    assert not leads_with_guidance(sentence, extract(sentence)[0].start)


def test_wanted_kinds_of_number() -> None:
    assert expected_kinds("How much free cash flow did Zed generate in 2021?")[0] == {"money"}
    assert expected_kinds("How did Premier Agent revenue change year over year?")[1] == {"percent"}
    strong, weak = expected_kinds("What was product revenue, and how fast did it grow?")
    assert weak == {"money", "percent"}
    assert "iphon" in proper_names("What was Apple's iPhone revenue?")
