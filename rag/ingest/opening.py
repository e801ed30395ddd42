"""Which call a transcript is, as its opening turns say it: "Welcome to the ADM First Quarter 2021
Earnings Conference Call", "thank you for joining Rayonier's Third Quarter 2021 Teleconference"."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rag.ingest.meta import normalize_period

# "Welcome to the Aaron's Company First Quarter 2021 Earnings Conference Call", "welcome to the Q1 2021
# American Assets Trust, Inc. Earnings Conference Call": the name sits between "welcome to" and the
# period or the word "earnings"/"conference call"/"results".
_PERIOD = (r"(?:fy\s?'?\d{2,4}\s+q[1-4]\s+|q[1-4]\s+fy\s?'?\d{2,4}\s+|"
           r"(?:fiscal\s+)?(?:year\s+)?(?:20\d\d\s+)?(?:(?:first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter|"
           r"q[1-4]|full[- ]year|year[- ]end)\s+(?:and\s+year[- ]end\s+)?(?:(?:and\s+)?(?:full[- ]year\s+)?(?:fiscal\s+)?"
           r"(?:year\s+)?(?:20\d\d|'\d\d)\s+)?|(?:fiscal\s+)?(?:year\s+)?20\d\d\s+|fy\s?\d{2,4}\s+)")
_NAME_REST = r"[\w&.'’,/\- ]{0,60}?)(?:'s|’s|')?"
_NAME = r"(?P<name>[A-Z]" + _NAME_REST
_OPENERS = (
    # "welcome to the Q1 2021 American Assets Trust, Inc. Earnings Conference Call", "thank you for
    # joining Rayonier's Third Quarter 2021 Teleconference", "joining us today for Sun Communities First..."
    re.compile(r"\b(?:welcome\s+(?:everyone\s+|you\s+(?:all\s+)?)?to|joining(?:\s+us)?(?:\s+today)?(?:\s+(?:for|on))?)"
               r"\s+(?:the\s+|today's\s+)?(?:conference(?: call)?,?\s+)?"
               r"(?:" + _PERIOD + r")?" + _NAME + r"\s+(?:" + _PERIOD
               + r"|(?:earnings|conference call|call|financial results|results|quarterly)\b)", re.I),
    # "... Financial Results Conference Call and Webcast for Zoetis.", "... Conference Call for Graco Inc."
    # A full stop inside a name ("D.R. Horton") is not its end: one after an initial, or before a letter.
    re.compile(r"\b(?:call|webcast)\s+for\s+" + _NAME + r"(?<!\b[A-Z])\s*[.,](?=\s|$)", re.I),
    # "joining us to discuss Equity LifeStyle Properties' First Quarter 2021 results"
    re.compile(r"\bto discuss\s+" + _NAME + r"\s+(?:" + _PERIOD + r")", re.I),
)
# A name ends where these words begin: what follows is about the call, not the company.
_CALL_WORDS = re.compile(r"\b(?:quarter|fiscal|year|call|conference|teleconference|earnings|results|covering|"
                         r"discussing|discussion|webcast|today|our|this|announces|reports|hosted|analyst|"
                         r"quarterly|investor\s+(?:relations|analyst|conference|call))\b", re.I)
# "Fourth Quarter and Full Year 2019 Earnings Conference Call": the quarter the call is about; also with
# the company's name between ("the Q4 2019 PulteGroup Inc. Earnings Conference Call", "Rayonier's
# fourth-quarter 2019 teleconference"): a file named for another quarter is common, so the quarter the
# call states must be read wherever the opening puts it.
_CALL_PERIOD = re.compile(r"(?P<period>" + _PERIOD + r")(?:(?-i:[A-Z])[\w&.,'’\-]*\s+){0,6}?"
                          r"(?:earnings|results|conference|teleconference|financial results|quarterly)\b", re.I)
# "the Earnings Call for Western Alliance Bancorp for First Quarter 2021": call words around the name.
_LEAD = re.compile(r"^(?:(?:earnings|conference|results)\s+)*(?:call|webcast)\s+(?:for|of)\s+", re.I)
_TRAIL = re.compile(r"\s+(?:for|of|on)$", re.I)
# A title line naming the company and the quarter, no ticker needed: "Acme Corp Q1 2021 Earnings
# Conference Call", "# Acme, Inc. — First Quarter 2021 Results", "Q1 2021 Acme Corp Earnings Call",
# "ACME CORP (ACME) Q1 2021 EARNINGS CALL TRANSCRIPT".
_TITLE = re.compile(r"^[#*_\s]*(?:(?P<before>" + _PERIOD + r"))?(?P<name>[A-Z0-9]" + _NAME_REST
                    + r"\s*(?:[(（][^()（）]{1,24}[)）])?\s*[-—–:,|]?\s*(?:(?P<after>" + _PERIOD
                    + r"))?(?:earnings|(?:financial\s+)?results|conference call|quarterly)\b", re.I)
# Words a title or greeting opens with that name no company ("Edited Transcript ...", "Strong Q1 2024 Results").
_OPENING_WORDS = {"welcome", "thank", "thanks", "good", "hello", "hi", "our", "this", "today", "ladies", "edited",
                  "unedited", "final", "corrected", "preliminary", "raw", "transcript", "highlights", "strong",
                  "record", "solid"}
_JOINING = {"and", "of", "the", "de", "du", "la", "le", "von", "van", "der", "da", "di", "y", "e"}
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")

# "Q4", "FY2019", "Fourth", "Financial": what an opening names before the company ("the Q4, 2019 Kadant",
# "the Second Quarter 2020 Financial Results ... for Zoetis"); call words are cut off before this.
_NOT_A_NAME = re.compile(r"^(?:q[1-4]|fy\s?\d{2,4}|h[12]|[\d\s,.']+|(?:first|second|third|fourth|full|fiscal)"
                         r"(?:[\s-]+(?:quarter|half|year))?|financial|annual|investors?)$", re.I)


def _is_name(name: str) -> bool:
    """A capitalised name of at least two letters that is not a period ("Q4") or a number."""
    return name[:1].isupper() and sum(ch.isalpha() for ch in name) >= 2 and not _NOT_A_NAME.match(name)


def _period_of(stated: str) -> str | None:
    """The quarter a call's period words name ("Fourth Quarter and Full Year 2021" -> FY2021Q4)."""
    return normalize_period(re.sub(r"\band\s+(?:full|fiscal)[- ]year\b", " ", stated, flags=re.I))


