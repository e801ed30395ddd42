"""Question scoping: companies, tickers and periods named in English or Chinese, and ones not held."""

from __future__ import annotations

import pytest

from rag.scope import Catalog, asked_period, detect, name_words, the_calls_period

DOCS = {
    "AMZN_FY25Q4_zh": {"ticker": "AMZN", "company": "亚马逊", "aliases": ["Amazon", "AWS"], "period": "FY2025Q4"},
    "KO_FY21Q4_en_ectsum": {"ticker": "KO", "company": "Coca-Cola", "aliases": ["可口可乐"], "period": "FY2021Q4"},
    "MSFT_FY24Q3_en": {"ticker": "MSFT", "company": "Microsoft", "aliases": ["微软"], "period": "FY2024Q3"},
    "MSFT_FY24Q3_zh": {"ticker": "MSFT", "company": "微软", "aliases": ["Microsoft"], "period": "FY2024Q3"},
    "T_FY21Q4_en_ectsum": {"ticker": "T", "company": "AT&T", "aliases": [], "period": "FY2021Q4"},
}


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(DOCS)


@pytest.mark.parametrize(
    "question, doc_ids",
    [
        ("What was Coca-Cola's organic revenue growth?", ("KO_FY21Q4_en_ectsum",)),
        ("KO price mix in Q4 2021", ("KO_FY21Q4_en_ectsum",)),
        ("可口可乐第四季度的单位箱销量增长了多少？", ("KO_FY21Q4_en_ectsum",)),
        ("亚马逊的积压订单有多少？", ("AMZN_FY25Q4_zh",)),
        ("What is the AWS backlog?", ("AMZN_FY25Q4_zh",)),
        ("FY25Q4 capex plan", ("AMZN_FY25Q4_zh",)),
        ("2021年第四季度的自由现金流是多少？", ("KO_FY21Q4_en_ectsum", "T_FY21Q4_en_ectsum")),
        ("What did Microsoft say about Azure in Q3 2024?", ("MSFT_FY24Q3_en", "MSFT_FY24Q3_zh")),
        ("What was AT&T's free cash flow?", ("T_FY21Q4_en_ectsum",)),
        ("How much did revenue grow?", ()),
        # A period typed against the name, as Chinese text runs words together.
        ("Coca-ColaFY2021Q4的自由现金流是多少？", ("KO_FY21Q4_en_ectsum",)),
        ("MicrosoftQ3 2024 Azure growth", ("MSFT_FY24Q3_en", "MSFT_FY24Q3_zh")),
        ("Microsoftish revenue", ()),
    ],
)
def test_scoped_documents(catalog: Catalog, question: str, doc_ids: tuple[str, ...]) -> None:
    s = detect(question, catalog)
    assert s.doc_ids == doc_ids and not s.out_of_index


def test_single_letter_ticker_needs_a_marker(catalog: Catalog) -> None:
    assert detect("What was T's revenue? Tell me about Q&A", catalog).doc_ids == ()
    assert detect("What did $T report?", catalog).doc_ids == ("T_FY21Q4_en_ectsum",)


def test_word_ticker_followed_by_a_period_names_its_company(catalog: Catalog) -> None:
    """"T Q4 2021 free cash flow" is how analysts write a ticker; "T" elsewhere is not one, and beside
    a company named otherwise a word stays a word."""
    assert detect("T Q4 2021 free cash flow?", catalog).doc_ids == ("T_FY21Q4_en_ectsum",)
    assert detect("T's FY2021 capex?", catalog).doc_ids == ("T_FY21Q4_en_ectsum",)
    assert detect("T 2021 capex?", catalog).doc_ids == ()  # a bare year after one letter: English
    assert detect("Coca-Cola vs T Q4 2021 free cash flow", catalog).doc_ids == ("KO_FY21Q4_en_ectsum",)


