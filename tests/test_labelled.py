"""Calls laid out by speaker labels in plain text (rag.ingest.layouts.labelled): tiny hand-written
calls in the usual shapes (names on their own lines with participant lists, "Name: text", markdown,
capitals, HTML), text that only looks labelled, the call's company and quarter from a title line or
its opening words, and real calls of the large corpus rendered into these shapes."""

from __future__ import annotations

import json
import re
import random
from pathlib import Path

import pytest

from rag.ingest import read_transcript
from rag.ingest.opening import from_title_line
from rag.ingest.text import unescape
from tests.conftest import SHARED_CORPUS_LARGE

OPENING = ("Good morning and welcome to the Initech First Quarter 2024 Earnings Conference Call. "
           "[Operator Instructions] I would now like to turn the call over to Jane Roe.")
TURNS = [
    ("Operator", OPENING),
    ("Jane Roe", "Thank you, operator. Revenue for the quarter was $512 million, up 8% year over year."),
    ("Bill Lumbergh", "Gross margin was 41.5%, and we expect full-year revenue of $2.1 billion to $2.2 billion."),
    ("Operator", "[Operator Instructions] Our first question comes from Sam Park with Morgan Stanley. Your line is open."),
    ("Sam Park", "Thanks. How should we think about the margin in the second half?"),
    ("Bill Lumbergh", "We expect it to stay above 40%, helped by pricing."),
    ("Sam Park", "And on hiring?"),
    ("Jane Roe", "Headcount ended the quarter at 4,200."),
    ("Operator", "The next question is from Ann Lee with UBS. Please go ahead."),
    ("Ann Lee", "What drove the 8% growth?"),
    ("Jane Roe", "Mostly volume; price added about 2 points."),
]
ROLES = ["operator", "executive", "executive", "operator", "analyst", "executive", "analyst", "executive",
         "operator", "analyst", "executive"]
SECTIONS = ["prepared"] * 3 + ["qa"] * 8


def _check(path: Path, names=True) -> None:
    t = read_transcript(path)
    assert t.meta.layout == "labelled"
    got = [(x.speaker.name, x.speaker.role, x.section, x.text) for x in t.turns if x.section != "summary"]
    assert [g[3] for g in got] == [said for _, said in TURNS]
    assert [g[1] for g in got] == ROLES
    assert [g[2] for g in got] == SECTIONS
    if names:
        assert [g[0] for g in got] == [who for who, _ in TURNS]
    for x in t.turns:  # offsets point into the text as read
        assert t.text[x.start:x.end] == x.text


def test_names_on_their_own_lines_with_participant_lists_and_a_qa_heading(tmp_path: Path) -> None:
    lines = ["Initech Corp (INTC) Q1 2024 Earnings Call Transcript", "Apr. 25, 2024 8:30 AM ET", "",
             "Company Participants", "", "Jane Roe - Chief Executive Officer", "Bill Lumbergh - Chief Financial Officer",
             "", "Conference Call Participants", "", "Sam Park - Morgan Stanley", "Ann Lee - UBS", ""]
    for k, (who, said) in enumerate(TURNS):
        if k == 3:
            lines += ["Question-and-Answer Session", ""]
        lines += [who, "", said, ""]
    path = tmp_path / "transcript.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    _check(path)
    t = read_transcript(path)
    assert (t.meta.company, t.meta.ticker, t.meta.period, t.meta.call_date) == ("Initech Corp", "INTC", "FY2024Q1", "2024-04-25")
    bill = next(x.speaker for x in t.turns if x.speaker.name == "Bill Lumbergh")
    assert bill.title == "Chief Financial Officer"
    sam = next(x.speaker for x in t.turns if x.speaker.name == "Sam Park")
    assert sam.firm == "Morgan Stanley"


def test_inline_labels_with_no_headings_read_the_qa_from_the_operator(tmp_path: Path) -> None:
    path = tmp_path / "call notes.txt"
    body = "\n\n".join(f"{who}: {said}" for who, said in TURNS)
    path.write_text("Initech Corp Q1 2024 Earnings Conference Call\n\n" + body + "\n", encoding="utf-8")
    _check(path)
    t = read_transcript(path)
    assert (t.meta.company, t.meta.period) == ("Initech Corp", "FY2024Q1")  # from the title, no ticker in it


