"""Questions about who spoke on a call: which analyst asked about something, who holds an office."""

from __future__ import annotations

import pytest

from rag.answer import Assistant
from rag.embed import FakeEmbedder
from rag.lexical import tokenize
from rag.people import asked_office, asks_who_asked, topic
from tests.conftest import fake_index


@pytest.mark.parametrize("question, who_asked, office", [
    ("Who asked about Azure capacity on Microsoft's Q2 FY26 call?", True, False),
    ("Which analysts raised questions about pricing?", True, False),
    ("哪位分析师问了关于Azure产能的问题？", True, False),
    ("谁提问了毛利率？", True, False),
    ("Who is Microsoft's CFO?", False, True),
    ("Who's the CEO of Snowflake?", False, True),
    ("微软的首席财务官是谁？", False, True),
    # What an officer said is asked about what was said, not about who they are.
    ("What did Microsoft's CFO say about capex?", False, False),
    ("Who did the CFO say would benefit?", False, False),
    ("What was revenue in Q3 2025?", False, False),
    # Words that only look like it: estimates, pressure, a unit that set a target, a vice president,
    # a customer's name.
    ("What analyst estimates did Acme beat?", False, False),
    ("Who is pressuring Acme's pricing?", False, False),
    ("哪个业务部门提出了新的增长目标？", False, False),
    ("副总裁是谁？", False, False),
    ("What is the name of the data-center customer the CEO of Acme announced?", False, False),
])
def test_questions_about_who_spoke_are_told_apart(question: str, who_asked: bool, office: bool) -> None:
    assert asks_who_asked(question) is who_asked
    assert (asked_office(question) is not None) is office


def test_the_topic_of_a_who_asked_question_is_its_words_less_the_asking_the_company_and_the_period() -> None:
    about = topic("Who asked about Azure capacity on Microsoft's Q2 FY26 call?", {"microsoft"})
    assert about >= set(tokenize("Azure capacity"))
    assert not about & set(tokenize("Microsoft asked who call Q2 FY26"))
    # A glossary term brings its other language's phrasings.
    assert "毛利率" in topic("Which analyst asked about gross margin?", set())
    # Chinese: the call and the asking words go, the words asked about stay (线上 keeps its 上).
    assert topic("在微软电话会上，哪位分析师问了线上业务？", {"微软"}) >= {"线上", "业务"}
    assert not topic("在微软电话会上，哪位分析师问了线上业务？", {"微软"}) & {"上", "在", "电话会", "分析师"}


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    from rag.store import load_index

    index = fake_index(tmp_path_factory.mktemp("people"), ("ACME_FY24Q2_en.txt", "GLBX_FY23Q3_en.txt"))
    return Assistant(load_index(index), FakeEmbedder())


def test_who_asked_names_the_analyst_and_quotes_the_question(assistant: Assistant) -> None:
    r = assistant.ask("Who asked about margins on Acme's call?")
    assert not r.abstained and r.verified
    assert "Sam Lee (Big Bank) asked" in r.answer
    assert r.citations[0].quote == "How should we think about margins for the rest of the year?"
    assert r.citations[0].doc_id == "ACME_FY24Q2_en"


def test_who_holds_an_office_names_the_speaker_titled_so(assistant: Assistant) -> None:
    r = assistant.ask("Who is Acme's CFO?")
    assert not r.abstained and "Jane Roe (Chief Financial Officer)" in r.answer
    assert r.citations[0].doc_id == "ACME_FY24Q2_en"


def test_nobody_asked_is_said_so_not_guessed(assistant: Assistant) -> None:
    r = assistant.ask("Who asked about tariffs on Acme's call?")
    assert r.abstained and not r.citations and "no analyst" in r.answer
    r = assistant.ask("Who is Acme's chief technology officer?")
    assert r.abstained and not r.citations


def test_an_officer_is_never_quoted_in_another_speakers_words(assistant: Assistant) -> None:
    # Acme's CEO speaks only in exchanges an analyst opens, and no sentence names him: the passage is
    # cited for the transcript's label of him, with no quote put in his mouth.
    r = assistant.ask("Who is Acme's CEO?")
    assert not r.abstained and r.answer.endswith("John Doe (Chief Executive Officer) speaks on this call [1]")
    assert r.citations[0].speaker == "John Doe" and r.citations[0].quote == r.citations[0].text


def test_the_quoted_analyst_is_the_citations_speaker(assistant: Assistant) -> None:
    r = assistant.ask("Who asked about margins on Acme's call?")
    assert r.citations[0].speaker == "Sam Lee"