@pytest.mark.parametrize("question, missing", [
    ("What did Tesla say about deliveries?", "Tesla"),
    ("特斯拉的交付量是多少？", "特斯拉"),
    ("阿里巴巴的收入是多少？", "阿里巴巴"),
    ("How did NVDA's data center revenue do?", "NVDA"),
])
def test_company_not_in_index(catalog: Catalog, question: str, missing: str) -> None:
    s = detect(question, catalog)
    assert s.out_of_index and s.missing_companies == (missing,) and s.doc_ids == ()


def test_period_not_in_index(catalog: Catalog) -> None:
    s = detect("Microsoft FY2023 Q1 Azure growth", catalog)
    assert s.out_of_index and s.missing_periods == ("FY2023Q1",) and s.tickers == ("MSFT",)
    assert detect("亚马逊2023年第一季度的营收", catalog).missing_periods == ("FY2023Q1",)


# Several calls of one company (and one file whose company could not be read).
CALLS = {
    "ACME_FY25Q4_en": {"ticker": "ACME", "company": "Acme", "aliases": ["艾克米"], "period": "FY2025Q4",
                       "call_date": "2025-02-26"},
    "ACME_Q1_2026_zh": {"ticker": "ACME", "company": "Acme", "aliases": ["艾克米"], "period": "FY2026Q1",
                        "call_date": "2025-05-21"},
    "ACME_Q2_2026_bilingual": {"ticker": "ACME", "company": "Acme", "aliases": ["艾克米"], "period": "FY2026Q2",
                               "call_date": "2025-08-27"},
    "KO_FY21Q4_en_ectsum": {"ticker": "KO", "company": "Coca-Cola", "aliases": ["可口可乐"], "period": "FY2021Q4"},
    "mystery_call": {"ticker": None, "company": None, "aliases": [], "period": None},
}


@pytest.mark.parametrize(
    "question, doc, latest",
    [
        ("What was Acme's product revenue in fiscal 2026 first quarter?", "ACME_Q1_2026_zh", False),
        ("Acme Q1 FY26 net revenue retention", "ACME_Q1_2026_zh", False),
        ("艾克米2026财年第一季度的产品收入是多少？", "ACME_Q1_2026_zh", False),
        ("How much did Acme's revenue grow in the quarter ended July 31, 2025?", "ACME_Q2_2026_bilingual", False),
        ("艾克米截至2025年1月31日的季度收入是多少？", "ACME_FY25Q4_en", False),
        # The day as people write it, with or without a comma, day first, in figures.
        ("Acme revenue in the quarter ended July 31 2025", "ACME_Q2_2026_bilingual", False),
        ("Acme revenue in the quarter ending 31 July 2025", "ACME_Q2_2026_bilingual", False),
        ("Acme revenue for the quarter ended 7/31/2025", "ACME_Q2_2026_bilingual", False),
        ("Acme revenue for the quarter ended 2025-07-31", "ACME_Q2_2026_bilingual", False),
        # A month and year without the day: the month's end, on the company's own fiscal calendar.
        ("What was Acme's revenue in the quarter ended April 2025?", "ACME_Q1_2026_zh", False),
        ("Acme revenue for the quarter that ended in July 2025", "ACME_Q2_2026_bilingual", False),
        ("艾克米在截至2025年7月31日的那个季度里收入增长多少？", "ACME_Q2_2026_bilingual", False),
        # The comparison base is not the period asked about.
        ("Acme FY2026 Q2 revenue versus Q4 2025?", "ACME_Q2_2026_bilingual", False),
        ("How did Acme's margin in Q1 FY2026 compare with Q4 FY2025?", "ACME_Q1_2026_zh", False),
        ("与2025财年第四季度相比，艾克米2026财年第一季度收入增长多少？", "ACME_Q1_2026_zh", False),
        ("Versus 4Q25, what was Acme's revenue in 1Q26?", "ACME_Q1_2026_zh", False),
        # The quarter of the call named is the call asked about; another quarter is what it spoke of.
        ("What revenue did Acme expect for Q2 FY2026 on its Q1 FY2026 call?", "ACME_Q1_2026_zh", False),
        ("艾克米在2026财年第一季度电话会上对2026财年第二季度的收入指引是多少？", "ACME_Q1_2026_zh", False),
        # "Over" after a change sets a base; else it spans the period asked about.
        ("How much did Acme's revenue grow in Q1 FY2026 over Q4 FY2025?", "ACME_Q1_2026_zh", False),
        ("How much cash did Acme return over the fourth quarter of fiscal 2025?", "ACME_FY25Q4_en", False),
        # "Latest" and no period: the newest call, and the answer says so.
        ("What was Acme's revenue in the latest quarter?", "ACME_Q2_2026_bilingual", True),
        ("艾克米最新一季的营业利润率是多少？", "ACME_Q2_2026_bilingual", True),
        ("What is Acme's net revenue retention?", "ACME_Q2_2026_bilingual", True),
        ("How much did Acme's revenue grow from a year ago?", "ACME_Q2_2026_bilingual", True),
    ],
)
def test_a_question_reaches_the_call_of_the_period_it_names(question: str, doc: str, latest: bool) -> None:
    s = detect(question, Catalog(CALLS))
    # The unidentified file is never hidden by scoping: it competes in retrieval with the named call.
    assert s.doc_ids == tuple(sorted((doc, "mystery_call"))), s
    assert s.latest == latest and not s.out_of_index