@pytest.mark.parametrize("shape", ["markdown", "capitals", "html"])
def test_markdown_capitals_and_html(tmp_path: Path, shape: str) -> None:
    if shape == "markdown":
        text = "# Initech — Q1 2024 earnings call\n\n" + "\n\n".join(f"**{w}:** {s}" for w, s in TURNS)
        path = tmp_path / "earnings.md"
    elif shape == "capitals":
        text = "INITECH CORP Q1 2024 EARNINGS CALL\n\n" + "\n\n".join(f"{w.upper()}:\n{s}" for w, s in TURNS)
        path = tmp_path / "CALL.txt"
    else:
        text = "<html><body><h1>Initech Q1 2024 Earnings Call</h1>" + "".join(
            f"<p><strong>{w}</strong></p><p>{s}</p>" for w, s in TURNS) + "</body></html>"
        path = tmp_path / "page.html"
    path.write_text(text, encoding="utf-8")
    _check(path)
    assert read_transcript(path).meta.period == "FY2024Q1"


def test_company_and_quarter_from_the_opening_words_when_nothing_else_names_them(tmp_path: Path) -> None:
    path = tmp_path / "untitled.txt"
    path.write_text("\n\n".join(f"{w}: {s}" for w, s in TURNS), encoding="utf-8")
    t = read_transcript(path)
    assert (t.meta.company, t.meta.period) == ("Initech", "FY2024Q1")
    assert not any("no company or period" in w for w in t.warnings)


def test_someone_labelled_once_is_a_speaker_of_their_own(tmp_path: Path) -> None:
    turns = TURNS[:2] + [("Milton Waddams", "I was told there would be cake.")] + TURNS[2:]
    path = tmp_path / "t.txt"
    path.write_text("\n\n".join(f"{w}: {s}" for w, s in turns), encoding="utf-8")
    t = read_transcript(path)
    milton = [x for x in t.turns if x.speaker.name == "Milton Waddams"]
    assert [x.text for x in milton] == ["I was told there would be cake."]
    assert milton[0].speaker.role == "executive"  # spoke before the Q&A


