"""A company named by the first word of its name ("Thermo" for Thermo Fisher Scientific): scoped when
the index's own passages say the word is mostly that company's, never for a common word or a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.build import build_index
from rag.embed import FakeEmbedder
from rag.retrieve import Retriever
from rag.scope import _leading_words
from rag.store import load_index

CALL = """======================================================================
Earnings Call Transcript
Company: {company}
Ticker: {ticker}
Quarter: {quarter}
Source: motley_fool
======================================================================

CALL PARTICIPANTS

Chief Executive Officer — {ceo}

Full Conference Call Transcript

{ceo}:{text}

Operator:That concludes the call.
"""

CALLS = {
    # ticker: (company, quarter, chief executive, what is said)
    "NRP": ("Norrland Power Systems", "Q1 2025", "Mia Chen",
            "Norrland grew revenue 12% in the first quarter. Norrland turbines shipped 40 units. "
            "The first quarter margin at Norrland was 21%."),
    "FMB": ("First Meridian Bank", "Q1 2025", "Raj Patel",
            "In the first quarter net interest income rose 4%. Our first priority is deposits."),
    "BHF": ("Blue Harbor Foods", "Q1 2025", "Simon Flannery",
            "In the first quarter sales rose 6%. Simon said the first shipments to Norrland customers began."),
    "SRH": ("Simon Ridge Holdings", "Q1 2025", "Ann Lee",
            "Simon Ridge rents rose 3% in the first quarter. Simon Ridge occupancy was 95%."),
}


def _retriever(tmp_path_factory: pytest.TempPathFactory, calls: dict[str, tuple[str, str, str, str]]) -> Retriever:
    """An index of one call per company: (company, quarter, chief executive, what is said)."""
    src = tmp_path_factory.mktemp("calls")
    for ticker, (company, quarter, ceo, text) in calls.items():
        (src / f"{ticker}_FY25Q1_en.txt").write_text(
            CALL.format(company=company, ticker=ticker, quarter=quarter, ceo=ceo, text=text), encoding="utf-8")
    idx = tmp_path_factory.mktemp("idx")
    emb = FakeEmbedder()
    build_index([src], idx, emb)
    return Retriever(load_index(idx), emb)


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    return _retriever(tmp_path_factory, CALLS)


def test_leading_words_are_first_words_no_other_company_shares() -> None:
    names = [("Norrland Power Systems", "NRP"), ("Yum! Brands", "YUM"), ("First Meridian Bank", "FMB"),
             ("First Solar", "FSLR"), ("Acme", "ACME"), ("Acme Tools Group", "ATG"), ("Go Co", "GOC")]
    leading = _leading_words(names)
    assert leading["norrland"] == "NRP" and leading["yum"] == "YUM"
    assert "first" not in leading  # two companies begin with it
    assert "acme" not in leading  # a company's whole name already
    assert "go" not in leading  # under three letters
    # A one-word name joined from words begins with its first ("manpower" of ManpowerGroup).
    joined = _leading_words([("ManpowerGroup", "MAN"), ("PulteGroup", "PHM"), ("FedEx", "FDX"), ("SKECHERS", "SKX")])
    assert joined == {"manpower": "MAN", "pulte": "PHM", "fed": "FDX"}


@pytest.mark.parametrize("question, tickers", [
    # Most passages holding "Norrland" are the company's own (one other call mentions its customers).
    ("What margin did Norrland report in Q1 2025?", ("NRP",)),
    ("Norrland 2025年第一季度的利润率是多少？", ("NRP",)),
    ("What occupancy did Simon report for Q1 2025?", ("SRH",)),
    # "First" begins one company's name but fills every call: a common word, not that company.
    ("How did net interest income do in the First quarter of 2025?", ()),
    # A first name followed by a surname is a person, not Simon Ridge Holdings: here the person only
    # Blue Harbor's call holds, so that call's company (the rule for names, not for leading words).
    ("What did Simon Flannery say about sales in Q1 2025?", ("BHF",)),
])
def test_a_leading_word_names_its_company_when_the_index_says_so(
        retriever: Retriever, question: str, tickers: tuple) -> None:
    s = retriever.scope(question)
    assert s.tickers == tickers
    if tickers:
        assert s.doc_ids and all(retriever.catalog.docs[d]["ticker"] == tickers[0] for d in s.doc_ids)


def test_the_catalog_keeps_its_leading_words(retriever: Retriever) -> None:
    assert retriever.catalog.leading.get("norrland") == "NRP"
    assert retriever.catalog.leading.get("blue") == "BHF"


LOWER = {
    "GLC": ("Glacio", "Q1 2025", "Mia Chen", "Glacio revenue rose 9% in the first quarter. Glacio margins were 30%. "
            "Answering Keith Weiss of Morgan Stanley, we said pricing held."),
    "SMT": ("Summit", "Q1 2025", "Raj Patel", "Summit revenue rose 2% in the first quarter."),
    "ORB": ("Orbis Freight", "Q1 2025", "Ann Lee", "At the summit we met customers, and volume rose 5%. "
            "Orbis shipped more."),
    "PLX": ("Pellux Labs", "Q1 2025", "Tom Ray", "Our summit with partners went well; sales rose 1%. "
            "PLX gained share."),
    "VRD": ("Verdant Mills", "Q1 2025", "Lia Wu", "The industry summit drew our buyers; margins were 12%."),
}


@pytest.fixture(scope="module")
def lower_retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    return _retriever(tmp_path_factory, LOWER)


@pytest.mark.parametrize("question, tickers", [
    # A one-word company name typed in lower case names it when its passages are mostly the company's...
    ("what was glacio revenue growth in q1 2025?", ("GLC",)),
    # ...not when the word is a common one that other calls use more ("the summit").
    ("what happened at the summit in q1 2025?", ()),
    # The first word of a longer name, and a ticker, typed in lower case: the same test.
    ("orbis volume growth q1 2025", ("ORB",)),
    ("plx sales growth q1 2025", ("PLX",)),
    # Followed by an abbreviation, not by a name ("Simon Flannery"): "FY25", "Q1", "EPS".
    ("orbis FY25 Q1 volume growth", ("ORB",)),
    # At the start of a question a capital says nothing: the same test as typed in lower case.
    ("Orbis volume growth Q1 2025", ("ORB",)),
    ("Glacio revenue growth Q1 2025?", ("GLC",)),
    ("Summit Q1 2025 revenue", ("SMT",)),  # detect's own name match, as before
    # A quarter no call has is read once the company is known (then the newest call's outlook).
    ("orbis Q2 2025 volume guide", ("ORB",)),
])
def test_a_company_name_typed_in_lower_case_names_it_when_the_index_says_so(
        lower_retriever: Retriever, question: str, tickers: tuple) -> None:
    assert lower_retriever.catalog.lowered.get("glacio") == "GLC"
    assert lower_retriever.catalog.lowered.get("plx") == "PLX"
    assert lower_retriever.scope(question).tickers == tickers


@pytest.mark.parametrize("question, tickers", [
    # Beside a company named in full, another named by its first word only: both are asked about.
    ("Compare Norrland and Blue Harbor Foods sales growth in Q1 2025", ("BHF", "NRP")),
    ("Norrland vs Blue Harbor Foods Q1 2025 margin", ("BHF", "NRP")),
    ("blue harbor foods and norrland growth q1 2025", ("BHF", "NRP")),
    # ...but not a common word that begins another company's name, nor a person's first name.
    ("Blue Harbor Foods sales in the First quarter of 2025?", ("BHF",)),
    ("What did Simon Flannery say about Blue Harbor Foods sales in Q1 2025?", ("BHF",)),
])
def test_a_company_named_by_its_first_word_beside_one_named_in_full(
        retriever: Retriever, question: str, tickers: tuple) -> None:
    s = retriever.scope(question)
    assert s.tickers == tickers
    assert {retriever.catalog.docs[d]["ticker"] for d in s.doc_ids} == set(tickers)


@pytest.mark.parametrize("question, tickers, missing", [
    # A company typed in lower case beside its analyst's firm, capitalised: the firm is who asked, as
    # it is beside a capitalised company ("Glacio's ... Morgan Stanley's Keith Weiss").
    ("on glacio's q1 2025 call, what did Morgan Stanley's Keith Weiss hear about pricing?", ("GLC",), ()),
    ("Glacio's q1 2025 call: what did Morgan Stanley's Keith Weiss hear about pricing?", ("GLC",), ()),
    # The firm asked about as a company is still one the index lacks.
    ("compare glacio's margin with Morgan Stanley's in q1 2025", (), ("Morgan Stanley",)),
])
def test_a_lower_case_company_beside_its_analysts_firm(
        lower_retriever: Retriever, question: str, tickers: tuple, missing: tuple) -> None:
    from rag.companies import listed

    if "MS" not in listed():
        pytest.skip("pytickersymbols is not installed")
    s = lower_retriever.scope(question)
    assert (s.tickers, s.missing_companies) == (tickers, missing)