def test_a_company_with_one_call_is_not_said_to_be_the_latest() -> None:
    s = detect("What was Coca-Cola's organic revenue growth?", Catalog(CALLS))
    assert "KO_FY21Q4_en_ectsum" in s.doc_ids and not s.latest


def test_a_quarter_of_a_company_not_in_the_index_abstains() -> None:
    s = detect("What was Acme's revenue in fiscal 2024 third quarter?", Catalog(CALLS))
    assert s.out_of_index and s.missing_periods == ("FY2024Q3",) and s.doc_ids == ()
    s = detect("Acme revenue for the quarter ended March 31, 2020", Catalog(CALLS))
    assert s.out_of_index and s.doc_ids == ()


def test_guidance_for_a_quarter_the_index_lacks_comes_from_the_call_before_it() -> None:
    # The index holds later calls too: the quarter's own call is missing, the one before spoke of it.
    docs = {"ACME_FY25Q2_en": {**CALLS["ACME_FY25Q4_en"], "period": "FY2025Q2", "call_date": "2024-08-28"},
            **{d: m for d, m in CALLS.items() if d.startswith("ACME")}}
    s = detect("What revenue did Acme guide for fiscal 2025 third quarter?", Catalog(docs))
    assert s.doc_ids == ("ACME_FY25Q2_en",) and s.ahead and not s.out_of_index
    # Asked for the result, not the outlook, that quarter is a call the index does not hold.
    s = detect("What was Acme's revenue in fiscal 2025 third quarter?", Catalog(docs))
    assert s.out_of_index and s.missing_periods == ("FY2025Q3",)
    # The same after the newest call: its outlook answers what was expected, not what was reported.
    s = detect("What revenue does Acme expect for fiscal 2026 third quarter?", Catalog(docs))
    assert s.doc_ids == ("ACME_Q2_2026_bilingual",) and s.ahead
    s = detect("What revenue did Acme report for fiscal 2026 third quarter?", Catalog(docs))
    assert s.out_of_index and s.missing_periods == ("FY2026Q3",)
    # More than a year before the asked quarter is no outlook for it.
    s = detect("What revenue did Acme guide for fiscal 2024 first quarter?", Catalog(docs))
    assert s.out_of_index