@pytest.mark.parametrize("text", [
    # A press release: fields before colons, none of them a person.
    "\n\n".join(["Initech reports first quarter results.", "Revenue: $512 million, up 8%.",
                 "Net income: $40 million.", "Revenue: guidance raised.", "Note: figures are unaudited.",
                 "Note: see the appendix.", "Outlook: Revenue of $2.1 billion.", "Contact: Investor Relations."]),
    # Results highlights: fields twice over, the text writing them in lower case too.
    "\n".join(["Acme Corp Announces Fourth Quarter and Full Year 2023 Results", "", "Fourth Quarter Highlights",
               "Net Sales: $1.2 billion, up 5%", "Gross Margin: 40.1%, up 50 basis points",
               "Operating Income: $200 million, up 8%", "", "Full Year Highlights", "Net Sales: $4.8 billion, up 6%",
               "Gross Margin: 39.8%", "Operating Income: $800 million, up 7%", "",
               "Net sales rose on volume; gross margin and operating income both improved."]),
    "\n\n".join(["营业收入：51.2亿元，同比增长8%", "净利润：5.1亿元", "毛利率：41.5%", "营业收入：全年210亿元",
                  "净利润：全年20亿元", "毛利率：全年40.8%", "营业收入：指引上调"]),
    # Two people, too few turns to tell a layout by.
    "Jane Roe: Hello.\n\nSam Park: Hi.\n\nJane Roe: Revenue grew 8%.",
])
def test_text_that_only_looks_labelled_stays_paragraphs(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.txt"
    path.write_text(text, encoding="utf-8")
    t = read_transcript(path)
    assert t.meta.layout == "generic"
    assert "".join(x.text for x in t.turns).replace("\n", "") == text.replace("\n", "")


@pytest.mark.parametrize("line, expected", [
    ("Acme Corp Q1 2021 Earnings Conference Call", {"company": "Acme Corp", "period": "FY2021Q1"}),
    ("# Acme, Inc. — First Quarter 2021 Results", {"company": "Acme, Inc.", "period": "FY2021Q1"}),
    ("Q3 2022 Equinix Inc Earnings Call", {"company": "Equinix Inc", "period": "FY2022Q3"}),
    ("Initech FY26 Q2 Earnings Call", {"company": "Initech", "period": "FY2026Q2"}),
    ("Initech Fourth Quarter and Full Year 2021 Results", {"company": "Initech", "period": "FY2021Q4"}),
    ("ACME WIDGET CORP Q2 2023 EARNINGS CALL TRANSCRIPT", {"company": "Acme Widget Corp", "period": "FY2023Q2"}),
    ("Good morning everyone and welcome to the Q1 2021 earnings call", {}),
    ("Welcome to our fourth quarter 2021 earnings call.", {}),
    ("Our Q1 2021 results were strong", {}),
])
def test_a_title_line_names_company_and_quarter(line: str, expected: dict) -> None:
    assert from_title_line(line) == expected


def _render(call: dict) -> str:
    """A structured call of the large corpus written the way a transcript site lays it out."""
    out = ["Company Participants", ""]
    out += [p.replace("--", " - ", 1) for p in call["participants"] if "Analyst" not in p]
    out += ["", "Conference Call Participants", ""]
    out += [p.replace(" -- Analyst", "").replace("--", " - ", 1) for p in call["participants"] if "Analyst" in p]
    out += ["", ""]
    for section in ("prepared_remarks", "q_and_a"):
        if section == "q_and_a":
            out += ["Question-and-Answer Session", ""]
        for t in call[section]:
            out += [t["speaker"], ""] + [p for p in t["speech"].split("\n") if p] + [""]
    return "\n".join(out)


@pytest.mark.integration
@pytest.mark.skipif(not SHARED_CORPUS_LARGE.is_dir(), reason="../shared/corpus-large missing")
def test_real_calls_rendered_by_speaker_read_as_their_structured_copies(tmp_path: Path) -> None:
    files = sorted(SHARED_CORPUS_LARGE.glob("*.txt"))
    random.Random(7).shuffle(files)
    same = total = 0
    for src in files[:8]:
        ref = read_transcript(src)
        path = tmp_path / f"{src.stem}.txt"
        path.write_text(_render(json.loads(src.read_text(encoding="utf-8"))), encoding="utf-8")
        got = read_transcript(path)
        assert got.meta.layout == "labelled"
        mine = [(" ".join(t.text.split())[:80], t) for t in got.turns]
        at = 0
        for t in ref.turns:  # in order: "Thank you." is said many times
            total += 1
            key = " ".join(unescape(t.text).split())[:80]
            k = next((k for k in range(at, len(mine)) if mine[k][0] == key), None)
            if k is None:
                continue
            at, m = k + 1, mine[k][1]
            same += (m.speaker.role, m.section, (m.speaker.name or "").lower()) == \
                (t.speaker.role, t.section, (t.speaker.name or "").lower())
    assert same >= 0.95 * total, (same, total)


def test_question_and_answer_labels_and_titles_in_labels(tmp_path: Path) -> None:
    path = tmp_path / "qa.txt"
    turns = [("Jane Roe - Chief Executive Officer", "Revenue was $512 million, up 8%."),
             ("Bill Lumbergh - CFO", "Gross margin was 41.5%.")] * 2 + \
        [("Q", "What drove growth?"), ("A", "Volume, mostly."), ("Q", "And margins?"), ("A", "Pricing helped.")]
    path.write_text("\n\n".join(f"{w}: {s}" for w, s in turns), encoding="utf-8")
    t = read_transcript(path)
    got = [(x.speaker.name, x.speaker.role, x.speaker.title, x.section) for x in t.turns]
    assert got[:2] == [("Jane Roe", "executive", "Chief Executive Officer", "prepared"),
                       ("Bill Lumbergh", "executive", "CFO", "prepared")]
    assert got[4:] == [(None, "analyst", None, "qa"), (None, "executive", None, "qa")] * 2


def test_a_chinese_call_laid_out_by_speaker(tmp_path: Path) -> None:
    path = tmp_path / "纪要.txt"
    path.write_text("\n\n".join([
        "示例科技2024年第一季度业绩电话会",
        "主持人：欢迎参加示例科技2024年第一季度业绩电话会议。现在请首席执行官张伟发言。",
        "张伟（首席执行官）：谢谢。本季度营收为51.2亿元，同比增长8%。",
        "王芳（首席财务官）：毛利率为41.5%，我们预计全年营收在210亿元至220亿元之间。",
        "主持人：现在进入问答环节。第一个问题来自摩根士丹利的李明。",
        "李明：谢谢。下半年毛利率如何展望？", "王芳：我们预计将保持在40%以上。",
        "李明：招聘方面呢？", "张伟：季度末员工人数为4200人。"]), encoding="utf-8")
    t = read_transcript(path)
    assert (t.meta.layout, t.meta.company, t.meta.period, t.meta.language) == ("labelled", "示例科技", "FY2024Q1", "zh")
    got = [(x.speaker.name, x.speaker.role, x.section) for x in t.turns]
    assert got == [("主持人", "operator", "prepared"), ("张伟", "executive", "prepared"), ("王芳", "executive", "prepared"),
                   ("主持人", "operator", "qa"), ("李明", "analyst", "qa"), ("王芳", "executive", "qa"),
                   ("李明", "analyst", "qa"), ("张伟", "executive", "qa")]
    assert t.turns[4].speaker.firm == "摩根士丹利" and t.turns[2].speaker.title == "首席财务官"


@pytest.mark.parametrize("shape", ["stamp first", "stamp after", "stamp line"])
def test_recordings_with_time_stamps(tmp_path: Path, shape: str) -> None:
    rows = []
    for k, (who, said) in enumerate(TURNS):
        stamp = f"00:{k:02d}:15"
        rows.append({"stamp first": f"[{stamp}] {who}: {said}", "stamp after": f"{who}: ({stamp})\n{said}",
                     "stamp line": f"{who}  {k}:15\n{said}"}[shape])
    path = tmp_path / "recording.txt"
    path.write_text("\n\n".join(rows), encoding="utf-8")
    _check(path)


def test_numbered_speakers_of_an_automatic_transcription(tmp_path: Path) -> None:
    who = {"Operator": "Speaker 1", "Jane Roe": "Speaker 2", "Bill Lumbergh": "Speaker 3", "Sam Park": "Speaker 4",
           "Ann Lee": "Speaker 5"}
    path = tmp_path / "auto.txt"
    path.write_text("\n\n".join(f"{who[w]}: {s}" for w, s in TURNS), encoding="utf-8")
    t = read_transcript(path)
    assert t.meta.layout == "labelled"
    assert [x.text for x in t.turns] == [s for _, s in TURNS]
    assert [x.speaker.name for x in t.turns] == [who[w] for w, _ in TURNS]
    # Speaker 1 hands over to the questioners: the operator, read from what it says.
    assert [x.speaker.role for x in t.turns] == ROLES and [x.section for x in t.turns] == SECTIONS


@pytest.mark.parametrize("name, company, ticker", [
    ("Initech Corp Q1 2024 Earnings Call Transcript.txt", "Initech Corp", None),  # a name, not a ticker
    ("acme-q1-2024.txt", None, "ACME"),  # lower case: a ticker, as many sites name files
    ("INTC Q1 2024.txt", None, "INTC"),
])
def test_a_file_named_as_its_title(tmp_path: Path, name: str, company: str | None, ticker: str | None) -> None:
    path = tmp_path / name
    path.write_text("\n\n".join(f"{w}: {s}" for w, s in TURNS[1:]), encoding="utf-8")  # no title, no opening
    t = read_transcript(path)
    assert t.meta.period == "FY2024Q1" and t.meta.ticker == ticker
    if company:
        assert t.meta.company == company


def test_a_call_that_never_gives_its_ticker_gets_the_tables_ticker(tmp_path: Path) -> None:
    path = tmp_path / "call-05.txt"
    path.write_text("Eaton Corporation Q2 2020 Earnings Conference Call\n\n"
                    + "\n\n".join(f"{w}: {s}" for w, s in TURNS[1:]), encoding="utf-8")
    t = read_transcript(path)
    assert (t.meta.company, t.meta.ticker, t.meta.period) == ("Eaton Corporation", "ETN", "FY2020Q2")
    path.write_text("Initech Corp Q2 2020 Earnings Conference Call\n\n"  # in no table: no ticker made up
                    + "\n\n".join(f"{w}: {s}" for w, s in TURNS[1:]), encoding="utf-8")
    assert read_transcript(path).meta.ticker is None


def test_a_participant_list_gives_roles_and_titles_the_turns_do_not(tmp_path: Path) -> None:
    """Analysts are listed: when one speaks the Q&A has begun, with no operator hand-over to tell."""
    turns = [t for t in TURNS if t[0] != "Operator"]
    path = tmp_path / "t.txt"
    path.write_text("\n".join(["参会人员：", "Jane Roe - CEO", "Bill Lumbergh - CFO", "Ann Lee - UBS - Analyst",
                               "Sam Park - Morgan Stanley - Analyst", ""])
                    + "\n\n".join(f"{w}: {s}" for w, s in turns), encoding="utf-8")
    t = read_transcript(path)
    got = {x.speaker.name: (x.speaker.role, x.speaker.title, x.speaker.firm) for x in t.turns}
    assert got["Bill Lumbergh"][:2] == ("executive", "CFO")
    assert got["Ann Lee"] == ("analyst", "Analyst", "UBS") and got["Sam Park"][0] == "analyst"
    assert [x.section for x in t.turns] == ["prepared", "prepared", "qa", "qa", "qa", "qa", "qa", "qa"]


def test_bloomberg_style_sections_bullets_and_question_answer_marks(tmp_path: Path) -> None:
    lines = ["Initech Corp (INTC) Q1 2024 Earnings Call", "Company Participants", "• Jane Roe, Chief Executive Officer",
             "• Bill Lumbergh, Chief Financial Officer", "Other Participants", "• Sam Park, Analyst, Morgan Stanley",
             "• Ann Lee, Analyst, UBS", "MANAGEMENT DISCUSSION SECTION"]
    for k, (who, said) in enumerate(TURNS):
        if k == 3:
            lines.append("QUESTION AND ANSWER SECTION")
        mark = "" if who == "Operator" or k < 3 else ("<A - {}>" if who in ("Jane Roe", "Bill Lumbergh") else "<Q - {}>")
        lines.append(f"{mark.format(who) if mark else who}: {said}")
    path = tmp_path / "bbg.txt"
    path.write_text("\n\n".join(lines), encoding="utf-8")
    _check(path)
    t = read_transcript(path)
    assert {x.speaker.name: x.speaker.title for x in t.turns}["Jane Roe"] == "Chief Executive Officer"


@pytest.mark.parametrize("title", ["Edited Transcript Q1 2024 Earnings Call", "Strong Q1 2024 Results Conference Call"])
def test_a_title_that_names_no_company_leaves_the_tables_name(tmp_path: Path, title: str) -> None:
    path = tmp_path / "KO_q1_2024.txt"
    path.write_text(title + "\n\n" + "\n\n".join(f"{w}: {s}" for w, s in TURNS), encoding="utf-8")
    t = read_transcript(path)
    assert (t.meta.company, t.meta.ticker, t.meta.period) == ("Coca-Cola", "KO", "FY2024Q1")


def test_a_title_guess_the_text_never_repeats_is_no_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    body = "\n\n".join(f"{w}: {s}" for w, s in TURNS[1:])  # the opening, which names Initech, left out
    path.write_text("Initech Update Q1 2024 Earnings Call\n\n" + body, encoding="utf-8")
    t = read_transcript(path)
    assert t.meta.company is None and t.meta.period == "FY2024Q1"


@pytest.mark.integration
@pytest.mark.parametrize("name", ["MSFT_FY24Q3_en.txt", "SNOW_FY25Q4_en.txt", "TAL_FY25Q4_en.txt"])
def test_a_transcript_page_without_the_scrapers_header_reads_as_with_it(tmp_path: Path, name: str) -> None:
    """The shared Fool calls carry a header block a scraper added; the page as a browser saves it has
    none, and no reader claims it by its layout: it must still read speaker by speaker."""
    src = SHARED_CORPUS_LARGE.parent / "transcripts" / name
    if not src.is_file():
        pytest.skip(f"{src} missing")
    text = src.read_text(encoding="utf-8")
    page = tmp_path / name  # the same name: the file name gives the quarter where the page has no title
    page.write_text(re.split(r"^={10,}\s*$", text, flags=re.M)[-1].lstrip(), encoding="utf-8")
    ref, got = read_transcript(src), read_transcript(page)
    assert got.meta.layout == "labelled" and (got.meta.ticker, got.meta.period) == (ref.meta.ticker, ref.meta.period)
    assert [(t.speaker.name, t.speaker.role, t.section) for t in got.turns if t.section != "summary"] == \
        [(t.speaker.name, t.speaker.role, t.section) for t in ref.turns if t.section != "summary"]


def test_a_short_call_with_an_operator(tmp_path: Path) -> None:
    """Six turns, the operator's twice and a speaker labelled once: a call still, read by speaker."""
    turns = [TURNS[0], TURNS[1], ("Bill Lumbergh", TURNS[2][1]), ("Jane Roe", "That concludes our remarks."),
             ("Operator", "This concludes today's conference call.")]
    path = tmp_path / "short.txt"
    path.write_text("\n\n".join(f"{w}: {s}" for w, s in turns), encoding="utf-8")
    t = read_transcript(path)
    assert t.meta.layout == "labelled"
    assert [x.speaker.name for x in t.turns] == [w for w, _ in turns]


def test_a_legal_form_in_the_title_is_no_mention_of_the_name(tmp_path: Path) -> None:
    """ "Initech Corp" in the title holds "Initech": the text must name it elsewhere to be believed."""
    path = tmp_path / "notes.txt"
    path.write_text("Initech Corp Q1 2024 Earnings Call\n\n" + "\n\n".join(f"{w}: {s}" for w, s in TURNS[1:]),
                    encoding="utf-8")
    assert read_transcript(path).meta.company is None
    path.write_text("Initech Corp Q1 2024 Earnings Call\n\n" + "\n\n".join(f"{w}: {s}" for w, s in TURNS),
                    encoding="utf-8")  # the operator's welcome names Initech
    assert read_transcript(path).meta.company == "Initech Corp"