def _cleaned(name: str) -> str:
    """A name as matched, less the call words around it ("Oshkosh Corporation Reports", "CNA's
    discussion of its", "the Earnings Call for Western Alliance Bancorp for ...")."""
    name = _LEAD.sub("", _TRAIL.sub("", name.strip(" ,")))
    cut = _CALL_WORDS.search(name)
    name = re.sub(r"(?:'s|’s|')$", "", name[:cut.start()].strip(" ,")) if cut else name
    return re.split(r"\s+for\s+", name)[0].strip(" ,-—–:|")


def from_title_line(line: str) -> dict[str, Any]:
    """`company` and `period` from a title line that names both (see `_TITLE`), else empty. A name in
    capitals ("ACME CORP") is written as a name is; a short one ("IBM") is an acronym and stays."""
    line = line.strip()
    m = _TITLE.match(line) if len(line) <= 150 and not line.endswith((".", "?", "!")) else None
    stated = m and (m.group("before") or m.group("after"))
    period = _period_of(stated) if stated else None
    name = _cleaned(m.group("name")) if m else ""
    named = _is_name(name) or re.fullmatch(r"\d+[A-Z][\w&.'’\- ]*", name)  # "3M"
    if not (period and _titled(name) and named):
        return {}
    if name.isupper() and sum(ch.isalpha() for ch in name) > 5:
        name = _WORD.sub(lambda w: w.group(0).capitalize(), name)
    return {"company": name, "period": period}


def _titled(name: str) -> bool:
    """Written as a name is: its words capitalised but for small joining ones, and not a greeting
    ("Welcome to", "Good morning everyone and welcome to the")."""
    words = _WORD.findall(name)
    return bool(words) and words[0].lower() not in _OPENING_WORDS and all(
        w[0].isupper() or w.lower() in _JOINING for w in words)