def test_a_company_whose_file_gives_no_period_is_still_reachable() -> None:
    docs = {**CALLS, "ACME_notes": {"ticker": "ACME", "company": "Acme", "aliases": [], "period": None}}
    s = detect("What did Acme say in fiscal 2024 third quarter?", Catalog(docs))
    # The undated Acme file might be that quarter: it is searched rather than "no such call".
    assert not s.out_of_index and "ACME_notes" in s.doc_ids


@pytest.mark.parametrize(
    "question, docs",
    [
        # A year and no quarter: that fiscal year's calls, and the fourth-quarter call before it (its outlook).
        ("What was Acme's revenue for the full fiscal year 2025?", ("ACME_FY25Q4_en",)),
        ("What does Acme expect for fiscal 2026?", ("ACME_FY25Q4_en", "ACME_Q1_2026_zh", "ACME_Q2_2026_bilingual")),
        # A half year is the quarter that closes it.
        ("Acme revenue in H1 2026", ("ACME_Q2_2026_bilingual",)),
        ("艾克米2026年上半年的收入", ("ACME_Q2_2026_bilingual",)),
        ("Compared with the first six months of 2025, how much did Acme spend in H1 2026?", ("ACME_Q2_2026_bilingual",)),
        # The call's month.
        ("On the May 2025 call, what did Acme guide?", ("ACME_Q1_2026_zh",)),
        ("艾克米2025年8月的电话会上说了什么？", ("ACME_Q2_2026_bilingual",)),
        # Hyphenated and "of" wordings.
        ("On Acme's fiscal 2026 first-quarter call", ("ACME_Q1_2026_zh",)),
        ("Acme revenue in Q2 of fiscal 2026", ("ACME_Q2_2026_bilingual",)),
    ],
)
def test_years_halves_and_call_months(question: str, docs: tuple[str, ...]) -> None:
    s = detect(question, Catalog(CALLS))
    assert s.doc_ids == tuple(sorted((*docs, "mystery_call"))), s


@pytest.mark.parametrize("question, doc", [
    ("What was Acme's revenue in the July 2025 quarter?", "ACME_Q2_2026_bilingual"),
    ("Acme gross margin in the April quarter of 2025", "ACME_Q1_2026_zh"),
    ("艾克米2025年1月季度的收入是多少？", "ACME_FY25Q4_en"),
])
def test_a_month_named_quarter_with_its_year_is_the_quarter_closing_that_month(question: str, doc: str) -> None:
    s = detect(question, Catalog(CALLS))
    assert s.doc_ids == tuple(sorted((doc, "mystery_call"))) and not s.out_of_index, s


def test_a_month_named_quarter_no_call_followed_is_not_in_the_index() -> None:
    # Acme's calls follow quarters closing in January, April and July; October 2024 has none.
    s = detect("What was Acme's revenue in the October 2024 quarter?", Catalog(CALLS))
    assert s.out_of_index and s.doc_ids == () and s.missing_periods


def test_a_quarter_end_with_undated_calls_is_scoped_as_usual() -> None:
    # No call date to place the quarter by: never "not in the index" on that ground alone.
    docs = {d: {**m, "call_date": None} for d, m in CALLS.items()}
    s = detect("What was Acme's revenue in the October 2024 quarter?", Catalog(docs))
    assert not s.out_of_index and "ACME_Q2_2026_bilingual" in s.doc_ids


def test_a_years_result_as_a_whole_is_read_from_its_fourth_quarter_call() -> None:
    docs = {"ACME_FY25Q2_en": {**CALLS["ACME_FY25Q4_en"], "period": "FY2025Q2", "call_date": "2024-08-28"},
            **{d: m for d, m in CALLS.items() if d.startswith("ACME")}}
    for q in ("What was Acme's revenue for the full year 2025?", "How many customers did Acme have at the end of fiscal 2025?",
              "艾克米2025财年全年的收入是多少？"):
        assert detect(q, Catalog(docs)).doc_ids == ("ACME_FY25Q4_en",), q
    # Without the year-end words, or asking the outlook, every call of the year (and the one before) may speak.
    assert len(detect("What did Acme say about pricing in fiscal 2025?", Catalog(docs)).doc_ids) == 2
    assert len(detect("What full-year 2026 revenue does Acme expect?", Catalog(docs)).doc_ids) == 3


