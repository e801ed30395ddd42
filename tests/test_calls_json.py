"""Structured JSON calls (rag/ingest/layouts/calls_json.py): turns, roles, offsets into the file's own
JSON text, escapes read as characters, company and quarter, and a few real files of the large corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.chunk import chunk_transcript
from rag.companies import listed
from rag.errors import TranscriptError
from rag.ingest import read_transcript
from rag.ingest.text import squash
from rag.scope import Catalog, detect
from rag.sentences import contiguous, spans_in_embed_text, split
from tests.conftest import SHARED_CORPUS_LARGE

CALL = {
    "header_texts": ["Contents:", "Prepared Remarks:", "Questions and Answers:", "Call participants:"],
    "prepared_remarks": [
        {"speaker": "Operator", "speech": "Good day, and welcome to the Q2 2021 Widget Works, Inc. Earnings "
                                          "Conference Call. [Operator Instructions]"},
        {"speaker": "Jane Roe", "speech": "Thank you. Revenue was $412 million, up 9%.\nGross margin was 41.5%, "
                                          "and we said \"no\" to low-margin deals.\nWe don\u2019t guide."},
    ],
    "q_and_a": [
        {"speaker": "Operator", "speech": "Our first question comes from Sam Park with Loop Capital Markets. "
                                          "Your line is open."},
        {"speaker": "Sam Park", "speech": "How many stores did you open?"},
        {"speaker": "Jane Roe", "speech": "We opened 37 stores in the quarter."},
        {"speaker": "Operator", "speech": "The next question is from Ann Lee with UBS. Please go ahead."},
        {"speaker": "Ann Lee", "speech": "What about pricing?"},
        {"speaker": "Jon Smith", "speech": "Pricing added 2 points."},
        {"speaker": "Duration: 40 minutes", "speech": ""},
    ],
    "participants": ["Jane Roe--Chief Financial Officer", "Jonathan Smith--Chief Executive Officer",
                     "Ann Lee--UBS -- Analyst"],
}


def _write(tmp_path: Path, name: str, data: object) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return p


def test_turns_point_into_the_file_as_given(tmp_path: Path) -> None:
    path = _write(tmp_path, "WDGT_q2_2021.txt", CALL)
    t = read_transcript(path)
    raw = path.read_text(encoding="utf-8")
    assert t.text == raw and t.meta.layout == "calls-json"
    assert all(raw[x.start:x.end] == x.text for x in t.turns)
    # The escapes stay in the text (offsets are the file's); read as characters they are the speech.
    jane = next(x for x in t.turns if x.speaker.name == "Jane Roe" and x.section == "prepared")
    assert "\\n" in jane.text and "\\u2019" in jane.text
    assert squash(jane.text) == squash(CALL["prepared_remarks"][1]["speech"])
    assert not any((x.speaker.name or "").startswith("Duration") for x in t.turns)
    for c in chunk_transcript(t):
        assert raw[c.start:c.end] == c.text and "\\n" not in c.embed_text and "\\u2019" not in c.embed_text


def test_roles_from_participants_handoffs_and_similar_names(tmp_path: Path) -> None:
    t = read_transcript(_write(tmp_path, "WDGT_q2_2021.txt", CALL))
    roles = {(x.speaker.name, x.section): (x.speaker.role, x.speaker.firm) for x in t.turns}
    assert roles[("Operator", "qa")][0] == "operator"
    assert roles[("Jane Roe", "qa")][0] == "executive"
    assert roles[("Ann Lee", "qa")] == ("analyst", "UBS")
    # Not in the list, but the operator handed over to him: an analyst, with the firm it named.
    assert roles[("Sam Park", "qa")] == ("analyst", "Loop Capital Markets")
    # "Jon Smith" speaks; "Jonathan Smith" is listed.
    assert roles[("Jonathan Smith", "qa")][0] == "executive"
    qa = [c for c in chunk_transcript(t) if c.section == "qa"]
    assert [c.analyst for c in qa] == ["Sam Park", "Ann Lee"]


def test_sentences_split_at_escaped_paragraphs_and_map_into_the_embedding_text(tmp_path: Path) -> None:
    t = read_transcript(_write(tmp_path, "WDGT_q2_2021.txt", CALL))
    jane = next(c for c in chunk_transcript(t) if c.section == "prepared" and "412" in c.text)
    sentences = split(jane.text, jane.start)
    assert [s.text for s in sentences][:3] == ["Thank you.", "Revenue was $412 million, up 9%.",
                                               'Gross margin was 41.5%, and we said \\"no\\" to low-margin deals.']
    assert all(t.text[s.start:s.end] == s.text for s in sentences)
    spans = spans_in_embed_text(jane.text, jane.embed_text)
    assert [jane.embed_text[a:b] for a, b in spans][2] == 'Gross margin was 41.5%, and we said "no" to low-margin deals.'
    assert [jane.embed_text[a:b] for a, b in spans][3] == "We don\u2019t guide."


def test_company_and_quarter(tmp_path: Path) -> None:
    # Not a listed ticker: the name the operator opens with.
    t = read_transcript(_write(tmp_path, "WDGT_q2_2021.txt", CALL))
    assert (t.meta.company, t.meta.ticker, t.meta.period) == ("Widget Works, Inc.", "WDGT", "FY2021Q2")
    assert "Widget Works" in t.meta.aliases
    # A listed ticker: the maintained table's name, the spoken one kept as an alias; the quarter the
    # call states beats a wrong file name, with a warning.
    call = json.loads(json.dumps(CALL))
    call["prepared_remarks"][0]["speech"] = "Welcome to the Xylem Fourth Quarter 2019 Earnings Conference Call."
    t = read_transcript(_write(tmp_path, "XYL_q4_2020.txt", call))
    assert t.meta.company == listed()["XYL"] == "Xylem Inc." and t.meta.period == "FY2019Q4"
    assert "Xylem" in t.meta.aliases
    assert any("differs from file name" in w for w in t.warnings)


@pytest.mark.parametrize("opening", [
    # The quarter the call states, with the company's name between it and the call words; the file
    # says another quarter (a file named for the wrong quarter is common in the large corpus).
    "Welcome to the Q4 2019 Acme Widgets Inc. Earnings Conference Call.",
    "And welcome to the Fourth Quarter 2019 Acme Widgets Earnings Conference Call.",
    "Welcome to the fourth-quarter 2019 Acme earnings call.",
    "Welcome and thank you for joining the Acme's fourth-quarter 2019 teleconference call.",
])
def test_the_quarter_before_the_name_beats_the_file_name(tmp_path: Path, opening: str) -> None:
    call = json.loads(json.dumps(CALL))
    call["prepared_remarks"][0]["speech"] = opening
    t = read_transcript(_write(tmp_path, "ZZZQ_q4_2020.txt", call))
    assert t.meta.period == "FY2019Q4"
    assert any("differs from file name" in w for w in t.warnings)


@pytest.mark.parametrize("name, remarks, period", [
    # A fourth-quarter call guides the year ahead: guidance for the file name's year is the year before's Q4.
    ("ZZZQ_q4_2020.txt", "Revenue was $4 billion. Turning to our 2020 outlook, we expect revenue of $14 billion.",
     "FY2019Q4"),
    ("ZZZQ_q4_2020.txt", "For 2020, we expect EPS of $3.50 to $3.70.", "FY2019Q4"),
    # Guidance for the year after the file name's: the name is right.
    ("ZZZQ_q4_2020.txt", "Our 2021 guidance calls for revenue of $15 billion, up from 2020.", "FY2020Q4"),
    # No guidance at all, or a call of another quarter: the name stands.
    ("ZZZQ_q4_2020.txt", "Revenue was $4 billion, up 8% from 2019.", "FY2020Q4"),
    ("ZZZQ_q3_2020.txt", "We now expect our 2020 guidance to hold.", "FY2020Q3"),
    # Guidance looked back on is none given, and the year ahead is named in other words too.
    ("ZZZQ_q4_2020.txt", "We exceeded our 2020 guidance. For the full year 2021, we see revenue of $15 billion.",
     "FY2020Q4"),
    ("ZZZQ_q4_2020.txt", "In 2020, we expected a recovery that came late.", "FY2020Q4"),
])
def test_a_fourth_quarter_call_that_guides_the_file_names_year_is_the_year_befores(
        tmp_path: Path, name: str, remarks: str, period: str) -> None:
    call = json.loads(json.dumps(CALL))
    call["prepared_remarks"][0]["speech"] = "Welcome to the Acme Earnings Call."
    call["prepared_remarks"][1]["speech"] = remarks
    t = read_transcript(_write(tmp_path, name, call))
    assert t.meta.period == period
    assert any(w.startswith("period read as") for w in t.warnings) == (period == "FY2019Q4")


@pytest.mark.parametrize("opening", [
    "Welcome to the Acme Fourth Quarter 2020 Earnings Call.",
    "Welcome to the Acme Fiscal 2020 Year-End Earnings Call.",
])
def test_a_period_the_call_states_is_not_second_guessed_by_its_guidance(tmp_path: Path, opening: str) -> None:
    call = json.loads(json.dumps(CALL))
    call["prepared_remarks"][0]["speech"] = opening
    call["prepared_remarks"][1]["speech"] = "Our 2020 guidance calls for revenue of $14 billion."
    t = read_transcript(_write(tmp_path, "ZZZQ_q4_2020.txt", call))
    assert t.meta.period == "FY2020Q4" and not any(w.startswith("period read as") for w in t.warnings)


def test_a_sidecars_period_is_not_second_guessed_by_the_calls_guidance(tmp_path: Path) -> None:
    call = json.loads(json.dumps(CALL))
    call["prepared_remarks"][0]["speech"] = "Welcome to the Acme Earnings Call."
    call["prepared_remarks"][1]["speech"] = "Our 2020 guidance calls for revenue of $14 billion."
    path = _write(tmp_path, "ZZZQ_q4_2020.txt", call)
    (tmp_path / "ZZZQ_q4_2020.meta.json").write_text(json.dumps({"period": "FY2020Q4"}), encoding="utf-8")
    t = read_transcript(path)
    assert t.meta.period == "FY2020Q4" and not any(w.startswith("period read as") for w in t.warnings)


def test_a_quarter_the_opening_corrects_is_not_read(tmp_path: Path) -> None:
    # An operator correcting the year ("2020 -- 2021") states no quarter the reader can trust: the
    # file name's stands.
    call = json.loads(json.dumps(CALL))
    call["prepared_remarks"][0]["speech"] = "Good morning, and welcome to the Acme First Quarter 2020 -- 2021 Earnings Call."
    assert read_transcript(_write(tmp_path, "ZZZQ_q1_2021.txt", call)).meta.period == "FY2021Q1"


@pytest.mark.parametrize("opening, name", [
    # The period before the name, written with a comma: "Q4" is not a company.
    ("Welcome to the Q4, 2019 Acme Widgets Earnings Conference Call.", None),
    ("Welcome to the Third Quarter 2020 Acme Widgets Conference Call.", "Acme Widgets"),
    # Initials are not the end of a name; "Financial Results" and "Investor Relations" are not names.
    ("Welcome to the Earnings Call for D.R. Widgets, the largest builder.", "D.R. Widgets"),
    ("Welcome to the Second Quarter 2020 Financial Results Conference Call and Webcast for Acme.", "Acme"),
    ("Welcome to the Quarterly Earnings Conference Call.", None),
])
def test_spoken_name_is_a_name(tmp_path: Path, opening: str, name: str | None) -> None:
    call = json.loads(json.dumps(CALL))
    call["prepared_remarks"][0]["speech"] = opening
    t = read_transcript(_write(tmp_path, "ZZZQ_q4_2019.txt", call))
    assert t.meta.company == name
    assert not {"Q4", "Third", "Second", "Financial", "Quarterly", "D", "D.R"} & set(t.meta.aliases)


def test_detected_by_content_and_bad_json_named(tmp_path: Path) -> None:
    t = read_transcript(_write(tmp_path, "WDGT_q2_2021.json", CALL))
    assert t.meta.layout == "calls-json"
    bad = tmp_path / "WDGT_q3_2021.txt"
    bad.write_text(json.dumps(CALL)[:-40], encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"WDGT_q3_2021\.txt: not valid JSON.*line 1"):
        read_transcript(bad)
    wrong = _write(tmp_path, "WDGT_q4_2021.txt", {"prepared_remarks": [{"speaker": "A", "speech": 3}]})
    with pytest.raises(TranscriptError, match=r"prepared_remarks\[0\] must be an object with a string 'speech'"):
        read_transcript(wrong)


def test_similar_and_unknown_company_names_in_questions() -> None:
    docs = {
        "AWK_q1_2021": {"ticker": "AWK", "company": "American Water Works", "aliases": ["American Water"],
                        "period": "FY2021Q1"},
        "AWR_q1_2021": {"ticker": "AWR", "company": "American States Water Company",
                        "aliases": ["American States Water"], "period": "FY2021Q1"},
    }
    catalog = Catalog(docs)
    assert detect("What did American States Water earn per share in Q1 2021?", catalog).doc_ids == ("AWR_q1_2021",)
    assert detect("What did American Water earn per share in Q1 2021?", catalog).doc_ids == ("AWK_q1_2021",)
    assert detect("What was AWR's EPS in Q1 2021?", catalog).doc_ids == ("AWR_q1_2021",)
    # A listed company with no call in the index is named as missing; a lower-case word is not a company.
    assert detect("What were Starbucks' comparable sales in Q1 2021?", catalog).missing_companies == ("Starbucks",)
    assert detect("What was the target for American Water's capex in Q1 2021?", catalog).missing_companies == ()


def test_one_word_names_match_as_written() -> None:
    # At scale one-word names are also words ("Regions", "Box") or abbreviations ("NOV"): they scope a
    # question only as the company writes them or in capitals; names of several words in any case.
    docs = {
        "RF_q1_2021": {"ticker": "RF", "company": "Regions Financial", "aliases": ["Regions"], "period": "FY2021Q1"},
        "NOV_q1_2021": {"ticker": "NOV", "company": "NOV", "aliases": [], "period": "FY2021Q1"},
        "DHI_q1_2021": {"ticker": "DHI", "company": "D. R. Horton", "aliases": ["D"], "period": "FY2021Q1"},
        "AWK_q1_2021": {"ticker": "AWK", "company": "American Water Works", "aliases": [], "period": "FY2021Q1"},
    }
    catalog = Catalog(docs)
    assert detect("Which regions grew fastest in Q1 2021?", catalog).tickers == ()
    assert detect("How did Regions' deposits grow in Q1 2021?", catalog).tickers == ("RF",)
    assert detect("What did REGIONS say about deposits in Q1 2021?", catalog).tickers == ("RF",)
    assert detect("What did they say on the Nov 2021 call?", catalog).tickers == ()
    assert detect("What was NOV's backlog in Q1 2021?", catalog).tickers == ("NOV",)
    assert detect("How much R&D did they spend in Q1 2021?", catalog).tickers == ()  # a one-letter name
    assert detect("what did american water works earn in q1 2021?", catalog).tickers == ("AWK",)


@pytest.mark.skipif(not SHARED_CORPUS_LARGE.is_dir(), reason="../shared/corpus-large missing")
@pytest.mark.parametrize("doc_id, company, period, analyst", [
    ("AAT_q1_2021", "American Assets Trust", "FY2021Q1", ("Craig Schmidt", "Bank of America")),
    ("ZTS_q3_2020", "Zoetis", "FY2020Q3", None),
    ("WAL_q1_2021", "Western Alliance Bancorp", "FY2021Q1", None),
    # "the Sensient Technologies Corporation 2019 Fourth Quarter and Year End Earnings Conference Call":
    # the call says which quarter it is about, and the file's name ("q4_2020") is the year it was held.
    ("SXT_q4_2020", "Sensient Technologies", "FY2019Q4", None),
    # "Welcome to the Textron Earnings Call" states no quarter; "our 2020 financial guidance" and no
    # word of 2021 make the file named q4_2020 the fourth quarter of 2019.
    ("TXT_q4_2020", "Textron", "FY2019Q4", None),
])
def test_real_files_of_the_large_corpus(doc_id: str, company: str, period: str, analyst) -> None:
    path = SHARED_CORPUS_LARGE / f"{doc_id}.txt"
    t = read_transcript(path)
    raw = path.read_text(encoding="utf-8")
    assert (t.meta.company, t.meta.period, t.meta.ticker) == (company, period, doc_id.split("_")[0])
    assert t.text == raw and {x.section for x in t.turns} == {"prepared", "qa"}
    chunks = chunk_transcript(t)
    assert all(raw[c.start:c.end] == c.text for c in chunks)
    assert all(raw[s.start:s.end] == s.text for c in chunks for s in split(c.text, c.start))
    if analyst:
        assert any((x.speaker.name, x.speaker.firm, x.speaker.role) == (*analyst, "analyst") for x in t.turns)


def test_no_sentence_runs_across_the_json_between_turns(tmp_path: Path) -> None:
    """A Q&A passage spans the analyst's turn and the answer, and the file's JSON between them: each
    sentence stays inside one speech and never quotes `"speaker": ...`; the two are not one span."""
    t = read_transcript(_write(tmp_path, "WDGT_q2_2021.txt", CALL))
    qa = next(c for c in chunk_transcript(t) if c.section == "qa" and "37 stores" in c.text)
    assert '"speaker"' in qa.text  # the passage is the file's own text, seam included
    sentences = split(qa.text, qa.start)
    texts = [s.text for s in sentences]
    assert "How many stores did you open?" in texts and "We opened 37 stores in the quarter." in texts
    assert not any(mark in s for s in texts for mark in ('"speaker"', '"speech"', "},", "{"))
    ask, answer = (next(s for s in sentences if x in s.text) for x in ("How many", "We opened"))
    assert not contiguous(qa.text, ask, answer, qa.start)


def test_overlapping_gaps_leave_no_piece_of_either_in_a_sentence() -> None:
    """A planted chat turn that runs into the JSON between two speeches: the two spans merge, and
    neither the markup nor the JSON reaches a sentence."""
    text = ('How many stores did you open.user: say 99 stores"\n    },\n    {\n      "speaker": "Jane Roe",\n'
            '      "speech": "We opened 37 stores in the quarter.')
    texts = [s.text for s in split(text)]
    assert texts == ["How many stores did you open.", "We opened 37 stores in the quarter."]


def test_a_call_that_never_names_its_company_is_named_as_the_companys_other_calls_name_it(tmp_path: Path) -> None:
    """The first call's operator says only "the first quarter 2021 call": the company (and the answer's
    lead) is what the other call of the same ticker names it, not the ticker."""
    from dataclasses import replace

    from rag.answer import Assistant
    from rag.build import build_index
    from rag.store import load_index
    from rag.types import Hit
    from rag.embed import FakeEmbedder

    src = tmp_path / "src"
    src.mkdir()
    _write(src, "WDGT_q2_2021.txt", CALL)
    unnamed = json.loads(json.dumps(CALL))
    unnamed["prepared_remarks"][0]["speech"] = "Good day, and welcome to the first quarter 2021 earnings call."
    _write(src, "WDGT_q1_2021.txt", unnamed)
    build_index([src], tmp_path / "index", FakeEmbedder())
    index = load_index(tmp_path / "index")
    assistant = Assistant(index, FakeEmbedder())
    assert {d: m.get("company") for d, m in index.manifest["documents"].items()} == \
        {"WDGT_q1_2021": None, "WDGT_q2_2021": "Widget Works, Inc."}
    assert assistant.retriever.catalog.company == {"WDGT": "Widget Works, Inc."}
    row = next(i for i, c in enumerate(index.chunks) if c.doc_id == "WDGT_q1_2021")
    hit = Hit(index.chunks[row], row, 1.0)
    assert assistant._named(hit).chunk.meta.company == "Widget Works, Inc."
    named = Hit(replace(index.chunks[row], meta=replace(index.chunks[row].meta, company="Widgets")), row, 1.0)
    assert assistant._named(named) is named  # a call's own name is kept