def from_opening(opening: list[str]) -> dict[str, Any]:
    """The company's name (`spoken_name`) and the quarter as the call opens with them ("Welcome to
    the ADM First Quarter 2021 Earnings Conference Call"), read from the first turns' text; the file
    name's quarter is sometimes not the call's. The name is a guess from speech, so a maintained
    table's name for the ticker goes before it."""
    out: dict[str, Any] = {}
    for text in opening:
        for pattern in _OPENERS:
            m = pattern.search(text)
            name = _cleaned(m.group("name")) if m else ""
            if _is_name(name):
                out["spoken_name"] = name
                break
        if "spoken_name" in out:
            break
    stated = (m.group("period") for text in opening for m in _CALL_PERIOD.finditer(text))
    period = next((x for x in map(_period_of, stated) if x), None)
    if period:
        out["period"] = period
    return out


# A year's guidance as the remarks give it: "our 2020 guidance", "2020 financial outlook", "guidance for
# fiscal 2021", "For 2020, we expect".
_GUIDED_YEAR = re.compile(
    r"\b(20\d\d)\s+(?:financial\s+)?(?:guidance|outlook|forecast|plan)\b"
    r"|\b(?:guidance|outlook|forecast)\s+(?:range\s+)?for\s+(?:fiscal\s+|full[- ]year\s+|the\s+full\s+year\s+(?:of\s+)?|"
    r"calendar\s+)?(?:year\s+)?(20\d\d)\b"
    r"|\b(?:in|for)\s+(?:fiscal\s+|full[- ]year\s+)?(20\d\d),?\s+we\s+(?:now\s+)?(?:expect|anticipate|project|"
    r"are\s+expecting|are\s+projecting)\b", re.I)
# Guidance looked back on ("we exceeded our 2020 guidance") is no guidance given.
_LOOKED_BACK = re.compile(r"\b(?:exceed\w*|beat|met|meet|above|below|achiev\w*|deliver\w*|surpass\w*|ahead of|"
                          r"in line with|versus|vs\.?|compared (?:to|with))\s+(?:\w+\s+){0,3}$", re.I)
# The year after named as the one ahead in other words ("For the full year 2021", "Looking ahead to 2021").
_AHEAD = re.compile(r"\b(?:full[- ]year|for the (?:full )?year(?: of)?|ahead to|into|for fiscal|next year,?)\s+(20\d\d)\b", re.I)

# The opening naming the call as a year's end ("the Fiscal 2020 Year-End Earnings Call", "year-end 2020").
_YEAR_END_NAMED = re.compile(r"\b(?:fiscal\s+)?(20\d\d)\s+(?:year[- ]end|full[- ]year|annual)\b|"
                             r"\b(?:year[- ]end|full[- ]year)\s+(?:fiscal\s+)?(20\d\d)\b", re.I)


def fourth_quarter_before(period: str, remarks: Iterable[str], opening: str = "") -> str | None:
    """The fourth quarter of the year before `period` (a fourth quarter, "FY2020Q4") when the prepared
    remarks give guidance for `period`'s year and none for the next: a fourth-quarter call guides the
    year ahead, so a call filed as "q4_2020" that guides 2020 is the fourth quarter of 2019 (files are
    often named for the year the call was held in). None: nothing says so, or the call's `opening`
    names `period`'s year itself ("the Fiscal 2020 Year-End Earnings Call"). For a file name's period
    only, when the call states no quarter itself: on the 235 fourth-quarter calls of
    ../shared/corpus-large that state their period, this fires 76 times, right 74 (eval/README.md,
    thirty-second session)."""
    if not re.fullmatch(r"FY\d{4}Q4", period):
        return None
    year = int(period[2:6])
    if any(str(year) in m.groups() for m in _YEAR_END_NAMED.finditer(opening)):
        return None
    guided: Counter[int] = Counter()
    for text in remarks:
        for m in _GUIDED_YEAR.finditer(text):
            if not _LOOKED_BACK.search(text, max(0, m.start() - 60), m.start()):
                guided[int(next(g for g in m.groups() if g))] += 1
        guided.update(int(m.group(1)) for m in _AHEAD.finditer(text) if int(m.group(1)) == year + 1)
    if guided[year] and guided[year] == max(guided.values()) and not guided[year + 1]:
        return f"FY{year - 1}Q4"
    return None