@pytest.mark.parametrize("question, asked", [
    ("What was Acme's revenue in the latest quarter?", True),
    ("艾克米最近一个季度的营业利润率是多少？", True),
    # "Last quarter" and "this quarter" are the newest one reported, not the one before it.
    ("What was Acme's gross margin last quarter?", True),
    ("How many customers did Acme add this quarter?", True),
    ("艾克米上季度的毛利率是多少？", True),
    ("艾克米本季度新增了多少客户？", True),
    ("How many customers does Acme currently have?", True),
    ("艾克米目前还剩多少回购额度？", True),
    ("What is Acme's net revenue retention?", False),
    ("How many customers did Acme add in the quarter?", False),
])
def test_asking_for_the_latest_quarter_is_told_from_naming_none(question: str, asked: bool) -> None:
    # Both read the newest call; only a question naming no quarter may be answered from an earlier one.
    s = detect(question, Catalog(CALLS))
    assert s.latest and s.asked_latest == asked


@pytest.mark.parametrize("question, words", [
    ("What price-performance advantage does Trainium offer versus comparable GPUs?", ["Trainium", "GPUs"]),
    ("How much did Amy Hood say about capex?", ["Amy", "Hood"]),  # the first word is capitalised anyway
    ("Trainium3的性价比比Trainium2高多少？", ["Trainium3", "Trainium2"]),
    ("what was revenue?", []),
])
def test_words_that_may_be_names(question: str, words: list[str]) -> None:
    assert name_words(question) == words


@pytest.mark.parametrize("question, missing", [
    # Beside a company the index holds, an analyst's firm is who asked...
    ("What did Acme's CFO tell Morgan Stanley's Keith Weiss about operating margin?", ()),
    ("Answering Simon Flannery from Morgan Stanley, what margin did Acme expect?", ()),
    ("What did Acme tell Goldman Sachs analyst Kash Rangan about pricing?", ()),
    # ...but a firm asked about is still a company the index does not hold.
    ("Compare Acme's operating margin with Morgan Stanley's.", ("Morgan Stanley",)),
    # A listed company's one-word name opening the question as a word of it ("Next", "Target") is not
    # that company beside one the index holds; written as an owner it is.
    ("Next quarter, what revenue does Acme expect?", ()),
    ("Target operating margin for Acme in fiscal 2026?", ()),
    ("Block-by-block, how did Acme's revenue grow in fiscal 2026?", ()),
    ("Target's revenue versus Acme's?", ("Target",)),
    # A listed company that qualifies a word of the question is mentioned, not asked about; followed by
    # a measure it is asked about.
    ("How much revenue did Acme get from the Philips recall in fiscal 2026?", ()),
    ("Acme revenue versus Philips revenue in fiscal 2026?", ("Philips",)),
    # ...also past a product's code ("the Philips X100 recall"), but not before a measure, and a period
    # is no product's code.
    ("How much did Acme book on the Philips X100 recall in fiscal 2026?", ()),
    ("Acme revenue versus Philips X100 revenue in fiscal 2026?", ("Philips",)),
    ("How did Acme's fiscal 2026 growth compare with Philips Q4 numbers?", ("Philips",)),
    # The other side of the figure asked (a customer, a payee) is mentioned, not asked about; a company
    # compared with, or whose own business is the source, is asked about.
    ("What share of Acme's fiscal 2026 revenue came from Philips?", ()),
    ("How much did Acme pay to Philips in fiscal 2026?", ()),
    ("How did Acme's fiscal 2026 growth compare to Philips?", ("Philips",)),
    ("How did Acme's fiscal 2026 revenue compare year over year with Philips?", ("Philips",)),
    ("How did Acme's fiscal 2026 growth compare to the growth reported by Philips?", ("Philips",)),
    ("How does Acme's fiscal 2026 margin stack up to Philips?", ("Philips",)),
    ("How much of Acme's fiscal 2026 revenue came from Philips's hospitals?", ("Philips",)),
])
def test_an_analysts_firm_or_an_opening_word_is_not_a_company_asked_about(question: str, missing: tuple) -> None:
    from rag.companies import listed

    if "MS" not in listed():
        pytest.skip("pytickersymbols is not installed")
    assert detect(question, Catalog(CALLS)).missing_companies == missing


def test_a_name_written_without_its_ampersand_is_the_company() -> None:
    """"Marsh McLennan" (as the company now writes itself), "Marsh and McLennan" and "Marsh &
    McLennan" name the call the index holds; before, the first was "a company the index lacks"."""
    catalog = Catalog({"MMC_q3_2021": {"ticker": "MMC", "company": "Marsh & McLennan", "period": "FY2021Q3"}})
    for q in ("On Marsh McLennan's third quarter 2021 call, how was free cash flow?",
              "Marsh and McLennan Q3 2021 revenue?", "Marsh & McLennan Q3 2021 revenue?"):
        s = detect(q, catalog)
        assert s.doc_ids == ("MMC_q3_2021",) and not s.out_of_index, q


def test_a_word_inside_a_longer_name_is_not_a_company_the_index_lacks() -> None:
    """"City" is a listed company's short name (City Holding), but in "New York City" it is part of a
    place's name: the question is about the call the index holds, not one it lacks."""
    from rag.companies import listed

    if "CHCO" not in listed():
        pytest.skip("pytickersymbols is not installed")
    catalog = Catalog({"HT_q4_2020": {"ticker": "HT", "company": "Hersha Hospitality Trust", "aliases": ["Hersha"],
                                      "period": "FY2019Q4"}})
    s = detect("Hersha Q4 2019 New York City portfolio occupancy?", catalog)
    assert s.doc_ids == ("HT_q4_2020",) and not s.out_of_index
    assert detect("What did City report for Q4 2019?", catalog).missing_companies == ("City",)


def test_a_company_listed_only_abroad_is_one_the_index_lacks() -> None:
    """Toyota has no US listing, so it is no ticker's company here; a question about it, which a
    passage of another company may mention as a customer, is about a call the index does not hold.
    A listed name that is also an English word ("Sharp") is read as the word."""
    from rag.companies import listed_abroad

    if "Toyota" not in listed_abroad().values():
        pytest.skip("pytickersymbols is not installed")
    catalog = Catalog({d: m for d, m in CALLS.items() if m.get("ticker")})  # no call of an unknown company
    for q in ("Toyota's operating profit forecast for the current fiscal year?", "What was Toyota's revenue in Q3 2021?"):
        assert detect(q, catalog).missing_companies == ("Toyota",), q
    assert detect("How did Sony's revenue grow in fiscal 2026?", catalog).missing_companies == ("Sony",)
    assert detect("Sharp increase in Acme's revenue in fiscal 2026?", catalog).missing_companies == ()


def test_a_legal_form_written_short_names_the_company() -> None:
    """"Packaging Corp" is Packaging Corporation of America (its unique leading words with the legal
    form abbreviated), "Lennox Intl" is Lennox International."""
    catalog = Catalog({"PKG_q3_2021": {"ticker": "PKG", "company": "Packaging Corporation of America", "period": "FY2021Q3"},
                       "LII_q3_2021": {"ticker": "LII", "company": "Lennox International", "period": "FY2021Q3"}})
    assert detect("Packaging Corp Q3 2021 corrugated shipments growth", catalog).doc_ids == ("PKG_q3_2021",)
    assert detect("packaging corp. q3 2021 EPS", catalog).doc_ids == ("PKG_q3_2021",)
    assert detect("Lennox Intl Q3 2021 revenue", catalog).doc_ids == ("LII_q3_2021",)
    assert detect("Packaging Corporations Q3 2021", catalog).doc_ids != ("PKG_q3_2021",)


@pytest.mark.parametrize("question, period", [
    ("Acme free cash flow for the first nine months of 2021?", "FY2021Q3"),
    ("艾克米2021年前三季度的营收是多少？", "FY2021Q3"),
    ("艾克米2021年前9个月的营收", "FY2021Q3"),
    ("Acme 9M 2021 revenue", "FY2021Q3"),
    ("Acme H1 2021 revenue", "FY2021Q2"),
    ("艾克米2021年下半年的营收", "FY2021Q4"),
])
def test_a_part_of_the_year_to_date_is_the_quarter_that_closes_it(question: str, period: str) -> None:
    assert asked_period(question) == period


@pytest.mark.parametrize("question, period", [
    ("What 2020 EBITDA range did Acme guide to when it reported fourth-quarter 2019 results?", "FY2019Q4"),
    ("Following its Q3 2020 results, what full-year EPS range did Acme guide to?", "FY2020Q3"),
    ("What 2022 capex did Acme plan in its Q4 2021 earnings results?", "FY2021Q4"),
    ("艾克米在公布2019年第四季度业绩时给出的2020年指引是多少？", "FY2019Q4"),
])
def test_a_call_named_by_the_results_it_reported_is_the_call_asked(question: str, period: str) -> None:
    """The results a call presents name the call as "call" does: the other period is what it spoke of."""
    assert the_calls_period(question)[2] == period
    assert asked_period(question) == period


def test_a_periods_results_alone_do_not_name_a_call() -> None:
    assert the_calls_period("What were Acme's Q3 2021 results for revenue?") is None
    # A period followed by "call" names the call before one introduced as results reported.
    assert the_calls_period("What revenue did Acme record in the Q3 2021 results, as discussed on its Q4 2021 "
                            "call?")[2] == "FY2021Q4"
    assert the_calls_period("艾克米2021年第三季度的业绩如何？") is None


def test_companies_typed_as_words() -> None:
    from rag.scope import typed_companies

    assert typed_companies("adobe vs nvda revenue?", frozenset()) == [("adobe", "Adobe", False), ("nvda", "NVIDIA", True)]
    # A company the index holds is not one it lacks; words that name nobody are left alone.
    assert typed_companies("adobe vs nvda revenue?", frozenset({"ADBE"})) == [("nvda", "NVIDIA", True)]
    assert typed_companies("what was revenue last quarter?", frozenset()) == []


@pytest.mark.parametrize(
    "question, doc",
    [
        ("What was Acme's revenue in Q4?", "ACME_FY25Q4_en"),
        ("Acme revenue in the first quarter", "ACME_Q1_2026_zh"),
        ("艾克米第一季度收入是多少？", "ACME_Q1_2026_zh"),
    ],
)
def test_a_quarter_named_without_a_year_is_the_newest_call_of_that_quarter(question: str, doc: str) -> None:
    s = detect(question, Catalog(CALLS))
    assert s.doc_ids == tuple(sorted((doc, "mystery_call"))), s
    assert not s.latest and not s.out_of_index


@pytest.mark.parametrize("question", [
    # An outlook for a quarter with no year is the newest call's, whatever quarter it reported.
    "What revenue does Acme expect for Q3?",
    # Two quarters and no year: which is asked about is not read; the newest call, said to be so.
    "How did Acme's Q2 revenue compare with Q1?",
])
def test_a_quarter_without_a_year_that_is_no_result_asked_reads_the_newest_call(question: str) -> None:
    s = detect(question, Catalog(CALLS))
    assert s.doc_ids == ("ACME_Q2_2026_bilingual", "mystery_call") and s.latest, s


def test_a_quarter_named_without_a_year_the_index_lacks_abstains() -> None:
    # Before, the newest call (a Q2) answered "Q3 revenue?" with its own quarter's figure.
    acme = {d: m for d, m in CALLS.items() if d.startswith("ACME")}
    for question in ("What was Acme's revenue in Q3?", "艾克米第三季度收入是多少？"):
        s = detect(question, Catalog(acme))
        assert s.out_of_index and s.missing_periods == ("Q3",) and s.doc_ids == (), s



@pytest.mark.parametrize("question", ["Did Acme grow revenue for the third quarter in a row?",
                                      "Was this Acme's first quarter of positive free cash flow?"])
def test_a_quarter_counted_in_a_run_is_no_quarter_of_the_year(question: str) -> None:
    s = detect(question, Catalog(CALLS))
    assert not s.out_of_index and s.doc_ids == ("ACME_Q2_2026_bilingual", "mystery_call"), s


def test_companies_known_by_name_only_are_told_apart() -> None:
    """Calls whose text gives no ticker, of companies no table lists: each is found by its name."""
    docs = {
        "call-01": {"ticker": None, "company": "Initech Corp", "aliases": ["Initech"], "period": "FY2024Q1"},
        "call-02": {"ticker": None, "company": "Globex Holdings, Inc.", "aliases": [], "period": "FY2024Q1"},
        "call-03": {"ticker": None, "company": "Globex Holdings, Inc.", "aliases": [], "period": "FY2024Q2"},
        "KO_FY21Q4_en_ectsum": DOCS["KO_FY21Q4_en_ectsum"],
    }
    catalog = Catalog(docs)
    assert detect("What was Initech's revenue in Q1 2024?", catalog).doc_ids == ("call-01",)
    assert detect("Globex Q2 2024 operating margin?", catalog).doc_ids == ("call-03",)
    assert detect("Globex Holdings operating margin", catalog).doc_ids == ("call-03",)  # no quarter: the newest
    assert detect("What was Coca-Cola's organic revenue growth?", catalog).doc_ids == ("KO_FY21Q4_en_ectsum",)
    # The key stands for the name inside the catalog only; the documents keep no made-up ticker.
    assert docs["call-01"]["ticker"] is None
    assert catalog.company[catalog.docs["call-02"]["ticker"]] == "Globex Holdings, Inc."


def test_a_call_without_a_ticker_joins_its_companys_other_calls() -> None:
    docs = {"INIT_FY24Q1": {"ticker": "INIT", "company": "Initech Corp", "aliases": ["Initech"], "period": "FY2024Q1"},
            "Initech Q2 call": {"ticker": None, "company": "Initech Corporation", "aliases": [], "period": "FY2024Q2"}}
    s = detect("What did Initech Corp say in Q2 2024?", Catalog(docs))
    assert s.tickers == ("INIT",) and s.doc_ids == ("Initech Q2 call",) and not s.missing_periods


def test_a_name_of_a_digit_and_a_letter_is_the_company() -> None:
    """"3M" names the call the index holds in English and in Chinese text; before, a name needed two
    letters, so "3M" scoped nothing and another company's Q4 2021 guidance answered for it."""
    catalog = Catalog({"MMM_q4_2021": {"ticker": "MMM", "company": "3M", "period": "FY2021Q4"},
                       "RTX_q4_2021": {"ticker": "RTX", "company": "RTX Corporation", "period": "FY2021Q4"}})
    for q in ("What 2022 EPS guidance did 3M give on its Q4 2021 call?", "3M在2021年第四季度给出的2022年EPS指引是多少？"):
        assert detect(q, catalog).doc_ids == ("MMM_q4_2021",), q
    assert detect("3MM units in Q4 2021?", catalog).doc_ids != ("MMM_q4_2021",)
